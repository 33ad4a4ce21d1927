/*
 * client-doc.h - run an operation whose agent helper answers with one
 * JSON document on STDOUT (net, lsof, probe), and hand the command that
 * document, parsed.  The document is kept whole (at most max bytes: a
 * longer one ends the session with a clear error) and rendered after the
 * session, like ps (cmd-ps.c).
 */
#ifndef PORTHOLE_CLIENT_DOC_H
#define PORTHOLE_CLIENT_DOC_H

#include <stddef.h>
#include <jansson.h>

struct client_conf;

/*
 * Open opname on target with members (stolen; its own open members),
 * wait for the end.  0 with *doc (a JSON object, the caller's) after a
 * clean exit; else the exit status after one "porthole: ..." line (the
 * helper's stderr, the agent's name and id in it: what says the agent is
 * "what").
 */
int	client_doc_run(struct client_conf *conf, const char *target, const char *opname,
	    json_t *members, size_t max, const char *what, json_t **doc);

/*
 * The document on stdout: with json, as one line (jansson flags: its
 * real precision), else through print, the command's table.  0, or the
 * exit status after one "porthole: ..." line.
 */
int	client_doc_print(json_t *doc, int json, size_t flags,
	    int (*print)(json_t *doc));

#endif
