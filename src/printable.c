/*
 * printable.c - network text made safe for a terminal or a log line, and
 * JSON text made safe the same way.  The convention is in printable.h;
 * docs/operations.md says what operators see.
 *
 * UTF-8 is decoded strictly (RFC 3629): shortest form only, no surrogates,
 * nothing past U+10FFFF.  A byte that does not start a valid sequence is
 * escaped alone and decoding resumes at the next byte, so a bad byte never
 * swallows the good text after it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/printable.h"

/*
 * The valid UTF-8 sequence at p (n bytes left): its length and code point,
 * or 0 when p[0] does not start one (an incomplete sequence included).
 */
static size_t
printable_utf8(const uint8_t *p, size_t n, uint32_t *cp)
{
	uint8_t	 b = p[0], lo = 0x80, hi = 0xbf;
	size_t	 len, i;
	uint32_t c;

	if (b < 0x80) {
		*cp = b;
		return 1;
	}
	if (b >= 0xc2 && b <= 0xdf) {
		len = 2;
		c = b & 0x1f;
	} else if (b >= 0xe0 && b <= 0xef) {
		len = 3;
		c = b & 0x0f;
		if (b == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (b == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (b >= 0xf0 && b <= 0xf4) {
		len = 4;
		c = b & 0x07;
		if (b == 0xf0)
			lo = 0x90;	/* overlong */
		else if (b == 0xf4)
			hi = 0x8f;	/* past U+10FFFF */
	} else
		return 0;	/* continuation byte, C0, C1, F5..FF */
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if (p[i] < lo || p[i] > hi)
			return 0;
		lo = 0x80;
		hi = 0xbf;
		c = (c << 6) | (p[i] & 0x3f);
	}
	*cp = c;
	return len;
}

/* Is code point c one a terminal or a reader acts on instead of showing? */
static int
printable_unsafe(uint32_t c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x061c ||
	    c == 0x200e || c == 0x200f || (c >= 0x2028 && c <= 0x202e) ||
	    (c >= 0x2066 && c <= 0x2069);
}

/*
 * What the input at p (n > 0 bytes) becomes: its text in out (at least
 * PH_PRINTABLE_MAX_ESCAPE + 1 bytes; for kept text, a pointer to p
 * instead), its length in *olen; returns the input bytes it stands for.
 */
static size_t
printable_one(const uint8_t *p, size_t n, char *out, const char **o, size_t *olen)
{
	uint32_t c;
	size_t	 len;

	len = printable_utf8(p, n, &c);
	if (len > 0 && !printable_unsafe(c)) {
		*o = (const char *)p;
		*olen = len;
		return len;
	}
	*o = out;
	if (len == 0) {
		*olen = (size_t)snprintf(out, PH_PRINTABLE_MAX_ESCAPE + 1, "\\x%02x", p[0]);
		return 1;
	}
	switch (c) {
	case '\n':
		*olen = (size_t)snprintf(out, PH_PRINTABLE_MAX_ESCAPE + 1, "\\n");
		break;
	case '\r':
		*olen = (size_t)snprintf(out, PH_PRINTABLE_MAX_ESCAPE + 1, "\\r");
		break;
	case '\t':
		*olen = (size_t)snprintf(out, PH_PRINTABLE_MAX_ESCAPE + 1, "\\t");
		break;
	default:
		*olen = (size_t)snprintf(out, PH_PRINTABLE_MAX_ESCAPE + 1,
		    c < 0x80 ? "\\x%02x" : "\\u%04x", (unsigned int)c);
		break;
	}
	return len;
}

size_t
ph_printable_buf(char *dst, size_t dstlen, const void *src, size_t n)
{
	const uint8_t	*p = src;
	const char	*piece;
	char		 esc[PH_PRINTABLE_MAX_ESCAPE + 1];
	size_t		 i = 0, o = 0, k, plen;

	if (dstlen == 0)
		return 0;
	while (i < n) {
		k = printable_one(p + i, n - i, esc, &piece, &plen);
		if (plen > dstlen - 1 - o)
			break;
		memcpy(dst + o, piece, plen);
		o += plen;
		i += k;
	}
	dst[o] = '\0';
	return i;
}

char *
ph_printable_n(const void *src, size_t n)
{
	char	*out;
	size_t	 cap;

	if (n > (SIZE_MAX - 1) / PH_PRINTABLE_MAX_ESCAPE)
		abort();
	cap = n * 4 + 1;	/* \xHH per byte is the worst case */
	if ((out = malloc(cap)) == NULL)
		abort();
	ph_printable_buf(out, cap, src, n);
	return out;
}

char *
ph_printable(const char *s)
{
	if (s == NULL)
		s = "";
	return ph_printable_n(s, strlen(s));
}

size_t
ph_utf8_cut(const char *s, size_t max)
{
	size_t	n = strlen(s);

	if (n <= max)
		return n;
	/* Back off continuation bytes: s[max] must start a character. */
	while (max > 0 && ((uint8_t)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

int
ph_is_printable(const void *src, size_t n)
{
	const uint8_t	*p = src;
	size_t		 i = 0, len;
	uint32_t	 c;

	while (i < n) {
		if ((len = printable_utf8(p + i, n - i, &c)) == 0 ||
		    printable_unsafe(c))
			return 0;
		i += len;
	}
	return 1;
}

char *
ph_utf8_repair(const char *s)
{
	const uint8_t	*p = (const uint8_t *)s;
	size_t		 n = strlen(s), i = 0, o = 0, len;
	uint32_t	 c;
	char		*out;

	if (n > (SIZE_MAX - 1) / 4 || (out = malloc(n * 4 + 1)) == NULL)
		abort();
	while (i < n) {
		if ((len = printable_utf8(p + i, n - i, &c)) == 0) {
			o += (size_t)sprintf(out + o, "\\x%02x", p[i]);
			i++;
		} else {
			memcpy(out + o, p + i, len);
			o += len;
			i += len;
		}
	}
	out[o] = '\0';
	return out;
}

char *
ph_json_printable(const char *text)
{
	const uint8_t	*p = (const uint8_t *)text;
	size_t		 n = strlen(text), i = 0, o = 0, len;
	uint32_t	 c;
	char		*out;

	/* At most 6 bytes for every input byte ("\u007f" for DEL). */
	if (n > (SIZE_MAX - 1) / 6 || (out = malloc(n * 6 + 1)) == NULL)
		abort();
	while (i < n) {
		if (p[i] < 0x7f) {
			out[o++] = (char)p[i++];	/* structure, or escaped by jansson */
			continue;
		}
		len = printable_utf8(p + i, n - i, &c);
		if (len == 0) {
			/* jansson writes valid UTF-8; should it not, say so. */
			o += (size_t)sprintf(out + o, "\\uFFFD");
			i++;
		} else if (printable_unsafe(c)) {
			o += (size_t)sprintf(out + o, "\\u%04X", (unsigned int)c);
			i += len;
		} else {
			memcpy(out + o, p + i, len);
			o += len;
			i += len;
		}
	}
	out[o] = '\0';
	return out;
}

char *
ph_json_dumps(const json_t *j, size_t flags)
{
	char	*s, *out;

	if (j == NULL || (s = json_dumps(j, flags)) == NULL)
		return NULL;
	out = ph_json_printable(s);
	free(s);
	return out;
}
