/*
 * client-complete.h - what completion offers, shared by the console's Tab
 * (cmd-console.c) and the shell scripts' `porthole __complete`
 * (cmd-complete.c): command names from the table, agent names from an
 * `ls --json` document, pids from a `ps TARGET --json` document.
 *
 * A name is the agent's choice: one that holds anything a terminal acts on
 * (ESC, C1, a newline, invalid UTF-8: ph_is_printable) is never offered,
 * since completion writes it into the line being edited and lists it as it
 * is, and it could not be typed back anyway.  Pids are numbers made here.
 */
#ifndef PORTHOLE_CLIENT_COMPLETE_H
#define PORTHOLE_CLIENT_COMPLETE_H

#include <jansson.h>

#define CLIENT_COMPLETE_MAX	4096	/* candidates listed */

/* Append s to cands (a JSON array of strings) if it starts with prefix. */
void	client_complete_add(json_t *cands, const char *s, const char *prefix);

/*
 * The names of the commands that start with prefix, hidden ones never,
 * those that make no sense in the console not when console is set.
 */
void	client_complete_commands(json_t *cands, const char *prefix, int console);

/* The printable agent names of an `ls --json` document (new array). */
json_t	*client_complete_names(json_t *ls_doc);

/* The pids of a `ps TARGET --json` document, as strings (new array). */
json_t	*client_complete_pids(json_t *ps_doc);

#endif
