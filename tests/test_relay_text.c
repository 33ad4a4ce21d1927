/*
 * test_relay_text.c - the relay's pure text helpers: output bytes to
 * recording text (relay-utf8.c: valid UTF-8 kept across any split,
 * invalid bytes replaced, JSON escapes) and the X-Forwarded-For rule with
 * trusted proxy networks (relay-xff.c).
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "relay-utf8.h"
#include "relay-xff.h"

/*
 * Convert in (n bytes) in two pieces split at cut, carrying as the
 * recorder does, into a NUL-terminated malloc'd string of JSON text.
 */
static char *
conv_split(const uint8_t *in, size_t n, size_t cut, size_t room)
{
	char *out = malloc(n * 6 + 64);
	uint8_t carry[8 + 4096];
	size_t o = 0, nc = 0, used, wrote, len;
	const uint8_t *parts[2] = { in, in + cut };
	size_t plen[2] = { cut, n - cut };
	enum relay_utf8_stop st;
	int part;

	for (part = 0; part < 2; part++) {
		memcpy(carry + nc, parts[part], plen[part]);
		len = nc + plen[part];
		size_t off = 0;
		for (;;) {
			st = relay_utf8_json(carry + off, len - off, part == 1, out + o,
			    room, &used, &wrote);
			o += wrote;
			off += used;
			if (st != RELAY_UTF8_FULL)
				break;
		}
		cr_assert(part == 0 || st == RELAY_UTF8_DONE);
		nc = len - off;
		cr_assert(nc <= 3, "carry of %zu bytes", nc);
		memmove(carry, carry + off, nc);
	}
	out[o] = '\0';
	return out;
}

/* The JSON text as the string it decodes to (malloc'd). */
static char *
decode(const char *text, size_t *len)
{
	char *doc = malloc(strlen(text) + 3), *s;
	json_error_t e;
	json_t *j;

	sprintf(doc, "\"%s\"", text);
	j = json_loads(doc, JSON_ALLOW_NUL | JSON_DECODE_ANY, &e);
	cr_assert_not_null(j, "not JSON: %s: %s", doc, e.text);
	*len = json_string_length(j);
	s = malloc(*len + 1);
	memcpy(s, json_string_value(j), *len + 1);
	json_decref(j);
	free(doc);
	return s;
}

Test(relay_utf8, valid_text_survives_every_split)
{
	const char *text = "a\xc3\xa4\xe2\x82\xac\xf0\x9f\x98\x80z\n\"\\\x1b[0m\t";
	size_t n = strlen(text), cut, len, room;
	char *j, *d;

	for (room = RELAY_UTF8_ROOM; room <= 64; room += 7) {
		for (cut = 0; cut <= n; cut++) {
			j = conv_split((const uint8_t *)text, n, cut, room);
			d = decode(j, &len);
			cr_assert_eq(len, n, "cut %zu room %zu: %s", cut, room, j);
			cr_assert(memcmp(d, text, n) == 0, "cut %zu: %s", cut, j);
			cr_assert_null(strstr(j, "\\ufffd"));
			free(j);
			free(d);
		}
	}
}

static void
expect(const char *in, size_t n, const char *want)
{
	char *j = conv_split((const uint8_t *)in, n, n, 4096);

	cr_assert_str_eq(j, want);
	free(j);
}

Test(relay_utf8, invalid_bytes_become_replacement_characters)
{
	expect("A\xff" "B", 3, "A\\ufffdB");
	expect("\xe2\x82" "C", 3, "\\ufffdC");		/* cut short: one U+FFFD */
	expect("\xed\xa0\x80", 3, "\\ufffd\\ufffd\\ufffd");	/* surrogate */
	expect("\xc0\xaf", 2, "\\ufffd\\ufffd");	/* overlong */
	expect("\xe0\x80\xaf", 3, "\\ufffd\\ufffd\\ufffd");	/* overlong */
	expect("\xf4\x90\x80\x80", 4, "\\ufffd\\ufffd\\ufffd\\ufffd");	/* > U+10FFFF */
	expect("\xf8\x88\x80\x80\x80", 5, "\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd");
	expect("Z\xe2\x82", 3, "Z\\ufffd");		/* incomplete at the very end */
	expect("\x00\x7f", 2, "\\u0000\\u007f");
	expect("\xf4\x8f\xbf\xbf", 4, "\xf4\x8f\xbf\xbf");	/* U+10FFFF is fine */
}

Test(relay_utf8, partial_only_when_more_may_come)
{
	size_t used, wrote;
	char out[64];

	cr_assert_eq(relay_utf8_json((const uint8_t *)"ab\xf0\x9f", 4, 0, out, sizeof out,
	    &used, &wrote), RELAY_UTF8_PARTIAL);
	cr_assert_eq(used, 2);
	cr_assert_eq(relay_utf8_json((const uint8_t *)"ab\xf0\x41", 4, 0, out, sizeof out,
	    &used, &wrote), RELAY_UTF8_DONE);
	cr_assert_eq(used, 4);
	cr_assert_eq(relay_utf8_json((const uint8_t *)"\x80", 1, 0, out, sizeof out,
	    &used, &wrote), RELAY_UTF8_DONE);	/* a stray continuation: never carried */
}

static const char *
client(const char *trusted, const char *peer, const char *xff)
{
	static char from[64];
	struct relay_cidrs set;
	char *cause = NULL, *copy = xff != NULL ? strdup(xff) : NULL;

	cr_assert_eq(relay_cidrs_parse(&set, trusted, &cause), 0, "%s", cause);
	relay_xff_client(&set, peer, copy, from, sizeof from);
	free(copy);
	return from;
}

Test(relay_xff, the_rule)
{
	cr_assert_str_eq(client("", "10.0.0.1", "1.2.3.4"), "10.0.0.1");
	cr_assert_str_eq(client("10.0.0.0/8", "192.0.2.1", "1.2.3.4"), "192.0.2.1");
	cr_assert_str_eq(client("10.0.0.0/8", "10.0.0.1", NULL), "10.0.0.1");
	cr_assert_str_eq(client("10.0.0.0/8", "10.0.0.1", "1.2.3.4"), "1.2.3.4");
	cr_assert_str_eq(client("10.0.0.0/8", "10.0.0.1", "6.6.6.6, 1.2.3.4"), "1.2.3.4");
	cr_assert_str_eq(client("10.0.0.0/8", "10.0.0.1", "1.2.3.4 ,10.9.9.9"), "1.2.3.4");
	cr_assert_str_eq(client("10.0.0.0/8", "10.0.0.1", "10.1.1.1, 10.2.2.2"), "10.1.1.1");
	cr_assert_str_eq(client("10.0.0.0/8", "10.0.0.1", "1.2.3.4, junk"), "10.0.0.1");
	cr_assert_str_eq(client("10.0.0.0/8", "10.0.0.1", "junk, 1.2.3.4"), "1.2.3.4");
	cr_assert_str_eq(client("10.0.0.0/8", "10.0.0.1", ""), "10.0.0.1");
	cr_assert_str_eq(client("10.0.0.0/8", "::ffff:10.0.0.1", "::ffff:1.2.3.4"), "1.2.3.4");
	cr_assert_str_eq(client("fd00::/8", "fd00::1", "2001:db8::7"), "2001:db8::7");
	cr_assert_str_eq(client("10.0.0.1", "10.0.0.2", "1.2.3.4"), "10.0.0.2");
	cr_assert_str_eq(client("10.0.0.0/31", "10.0.0.1", "1.2.3.4"), "1.2.3.4");
	cr_assert_str_eq(client("10.0.0.0/31", "10.0.0.2", "1.2.3.4"), "10.0.0.2");
	cr_assert_str_eq(client("0.0.0.0/0", "8.8.8.8", "1.2.3.4"), "1.2.3.4");
}

Test(relay_xff, bad_lists)
{
	static const char *bad[] = { "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/x",
	    "host.example.com", "::1/129", "1.2.3.4/-1", "1.2.3.4/+8" };
	struct relay_cidrs set;
	char *cause;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cause = NULL;
		cr_assert_eq(relay_cidrs_parse(&set, bad[i], &cause), -1, "%s", bad[i]);
		cr_assert_not_null(cause);
		cr_assert_eq(set.n, 0);
		free(cause);
	}
}
