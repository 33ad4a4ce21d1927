/*
 * s3-xml.c - reading S3's replies: bounded bodies, the few tags the client
 * needs (UploadId, Key, Size, IsTruncated...) from S3's fixed XML, a page
 * of ListObjectsV2, and its <Error> turned into one printable line.  S3's documents are flat and
 * well-formed; a tag looked up is found by its text, entities decoded.
 */
#include <stdlib.h>
#include <string.h>

#include "porthole/printable.h"
#include "porthole/util.h"
#include "s3-int.h"

size_t
s3_reply_add(struct s3_reply *r, const void *p, size_t n)
{
	if (r->too_big || n > r->max - r->len) {
		r->too_big = 1;
		return 0;	/* curl stops the transfer: CURLE_WRITE_ERROR */
	}
	if (r->buf == NULL && (r->buf = malloc(r->max + 1)) == NULL)
		abort();
	memcpy(r->buf + r->len, p, n);
	r->len += n;
	r->buf[r->len] = '\0';
	return n;
}

void
s3_reply_clear(struct s3_reply *r)
{
	free(r->buf);
	r->buf = NULL;
	r->len = 0;
	r->too_big = 0;
}

static const char *
find(const char *p, size_t n, const char *needle)
{
	size_t nl = strlen(needle);

	if (nl > n)
		return NULL;
	return memmem(p, n, needle, nl);
}

/* Decode XML's five entities and numeric references below 128 in place. */
static void
unescape(char *s)
{
	static const struct { const char *e; char c; } ents[] = {
		{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' },
		{ "&quot;", '"' }, { "&apos;", '\'' },
	};
	char	*r = s, *w = s;
	size_t	 i;

	while (*r != '\0') {
		if (*r == '&') {
			for (i = 0; i < sizeof ents / sizeof ents[0]; i++) {
				size_t l = strlen(ents[i].e);

				if (strncmp(r, ents[i].e, l) == 0) {
					*w++ = ents[i].c;
					r += l;
					break;
				}
			}
			if (i < sizeof ents / sizeof ents[0])
				continue;
			if (r[1] == '#') {
				char *end;
				long v = r[2] == 'x' ? strtol(r + 3, &end, 16) :
				    strtol(r + 2, &end, 10);

				if (*end == ';' && v > 0 && v < 128) {
					*w++ = (char)v;
					r = end + 1;
					continue;
				}
			}
		}
		*w++ = *r++;
	}
	*w = '\0';
}

char *
s3_xml_tag(const char *p, size_t n, const char *tag, size_t *from)
{
	char		 open[64], close[64];
	const char	*a, *b, *start = p;
	size_t		 off = from != NULL ? *from : 0;
	char		*out;

	if (p == NULL || off > n)
		return NULL;
	snprintf(open, sizeof open, "<%s>", tag);
	snprintf(close, sizeof close, "</%s>", tag);
	if ((a = find(p + off, n - off, open)) == NULL)
		return NULL;
	a += strlen(open);
	if ((b = find(a, n - (size_t)(a - start), close)) == NULL)
		return NULL;
	out = ph_asprintf("%.*s", (int)(b - a), a);
	unescape(out);
	if (from != NULL)
		*from = (size_t)(b - start) + strlen(close);
	return out;
}

char *
s3_error_text(long status, const struct s3_reply *r)
{
	char	*code = NULL, *msg = NULL, *pc, *pm, *out;

	if (r->too_big)
		return ph_asprintf("HTTP %ld, a reply longer than %zu bytes (dropped)",
		    status, r->max);
	if (r->buf != NULL) {
		code = s3_xml_tag(r->buf, r->len, "Code", NULL);
		msg = s3_xml_tag(r->buf, r->len, "Message", NULL);
	}
	if (code == NULL) {
		free(msg);
		return ph_asprintf("HTTP %ld", status);
	}
	/* At most a line's worth of what the server chose to say. */
	if (strlen(code) > 64)
		code[ph_utf8_cut(code, 64)] = '\0';
	if (msg != NULL && strlen(msg) > 240)
		msg[ph_utf8_cut(msg, 240)] = '\0';
	pc = ph_printable(code);
	pm = ph_printable(msg != NULL ? msg : "");
	out = ph_asprintf("HTTP %ld %s%s%s", status, pc, *pm != '\0' ? ": " : "", pm);
	free(pc);
	free(pm);
	free(code);
	free(msg);
	return out;
}

int
s3_list_page(const char *buf, size_t len, const char *prefix, size_t max,
    struct ph_s3_entry **ents, size_t *nents, char **token, char **cause)
{
	size_t	 at = 0, plen = strlen(prefix);
	char	*item, *key, *size, *trunc;

	*token = NULL;
	while ((item = s3_xml_tag(buf, len, "Contents", &at)) != NULL) {
		struct ph_s3_entry *e;

		key = s3_xml_tag(item, strlen(item), "Key", NULL);
		/* Only what is under the prefix asked for. */
		if (key == NULL || strncmp(key, prefix, plen) != 0 ||
		    key[plen] == '\0') {
			free(key);
			free(item);
			continue;
		}
		if (*nents >= max) {
			free(key);
			free(item);
			*cause = ph_asprintf("more than %zu objects", max);
			return -1;
		}
		if (*nents % 256 == 0) {
			*ents = realloc(*ents, (*nents + 256) * sizeof **ents);
			if (*ents == NULL)
				abort();
		}
		e = &(*ents)[(*nents)++];
		memset(e, 0, sizeof *e);
		e->key = ph_asprintf("%s", key + plen);
		free(key);
		size = s3_xml_tag(item, strlen(item), "Size", NULL);
		e->size = size != NULL ? strtoull(size, NULL, 10) : 0;
		free(size);
		e->etag = s3_xml_tag(item, strlen(item), "ETag", NULL);
		e->modified = s3_xml_tag(item, strlen(item), "LastModified", NULL);
		free(item);
	}
	trunc = s3_xml_tag(buf, len, "IsTruncated", NULL);
	if (trunc != NULL && strcmp(trunc, "true") == 0) {
		*token = s3_xml_tag(buf, len, "NextContinuationToken", NULL);
		if (*token == NULL || **token == '\0') {
			free(trunc);
			free(*token);
			*token = NULL;
			*cause = ph_asprintf("truncated without a NextContinuationToken");
			return -1;
		}
	}
	free(trunc);
	return 0;
}

void
s3_entries_free(struct ph_s3_entry *e, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(e[i].key);
		free(e[i].etag);
		free(e[i].modified);
	}
	free(e);
}
