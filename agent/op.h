/*
 * op.h - the table of operations the agent serves on a session.
 *
 * One operation is one file, op-<name>.c, exporting one const struct
 * op_entry; op.c lists them.  The session (agent-session.c) owns the data
 * channel and its queue; the operation owns its processes and fds and talks
 * to the session only through agent_session_*():
 *
 *   start   the data channel is up and `attach` is queued: begin.  Queue
 *           `ready`.  On failure call agent_session_fail() and return -1.
 *   input   a STDIN frame, or a CONTROL frame of type resize, signal or eof.
 *   resume  the session's queue fell below its low mark: read sources again.
 *   lost    the data channel closed before `exit` was queued (client gone,
 *           relay gone, agent shutting down): stop everything, kill, reap.
 *   busy    does the operation still hold a child or an fd?  The session is
 *           freed only when the channel is closed and busy() says no.
 *   free    release the operation's state (busy() is false).
 */
#ifndef PORTHOLE_AGENT_OP_H
#define PORTHOLE_AGENT_OP_H

#include <jansson.h>
#include <libwebsockets.h>

#include "porthole/frame.h"

struct agent_session;

struct op_entry {
	const char	*name;
	int		(*start)(struct agent_session *s, json_t *open);
	void		(*input)(struct agent_session *s, const struct ph_frame *f);
	void		(*resume)(struct agent_session *s);
	void		(*lost)(struct agent_session *s);
	int		(*busy)(struct agent_session *s);
	void		(*free)(struct agent_session *s);
};

extern const struct op_entry op_exec_entry;

/* The operation called name, or NULL. */
const struct op_entry *op_find(const char *name);
/* hello.caps: a new JSON array of the operation names. */
json_t		*op_caps(void);

/* The raw-fd protocol of op-exec.c (pipes to and from the child). */
#define OP_EXEC_PROTOCOL	"porthole-exec-pipe"
int		 op_exec_pipe_callback(struct lws *wsi, enum lws_callback_reasons reason,
		    void *user, void *in, size_t len);

#endif
