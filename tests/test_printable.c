/*
 * test_printable.c - network text made printable (src/printable.c): C0,
 * DEL and C1 (as UTF-8 and as raw bytes) escaped, invalid and overlong
 * UTF-8 escaped byte by byte, valid multibyte text kept, bounded output
 * never splitting an escape or a character, escaping twice a no-op, and
 * JSON text with DEL and C1 escaped inside its strings.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "porthole/printable.h"

/* ph_printable_n of n bytes, compared with want. */
static void
expect_n(const char *in, size_t n, const char *want)
{
	char *got = ph_printable_n(in, n);

	cr_expect_str_eq(got, want, "escaping %zu bytes", n);
	free(got);
}

#define expect(in, want)	expect_n((in), sizeof(in) - 1, (want))

/* No byte a terminal acts on: C0, DEL, raw C1, UTF-8 C1 (C2 80..C2 9F). */
static int
terminal_safe(const char *s)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t i;

	for (i = 0; p[i] != '\0'; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return 0;
		if (p[i] == 0xc2 && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f)
			return 0;
	}
	return 1;
}

Test(printable, plain_text_kept)
{
	expect("", "");
	expect("api-7f3c/app_1.2 k=v,x y", "api-7f3c/app_1.2 k=v,x y");
	/* A backslash is kept: escaping is for reading, and idempotent. */
	expect("C:\\path\\x1b", "C:\\path\\x1b");
	cr_expect_str_eq(ph_printable(NULL), "");
}

Test(printable, c0_and_del)
{
	expect("a\nb", "a\\nb");
	expect("a\rb\tc", "a\\rb\\tc");
	expect("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m");
	expect("\x1b]52;c;aGk=\x07", "\\x1b]52;c;aGk=\\x07");	/* OSC 52 */
	expect("\x01\x08\x0b\x0c\x1f", "\\x01\\x08\\x0b\\x0c\\x1f");
	expect("del\x7f", "del\\x7f");
	expect_n("a\0b", 3, "a\\x00b");
}

Test(printable, c1_as_utf8)
{
	/* U+0080..U+009F: CSI (U+009B) and OSC (U+009D) act on some terminals. */
	expect("\xc2\x80", "\\u0080");
	expect("\xc2\x9b" "31m", "\\u009b31m");
	expect("x\xc2\x9d" "0;title\xc2\x9c", "x\\u009d0;title\\u009c");
	expect("\xc2\x9f", "\\u009f");
	/* U+00A0 and up are printable. */
	expect("\xc2\xa0\xc2\xa9", "\xc2\xa0\xc2\xa9");
}

Test(printable, c1_as_raw_bytes)
{
	expect("\x9b" "31m", "\\x9b31m");
	expect("a\x80\x9f" "b", "a\\x80\\x9fb");
	expect("\x85", "\\x85");
}

Test(printable, invalid_utf8)
{
	expect("\xff\xfe", "\\xff\\xfe");
	expect("\xf5\x80\x80\x80", "\\xf5\\x80\\x80\\x80");
	/* A stray continuation byte, then good text resumes. */
	expect("\xbf" "ok", "\\xbfok");
	/* Cut short, at the end and in the middle. */
	expect("ab\xe2\x82", "ab\\xe2\\x82");
	expect("\xe2\x82" "x\xe2\x82\xac", "\\xe2\\x82x\xe2\x82\xac");
	expect("\xf0\x9f\x98", "\\xf0\\x9f\\x98");
	/* Surrogates (U+D800, U+DFFF) and past U+10FFFF. */
	expect("\xed\xa0\x80", "\\xed\\xa0\\x80");
	expect("\xed\xbf\xbf", "\\xed\\xbf\\xbf");
	expect("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80");
}

Test(printable, overlong_forms)
{
	/* ESC, NUL and '/' written long: each byte escaped, nothing decoded. */
	expect("\xc0\x9b", "\\xc0\\x9b");
	expect("\xc0\x80", "\\xc0\\x80");
	expect("\xc1\xbf", "\\xc1\\xbf");
	expect("\xe0\x80\x9b", "\\xe0\\x80\\x9b");
	expect("\xe0\x9f\xbf", "\\xe0\\x9f\\xbf");
	expect("\xf0\x80\x80\x9b", "\\xf0\\x80\\x80\\x9b");
	expect("\xf0\x8f\xbf\xbf", "\\xf0\\x8f\\xbf\\xbf");
	/* A C1 control written long is no C1 control either. */
	expect("\xe0\x82\x9b", "\\xe0\\x82\\x9b");
}

Test(printable, valid_multibyte_kept)
{
	expect("caf\xc3\xa9", "caf\xc3\xa9");
	expect("\xe6\x97\xa5\xe6\x9c\xac", "\xe6\x97\xa5\xe6\x9c\xac");
	expect("\xf0\x9f\x90\xb3 whale", "\xf0\x9f\x90\xb3 whale");
	expect("\xe0\xa0\x80", "\xe0\xa0\x80");		/* U+0800, shortest */
	expect("\xf0\x90\x80\x80", "\xf0\x90\x80\x80");	/* U+10000 */
	expect("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf");	/* U+10FFFF */
	expect("\xed\x9f\xbf", "\xed\x9f\xbf");		/* U+D7FF */
	expect("\xe2\x96\x81\xe2\x96\x88", "\xe2\x96\x81\xe2\x96\x88");	/* mem's bars */
}

Test(printable, bidi_and_separators)
{
	/* "Trojan source": a right-to-left override reorders what follows. */
	expect("prod\xe2\x80\xae" "gnitset", "prod\\u202egnitset");
	expect("\xe2\x81\xa6x\xe2\x81\xa9", "\\u2066x\\u2069");
	expect("a\xe2\x80\xa8" "b\xe2\x80\xa9", "a\\u2028b\\u2029");
	expect("\xe2\x80\x8e\xe2\x80\x8f\xd8\x9c", "\\u200e\\u200f\\u061c");
	/* Neighbours are kept: U+2027, U+202F, U+2065, U+206A. */
	expect("\xe2\x80\xa7\xe2\x80\xaf\xe2\x81\xa5\xe2\x81\xaa",
	    "\xe2\x80\xa7\xe2\x80\xaf\xe2\x81\xa5\xe2\x81\xaa");
}

Test(printable, idempotent)
{
	static const char in[] = "n\x1b[1m\n\xc2\x9b\x9b\xff\xe2\x80\xae\\x1b\xc3\xa9";
	char *once = ph_printable_n(in, sizeof in - 1), *twice = ph_printable(once);

	cr_expect_str_eq(once, twice);
	cr_expect(ph_is_printable(once, strlen(once)));
	cr_expect(!ph_is_printable(in, sizeof in - 1));
	cr_expect(ph_is_printable("caf\xc3\xa9 \\", 7));
	cr_expect(!ph_is_printable("\xc2\x9b", 2));
	cr_expect(!ph_is_printable("\xc0\x80", 2));
	cr_expect(!ph_is_printable("a\0", 2));
	free(once);
	free(twice);
}

Test(printable, every_byte_pair_is_safe)
{
	uint8_t in[3];
	char *out;
	unsigned a, b;

	/* Whatever two bytes (and one after) come, nothing unsafe goes out. */
	for (a = 0; a < 256; a++)
		for (b = 0; b < 256; b++) {
			in[0] = (uint8_t)a;
			in[1] = (uint8_t)b;
			in[2] = 0x9b;
			out = ph_printable_n(in, 3);
			cr_assert(terminal_safe(out), "%02x %02x 9b -> %s", a, b, out);
			cr_assert(ph_is_printable(out, strlen(out)));
			free(out);
		}
}

Test(printable, bounded_output)
{
	char buf[8];
	size_t used;

	/* Fits: all consumed. */
	used = ph_printable_buf(buf, sizeof buf, "abc", 3);
	cr_expect_eq(used, 3);
	cr_expect_str_eq(buf, "abc");
	/* An escape that does not fit whole is left out, not cut. */
	used = ph_printable_buf(buf, sizeof buf, "abcd\x1b", 5);
	cr_expect_eq(used, 4);
	cr_expect_str_eq(buf, "abcd");
	used = ph_printable_buf(buf, sizeof buf, "abc\x1b", 4);
	cr_expect_eq(used, 4);
	cr_expect_str_eq(buf, "abc\\x1b");
	/* Nor a multibyte character. */
	used = ph_printable_buf(buf, sizeof buf, "abcde\xe6\x97\xa5", 8);
	cr_expect_eq(used, 5);
	cr_expect_str_eq(buf, "abcde");
	used = ph_printable_buf(buf, sizeof buf, "\xc2\x9b" "ab", 4);
	cr_expect_eq(used, 3);
	cr_expect_str_eq(buf, "\\u009ba");
	/* Room for the terminator only, or none at all. */
	used = ph_printable_buf(buf, 1, "abc", 3);
	cr_expect_eq(used, 0);
	cr_expect_str_eq(buf, "");
	buf[0] = 'z';
	cr_expect_eq(ph_printable_buf(buf, 0, "abc", 3), 0);
	cr_expect_eq(buf[0], 'z');
	/* A count stops at n even with bytes after. */
	used = ph_printable_buf(buf, sizeof buf, "ab\x1bzz", 2);
	cr_expect_eq(used, 2);
	cr_expect_str_eq(buf, "ab");
}

Test(printable, utf8_cut)
{
	cr_expect_eq(ph_utf8_cut("abc", 10), 3);
	cr_expect_eq(ph_utf8_cut("abcdef", 4), 4);
	/* Not inside a character: "ab" + U+65E5 (3 bytes) + "c". */
	cr_expect_eq(ph_utf8_cut("ab\xe6\x97\xa5" "c", 5), 5);
	cr_expect_eq(ph_utf8_cut("ab\xe6\x97\xa5" "c", 4), 2);
	cr_expect_eq(ph_utf8_cut("ab\xe6\x97\xa5" "c", 3), 2);
	cr_expect_eq(ph_utf8_cut("\xc3\xa9\xc3\xa9", 3), 2);
	cr_expect_eq(ph_utf8_cut("\xc3\xa9", 1), 0);
	cr_expect_eq(ph_utf8_cut("abc", 0), 0);
}

Test(printable, worst_case_growth)
{
	uint8_t in[256];
	char *out;
	size_t i;

	/* Every byte a 4-byte escape: the allocation must hold them all. */
	for (i = 0; i < sizeof in; i++)
		in[i] = 0x80 + (uint8_t)(i % 64);
	out = ph_printable_n(in, sizeof in);
	cr_expect_eq(strlen(out), 4 * sizeof in);
	free(out);
	memset(in, 0, sizeof in);
	out = ph_printable_n(in, sizeof in);
	cr_expect_eq(strlen(out), 4 * sizeof in);
	free(out);
}

Test(printable, utf8_repair)
{
	json_t *j;
	char *s;

	/* Invalid bytes as text; valid text, controls included, kept. */
	s = ph_utf8_repair("esc\x1b[31m\xc2\x9b\x9b-\xc0\x80-\xe2\x82-caf\xc3\xa9");
	cr_expect_str_eq(s, "esc\x1b[31m\xc2\x9b\\x9b-\\xc0\\x80-\\xe2\\x82-caf\xc3\xa9");
	j = json_string(s);	/* jansson takes it */
	cr_expect_not_null(j);
	json_decref(j);
	free(s);
	s = ph_utf8_repair("");
	cr_expect_str_eq(s, "");
	free(s);
}

Test(printable, json_text)
{
	json_t *j, *back;
	char *s;

	/* jansson escapes C0 itself, but passes DEL and C1 (and bidi) raw. */
	j = json_pack("{s:s, s:s}", "name", "a\x1b\x7f\xc2\x9b\xe2\x80\xae" "b\n\\",
	    "ok", "caf\xc3\xa9");
	s = ph_json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	cr_expect_str_eq(s, "{\"name\":\"a\\u001B\\u007F\\u009B\\u202Eb\\n\\\\\","
	    "\"ok\":\"caf\xc3\xa9\"}");
	cr_expect(terminal_safe(s));
	/* The document means the same. */
	back = json_loads(s, 0, NULL);
	cr_expect(json_equal(back, j));
	json_decref(back);
	free(s);

	/* With JSON_ENSURE_ASCII only DEL was left; indentation is kept. */
	s = ph_json_dumps(j, JSON_INDENT(2) | JSON_ENSURE_ASCII | JSON_SORT_KEYS);
	cr_expect_str_eq(s, "{\n  \"name\": \"a\\u001B\\u007F\\u009B\\u202Eb\\n\\\\\",\n"
	    "  \"ok\": \"caf\\u00E9\"\n}");
	free(s);
	json_decref(j);
	cr_expect_null(ph_json_dumps(NULL, 0));
}
