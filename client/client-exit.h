/*
 * client-exit.h - what the CLI makes of how a session ended, in one place
 * for every command that runs a session (exec, shell, cp and dump through
 * client-run, ps/mem through client-op on it, fan-out): the agent's `exit`
 * turned into the CLI's status, and a session that ended without `exit`
 * (an `error` frame, a close code, or our side's own cause) turned into one
 * line that says what happened and what to do, from one table.
 */
#ifndef PORTHOLE_CLIENT_EXIT_H
#define PORTHOLE_CLIENT_EXIT_H

#include <jansson.h>

/*
 * The CLI's exit status for an `exit` message: `code` as it is, `signal` N
 * as 128+N, anything out of 0..255 as 255.
 */
int	client_exit_status(json_t *exit_msg);

/*
 * Remember an `error` message: replaces *code and *message (freed first)
 * with printable copies of its members.
 */
void	client_error_note(json_t *err_msg, char **code, char **message);

/* One row of the table: an error code, or a close code alone. */
struct client_exit_row {
	const char	*err;		/* `error` code, or NULL: close code only */
	int		 close;		/* the close code that says it alone, or 0 */
	int		 started;	/* the operation may have run: the tail applies */
	int		 say_msg;	/* the peer's message adds to `what` */
	const char	*what;		/* %A: "agent NAME (ID)", %O: the operation */
	const char	*todo;		/* what to do, or NULL */
	int		 status;	/* the CLI's exit status */
};

/* The row for an error code / a close code, or NULL when the table lacks it. */
const struct client_exit_row *client_exit_row_err(const char *code);
const struct client_exit_row *client_exit_row_close(int code);

/* How a session ended without `exit`, as the session told it. */
struct client_end {
	const char	*op;		/* "exec", "ps", ... */
	const char	*agent_name;	/* printable, or NULL: "the agent" */
	const char	*agent_id;	/* printable */
	const char	*err_code;	/* the last `error` frame's, or NULL */
	const char	*err_message;	/* printable, or NULL */
	int		 close_code;	/* 0: the session never opened */
	const char	*close_reason;	/* printable, or NULL */
	const char	*close_cause;	/* our side's sentence, or NULL */
};

/*
 * The one line (malloc'd, without "porthole: ") for a session that ended
 * without `exit`, with the command's own tail ("output may be truncated",
 * "no file was written"; NULL: none) where the operation may have run;
 * *status gets the CLI's exit status.  An `error` frame says it first, then
 * our side's cause, then the close code.
 */
char	*client_exit_line(const struct client_end *e, const char *tail, int *status);

#endif
