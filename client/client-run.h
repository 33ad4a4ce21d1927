/*
 * client-run.h - the session plumbing that exec and shell share: one agent
 * resolved from TARGET, one session on the loop with its output handed to
 * the writer thread (rx paused above the high mark), `exit` and `error`
 * noted, stops bounded by CLIENT_RUN_ABORT_MS, and everything freed on
 * the way out.  The commands keep what differs: their `open`, their stdin
 * (escapes, eof), their signals and the line they print.
 *
 * A command embeds struct client_run, calls the client_run_* helpers from
 * its client_session_ops and, after client_run_loop, reads the outcome
 * (abort, got_exit, status, err_*, close_*) from it.
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
};

struct client_run {
	struct client_conn	*cc;
	struct client_session	*s;
	struct client_io	*io;
	json_t			*agent;		/* the resolved agent object */
	char			*agent_id;	/* printable */
	char			*agent_name;	/* printable */
	char			 sid[PH_SID_LEN + 1];

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

	int			 close_code;	/* from ops->closed */
	char			*close_reason;
	char			*close_cause;
	volatile int		 done;
};

/*
 * Load the settings, connect, resolve target to one agent and draw a
 * session id.  Returns 0, or the command's exit status after printing the
 * error; call client_run_free either way.
 */
int	client_run_resolve(struct client_run *r, struct client_conf *conf,
	    const char *target);
/*
 * Start the writer (and the stdin reader if with_stdin) and the signal
 * thread, open the session with ops/arg and run the loop until it is done;
 * then stop the threads and free the connection.  Signals must be blocked
 * already.  Returns 0, or -1 with *cause when the session did not start.
 */
int	client_run_loop(struct client_run *r, int with_stdin,
	    const struct client_session_ops *ops, void *arg, char **cause);
/* Free what the run holds; r stays zeroed-safe. */
void	client_run_free(struct client_run *r);

/*
 * The start of an `open` for op: sid, agent, op, argv, tty, then the
 * members of extra (stolen, may be NULL), then stdin, ts, proto and the
 * signature's place.  NULL on failure.
 */
json_t	*client_run_open(struct client_run *r, const char *op, int argc,
	    char **argv, int tty, json_t *extra, int with_stdin);

/* Close the session without flushing and leave within CLIENT_RUN_ABORT_MS. */
void	client_run_abort(struct client_run *r, enum client_run_abort why,
	    const char *reason);
/* ops->message: output to the writer thread, `exit`/`error` noted. */
int	client_run_message(struct client_run *r, const struct ph_frame *f);
/*
 * From ops->wake: a failed local write stops the run (returns -1); rx
 * resumes once the writer is under its low mark.
 */
int	client_run_wake(struct client_run *r);
/*
 * Forward a signal as `signal` {name} if it is the first and the program
 * is running; returns 1 if it was forwarded, 0 if the caller decides.
 */
int	client_run_forward(struct client_run *r, const char *name);
/* ops->closed. */
void	client_run_closed(struct client_run *r, int code, const char *reason,
	    const char *cause);

#endif
