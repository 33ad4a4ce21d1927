/*
 * test_opensig.c - unit tests of the typed encoding porthole signs
 * (src/sigenc.c) and of the open's signature in form 2 (src/opensig.c):
 * fixed vectors (a fixed key, RFC 8032's first, and a fixed open give
 * fixed signing input bytes and a fixed signature, computed independently
 * with `openssl pkeyutl -sign -rawin`), that values of different types
 * never encode alike, that a type-confused or extended open does not verify
 * while the relay's own members stay outside the signature, and that a
 * form-2 peer refuses form 1 however the open is dressed; and the proof of
 * the key on a listing (src/listproof.c): its signing input, that it holds
 * for its own request only, and that malformed headers are refused.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/listproof.h"
#include "porthole/opensig.h"
#include "porthole/protocol.h"
#include "porthole/sigenc.h"
#include "porthole/token.h"
#include "porthole/util.h"

#define NOW	1700000000

/* RFC 8032, section 7.1, TEST 1: the secret key as PKCS#8. */
static const char rfc8032_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
    "-----END PRIVATE KEY-----\n";

static struct ph_key *key;

static void
setup(void)
{
	char	*cause = NULL;

	key = ph_key_from_pem(rfc8032_pem, strlen(rfc8032_pem), 0, "rfc8032", &cause);
	cr_assert_not_null(key, "%s", cause);
}

static void
teardown(void)
{
	ph_key_free(key);
}

TestSuite(opensig, .init = setup, .fini = teardown);

/* E(json text) as a C string (the test values hold no NUL). */
static char *
enc(const char *text)
{
	json_t	*v;
	uint8_t	*out;
	size_t	 n;
	char	*cause = NULL, *s;

	v = json_loads(text, JSON_DECODE_ANY, NULL);
	cr_assert_not_null(v, "bad test JSON %s", text);
	cr_assert_eq(ph_sigenc_value(v, &out, &n, &cause), 0, "%s: %s", text, cause);
	json_decref(v);
	s = malloc(n + 1);
	memcpy(s, out, n);
	s[n] = '\0';
	free(out);
	return s;
}

static void
enc_is(const char *text, const char *want)
{
	char	*got = enc(text);

	cr_assert_str_eq(got, want, "E(%s)", text);
	free(got);
}

Test(opensig, encoding_vectors)
{
	enc_is("null", "n");
	enc_is("false", "f");
	enc_is("true", "t");
	enc_is("0", "i0,");
	enc_is("-12", "i-12,");
	enc_is("9223372036854775807", "i9223372036854775807,");
	enc_is("\"\"", "s0:,");
	enc_is("\"a,b\"", "s3:a,b,");
	enc_is("\"\\u00e9\"", "s2:\xc3\xa9,");
	enc_is("[]", "a0:,");
	enc_is("[1,\"1\",true,null]", "a4:i1,s1:1,tn,");
	enc_is("{}", "o0:,");
	/* Members sorted bytewise, a prefix first; nested values typed too. */
	enc_is("{\"b\":1,\"aa\":[],\"a\":{\"z\":false}}",
	    "o3:1:a,o1:1:z,f,2:aa,a0:,1:b,i1,,");
}

Test(opensig, types_never_encode_alike)
{
	static const char *const same_text[][2] = {
		{ "123", "\"123\"" }, { "true", "\"true\"" }, { "false", "\"false\"" },
		{ "null", "\"null\"" }, { "null", "false" }, { "0", "false" },
		{ "[\"a\",\"b\"]", "[\"a,b\"]" }, { "[\"a\",\"b\"]", "\"ab\"" },
		{ "[]", "{}" }, { "[]", "\"\"" }, { "{\"a\":\"b\"}", "[\"a\",\"b\"]" },
		{ "[[1],2]", "[[1,2]]" }, { "{\"a\":1,\"b\":2}", "{\"a\":{\"b\":2}}" },
	};
	size_t	 i;
	char	*a, *b;

	for (i = 0; i < sizeof same_text / sizeof same_text[0]; i++) {
		a = enc(same_text[i][0]);
		b = enc(same_text[i][1]);
		cr_assert(strcmp(a, b) != 0, "%s and %s encode alike: %s",
		    same_text[i][0], same_text[i][1], a);
		free(a);
		free(b);
	}
}

Test(opensig, refuses_what_has_no_single_spelling)
{
	json_t	*v;
	uint8_t	*out;
	size_t	 n;
	char	*cause = NULL;
	int	 i;

	v = json_pack("{s:f}", "timeout_ms", 1000.0);
	cr_assert_eq(ph_sigenc_value(v, &out, &n, &cause), -1);
	cr_assert(strstr(cause, "timeout_ms") != NULL && strstr(cause, "integer") != NULL,
	    "%s", cause);
	free(cause);
	json_decref(v);
	/* Deeper than PH_SIGENC_DEPTH: refused, not recursed into. */
	v = json_integer(1);
	for (i = 0; i < PH_SIGENC_DEPTH + 2; i++)
		v = json_pack("[o]", v);
	cause = NULL;
	cr_assert_eq(ph_sigenc_value(v, &out, &n, &cause), -1);
	cr_assert(strstr(cause, "nested") != NULL, "%s", cause);
	free(cause);
	json_decref(v);
	/* Larger than PH_SIGENC_MAX. */
	{
		char *big = calloc(1, PH_SIGENC_MAX + 1);

		memset(big, 'x', PH_SIGENC_MAX);
		v = json_string(big);
		free(big);
		cause = NULL;
		cr_assert_eq(ph_sigenc_value(v, &out, &n, &cause), -1);
		cr_assert(strstr(cause, "too large") != NULL, "%s", cause);
		free(cause);
		json_decref(v);
	}
}

/* The open of the fixed vector, as the agent receives it (relay members added). */
static json_t *
vector_open(void)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:[s,s], s:b, s:b, s:i, s:i,"
	    " s:s, s:s, s:s}",
	    "type", "open", "sid", "0123456789abcdef0123456789abcdef",
	    "agent", "task/app", "op", "exec", "argv", "echo", "hi",
	    "tty", 0, "stdin", 0, "proto", 2, "ts", NOW,
	    "secret", "0000000000000000000000000000000000000000000000000000000000000000",
	    "sub", "alice", "token", "x.y.z");
}

static const char vector_input[] =
    "s16:porthole-open-v2,s2:j1,o9:5:agent,s8:task/app,4:argv,a2:s4:echo,"
    "s2:hi,,2:op,s4:exec,5:proto,i2,3:sid,s32:0123456789abcdef0123456789abcdef,"
    "5:stdin,f2:ts,i1700000000,3:tty,f4:type,s4:open,,";
/* openssl pkeyutl -sign -rawin -inkey rfc8032.pem -in input | basenc --base64url */
static const char vector_sig[] =
    "CBGPeuzLLua5WimO-JAlsFJ2RAzApdqxSx4oVr0YyDG8ReHhtZ4TfKY1R5cThkYM_mstOEifD79GVCkOGK3JDQ";

static void
claims_for(struct ph_claims *c, const char *jti)
{
	memset(c, 0, sizeof *c);
	c->sub = strdup("alice");
	c->kind = PH_TOKEN_CLIENT;
	c->jti = strdup(jti);
	c->cnf = json_pack("{s:o}", "jwk", ph_key_jwk(key));
}

Test(opensig, fixed_vector)
{
	struct ph_claims c;
	json_t	*o;
	uint8_t	*in;
	size_t	 n;
	char	*cause = NULL;

	o = vector_open();
	cr_assert_eq(ph_opensig_input(o, "j1", &in, &n, &cause), 0, "%s", cause);
	cr_assert_eq(n, strlen(vector_input), "%.*s", (int)n, in);
	cr_assert(memcmp(in, vector_input, n) == 0, "%.*s", (int)n, in);
	free(in);
	cr_assert_eq(ph_opensig_sign(key, "j1", o, NOW, &cause), 0, "%s", cause);
	cr_assert_str_eq(json_string_value(json_object_get(o, "sig")), vector_sig);
	claims_for(&c, "j1");
	cr_assert_eq(ph_opensig_verify(&c, o, NOW, PH_OPENSIG_FORM, &cause), 0, "%s",
	    cause);
	ph_claims_free(&c);
	json_decref(o);
}

/* Does o, with member name set to the JSON text val, still verify? */
static int
verifies_with(const json_t *signed_open, const char *name, const char *val)
{
	struct ph_claims c;
	json_t	*o = json_deep_copy(signed_open);
	char	*cause = NULL;
	int	 r;

	if (val != NULL)
		json_object_set_new(o, name, json_loads(val, JSON_DECODE_ANY, NULL));
	else
		json_object_del(o, name);
	claims_for(&c, "j1");
	r = ph_opensig_verify(&c, o, NOW, PH_OPENSIG_FORM, &cause);
	if (r != 0)
		cr_assert(strstr(cause, "altered") != NULL, "%s: %s", name, cause);
	free(cause);
	ph_claims_free(&c);
	json_decref(o);
	return r == 0;
}

Test(opensig, type_confusion_and_added_members_do_not_verify)
{
	json_t	*o = vector_open();
	char	*cause = NULL;

	json_object_set_new(o, "pid", json_integer(123));
	json_object_set_new(o, "tty", json_true());
	cr_assert_eq(ph_opensig_sign(key, "j1", o, NOW, &cause), 0, "%s", cause);
	cr_assert(verifies_with(o, "tty", "true"));
	cr_assert(verifies_with(o, "pid", "123"));
	/* Same text, another type. */
	cr_assert(!verifies_with(o, "tty", "\"true\""));
	cr_assert(!verifies_with(o, "tty", "1"));
	cr_assert(!verifies_with(o, "pid", "\"123\""));
	cr_assert(!verifies_with(o, "argv", "[\"echo hi\"]"));
	cr_assert(!verifies_with(o, "argv", "\"echo\""));
	/* A member added on the way, whatever its name; one removed. */
	cr_assert(!verifies_with(o, "e2e_share", "\"AAAA\""));
	cr_assert(!verifies_with(o, "preserve", "true"));
	cr_assert(!verifies_with(o, "cols", "80"));
	cr_assert(!verifies_with(o, "stdin", NULL));
	cr_assert(!verifies_with(o, "proto", "3"));
	/* What the relay adds is outside the signature, by name. */
	cr_assert(verifies_with(o, "secret", "\"1111111111111111111111111111111111111111111111111111111111111111\""));
	cr_assert(verifies_with(o, "sub", "\"mallory\""));
	cr_assert(verifies_with(o, "token", "\"a.b.c\""));
	json_decref(o);
}

Test(opensig, form_two_peers_refuse_form_one)
{
	struct ph_claims c;
	json_t	*o = vector_open();
	char	*cause = NULL;

	claims_for(&c, "j1");
	/* A protocol-1 open, signed in form 1: good for the relay (min 1) only. */
	json_object_set_new(o, "proto", json_integer(1));
	cr_assert_eq(ph_opensig_sign(key, "j1", o, NOW, &cause), 0, "%s", cause);
	cr_assert_eq(ph_opensig_verify(&c, o, NOW, 1, &cause), 0, "%s", cause);
	cr_assert_eq(ph_opensig_verify(&c, o, NOW, PH_OPENSIG_FORM, &cause), -1);
	cr_assert(strstr(cause, "form 1") != NULL, "%s", cause);
	free(cause);
	/* Form 1 is blind to types and unlisted members: why it is refused. */
	json_object_set_new(o, "tty", json_string("false"));
	json_object_set_new(o, "e2e_share", json_string("AAAA"));
	cr_assert_eq(ph_opensig_verify(&c, o, NOW, 1, &cause), 0, "%s", cause);
	/* A form-2 open relabelled protocol 1 on the way verifies nowhere. */
	json_decref(o);
	o = vector_open();
	cr_assert_eq(ph_opensig_sign(key, "j1", o, NOW, &cause), 0, "%s", cause);
	json_object_set_new(o, "proto", json_integer(1));
	cause = NULL;
	cr_assert_eq(ph_opensig_verify(&c, o, NOW, 1, &cause), -1);
	free(cause);
	json_object_del(o, "proto");
	cause = NULL;
	cr_assert_eq(ph_opensig_verify(&c, o, NOW, 1, &cause), -1);
	free(cause);
	/* Signing without a proto states the current one. */
	json_object_del(o, "sig");
	cr_assert_eq(ph_opensig_sign(key, "j1", o, NOW, &cause), 0, "%s", cause);
	cr_assert_eq(ph_opensig_proto(o), PH_PROTOCOL_VERSION);
	cr_assert_eq(ph_opensig_verify(&c, o, NOW, PH_OPENSIG_FORM, &cause), 0, "%s",
	    cause);
	ph_claims_free(&c);
	json_decref(o);
}

/* ---- the listing's proof (src/listproof.c) ----------------------------- */

Test(opensig, listproof_vector_and_host_forms)
{
	struct ph_listreq req = { "GET", "Relay.Example.COM:7443", "/v1/agents", NULL };
	static const char want[] =
	    "s16:porthole-list-v1,s2:j1,o5:4:host,s17:relay.example.com,6:method,"
	    "s3:GET,4:path,s10:/v1/agents,5:query,o0:,2:ts,i1700000000,,";
	static const char *const hosts[][2] = {
		{ "relay.example.com", "relay.example.com" },
		{ "RELAY.example.com:443", "relay.example.com" },
		{ "127.0.0.1:7443", "127.0.0.1" }, { "[::1]:7443", "::1" },
		{ "[::1]", "::1" }, { "::1", "::1" }, { "", "" },
	};
	uint8_t	*in;
	size_t	 n, i;
	char	*cause = NULL, buf[64];

	cr_assert_eq(ph_listproof_input(&req, "j1", NOW, &in, &n, &cause), 0, "%s", cause);
	cr_assert_eq(n, strlen(want), "%.*s", (int)n, in);
	cr_assert(memcmp(in, want, n) == 0, "%.*s", (int)n, in);
	free(in);
	for (i = 0; i < sizeof hosts / sizeof hosts[0]; i++)
		cr_assert_str_eq(ph_listproof_host(hosts[i][0], buf, sizeof buf),
		    hosts[i][1], "host %s", hosts[i][0]);
	/* An empty selector is no selector. */
	req.selector = "";
	cr_assert_eq(ph_listproof_input(&req, "j1", NOW, &in, &n, &cause), 0);
	cr_assert(n == strlen(want) && memcmp(in, want, n) == 0);
	free(in);
}

/* Does hdr (made for req) verify for a request of host, selector at now? */
static int
proof_holds(const char *hdr, const char *host, const char *selector, int64_t now,
    const char *want_cause)
{
	struct ph_listreq req = { "GET", host, "/v1/agents", selector };
	struct ph_claims c;
	char	*cause = NULL;
	int	 r;

	claims_for(&c, "j1");
	r = ph_listproof_verify(&c, hdr, &req, now, &cause);
	if (r != 0 && want_cause != NULL)
		cr_assert(strstr(cause, want_cause) != NULL, "%s", cause);
	free(cause);
	ph_claims_free(&c);
	return r == 0;
}

Test(opensig, listproof_holds_for_its_request_only)
{
	struct ph_listreq req = { "GET", "relay.example.com", "/v1/agents", "env=prod" };
	struct ph_claims c;
	char	*hdr, *cause = NULL;

	hdr = ph_listproof_make(key, "j1", &req, NOW, &cause);
	cr_assert_not_null(hdr, "%s", cause);
	cr_assert(strncmp(hdr, "ts=1700000000;sig=", 18) == 0, "%s", hdr);
	cr_assert(proof_holds(hdr, "relay.example.com:7443", "env=prod", NOW, NULL));
	cr_assert(proof_holds(hdr, "RELAY.EXAMPLE.COM", "env=prod", NOW + 60, NULL));
	cr_assert(!proof_holds(hdr, "other.example.com", "env=prod", NOW, "does not verify"));
	cr_assert(!proof_holds(hdr, "relay.example.com", NULL, NOW, "does not verify"));
	cr_assert(!proof_holds(hdr, "relay.example.com", "env=dev", NOW, "does not verify"));
	cr_assert(!proof_holds(hdr, "relay.example.com", "env=prod", NOW + 61, "stale"));
	cr_assert(!proof_holds(hdr, "relay.example.com", "env=prod", NOW - 61, "ahead"));
	cr_assert(!proof_holds(NULL, "relay.example.com", "env=prod", NOW, "no proof"));
	cr_assert(!proof_holds("", "relay.example.com", "env=prod", NOW, "no proof"));
	{
		static const char *const bad[] = {
			"ts=;sig=AAAA", "sig=AAAA;ts=1700000000", "ts=1700000000",
			"ts=1700000000;sig=", "ts=1700000000;sig=AA AA",
			"ts=-1700000000;sig=AAAA", "ts=1700000000;sig=AAAA;x=1",
			"ts=1234567890123456;sig=AAAA", " ts=1700000000;sig=AAAA",
		};
		size_t i;

		for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
			cr_assert(!proof_holds(bad[i], "relay.example.com", "env=prod",
			    NOW, "is not ts="), "%s", bad[i]);
	}
	/* Made by another token's holder (jti), or for an unbound token. */
	claims_for(&c, "j2");
	cr_assert_eq(ph_listproof_verify(&c, hdr, &req, NOW, &cause), -1);
	free(cause);
	json_decref(c.cnf);
	c.cnf = NULL;
	cause = NULL;
	cr_assert_eq(ph_listproof_verify(&c, hdr, &req, NOW, &cause), -1);
	cr_assert(strstr(cause, "not bound") != NULL, "%s", cause);
	free(cause);
	ph_claims_free(&c);
	free(hdr);
}
