/*
 * opensig.c - the client's signature over an `open` (see opensig.h for the
 * two forms of signing input): built here once for the CLI that signs, the
 * relay that checks before it forwards, and the agent that checks before
 * it runs.
 *
 * Form 2 is sigenc.c's typed encoding of every member the client sent.
 * Form 1 stays, byte for byte, for agents of protocol 1: netstrings of a
 * fixed member list.  Both are the same bytes whatever a JSON encoder does
 * with escapes, key order or white space.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/opensig.h"
#include "porthole/ops.h"
#include "porthole/protocol.h"
#include "porthole/sigenc.h"
#include "porthole/util.h"

static const char *opensig_v1_members[] = { PH_OPENSIG_V1_MEMBERS };
#define OPENSIG_UNSIGNED_MAX	8

/* The registry's unsigned members (ops.h) as a NULL-terminated list. */
static void
opensig_unsigned(const char **v)
{
	const struct ph_op_member	*m;
	size_t				 n = 0;

	for (m = ph_ops_common(); m->name != NULL; m++) {
		if ((m->flags & PH_OPM_UNSIGNED) != 0 && n < OPENSIG_UNSIGNED_MAX)
			v[n++] = m->name;
	}
	v[n] = NULL;
}

int
ph_opensig_proto(const json_t *open)
{
	const json_t	*p = json_object_get(open, "proto");

	return json_is_integer(p) ? (int)json_integer_value(p) : 1;
}

int
ph_opensig_form(int proto)
{
	return proto >= 2 ? 2 : 1;
}

/* Form 1: member v as one netstring into b; -1 if of no known kind. */
static int
opensig_v1_value(struct ph_sigbuf *b, const char *name, const json_t *v)
{
	struct ph_sigbuf inner = { NULL, 0, 0, 0 };
	char		 num[32];
	const json_t	*e;
	size_t		 i;

	if (strcmp(name, "argv") == 0) {
		if (!json_is_array(v))
			return -1;
		json_array_foreach(v, i, e) {
			if (!json_is_string(e)) {
				free(inner.p);
				return -1;
			}
			ph_sigbuf_ns(&inner, json_string_value(e), json_string_length(e));
		}
		if (inner.failed)
			b->failed = 1;
		else
			ph_sigbuf_ns(b, inner.p, inner.len);
		free(inner.p);
		return 0;
	}
	if (json_is_string(v))
		ph_sigbuf_ns(b, json_string_value(v), json_string_length(v));
	else if (json_is_integer(v)) {
		snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
		ph_sigbuf_ns(b, num, strlen(num));
	} else if (json_is_boolean(v))
		ph_sigbuf_ns(b, json_is_true(v) ? "true" : "false",
		    json_is_true(v) ? 4 : 5);
	else
		return -1;
	return 0;
}

/* Form 1's signing input (opensig.h). */
static int
opensig_v1_input(const json_t *open, const char *jti, uint8_t **out,
    size_t *len, char **cause)
{
	struct ph_sigbuf b = { NULL, 0, 0, 0 };
	const json_t	*v;
	size_t		 i;

	ph_sigbuf_ns(&b, PH_OPENSIG_V1_CONTEXT, strlen(PH_OPENSIG_V1_CONTEXT));
	ph_sigbuf_ns(&b, "jti", 3);
	ph_sigbuf_ns(&b, jti, strlen(jti));
	for (i = 0; i < sizeof opensig_v1_members / sizeof opensig_v1_members[0]; i++) {
		if ((v = json_object_get(open, opensig_v1_members[i])) == NULL)
			continue;
		ph_sigbuf_ns(&b, opensig_v1_members[i], strlen(opensig_v1_members[i]));
		if (opensig_v1_value(&b, opensig_v1_members[i], v) != 0) {
			free(b.p);
			*cause = ph_asprintf("open member %s has the wrong type",
			    opensig_v1_members[i]);
			return -1;
		}
	}
	if (b.failed) {
		free(b.p);
		*cause = ph_asprintf("open is too large to sign");
		return -1;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}

int
ph_opensig_input(const json_t *open, const char *jti, uint8_t **out,
    size_t *len, char **cause)
{
	const char	*unsig[OPENSIG_UNSIGNED_MAX + 1];
	char		*why = NULL;

	*out = NULL;
	*len = 0;
	if (!json_is_object(open) || jti == NULL) {
		*cause = ph_asprintf("no open or no token id to sign");
		return -1;
	}
	if (ph_opensig_form(ph_opensig_proto(open)) == 1)
		return opensig_v1_input(open, jti, out, len, cause);
	opensig_unsigned(unsig);
	if (ph_sigenc_input(PH_OPENSIG_CONTEXT, jti, open, unsig, out,
	    len, &why) != 0) {
		*cause = ph_asprintf("the open cannot be signed: %s", why);
		free(why);
		return -1;
	}
	return 0;
}

int
ph_opensig_sign(const struct ph_key *k, const char *jti, json_t *open,
    int64_t now, char **cause)
{
	uint8_t	*in;
	size_t	 n;
	char	*sig;

	if (json_object_set_new(open, "ts", json_integer(now)) != 0) {
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	json_object_del(open, "sig");
	if (json_object_get(open, "proto") == NULL &&
	    json_object_set_new(open, "proto", json_integer(PH_PROTOCOL_VERSION)) != 0) {
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	if (ph_opensig_input(open, jti, &in, &n, cause) != 0)
		return -1;
	sig = ph_key_sign_b64url(k, in, n, cause);
	free(in);
	if (sig == NULL)
		return -1;
	if (json_object_set_new(open, "sig", json_string(sig)) != 0) {
		free(sig);
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	free(sig);
	return 0;
}

int
ph_opensig_verify(const struct ph_claims *c, const json_t *open, int64_t now,
    int min_form, char **cause)
{
	struct ph_key	*k;
	const json_t	*ts;
	const char	*sig;
	uint8_t		*in;
	size_t		 n;
	char		*why = NULL;
	int64_t		 age;
	int		 r, proto;

	if (c->cnf == NULL || json_object_get(c->cnf, "jwk") == NULL) {
		*cause = ph_asprintf("the token of %s is not bound to a client "
		    "key (no cnf): reissue it with 'porthole token issue "
		    "--bind KEY.pub'", c->sub);
		return -1;
	}
	sig = json_string_value(json_object_get(open, "sig"));
	if (sig == NULL || *sig == '\0') {
		*cause = ph_asprintf("the open is not signed (no sig): the "
		    "client needs PORTHOLE_KEY, the key its token is bound to");
		return -1;
	}
	proto = ph_opensig_proto(open);
	if (ph_opensig_form(proto) < min_form) {
		*cause = ph_asprintf("the open is signed in form %d (protocol %d), "
		    "which does not tell types apart nor cover every member; "
		    "this peer accepts form %d only: upgrade porthole (the CLI), "
		    "or a relay downgraded the request", ph_opensig_form(proto),
		    proto, min_form);
		return -1;
	}
	ts = json_object_get(open, "ts");
	if (!json_is_integer(ts)) {
		*cause = ph_asprintf("the open has no time (ts)");
		return -1;
	}
	age = now - (int64_t)json_integer_value(ts);
	if (age > PH_CLOCK_SKEW || age < -PH_CLOCK_SKEW) {
		*cause = ph_asprintf("the open is stale: its time is %llds %s "
		    "(more than %ds: replayed, or the clocks differ)",
		    (long long)(age < 0 ? -age : age),
		    age < 0 ? "ahead" : "old", PH_CLOCK_SKEW);
		return -1;
	}
	if ((k = ph_key_from_jwk(json_object_get(c->cnf, "jwk"), &why)) == NULL) {
		*cause = ph_asprintf("the token's cnf key is unusable: %s", why);
		free(why);
		return -1;
	}
	if (ph_opensig_input(open, c->jti, &in, &n, cause) != 0) {
		ph_key_free(k);
		return -1;
	}
	r = ph_key_verify_b64url(k, in, n, sig, &why);
	free(in);
	ph_key_free(k);
	if (r != 0) {
		free(why);
		*cause = ph_asprintf("the open's signature does not verify with "
		    "the key the token of %s is bound to: the request was "
		    "altered on the way or signed with another key", c->sub);
		return -1;
	}
	return 0;
}
