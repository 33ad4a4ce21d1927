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
 * disconnects, "~d" detaches (the agent keeps the shell running: its
 * `detach` answer names the id `porthole attach` takes, and we exit 0),
 * "~?" lists the escapes, "~~" sends one "~"; a "~" followed
 * by anything else is sent with it.  Only with a terminal.  While the
 * session is between connections of a resume the terminal is still read
 * (what is sent is kept for the resume), so the escapes act at once; a
 * `~.` then cannot reach the agent, which ends the shell at its resume
 * timeout, and the CLI says so.
 *
 * Stdin not a terminal (like ssh -T): no raw mode, no escapes, `tty` false;
 * the agent then runs the shell with pipes, and SIGINT/SIGTERM are
 * forwarded as in exec.
 *
 * The exit status is the remote program's (a signal N as 128+N); a lost
 * agent, a disconnect (~.) or any failure of ours is 255 with one line.
 *
 * `porthole attach` (cmd-attach.c) runs the same terminal over an `attach`
 * open, which names the detached shell instead of a program
 * (cmd_shell_attach).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "porthole/duration.h"
#include "porthole/frame.h"
#include "porthole/protocol.h"
#include "porthole/util.h"

#include "client-conn.h"
#include "client-exit.h"
#include "client-io.h"
#include "client-out.h"
#include "client-run.h"
#include "client-signal.h"
#include "client-target.h"
#include "cmd.h"

#define SHELL_ESC	'~'

struct shell {
	struct client_run	 run;		/* agent, session, outcome */
	int			 argc;
	char			**argv;

	int			 tty;		/* stdin is a terminal: raw mode */
	int			 eof_sent;
	int			 line_start;	/* the last byte sent ended a line */
	int			 tilde;		/* a ~ after a newline is held back */
	int			 abort_sig;
	int			 abort_between;	/* ... while the relay was away */
	const char		*attach;	/* attach: the detached shell's id */
	int			 ready;		/* the agent's ready came */
	int			 detach_due;	/* ~d typed: send `detach` */
	int			 detaching;	/* `detach` sent: stdin no longer read */
	char			*detached;	/* the agent's answer: the shell's id */
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
shell_local(struct shell *sh, const char *text)
{
	client_io_write(sh->run.io, 2, text, strlen(text));
}

/* Does the agent serve attach (hello.caps), so that ~d can keep the shell? */
static int
shell_can_detach(const struct shell *sh)
{
	return client_agent_has_cap(sh->run.agent, "attach");
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
				sh->abort_between = sh->run.s != NULL &&
				    client_session_between(sh->run.s);
				client_run_abort(&sh->run, CLIENT_RUN_ABORT_ESCAPE, "disconnected");
				return -1;
			}
			if (c == 'd' && !shell_can_detach(sh)) {
				shell_local(sh, "~d\r\nporthole: this agent cannot keep a "
				    "detached shell (it is older, or there is no terminal): "
				    "not detached\r\n");
				sh->line_start = 1;
				continue;
			}
			if (c == 'd') {
				shell_local(sh, "~d\r\n");
				sh->detach_due = 1;
				return (ssize_t)o;	/* the rest of the chunk is not sent */
			}
			if (c == '?') {
				shell_local(sh, "~?\r\nSupported escape sequences:\r\n"
				    " ~.   - disconnect\r\n"
				    " ~d   - detach: the shell runs on; porthole attach "
				    "takes it up again\r\n"
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
shell_pump(void *arg)
{
	struct shell		*sh = arg;
	struct client_run	*r = &sh->run;
	struct client_io_status	 st;
	const uint8_t		*p;
	uint8_t			*buf;
	size_t			 n;
	ssize_t			 m;

	if (!r->established || r->abort != CLIENT_RUN_RUNNING || r->got_exit ||
	    sh->eof_sent || sh->detaching)
		return;
	/* Between connections too: ~. acts at once, the rest is kept. */
	while ((!client_session_full(r->s) || (sh->tty &&
	    client_session_keeps(r->s))) && client_io_peek(r->io, &p, &n)) {
		if (!sh->tty) {
			if (client_session_send(r->s, PH_FRAME_STDIN, p, n) != 0)
				return;
			client_io_pop(r->io);
			continue;
		}
		if ((buf = malloc(2 * n + 1)) == NULL) {
			client_run_abort(r, CLIENT_RUN_ABORT_OVERFLOW, "out of memory");
			return;
		}
		m = shell_escapes(sh, p, n, buf);
		client_io_pop(r->io);
		/* One input chunk is at most PH_MAX_PAYLOAD: split in two if needed. */
		if (m > 0 && client_session_send(r->s, PH_FRAME_STDIN, buf,
		    (size_t)m > PH_MAX_PAYLOAD ? PH_MAX_PAYLOAD : (size_t)m) == 0 &&
		    (size_t)m > PH_MAX_PAYLOAD)
			client_session_send(r->s, PH_FRAME_STDIN, buf + PH_MAX_PAYLOAD,
			    (size_t)m - PH_MAX_PAYLOAD);
		free(buf);
		if (m < 0)
			return;
		if (sh->detach_due) {
			/* After the keystrokes before it; nothing after it is read. */
			sh->detach_due = 0;
			sh->detaching = 1;
			client_session_send_ctl(r->s, ph_ctl_new(PH_CTL_DETACH));
			return;
		}
	}
	client_io_status(r->io, &st);
	if (st.in_eof && !sh->tty && client_session_send_ctl(r->s,
	    ph_ctl_new(PH_CTL_EOF)) == 0)
		sh->eof_sent = 1;
}

static void
shell_open(void *arg)
{
	struct shell	*sh = arg;
	json_t		*o;
	const char	*term = getenv("TERM");
	int		 cols, rows;

	shell_winsize(&cols, &rows);
	if (sh->attach != NULL)
		o = client_run_open(&sh->run, "attach", 0, NULL, sh->tty,
		    json_pack("{s:s, s:s, s:i, s:i}", "session", sh->attach,
		    "term", term != NULL && *term != '\0' ? term : "dumb",
		    "cols", cols, "rows", rows), 1);
	else
		o = client_run_open(&sh->run, "shell", sh->argc, sh->argv, sh->tty,
		    json_pack("{s:s, s:i, s:i}",
		    "term", term != NULL && *term != '\0' ? term : "dumb",
		    "cols", cols, "rows", rows), 1);
	if (o == NULL) {
		client_run_abort(&sh->run, CLIENT_RUN_ABORT_OVERFLOW,
		    "internal error");
		return;
	}
	client_run_send_open(&sh->run, o);
}

static void
shell_resize(struct shell *sh)
{
	json_t	*o;
	int	 cols, rows;

	if (!sh->run.established || !sh->tty ||
	    sh->run.abort != CLIENT_RUN_RUNNING || sh->run.got_exit)
		return;
	shell_winsize(&cols, &rows);
	if ((o = ph_ctl_new(PH_CTL_RESIZE)) == NULL)
		return;
	json_object_set_new(o, "cols", json_integer(cols));
	json_object_set_new(o, "rows", json_integer(rows));
	client_session_send_ctl(sh->run.s, o);
}

static void
shell_signal(void *arg, int sig)
{
	struct shell	*sh = arg;

	if (sig == SIGWINCH) {
		shell_resize(sh);
		return;
	}
	if (sig == SIGTERM || sig == SIGHUP) {
		/* The terminal first: we may not get another chance. */
		shell_tty_restore();
		sh->abort_sig = sig;
		sh->abort_between = sh->run.s != NULL &&
		    client_session_between(sh->run.s);
		client_run_abort(&sh->run, CLIENT_RUN_ABORT_SIGNAL, "terminated");
		return;
	}
	/* SIGINT from outside (a terminal in raw mode sends ^C itself). */
	if (client_run_forward(&sh->run, "INT"))
		return;
	sh->abort_sig = sig;
	client_run_abort(&sh->run, CLIENT_RUN_ABORT_SIGNAL, "interrupted");
}

/* The agent's answer to ~d: the shell runs on, under the id it names. */
static int
shell_frame(void *arg, const struct ph_frame *f)
{
	struct shell	*sh = arg;
	const char	*id;
	char		*line, t[PH_DURATION_FMT_MAX];
	json_int_t	 ms;

	if (f->type == PH_FRAME_CONTROL && f->ctl == PH_CTL_READY)
		sh->ready = 1;
	if (f->type == PH_FRAME_CONTROL && f->ctl == PH_CTL_READY &&
	    sh->attach != NULL && sh->tty &&
	    json_is_integer(json_object_get(f->json, "held_ms"))) {
		/* A held shell taken over: its old CLI cannot come back. */
		ms = json_integer_value(json_object_get(f->json, "held_ms"));
		line = ph_asprintf("porthole: took over shell %.12s, held since its "
		    "CLI's connection dropped %s ago (that CLI cannot resume it "
		    "now); what it missed follows\r\n", sh->attach,
		    ph_duration_fmt(ms > 0 ? ms : 0, t, sizeof t));
		if (line != NULL)
			shell_local(sh, line);
		free(line);
		return 0;	/* the run's own handling too */
	}
	if (f->type != PH_FRAME_CONTROL || f->ctl != PH_CTL_DETACH)
		return 0;
	id = json_string_value(json_object_get(f->json, "session"));
	if (!sh->detaching || !ph_sid_valid(id) || sh->detached != NULL) {
		client_session_fail(sh->run.s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
		    "detach that was not asked for");
		return 1;
	}
	sh->detached = strdup(id);
	client_run_abort(&sh->run, CLIENT_RUN_ABORT_COMMAND, "detached");
	return 1;
}

static const struct client_run_ops shell_ops = {
	.open = shell_open,
	.pump = shell_pump,
	.signal = shell_signal,
	.frame = shell_frame,
};

/* Why a shell left while the relay was away lives on. */
static const char shell_held[] = "nobody could tell the agent, so its shell "
    "runs on until the agent's resume timeout ends it (5m unless "
    "PORTHOLE_RESUME_TIMEOUT says)";

/* The one line for a session that ended without `exit`; malloc'd. */
static char *
shell_failure(struct shell *sh)
{
	/* attach's refusals (before ready) are the agent's words (client-exit.c) */
	return client_run_failure(&sh->run, sh->attach != NULL && !sh->ready ?
	    "attach" : "shell", "the shell is gone");
}

/* The terminal's session on target, once parsed; frees the run. */
static int
shell_run(struct shell *sh, struct client_conf *conf, const char *target)
{
	struct client_run	*run = &sh->run;
	char			*cause = NULL;
	int			 r, fd, e;

	if ((r = client_run_resolve(run, conf, target)) != 0)
		goto out;
	sh->tty = isatty(STDIN_FILENO);
	if (sh->attach != NULL && !sh->tty) {
		r = cmd_failf("attach needs a terminal: stdin is not one");
		goto out;
	}

	client_signal_also(SIGHUP);
	if (sh->tty)
		client_signal_also(SIGWINCH);
	client_signal_block();
	if (sh->tty && shell_tty_raw(&cause) != 0) {
		r = cmd_fail(cause);
		goto out;
	}
	if (client_run_loop(run, 1, &shell_ops, sh, &cause) != 0) {
		shell_tty_restore();
		r = cmd_fail(cause);
		goto out;
	}

	/* Last output first (still raw: it is the remote terminal's), then ours. */
	if (run->abort != CLIENT_RUN_ABORT_WRITE &&
	    run->abort != CLIENT_RUN_ABORT_PIPE &&
	    (e = client_io_flush(run->io, &fd)) != 0) {
		shell_tty_restore();
		r = client_out_failed(fd, e, "the output is truncated");
		goto out;
	}
	shell_tty_restore();

	switch (run->abort) {
	case CLIENT_RUN_ABORT_ESCAPE:
		if (sh->abort_between) {
			r = cmd_failf("disconnected from %s (%s) while the relay was "
			    "away: %s", run->agent_name, run->agent_id, shell_held);
			goto out;
		}
		r = cmd_failf("disconnected from %s (%s): its shell is hung up",
		    run->agent_name, run->agent_id);
		goto out;
	case CLIENT_RUN_ABORT_SIGNAL:
		if (sh->abort_between) {
			r = cmd_failf("%s while the relay was away (%s, %s): %s",
			    sh->abort_sig == SIGHUP ? "hung up" : "terminated",
			    run->agent_name, run->agent_id, shell_held);
			goto out;
		}
		r = cmd_failf("%s: closed the session, which hangs up the shell on "
		    "%s (%s)", sh->abort_sig == SIGHUP ? "hung up" : sh->abort_sig ==
		    SIGINT ? "interrupted" : "terminated", run->agent_name,
		    run->agent_id);
		goto out;
	case CLIENT_RUN_ABORT_PIPE:	/* not a terminal: ends like exec */
		r = client_out_failed(run->out_fd, run->out_errno, "closed the session");
		goto out;
	case CLIENT_RUN_ABORT_WRITE:
		r = cmd_failf("cannot write to the terminal: closed the session");
		goto out;
	case CLIENT_RUN_ABORT_COMMAND:
		if (sh->detached != NULL) {
			fprintf(stderr, "porthole: detached: the shell goes on running on %s "
			    "(%s) as session %s; take it up again with: porthole "
			    "attach %.12s\n", run->agent_name, run->agent_id,
			    sh->detached, sh->detached);
			r = 0;
			goto out;
		}
		r = cmd_failf("internal error: the session was closed");
		goto out;
	case CLIENT_RUN_ABORT_OVERFLOW:
		r = cmd_failf("internal error: the session was closed");
		goto out;
	case CLIENT_RUN_RUNNING:
		break;
	}
	if (run->got_exit) {
		if (run->exit_message != NULL)
			fprintf(stderr, "porthole: %s\n", run->exit_message);
		r = run->status;
		goto out;
	}
	r = cmd_fail(shell_failure(sh));
out:
	shell_tty_restore();
	client_run_free(run);
	free(sh->detached);
	return r;
}

static int
cmd_shell_exec(struct client_conf *conf, int argc, char **argv)
{
	struct shell	sh;
	const char	*target;
	int		r;

	memset(&sh, 0, sizeof sh);
	sh.line_start = 1;
	if ((r = client_run_parse(&sh.run, &cmd_shell_entry, conf, argc, argv, NULL,
	    NULL, &target, &sh.argc, &sh.argv)) != 0)
		return r;
	return shell_run(&sh, conf, target);
}

int
cmd_shell_attach(struct client_conf *conf, const char *agent, const char *id)
{
	struct shell	sh;

	memset(&sh, 0, sizeof sh);
	sh.line_start = 1;
	sh.attach = id;
	return shell_run(&sh, conf, agent);
}

const struct cmd_entry cmd_shell_entry = {
	.name = "shell",
	.alias = "sh",
	.usage = "[--pid PID|--container NAME] TARGET [-- CMD [ARG...]]",
	.about = "an interactive terminal on an agent (~. disconnects, ~d detaches, ~? helps)",
	.exec = cmd_shell_exec,
	.flags = CMD_TARGET,
	.description = "A terminal on the agent TARGET names, as ssh gives one: "
	    "the agent's shell (or CMD) runs on a pty sized as your terminal, "
	    "and your terminal is in raw mode, so Ctrl-C, Ctrl-Z and Ctrl-\\ "
	    "reach the remote program. After a newline, ~. disconnects, ~d "
	    "detaches (the shell goes on running on the agent, its latest output kept; "
	    "porthole sessions lists it and porthole attach takes it up again, "
	    "within the agent's PORTHOLE_DETACH_TTL, 1h by default), ~? lists "
	    "the escapes and ~~ sends one ~. With stdin not a terminal there is "
	    "no pty and no escapes (as ssh -T). The status is the remote "
	    "program's.",
	.options = (const struct ph_help_opt[]){
		CLIENT_RUN_HELP_OPTIONS,
		{ NULL, NULL, NULL, NULL }
	},
};
