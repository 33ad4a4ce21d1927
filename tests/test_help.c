/*
 * test_help.c - option tables as text (help.h): wrapping by words to a
 * width with hanging indents, paragraphs and example lines kept, and the
 * roff of a man page that a table's text cannot turn into a request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "porthole/help.h"

/* What f (an open_memstream) holds once closed; malloc'd. */
static char *
render_text(const char *text, int indent, int first, int width)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*f = open_memstream(&buf, &len);

	ph_help_text(f, text, indent, first, width);
	fclose(f);
	return buf;
}

/* The longest line of s. */
static size_t
longest(const char *s)
{
	size_t	n, max = 0;

	while (*s != '\0') {
		n = strcspn(s, "\n");
		if (n > max)
			max = n;
		s += n;
		if (*s == '\n')
			s++;
	}
	return max;
}

static const char para[] =
"Run CMD with its ARGs on the agent TARGET names, as ssh HOST CMD would: "
"stdin is streamed to it, its stdout and stderr come back apart, and its "
"exit status is porthole's (a signal N as 128+N).";

Test(help, wraps_to_the_width)
{
	int	 w;
	char	*s;

	for (w = 30; w <= 120; w += 7) {
		s = render_text(para, 4, 0, w);
		cr_assert_leq(longest(s), (size_t)w, "width %d:\n%s", w, s);
		cr_assert_eq(strncmp(s, "    Run CMD", 11), 0, "indented: %s", s);
		free(s);
	}
}

Test(help, hanging_indent_and_first_column)
{
	char	*s = render_text("one two three four five six", 10, 6, 22);

	/* Column 6 of the first line is padded to 10, where the rest start. */
	cr_assert_str_eq(s, "    one two\n          three four\n          five six\n");
	free(s);
	/* Past the indent (a long left part): go on there, then wrap under it. */
	s = render_text("one two three four five six", 4, 10, 22);
	cr_assert_str_eq(s, "one two\n    three four five\n    six\n");
	free(s);
}

Test(help, paragraphs_and_examples)
{
	char	*s = render_text("first words\nstill first\n\nsecond\n\n"
	    "  example  --kept   as is\nafter", 2, 0, 80);

	cr_assert_str_eq(s, "  first words still first\n\n  second\n\n"
	    "    example  --kept   as is\n  after\n");
	free(s);
}

Test(help, options_table)
{
	static const struct ph_help_opt opts[] = {
		{ "--no-stdin", "-n", NULL, "do not send stdin" },
		{ "--kind", NULL, "auto|core|jvm|node", "what to dump" },
		{ NULL, NULL, NULL, NULL }
	};
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*f = open_memstream(&buf, &len);

	ph_help_opts(f, opts, 24, 80);
	fclose(f);
	cr_assert_str_eq(buf, "  -n, --no-stdin        do not send stdin\n"
	    "  --kind auto|core|jvm|node\n                        what to dump\n");
	free(buf);
}

Test(help, man_text_cannot_make_a_request)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*f = open_memstream(&buf, &len);

	ph_man_text(f, ".TH evil\n'br\nback\\slash --opt");
	fclose(f);
	/* No line starts with a control character; backslash and hyphen escaped. */
	cr_assert_str_eq(buf, "\\&.TH evil\n\\&'br\nback\\eslash \\-\\-opt\n");
	free(buf);
}
