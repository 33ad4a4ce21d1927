/*
 * test_jsonfmt.c - JSON checked and indented without a tree
 * (src/jsonfmt.c): the same text as jansson's JSON_INDENT(2) for canonical
 * input at any depth, and whatever jansson refuses refused too.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "porthole/jsonfmt.h"

/*
 * src, made canonical by jansson (as a relay writes it), formatted at
 * depth 0: jansson's own JSON_INDENT(2) text of it.
 */
static void
same_as_jansson(const char *src)
{
	struct ph_jsonfmt out;
	json_t *j = json_loads(src, JSON_DECODE_ANY, NULL);
	char *want, *in, *cause = NULL;
	long n;

	cr_assert_not_null(j, "jansson parses %s", src);
	want = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY);
	in = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	memset(&out, 0, sizeof out);
	n = ph_jsonfmt_value(&out, in, strlen(in), 0, &cause);
	cr_assert_eq(n, (long)strlen(in), "took all of %s (%s)", in, cause ? cause : "");
	cr_expect_str_eq(out.s, want);
	free(want);
	free(in);
	json_decref(j);
	ph_jsonfmt_free(&out);
}

/* Non-canonical strings and numbers are copied as they came. */
Test(jsonfmt, copies_strings_and_numbers)
{
	struct ph_jsonfmt out;
	const char *in = "{ \"\\u0041\" : [ 1E2 , -0.50 ] }";
	char *cause = NULL;

	memset(&out, 0, sizeof out);
	cr_assert_eq(ph_jsonfmt_value(&out, in, strlen(in), 0, &cause), (long)strlen(in));
	cr_expect_str_eq(out.s, "{\n  \"\\u0041\": [\n    1E2,\n    -0.50\n  ]\n}");
	ph_jsonfmt_free(&out);
}

Test(jsonfmt, layout_is_janssons)
{
	same_as_jansson("{\"agents\":[{\"id\":\"a@x\",\"labels\":{},\"caps\":[],"
	    "\"proto\":4,\"n\":-1.5e3,\"t\":true,\"f\":false,\"z\":null,"
	    "\"s\":\"\\u00e9\\n\\\"\xc3\xa9\"},{\"id\":\"b\",\"l\":{\"k\":[1,[2,{}]]}}],"
	    "\"partial\":false}");
	same_as_jansson("[]");
	same_as_jansson("{}");
	same_as_jansson("[[[[[[[[[[1]]]]]]]]]]");
}

Test(jsonfmt, depth_indents_the_value)
{
	struct ph_jsonfmt out;
	char *cause = NULL;

	memset(&out, 0, sizeof out);
	cr_assert_eq(ph_jsonfmt_value(&out, "[{\"a\":1}] tail", 14, 1, &cause), 9);
	cr_expect_str_eq(out.s, "[\n    {\n      \"a\": 1\n    }\n  ]");
	ph_jsonfmt_free(&out);
}

Test(jsonfmt, refuses_what_jansson_refuses)
{
	static const char *bad[] = {
		"", "{", "[1,]", "{\"a\"}", "{\"a\":1,}", "{1:2}", "01", "1.", "-", "1e",
		"+1", "tru", "nul", "\"abc", "\"a\\x\"", "\"\\u12\"", "\"\\u0000\"",
		"\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\x01\"",
		"\"\xc3\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf5\x80\x80\x80\"",
		"[1 2]", "{\"a\" 1}", "'a'", NULL
	};
	struct ph_jsonfmt out;
	char *cause;
	size_t i;
	long n;

	/* Refused, or (01) a value shorter than the text: not one whole document. */
	for (i = 0; bad[i] != NULL; i++) {
		memset(&out, 0, sizeof out);
		cause = NULL;
		n = ph_jsonfmt_value(&out, bad[i], strlen(bad[i]), 0, &cause);
		cr_expect(n < (long)strlen(bad[i]), "refused: %s", bad[i]);
		cr_expect(n >= 0 || cause != NULL, "said why: %s", bad[i]);
		cr_expect_null(json_loads(bad[i], JSON_DECODE_ANY, NULL),
		    "jansson refuses %s too", bad[i]);
		free(cause);
		ph_jsonfmt_free(&out);
	}
}

Test(jsonfmt, nesting_is_bounded)
{
	char *deep = malloc(2 * PH_JSONFMT_DEPTH + 3), *cause = NULL;
	size_t i, n = PH_JSONFMT_DEPTH + 1;

	for (i = 0; i < n; i++) {
		deep[i] = '[';
		deep[2 * n - 1 - i] = ']';
	}
	cr_expect_eq(ph_jsonfmt_value(NULL, deep, 2 * n, 0, &cause), -1);
	free(cause);
	cr_expect_eq(ph_jsonfmt_value(NULL, deep + 1, 2 * n - 2, 0, &cause),
	    (long)(2 * n - 2));
	free(deep);
}
