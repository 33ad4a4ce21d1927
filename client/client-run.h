/*
 * client-run.h - the session plumbing that exec, shell, cp, dump, ps and
 * mem (through client-op.c) and the fan-out (client-fanout.c) share.
 *
 * A run is one session for a command: one agent resolved from TARGET,
 * its `open`, its output handed to the writer thread (reading paused
 * above the high mark), `exit` and `error` noted, stops bounded by
 * CLIENT_RUN_ABORT_MS, and everything freed on the way out.  The commands
 * keep what differs: their `open`, their stdin (escapes, eof), the frames
 * that are theirs (cp's stream, dump's file and events), their signals
 * and the line they print.
 *
 * A run-set drives the runs of one command on the conn's loop: one for
 * exec, shell, cp, dump, ps and mem (client_run_loop), N for the fan-out
 * (`exec --all`, `ps --all`).  It owns the writer (and stdin reader) and
 * the signal thread, the loop's wake hook, the pause of every session
 * while the writer is full, and the bounded stop once every run has its
 * `exit` or was aborted; it is done when every session is closed.  A
 * file descriptor of the command's own (a listening socket) is watched
 * on the same loop with client_runset_watch; a run can be added while
 * the set runs.
 *
 * A command embeds struct client_run, gives it its client_run_ops (open,
 * pump, signal, frame, closed) and, after the loop, reads the outcome
 * (abort, got_exit, status, err_*, close_*) from it.  A failed local
 * write stops the run with CLIENT_RUN_ABORT_PIPE or _WRITE before the
 * command hears of it, unless the command set quiet_out (its output is
 * only a progress line).
 */
#ifndef PORTHOLE_CLIENT_RUN_H
#define PORTHOLE_CLIENT_RUN_H

#include <jansson.h>

#include "porthole/frame.h"
#include "porthole/protocol.h"

#include "client-conn.h"
#include "client-loop.h"
#include "client-session.h"

#define CLIENT_RUN_ABORT_MS	2000	/* longest wait for our close to go through */

/* Why a run was stopped before its `exit`. */
enum client_run_abort {
	CLIENT_RUN_RUNNING = 0,
	CLIENT_RUN_ABORT_PIPE,		/* local stdout/stderr reader went away */
	CLIENT_RUN_ABORT_WRITE,		/* local output failed otherwise */
	CLIENT_RUN_ABORT_SIGNAL,	/* a signal that is not forwarded */
	CLIENT_RUN_ABORT_ESCAPE,	/* ~. (shell) */
	CLIENT_RUN_ABORT_OVERFLOW,	/* output queue past its hard limit (a bug) */
	CLIENT_RUN_ABORT_COMMAND,	/* the command gave up (its own cause) */
};

/* What a command adds to the run, called on the loop with its arg. */
struct client_run_ops {
	/* The session is up: send `open` (client_run_open, then extras). */
	void	(*open)(void *arg);
	/* Room in the session, or new stdin: move stdin to the session. */
	void	(*pump)(void *arg);		/* may be NULL */
	/* A signal taken by the signal thread (client-signal.h); may be NULL. */
	void	(*signal)(void *arg, int sig);
	/*
	 * A frame from the agent, before the run's own handling (STDOUT and
	 * STDERR to the writer, `exit`, `error`, bad_message for the
	 * unexpected): 1 when the command took it, 0 to leave it to the run.
	 * May be NULL.
	 */
	int	(*frame)(void *arg, const struct ph_frame *f);
	/* The session is over (the run holds why).  May be NULL. */
	void	(*closed)(void *arg);
};

struct client_run;

/* What the owner of a run-set adds to it, called on the loop. */
struct client_runset_ops {
	/*
	 * The writer fell under its low mark while the sessions were paused:
	 * 1 to resume reading them, 0 to wait for the next wake.  NULL: 1.
	 */
	int	(*room)(void *arg);
};

struct client_runset {
	struct client_conn	*cc;
	struct client_io	*io;
	const struct client_runset_ops *ops;	/* may be NULL */
	void			*arg;
	struct client_run	**runs;
	size_t			 n;
	size_t			 open;		/* sessions not closed yet */
	int			 rx_paused;	/* every session's reading */
	struct client_loop_timer stop;		/* the bounded stop */
	volatile int		 done;
};

struct client_run {
	const struct client_run_ops *ops;
	void			*arg;		/* the command's, for ops */
	struct client_runset	*set;		/* while it runs */
	struct client_conn	*cc;
	struct client_session	*s;
	struct client_io	*io;
	json_t			*agent;		/* the resolved agent object */
	char			*agent_id;	/* printable */
	char			*agent_name;	/* printable */
	char			 sid[PH_SID_LEN + 1];
	long long		 pid;		/* --pid: run inside it; 0: none */
	const char		*container;	/* --container NAME, or NULL */

	int			 established;
	int			 closed;	/* the session is over */
	int			 forwarded;	/* signals forwarded so far */

	int			 got_exit;
	int			 status;	/* our exit status from `exit` */
	int			 signal;	/* `exit`'s signal; 0: none */
	int			 timed_out;	/* `exit` said "timeout": true */
	char			*exit_message;	/* printable */
	char			*err_code;	/* last `error` frame */
	char			*err_message;	/* printable */

	enum client_run_abort	 abort;
	int			 out_errno;	/* with ABORT_PIPE/WRITE */
	int			 out_fd;
	int			 quiet_out;	/* a failed local write is dropped */

	int			 close_code;	/* from ops->closed */
	char			*close_reason;
	char			*close_cause;
};

struct cmd_entry;

/*
 * --pid PID or --container NAME at argv[*i] for command ce: returns -1 if
 * argv[*i] is neither, 0 when taken (*i moved to its value), or the exit
 * status after a usage error.
 */
int	client_run_option(struct client_run *r, const struct cmd_entry *ce,
	    int argc, char **argv, int *i);

/*
 * The help of client_run_option's options, for the option table
 * (cmd.h) of each command whose parser calls it.
 */
#define CLIENT_RUN_HELP_OPTIONS						\
	{ "--pid", NULL, "PID", "work inside the container of process PID on "	\
	    "the agent: its root (/proc/PID/root), uid, gid, groups, "		\
	    "environment and working directory, as an agent in a sidecar "	\
	    "needs to reach the app (not with --container)" },		\
	{ "--container", NULL, "NAME", "the same for the process of the "	\
	    "task's container NAME, found in the ECS task metadata (not "	\
	    "with --pid)" }

/*
 * A command's own option at argv[*i]: the same returns as
 * client_run_option (-1 not its own, 0 taken, else an exit status).
 */
typedef int (*client_run_opt_cb)(void *arg, int argc, char **argv, int *i);

/*
 * Parse "[OPTION...] TARGET [--] [CMD [ARG...]]" for command ce: each
 * option goes to opt (with arg) first, then client_run_option, then the
 * settings' (client_conf_option).  Without "--" the command starts at the
 * second word that is not an option.  Sets *target and the remote
 * *rargc and *rargv (*rargc may be 0); returns 0 or the exit status after a
 * usage error.
 */
int	client_run_parse(struct client_run *r, const struct cmd_entry *ce,
	    struct client_conf *conf, int argc, char **argv, client_run_opt_cb opt,
	    void *arg, const char **target, int *rargc, char ***rargv);

/*
 * Load the settings, connect, resolve target to one agent and draw a
 * session id.  Returns 0, or the command's exit status after printing the
 * error; call client_run_free either way.
 */
int	client_run_resolve(struct client_run *r, struct client_conf *conf,
	    const char *target);
/*
 * The run-set of one run: start the writer (and the stdin reader if
 * with_stdin) and the signal thread, open the session and run the loop
 * until it is done, calling ops with arg; then stop the threads and free
 * the connection.  Signals must be blocked already.  Returns 0, or -1
 * with *cause when the session did not start.
 */
int	client_run_loop(struct client_run *r, int with_stdin,
	    const struct client_run_ops *ops, void *arg, char **cause);
/*
 * A run-set on cc's loop (ops and arg may be NULL): nothing starts yet.
 */
void	client_runset_init(struct client_runset *set, struct client_conn *cc,
	    const struct client_runset_ops *ops, void *arg);
/*
 * Start the writer (and the stdin reader if with_stdin) and, if
 * with_signals, the signal thread; signals must be blocked already.  0,
 * or -1 with *cause.
 */
int	client_runset_start(struct client_runset *set, int with_stdin,
	    int with_signals, char **cause);
/*
 * Add run r (its agent and sid set) with the command's ops and arg, and
 * open its session; also while the set runs.  0, or -1 with *cause.
 */
int	client_runset_add(struct client_runset *set, struct client_run *r,
	    const struct client_run_ops *ops, void *arg, char **cause);
/* Watch a descriptor of the command's own on the set's loop, or stop. */
void	client_runset_watch(struct client_runset *set, struct client_loop_fd *f);
void	client_runset_unwatch(struct client_runset *set, struct client_loop_fd *f);
/* Pause (0) or resume (1) reading every session. */
void	client_runset_rx(struct client_runset *set, int on);
/* Run the loop until every session is closed (or the stop's bound); -1 if it failed. */
int	client_runset_run(struct client_runset *set);
/*
 * The loop is over: the threads stop waking it, the sessions are freed
 * (each run keeps its outcome).  The conn is the caller's to free.
 */
void	client_runset_end(struct client_runset *set);

/* Free what the run holds; r stays zeroed-safe. */
void	client_run_free(struct client_run *r);

/*
 * The one line (malloc'd) for a run that ended without `exit`, from
 * client-exit.c's table, naming op and adding the command's tail (or NULL).
 */
char	*client_run_failure(struct client_run *r, const char *op, const char *tail);

/*
 * A new `open` with the members every operation carries: sid, agent (the
 * full id of agent, an object of /v1/agents; for an agent of protocol 1
 * its claimed id and agent_sub), op, argv (stolen; NULL: none), tty and
 * stdin false, ts, proto (the lower of ours and the agent's: it says how
 * the open is signed, opensig.h) and sig (filled by
 * client_session_send_open).  The caller adds the rest.  NULL when out of
 * memory.
 */
json_t	*client_open_new(const char *sid, json_t *agent, const char *op,
	    json_t *argv);

/*
 * The start of an `open` for op: sid, agent, op, argv, tty, then the
 * members of extra (stolen, may be NULL), then stdin, ts, proto and the
 * signature's place.  NULL on failure.
 */
json_t	*client_run_open(struct client_run *r, const char *op, int argc,
	    char **argv, int tty, json_t *extra, int with_stdin);

/* Add --pid/--container to o and send it as the `open` (stolen). */
void	client_run_send_open(struct client_run *r, json_t *o);

/*
 * Queue n bytes for our fd (1 or 2) through the writer, pausing the
 * session's rx above the high mark; -1 when the queue is past its hard
 * limit (nothing queued).
 */
int	client_run_write(struct client_run *r, int fd, const void *p, size_t n);

/* Close the session without flushing and leave within CLIENT_RUN_ABORT_MS. */
void	client_run_abort(struct client_run *r, enum client_run_abort why,
	    const char *reason);
/*
 * Forward a signal as `signal` {name} if it is the first and the program
 * is running; returns 1 if it was forwarded, 0 if the caller decides.
 */
int	client_run_forward(struct client_run *r, const char *name);

#endif
