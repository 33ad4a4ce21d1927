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
extern const struct op_entry op_shell_entry;
extern const struct op_entry op_ps_entry;
extern const struct op_entry op_mem_entry;
extern const struct op_entry op_cp_entry;
extern const struct op_entry op_dump_entry;

/*
 * ps, mem and dump run in a helper child: the agent re-executes itself
 * with one of these flags (op-ps.c, op-mem.c; OP_DUMP_FLAG in dump.h)
 * under the exec machinery.
 * op_helper_start runs exec of /proc/self/exe with helper_argv (stolen;
 * NULL fails the session) in front of which it puts the program.
 */
#define OP_PS_FLAG	"--op-ps"
#define OP_MEM_FLAG	"--op-mem"
int		 op_helper_start(struct agent_session *s, json_t *open, json_t *helper_argv);
/*
 * The same with the helper's stdout sent as frames of type out_type
 * (PH_FRAME_STDOUT, or PH_FRAME_DATA for the dump worker: a file's bytes).
 */
int		 op_helper_start_as(struct agent_session *s, json_t *open,
		    json_t *helper_argv, int out_type);
/* exec's start with stdout sent as out_type frames (op-exec.c). */
int		 op_exec_start_as(struct agent_session *s, json_t *req, int out_type);
int		 op_ps_main(int argc, char **argv);
int		 op_mem_main(int argc, char **argv);

/* The operation called name, or NULL. */
const struct op_entry *op_find(const char *name);
/* hello.caps: a new JSON array of the operation names. */
json_t		*op_caps(void);

/* The raw-fd protocol of op-exec.c (pipes to and from the child). */
#define OP_EXEC_PROTOCOL	"porthole-exec-pipe"
int		 op_exec_pipe_callback(struct lws *wsi, enum lws_callback_reasons reason,
		    void *user, void *in, size_t len);

/* The raw-fd protocol of op-shell.c (the pty master). */
#define OP_SHELL_PROTOCOL	"porthole-shell-pty"
int		 op_shell_pty_callback(struct lws *wsi, enum lws_callback_reasons reason,
		    void *user, void *in, size_t len);

#endif
