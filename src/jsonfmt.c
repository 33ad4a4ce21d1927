/*
 * jsonfmt.c - JSON text checked and indented in one pass, no tree
 * (jsonfmt.h).  A recursive descent over the bytes: strings and numbers
 * are checked and copied whole, objects and arrays written with a newline
 * and 2*depth spaces before each member, ": " after a key, "{}" and "[]"
 * when empty -- jansson's JSON_INDENT(2) layout.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/jsonfmt.h"
#include "porthole/util.h"

struct jf {
	struct ph_jsonfmt	*out;
	const uint8_t		*p;
	size_t			 n, i;
	char			*cause;
};

void
ph_jsonfmt_put(struct ph_jsonfmt *out, const char *s, size_t n)
{
	size_t cap;

	if (out == NULL || n == 0)
		return;
	if (out->len + n + 1 > out->cap) {
		for (cap = out->cap != 0 ? out->cap : 4096; cap < out->len + n + 1; cap *= 2)
			;
		if ((out->s = realloc(out->s, cap)) == NULL)
			abort();
		out->cap = cap;
	}
	memcpy(out->s + out->len, s, n);
	out->len += n;
	out->s[out->len] = '\0';
}

void
ph_jsonfmt_free(struct ph_jsonfmt *out)
{
	free(out->s);
	memset(out, 0, sizeof *out);
}

size_t
ph_jsonfmt_ws(const char *text, size_t n)
{
	size_t i = 0;

	while (i < n && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' ||
	    text[i] == '\r'))
		i++;
	return i;
}

static int
jf_fail(struct jf *f, const char *what)
{
	if (f->cause == NULL)
		f->cause = ph_asprintf("%s at byte %zu", what, f->i);
	return -1;
}

/* A newline and 2*depth spaces. */
static void
jf_indent(struct jf *f, int depth)
{
	static const char sp[] = "\n                                ";
	size_t left = (size_t)depth * 2, k;

	if (f->out == NULL)
		return;
	k = left < sizeof sp - 2 ? left : sizeof sp - 2;
	ph_jsonfmt_put(f->out, sp, k + 1);
	for (left -= k; left > 0; left -= k) {
		k = left < sizeof sp - 2 ? left : sizeof sp - 2;
		ph_jsonfmt_put(f->out, sp + 1, k);
	}
}

static void
jf_ws(struct jf *f)
{
	f->i += ph_jsonfmt_ws((const char *)f->p + f->i, f->n - f->i);
}

/* Four hex digits at f->i: their value, or -1. */
static long
jf_hex4(struct jf *f)
{
	long v = 0;
	size_t k;
	uint8_t c;

	if (f->n - f->i < 4)
		return -1;
	for (k = 0; k < 4; k++) {
		c = f->p[f->i + k];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	f->i += 4;
	return v;
}

/* The valid UTF-8 sequence of 2-4 bytes at f->i (RFC 3629): its length, or 0. */
static size_t
jf_utf8(struct jf *f)
{
	const uint8_t *p = f->p + f->i;
	uint8_t b = p[0], lo = 0x80, hi = 0xbf;
	size_t len, k;

	if (b >= 0xc2 && b <= 0xdf)
		len = 2;
	else if (b >= 0xe0 && b <= 0xef) {
		len = 3;
		if (b == 0xe0)
			lo = 0xa0;
		else if (b == 0xed)
			hi = 0x9f;
	} else if (b >= 0xf0 && b <= 0xf4) {
		len = 4;
		if (b == 0xf0)
			lo = 0x90;
		else if (b == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (len > f->n - f->i)
		return 0;
	for (k = 1; k < len; k++) {
		if (p[k] < lo || p[k] > hi)
			return 0;
		lo = 0x80;
		hi = 0xbf;
	}
	return len;
}

/* A string at f->i (its '"'), copied as it is. */
static int
jf_string(struct jf *f)
{
	size_t start = f->i, len;
	long u, lo;
	uint8_t c;

	f->i++;
	for (;;) {
		if (f->i >= f->n)
			return jf_fail(f, "unterminated string");
		c = f->p[f->i];
		if (c == '"')
			break;
		if (c < 0x20)
			return jf_fail(f, "control byte in a string");
		if (c < 0x80 && c != '\\') {
			f->i++;
			continue;
		}
		if (c >= 0x80) {
			if ((len = jf_utf8(f)) == 0)
				return jf_fail(f, "invalid UTF-8 in a string");
			f->i += len;
			continue;
		}
		if (++f->i >= f->n)
			return jf_fail(f, "unterminated string");
		c = f->p[f->i++];
		if (strchr("\"\\/bfnrt", c) != NULL && c != '\0')
			continue;
		if (c != 'u' || (u = jf_hex4(f)) < 0)
			return jf_fail(f, "bad escape in a string");
		if (u == 0)
			return jf_fail(f, "\\u0000 in a string");
		if (u >= 0xdc00 && u <= 0xdfff)
			return jf_fail(f, "lone low surrogate in a string");
		if (u >= 0xd800 && u <= 0xdbff) {
			if (f->n - f->i < 2 || f->p[f->i] != '\\' || f->p[f->i + 1] != 'u')
				return jf_fail(f, "lone high surrogate in a string");
			f->i += 2;
			if ((lo = jf_hex4(f)) < 0xdc00 || lo > 0xdfff)
				return jf_fail(f, "lone high surrogate in a string");
		}
	}
	f->i++;
	ph_jsonfmt_put(f->out, (const char *)f->p + start, f->i - start);
	return 0;
}

static int
jf_digits(struct jf *f)
{
	size_t start = f->i;

	while (f->i < f->n && f->p[f->i] >= '0' && f->p[f->i] <= '9')
		f->i++;
	return f->i > start ? 0 : -1;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, copied as it is. */
static int
jf_number(struct jf *f)
{
	size_t start = f->i;

	if (f->p[f->i] == '-')
		f->i++;
	if (f->i < f->n && f->p[f->i] == '0')
		f->i++;
	else if (f->i >= f->n || f->p[f->i] < '1' || f->p[f->i] > '9' || jf_digits(f) != 0)
		return jf_fail(f, "bad number");
	if (f->i < f->n && f->p[f->i] == '.') {
		f->i++;
		if (jf_digits(f) != 0)
			return jf_fail(f, "bad number");
	}
	if (f->i < f->n && (f->p[f->i] == 'e' || f->p[f->i] == 'E')) {
		f->i++;
		if (f->i < f->n && (f->p[f->i] == '+' || f->p[f->i] == '-'))
			f->i++;
		if (jf_digits(f) != 0)
			return jf_fail(f, "bad number");
	}
	ph_jsonfmt_put(f->out, (const char *)f->p + start, f->i - start);
	return 0;
}

static int
jf_word(struct jf *f, const char *w)
{
	size_t len = strlen(w);

	if (f->n - f->i < len || memcmp(f->p + f->i, w, len) != 0)
		return jf_fail(f, "unexpected byte");
	ph_jsonfmt_put(f->out, w, len);
	f->i += len;
	return 0;
}

static int jf_value(struct jf *, int);

/* An object or array at f->i (its '{' or '['). */
static int
jf_container(struct jf *f, int depth)
{
	uint8_t close = f->p[f->i] == '{' ? '}' : ']';
	int object = close == '}';

	if (depth >= PH_JSONFMT_DEPTH)
		return jf_fail(f, "nested too deep");
	f->i++;
	jf_ws(f);
	if (f->i < f->n && f->p[f->i] == close) {
		f->i++;
		ph_jsonfmt_put(f->out, object ? "{}" : "[]", 2);
		return 0;
	}
	ph_jsonfmt_put(f->out, object ? "{" : "[", 1);
	for (;;) {
		jf_indent(f, depth + 1);
		if (object) {
			if (f->i >= f->n || f->p[f->i] != '"')
				return jf_fail(f, "expected a key");
			if (jf_string(f) != 0)
				return -1;
			jf_ws(f);
			if (f->i >= f->n || f->p[f->i] != ':')
				return jf_fail(f, "expected ':'");
			f->i++;
			jf_ws(f);
			ph_jsonfmt_put(f->out, ": ", 2);
		}
		if (jf_value(f, depth + 1) != 0)
			return -1;
		jf_ws(f);
		if (f->i < f->n && f->p[f->i] == ',') {
			f->i++;
			jf_ws(f);
			ph_jsonfmt_put(f->out, ",", 1);
			continue;
		}
		if (f->i < f->n && f->p[f->i] == close) {
			f->i++;
			jf_indent(f, depth);
			ph_jsonfmt_put(f->out, object ? "}" : "]", 1);
			return 0;
		}
		return jf_fail(f, object ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

static int
jf_value(struct jf *f, int depth)
{
	if (f->i >= f->n)
		return jf_fail(f, "unexpected end");
	switch (f->p[f->i]) {
	case '{':
	case '[':
		return jf_container(f, depth);
	case '"':
		return jf_string(f);
	case 't':
		return jf_word(f, "true");
	case 'f':
		return jf_word(f, "false");
	case 'n':
		return jf_word(f, "null");
	default:
		if (f->p[f->i] == '-' || (f->p[f->i] >= '0' && f->p[f->i] <= '9'))
			return jf_number(f);
		return jf_fail(f, "unexpected byte");
	}
}

long
ph_jsonfmt_value(struct ph_jsonfmt *out, const char *text, size_t n, int depth,
    char **cause)
{
	struct jf f;

	memset(&f, 0, sizeof f);
	f.out = out;
	f.p = (const uint8_t *)text;
	f.n = n;
	if (depth < 0 || n > (size_t)(~0UL >> 1) || jf_value(&f, depth) != 0) {
		*cause = f.cause != NULL ? f.cause : ph_asprintf("bad depth or size");
		return -1;
	}
	return (long)f.i;
}
