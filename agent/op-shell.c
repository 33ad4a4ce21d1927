/*
 * op-shell.c - the `shell` operation: a program on a pseudo-terminal, the
 * client's keystrokes in, the terminal's output out, the window size kept
 * in step, and the program's exit status at the end.
 *
 * Which program: the open's argv when there is one, else a login shell:
 * $PORTHOLE_SHELL (read when the agent started), else the shell of the
 * agent's user in the image's /etc/passwd (read by us, no NSS), else
 * /bin/sh.  A shell that is not there ends the session with exit 127 and
 * a message that points at exec, ps and dump, which need no shell.
 *
 * With `tty` false (the client's stdin is not a terminal, like ssh -T) the
 * shell runs with pipes: the session is handed to the exec operation.
 *
 * The pty master joins the loop as a raw file (research §8).  Output is
 * read only while the session's queue is under its high mark; above it the
 * master is paused, the program blocks writing its terminal, and nothing
 * grows.  The master hangs up (EIO) once every holder of the slave is
 * gone; libwebsockets may close a paused fd at once on that, so
 * RAW_CLOSE_FILE drains what is left.  Input: STDIN frames go through a
 * bounded queue written on RAW_WRITEABLE_FILE (the data channel is paused
 * above its high mark); `resize` is TIOCSWINSZ (the kernel tells the
 * foreground group with SIGWINCH); `signal` goes to the terminal's
 * foreground process group.
 *
 * `exit` is sent when the program is reaped and the master is closed (its
 * output read).  A reaped program whose terminal is still held by a
 * background process: the master is drained and closed then.  Lost
 * session: the master is closed (the kernel hangs up the terminal: SIGHUP
 * to its session), SIGHUP to the program's process group, and SIGKILL
 * after the grace if it is still there.  The part of the child's life
 * shell shares with exec is op-child.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "porthole/frame.h"
#include "porthole/log.h"
#include "porthole/ops.h"
#include "porthole/util.h"

#include "agent.h"
#include "op.h"

#define SHELL_IN_LOW	(16 * 1024)
#define SHELL_IN_HIGH	(64 * 1024)
#define SHELL_IN_LIMIT	(SHELL_IN_HIGH + PH_MAX_MESSAGE)
/* Most a closing master can still give (a pty holds a few KiB). */
#define SHELL_DRAIN_MAX	(1024 * 1024)
#define SHELL_TERM_MAX	64
#define SHELL_DEFAULT	"/bin/sh"

struct op_shell {
	struct op_child	 c;		/* the program, the keystroke queue (op-child.c) */
	struct lws	*pty;		/* the master in the loop; NULL once closed */
	int		 paused;	/* master reads paused: the session is full */
	char		 id[PH_SID_LEN + 1]; /* the sid that started it: kept across attaches */
};

/*
 * The login shell of uid in /etc/passwd (read directly: the static agent
 * has no NSS).  Returns a malloc'd path, or NULL when there is none.
 */
static char *
shell_of_user(uid_t uid)
{
	FILE	*f;
	char	 line[1024], *fields[7], *p, *nl, *found = NULL;
	int	 n;

	if ((f = fopen("/etc/passwd", "re")) == NULL)
		return NULL;
	while (found == NULL && fgets(line, sizeof line, f) != NULL) {
		if ((nl = strchr(line, '\n')) != NULL)
			*nl = '\0';
		p = line;
		for (n = 0; n < 7 && p != NULL; n++)
			fields[n] = strsep(&p, ":");
		if (n < 7 || fields[6][0] != '/')
			continue;
		if (strtoul(fields[2], NULL, 10) == (unsigned long)uid && fields[2][0] != '\0')
			found = strdup(fields[6]);
	}
	fclose(f);
	return found;
}

/* Which shell to run: PORTHOLE_SHELL, the user's, /bin/sh.  malloc'd. */
static char *
shell_choose(struct agent *a)
{
	char	*sh;

	if (a->cfg.shell != NULL && a->cfg.shell[0] != '\0')
		return strdup(a->cfg.shell);
	if ((sh = shell_of_user(getuid())) != NULL) {
		if (access(sh, X_OK) == 0)
			return sh;
		free(sh);
	}
	return strdup(SHELL_DEFAULT);
}

static json_t *
shell_exit_message(struct op_shell *x)
{
	if (WIFSIGNALED(x->c.status))
		return ph_ctl_exit_signal(WTERMSIG(x->c.status));
	return ph_ctl_exit_code(WEXITSTATUS(x->c.status));
}

/* Send `exit` once reaped and the master is closed; may free the session. */
static void
shell_check(struct op_shell *x)
{
	struct agent_session	*s = x->c.s;

	if (op_child_exit_due(&x->c, x->pty != NULL))
		agent_session_exit(s, shell_exit_message(x));
	agent_session_check(s);
}

/* Read what the master holds now (it hung up, or the program is gone). */
static void
shell_drain(struct op_shell *x, int fd)
{
	op_child_drain(&x->c, fd, PH_FRAME_STDOUT, SHELL_DRAIN_MAX, "the terminal");
}

static void
shell_close_pty(struct op_shell *x)
{
	if (x->pty != NULL)
		lws_set_timeout(x->pty, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static void
shell_reaped(void *arg, pid_t pid, int status)
{
	struct op_shell	*x = arg;

	(void)pid;
	x->c.reaped = 1;
	x->c.status = status;
	if (x->pty != NULL && !x->c.lost) {
		/* Whatever it wrote before it ended is in the master now. */
		shell_drain(x, lws_get_socket_fd(x->pty));
		shell_close_pty(x);
	}
	shell_check(x);
}

static void
shell_resume(struct agent_session *s)
{
	struct op_shell	*x = s->op_data;

	if (x == NULL || !x->paused || s->op != &op_shell_entry)
		return;
	x->paused = 0;
	if (x->pty != NULL)
		lws_rx_flow_control(x->pty, 1 | LWS_RXFLOW_REASON_FLAG_PROCESS_NOW);
}

int
op_shell_pty_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct agent	*a = lws_context_user(lws_get_context(wsi));
	struct op_shell	*x;
	ssize_t		 n;
	int		 fd;

	(void)user;
	(void)in;
	(void)len;
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if ((x = lws_get_opaque_user_data(wsi)) == NULL || a->destroying)
			return -1;
		fd = lws_get_socket_fd(wsi);
		n = read(fd, a->iobuf, agent_session_read_max(x->c.s));
		if (n > 0) {
			if (!x->c.lost) {
				agent_session_send(x->c.s, PH_FRAME_STDOUT, a->iobuf, (size_t)n);
				if (agent_session_over_high(x->c.s) && !x->paused) {
					x->paused = 1;
					lws_rx_flow_control(wsi, 0);
				}
			}
			return 0;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		return -1;	/* EIO: every holder of the slave is gone */
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		if ((x = lws_get_opaque_user_data(wsi)) == NULL || a->destroying)
			return -1;
		/* Keystrokes to the master; a failed write (EIO: hung up) is
		 * left to the read side, which closes it. */
		(void)op_child_write(&x->c, wsi);
		return 0;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if ((x = lws_get_opaque_user_data(wsi)) == NULL || a->destroying ||
		    x->pty != wsi)
			return 0;
		if (!x->c.lost)
			shell_drain(x, lws_get_socket_fd(wsi));
		x->pty = NULL;
		op_child_input_closed(&x->c);
		shell_check(x);
		return 0;
	default:
		return 0;
	}
}

/* In the child, on the slave: never returns.  t: the process to enter. */
static void __attribute__((noreturn))
shell_child(char **argv, const char *path, const char *term, const struct agent_target *t)
{
	const char	*why = NULL;
	char		 msg[512];
	int		 n;

	if (agent_target_enter(t, &why) != 0) {
		dprintf(2, "porthole-agent: %s: %s\r\n", why, strerror(errno));
		_exit(126);
	}
	agent_proc_prepare(-1);
	setenv("TERM", term, 1);
	execvp(path, argv);
	n = snprintf(msg, sizeof msg, "porthole-agent: %s: %s\r\n", path, strerror(errno));
	if (n > 0)
		(void)!write(2, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
	_exit(errno == ENOENT ? 127 : 126);
}

/* A window size member (the open's cols/rows, or a resize's), or dflt. */
static int
shell_size(const json_t *j, int dflt)
{
	json_int_t	v = json_integer_value(j);

	return v >= 1 && v <= 65535 ? (int)v : dflt;
}

/* Hand a shell without a terminal to the exec operation (pipes). */
static int
shell_start_pipes(struct agent_session *s, json_t *req, const char *path)
{
	json_t	*argv = ph_open_get(req, "argv");

	if (!json_is_array(argv) || json_array_size(argv) == 0) {
		argv = json_pack("[s]", path);
		if (argv == NULL || json_object_set_new(req, "argv", argv) != 0) {
			agent_session_fail(s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL, "out of memory");
			return -1;
		}
	}
	s->op = &op_exec_entry;
	return op_exec_entry.start(s, req);
}

/* No shell to run: the session ends 127, saying what to use instead. */
static void
shell_none(struct agent_session *s, const char *path, int e)
{
	json_t	*m;

	if ((m = ph_ctl_exit_code(127)) != NULL)
		json_object_set_new(m, "message", json_sprintf("no shell on agent "
		    "%s: %s: %s; use 'porthole exec' with a program the image has, "
		    "'porthole ps' or 'porthole dump', which need no shell",
		    s->agent->id, path, strerror(e)));
	ph_info("session %.8s: no shell: %s: %s", s->sid, path, strerror(e));
	agent_session_exit(s, m);
}

/* The client's TERM if it is a plain name, else xterm. */
static const char *
shell_term(const char *term)
{
	if (term == NULL || *term == '\0' || strlen(term) > SHELL_TERM_MAX ||
	    strspn(term, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789-_.+") != strlen(term))
		return "xterm";
	return term;
}

static int
shell_start(struct agent_session *s, json_t *req)
{
	struct agent	*a = s->agent;
	struct op_shell	*x;
	struct winsize	 ws;
	json_t		*jargv = ph_open_get(req, "argv");
	const char	*term = json_string_value(ph_open_get(req, "term"));
	char		**argv = NULL, *path = NULL, *login = NULL, *base;
	size_t		 argc, i;
	int		 master = -1, e, in_target;
	struct agent_target t;
	const char	*tcode = NULL;
	char		*tcause = NULL;
	pid_t		 pid;

	argc = json_is_array(jargv) ? json_array_size(jargv) : 0;
	if (!op_child_argv_ok(s, jargv))
		return -1;
	/* Inside another process's root (--pid, --container): its /bin/sh. */
	in_target = ph_open_get(req, "pid") != NULL ||
	    ph_open_get(req, "container") != NULL;
	if (argc == 0) {
		if ((path = in_target ? strdup("/bin/sh") : shell_choose(a)) == NULL)
			goto nomem;
		if (!in_target && access(path, X_OK) != 0) {
			shell_none(s, path, errno);
			free(path);
			return 0;
		}
		if (!json_is_true(ph_open_get(req, "tty"))) {
			e = shell_start_pipes(s, req, path);
			free(path);
			return e;
		}
	} else if (!json_is_true(ph_open_get(req, "tty")))
		return shell_start_pipes(s, req, NULL);

	term = shell_term(term);

	if ((argv = calloc(argc > 0 ? argc + 1 : 2, sizeof *argv)) == NULL)
		goto nomem;
	if (argc == 0) {
		/* A login shell: argv[0] is "-" and its base name. */
		base = strrchr(path, '/');
		login = ph_asprintf("-%s", base != NULL ? base + 1 : path);
		if (login == NULL)
			goto nomem;
		argv[0] = login;
	} else {
		for (i = 0; i < argc; i++)
			argv[i] = (char *)json_string_value(json_array_get(jargv, i));
		if ((path = strdup(argv[0])) == NULL)
			goto nomem;
	}

	if ((x = calloc(1, sizeof *x)) == NULL)
		goto nomem;
	/* A partial write to the master is retried 1 ms later. */
	op_child_init(&x->c, s, &x->pty, SHELL_IN_LOW, SHELL_IN_HIGH, SHELL_IN_LIMIT,
	    1000);
	memcpy(x->id, s->sid, PH_SID_LEN);
	s->op_data = x;

	memset(&ws, 0, sizeof ws);
	ws.ws_col = (unsigned short)shell_size(ph_open_get(req, "cols"), 80);
	ws.ws_row = (unsigned short)shell_size(ph_open_get(req, "rows"), 24);
	if (agent_target_resolve(a, req, &t, &tcode, &tcause) != 0) {
		free(argv);
		free(login);
		free(path);
		agent_session_fail(s, PH_CLOSE_NORMAL, tcode, "%s", tcause);
		free(tcause);
		return -1;
	}
	pid = forkpty(&master, NULL, NULL, &ws);
	if (pid == 0)
		shell_child(argv, path, term, &t);
	e = errno;
	agent_target_clear(&t);
	free(argv);
	free(login);
	if (pid < 0) {
		agent_session_fail(s, PH_CLOSE_INTERNAL, PH_ERR_SPAWN, "forkpty: %s",
		    strerror(e));
		free(path);
		return -1;
	}
	fcntl(master, F_SETFD, FD_CLOEXEC);
	if (op_child_watch(&x->c, pid, shell_reaped, x) != 0) {
		close(master);
		free(path);
		agent_session_fail(s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL, "out of memory");
		return -1;
	}
	if ((x->pty = op_child_adopt(&x->c, master, OP_SHELL_PROTOCOL, x)) == NULL) {
		agent_proc_hangup(a, pid);
		free(path);
		agent_session_fail(s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL,
		    "cannot add the terminal to the event loop");
		return -1;
	}
	ph_info("session %.8s: started pid %d on a %dx%d terminal (%s): %s", s->sid,
	    (int)pid, ws.ws_col, ws.ws_row, term, path);
	free(path);
	op_child_ready(&x->c);
	return 0;

nomem:
	free(argv);
	free(login);
	free(path);
	agent_session_fail(s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL, "out of memory");
	return -1;
}

static void
shell_input(struct agent_session *s, const struct ph_frame *f)
{
	struct op_shell	*x = s->op_data;
	struct winsize	 ws;
	const char	*name;
	pid_t		 fg;
	int		 signo;

	if (x == NULL || op_child_input(&x->c, f, "terminal input queue"))
		return;
	switch (f->ctl) {
	case PH_CTL_RESIZE:
		if (x->pty == NULL)
			break;
		memset(&ws, 0, sizeof ws);
		ws.ws_col = (unsigned short)shell_size(json_object_get(f->json, "cols"), 80);
		ws.ws_row = (unsigned short)shell_size(json_object_get(f->json, "rows"), 24);
		if (ioctl(lws_get_socket_fd(x->pty), TIOCSWINSZ, &ws) != 0)
			ph_debug("session %.8s: TIOCSWINSZ: %s", s->sid, strerror(errno));
		break;
	case PH_CTL_SIGNAL:
		if ((signo = op_child_signal(s, f, &name)) < 0)
			break;
		fg = x->pty != NULL ? tcgetpgrp(lws_get_socket_fd(x->pty)) : -1;
		if (fg <= 0 && !x->c.reaped)
			fg = x->c.pid;
		if (fg > 0)
			kill(-fg, signo);
		break;
	default:
		break;		/* eof: a terminal has no end of input but ^D */
	}
}

static void
shell_lost(struct agent_session *s)
{
	struct op_shell	*x = s->op_data;

	if (x == NULL || s->op != &op_shell_entry || !op_child_lose(&x->c))
		return;
	shell_close_pty(x);	/* the terminal hangs up: SIGHUP to its session */
	if (x->c.pid > 0 && !x->c.reaped)
		agent_proc_hangup(s->agent, x->c.pid);
}

static int
shell_busy(struct agent_session *s)
{
	struct op_shell	*x = s->op_data;

	if (x == NULL)
		return 0;
	return op_child_busy(&x->c, x->pty != NULL);
}

static void
shell_free(struct agent_session *s)
{
	struct op_shell	*x = s->op_data;

	if (x == NULL)
		return;
	op_child_free(&x->c);
	free(x);
	s->op_data = NULL;
}

/* A shell on a pty of this session, running: its id (detach, attach), else NULL. */
const char *
op_shell_id(const struct agent_session *s)
{
	const struct op_shell	*x = s->op_data;

	if (s->op != &op_shell_entry || x == NULL || x->pty == NULL || x->c.reaped ||
	    x->c.lost)
		return NULL;
	return x->id;
}

/* Its program's pid (0: none). */
long
op_shell_pid(const struct agent_session *s)
{
	const struct op_shell	*x = s->op_data;

	return s->op == &op_shell_entry && x != NULL ? (long)x->c.pid : 0;
}

/*
 * The shell of from now belongs to to (detach: to the agent's holder of
 * the detached shell; attach: to the attaching session): from keeps no
 * operation.  Its output is read again at once (to's queue decides).
 */
void
op_shell_move(struct agent_session *from, struct agent_session *to)
{
	struct op_shell	*x = from->op_data;

	to->op = &op_shell_entry;
	to->op_data = x;
	from->op = NULL;
	from->op_data = NULL;
	x->c.s = to;
	shell_resume(to);
}

/*
 * Redraw the screen of an attaching terminal: the pty takes its size, and
 * the program gets SIGWINCH even when the size is the one it had (the
 * kernel signals only a change: one row less first, then the size).
 */
void
op_shell_redraw(struct agent_session *s, int cols, int rows)
{
	struct op_shell	*x = s->op_data;
	struct winsize	 ws, now;
	int		 fd;

	if (s->op != &op_shell_entry || x == NULL || x->pty == NULL)
		return;
	fd = lws_get_socket_fd(x->pty);
	memset(&ws, 0, sizeof ws);
	ws.ws_col = (unsigned short)(cols >= 1 && cols <= 65535 ? cols : 80);
	ws.ws_row = (unsigned short)(rows >= 1 && rows <= 65535 ? rows : 24);
	if (ioctl(fd, TIOCGWINSZ, &now) == 0 && now.ws_col == ws.ws_col &&
	    now.ws_row == ws.ws_row) {
		now.ws_row = ws.ws_row > 1 ? ws.ws_row - 1 : ws.ws_row + 1;
		(void)ioctl(fd, TIOCSWINSZ, &now);
	}
	if (ioctl(fd, TIOCSWINSZ, &ws) != 0)
		ph_debug("session %.8s: TIOCSWINSZ: %s", s->sid, strerror(errno));
}

const struct op_entry op_shell_entry = {
	.name = "shell",
	.start = shell_start,
	.input = shell_input,
	.resume = shell_resume,
	.lost = shell_lost,
	.busy = shell_busy,
	.free = shell_free,
};
