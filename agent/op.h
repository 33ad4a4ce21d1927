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
 *
 * exec and shell share the life of their child (watch, STDIN queue,
 * drain, `exit`, lost, free) through struct op_child, op-child.c.
 */
#ifndef PORTHOLE_AGENT_OP_H
#define PORTHOLE_AGENT_OP_H

#include <jansson.h>
#include <libwebsockets.h>

#include "porthole/buf.h"
#include "porthole/frame.h"

#include "agent.h"
#include "agent-fd.h"

struct agent_session;

struct op_entry {
	const char	*name;
	/*
	 * Features of this operation announced in hello.caps beside its name
	 * (PH_CAP_*, ops.h), NULL-terminated; NULL: none.
	 */
	const char *const *caps;
	int		(*start)(struct agent_session *s, json_t *open);
	/* Each of these may be NULL: the session calls only what is there. */
	void		(*input)(struct agent_session *s, const struct ph_frame *f);
	void		(*resume)(struct agent_session *s);
	void		(*lost)(struct agent_session *s);
	int		(*busy)(struct agent_session *s);
	void		(*free)(struct agent_session *s);
	/*
	 * May a session of this open be held for its client to resume?  NULL:
	 * yes.  Asked before the seal offers resume (agent-session.c).
	 */
	int		(*holds)(json_t *open);
};

extern const struct op_entry op_exec_entry;
extern const struct op_entry op_shell_entry;
extern const struct op_entry op_ps_entry;
extern const struct op_entry op_mem_entry;
extern const struct op_entry op_cp_entry;
extern const struct op_entry op_dump_entry;
extern const struct op_entry op_net_entry;
extern const struct op_entry op_lsof_entry;
extern const struct op_entry op_probe_entry;
extern const struct op_entry op_watch_entry;
extern const struct op_entry op_forward_entry;
extern const struct op_entry op_sessions_entry;
extern const struct op_entry op_attach_entry;

/*
 * A shell's part in detach and attach (op-shell.c, agent-detach.c):
 * op_shell_id its id while it runs on a pty (else NULL), op_shell_pid its
 * program, op_shell_move hands it from one session to another,
 * op_shell_redraw sizes its pty for an attaching terminal (SIGWINCH).
 */
const char	*op_shell_id(const struct agent_session *s);
long		 op_shell_pid(const struct agent_session *s);
void		 op_shell_move(struct agent_session *from, struct agent_session *to);
void		 op_shell_redraw(struct agent_session *s, int cols, int rows);

/* The raw-fd protocol of op-forward.c (its epoll set of sockets). */
#define OP_FORWARD_PROTOCOL	"porthole-forward-epoll"
int		 op_forward_epoll_callback(struct lws *wsi, enum lws_callback_reasons reason,
		    void *user, void *in, size_t len);

/*
 * ps, mem, net, lsof, probe and dump run in a helper child (op-helper.c): the agent
 * re-executes itself with one of these flags (OP_DUMP_FLAG in dump.h)
 * under the exec machinery.
 * op_helper_start runs exec of /proc/self/exe with helper_argv (stolen;
 * NULL fails the session) in front of which it puts the program.
 */
#define OP_PS_FLAG	"--op-ps"
#define OP_MEM_FLAG	"--op-mem"
/* What reading another process's /proc files needs (net, lsof). */
#define OP_PERM_HINT	"the agent must run as the same user as that process, " \
	"or have SYS_PTRACE (linuxParameters.capabilities.add in the task definition, " \
	"with pidMode task)"
#define OP_NET_FLAG	"--op-net"
#define OP_LSOF_FLAG	"--op-lsof"
#define OP_PROBE_FLAG	"--op-probe"
int		 op_helper_start(struct agent_session *s, json_t *open, json_t *helper_argv);

/*
 * Where an exec child's output goes: stdout as frames of out_type
 * (PH_FRAME_STDOUT, or PH_FRAME_DATA for the dump worker: a file's bytes);
 * stderr as STDERR frames, or to err_sink (agent-fd.h) with err_arg,
 * which the operation then owns: err_free(err_arg) when it is freed (or
 * fails to start).
 */
struct op_exec_out {
	int		 out_type;
	agent_fd_sink	 err_sink;
	void		*err_arg;
	void		(*err_free)(void *);
};
/*
 * In a helper child (ps, net, lsof): its one JSON document as one line on
 * stdout.  0, or the helper's exit status 255 (out of memory said on
 * stderr as "OP: ..."; a write that failed said nowhere: the reader left).
 */
int		 op_helper_print(const char *op, const json_t *doc);

/* op_helper_start with the helper's output as out says. */
int		 op_helper_start_as(struct agent_session *s, json_t *open,
		    json_t *helper_argv, const struct op_exec_out *out);
/*
 * A helper operation's entry: its own start and input, exec's for the
 * rest (the helper is an exec child).
 */
#define OP_HELPER_ENTRY(opname, startfn, inputfn) {			\
	.name = (opname), .start = (startfn), .input = (inputfn),	\
	.resume = op_exec_resume, .lost = op_exec_lost,			\
	.busy = op_exec_busy, .free = op_exec_free }

/* exec's start with its output as out says (op-exec.c). */
int		 op_exec_start_as(struct agent_session *s, json_t *req,
		    const struct op_exec_out *out);
/* exec's entry points, which the helper operations share. */
void		 op_exec_input(struct agent_session *s, const struct ph_frame *f);
void		 op_exec_resume(struct agent_session *s);
void		 op_exec_lost(struct agent_session *s);
int		 op_exec_busy(struct agent_session *s);
void		 op_exec_free(struct agent_session *s);
int		 op_ps_main(int argc, char **argv);
int		 op_mem_main(int argc, char **argv);
int		 op_net_main(int argc, char **argv);
int		 op_lsof_main(int argc, char **argv);
int		 op_probe_main(int argc, char **argv);

/* The operation called name, or NULL. */
const struct op_entry *op_find(const char *name);
/* hello.caps: a new JSON array of the operation names and their features. */
json_t		*op_caps(void);
/*
 * Does the table name exactly the registry's session operations (ops.h)?
 * 0, or -1 with *cause (malloc'd) naming the first one that differs.
 */
int		 op_table_check(char **cause);
/* The agent's hidden flag that runs op_table_check() and exits 0 or 1. */
#define OP_CHECK_FLAG	"--check-ops"

/*
 * A child's life as exec and shell share it (op-child.c).  The operation
 * embeds one, and keeps in *in the wsi its STDIN goes to (NULL once
 * closed).
 */
struct op_child {
	struct agent_session *s;
	pid_t		 pid;		/* leader of its group or session; 0: none */
	int		 reaped;
	int		 status;	/* from waitpid, once reaped */
	struct lws	**in;		/* the operation's wsi for STDIN */
	struct ph_queue	 inq;		/* STDIN bytes on their way to *in */
	lws_sorted_usec_list_t sul_in;	/* re-asks for RAW_WRITEABLE_FILE */
	lws_usec_t	 rearm_us;	/* ... this long after a partial write */
	int		 in_eof;	/* the client sent eof (exec) */
	int		 exit_sent;
	int		 lost;		/* the session is gone: discard, report nothing */
};

/* Set up c for session s; the STDIN queue's marks and limit, its re-arm. */
void		 op_child_init(struct op_child *c, struct agent_session *s,
		    struct lws **in, size_t low, size_t high, size_t limit,
		    lws_usec_t rearm_us);
/*
 * Watch pid (cb(arg, pid, status) when reaped).  -1 if that failed: the
 * group got SIGKILL and c counts it as reaped.
 */
int		 op_child_watch(struct op_child *c, pid_t pid, agent_proc_cb cb,
		    void *arg);
/* fd into the loop as a raw file of protocol; NULL if lws refused (fd closed). */
struct lws	*op_child_adopt(struct op_child *c, int fd, const char *protocol,
		    void *opaque);
/* Queue `ready` {pid}. */
void		 op_child_ready(struct op_child *c);
/* Is every member of jargv a string (argv[0] not empty)?  0: session failed. */
int		 op_child_argv_ok(struct agent_session *s, json_t *jargv);
/*
 * input(): a STDIN frame into the queue ("QUEUE overflow" fails the
 * session), anything after a lost session dropped: 1; 0 for a control
 * frame, which is the operation's.
 */
int		 op_child_input(struct op_child *c, const struct ph_frame *f,
		    const char *queue);
/* `signal` f: its number, or -1 after failing the session; *name its name. */
int		 op_child_signal(struct agent_session *s, const struct ph_frame *f,
		    const char **name);
/*
 * RAW_WRITEABLE_FILE on *in: write the queue until it is empty or wsi is
 * full.  -1 when a write failed (errno says why), else 0.
 */
int		 op_child_write(struct op_child *c, struct lws *wsi);
/* *in closed: drop what was queued, stop holding the client back. */
void		 op_child_input_closed(struct op_child *c);
/* Read what fd still holds (at most max bytes) into type frames. */
void		 op_child_drain(struct op_child *c, int fd, int type, size_t max,
		    const char *from);
/* 1 once (then `exit` is the caller's to send): reaped, output closed. */
int		 op_child_exit_due(struct op_child *c, int output_open);
/* The session is lost: 1 the first time (queue dropped), then 0. */
int		 op_child_lose(struct op_child *c);
/* busy(): the child is not reaped, or the operation still holds an fd. */
int		 op_child_busy(struct op_child *c, int open);
/* free(): stop watching, cancel the timer, free the queue. */
void		 op_child_free(struct op_child *c);

/* The raw-fd protocol of op-exec.c (pipes to and from the child). */
#define OP_EXEC_PROTOCOL	"porthole-exec-pipe"
int		 op_exec_pipe_callback(struct lws *wsi, enum lws_callback_reasons reason,
		    void *user, void *in, size_t len);

/* The raw-fd protocol of op-shell.c (the pty master). */
#define OP_SHELL_PROTOCOL	"porthole-shell-pty"
int		 op_shell_pty_callback(struct lws *wsi, enum lws_callback_reasons reason,
		    void *user, void *in, size_t len);

#endif
