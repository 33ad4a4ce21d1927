/*
 * s3-query.c - the pure parts of SigV4 that curl 7.88 gets wrong or leaves
 * out (see s3.h): AWS's URI encoding, the canonical query string, and the
 * payload's sha256.  No I/O, no curl: unit-tested against the examples of
 * AWS's SigV4 test suite (tests/test_s3query.c).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "porthole/s3.h"
#include "porthole/util.h"

static int
unreserved(unsigned char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' ||
	    ch == '~';
}

char *
ph_s3_uri_encode(const char *s, size_t n, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	char	*out, *o;
	size_t	 i;

	if ((out = malloc(n * 3 + 1)) == NULL)
		abort();
	o = out;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (unreserved(ch) || (keep_slash && ch == '/'))
			*o++ = (char)ch;
		else {
			*o++ = '%';
			*o++ = hex[ch >> 4];
			*o++ = hex[ch & 15];
		}
	}
	*o = '\0';
	return out;
}

struct pair {
	char	*k;
	char	*v;
};

static int
pair_cmp(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;
	int r;

	/* Encoded text is ASCII: strcmp is AWS's byte order. */
	if ((r = strcmp(x->k, y->k)) != 0)
		return r;
	return strcmp(x->v, y->v);
}

/* Sort and join n encoded pairs, freeing them. */
static char *
join(struct pair *p, size_t n)
{
	size_t	 i, len = 1;
	char	*out;

	if (n > 0)
		qsort(p, n, sizeof *p, pair_cmp);
	for (i = 0; i < n; i++)
		len += strlen(p[i].k) + strlen(p[i].v) + 2;
	if ((out = malloc(len)) == NULL)
		abort();
	out[0] = '\0';
	for (i = 0; i < n; i++) {
		if (i > 0)
			strcat(out, "&");
		strcat(out, p[i].k);
		strcat(out, "=");
		strcat(out, p[i].v);
		free(p[i].k);
		free(p[i].v);
	}
	return out;
}

char *
ph_s3_query_canon(const struct ph_s3_qparam *q, size_t n)
{
	struct pair	*p;
	char		*out;
	size_t		 i;

	if ((p = calloc(n + 1, sizeof *p)) == NULL)
		abort();
	for (i = 0; i < n; i++) {
		const char *v = q[i].value != NULL ? q[i].value : "";

		p[i].k = ph_s3_uri_encode(q[i].key, strlen(q[i].key), 0);
		p[i].v = ph_s3_uri_encode(v, strlen(v), 0);
	}
	out = join(p, n);
	free(p);
	return out;
}

/* Percent-decode s[0..n) and encode the result the AWS way; NULL on a bad escape. */
static char *
reencode(const char *s, size_t n)
{
	char	*raw, *out;
	size_t	 i, o = 0;

	if ((raw = malloc(n + 1)) == NULL)
		abort();
	for (i = 0; i < n; i++) {
		if (s[i] == '%') {
			int hi, lo;

			if (i + 2 >= n) {
				free(raw);
				return NULL;
			}
			if ((hi = ph_hexval((unsigned char)s[i + 1])) < 0 || (lo = ph_hexval((unsigned char)s[i + 2])) < 0) {
				free(raw);
				return NULL;
			}
			raw[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else
			raw[o++] = s[i];
	}
	out = ph_s3_uri_encode(raw, o, 0);
	free(raw);
	return out;
}

char *
ph_s3_query_canon_raw(const char *raw, char **cause)
{
	struct pair	*p;
	const char	*s = raw, *amp, *eq;
	size_t		 n = 0, cap = 1, i;
	char		*out;

	for (i = 0; raw[i] != '\0'; i++)
		cap += raw[i] == '&';
	if ((p = calloc(cap, sizeof *p)) == NULL)
		abort();
	while (*s != '\0') {
		size_t len;

		amp = strchr(s, '&');
		len = amp != NULL ? (size_t)(amp - s) : strlen(s);
		if (len > 0) {
			eq = memchr(s, '=', len);
			p[n].k = reencode(s, eq != NULL ? (size_t)(eq - s) : len);
			p[n].v = eq != NULL ? reencode(eq + 1, len - (size_t)(eq + 1 - s)) :
			    reencode("", 0);
			if (p[n].k == NULL || p[n].v == NULL) {
				free(p[n].k);
				free(p[n].v);
				for (i = 0; i < n; i++) {
					free(p[i].k);
					free(p[i].v);
				}
				free(p);
				*cause = ph_asprintf("a malformed %%-escape in the query");
				return NULL;
			}
			n++;
		}
		if (amp == NULL)
			break;
		s = amp + 1;
	}
	out = join(p, n);
	free(p);
	return out;
}

void
ph_s3_sha256_hex(const void *p, size_t n, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char	md[32];
	unsigned int	mdlen = sizeof md;
	int		i;

	if (EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) != 1)
		abort();
	for (i = 0; i < 32; i++) {
		out[i * 2] = hex[md[i] >> 4];
		out[i * 2 + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}
