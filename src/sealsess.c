/*
 * sealsess.c - the session-level glue of end-to-end sealing that the CLI
 * and the agent share (sealsess.h): the transcript hash from the signed
 * open, one frame into one record, and the agent's signed share made and
 * checked.  The primitives are seal.c's.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "porthole/opensig.h"
#include "porthole/sealsess.h"
#include "porthole/util.h"

int
ph_sealsess_th(const json_t *open, const char *jti,
    const uint8_t client[PH_SEAL_SHARE_LEN], const uint8_t agent[PH_SEAL_SHARE_LEN],
    uint8_t th[PH_SEAL_HASH_LEN], char **cause)
{
	const char	*sid;
	uint8_t		*in = NULL;
	size_t		 len = 0;
	int		 r;

	sid = json_string_value(json_object_get(open, "sid"));
	if (sid == NULL) {
		*cause = ph_asprintf("the open has no sid");
		return -1;
	}
	if (ph_opensig_input(open, jti != NULL ? jti : "", &in, &len, cause) != 0)
		return -1;
	r = ph_seal_transcript(in, len, client, agent, sid, th, cause);
	free(in);
	return r;
}

int
ph_sealsess_frame(struct ph_seal *s, int type, const void *p, size_t n,
    uint8_t *out, size_t *out_len, char **cause)
{
	return ph_sealsess_frame_into(s, type, p, n, out, PH_SEAL_RECORD_MAX,
	    out_len, cause);
}

int
ph_sealsess_frame_into(struct ph_seal *s, int type, const void *p, size_t n,
    uint8_t *out, size_t cap, size_t *out_len, char **cause)
{
	if (type < 0) {
		if (n < 1 || n - 1 > PH_SEAL_MAX_PAYLOAD) {
			*cause = ph_asprintf("a frame of %zu bytes does not fit a "
			    "sealed record", n);
			return -1;
		}
		return ph_seal_record(s, PH_SEAL_DATA, p, n, ph_seal_received(s),
		    out, cap, out_len, cause);
	}
	if (n > PH_SEAL_MAX_PAYLOAD) {
		*cause = ph_asprintf("a payload of %zu bytes does not fit a "
		    "sealed record", n);
		return -1;
	}
	/* Sealed from where it is: no copy of the payload behind its type. */
	return ph_seal_frame(s, (uint8_t)type, p, n, ph_seal_received(s), out,
	    cap, out_len, cause);
}

/* Does the full id agent_id ("<claimed>@<sub>") end with "@" sub? */
static int
sealsess_sub_of(const char *agent_id, const char *sub)
{
	size_t	il = strlen(agent_id), sl = strlen(sub);

	return sl > 0 && il > sl + 1 && agent_id[il - sl - 1] == '@' &&
	    strcmp(agent_id + il - sl, sub) == 0;
}

int
ph_sealsess_agent_check(const struct ph_keyset *ks, const json_t *seal,
    const char *agent_id, const uint8_t th[PH_SEAL_HASH_LEN], char **cause)
{
	struct ph_claims	 c;
	struct ph_key		*k = NULL;
	const char		*token, *sig;
	uint8_t			 raw[PH_SEAL_SIG_LEN + 4];
	char			*why = NULL;
	int			 rc = -1;

	token = json_string_value(json_object_get(seal, "token"));
	sig = json_string_value(json_object_get(seal, "sig"));
	if (token == NULL || sig == NULL) {
		*cause = ph_asprintf("the agent's share is not signed (its token is "
		    "not bound to an agent key)");
		return -1;
	}
	memset(&c, 0, sizeof c);
	if (ph_token_verify(ks, token, ph_now(), &c, &why) != 0) {
		*cause = ph_asprintf("the agent's token does not verify with "
		    "PORTHOLE_PUBKEY: %s", why);
		free(why);
		return -1;
	}
	if (c.kind != PH_TOKEN_AGENT) {
		*cause = ph_asprintf("the token the agent showed is not an agent token");
		goto out;
	}
	if (c.sub == NULL || agent_id == NULL || !sealsess_sub_of(agent_id, c.sub)) {
		*cause = ph_asprintf("the agent's token is for agents of another "
		    "subject than %s", agent_id != NULL ? agent_id : "?");
		goto out;
	}
	if (c.cnf == NULL || (k = ph_key_from_jwk(json_object_get(c.cnf, "jwk"),
	    &why)) == NULL) {
		*cause = ph_asprintf("the agent's token is not bound to an agent key%s%s",
		    why != NULL ? ": " : "", why != NULL ? why : "");
		free(why);
		goto out;
	}
	if (ph_b64url_decode(sig, strlen(sig), raw, sizeof raw) != PH_SEAL_SIG_LEN) {
		*cause = ph_asprintf("the agent's signature is not 64 bytes of base64url");
		goto out;
	}
	if (ph_seal_share_verify(k, th, raw, &why) != 0) {
		*cause = ph_asprintf("the agent's share is not signed by its agent key "
		    "(%s): something between you and the agent replaced it", why);
		free(why);
		goto out;
	}
	rc = 0;
out:
	ph_key_free(k);
	ph_claims_free(&c);
	return rc;
}

char *
ph_sealsess_agent_sign(const struct ph_key *key, const uint8_t th[PH_SEAL_HASH_LEN],
    char **cause)
{
	uint8_t	 sig[PH_SEAL_SIG_LEN];
	char	*b;

	if (ph_seal_share_sign(key, th, sig, cause) != 0)
		return NULL;
	if ((b = ph_b64url_encode(sig, sizeof sig)) == NULL)
		*cause = ph_asprintf("out of memory");
	OPENSSL_cleanse(sig, sizeof sig);
	return b;
}
