/*
 * opensig.c - the client's signature over an `open` (see opensig.h for the
 * signing input): built here once for the CLI that signs, the relay that
 * checks before it forwards, and the agent that checks before it runs.
 *
 * The input is netstrings rather than JSON so that it is the same bytes
 * whatever a JSON encoder does with escapes, key order or white space:
 * every field is length-prefixed, so no value can be shifted into another.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/opensig.h"
#include "porthole/util.h"

#define OPENSIG_INPUT_MAX	(256 * 1024)	/* an open is at most 64 KiB */

static const char *opensig_members[] = { PH_OPENSIG_MEMBERS };

/* A growing byte string, capped at OPENSIG_INPUT_MAX. */
struct sbuf {
	uint8_t	*p;
	size_t	 len, cap;
	int	 failed;
};

static void
sbuf_add(struct sbuf *b, const void *p, size_t n)
{
	uint8_t	*np;
	size_t	 cap;

	if (b->failed || n == 0)
		return;
	if (n > OPENSIG_INPUT_MAX - b->len) {
		b->failed = 1;
		return;
	}
	if (b->len + n > b->cap) {
		cap = b->cap == 0 ? 512 : b->cap;
		while (cap < b->len + n)
			cap *= 2;
		if ((np = realloc(b->p, cap)) == NULL) {
			b->failed = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

/* One netstring: LEN ":" BYTES "," */
static void
sbuf_ns(struct sbuf *b, const void *p, size_t n)
{
	char	hdr[32];
	int	hn;

	hn = snprintf(hdr, sizeof hdr, "%zu:", n);
	sbuf_add(b, hdr, (size_t)hn);
	sbuf_add(b, p, n);
	sbuf_add(b, ",", 1);
}

static void
sbuf_ns_str(struct sbuf *b, const char *s)
{
	sbuf_ns(b, s, strlen(s));
}

/* The value of member v as bytes into b (one netstring); -1 if of no known kind. */
static int
opensig_value(struct sbuf *b, const char *name, const json_t *v)
{
	struct sbuf	 inner = { NULL, 0, 0, 0 };
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
			sbuf_ns(&inner, json_string_value(e), json_string_length(e));
		}
		if (inner.failed) {
			free(inner.p);
			b->failed = 1;
			return 0;
		}
		sbuf_ns(b, inner.p, inner.len);
		free(inner.p);
		return 0;
	}
	if (json_is_string(v))
		sbuf_ns(b, json_string_value(v), json_string_length(v));
	else if (json_is_integer(v)) {
		snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
		sbuf_ns_str(b, num);
	} else if (json_is_boolean(v))
		sbuf_ns_str(b, json_is_true(v) ? "true" : "false");
	else
		return -1;
	return 0;
}

int
ph_opensig_input(const json_t *open, const char *jti, uint8_t **out,
    size_t *len, char **cause)
{
	struct sbuf	 b = { NULL, 0, 0, 0 };
	const json_t	*v;
	size_t		 i;

	*out = NULL;
	*len = 0;
	if (!json_is_object(open) || jti == NULL) {
		*cause = ph_asprintf("no open or no token id to sign");
		return -1;
	}
	sbuf_ns_str(&b, PH_OPENSIG_CONTEXT);
	sbuf_ns_str(&b, "jti");
	sbuf_ns_str(&b, jti);
	for (i = 0; i < sizeof opensig_members / sizeof opensig_members[0]; i++) {
		if ((v = json_object_get(open, opensig_members[i])) == NULL)
			continue;
		sbuf_ns_str(&b, opensig_members[i]);
		if (opensig_value(&b, opensig_members[i], v) != 0) {
			free(b.p);
			*cause = ph_asprintf("open member %s has the wrong type",
			    opensig_members[i]);
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
    char **cause)
{
	struct ph_key	*k;
	const json_t	*ts;
	const char	*sig;
	uint8_t		*in;
	size_t		 n;
	char		*why = NULL;
	int64_t		 age;
	int		 r;

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
