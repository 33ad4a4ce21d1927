/*
 * sigenc.c - the typed, canonical encoding of JSON values that porthole
 * signs (sigenc.h says what the bytes are).  Built once here for the CLI
 * that signs, and the relay and the agent that verify: the three must
 * produce the same bytes from the same parsed JSON, whatever a JSON encoder
 * did with escapes, member order or white space on the way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/sigenc.h"
#include "porthole/util.h"

void
ph_sigbuf_add(struct ph_sigbuf *b, const void *p, size_t n)
{
	uint8_t	*np;
	size_t	 cap;

	if (b->failed || n == 0)
		return;
	if (n > PH_SIGENC_MAX - b->len) {
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

void
ph_sigbuf_ns(struct ph_sigbuf *b, const void *p, size_t n)
{
	char	hdr[32];
	int	hn;

	hn = snprintf(hdr, sizeof hdr, "%zu:", n);
	ph_sigbuf_add(b, hdr, (size_t)hn);
	ph_sigbuf_add(b, p, n);
	ph_sigbuf_add(b, ",", 1);
}

/* A tag byte and a decimal number: "i-12," for integers, "a3:" for counts. */
static void
sigenc_num(struct ph_sigbuf *b, char tag, long long v, char end)
{
	char	num[32];
	int	n;

	n = snprintf(num, sizeof num, "%c%lld%c", tag, v, end);
	ph_sigbuf_add(b, num, (size_t)n);
}

/* One object member, for sorting. */
struct sigenc_member {
	const char	*name;
	size_t		 len;
	const json_t	*value;
};

static int
sigenc_member_cmp(const void *a, const void *b)
{
	const struct sigenc_member *x = a, *y = b;
	int	c;

	c = memcmp(x->name, y->name, x->len < y->len ? x->len : y->len);
	if (c != 0)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

static int
sigenc_skipped(const char *name, size_t len, const char *const *skip)
{
	for (; skip != NULL && *skip != NULL; skip++) {
		if (strlen(*skip) == len && memcmp(*skip, name, len) == 0)
			return 1;
	}
	return 0;
}

/* A printable name for a cause, whatever bytes it holds. */
static char *
sigenc_name(const char *name, size_t len)
{
	char	*s;
	size_t	 i;

	if (len > 64)
		len = 64;
	if ((s = malloc(len + 1)) == NULL)
		return NULL;
	for (i = 0; i < len; i++)
		s[i] = name[i] > 0x20 && name[i] < 0x7f ? name[i] : '?';
	s[len] = '\0';
	return s;
}

static int	sigenc_put(struct ph_sigbuf *b, const json_t *v, const char *const *skip,
		    int depth, char **cause);

static int
sigenc_object(struct ph_sigbuf *b, const json_t *v, const char *const *skip,
    int depth, char **cause)
{
	struct sigenc_member	*m;
	const char		*key;
	const json_t		*e;
	size_t			 klen, n = 0, i;
	char			*name, *inner;

	if ((m = calloc(json_object_size(v) + 1, sizeof *m)) == NULL) {
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	json_object_keylen_foreach((json_t *)v, key, klen, e) {
		if (sigenc_skipped(key, klen, skip))
			continue;
		m[n].name = key;
		m[n].len = klen;
		m[n].value = e;
		n++;
	}
	qsort(m, n, sizeof *m, sigenc_member_cmp);
	sigenc_num(b, 'o', (long long)n, ':');
	for (i = 0; i < n; i++) {
		ph_sigbuf_ns(b, m[i].name, m[i].len);
		if (sigenc_put(b, m[i].value, NULL, depth + 1, cause) != 0) {
			/* "member a: member b: why", from the outside in */
			name = sigenc_name(m[i].name, m[i].len);
			free(m);
			inner = *cause;
			*cause = ph_asprintf("member %s: %s", name != NULL ? name : "?",
			    inner);
			free(inner);
			free(name);
			return -1;
		}
	}
	ph_sigbuf_add(b, ",", 1);
	free(m);
	return 0;
}

/* E(v) into b; skip applies to the members of v itself, not deeper. */
static int
sigenc_put(struct ph_sigbuf *b, const json_t *v, const char *const *skip, int depth,
    char **cause)
{
	const json_t	*e;
	size_t		 i;

	if (depth > PH_SIGENC_DEPTH) {
		*cause = ph_asprintf("nested more than %d levels deep", PH_SIGENC_DEPTH);
		return -1;
	}
	switch (json_typeof(v)) {
	case JSON_NULL:
		ph_sigbuf_add(b, "n", 1);
		return 0;
	case JSON_FALSE:
		ph_sigbuf_add(b, "f", 1);
		return 0;
	case JSON_TRUE:
		ph_sigbuf_add(b, "t", 1);
		return 0;
	case JSON_INTEGER:
		sigenc_num(b, 'i', (long long)json_integer_value(v), ',');
		return 0;
	case JSON_STRING:
		ph_sigbuf_add(b, "s", 1);
		ph_sigbuf_ns(b, json_string_value(v), json_string_length(v));
		return 0;
	case JSON_ARRAY:
		sigenc_num(b, 'a', (long long)json_array_size(v), ':');
		json_array_foreach(v, i, e) {
			if (sigenc_put(b, e, NULL, depth + 1, cause) != 0)
				return -1;
		}
		ph_sigbuf_add(b, ",", 1);
		return 0;
	case JSON_OBJECT:
		return sigenc_object(b, v, skip, depth, cause);
	case JSON_REAL:
		*cause = ph_asprintf("a number with a fraction or an exponent (%g) "
		    "cannot be signed: use an integer", json_real_value(v));
		return -1;
	}
	*cause = ph_asprintf("a JSON value of no known type");
	return -1;
}

static int
sigenc_done(struct ph_sigbuf *b, uint8_t **out, size_t *len, char **cause)
{
	if (b->failed) {
		free(b->p);
		*cause = ph_asprintf("too large to sign (more than %d bytes)",
		    PH_SIGENC_MAX);
		return -1;
	}
	*out = b->p;
	*len = b->len;
	return 0;
}

int
ph_sigenc_value(const json_t *v, uint8_t **out, size_t *len, char **cause)
{
	struct ph_sigbuf b = { NULL, 0, 0, 0 };

	*out = NULL;
	*len = 0;
	if (v == NULL) {
		*cause = ph_asprintf("nothing to encode");
		return -1;
	}
	if (sigenc_put(&b, v, NULL, 0, cause) != 0) {
		free(b.p);
		return -1;
	}
	return sigenc_done(&b, out, len, cause);
}

int
ph_sigenc_input(const char *context, const char *jti, const json_t *obj,
    const char *const *skip, uint8_t **out, size_t *len, char **cause)
{
	struct ph_sigbuf b = { NULL, 0, 0, 0 };

	*out = NULL;
	*len = 0;
	if (context == NULL || jti == NULL || !json_is_object(obj)) {
		*cause = ph_asprintf("nothing to sign, or no token id to sign it for");
		return -1;
	}
	ph_sigbuf_add(&b, "s", 1);
	ph_sigbuf_ns(&b, context, strlen(context));
	ph_sigbuf_add(&b, "s", 1);
	ph_sigbuf_ns(&b, jti, strlen(jti));
	if (sigenc_put(&b, obj, skip, 0, cause) != 0) {
		free(b.p);
		return -1;
	}
	return sigenc_done(&b, out, len, cause);
}
