/*
 * jsonfmt.h - JSON text checked and indented without building a tree
 * (jsonfmt.c), for answers too large to go through jansson cheaply: `ls
 * --json` over a fleet of 30,000 agents is a 10 MB listing, and parsing it
 * into jansson, dumping it again and freeing the tree was most of the
 * CLI's time (bench/fleet-scale).
 *
 * The check is jansson's (RFC 8259): structure, string escapes, UTF-8,
 * no control byte and no \u0000 in a string, no lone surrogate, the number
 * grammar; nesting at most PH_JSONFMT_DEPTH.  The output is what jansson's
 * JSON_INDENT(2) writes for the same value when the input is canonical
 * (as jansson writes it, as relays do): strings and numbers are copied as
 * they came, so a non-canonical "\u0041" or 1E2 stays as it is where
 * jansson would write "A" or 100.0, and a repeated key is kept twice.
 */
#ifndef PORTHOLE_JSONFMT_H
#define PORTHOLE_JSONFMT_H

#include <stddef.h>

#define PH_JSONFMT_DEPTH	512

/* A growing output text, NUL-terminated when len > 0; zero it to start. */
struct ph_jsonfmt {
	char	*s;
	size_t	 len, cap;
};

/* Whitespace bytes at the start of text[0..n). */
size_t	ph_jsonfmt_ws(const char *text, size_t n);
/*
 * One JSON value at the very start of text[0..n) (no whitespace before
 * it), checked and, out not NULL, appended to out indented by two spaces a
 * level, as if it were nested depth levels deep (its closing bracket
 * indented 2*depth).  The bytes of text it took, or -1 with *cause
 * (malloc'd).  Out of memory aborts, as ph_asprintf does.
 */
long	ph_jsonfmt_value(struct ph_jsonfmt *out, const char *text, size_t n, int depth,
	    char **cause);
/* Append n bytes to out. */
void	ph_jsonfmt_put(struct ph_jsonfmt *out, const char *s, size_t n);
void	ph_jsonfmt_free(struct ph_jsonfmt *out);

#endif
