/*
 * help.h - the one way the three programs describe their options: a table
 * of options (name, short form, argument, meaning), printed as --help text
 * wrapped to the terminal's width, and as the roff of a man page.
 *
 * The CLI's command table (client/cmd.h) holds one such table per command,
 * the agent (agent/agent-help.c) and the relay (src/relay/relay-help.c) one
 * each; `porthole help --man`, `porthole-agent --man` and `porthole-relay
 * --man` print the man pages meson builds from them, so that --help, the
 * manual and the shell completion can never disagree.
 *
 * Text in the tables is plain: paragraphs separated by an empty line
 * ("\n\n"); a line that starts with two spaces is kept as it is (an
 * example), every other line break is a space.  No roff in the tables:
 * ph_man_* escapes what roff would act on.
 */
#ifndef PORTHOLE_HELP_H
#define PORTHOLE_HELP_H

#include <stdio.h>

struct ph_help_opt {
	const char	*name;		/* "--timeout"; NULL ends a table */
	const char	*short_name;	/* "-n", or NULL */
	const char	*arg;		/* "DUR", "auto|core", or NULL: a flag */
	const char	*help;		/* what it does (plain text) */
};

/* The width help is wrapped to: stdout's terminal (TIOCGWINSZ), else 80. */
int	ph_help_width(void);

/*
 * text wrapped to width with every line indented by indent columns; the
 * first line starts after first columns already used on it (first <=
 * indent: it is indented to indent).  Paragraphs keep an empty line
 * between them.
 */
void	ph_help_text(FILE *f, const char *text, int indent, int first, int width);

/*
 * "  -n, --no-stdin   meaning..." for each option of the table; the meaning
 * starts at column col, or on the next line when the left part is longer.
 */
void	ph_help_opts(FILE *f, const struct ph_help_opt *opts, int col, int width);

/* The left part of an option, "-n, --no-stdin" or "--timeout DUR"; malloc'd. */
char	*ph_help_opt_left(const struct ph_help_opt *o);

/* Man pages (man(7) macros).  ".TH NAME SECTION DATE SOURCE MANUAL". */
void	ph_man_head(FILE *f, const char *name, const char *section,
	    const char *summary);
/* ".SH TITLE". */
void	ph_man_section(FILE *f, const char *title);
/* Paragraphs of plain text, escaped; examples (two spaces) as .EX/.EE. */
void	ph_man_text(FILE *f, const char *text);
/* One .TP item per option: bold names, italic argument, then the text. */
void	ph_man_opts(FILE *f, const struct ph_help_opt *opts);
/* One .TP item: tag in bold (escaped), text. */
void	ph_man_item(FILE *f, const char *tag, const char *text);
/* s escaped for roff inside a line (backslash, hyphens). */
void	ph_man_escape(FILE *f, const char *s);

#endif
