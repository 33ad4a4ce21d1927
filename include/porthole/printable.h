/*
 * printable.h - text that came from the network, made safe to show: the
 * one place where porthole decides what may reach a terminal or a log line.
 *
 * Agents and relays choose names, labels, versions, process names, error
 * messages and file names; a terminal acts on escape sequences hidden in
 * them (colours, cursor moves, window titles, OSC 52 clipboard writes) and
 * a log reader takes a newline for a new line.  Everything the CLI prints
 * of such text, and every line the programs log, goes through here; only
 * the output streams of `exec` and `shell` themselves pass untouched.
 *
 * The convention (docs/operations.md, "What the CLI prints from the
 * network"):
 *   \n \r \t            newline, carriage return, tab
 *   \xHH                any other C0 control byte (0x00-0x1f), DEL (0x7f),
 *                       and every byte that is not part of valid UTF-8
 *                       (stray continuation bytes, raw C1 bytes, overlong
 *                       forms, surrogates, code points past U+10FFFF,
 *                       sequences cut short)
 *   \uHHHH              a valid UTF-8 character that a terminal or a reader
 *                       would act on rather than show: the C1 controls
 *                       U+0080-U+009F, the bidirectional controls (U+061C,
 *                       U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) and
 *                       the line and paragraph separators U+2028, U+2029
 * Everything else, printable ASCII and valid UTF-8, is kept as it is, a
 * backslash included: the result is for reading, not for parsing (--json
 * is for parsing), and escaping twice changes nothing, so a line made of
 * already escaped parts can be escaped again as a whole.
 */
#ifndef PORTHOLE_PRINTABLE_H
#define PORTHOLE_PRINTABLE_H

#include <stddef.h>
#include <jansson.h>

/* The longest escape one input byte or character becomes ("\u202e"). */
#define PH_PRINTABLE_MAX_ESCAPE	6

/*
 * Escape n bytes of src into dst (dstlen >= 1 bytes, always NUL-terminated).
 * Stops before an escape or a character that would not fit whole, never
 * splitting one.  Returns how many bytes of src were consumed (n when all
 * of it fit).
 */
size_t	 ph_printable_buf(char *dst, size_t dstlen, const void *src, size_t n);

/* Escape n bytes of src (NULs included) into a malloc'd string; aborts on OOM. */
char	*ph_printable_n(const void *src, size_t n);

/* Escape the string s (NULL is ""); malloc'd, aborts on OOM. */
char	*ph_printable(const char *s);

/*
 * Where to cut the string s to at most max bytes without splitting a UTF-8
 * character (a table's column, a terminal's width): the length to keep.
 */
size_t	 ph_utf8_cut(const char *s, size_t max);

/* 1 if ph_printable_n would return src unchanged, else 0. */
int	 ph_is_printable(const void *src, size_t n);

/*
 * s made valid UTF-8 for a JSON string (jansson refuses anything else):
 * each byte that is not part of valid UTF-8 becomes the four characters
 * \xHH, as ph_printable would show it; everything else, controls included,
 * is kept (JSON escapes those, and the reader's printer escapes them again).
 * For what an agent reads from /proc or a file and sends on: a process's
 * argv is bytes, not text.  malloc'd, aborts on OOM.
 */
char	*ph_utf8_repair(const char *s);

/*
 * JSON text as jansson writes it, with what a terminal would act on inside
 * its strings escaped the JSON way (\uHHHH, upper-case as jansson's own):
 * DEL, and the characters the convention above writes as \uHHHH.  jansson
 * escapes C0 itself but passes DEL always, and C1 unless
 * JSON_ENSURE_ASCII.  The document means the same; malloc'd, aborts on OOM.
 */
char	*ph_json_printable(const char *text);

/* json_dumps(j, flags) through ph_json_printable; NULL when jansson fails. */
char	*ph_json_dumps(const json_t *j, size_t flags);

#endif
