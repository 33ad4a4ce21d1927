/*
 * cmd-shell.c - "porthole shell TARGET [-- CMD [ARG...]]" (alias sh): an
 * interactive terminal on one agent, as ssh gives one.
 *
 * When stdin is a terminal it goes into raw mode (cfmakeraw on a copy of
 * the saved settings), so Ctrl-C, Ctrl-Z and Ctrl-\ are bytes that reach
 * the remote program through its pty.  The saved settings are put back by
 * one function, shell_tty_restore, called on every way out: the end of the
 * session, an error, SIGTERM or SIGHUP (taken on the loop through the
 * signal thread), the agent lost, and atexit.  The window size goes in
 * `open` and, on every SIGWINCH, in a `resize`.
 *
 * Escapes, as in ssh, right after a newline (and at the start): "~."
 * disconnects, "~?" lists the escapes, "~~" sends one "~"; a "~" followed
 * by anything else is sent with it.  Only with a terminal.
 *
 * Stdin not a terminal (like ssh -T): no raw mode, no escapes, `tty` false;
 * the agent then runs the shell with pipes, and SIGINT/SIGTERM are
 * forwarded as in exec.
 *
 * The exit status is the remote program's (a signal N as 128+N); a lost
 * agent, a disconnect (~.) or any failure of ours is 255 with one line.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "porthole/frame.h"
#include "porthole/protocol.h"
#include "porthole/util.h"

#include "client-conn.h"
#include "client-exit.h"
#include "client-io.h"
#include "client-signal.h"
#include "client-target.h"
#include "cmd.h"

#define SHELL_ABORT_MS	2000	/* longest wait for our close to go through */
#define SHELL_ESC	'~'

enum shell_abort {
	SHELL_RUNNING = 0,
	SHELL_ABORT_ESCAPE,	/* ~. */
	SHELL_ABORT_SIGNAL,	/* SIGTERM/SIGHUP, or a second SIGINT */
	SHELL_ABORT_WRITE,	/* local output failed */
	SHELL_ABORT_OVERFLOW,
};

struct shell {
	struct client_conn	*cc;
	struct client_session	*s;
	struct client_io	*io;
	json_t			*agent;
	char			*agent_id;
	char			*agent_name;
	char			 sid[PH_SID_LEN + 1];
	int			 argc;
	char			**argv;
	long long		 pid;		/* --pid: run inside it; 0: none */
	const char		*container;	/* --container NAME, or NULL */

	int			 tty;		/* stdin is a terminal: raw mode */
	int			 established;
	int			 eof_sent;
	int			 rx_paused;
	int			 forwarded;
	int			 line_start;	/* the last byte sent ended a line */
	int			 tilde;		/* a ~ after a newline is held back */
	int			 abort_sig;

	int			 got_exit;
	int			 status;
	char			*exit_message;
	char			*err_code;
	char			*err_message;
	enum shell_abort	 abort;
	int			 close_code;
	char			*close_reason;
	char			*close_cause;
	volatile int		 done;
};

/* The terminal as we found it; restored by shell_tty_restore. */
static struct termios	shell_saved;
static int		shell_raw;

/* Put the terminal back as it was; safe to call any number of times. */
static void
shell_tty_restore(void)
{
	if (!shell_raw)
		return;
	shell_raw = 0;
	tcsetattr(STDIN_FILENO, TCSADRAIN, &shell_saved);
}

static int
shell_tty_raw(char **cause)
{
	struct termios	t;

	if (tcgetattr(STDIN_FILENO, &shell_saved) != 0) {
		*cause = ph_asprintf("cannot read the terminal's settings: %s",
		    strerror(errno));
		return -1;
	}
	t = shell_saved;
	cfmakeraw(&t);
	atexit(shell_tty_restore);
	if (tcsetattr(STDIN_FILENO, TCSADRAIN, &t) != 0) {
		*cause = ph_asprintf("cannot put the terminal in raw mode: %s",
		    strerror(errno));
		return -1;
	}
	shell_raw = 1;
	return 0;
}

static void
shell_winsize(int *cols, int *rows)
{
	struct winsize	ws;

	*cols = 80;
	*rows = 24;
	if ((ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 ||
	    ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0) && ws.ws_col > 0 &&
	    ws.ws_row > 0) {
		*cols = ws.ws_col;
		*rows = ws.ws_row;
	}
}

static void
shell_abort_timeout(void *arg)
{
	((struct shell *)arg)->done = 1;
}

static void
shell_abort(struct shell *sh, enum shell_abort why, const char *reason)
{
	if (sh->abort != SHELL_RUNNING)
		return;
	sh->abort = why;
	if (sh->s != NULL)
		client_session_close(sh->s, PH_CLOSE_GOING_AWAY, reason, 0);
	client_conn_timer(sh->cc, SHELL_ABORT_MS, shell_abort_timeout, sh);
}

static void
shell_local(struct shell *sh, const char *text)
{
	client_io_write(sh->io, 2, text, strlen(text));
}

/*
 * Keystrokes through the escape filter into out (room for 2 * n bytes);
 * returns the bytes to send, or -1 after ~. (the session is closing).
 */
static ssize_t
shell_escapes(struct shell *sh, const uint8_t *p, size_t n, uint8_t *out)
{
	size_t	i, o = 0;
	uint8_t	c;

	for (i = 0; i < n; i++) {
		c = p[i];
		if (sh->tilde) {
			sh->tilde = 0;
			if (c == '.') {
				shell_local(sh, "~.\r\n");
				shell_abort(sh, SHELL_ABORT_ESCAPE, "disconnected");
				return -1;
			}
			if (c == '?') {
				shell_local(sh, "~?\r\nSupported escape sequences:\r\n"
				    " ~.   - disconnect\r\n"
				    " ~?   - this message\r\n"
				    " ~~   - send the escape character by typing it "
				    "twice\r\n"
				    "(Note that escapes are only recognized "
				    "immediately after newline.)\r\n");
				sh->line_start = 1;
				continue;
			}
			out[o++] = SHELL_ESC;
			if (c == SHELL_ESC) {
				sh->line_start = 0;
				continue;
			}
		} else if (c == SHELL_ESC && sh->line_start) {
			sh->tilde = 1;
			continue;
		}
		out[o++] = c;
		sh->line_start = c == '\r' || c == '\n';
	}
	return (ssize_t)o;
}

/* Move stdin chunks to the session while it has room. */
static void
shell_pump(struct shell *sh)
{
	struct client_io_status	 st;
	const uint8_t		*p;
	uint8_t			*buf;
	size_t			 n;
	ssize_t			 m;

	if (!sh->established || sh->abort != SHELL_RUNNING || sh->got_exit ||
	    sh->eof_sent)
		return;
	while (!client_session_full(sh->s) && client_io_peek(sh->io, &p, &n)) {
		if (!sh->tty) {
			if (client_session_send(sh->s, PH_FRAME_STDIN, p, n) != 0)
				return;
			client_io_pop(sh->io);
			continue;
		}
		if ((buf = malloc(2 * n + 1)) == NULL) {
			shell_abort(sh, SHELL_ABORT_OVERFLOW, "out of memory");
			return;
		}
		m = shell_escapes(sh, p, n, buf);
		client_io_pop(sh->io);
		/* One input chunk is at most PH_MAX_PAYLOAD: split in two if needed. */
		if (m > 0 && client_session_send(sh->s, PH_FRAME_STDIN, buf,
		    (size_t)m > PH_MAX_PAYLOAD ? PH_MAX_PAYLOAD : (size_t)m) == 0 &&
		    (size_t)m > PH_MAX_PAYLOAD)
			client_session_send(sh->s, PH_FRAME_STDIN, buf + PH_MAX_PAYLOAD,
			    (size_t)m - PH_MAX_PAYLOAD);
		free(buf);
		if (m < 0)
			return;
	}
	client_io_status(sh->io, &st);
	if (st.in_eof && !sh->tty && client_session_send_ctl(sh->s,
	    ph_ctl_new(PH_CTL_EOF)) == 0)
		sh->eof_sent = 1;
}

static void
shell_established(void *arg)
{
	struct shell	*sh = arg;
	json_t		*o, *av, *m;
	const char	*term = getenv("TERM");
	int		 i, cols, rows;

	sh->established = 1;
	shell_winsize(&cols, &rows);
	av = json_array();
	for (i = 0; i < sh->argc; i++)
		json_array_append_new(av, json_string(sh->argv[i]));
	o = ph_ctl_new(PH_CTL_OPEN);
	m = json_pack("{s:s, s:s, s:s, s:o, s:b, s:s, s:i, s:i, s:b, s:I, s:i, s:n}",
	    "sid", sh->sid, "agent", client_agent_str(sh->agent, "id"),
	    "op", "shell", "argv", av, "tty", sh->tty,
	    "term", term != NULL && *term != '\0' ? term : "dumb",
	    "cols", cols, "rows", rows, "stdin", 1,
	    "ts", (json_int_t)ph_now(), "proto", PH_PROTOCOL_VERSION, "sig");
	if (o == NULL || m == NULL || json_object_update(o, m) != 0) {
		json_decref(o);
		json_decref(m);
		shell_abort(sh, SHELL_ABORT_OVERFLOW, "internal error");
		return;
	}
	json_decref(m);
	if (sh->pid > 0)
		json_object_set_new(o, "pid", json_integer(sh->pid));
	if (sh->container != NULL)
		json_object_set_new(o, "container", json_string(sh->container));
	client_session_send_open(sh->s, o);
	shell_pump(sh);
}

static void
shell_resize(struct shell *sh)
{
	json_t	*o;
	int	 cols, rows;

	if (!sh->established || !sh->tty || sh->abort != SHELL_RUNNING || sh->got_exit)
		return;
	shell_winsize(&cols, &rows);
	if ((o = ph_ctl_new(PH_CTL_RESIZE)) == NULL)
		return;
	json_object_set_new(o, "cols", json_integer(cols));
	json_object_set_new(o, "rows", json_integer(rows));
	client_session_send_ctl(sh->s, o);
}

static void
shell_ctl(struct shell *sh, const struct ph_frame *f)
{
	const char	*s;

	switch (f->ctl) {
	case PH_CTL_READY:
	case PH_CTL_PROGRESS:
	case PH_CTL_META:
		return;
	case PH_CTL_EXIT:
		sh->status = client_exit_status(f->json);
		if ((s = json_string_value(json_object_get(f->json, "message"))) != NULL &&
		    *s != '\0') {
			free(sh->exit_message);
			sh->exit_message = client_printable(s);
		}
		sh->got_exit = 1;
		client_session_close(sh->s, PH_CLOSE_NORMAL, NULL, 0);
		client_conn_timer(sh->cc, SHELL_ABORT_MS, shell_abort_timeout, sh);
		return;
	case PH_CTL_ERROR:
		client_error_note(f->json, &sh->err_code, &sh->err_message);
		return;
	default:
		client_session_fail(sh->s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
		    "unexpected message on a client session");
		return;
	}
}

static int
shell_message(void *arg, const struct ph_frame *f)
{
	struct shell		*sh = arg;
	struct client_io_status	 st;

	switch (f->type) {
	case PH_FRAME_STDOUT:
	case PH_FRAME_STDERR:
		if (sh->abort != SHELL_RUNNING)
			return 0;
		if (client_io_write(sh->io, f->type == PH_FRAME_STDOUT ? 1 : 2,
		    f->payload, f->len) != 0) {
			shell_abort(sh, SHELL_ABORT_OVERFLOW, "client output overflow");
			return 0;
		}
		client_io_status(sh->io, &st);
		if (st.out_full && !sh->rx_paused) {
			sh->rx_paused = 1;
			client_session_rx(sh->s, 0);
		}
		return 0;
	case PH_FRAME_CONTROL:
		shell_ctl(sh, f);
		return 0;
	default:
		client_session_fail(sh->s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
		    "unexpected frame type on a client session");
		return -1;
	}
}

static void
shell_drained(void *arg)
{
	shell_pump(arg);
}

static void
shell_wake(void *arg)
{
	struct shell		*sh = arg;
	struct client_io_status	 st;
	json_t			*o;
	int			 sig;

	client_io_status(sh->io, &st);
	if (st.out_errno != 0 && sh->abort == SHELL_RUNNING) {
		shell_abort(sh, SHELL_ABORT_WRITE, "client output closed");
		return;
	}
	if (sh->rx_paused && st.out_low) {
		sh->rx_paused = 0;
		client_session_rx(sh->s, 1);
	}
	while ((sig = client_signal_take()) != 0) {
		if (sig == SIGWINCH) {
			shell_resize(sh);
			continue;
		}
		if (sig == SIGTERM || sig == SIGHUP) {
			/* The terminal first: we may not get another chance. */
			shell_tty_restore();
			sh->abort_sig = sig;
			shell_abort(sh, SHELL_ABORT_SIGNAL, "terminated");
			continue;
		}
		/* SIGINT from outside (a terminal in raw mode sends ^C itself). */
		if (sh->forwarded == 0 && sh->established && !sh->got_exit &&
		    sh->abort == SHELL_RUNNING) {
			if ((o = ph_ctl_new(PH_CTL_SIGNAL)) != NULL)
				json_object_set_new(o, "name", json_string("INT"));
			client_session_send_ctl(sh->s, o);
			sh->forwarded++;
			continue;
		}
		sh->abort_sig = sig;
		shell_abort(sh, SHELL_ABORT_SIGNAL, "interrupted");
	}
	shell_pump(sh);
}

static void
shell_closed(void *arg, int code, const char *reason, const char *cause)
{
	struct shell	*sh = arg;

	sh->close_code = code;
	free(sh->close_reason);
	free(sh->close_cause);
	sh->close_reason = strdup(reason != NULL ? reason : "");
	sh->close_cause = cause != NULL ? strdup(cause) : NULL;
	client_conn_timer(sh->cc, -1, NULL, NULL);
	sh->done = 1;
}

static const struct client_session_ops shell_ops = {
	.established = shell_established,
	.message = shell_message,
	.drained = shell_drained,
	.wake = shell_wake,
	.closed = shell_closed,
};

/* The one line for a session that ended without `exit`; malloc'd. */
static char *
shell_failure(struct shell *sh)
{
	const char	*ec = sh->err_code, *em = sh->err_message;
	const char	*name = sh->agent_name, *id = sh->agent_id;

	if (ec != NULL && strcmp(ec, PH_ERR_AGENT_LOST) == 0)
		return ph_asprintf("agent %s (%s) was lost mid-session: the shell "
		    "is gone", name, id);
	if (ec != NULL && strcmp(ec, PH_ERR_FORBIDDEN) == 0)
		return ph_asprintf("not allowed to open a shell on %s (%s): %s: ask "
		    "for a token whose scope includes 'shell'", name, id,
		    em != NULL ? em : ec);
	if (ec != NULL && strcmp(ec, PH_ERR_UNAUTHORIZED) == 0)
		return ph_asprintf("the relay refused the token: %s: check "
		    "PORTHOLE_TOKEN", em != NULL ? em : ec);
	if (ec != NULL)
		return ph_asprintf("the shell session with %s (%s) failed: %s (%s)",
		    name, id, em != NULL && *em != '\0' ? em : ec, ec);
	if (sh->close_cause != NULL)
		return strdup(sh->close_cause);
	if (sh->close_code == PH_CLOSE_AGENT_LOST)
		return ph_asprintf("agent %s (%s) was lost mid-session: the shell "
		    "is gone", name, id);
	if (sh->close_code == 1006)
		return ph_asprintf("lost the connection to the relay mid-session "
		    "with %s (%s)", name, id);
	return ph_asprintf("the relay closed the session (code %d%s%s) before the "
	    "shell on %s (%s) exited", sh->close_code,
	    sh->close_reason != NULL && *sh->close_reason != '\0' ? ": " : "",
	    sh->close_reason != NULL ? sh->close_reason : "", name, id);
}

static int
shell_parse(struct shell *sh, struct client_conf *conf, int argc, char **argv,
    const char **target)
{
	char	*cause = NULL;
	int	 i, r;

	*target = NULL;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[0] == '-' && a[1] != '\0') {
			if (strcmp(a, "--pid") == 0 || strcmp(a, "--container") == 0) {
				char	*end;

				if (i + 1 >= argc || argv[i + 1][0] == '\0')
					return cmd_usage_error(&cmd_shell_entry,
					    "%s needs a value", a);
				if (sh->pid > 0 || sh->container != NULL)
					return cmd_usage_error(&cmd_shell_entry,
					    "--pid and --container exclude each other");
				if (a[2] == 'c') {
					sh->container = argv[++i];
					if (strlen(sh->container) > 255)
						return cmd_usage_error(&cmd_shell_entry,
						    "--container: name too long");
					continue;
				}
				sh->pid = strtoll(argv[++i], &end, 10);
				if (*end != '\0' || sh->pid <= 0 || sh->pid > 2147483647LL)
					return cmd_usage_error(&cmd_shell_entry,
					    "--pid %s: not a process id", argv[i]);
				continue;
			}
			r = client_conf_option(conf, argc, argv, &i, &cause);
			if (r < 0) {
				r = cmd_usage_error(&cmd_shell_entry, "%s", cause);
				free(cause);
				return r;
			}
			if (r == 0)
				return cmd_usage_error(&cmd_shell_entry,
				    "unknown option '%s'", a);
			continue;
		}
		if (*target != NULL)
			break;
		*target = a;
	}
	if (*target == NULL)
		return cmd_usage_error(&cmd_shell_entry, "missing TARGET");
	sh->argc = i < argc ? argc - i : 0;
	sh->argv = argv + i;
	return 0;
}

static int
cmd_shell_exec(struct client_conf *conf, int argc, char **argv)
{
	struct shell	 sh;
	json_t		*agents;
	const char	*target;
	char		*cause = NULL;
	int		 r, fd;

	memset(&sh, 0, sizeof sh);
	sh.line_start = 1;
	if ((r = shell_parse(&sh, conf, argc, argv, &target)) != 0)
		return r;
	if (client_conf_load(conf, &cause) != 0)
		return cmd_fail(cause);
	if ((sh.cc = client_conn_new(conf, &cause)) == NULL)
		return cmd_fail(cause);
	if ((agents = client_conn_get_agents(sh.cc, NULL, &cause)) == NULL) {
		client_conn_free(sh.cc);
		return cmd_fail(cause);
	}
	sh.agent = client_target_one(agents, target, conf, &cause);
	json_decref(agents);
	if (sh.agent == NULL) {
		client_conn_free(sh.cc);
		return cmd_fail(cause);
	}
	sh.agent_id = client_printable(client_agent_str(sh.agent, "id"));
	sh.agent_name = client_printable(client_agent_str(sh.agent, "name"));
	if (ph_random_hex(sh.sid, PH_SID_LEN) != 0) {
		r = cmd_failf("cannot draw a random session id");
		goto out;
	}
	sh.sid[PH_SID_LEN] = '\0';
	sh.tty = isatty(STDIN_FILENO);

	client_signal_also(SIGHUP);
	if (sh.tty)
		client_signal_also(SIGWINCH);
	client_signal_block();
	if (sh.tty && shell_tty_raw(&cause) != 0) {
		r = cmd_fail(cause);
		goto out;
	}
	if ((sh.io = client_io_new(sh.cc, 1, &cause)) == NULL ||
	    client_signal_start(sh.cc, &cause) != 0 ||
	    (sh.s = client_session_open(sh.cc, &shell_ops, &sh, &cause)) == NULL) {
		shell_tty_restore();
		r = cmd_fail(cause);
		goto out;
	}
	if (client_conn_run(sh.cc, &sh.done) != 0 && sh.close_cause == NULL)
		sh.close_cause = strdup("the event loop failed");

	/* Last output first (still raw: it is the remote terminal's), then ours. */
	client_signal_detach();
	client_io_detach(sh.io);
	client_session_free(sh.s);
	sh.s = NULL;
	client_conn_free(sh.cc);
	sh.cc = NULL;
	if (sh.abort != SHELL_ABORT_WRITE)
		(void)client_io_flush(sh.io, &fd);
	shell_tty_restore();

	switch (sh.abort) {
	case SHELL_ABORT_ESCAPE:
		r = cmd_failf("disconnected from %s (%s): its shell is hung up",
		    sh.agent_name, sh.agent_id);
		goto out;
	case SHELL_ABORT_SIGNAL:
		r = cmd_failf("%s: closed the session, which hangs up the shell on "
		    "%s (%s)", sh.abort_sig == SIGHUP ? "hung up" : sh.abort_sig ==
		    SIGINT ? "interrupted" : "terminated", sh.agent_name, sh.agent_id);
		goto out;
	case SHELL_ABORT_WRITE:
		r = cmd_failf("cannot write to the terminal: closed the session");
		goto out;
	case SHELL_ABORT_OVERFLOW:
		r = cmd_failf("internal error: the session was closed");
		goto out;
	case SHELL_RUNNING:
		break;
	}
	if (sh.got_exit) {
		if (sh.exit_message != NULL)
			fprintf(stderr, "porthole: %s\n", sh.exit_message);
		r = sh.status;
		goto out;
	}
	r = cmd_fail(shell_failure(&sh));
out:
	shell_tty_restore();
	if (sh.s != NULL)
		client_session_free(sh.s);
	if (sh.cc != NULL) {
		client_signal_detach();
		if (sh.io != NULL)
			client_io_detach(sh.io);
		client_conn_free(sh.cc);
	}
	json_decref(sh.agent);
	free(sh.agent_id);
	free(sh.agent_name);
	free(sh.exit_message);
	free(sh.err_code);
	free(sh.err_message);
	free(sh.close_reason);
	free(sh.close_cause);
	return r;
}

const struct cmd_entry cmd_shell_entry = {
	.name = "shell",
	.alias = "sh",
	.usage = "[--pid PID|--container NAME] TARGET [-- CMD [ARG...]]",
	.about = "an interactive terminal on an agent (~. disconnects, ~? helps)",
	.exec = cmd_shell_exec,
	.flags = CMD_TARGET,
};
