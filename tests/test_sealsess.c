/*
 * test_sealsess.c - unit tests of the session glue of end-to-end sealing
 * (src/sealsess.c): both ends compute the same transcript from the signed
 * open (and a different one when any signed member, the jti or a share
 * differs, but the same when the relay adds its unsigned members); a frame
 * sealed by one end opens at the other, and a payload too large for a
 * record is refused; the agent's signed share is accepted with a bound
 * agent token of the right subject, and refused when unsigned, signed by
 * another key, for another transcript, with a token of another subject,
 * an unbound token, a client token or one the issuer did not sign.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/frame.h"
#include "porthole/opensig.h"
#include "porthole/sealsess.h"
#include "porthole/token.h"
#include "porthole/util.h"

static json_t *
open_of(const uint8_t share[PH_SEAL_SHARE_LEN])
{
	json_t	*o;
	char	*b = ph_seal_share_encode(share);

	o = json_pack("{s:s,s:s,s:s,s:s,s:[s],s:b,s:b,s:i,s:i,s:s}", "type", "open",
	    "sid", "0123456789abcdef0123456789abcdef", "agent", "a1@dev-agent",
	    "op", "exec", "argv", "true", "tty", 0, "stdin", 0, "ts", 1700000000,
	    "proto", 4, "seal", b);
	free(b);
	cr_assert_not_null(o);
	return o;
}

Test(sealsess, transcript_binds_the_signed_open)
{
	struct ph_seal_share *c = ph_seal_share_new(NULL), *a = ph_seal_share_new(NULL);
	uint8_t cs[32], as[32], th1[32], th2[32];
	char *cause = NULL;
	json_t *o;

	ph_seal_share_public(c, cs);
	ph_seal_share_public(a, as);
	o = open_of(cs);
	cr_assert_eq(ph_sealsess_th(o, "j1", cs, as, th1, &cause), 0);
	/* What the relay adds is not signed, so not in the transcript. */
	json_object_set_new(o, "secret", json_string("00"));
	json_object_set_new(o, "record", json_true());
	json_object_set_new(o, "sig", json_string("x"));
	cr_assert_eq(ph_sealsess_th(o, "j1", cs, as, th2, &cause), 0);
	cr_assert_arr_eq(th1, th2, 32);
	/* Another jti, another member, another share: another transcript. */
	cr_assert_eq(ph_sealsess_th(o, "j2", cs, as, th2, &cause), 0);
	cr_assert_arr_neq(th1, th2, 32);
	json_object_set_new(o, "argv", json_pack("[s]", "false"));
	cr_assert_eq(ph_sealsess_th(o, "j1", cs, as, th2, &cause), 0);
	cr_assert_arr_neq(th1, th2, 32);
	json_object_set_new(o, "argv", json_pack("[s]", "true"));
	cr_assert_eq(ph_sealsess_th(o, "j1", as, cs, th2, &cause), 0);
	cr_assert_arr_neq(th1, th2, 32);
	json_decref(o);
	ph_seal_share_free(c);
	ph_seal_share_free(a);
}

Test(sealsess, frames_round_trip_and_are_bounded)
{
	struct ph_seal_share *c = ph_seal_share_new(NULL), *a = ph_seal_share_new(NULL);
	struct ph_seal *cl, *ag;
	struct ph_seal_rec rec;
	uint8_t cs[32], as[32], th[32] = { 1 };
	static uint8_t out[PH_SEAL_RECORD_MAX], plain[PH_MAX_MESSAGE];
	static uint8_t big[PH_SEAL_MAX_PAYLOAD + 1];
	char *cause = NULL;
	size_t len;

	ph_seal_share_public(c, cs);
	ph_seal_share_public(a, as);
	cl = ph_seal_new(PH_SEAL_CLIENT, c, as, th, &cause);
	ag = ph_seal_new(PH_SEAL_AGENT, a, cs, th, &cause);
	cr_assert(cl != NULL && ag != NULL);
	cr_assert_eq(ph_sealsess_frame(cl, PH_FRAME_STDIN, "hello", 5, out, &len,
	    &cause), 0);
	cr_assert_eq(out[0], PH_FRAME_SEALED);
	cr_assert_eq(ph_seal_open(ag, out, len, plain, sizeof plain, &rec, &cause), 0);
	cr_assert_eq(rec.len, 6);
	cr_assert_eq(rec.frame[0], PH_FRAME_STDIN);
	cr_assert_arr_eq(rec.frame + 1, "hello", 5);
	/* A whole message (type -1), then the largest payload, then one too many. */
	cr_assert_eq(ph_sealsess_frame(ag, -1, "\x03{}", 3, out, &len, &cause), 0);
	cr_assert_eq(ph_seal_open(cl, out, len, plain, sizeof plain, &rec, &cause), 0);
	cr_assert_eq(rec.frame[0], PH_FRAME_CONTROL);
	cr_assert_eq(ph_sealsess_frame(ag, PH_FRAME_STDOUT, big, PH_SEAL_MAX_PAYLOAD,
	    out, &len, &cause), 0);
	cr_assert_eq(len, PH_SEAL_RECORD_MAX);
	cr_assert_eq(ph_sealsess_frame(ag, PH_FRAME_STDOUT, big, sizeof big, out,
	    &len, &cause), -1);
	free(cause);
	ph_seal_free(cl);
	ph_seal_free(ag);
	ph_seal_share_free(c);
	ph_seal_share_free(a);
}

static char *
token_of(struct ph_key *issuer, enum ph_token_kind kind, const char *sub,
    struct ph_key *bound)
{
	struct ph_claims c;
	char *cause = NULL, *t;

	memset(&c, 0, sizeof c);
	c.sub = (char *)sub;
	c.kind = kind;
	c.exp = ph_now() + 3600;
	if (bound != NULL)
		c.cnf = json_pack("{s:o}", "jwk", ph_key_jwk(bound));
	t = ph_token_issue(issuer, &c, &cause);
	cr_assert_not_null(t, "%s", cause);
	json_decref(c.cnf);
	return t;
}

Test(sealsess, agent_share_signature)
{
	struct ph_key *issuer = ph_key_generate(NULL), *other = ph_key_generate(NULL);
	struct ph_key *agentkey = ph_key_generate(NULL);
	struct ph_keyset ks;
	uint8_t th[32] = { 7 }, th2[32] = { 8 };
	char *cause = NULL, *sig, *sig2, *tok;
	json_t *m;

	memset(&ks, 0, sizeof ks);
	cr_assert_eq(ph_keyset_add(&ks, issuer), 0);
	sig = ph_sealsess_agent_sign(agentkey, th, &cause);
	sig2 = ph_sealsess_agent_sign(other, th, &cause);
	cr_assert(sig != NULL && sig2 != NULL);
	tok = token_of(issuer, PH_TOKEN_AGENT, "dev-agent", agentkey);
	m = json_pack("{s:s,s:s,s:s}", "type", "seal", "sig", sig, "token", tok);
	cr_assert_eq(ph_sealsess_agent_check(&ks, m, "a1@dev-agent", th, &cause), 0,
	    "%s", cause);
	/* Another transcript (a swapped share): refused. */
	cr_assert_eq(ph_sealsess_agent_check(&ks, m, "a1@dev-agent", th2, &cause), -1);
	cr_assert(strstr(cause, "not signed by its agent key") != NULL, "%s", cause);
	free(cause);
	/* Another subject than the agent the open named. */
	cr_assert_eq(ph_sealsess_agent_check(&ks, m, "a1@other", th, &cause), -1);
	cr_assert(strstr(cause, "another subject") != NULL, "%s", cause);
	free(cause);
	/* Signed by a key the token does not name. */
	json_object_set_new(m, "sig", json_string(sig2));
	cr_assert_eq(ph_sealsess_agent_check(&ks, m, "a1@dev-agent", th, &cause), -1);
	free(cause);
	/* Unsigned. */
	json_object_del(m, "sig");
	cr_assert_eq(ph_sealsess_agent_check(&ks, m, "a1@dev-agent", th, &cause), -1);
	cr_assert(strstr(cause, "not signed") != NULL, "%s", cause);
	free(cause);
	free(tok);
	/* An unbound agent token, a client token, one of another issuer. */
	json_object_set_new(m, "sig", json_string(sig));
	tok = token_of(issuer, PH_TOKEN_AGENT, "dev-agent", NULL);
	json_object_set_new(m, "token", json_string(tok));
	cr_assert_eq(ph_sealsess_agent_check(&ks, m, "a1@dev-agent", th, &cause), -1);
	cr_assert(strstr(cause, "not bound") != NULL, "%s", cause);
	free(cause);
	free(tok);
	tok = token_of(issuer, PH_TOKEN_CLIENT, "dev-agent", agentkey);
	json_object_set_new(m, "token", json_string(tok));
	cr_assert_eq(ph_sealsess_agent_check(&ks, m, "a1@dev-agent", th, &cause), -1);
	free(cause);
	free(tok);
	tok = token_of(other, PH_TOKEN_AGENT, "dev-agent", agentkey);
	json_object_set_new(m, "token", json_string(tok));
	cr_assert_eq(ph_sealsess_agent_check(&ks, m, "a1@dev-agent", th, &cause), -1);
	cr_assert(strstr(cause, "does not verify") != NULL, "%s", cause);
	free(cause);
	free(tok);
	json_decref(m);
	free(sig);
	free(sig2);
	ph_keyset_free(&ks);
	ph_key_free(other);
	ph_key_free(agentkey);
}
