/*
 * test_token.c - unit tests of the token library (src/token.c): issuing and
 * verifying EdDSA JWTs, every refusal an attacker or a stale setup can
 * provoke (expiry, tampering, unknown keys, foreign algorithms, malformed
 * structure, oversize), key rotation through a key set, scope checks,
 * base64url edge cases and PEM round trips through real files; and the
 * pieces around tokens: the client's signature over an open (opensig.c),
 * label patterns, the revocation list (revoked.c) and key sets re-read
 * when their files change (keywatch.c).
 */
#include <sys/stat.h>

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "porthole/keywatch.h"
#include "porthole/opensig.h"
#include "porthole/revoked.h"
#include "porthole/token.h"
#include "porthole/util.h"

#define NOW	1700000000
/* 64 zero bytes in base64url: a well-formed but wrong signature. */
#define SIG0	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" \
		"AAAAAAAAAAAAAAAAAAAAAA"

static struct ph_key	*key1, *key2;
static struct ph_keyset	 ks1;

static void
setup(void)
{
	char	*cause = NULL;

	key1 = ph_key_generate(&cause);
	key2 = ph_key_generate(&cause);
	cr_assert_not_null(key1);
	cr_assert_not_null(key2);
	/* ks1 holds a public-only copy of key1. */
	memset(&ks1, 0, sizeof ks1);
	{
		char		*pem = ph_key_public_pem(key1, &cause);

		cr_assert_not_null(pem);
		cr_assert_eq(ph_keyset_add_pem(&ks1, pem, strlen(pem), "test",
		    &cause), 0);
		free(pem);
	}
}

static void
teardown(void)
{
	ph_key_free(key1);
	ph_key_free(key2);
	ph_keyset_free(&ks1);
}

TestSuite(token, .init = setup, .fini = teardown);

static char *scope_all[] = { "ls", "shell", "exec", "ps", "mem", "dump", "cp",
    NULL };

/* A client token from key k valid from NOW for ttl seconds. */
static char *
issue(const struct ph_key *k, int64_t iat, int64_t ttl)
{
	struct ph_claims	 c;
	char			*cause = NULL, *tok;

	memset(&c, 0, sizeof c);
	c.sub = "alice";
	c.kind = PH_TOKEN_CLIENT;
	c.scope = scope_all;
	c.target = "cluster=prod";
	c.iat = iat;
	c.exp = iat + ttl;
	tok = ph_token_issue(k, &c, &cause);
	cr_assert_not_null(tok, "issue: %s", cause);
	return tok;
}

/* Verify and expect refusal; return the cause (caller frees). */
static char *
refused(const struct ph_keyset *ks, const char *tok, int64_t now)
{
	struct ph_claims	 c;
	char			*cause = NULL;

	cr_assert_eq(ph_token_verify(ks, tok, now, &c, &cause), -1);
	cr_assert_not_null(cause);
	cr_assert_null(c.sub);
	return cause;
}

/* Build header.claims.sig from raw JSON text and a b64url signature. */
static char *
forge(const char *header, const char *claims, const char *sig)
{
	char	*h, *c, *t;

	h = ph_b64url_encode(header, strlen(header));
	c = ph_b64url_encode(claims, strlen(claims));
	t = ph_asprintf("%s.%s.%s", h, c, sig);
	free(h);
	free(c);
	return t;
}

/* Build a token signed correctly by k from raw header and claims text. */
static char *
sign_raw(const struct ph_key *k, const char *header, const char *claims)
{
	char	*h, *c, *in, *sig, *t, *cause = NULL;

	h = ph_b64url_encode(header, strlen(header));
	c = ph_b64url_encode(claims, strlen(claims));
	in = ph_asprintf("%s.%s", h, c);
	sig = ph_key_sign_b64url(k, in, strlen(in), &cause);
	cr_assert_not_null(sig);
	t = ph_asprintf("%s.%s", in, sig);
	free(h);
	free(c);
	free(in);
	free(sig);
	return t;
}

Test(token, roundtrip)
{
	struct ph_claims	 c;
	char			*tok, *cause = NULL;

	tok = issue(key1, NOW, 3600);
	cr_assert_eq(ph_token_verify(&ks1, tok, NOW + 10, &c, &cause), 0,
	    "verify: %s", cause);
	cr_assert_str_eq(c.sub, "alice");
	cr_assert_eq(c.kind, PH_TOKEN_CLIENT);
	cr_assert_str_eq(c.target, "cluster=prod");
	cr_assert_eq(c.exp, NOW + 3600);
	cr_assert_eq(c.iat, NOW);
	cr_assert_str_eq(c.kid, ph_key_kid(key1));
	cr_assert_eq(strlen(c.jti), 32);
	cr_assert_null(c.labels);
	cr_assert_null(c.cnf);
	cr_assert_str_eq(c.scope[0], "ls");
	cr_assert_str_eq(c.scope[6], "cp");
	cr_assert_null(c.scope[7]);
	ph_claims_free(&c);
	ph_claims_free(&c);	/* idempotent on a freed struct */
	free(tok);
}

Test(token, two_tokens_have_distinct_jti)
{
	struct ph_claims	 a, b;
	char			*t1, *t2, *cause = NULL;

	t1 = issue(key1, NOW, 60);
	t2 = issue(key1, NOW, 60);
	cr_assert_eq(ph_token_verify(&ks1, t1, NOW, &a, &cause), 0);
	cr_assert_eq(ph_token_verify(&ks1, t2, NOW, &b, &cause), 0);
	cr_assert_str_neq(a.jti, b.jti);
	ph_claims_free(&a);
	ph_claims_free(&b);
	free(t1);
	free(t2);
}

Test(token, agent_with_labels_and_cnf)
{
	struct ph_claims	 c, v;
	char			*tok, *cause = NULL;
	json_t			*labels, *ok, *bad;

	memset(&c, 0, sizeof c);
	c.sub = "api-agents";
	c.kind = PH_TOKEN_AGENT;
	c.iat = NOW;
	c.exp = NOW + 60;
	c.jti = "fixed-jti";
	labels = json_pack("{s:[s,s], s:s}", "cluster", "prod", "staging",
	    "az", "*");
	c.labels = labels;
	c.cnf = json_pack("{s:o}", "jwk", ph_key_jwk(key2));
	tok = ph_token_issue(key1, &c, &cause);
	cr_assert_not_null(tok, "%s", cause);
	cr_assert_eq(ph_token_verify(&ks1, tok, NOW, &v, &cause), 0, "%s",
	    cause);
	cr_assert_eq(v.kind, PH_TOKEN_AGENT);
	cr_assert_str_eq(v.jti, "fixed-jti");
	cr_assert(json_equal(v.labels, labels));
	cr_assert(json_equal(v.cnf, c.cnf));
	cr_assert_not_null(v.scope);
	cr_assert_null(v.scope[0]);
	cr_assert_not(ph_claims_allows(&v, "ls"));	/* agents: no scope */

	ok = json_pack("{s:s, s:s}", "cluster", "staging", "az", "eu-1a");
	cr_assert_eq(ph_claims_labels_allow(&v, ok, &cause), 0);
	bad = json_pack("{s:s}", "cluster", "dev");
	cr_assert_eq(ph_claims_labels_allow(&v, bad, &cause), -1);
	cr_assert(strstr(cause, "cluster=dev") != NULL);
	free(cause);
	json_decref(bad);
	bad = json_pack("{s:s}", "team", "x");
	cause = NULL;
	cr_assert_eq(ph_claims_labels_allow(&v, bad, &cause), -1);
	free(cause);
	json_decref(bad);
	json_decref(ok);

	ph_claims_free(&v);
	json_decref(c.labels);
	json_decref(c.cnf);
	free(tok);
}

Test(token, expired_beyond_skew_refused)
{
	char	*tok, *cause;

	tok = issue(key1, NOW - 4 * 3600, 3600);	/* expired 3h ago */
	cause = refused(&ks1, tok, NOW);
	cr_assert_str_eq(cause, "token expired 3h ago");
	free(cause);
	free(tok);

	tok = issue(key1, NOW - 3600, 3600 - PH_CLOCK_SKEW - 1);
	cause = refused(&ks1, tok, NOW);
	cr_assert(strstr(cause, "expired 61s ago") != NULL, "%s", cause);
	free(cause);
	free(tok);
}

Test(token, expired_within_skew_accepted)
{
	struct ph_claims	 c;
	char			*tok, *cause = NULL;

	tok = issue(key1, NOW - 3600, 3600 - 30);	/* expired 30s ago */
	cr_assert_eq(ph_token_verify(&ks1, tok, NOW, &c, &cause), 0, "%s",
	    cause);
	ph_claims_free(&c);
	free(tok);
}

Test(token, issued_in_future)
{
	struct ph_claims	 c;
	char			*tok, *cause = NULL;

	tok = issue(key1, NOW + 30, 3600);	/* within skew */
	cr_assert_eq(ph_token_verify(&ks1, tok, NOW, &c, &cause), 0);
	ph_claims_free(&c);
	free(tok);
	tok = issue(key1, NOW + 7200, 3600);
	cause = refused(&ks1, tok, NOW);
	cr_assert(strstr(cause, "in the future") != NULL, "%s", cause);
	free(cause);
	free(tok);
}

Test(token, nbf_in_future_refused)
{
	char	*claims, *tok, *cause;

	claims = ph_asprintf("{\"sub\":\"a\",\"kind\":\"client\",\"scope\":[],"
	    "\"exp\":%d,\"nbf\":%d,\"jti\":\"j\"}", NOW + 9000, NOW + 3600);
	{
		char *h = ph_asprintf("{\"alg\":\"EdDSA\",\"kid\":\"%s\"}",
		    ph_key_kid(key1));
		tok = sign_raw(key1, h, claims);
		free(h);
	}
	cause = refused(&ks1, tok, NOW);
	cr_assert(strstr(cause, "not valid for another 60m") != NULL, "%s",
	    cause);
	free(cause);
	free(tok);
	free(claims);
}

Test(token, tampered_payload_refused)
{
	char	*tok, *d1, *d2, *cause, *claims, *c64, *t2;
	json_t	*hdr, *cl;

	tok = issue(key1, NOW, 3600);
	/* Re-encode the claims with a different sub, keep the signature. */
	cr_assert_eq(ph_token_decode(tok, &hdr, &cl, &cause), 0);
	json_object_set_new(cl, "sub", json_string("mallory"));
	claims = json_dumps(cl, JSON_COMPACT);
	c64 = ph_b64url_encode(claims, strlen(claims));
	d1 = strchr(tok, '.');
	d2 = strchr(d1 + 1, '.');
	t2 = ph_asprintf("%.*s.%s%s", (int)(d1 - tok), tok, c64, d2);
	cause = refused(&ks1, t2, NOW);
	cr_assert(strstr(cause, "does not verify") != NULL, "%s", cause);
	cr_assert(strstr(cause, t2) == NULL);
	free(cause);
	free(t2);
	free(c64);
	free(claims);
	json_decref(hdr);
	json_decref(cl);

	/* Flip one character in the middle of the claims. */
	d1[5] = d1[5] == 'A' ? 'B' : 'A';
	cause = refused(&ks1, tok, NOW);
	free(cause);
	free(tok);
}

Test(token, tampered_signature_refused)
{
	char	*tok, *cause, *sig;
	size_t	 n;

	tok = issue(key1, NOW, 3600);
	sig = strrchr(tok, '.') + 1;
	sig[0] = sig[0] == 'A' ? 'B' : 'A';
	cause = refused(&ks1, tok, NOW);
	cr_assert(strstr(cause, "does not verify") != NULL, "%s", cause);
	free(cause);

	/* Non-canonical last character of the signature (low bits set). */
	sig[0] = sig[0] == 'A' ? 'B' : 'A';
	n = strlen(sig);
	cr_assert_eq(n, 86);
	sig[n - 1] = sig[n - 1] == 'A' ? 'B' : 'A';
	cause = refused(&ks1, tok, NOW);
	free(cause);

	/* Truncated signature. */
	sig[n - 3] = '\0';
	cause = refused(&ks1, tok, NOW);
	cr_assert(strstr(cause, "64 bytes") != NULL, "%s", cause);
	free(cause);
	free(tok);
}

Test(token, unknown_kid_refused)
{
	char	*tok, *cause, *want;

	tok = issue(key2, NOW, 3600);
	cause = refused(&ks1, tok, NOW);
	want = ph_asprintf("token signed by unknown key kid=%s, "
	    "PORTHOLE_PUBKEY lacks it", ph_key_kid(key2));
	cr_assert_str_eq(cause, want);
	free(want);
	free(cause);
	free(tok);

	tok = forge("{\"alg\":\"EdDSA\",\"kid\":\"../../etc/passwd\"}",
	    "{}", SIG0);
	cause = refused(&ks1, tok, NOW);
	cr_assert(strstr(cause, "unknown key") != NULL, "%s", cause);
	cr_assert(strstr(cause, "passwd") == NULL);
	free(cause);
	free(tok);

	tok = forge("{\"alg\":\"EdDSA\"}", "{}", SIG0);
	cause = refused(&ks1, tok, NOW);
	cr_assert(strstr(cause, "no kid") != NULL, "%s", cause);
	free(cause);
	free(tok);
}

Test(token, empty_keyset)
{
	struct ph_keyset	 none = { NULL, 0 };
	char			*tok, *cause;

	tok = issue(key1, NOW, 3600);
	cause = refused(&none, tok, NOW);
	cr_assert(strstr(cause, "PORTHOLE_PUBKEY") != NULL, "%s", cause);
	free(cause);
	free(tok);
}

Test(token, alg_none_and_hs256_refused)
{
	char	*tok, *cause, *hdr, *claims, *sig;
	uint8_t	 zero[64] = { 0 };

	claims = ph_asprintf("{\"sub\":\"a\",\"kind\":\"client\",\"scope\":"
	    "[\"shell\"],\"exp\":%d,\"jti\":\"j\"}", NOW + 60);
	sig = ph_b64url_encode(zero, sizeof zero);

	hdr = ph_asprintf("{\"alg\":\"none\",\"kid\":\"%s\"}", ph_key_kid(key1));
	tok = forge(hdr, claims, sig);
	cause = refused(&ks1, tok, NOW);
	cr_assert(strstr(cause, "alg none") != NULL, "%s", cause);
	free(cause);
	free(tok);
	/* "none" with an empty signature part is malformed to begin with. */
	tok = forge(hdr, claims, "");
	cause = refused(&ks1, tok, NOW);
	free(cause);
	free(tok);
	free(hdr);

	hdr = ph_asprintf("{\"alg\":\"HS256\",\"kid\":\"%s\"}", ph_key_kid(key1));
	tok = forge(hdr, claims, sig);
	cause = refused(&ks1, tok, NOW);
	cr_assert(strstr(cause, "HS256") != NULL, "%s", cause);
	cr_assert(strstr(cause, "only EdDSA") != NULL, "%s", cause);
	free(cause);
	free(tok);
	free(hdr);

	/* A correctly signed token whose header lies about alg. */
	hdr = ph_asprintf("{\"alg\":\"ES256\",\"kid\":\"%s\"}", ph_key_kid(key1));
	tok = sign_raw(key1, hdr, claims);
	cause = refused(&ks1, tok, NOW);
	free(cause);
	free(tok);
	free(hdr);

	/* alg missing, alg not a string. */
	hdr = ph_asprintf("{\"alg\":5,\"kid\":\"%s\"}", ph_key_kid(key1));
	tok = sign_raw(key1, hdr, claims);
	cause = refused(&ks1, tok, NOW);
	free(cause);
	free(tok);
	free(hdr);

	/* A sound header and signature verify (control for the above). */
	hdr = ph_asprintf("{\"alg\":\"EdDSA\",\"kid\":\"%s\"}",
	    ph_key_kid(key1));
	tok = sign_raw(key1, hdr, claims);
	{
		struct ph_claims c;

		cr_assert_eq(ph_token_verify(&ks1, tok, NOW, &c, &cause), 0,
		    "%s", cause);
		cr_assert(ph_claims_allows(&c, "shell"));
		ph_claims_free(&c);
	}
	free(tok);
	free(hdr);
	free(sig);
	free(claims);
}

Test(token, malformed_structures)
{
	const char *bad[] = {
		"", "abc", "a.b", "a.b.c.d", "..", "a..c", ".b.c",
		"eyJhbGciOiJFZERTQSJ9.e30.AAAA=",	/* padding */
		"eyJhbGciOiJFZERTQSJ9 .e30.AAAA",	/* space */
		"eyJh+GciOiJFZERTQSJ9.e30.AAAA",	/* std base64 */
		"bm90IGpzb24.e30.AAAA",			/* header not JSON */
		"WzFd.e30.AAAA",			/* header an array */
		"e30.e30.AAAA",				/* {} header */
		NULL
	};
	const char	**p;
	char		 *cause, *tok;

	for (p = bad; *p != NULL; p++) {
		cause = refused(&ks1, *p, NOW);
		cr_assert(strncmp(cause, "token ", 6) == 0, "%s", cause);
		free(cause);
	}
	cause = refused(&ks1, NULL, NOW);
	free(cause);

	cause = refused(&ks1, "bm90IGpzb24.e30.AAAA", NOW);
	cr_assert_str_eq(cause, "token is malformed: header is not a JSON "
	    "object");
	free(cause);
	cause = refused(&ks1, "a.b.c.d", NOW);
	cr_assert(strstr(cause, "4 parts") != NULL, "%s", cause);
	free(cause);

	/* Duplicate keys in the header are refused. */
	tok = forge("{\"alg\":\"EdDSA\",\"alg\":\"none\"}", "{}", "AAAA");
	cause = refused(&ks1, tok, NOW);
	cr_assert(strstr(cause, "header") != NULL, "%s", cause);
	free(cause);
	free(tok);
}

Test(token, malformed_claims_refused)
{
	const char *claims[] = {
		"{\"kind\":\"client\",\"exp\":%d,\"jti\":\"j\"}",	/* no sub */
		"{\"sub\":\"\",\"kind\":\"client\",\"exp\":%d,\"jti\":\"j\"}",
		"{\"sub\":\"a\",\"exp\":%d,\"jti\":\"j\"}",		/* no kind */
		"{\"sub\":\"a\",\"kind\":\"root\",\"exp\":%d,\"jti\":\"j\"}",
		"{\"sub\":\"a\",\"kind\":\"client\",\"jti\":\"j\",\"x\":%d}",
		"{\"sub\":\"a\",\"kind\":\"client\",\"exp\":\"%d\",\"jti\":\"j\"}",
		"{\"sub\":\"a\",\"kind\":\"client\",\"exp\":%d}",	/* no jti */
		"{\"sub\":\"a\",\"kind\":\"client\",\"exp\":%d,\"jti\":\"j\","
		    "\"scope\":\"ls shell\"}",
		"{\"sub\":\"a\",\"kind\":\"client\",\"exp\":%d,\"jti\":\"j\","
		    "\"scope\":[1]}",
		"{\"sub\":\"a\",\"kind\":\"agent\",\"exp\":%d,\"jti\":\"j\","
		    "\"labels\":{\"k\":\"v\"}}",
		"{\"sub\":\"a\",\"kind\":\"agent\",\"exp\":%d,\"jti\":\"j\","
		    "\"labels\":[]}",
		"{\"sub\":\"a\",\"kind\":\"client\",\"exp\":%d,\"jti\":\"j\","
		    "\"cnf\":{\"jwk\":{\"kty\":\"RSA\"}}}",
		"{\"sub\":\"a\",\"kind\":\"client\",\"exp\":%d,\"jti\":\"j\","
		    "\"target\":7}",
		"{\"sub\":\"a\",\"kind\":\"client\",\"exp\":%d.5,\"jti\":\"j\"}",
		"{\"sub\":\"a\",\"kind\":\"client\",\"exp\":%d,\"jti\":\"j\","
		    "\"iat\":\"yesterday\"}",
		NULL
	};
	const char	**p;
	char		 *hdr, *json, *tok, *cause;

	hdr = ph_asprintf("{\"alg\":\"EdDSA\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
	    ph_key_kid(key1));
	for (p = claims; *p != NULL; p++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		json = ph_asprintf(*p, NOW + 60);
#pragma GCC diagnostic pop
		tok = sign_raw(key1, hdr, json);
		cause = refused(&ks1, tok, NOW);
		cr_assert(strncmp(cause, "token is malformed: ", 20) == 0,
		    "%s: %s", json, cause);
		free(cause);
		free(tok);
		free(json);
	}
	free(hdr);
}

Test(token, oversize_refused)
{
	char	*tok, *cause;

	tok = malloc(PH_TOKEN_MAX + 2);
	memset(tok, 'A', PH_TOKEN_MAX + 1);
	tok[10] = '.';
	tok[20] = '.';
	tok[PH_TOKEN_MAX + 1] = '\0';
	cause = refused(&ks1, tok, NOW);
	cr_assert(strstr(cause, "too long") != NULL, "%s", cause);
	free(cause);
	free(tok);
}

Test(token, oversize_not_issued)
{
	struct ph_claims	 c;
	char			*cause = NULL, *big;

	big = malloc(PH_TOKEN_MAX);
	memset(big, 'x', PH_TOKEN_MAX - 1);
	big[PH_TOKEN_MAX - 1] = '\0';
	memset(&c, 0, sizeof c);
	c.sub = "a";
	c.kind = PH_TOKEN_CLIENT;
	c.exp = NOW + 60;
	c.labels = json_object();
	json_object_set_new(c.labels, "k", json_pack("[s]", big));
	c.kind = PH_TOKEN_AGENT;
	cr_assert_null(ph_token_issue(key1, &c, &cause));
	cr_assert(strstr(cause, "longer than") != NULL, "%s", cause);
	free(cause);
	json_decref(c.labels);
	free(big);
}

Test(token, rotation_keyset_of_two)
{
	struct ph_keyset	 ks = { NULL, 0 };
	struct ph_claims	 c;
	char			*t1, *t2, *p1, *p2, *both, *cause = NULL;

	p1 = ph_key_public_pem(key1, &cause);
	p2 = ph_key_private_pem(key2, &cause);	/* private: public half used */
	both = ph_asprintf("%s%s", p1, p2);
	cr_assert_eq(ph_keyset_add_pem(&ks, both, strlen(both), "both", &cause),
	    0, "%s", cause);
	cr_assert_eq(ks.n, 2);
	cr_assert_not(ph_key_has_private(ks.keys[1]));
	/* Adding the same keys again changes nothing. */
	cr_assert_eq(ph_keyset_add_pem(&ks, both, strlen(both), "both", &cause),
	    0);
	cr_assert_eq(ks.n, 2);

	t1 = issue(key1, NOW, 60);
	t2 = issue(key2, NOW, 60);
	cr_assert_eq(ph_token_verify(&ks, t1, NOW, &c, &cause), 0);
	cr_assert_str_eq(c.kid, ph_key_kid(key1));
	ph_claims_free(&c);
	cr_assert_eq(ph_token_verify(&ks, t2, NOW, &c, &cause), 0);
	cr_assert_str_eq(c.kid, ph_key_kid(key2));
	ph_claims_free(&c);

	free(p1);
	free(p2);
	free(both);
	free(t1);
	free(t2);
	ph_keyset_free(&ks);
	ph_keyset_free(&ks);	/* safe twice */
}

Test(token, claims_allows)
{
	struct ph_claims	 c;
	char			*viewer[] = { "ls", "ps", "mem", NULL };

	memset(&c, 0, sizeof c);
	cr_assert_not(ph_claims_allows(&c, "ls"));
	c.kind = PH_TOKEN_CLIENT;
	c.scope = viewer;
	cr_assert(ph_claims_allows(&c, "ls"));
	cr_assert(ph_claims_allows(&c, "mem"));
	cr_assert_not(ph_claims_allows(&c, "shell"));
	cr_assert_not(ph_claims_allows(&c, "l"));
	cr_assert_not(ph_claims_allows(&c, "lsx"));
	cr_assert_not(ph_claims_allows(&c, ""));
	cr_assert_not(ph_claims_allows(&c, NULL));
	cr_assert_not(ph_claims_allows(NULL, "ls"));
	c.kind = PH_TOKEN_AGENT;
	cr_assert_not(ph_claims_allows(&c, "ls"));
	cr_assert_str_eq(ph_token_kind_name(PH_TOKEN_AGENT), "agent");
	cr_assert_str_eq(ph_token_kind_name(PH_TOKEN_CLIENT), "client");
}

Test(token, b64url_roundtrip)
{
	uint8_t	 in[256], out[260];
	char	*s;
	size_t	 n, i;
	ssize_t	 r;

	for (i = 0; i < sizeof in; i++)
		in[i] = (uint8_t)(i * 7 + 3);
	for (n = 0; n <= sizeof in; n++) {
		s = ph_b64url_encode(in, n);
		cr_assert_not_null(s);
		cr_assert_eq(strlen(s), (n * 4 + 2) / 3);
		cr_assert_null(strpbrk(s, "+/="));
		r = ph_b64url_decode(s, strlen(s), out, sizeof out);
		cr_assert_eq(r, (ssize_t)n);
		cr_assert_eq(memcmp(in, out, n), 0);
		if (n > 0)	/* no room for the last byte */
			cr_assert_eq(ph_b64url_decode(s, strlen(s), out, n - 1),
			    -1);
		free(s);
	}
	s = ph_b64url_encode("\xfb\xff", 2);
	cr_assert_str_eq(s, "-_8");
	free(s);
}

Test(token, b64url_invalid)
{
	uint8_t	out[16];

	cr_assert_eq(ph_b64url_decode("", 0, out, sizeof out), 0);
	cr_assert_eq(ph_b64url_decode("QQ", 2, out, sizeof out), 1);
	cr_assert_eq(out[0], 'A');
	cr_assert_eq(ph_b64url_decode("QQ==", 4, out, sizeof out), -1);
	cr_assert_eq(ph_b64url_decode("QR", 2, out, sizeof out), -1);	/* bits */
	cr_assert_eq(ph_b64url_decode("Q", 1, out, sizeof out), -1);
	cr_assert_eq(ph_b64url_decode("QUJD", 4, out, sizeof out), 3);
	cr_assert_eq(ph_b64url_decode("QU+D", 4, out, sizeof out), -1);
	cr_assert_eq(ph_b64url_decode("QU/D", 4, out, sizeof out), -1);
	cr_assert_eq(ph_b64url_decode("QU D", 4, out, sizeof out), -1);
	cr_assert_eq(ph_b64url_decode("QU\nD", 4, out, sizeof out), -1);
	cr_assert_eq(ph_b64url_decode("QU\0D", 4, out, sizeof out), -1);
	cr_assert_eq(ph_b64url_decode("QUJDRA", 6, out, sizeof out), 4);
	cr_assert_eq(ph_b64url_decode("QUJDRB", 6, out, sizeof out), -1);
}

Test(token, sign_and_verify_bytes_with_jwk)
{
	struct ph_key	*pub;
	json_t		*jwk;
	char		*sig, *cause = NULL;

	sig = ph_key_sign_b64url(key2, "hello", 5, &cause);
	cr_assert_not_null(sig);
	jwk = ph_key_jwk(key2);
	cr_assert_str_eq(json_string_value(json_object_get(jwk, "kty")), "OKP");
	pub = ph_key_from_jwk(jwk, &cause);
	cr_assert_not_null(pub, "%s", cause);
	cr_assert_str_eq(ph_key_kid(pub), ph_key_kid(key2));
	cr_assert_eq(ph_key_verify_b64url(pub, "hello", 5, sig, &cause), 0);
	cr_assert_eq(ph_key_verify_b64url(pub, "hellO", 5, sig, &cause), -1);
	free(cause);
	cause = NULL;
	/* A public key cannot sign. */
	cr_assert_null(ph_key_sign_b64url(pub, "x", 1, &cause));
	free(cause);
	ph_key_free(pub);
	json_decref(jwk);
	free(sig);
}

Test(token, pem_files_roundtrip)
{
	char		 tmpl[] = "/tmp/test_token.XXXXXX", *dir, *priv, *pub;
	char		*pem, *pem2, *cause = NULL, *spec, *junk;
	struct ph_key	*k, *kp;
	struct ph_keyset ks = { NULL, 0 };
	struct stat	 st;

	dir = mkdtemp(tmpl);
	cr_assert_not_null(dir);
	priv = ph_asprintf("%s/signing.key", dir);
	pub = ph_asprintf("%s/signing.pub", dir);

	pem = ph_key_private_pem(key1, &cause);
	cr_assert_not_null(pem);
	cr_assert(strncmp(pem, "-----BEGIN PRIVATE KEY-----", 27) == 0);
	cr_assert_eq(ph_write_file(priv, pem, strlen(pem), 0600, &cause), 0);
	free(pem);
	pem = ph_key_public_pem(key1, &cause);
	cr_assert(strncmp(pem, "-----BEGIN PUBLIC KEY-----", 26) == 0);
	cr_assert_eq(ph_write_file(pub, pem, strlen(pem), 0644, &cause), 0);
	cr_assert_eq(stat(priv, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);

	k = ph_key_load_private(priv, &cause);
	cr_assert_not_null(k, "%s", cause);
	cr_assert(ph_key_has_private(k));
	cr_assert_str_eq(ph_key_kid(k), ph_key_kid(key1));
	pem2 = ph_key_private_pem(k, &cause);
	free(pem2);

	/* A public key is no private key, but ph_key_load may take it. */
	cr_assert_null(ph_key_load_private(pub, &cause));
	cr_assert(strstr(cause, "public key") != NULL, "%s", cause);
	free(cause);
	cause = NULL;
	kp = ph_key_load(pub, 1, &cause);
	cr_assert_not_null(kp, "%s", cause);
	cr_assert_not(ph_key_has_private(kp));
	cr_assert_str_eq(ph_key_kid(kp), ph_key_kid(key1));
	ph_key_free(kp);

	/* Key set from two files, one of them a private key. */
	free(pem);
	pem = ph_key_private_pem(key2, &cause);
	free(priv);
	priv = ph_asprintf("%s/second.key", dir);
	cr_assert_eq(ph_write_file(priv, pem, strlen(pem), 0600, &cause), 0);
	spec = ph_asprintf("%s,%s", pub, priv);
	cr_assert_eq(ph_keyset_load(&ks, spec, &cause), 0, "%s", cause);
	cr_assert_eq(ks.n, 2);
	cr_assert_not_null(ph_keyset_find(&ks, ph_key_kid(key2)));
	free(spec);

	/* Failures leave the set as it was. */
	spec = ph_asprintf("%s,%s/missing.pub", pub, dir);
	cr_assert_eq(ph_keyset_load(&ks, spec, &cause), -1);
	cr_assert(strstr(cause, "missing.pub") != NULL, "%s", cause);
	cr_assert_eq(ks.n, 2);
	free(cause);
	cause = NULL;
	free(spec);
	cr_assert_eq(ph_keyset_load(&ks, "", &cause), -1);
	free(cause);
	cause = NULL;
	junk = ph_asprintf("%s/junk.pem", dir);
	cr_assert_eq(ph_write_file(junk, "hello\n", 6, 0644, &cause), 0);
	cr_assert_eq(ph_keyset_load(&ks, junk, &cause), -1);
	cr_assert(strstr(cause, "no PEM key") != NULL, "%s", cause);
	free(cause);
	cause = NULL;
	/* An EC key is refused: only Ed25519. */
	{
		const char *ec =
		    "-----BEGIN PUBLIC KEY-----\n"
		    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEVs/o5+uQbTjL3chynL4wXgUg2R9\n"
		    "q9UU8I5mEovUf86QZ7kOBIjJwqnzD1omageEHWwHdBO6B+dFabmdT9POxg==\n"
		    "-----END PUBLIC KEY-----\n";

		cr_assert_eq(ph_write_file(junk, ec, strlen(ec), 0644, &cause),
		    0);
		cr_assert_eq(ph_keyset_load(&ks, junk, &cause), -1);
		cr_assert(strstr(cause, "not Ed25519") != NULL, "%s", cause);
		free(cause);
		cause = NULL;
	}
	cr_assert_eq(ks.n, 2);

	unlink(junk);
	unlink(priv);
	unlink(pub);
	free(priv);
	priv = ph_asprintf("%s/signing.key", dir);
	unlink(priv);
	rmdir(dir);
	free(junk);
	free(priv);
	free(pub);
	free(pem);
	ph_key_free(k);
	ph_keyset_free(&ks);
}

/* ---- signed opens (src/opensig.c) ------------------------------------- */

/* Claims of a client token bound to k (as the relay and agent see them). */
static void
bound_claims(struct ph_claims *c, const struct ph_key *k)
{
	memset(c, 0, sizeof *c);
	c->sub = strdup("alice");
	c->kind = PH_TOKEN_CLIENT;
	c->jti = strdup("jti-1");
	c->cnf = json_pack("{s:o}", "jwk", ph_key_jwk(k));
	cr_assert_not_null(c->cnf);
}

static json_t *
an_open(void)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:[s,s,s], s:b, s:b, s:s, s:s}",
	    "type", "open", "sid", "0123456789abcdef0123456789abcdef",
	    "agent", "task/app", "op", "exec", "argv", "sh", "-c", "echo hi",
	    "tty", 0, "stdin", 1, "secret", "s", "sub", "relay-says");
}

Test(token, opensig_roundtrip_and_what_is_signed)
{
	struct ph_claims	 c;
	json_t			*o, *o2;
	char			*cause = NULL;

	bound_claims(&c, key2);
	o = an_open();
	cr_assert_eq(ph_opensig_sign(key2, "jti-1", o, NOW, &cause), 0, "%s", cause);
	cr_assert_eq(json_integer_value(json_object_get(o, "ts")), NOW);
	cr_assert_eq(ph_opensig_verify(&c, o, NOW + 10, PH_OPENSIG_FORM, &cause), 0, "%s", cause);
	/* What the relay adds is not signed. */
	json_object_set_new(o, "secret", json_string("other"));
	json_object_set_new(o, "sub", json_string("x"));
	json_object_set_new(o, "token", json_string("t"));
	cr_assert_eq(ph_opensig_verify(&c, o, NOW, PH_OPENSIG_FORM, &cause), 0, "%s", cause);

	/* Every other member, changed, added or removed, breaks it. */
	{
		static const char *names[] = { "agent", "op", "sid", "argv",
		    "tty", "stdin", "pid", "container", "timeout_ms", "grace_ms",
		    "ts", "cols", "term", "proto", "type", "anything-new" };
		size_t i;

		for (i = 0; i < sizeof names / sizeof names[0]; i++) {
			o2 = json_deep_copy(o);
			if (strcmp(names[i], "argv") == 0)
				json_array_append_new(json_object_get(o2, "argv"),
				    json_string("x"));
			else if (strcmp(names[i], "tty") == 0 ||
			    strcmp(names[i], "stdin") == 0)
				json_object_set_new(o2, names[i], json_boolean(
				    !json_is_true(json_object_get(o, names[i]))));
			else if (strcmp(names[i], "pid") == 0 ||
			    strcmp(names[i], "timeout_ms") == 0 ||
			    strcmp(names[i], "grace_ms") == 0 ||
			    strcmp(names[i], "cols") == 0 ||
			    strcmp(names[i], "proto") == 0 ||
			    strcmp(names[i], "ts") == 0)
				json_object_set_new(o2, names[i], json_integer(NOW + 1));
			else
				json_object_set_new(o2, names[i], json_string("zzz"));
			cause = NULL;
			cr_assert_eq(ph_opensig_verify(&c, o2, NOW, PH_OPENSIG_FORM, &cause), -1,
			    "changing %s went unnoticed", names[i]);
			cr_assert(strstr(cause, "altered") != NULL, "%s", cause);
			free(cause);
			json_decref(o2);
		}
	}
	/* argv ["a b"] and ["a", "b"] are different requests. */
	o2 = json_deep_copy(o);
	json_object_set_new(o2, "argv", json_pack("[s]", "sh -c echo hi"));
	cause = NULL;
	cr_assert_eq(ph_opensig_verify(&c, o2, NOW, PH_OPENSIG_FORM, &cause), -1);
	free(cause);
	json_decref(o2);
	json_decref(o);
	ph_claims_free(&c);
}

Test(token, opensig_refusals)
{
	struct ph_claims	 c;
	json_t			*o;
	char			*cause = NULL;

	bound_claims(&c, key2);
	o = an_open();
	/* Unsigned. */
	json_object_set_new(o, "ts", json_integer(NOW));
	cr_assert_eq(ph_opensig_verify(&c, o, NOW, PH_OPENSIG_FORM, &cause), -1);
	cr_assert(strstr(cause, "not signed") != NULL, "%s", cause);
	free(cause);
	/* Signed by another key than the bound one. */
	cr_assert_eq(ph_opensig_sign(key1, "jti-1", o, NOW, &cause), 0);
	cause = NULL;
	cr_assert_eq(ph_opensig_verify(&c, o, NOW, PH_OPENSIG_FORM, &cause), -1);
	cr_assert(strstr(cause, "does not verify") != NULL, "%s", cause);
	free(cause);
	/* Signed for another token (jti). */
	cr_assert_eq(ph_opensig_sign(key2, "jti-2", o, NOW, &cause), 0);
	cause = NULL;
	cr_assert_eq(ph_opensig_verify(&c, o, NOW, PH_OPENSIG_FORM, &cause), -1);
	free(cause);
	/* Stale and future, past the 60 s of skew; within it is fine. */
	cr_assert_eq(ph_opensig_sign(key2, "jti-1", o, NOW, &cause), 0);
	cr_assert_eq(ph_opensig_verify(&c, o, NOW + PH_CLOCK_SKEW, PH_OPENSIG_FORM, &cause), 0);
	cr_assert_eq(ph_opensig_verify(&c, o, NOW - PH_CLOCK_SKEW, PH_OPENSIG_FORM, &cause), 0);
	cause = NULL;
	cr_assert_eq(ph_opensig_verify(&c, o, NOW + PH_CLOCK_SKEW + 1, PH_OPENSIG_FORM, &cause), -1);
	cr_assert(strstr(cause, "stale") != NULL && strstr(cause, "old") != NULL,
	    "%s", cause);
	free(cause);
	cause = NULL;
	cr_assert_eq(ph_opensig_verify(&c, o, NOW - PH_CLOCK_SKEW - 5, PH_OPENSIG_FORM, &cause), -1);
	cr_assert(strstr(cause, "ahead") != NULL, "%s", cause);
	free(cause);
	/* An unbound token cannot open anything. */
	json_decref(c.cnf);
	c.cnf = NULL;
	cause = NULL;
	cr_assert_eq(ph_opensig_verify(&c, o, NOW, PH_OPENSIG_FORM, &cause), -1);
	cr_assert(strstr(cause, "not bound") != NULL, "%s", cause);
	free(cause);
	/*
	 * What a form cannot sign is an error, not a crash: a number with a
	 * fraction (form 2), argv not a list of strings (form 1).
	 */
	json_object_set_new(o, "timeout_ms", json_real(1.5));
	cause = NULL;
	cr_assert_eq(ph_opensig_sign(key2, "jti-1", o, NOW, &cause), -1);
	cr_assert(strstr(cause, "timeout_ms") != NULL, "%s", cause);
	free(cause);
	json_object_del(o, "timeout_ms");
	json_object_set_new(o, "proto", json_integer(1));
	json_object_set_new(o, "argv", json_string("not a list"));
	cause = NULL;
	cr_assert_eq(ph_opensig_sign(key2, "jti-1", o, NOW, &cause), -1);
	free(cause);
	json_decref(o);
	ph_claims_free(&c);
}

Test(token, opensig_input_is_netstrings)
{
	json_t	*o;
	uint8_t	*in;
	size_t	 n;
	char	*cause = NULL;
	const char *want = "16:porthole-open-v1,3:jti,1:j,5:agent,1:a,2:op,4:exec,"
	    "4:argv,9:1:x,2:yz,,3:tty,4:true,3:pid,2:42,";

	o = json_pack("{s:s, s:s, s:[s,s], s:b, s:i, s:s}", "agent", "a", "op",
	    "exec", "argv", "x", "yz", "tty", 1, "pid", 42, "term", "xterm");
	cr_assert_eq(ph_opensig_input(o, "j", &in, &n, &cause), 0);
	cr_assert_eq(n, strlen(want));
	cr_assert(memcmp(in, want, n) == 0, "%.*s", (int)n, in);
	free(in);
	json_decref(o);
}

/* ---- label patterns ---------------------------------------------------- */

Test(token, labels_claim_globs)
{
	struct ph_claims	 c;
	json_t			*l;
	char			*cause = NULL;

	memset(&c, 0, sizeof c);
	c.sub = "agents";
	c.kind = PH_TOKEN_AGENT;
	c.labels = json_pack("{s:[s,s]}", "team", "web-*", "db");
	l = json_pack("{s:s}", "team", "web-7");
	cr_assert_eq(ph_claims_labels_allow(&c, l, &cause), 0);
	json_decref(l);
	l = json_pack("{s:s}", "team", "db");
	cr_assert_eq(ph_claims_labels_allow(&c, l, &cause), 0);
	json_decref(l);
	l = json_pack("{s:s}", "team", "dbx");
	cr_assert_eq(ph_claims_labels_allow(&c, l, &cause), -1);
	free(cause);
	json_decref(l);
	json_decref(c.labels);
}

/* ---- the revocation list (src/revoked.c) -------------------------------- */

static char *
tmpfile_with(const char *text)
{
	char	*path = ph_asprintf("%s/ph-revoked-XXXXXX", getenv("TMPDIR") ?
	    getenv("TMPDIR") : "/tmp");
	int	 fd = mkstemp(path);

	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

Test(token, revoked_list_reread_on_change)
{
	struct ph_revoked	 r;
	char			*path, *cause = NULL, *note = NULL, *tmp;

	path = tmpfile_with("# comment\n  aaa  \n\nbbb\n");
	cr_assert_eq(ph_revoked_init(&r, path, &cause), 0, "%s", cause);
	cr_assert_eq(r.n, 2);
	cr_assert(ph_revoked_has(&r, "aaa"));
	cr_assert(ph_revoked_has(&r, "bbb"));
	cr_assert_not(ph_revoked_has(&r, "ccc"));
	cr_assert_not(ph_revoked_has(&r, "# comment"));
	cr_assert_eq(ph_revoked_refresh(&r, &note), 0);	/* unchanged */

	/* Replaced by rename (a new inode): seen at once. */
	tmp = tmpfile_with("ccc\n");
	cr_assert_eq(rename(tmp, path), 0);
	free(tmp);
	cr_assert_eq(ph_revoked_refresh(&r, &note), 1);
	cr_assert(ph_revoked_has(&r, "ccc"));
	cr_assert_not(ph_revoked_has(&r, "aaa"));

	/* A malformed version keeps the last good list, said once. */
	tmp = tmpfile_with("ok\nbad\x01line\n");
	cr_assert_eq(rename(tmp, path), 0);
	free(tmp);
	cr_assert_eq(ph_revoked_refresh(&r, &note), -1);
	cr_assert(strstr(note, ":2:") != NULL, "%s", note);
	free(note);
	note = NULL;
	cr_assert_eq(ph_revoked_refresh(&r, &note), 0);
	cr_assert(ph_revoked_has(&r, "ccc"));

	/* Removed: last list kept, said once. */
	unlink(path);
	cr_assert_eq(ph_revoked_refresh(&r, &note), -1);
	free(note);
	note = NULL;
	cr_assert_eq(ph_revoked_refresh(&r, &note), 0);
	cr_assert(ph_revoked_has(&r, "ccc"));
	ph_revoked_free(&r);

	/* At start a missing file is an error; no path is no list. */
	cr_assert_eq(ph_revoked_init(&r, path, &cause), -1);
	free(cause);
	cr_assert_eq(ph_revoked_init(&r, NULL, &cause), 0);
	cr_assert_not(ph_revoked_has(&r, "ccc"));
	cr_assert_eq(ph_revoked_refresh(&r, &note), 0);
	ph_revoked_free(&r);
	free(path);
}

/* ---- key sets re-read (src/keywatch.c) ---------------------------------- */

Test(token, keywatch_rotation)
{
	struct ph_keywatch	 w;
	struct ph_keyset	 ks = { NULL, 0 };
	char			*p1, *p2, *path, *cause = NULL, *note = NULL, *both, *tmp;

	p1 = ph_key_public_pem(key1, &cause);
	p2 = ph_key_public_pem(key2, &cause);
	path = tmpfile_with(p1);
	cr_assert_eq(ph_keywatch_init(&w, &ks, path, &cause), 0, "%s", cause);
	cr_assert_eq(ks.n, 1);
	cr_assert_eq(ph_keywatch_refresh(&w, &ks, &note), 0);
	cr_assert_null(ph_keyset_find(&ks, ph_key_kid(key2)));

	/* Publish the second key next to the first: both valid at once. */
	both = ph_asprintf("%s%s", p1, p2);
	tmp = tmpfile_with(both);
	cr_assert_eq(rename(tmp, path), 0);
	free(tmp);
	cr_assert_eq(ph_keywatch_refresh(&w, &ks, &note), 1);
	cr_assert_eq(ks.n, 2);
	cr_assert_not_null(ph_keyset_find(&ks, ph_key_kid(key1)));
	cr_assert_not_null(ph_keyset_find(&ks, ph_key_kid(key2)));

	/* A broken file keeps the set in force. */
	tmp = tmpfile_with("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n");
	cr_assert_eq(rename(tmp, path), 0);
	free(tmp);
	cr_assert_eq(ph_keywatch_refresh(&w, &ks, &note), -1);
	free(note);
	cr_assert_eq(ks.n, 2);

	/* Drop the old key. */
	tmp = tmpfile_with(p2);
	cr_assert_eq(rename(tmp, path), 0);
	free(tmp);
	cr_assert_eq(ph_keywatch_refresh(&w, &ks, &note), 1);
	cr_assert_eq(ks.n, 1);
	cr_assert_null(ph_keyset_find(&ks, ph_key_kid(key1)));

	unlink(path);
	ph_keywatch_free(&w);
	ph_keyset_free(&ks);
	free(p1);
	free(p2);
	free(both);
	free(path);
}

Test(token, keywatch_pem_text)
{
	struct ph_keywatch	 w;
	struct ph_keyset	 ks = { NULL, 0 };
	char			*pem, *cause = NULL, *note = NULL;

	pem = ph_key_public_pem(key1, &cause);
	cr_assert_eq(ph_keywatch_init(&w, &ks, pem, &cause), 0, "%s", cause);
	cr_assert_not_null(ph_keyset_find(&ks, ph_key_kid(key1)));
	cr_assert_eq(ph_keywatch_refresh(&w, &ks, &note), 0);
	ph_keywatch_free(&w);
	ph_keyset_free(&ks);
	free(pem);
}

Test(token, opensig_empty_argv)
{
	json_t	*o;
	uint8_t	*in;
	size_t	 n;
	char	*cause = NULL;
	const char *want = "16:porthole-open-v1,3:jti,1:j,2:op,5:shell,4:argv,0:,";

	o = json_pack("{s:s, s:[]}", "op", "shell", "argv");
	cr_assert_eq(ph_opensig_input(o, "j", &in, &n, &cause), 0);
	cr_assert_eq(n, strlen(want));
	cr_assert(memcmp(in, want, n) == 0, "%.*s", (int)n, in);
	free(in);
	json_decref(o);
}
