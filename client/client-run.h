/*
 * client-run.h - the session plumbing that exec, shell, cp, dump, and ps
 * and mem through client-op.c, share: one agent resolved from TARGET, one
 * session on the loop with its output handed to the writer thread (rx paused above the high mark), `exit` and
 * `error` noted, stops bounded by CLIENT_RUN_ABORT_MS, and everything
 * freed on the way out.  The commands keep what differs: their `open`,
 * their stdin (escapes, eof), the frames that are theirs (cp's stream,
 * dump's file and events), their signals and the line they print.
 *
 * A command embeds struct client_run, gives client_run_loop its
 * client_run_ops (open, pump, signal, frame) and, after the loop, reads
 * the outcome (abort, got_exit, status, err_*, close_*) from it.  Output
 * goes to the writer thread; a failed local write stops the run with
 * CLIENT_RUN_ABORT_PIPE or _WRITE before the command hears of it, unless
 * the command set quiet_out (its output is only a progress line).
 */
#ifndef PORTHOLE_CLIENT_RUN_H
#define PORTHOLE_CLIENT_RUN_H

#include <jansson.h>

#include "porthole/frame.h"
#include "porthole/protocol.h"

#include "client-conn.h"

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
	/* A signal taken by the signal thread (client-signal.h). */
	void	(*signal)(void *arg, int sig);
	/*
	 * A frame from the agent, before the run's own handling (STDOUT and
	 * STDERR to the writer, `exit`, `error`, bad_message for the
	 * unexpected): 1 when the command took it, 0 to leave it to the run.
	 * May be NULL.
	 */
	int	(*frame)(void *arg, const struct ph_frame *f);
};

struct client_run {
	const struct client_run_ops *ops;
	void			*arg;		/* the command's, for ops */
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
	int			 rx_paused;
	int			 forwarded;	/* signals forwarded so far */

	int			 got_exit;
	int			 status;	/* our exit status from `exit` */
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
	volatile int		 done;
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
 * Start the writer (and the stdin reader if with_stdin) and the signal
 * thread, open the session and run the loop until it is done, calling ops
 * with arg; then stop the threads and free the connection.  Signals must
 * be blocked already.  Returns 0, or -1 with *cause when the session did
 * not start.
 */
int	client_run_loop(struct client_run *r, int with_stdin,
	    const struct client_run_ops *ops, void *arg, char **cause);
/* Free what the run holds; r stays zeroed-safe. */
void	client_run_free(struct client_run *r);

/*
 * The one line (malloc'd) for a run that ended without `exit`, from
 * client-exit.c's table, naming op and adding the command's tail (or NULL).
 */
char	*client_run_failure(struct client_run *r, const char *op, const char *tail);

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
