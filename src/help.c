/*
 * help.c - option tables as --help text and as man pages (help.h).
 *
 * Wrapping is by words: a word never breaks, so a line is longer than the
 * width only when one word is (none in porthole's tables is longer than 40
 * columns).  Everything here is ASCII, one column a byte.  Roff output
 * escapes backslashes and hyphens and keeps a line from starting with a
 * control character ('.' or '\''), so a table's text cannot become a
 * request.
 */
#include <sys/ioctl.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "porthole/help.h"
#include "porthole/util.h"

#define HELP_WIDTH_DEFAULT	80
#define HELP_WIDTH_MIN		40
#define HELP_WIDTH_MAX		200

int
ph_help_width(void)
{
	struct winsize	ws;

	if (!isatty(STDOUT_FILENO) || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0 ||
	    ws.ws_col == 0)
		return HELP_WIDTH_DEFAULT;
	if (ws.ws_col < HELP_WIDTH_MIN)
		return HELP_WIDTH_MIN;
	return ws.ws_col > HELP_WIDTH_MAX ? HELP_WIDTH_MAX : ws.ws_col;
}

static void
help_pad(FILE *f, int n)
{
	while (n-- > 0)
		fputc(' ', f);
}

/* Is the line at p (up to the next '\n') an example kept as it is? */
static int
help_literal(const char *p)
{
	return p[0] == ' ' && p[1] == ' ';
}

void
ph_help_text(FILE *f, const char *text, int indent, int first, int width)
{
	const char	*p = text, *w;
	size_t		 n;
	int		 col, words = 0;

	if (first < indent) {
		help_pad(f, indent - first);
		first = indent;
	}
	col = first;
	while (*p != '\0') {
		if (p[0] == '\n' && p[1] == '\n') {	/* a new paragraph */
			while (*p == '\n')
				p++;
			fputs("\n\n", f);
			help_pad(f, indent);
			col = indent;
			words = 0;
			continue;
		}
		if ((p == text || p[-1] == '\n') && help_literal(p)) {
			n = strcspn(p, "\n");
			if (col > indent) {
				fputc('\n', f);
				help_pad(f, indent);
			}
			fwrite(p, 1, n, f);
			p += n;
			if (*p == '\n' && p[1] != '\n' && p[1] != '\0') {
				p++;
				fputc('\n', f);
				help_pad(f, indent);
				col = indent;
				words = 0;
			} else {
				col = width;	/* what follows starts a line */
				words = 1;
			}
			continue;
		}
		if (*p == ' ' || *p == '\n') {
			p++;
			continue;
		}
		w = p;
		n = strcspn(p, " \n");
		p += n;
		if (words > 0 && col + 1 + (int)n > width) {
			fputc('\n', f);
			help_pad(f, indent);
			col = indent;
		} else if (words > 0 || col > first) {
			fputc(' ', f);
			col++;
		}
		fwrite(w, 1, n, f);
		col += (int)n;
		words++;
	}
	fputc('\n', f);
}

char *
ph_help_opt_left(const struct ph_help_opt *o)
{
	return ph_asprintf("%s%s%s%s%s", o->short_name != NULL ? o->short_name : "",
	    o->short_name != NULL ? ", " : "", o->name, o->arg != NULL ? " " : "",
	    o->arg != NULL ? o->arg : "");
}

void
ph_help_opts(FILE *f, const struct ph_help_opt *opts, int col, int width)
{
	const struct ph_help_opt	*o;
	char				*left;
	int				 n;

	if (width < 60)
		col = 8;
	for (o = opts; o != NULL && o->name != NULL; o++) {
		left = ph_help_opt_left(o);
		fprintf(f, "  %s", left);
		n = 2 + (int)strlen(left);
		free(left);
		if (n + 2 <= col && width >= 60)
			ph_help_text(f, o->help, col, n, width);
		else {
			fputc('\n', f);
			ph_help_text(f, o->help, col, 0, width);
		}
	}
}

/* ---- man pages ------------------------------------------------------- */

void
ph_man_escape(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			fputs("\\e", f);
		else if (*s == '-')
			fputs("\\-", f);
		else
			fputc(*s, f);
	}
}

/* One output line of text: never starting with a control character. */
static void
man_line(FILE *f, const char *s, size_t n)
{
	char	*line;

	while (n > 0 && *s == ' ') {
		s++;
		n--;
	}
	if (n == 0)
		return;
	line = ph_asprintf("%.*s", (int)n, s);
	if (line[0] == '.' || line[0] == '\'')
		fputs("\\&", f);
	ph_man_escape(f, line);
	fputc('\n', f);
	free(line);
}

void
ph_man_head(FILE *f, const char *name, const char *section, const char *summary)
{
	const char	*p;

	fputs(".TH ", f);
	for (p = name; *p != '\0'; p++)
		fputc(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p == '-' ? '-' : *p, f);
	fprintf(f, " %s \"\" \"porthole %s\" \"porthole manual\"\n", section,
	    PORTHOLE_VERSION);
	fputs(".nh\n.ad l\n.SH NAME\n", f);
	ph_man_escape(f, name);
	fputs(" \\- ", f);
	ph_man_escape(f, summary);
	fputc('\n', f);
}

void
ph_man_section(FILE *f, const char *title)
{
	fprintf(f, ".SH %s\n", title);
}

void
ph_man_text(FILE *f, const char *text)
{
	const char	*p = text;
	char		*line;
	size_t		 n;
	int		 in_ex = 0;

	while (*p != '\0') {
		if (*p == '\n') {
			if (p[1] == '\n') {
				if (in_ex) {
					fputs(".EE\n", f);
					in_ex = 0;
				}
				while (*p == '\n')
					p++;
				if (*p != '\0')
					fputs(".PP\n", f);
				continue;
			}
			p++;
			continue;
		}
		n = strcspn(p, "\n");
		if (help_literal(p)) {
			if (!in_ex)
				fputs(".EX\n", f);
			in_ex = 1;
			line = ph_asprintf("%.*s", (int)n, p);
			fputs("\\&", f);
			ph_man_escape(f, line);
			fputc('\n', f);
			free(line);
		} else {
			if (in_ex) {
				fputs(".EE\n", f);
				in_ex = 0;
			}
			man_line(f, p, n);
		}
		p += n;
	}
	if (in_ex)
		fputs(".EE\n", f);
}

void
ph_man_item(FILE *f, const char *tag, const char *text)
{
	fputs(".TP\n\\fB", f);
	ph_man_escape(f, tag);
	fputs("\\fR\n", f);
	ph_man_text(f, text);
}

void
ph_man_opts(FILE *f, const struct ph_help_opt *opts)
{
	const struct ph_help_opt	*o;

	for (o = opts; o != NULL && o->name != NULL; o++) {
		fputs(".TP\n", f);
		if (o->short_name != NULL) {
			fputs("\\fB", f);
			ph_man_escape(f, o->short_name);
			fputs("\\fR, ", f);
		}
		fputs("\\fB", f);
		ph_man_escape(f, o->name);
		fputs("\\fR", f);
		if (o->arg != NULL) {
			fputs(" \\fI", f);
			ph_man_escape(f, o->arg);
			fputs("\\fR", f);
		}
		fputc('\n', f);
		ph_man_text(f, o->help);
	}
}
