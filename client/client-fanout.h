/*
 * client-fanout.h - one operation on every agent a TARGET matches, at once:
 * `exec --all` and `ps --all`.
 *
 * One session per agent, each on its own WebSocket, all in the CLI's one
 * event loop.  Without --json every output line is written prefixed with
 * the agent's name ("name: line"; stdout to stdout, stderr to stderr, a
 * partial last line ended with a newline).  With --json one document
 * {"results": [...]} is printed at the end (see client-fanout.c).  The
 * exit status is the highest of the agents' (an agent lost counts 255, a
 * timeout 124).
 */
#ifndef PORTHOLE_CLIENT_FANOUT_H
#define PORTHOLE_CLIENT_FANOUT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct client_conf;

struct client_fanout_opts {
	const char	*op;		/* the operation, e.g. "exec" */
	int		 argc;		/* its argv */
	char		**argv;
	int		 json;		/* --json: one document at the end */
	int64_t		 timeout_ms;	/* open.timeout_ms; 0: none */
	int64_t		 grace_ms;	/* open.grace_ms; -1: the agent's */
	/*
	 * Collect instead of print (implies json): the results array (as in
	 * the --json document) is returned in *collect for the caller to
	 * render, keeping up to keep bytes of each stream (0: the default).
	 */
	json_t		**collect;
	size_t		 keep;
	/*
	 * Only the agents whose caps list this operation (sessions: older
	 * agents lack it); with a NULL target, every agent listed that does.
	 */
	int		 only_serving;
};

#define CLIENT_FANOUT_MAX	128	/* agents in one fan-out, at most */
#define CLIENT_FANOUT_KEEP	(1024 * 1024)	/* --json: bytes kept per stream */
#define CLIENT_FANOUT_LINE	(64 * 1024)	/* longer lines are split */
#define CLIENT_EXIT_TIMEOUT	124	/* like timeout(1) */

/* Run it; returns the exit status (255 after one "porthole: " line). */
int	client_fanout_run(struct client_conf *conf, const char *target,
	    const struct client_fanout_opts *o);

#endif
