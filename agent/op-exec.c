/*
 * op-exec.c - the `exec` operation: run argv with pipes, stream its stdout
 * and stderr apart, feed it the client's stdin, report how it ended.
 *
 * The child gets a session and process group of its own, default signal
 * dispositions, an empty mask and no fd but 0/1/2 (agent_proc_prepare),
 * then execvp()s.  Whether exec worked comes back on a close-on-exec
 * "status" pipe: EOF means it did, an errno means it did not (ENOENT →
 * exit 127 "ARGV0: not found", anything else → 126).  Nothing waits for
 * it: all four pipe ends the agent keeps (stdout, stderr, status, stdin)
 * join the event loop as raw files (research §8).
 *
 * Output: stdout and stderr are one set of agent_fd (agent-fd.c): read
 * into frames of their own, partial frames held back briefly to grow,
 * both paused while the session's queue is above its high mark (a slow
 * client blocks the program in write(2)), drained when they hang up while
 * paused.  A helper started with op_exec_start_as() may have its stdout
 * sent as DATA frames (the dump worker: a file's bytes) and its stderr
 * handed to a sink of its own (the dump's events, op-dump.c).
 *
 * Input: STDIN frames go to a bounded queue written to the stdin pipe on
 * RAW_WRITEABLE_FILE; above its high mark the data channel stops being
 * read.  `eof` closes the pipe once the queue is written.
 *
 * `exit` is sent only when the child is reaped AND stdout, stderr and the
 * status pipe reached EOF, so no output is ever lost behind it.  If the
 * session is lost first, the pipes are closed (a writer gets EPIPE) and
 * the process group gets SIGTERM, then SIGKILL after the grace.
 *
 * Timeout (`open` timeout_ms, grace_ms): the timer lives here, not in the
 * CLI, so it holds however slow the client is.  When it fires the process
 * group gets SIGTERM (and SIGCONT), and SIGKILL grace_ms later if any
 * member is left; `exit` then carries "timeout": true.
 *
 * What exec shares with shell (the watch, the stdin queue and its writer,
 * draining, when `exit` is due, the first step of a lost session) is
 * op-child.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "porthole/frame.h"
#include "porthole/log.h"
#include "porthole/ops.h"
#include "porthole/util.h"

#include "agent.h"
#include "agent-fd.h"
#include "op.h"

#define EXEC_IN_LOW	(64 * 1024)
#define EXEC_IN_HIGH	(256 * 1024)
/* High mark, plus what one read of the data channel may still deliver. */
#define EXEC_IN_LIMIT	(1024 * 1024)

enum exec_pipe_kind { EXEC_STDIN, EXEC_STDOUT, EXEC_STDERR, EXEC_STATUS, EXEC_NPIPES };

struct op_exec;

/*
 * One pipe end in the loop; the wsi's opaque user data points here.  fd.wsi
 * is its wsi (NULL once closed); the rest of fd serves stdout and stderr.
 */
struct exec_pipe {
	struct op_exec	*x;
	int		 kind;		/* enum exec_pipe_kind */
	struct agent_fd	 fd;
};

struct op_exec {
	struct op_child	 c;		/* the child, its stdin queue (op-child.c) */
	int		 exec_errno;	/* why execvp failed; 0: it did not */
	char		*argv0;		/* for messages */
	struct exec_pipe p[EXEC_NPIPES];
	struct agent_fd_set out;	/* stdout and stderr (agent-fd.c) */
	void		*err_arg;	/* the stderr sink's (struct op_exec_out) */
	void		(*err_free)(void *);
	int64_t		 grace_ms;	/* --timeout: SIGTERM → SIGKILL */
	int		 timed_out;	/* the timeout fired: `exit` says so */
	int		 timer_on;	/* sul_timeout is scheduled */
	lws_sorted_usec_list_t sul_timeout; /* the timeout, then the grace */
};

/* Close a pipe end from outside its own callback (RAW_CLOSE_FILE follows). */
static void
exec_pipe_close(struct op_exec *x, int kind)
{
	if (x->p[kind].fd.wsi != NULL)
		lws_set_timeout(x->p[kind].fd.wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static json_t *
exec_exit_message(struct op_exec *x)
{
	json_t	*m;

	if (x->exec_errno == ENOENT) {
		if ((m = ph_ctl_exit_code(127)) != NULL)
			json_object_set_new(m, "message",
			    json_sprintf("%s: not found", x->argv0));
	} else if (x->exec_errno != 0) {
		if ((m = ph_ctl_exit_code(126)) != NULL)
			json_object_set_new(m, "message",
			    json_sprintf("%s: %s", x->argv0, strerror(x->exec_errno)));
	} else if (WIFSIGNALED(x->c.status))
		m = ph_ctl_exit_signal(WTERMSIG(x->c.status));
	else
		m = ph_ctl_exit_code(WEXITSTATUS(x->c.status));
	if (m != NULL && x->timed_out)
		json_object_set_new(m, "timeout", json_true());
	return m;
}

/*
 * After any change: send `exit` once the child is reaped and its output is
 * all read, then let the session decide whether it can be freed.  May free
 * the session and x: the caller must not touch either afterwards.
 */
static void
exec_check(struct op_exec *x)
{
	struct agent_session	*s = x->c.s;

	if (op_child_exit_due(&x->c, x->p[EXEC_STDOUT].fd.wsi != NULL ||
	    x->p[EXEC_STDERR].fd.wsi != NULL || x->p[EXEC_STATUS].fd.wsi != NULL)) {
		exec_pipe_close(x, EXEC_STDIN);
		agent_session_exit(s, exec_exit_message(x));
	}
	agent_session_check(s);
}

/* Is anything of the program left (leader, or a member holding a pipe)? */
static int
exec_running(struct op_exec *x)
{
	return x->c.pid > 0 && (!x->c.reaped || x->p[EXEC_STDOUT].fd.wsi != NULL ||
	    x->p[EXEC_STDERR].fd.wsi != NULL);
}

/* The grace after the timeout's SIGTERM is over. */
static void
exec_grace_over(lws_sorted_usec_list_t *sul)
{
	struct op_exec	*x = lws_container_of(sul, struct op_exec, sul_timeout);

	x->timer_on = 0;
	if (exec_running(x) && kill(-x->c.pid, 0) == 0) {
		ph_info("session %.8s: process group %d still there %lld ms after "
		    "SIGTERM: SIGKILL", x->c.s->sid, (int)x->c.pid, (long long)x->grace_ms);
		kill(-x->c.pid, SIGKILL);
	}
}

/* open.timeout_ms passed. */
static void
exec_timeout(lws_sorted_usec_list_t *sul)
{
	struct op_exec	*x = lws_container_of(sul, struct op_exec, sul_timeout);

	x->timer_on = 0;
	if (!exec_running(x) || x->c.lost || x->c.exit_sent)
		return;
	x->timed_out = 1;
	ph_info("session %.8s: timeout: SIGTERM to process group %d", x->c.s->sid,
	    (int)x->c.pid);
	kill(-x->c.pid, SIGTERM);
	kill(-x->c.pid, SIGCONT);
	x->timer_on = 1;
	lws_sul_schedule(x->c.s->agent->ctx, 0, &x->sul_timeout, exec_grace_over,
	    (lws_usec_t)x->grace_ms * LWS_US_PER_MS);
}

static void
exec_reaped(void *arg, pid_t pid, int status)
{
	struct op_exec	*x = arg;

	(void)pid;
	x->c.reaped = 1;
	x->c.status = status;
	exec_check(x);
}

/* The session's queue fell below its low mark. */
void
op_exec_resume(struct agent_session *s)
{
	struct op_exec	*x = s->op_data;

	if (x != NULL)
		agent_fd_set_resume(&x->out);
}

/* RAW_RX_FILE: 0 to go on, -1 at EOF or error (lws closes the pipe). */
static int
exec_pipe_rx(struct exec_pipe *p, struct lws *wsi)
{
	struct op_exec	*x = p->x;
	ssize_t		 n;
	int		 e;

	if (p->kind == EXEC_STDOUT || p->kind == EXEC_STDERR)
		return agent_fd_rx(&p->fd, wsi);
	if (p->kind != EXEC_STATUS)
		return 0;
	n = read(lws_get_socket_fd(wsi), &e, sizeof e);
	if (n == (ssize_t)sizeof e) {
		x->exec_errno = e;
		return 0;
	}
	return n < 0 && (errno == EAGAIN || errno == EINTR) ? 0 : -1;
}

/* RAW_CLOSE_FILE: this pipe end is gone (EOF, error, or closed by us). */
static void
exec_pipe_closed(struct exec_pipe *p, struct lws *wsi)
{
	struct op_exec	*x = p->x;
	int		 fd = lws_get_socket_fd(wsi), e;

	if (p->fd.wsi != wsi)
		return;
	if (p->kind == EXEC_STDOUT || p->kind == EXEC_STDERR)
		agent_fd_closed(&p->fd, fd);	/* drains it, unless lost */
	else if (!x->c.lost && p->kind == EXEC_STATUS &&
	    read(fd, &e, sizeof e) == (ssize_t)sizeof e)
		x->exec_errno = e;
	p->fd.wsi = NULL;
	if (p->kind == EXEC_STDIN)
		op_child_input_closed(&x->c);	/* nothing more can reach the child */
	exec_check(x);
}

/* RAW_WRITEABLE_FILE on the stdin pipe (op_child_write). */
static int
exec_pipe_write(struct exec_pipe *p, struct lws *wsi)
{
	struct op_exec	*x = p->x;

	if (p->kind != EXEC_STDIN)
		return 0;
	if (op_child_write(&x->c, wsi) != 0) {
		ph_debug("session %.8s: the program's stdin is closed (%s)", x->c.s->sid,
		    strerror(errno));
		return -1;	/* EPIPE: the program closed its stdin */
	}
	if (ph_queue_peek(&x->c.inq) == NULL && x->c.in_eof)
		return -1;	/* all written: closing gives the program its EOF */
	return 0;
}

int
op_exec_pipe_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct agent		*a = lws_context_user(lws_get_context(wsi));
	struct exec_pipe	*p;

	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if ((p = lws_get_opaque_user_data(wsi)) == NULL || a->destroying)
			return -1;
		return exec_pipe_rx(p, wsi);
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		if ((p = lws_get_opaque_user_data(wsi)) == NULL || a->destroying)
			return -1;
		return exec_pipe_write(p, wsi);
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if ((p = lws_get_opaque_user_data(wsi)) == NULL || a->destroying)
			return 0;
		exec_pipe_closed(p, wsi);
		return 0;
	default:
		return 0;
	}
}

/* Put fd into the loop as pipe end kind; -1 if lws refused (fd closed). */
static int
exec_adopt(struct op_exec *x, int kind, int fd)
{
	x->p[kind].x = x;
	x->p[kind].kind = kind;
	x->p[kind].fd.wsi = op_child_adopt(&x->c, fd, OP_EXEC_PROTOCOL, &x->p[kind]);
	return x->p[kind].fd.wsi != NULL ? 0 : -1;
}

static void
exec_close_fds(int fds[EXEC_NPIPES][2])
{
	int	i, j;

	for (i = 0; i < EXEC_NPIPES; i++) {
		for (j = 0; j < 2; j++) {
			if (fds[i][j] >= 0)
				close(fds[i][j]);
			fds[i][j] = -1;
		}
	}
}

/* In the child: never returns.  t: the process to run inside (--pid). */
static void __attribute__((noreturn))
exec_child(char **argv, int fds[EXEC_NPIPES][2], int want_stdin,
    const struct agent_target *t)
{
	int		 status = fds[EXEC_STATUS][1], e;
	const char	*why = NULL;

	if (dup2(fds[EXEC_STDIN][want_stdin ? 0 : 1], 0) < 0 ||
	    dup2(fds[EXEC_STDOUT][1], 1) < 0 || dup2(fds[EXEC_STDERR][1], 2) < 0) {
		e = errno;
		(void)!write(status, &e, sizeof e);
		_exit(126);
	}
	if (agent_target_enter(t, &why) != 0) {
		e = errno;
		dprintf(2, "porthole-agent: %s: %s\n", why, strerror(e));
		(void)!write(status, &e, sizeof e);
		_exit(126);
	}
	agent_proc_prepare(status);
	execvp(argv[0], argv);
	e = errno;
	(void)!write(status, &e, sizeof e);
	_exit(e == ENOENT ? 127 : 126);
}

/* Make the four pipes (stdin from /dev/null without want_stdin); -1 with errno. */
static int
exec_make_pipes(int fds[EXEC_NPIPES][2], int want_stdin)
{
	int	kind, e;

	memset(fds, -1, sizeof(int) * 2 * EXEC_NPIPES);
	for (kind = 0; kind < EXEC_NPIPES; kind++) {
		if (kind == EXEC_STDIN && !want_stdin) {
			/* [1] holds the child's stdin: /dev/null from the start. */
			fds[kind][1] = open("/dev/null", O_RDONLY | O_CLOEXEC);
			if (fds[kind][1] < 0)
				break;
		} else if (pipe2(fds[kind], O_CLOEXEC) != 0)
			break;
	}
	if (kind == EXEC_NPIPES)
		return 0;
	e = errno;
	exec_close_fds(fds);
	errno = e;
	return -1;
}

/* After fork: close the child's ends, keep the agent's. */
static void
exec_close_child_ends(int fds[EXEC_NPIPES][2], int want_stdin)
{
	close(want_stdin ? fds[EXEC_STDIN][0] : fds[EXEC_STDIN][1]);
	close(fds[EXEC_STDOUT][1]);
	close(fds[EXEC_STDERR][1]);
	close(fds[EXEC_STATUS][1]);
	if (want_stdin)
		fds[EXEC_STDIN][0] = -1;
	else
		fds[EXEC_STDIN][1] = -1;
	fds[EXEC_STDOUT][1] = fds[EXEC_STDERR][1] = fds[EXEC_STATUS][1] = -1;
}

/* The agent's ends join the loop (lws closes an fd it refuses); -1: one failed. */
static int
exec_adopt_all(struct op_exec *x, int fds[EXEC_NPIPES][2])
{
	static const int order[] = { EXEC_STATUS, EXEC_STDOUT, EXEC_STDERR, EXEC_STDIN };
	size_t	i;
	int	kind, fd, failed = 0;

	for (i = 0; i < sizeof order / sizeof order[0]; i++) {
		kind = order[i];
		fd = kind == EXEC_STDIN ? fds[kind][1] : fds[kind][0];
		if (kind == EXEC_STDIN)
			fds[kind][1] = -1;
		else
			fds[kind][0] = -1;
		if (fd < 0)
			continue;
		if (failed || exec_adopt(x, kind, fd) != 0) {
			if (failed)
				close(fd);
			failed = 1;
		}
	}
	return failed ? -1 : 0;
}

/* req's argv as a NULL-terminated vector into req (NULL: the session failed). */
static char **
exec_argv(struct agent_session *s, json_t *jargv)
{
	size_t	argc = json_is_array(jargv) ? json_array_size(jargv) : 0, i;
	char	**argv;

	if (argc == 0) {
		agent_session_fail(s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
		    "exec needs argv: the program and its arguments");
		return NULL;
	}
	if (!op_child_argv_ok(s, jargv))
		return NULL;
	if ((argv = calloc(argc + 1, sizeof *argv)) == NULL) {
		agent_session_fail(s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	for (i = 0; i < argc; i++)
		argv[i] = (char *)json_string_value(json_array_get(jargv, i));
	return argv;
}

/*
 * The operation's state, its output set up as out says; takes out's
 * err_arg (freed with x, or here when x cannot be made).  NULL: failed.
 */
static struct op_exec *
exec_new(struct agent_session *s, const char *argv0, const struct op_exec_out *out)
{
	struct op_exec	*x;

	if ((x = calloc(1, sizeof *x)) == NULL) {
		if (out->err_free != NULL)
			out->err_free(out->err_arg);
		return NULL;
	}
	x->err_arg = out->err_arg;
	x->err_free = out->err_free;
	/* A partial write to the stdin pipe is retried 1 µs later. */
	op_child_init(&x->c, s, &x->p[EXEC_STDIN].fd.wsi, EXEC_IN_LOW, EXEC_IN_HIGH,
	    EXEC_IN_LIMIT, 1);
	agent_fd_set_init(&x->out, s);
	s->op_data = x;		/* op_exec_free frees it from here on */
	if ((x->argv0 = strdup(argv0)) == NULL ||
	    agent_fd_add(&x->out, &x->p[EXEC_STDOUT].fd, out->out_type, NULL, NULL) != 0 ||
	    agent_fd_add(&x->out, &x->p[EXEC_STDERR].fd, PH_FRAME_STDERR, out->err_sink,
	    out->err_arg) != 0)
		return NULL;
	return x;
}

/* open.timeout_ms: arm the timer (see the top of the file). */
static void
exec_arm_timeout(struct op_exec *x, json_t *req)
{
	json_t	*t = ph_open_get(req, "timeout_ms"), *g = ph_open_get(req, "grace_ms");

	if (!json_is_integer(t))
		return;
	x->grace_ms = json_is_integer(g) ? json_integer_value(g) : AGENT_KILL_GRACE_MS;
	x->timer_on = 1;
	lws_sul_schedule(x->c.s->agent->ctx, 0, &x->sul_timeout, exec_timeout,
	    (lws_usec_t)json_integer_value(t) * LWS_US_PER_MS);
}

/* Fork the child, watch it, put the pipes in the loop: 0, or -1 (failed). */
static int
exec_spawn(struct op_exec *x, char **argv, int want_stdin, struct agent_target *t)
{
	struct agent_session	*s = x->c.s;
	int			 fds[EXEC_NPIPES][2], e;
	pid_t			 pid;

	if (exec_make_pipes(fds, want_stdin) != 0) {
		agent_session_fail(s, PH_CLOSE_INTERNAL, PH_ERR_SPAWN, "cannot make pipes: %s",
		    strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid == 0)
		exec_child(argv, fds, want_stdin, t);
	e = errno;
	exec_close_child_ends(fds, want_stdin);
	if (pid < 0) {
		exec_close_fds(fds);
		agent_session_fail(s, PH_CLOSE_INTERNAL, PH_ERR_SPAWN, "fork: %s", strerror(e));
		return -1;
	}
	if (op_child_watch(&x->c, pid, exec_reaped, x) != 0) {
		exec_close_fds(fds);
		agent_session_fail(s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL, "out of memory");
		return -1;
	}
	if (exec_adopt_all(x, fds) != 0) {
		agent_proc_kill(s->agent, pid);
		agent_session_fail(s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL,
		    "cannot add the program's pipes to the event loop");
		return -1;
	}
	return 0;
}

/*
 * Start req's argv (see the top of the file), its output as out says
 * (op.h).  out's err_arg is the operation's from here on, whatever happens.
 */
int
op_exec_start_as(struct agent_session *s, json_t *req, const struct op_exec_out *out)
{
	struct op_exec	*x;
	struct agent_target t;
	const char	*tcode = NULL;
	char		**argv, *tcause = NULL;
	int		 want_stdin, r;

	if (json_is_true(ph_open_get(req, "tty"))) {
		if (out->err_free != NULL)
			out->err_free(out->err_arg);
		agent_session_fail(s, PH_CLOSE_NORMAL, PH_ERR_UNSUPPORTED,
		    "exec with a terminal (-t) is not supported by this agent yet");
		return -1;
	}
	want_stdin = !json_is_false(ph_open_get(req, "stdin"));
	if ((argv = exec_argv(s, ph_open_get(req, "argv"))) == NULL) {
		if (out->err_free != NULL)
			out->err_free(out->err_arg);
		return -1;
	}
	if ((x = exec_new(s, argv[0], out)) == NULL) {
		free(argv);
		agent_session_fail(s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL, "out of memory");
		return -1;
	}
	if (agent_target_resolve(s->agent, req, &t, &tcode, &tcause) != 0) {
		free(argv);
		agent_session_fail(s, PH_CLOSE_NORMAL, tcode, "%s", tcause);
		free(tcause);
		return -1;
	}
	r = exec_spawn(x, argv, want_stdin, &t);
	free(argv);
	agent_target_clear(&t);
	if (r != 0)
		return -1;
	ph_info("session %.8s: started pid %d: %s%s", s->sid, (int)x->c.pid, x->argv0,
	    want_stdin ? "" : " (no stdin)");
	exec_arm_timeout(x, req);
	op_child_ready(&x->c);
	return 0;
}

static int
exec_start(struct agent_session *s, json_t *req)
{
	static const struct op_exec_out out = { .out_type = PH_FRAME_STDOUT };

	return op_exec_start_as(s, req, &out);
}

void
op_exec_input(struct agent_session *s, const struct ph_frame *f)
{
	struct op_exec	*x = s->op_data;
	const char	*name;
	int		 signo;

	if (x == NULL || op_child_input(&x->c, f, "stdin queue"))
		return;
	switch (f->ctl) {
	case PH_CTL_EOF:
		x->c.in_eof = 1;
		if (x->p[EXEC_STDIN].fd.wsi != NULL)
			lws_callback_on_writable(x->p[EXEC_STDIN].fd.wsi);
		break;
	case PH_CTL_SIGNAL:
		if ((signo = op_child_signal(s, f, &name)) < 0)
			break;
		/* The group may outlive its leader while it still holds the pipes. */
		if (exec_running(x)) {
			ph_info("session %.8s: signal %s to process group %d", s->sid, name,
			    (int)x->c.pid);
			kill(-x->c.pid, signo);
		}
		break;
	default:
		break;		/* resize: no terminal here */
	}
}

/* The data channel is gone before `exit`: close the pipes, end the group. */
void
op_exec_lost(struct agent_session *s)
{
	struct op_exec	*x = s->op_data;
	int		 kind, any_open = 0;

	if (x == NULL || !op_child_lose(&x->c))
		return;
	agent_fd_set_lose(&x->out);
	for (kind = 0; kind < EXEC_NPIPES; kind++) {
		if (x->p[kind].fd.wsi != NULL) {
			any_open = 1;
			exec_pipe_close(x, kind);
		}
	}
	if (x->c.pid > 0 && (!x->c.reaped || any_open))
		agent_proc_kill(s->agent, x->c.pid);
}

int
op_exec_busy(struct agent_session *s)
{
	struct op_exec	*x = s->op_data;
	int		 kind, open = 0;

	if (x == NULL)
		return 0;
	for (kind = 0; kind < EXEC_NPIPES; kind++)
		open |= x->p[kind].fd.wsi != NULL;
	return op_child_busy(&x->c, open);
}

void
op_exec_free(struct agent_session *s)
{
	struct op_exec	*x = s->op_data;

	if (x == NULL)
		return;
	op_child_free(&x->c);
	if (!s->agent->destroying) {
		lws_sul_cancel(&x->sul_timeout);
		/* Freed inside the grace: the group is still ended with one. */
		if (x->timed_out && x->timer_on && x->c.pid > 0)
			agent_proc_kill(s->agent, x->c.pid);
	}
	agent_fd_set_free(&x->out);
	if (x->err_free != NULL)
		x->err_free(x->err_arg);
	free(x->argv0);
	free(x);
	s->op_data = NULL;
}

const struct op_entry op_exec_entry = {
	.name = "exec",
	.start = exec_start,
	.input = op_exec_input,
	.resume = op_exec_resume,
	.lost = op_exec_lost,
	.busy = op_exec_busy,
	.free = op_exec_free,
};
