/*
 * agent-tracer.c - crash capture in launcher mode (PORTHOLE_CAPTURE_CRASH=1):
 * one long-lived tracer, a child of the agent, that ptraces APP so that a
 * fatal signal becomes a core on the relay (or in the spool) before APP
 * dies of it exactly as it would have without porthole.
 *
 * The tracer seizes every thread of APP (PTRACE_SEIZE with clone tracing:
 * new threads are traced from their first instruction; /proc/APP/task
 * rescanned until no thread is new) and then only waits.  Every signal APP
 * takes stops it once in the tracer (a signal-delivery stop):
 *
 *   - a signal whose action is the default and dumps core (SIGSEGV, SIGBUS,
 *     SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS, SIGXCPU, SIGXFSZ, SIGQUIT;
 *     neither caught nor ignored in /proc/APP/status SigCgt/SigIgn): every
 *     other thread is interrupted and its registers recorded, the core is
 *     written from the stopped process (dump_core_held: the same writer as
 *     `porthole dump`'s, in freeze mode) and shipped by a capture child
 *     (agent_capture_run: the relay's artifact channel, or the spool),
 *     trigger "crash: SIG...".  Then every thread is detached, the faulting
 *     one last with its signal (PTRACE_DETACH(sig)): the kernel delivers
 *     it untraced and APP dies of it, core flag and exit status (139 for
 *     SIGSEGV) as without porthole.  Never PTRACE_CONT with the signal: a
 *     traced PID 1 is unkillable (SIGNAL_UNKILLABLE is cleared only for an
 *     untraced task), the fault would repeat forever; and never
 *     PTRACE_O_EXITKILL: the tracer's death must never take APP down.
 *   - any other signal (handled, ignored, stop signals) goes on at once
 *     with PTRACE_CONT(sig); a group stop stays one (PTRACE_LISTEN).
 *
 * The bound: the core must be stored before the detach, since a PID 1's
 * death ends the pid namespace and the agent with it, but APP is never
 * held longer than --crash-timeout (PORTHOLE_CRASH_TIMEOUT, 60 s): the
 * capture child stops the data at three quarters of it and sends what it
 * has, marked incomplete; at the timeout the tracer kills it and detaches
 * whatever happened.  The tracer itself does no I/O to the relay: it
 * waits for its child with a bounded wait.  If APP is still there after
 * the detach (a PID 1 that raised a signal it does not die of), the
 * tracer seizes it again.
 *
 * Forks of APP are not traced (no PTRACE_O_TRACEFORK): a child process
 * (a shell, a helper) would pay the per-signal cost too, and its crash is
 * not the task's exit status; docs/operations.md says so.
 *
 * A process has one tracer: while this one runs, `porthole dump` and the
 * watch captures of APP (whose worker seizes its threads) ask it first to
 * lend APP: agent_tracer_lend below.
 */
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "porthole/log.h"
#include "porthole/proc.h"
#include "porthole/util.h"

#include "agent.h"
#include "agent-capture.h"
#include "dump.h"

#define TRACER_OPTS		PTRACE_O_TRACECLONE
#define TRACER_TIMEOUT_DEFAULT	60
#define TRACER_TIMEOUT_MAX	3600
#define TRACER_ROUNDS		100	/* rescans of /proc/APP/task */
#define TRACER_GONE_MS		3000	/* for APP to die after the detach */

static int	tracer_enabled;
static int	tracer_timeout = TRACER_TIMEOUT_DEFAULT;
static pid_t	tracer_child;
static int	tracer_wfd = -1;	/* the agent's end: a byte per welcome */

struct tracer {
	struct agent	*a;
	pid_t		 app;
	pid_t		*tids;
	size_t		 ntids, cap;
	int		 status_fd;	/* /proc/APP/status, or -1 */
	uint64_t	 signals;	/* signals passed through */
	uint64_t	 segvs;		/* of which SIGSEGV (a JVM's null checks) */
	int		 welcome_fd;	/* the tracer's end, or -1 once the agent is gone */
	int		 welcomed;	/* the agent's control channel was welcomed */
};

static const int tracer_core_sigs[] = {
	SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS, SIGXCPU,
	SIGXFSZ, SIGQUIT
};

void
agent_tracer_config(struct agent *a, const char *flag_timeout)
{
	char	*v, *end;
	long	 n;

	(void)a;
	if ((v = ph_setting(NULL, "PORTHOLE_CAPTURE_CRASH")) != NULL && *v != '\0') {
		if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 ||
		    strcmp(v, "yes") == 0)
			tracer_enabled = 1;
		else if (strcmp(v, "0") != 0 && strcmp(v, "false") != 0 &&
		    strcmp(v, "no") != 0) {
			fprintf(stderr, "porthole-agent: PORTHOLE_CAPTURE_CRASH wants 1 "
			    "or 0, not \"%s\"\n", v);
			exit(AGENT_EXIT_CONFIG);
		}
	}
	free(v);
	if ((v = ph_setting(flag_timeout, "PORTHOLE_CRASH_TIMEOUT")) != NULL &&
	    *v != '\0') {
		errno = 0;
		n = strtol(v, &end, 10);
		if (*end == 's')
			end++;
		if (errno != 0 || end == v || *end != '\0' || n < 1 ||
		    n > TRACER_TIMEOUT_MAX) {
			fprintf(stderr, "porthole-agent: --crash-timeout / "
			    "PORTHOLE_CRASH_TIMEOUT wants seconds from 1 to %d, not "
			    "\"%s\"\n", TRACER_TIMEOUT_MAX, v);
			exit(AGENT_EXIT_CONFIG);
		}
		tracer_timeout = (int)n;
	}
	free(v);
	if (tracer_enabled && agent_launch_app_pid() == 0) {
		fprintf(stderr, "porthole-agent: PORTHOLE_CAPTURE_CRASH needs launcher "
		    "mode (porthole-agent [OPTIONS] -- APP [ARG...]): crash capture "
		    "is off\n");
		tracer_enabled = 0;
	}
}

pid_t
agent_tracer_pid(void)
{
	return tracer_child;
}

static int
tracer_known(const struct tracer *t, pid_t tid)
{
	size_t	i;

	for (i = 0; i < t->ntids; i++)
		if (t->tids[i] == tid)
			return 1;
	return 0;
}

static int
tracer_add(struct tracer *t, pid_t tid)
{
	pid_t	*n;

	if (tracer_known(t, tid))
		return 0;
	if (t->ntids == t->cap) {
		if ((n = realloc(t->tids, (t->cap + 64) * sizeof *n)) == NULL)
			return -1;
		t->tids = n;
		t->cap += 64;
	}
	t->tids[t->ntids++] = tid;
	return 0;
}

static void
tracer_forget(struct tracer *t, pid_t tid)
{
	size_t	i;

	for (i = 0; i < t->ntids; i++) {
		if (t->tids[i] == tid) {
			t->tids[i] = t->tids[--t->ntids];
			return;
		}
	}
}

/* Seize every thread of APP; 0, or -1 with *cause. */
static int
tracer_attach(struct tracer *t, char **cause)
{
	char		 path[64];
	DIR		*d;
	struct dirent	*e;
	pid_t		 tid;
	int		 round, fresh;

	t->ntids = 0;
	snprintf(path, sizeof path, "/proc/%d/task", (int)t->app);
	for (round = 0; round < TRACER_ROUNDS; round++) {
		if ((d = opendir(path)) == NULL) {
			*cause = ph_asprintf("%s: %s", path, strerror(errno));
			return -1;
		}
		fresh = 0;
		while ((e = readdir(d)) != NULL) {
			if ((tid = (pid_t)atoi(e->d_name)) <= 0 || tracer_known(t, tid))
				continue;
			if (ptrace(PTRACE_SEIZE, tid, NULL, (void *)(long)TRACER_OPTS) != 0) {
				if (errno == ESRCH)
					continue;
				if (errno == EPERM && t->ntids == 0) {
					*cause = ph_asprintf("ptrace of %d not permitted (%s): "
					    "run the agent as the app's user; with Yama's "
					    "ptrace_scope 2 or 3 crash capture cannot work",
					    (int)t->app, strerror(errno));
					closedir(d);
					return -1;
				}
				/* EPERM later: ours already, through a clone event. */
			}
			if (tracer_add(t, tid) != 0) {
				closedir(d);
				*cause = ph_asprintf("out of memory");
				return -1;
			}
			fresh++;
		}
		closedir(d);
		if (fresh == 0)
			break;
	}
	if (t->ntids == 0) {
		*cause = ph_asprintf("process %d has no thread left", (int)t->app);
		return -1;
	}
	return 0;
}

/*
 * SigCgt and SigIgn from /proc/APP/status, through a descriptor kept open
 * (pread from 0 regenerates the file): a JVM takes SIGSEGVs all the time,
 * and each one is read here.
 */
static int
tracer_sigmasks(struct tracer *t, unsigned long long *cgt, unsigned long long *ign)
{
	char	 path[64], buf[4096], *p;
	ssize_t	 n;
	int	 got = 0;

	if (t->status_fd < 0) {
		snprintf(path, sizeof path, "/proc/%d/status", (int)t->app);
		if ((t->status_fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			return -1;
	}
	if ((n = pread(t->status_fd, buf, sizeof buf - 1, 0)) <= 0)
		return -1;
	buf[n] = '\0';
	if ((p = strstr(buf, "\nSigIgn:")) != NULL) {
		*ign = strtoull(p + 8, NULL, 16);
		got++;
	}
	if ((p = strstr(buf, "\nSigCgt:")) != NULL) {
		*cgt = strtoull(p + 8, NULL, 16);
		got++;
	}
	return got == 2 ? 0 : -1;
}

/* Does sig, about to be delivered to APP, kill it with a core? */
static int
tracer_fatal(struct tracer *t, int sig)
{
	unsigned long long	cgt = 0, ign = 0, bit = 1ULL << (sig - 1);
	size_t			i;

	for (i = 0; i < sizeof tracer_core_sigs / sizeof tracer_core_sigs[0]; i++)
		if (tracer_core_sigs[i] == sig)
			break;
	if (i == sizeof tracer_core_sigs / sizeof tracer_core_sigs[0])
		return 0;
	/* A fault's signal that was blocked or ignored is reset to the
	 * default by the kernel before it is queued: this sees SIG_DFL. */
	if (tracer_sigmasks(t, &cgt, &ign) != 0)
		return 0;
	return (cgt & bit) == 0 && (ign & bit) == 0;
}

/* What the crash's worker writes: s, tid faulting with sig. */
struct tracer_held {
	struct dump_snap	*s;
	pid_t			 tid;
	int			 sig;
};

/*
 * The worker of the crash's capture (a child: its copy of s is its own):
 * the faulting thread first, as in the kernel's core (gdb's thread 1),
 * and the signal in every thread's prstatus.
 */
static int
tracer_write(void *arg)
{
	struct tracer_held	*h = arg;
	struct dump_snap	*s = h->s;
	struct dump_thread	 tmp;
	size_t			 i;

	for (i = 1; i < s->nt; i++) {
		if (s->t[i].tid == h->tid) {
			tmp = s->t[0];
			s->t[0] = s->t[i];
			s->t[i] = tmp;
			break;
		}
	}
	s->cursig = h->sig;
	return dump_worker_held(s);
}

/* Is APP still there (not gone, not a zombie)? */
static int
tracer_app_alive(pid_t pid)
{
	char	 path[64], st = 0;
	FILE	*f;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	if (fscanf(f, "%*d (%*[^)]) %c", &st) != 1)
		st = 0;
	fclose(f);
	return st != 0 && st != 'Z' && st != 'X';
}

static void
tracer_sleep_ms(int ms)
{
	struct timespec	ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Read the agent's welcome bytes; EOF: the agent is gone. */
static void
tracer_read_welcome(struct tracer *t)
{
	char	b[64];
	ssize_t	n;

	if (t->welcome_fd < 0)
		return;
	n = read(t->welcome_fd, b, sizeof b);
	if (n > 0)
		t->welcomed = 1;
	else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		close(t->welcome_fd);
		t->welcome_fd = -1;
	}
}

static void
tracer_wait_welcome(struct tracer *t, int64_t until)
{
	struct pollfd	p;
	int64_t		left;

	while (!t->welcomed && t->welcome_fd >= 0 &&
	    (left = until - ph_mono_ms()) > 0) {
		p.fd = t->welcome_fd;
		p.events = POLLIN;
		if (poll(&p, 1, (int)left) > 0)
			tracer_read_welcome(t);
	}
}

void
agent_tracer_welcomed(void)
{
	if (tracer_wfd >= 0)
		(void)!write(tracer_wfd, "w", 1);	/* non-blocking: one is enough */
}

/*
 * The capture child for a crash; waits for it at most until the timeout.
 * The app's threads are all stopped by us meanwhile.
 */
static void
tracer_capture(struct tracer *t, struct dump_snap *s, pid_t tid, int sig)
{
	struct agent_capture_req r;
	struct tracer_held	 held = { s, tid, sig };
	struct dump_thread	*th = NULL;
	const siginfo_t		*si;
	char			 comm[64], trigger[160], addr[32];
	const char		*name = sigabbrev_np(sig);
	json_t			*reading;
	int64_t			 start = ph_mono_ms(), hard, left;
	sigset_t		 chld;
	struct timespec		 ts;
	pid_t			 writer, w;
	int			 st, status = -1;
	size_t			 i;

	for (i = 0; i < s->nt; i++)
		if (s->t[i].tid == tid)
			th = &s->t[i];
	si = th != NULL ? (const siginfo_t *)(const void *)th->siginfo : NULL;
	ph_proc_comm(t->app, comm, sizeof comm);
	snprintf(addr, sizeof addr, "0x%llx", si != NULL ?
	    (unsigned long long)(uintptr_t)si->si_addr : 0ULL);
	snprintf(trigger, sizeof trigger, "crash: SIG%s (signal %d) in thread %d%s%s",
	    name != NULL ? name : "?", sig, (int)tid,
	    sig == SIGSEGV || sig == SIGBUS ? " at " : "",
	    sig == SIGSEGV || sig == SIGBUS ? addr : "");
	reading = json_pack("{s:i, s:s, s:i, s:i, s:s}", "signal", sig, "signal_name",
	    name != NULL ? name : "?", "si_code", si != NULL ? si->si_code : 0,
	    "thread", (int)tid, "fault_address", addr);
	memset(&r, 0, sizeof r);
	r.pid = t->app;
	snprintf(r.kind, sizeof r.kind, "core");
	r.freeze = 1;
	r.run = tracer_write;
	r.run_arg = &held;
	r.deadline_ms = start + (int64_t)tracer_timeout * 750;
	r.begin = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:o, s:I}",
	    "type", "artifact", "phase", "begin", "id", t->a->claimed,
	    "instance", t->a->instance, "kind", "core", "pid", (int)t->app,
	    "process", comm, "trigger", trigger, "reading", reading,
	    "captured_at", (json_int_t)ph_now());
	ph_warn("crash capture: pid %d (%s) %s; capturing its core before it "
	    "dies of it (at most %d s)", (int)t->app, comm, trigger + 7, tracer_timeout);
	/*
	 * A crash before the agent is welcomed (the relay refuses an upload
	 * until then): wait for it, a third of the time at most, then spool.
	 */
	tracer_wait_welcome(t, start + (int64_t)tracer_timeout * 333);
	r.spool_only = !t->welcomed;
	if (r.begin == NULL || (writer = fork()) < 0) {
		ph_warn("crash capture: cannot start the capture: %s", strerror(errno));
		json_decref(r.begin);
		return;
	}
	if (writer == 0) {
		sigset_t	none;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_IGN);	/* a relay gone is an EPIPE */
		_exit(agent_capture_run(t->a, &r));
	}
	json_decref(r.begin);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	hard = start + (int64_t)tracer_timeout * 1000;
	for (;;) {
		w = waitpid(-1, &st, __WALL | WNOHANG);
		if (w == writer) {
			status = st;
			break;
		}
		if (w > 0) {
			/* A thread killed meanwhile (SIGKILL): nothing else moves. */
			if (WIFEXITED(st) || WIFSIGNALED(st))
				tracer_forget(t, w);
			continue;
		}
		if ((left = hard - ph_mono_ms()) <= 0) {
			ph_warn("crash capture: the capture of pid %d took longer than "
			    "--crash-timeout (%d s): the app goes on to die without it",
			    (int)t->app, tracer_timeout);
			kill(writer, SIGKILL);
			while (waitpid(writer, &st, __WALL) < 0 && errno == EINTR)
				;
			return;
		}
		if (left > 500)
			left = 500;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)left * 1000000L;
		(void)sigtimedwait(&chld, NULL, &ts);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		ph_info("crash capture: the core of pid %d is stored (%lld ms); "
		    "handing SIG%s back", (int)t->app, (long long)(ph_mono_ms() - start),
		    name != NULL ? name : "?");
	else
		ph_warn("crash capture: the capture of pid %d failed (status 0x%x); "
		    "handing SIG%s back", (int)t->app, (unsigned)status,
		    name != NULL ? name : "?");
}

/* A fatal signal stopped tid: capture, hand it back; 1 once APP is gone. */
static int
tracer_crash(struct tracer *t, pid_t tid, int status, int sig)
{
	struct dump_snap	s;
	int64_t			until;

	if (dump_snap_traced(&s, t->app) != 0 || dump_snap_stopped(&s, tid, status) != 0) {
		ph_warn("crash capture: pid %d: cannot record thread %d", (int)t->app,
		    (int)tid);
		ptrace(PTRACE_DETACH, tid, NULL, (void *)(long)sig);
	} else {
		if (dump_snap_stop(&s) != 0)
			ph_warn("crash capture: pid %d: not every thread stopped; the "
			    "core holds those that did", (int)t->app);
		tracer_capture(t, &s, tid, sig);
		dump_snap_detach(&s, tid);
	}
	t->ntids = 0;
	/* Untraced now: it dies of sig, unless it is a PID 1 that ignores it. */
	until = ph_mono_ms() + TRACER_GONE_MS;
	while (ph_mono_ms() < until) {
		if (!tracer_app_alive(t->app))
			return 1;
		tracer_sleep_ms(20);
	}
	return 0;
}

/* One waitpid status of a tracee; 1 once APP is gone. */
static int
tracer_event(struct tracer *t, pid_t w, int st)
{
	unsigned long	msg;
	int		ev, sig;

	if (WIFEXITED(st) || WIFSIGNALED(st)) {
		tracer_forget(t, w);
		return w == t->app;
	}
	if (!WIFSTOPPED(st))
		return 0;
	(void)tracer_add(t, w);
	ev = (st >> 16) & 0xff;
	sig = WSTOPSIG(st);
	switch (ev) {
	case PTRACE_EVENT_CLONE:
		if (ptrace(PTRACE_GETEVENTMSG, w, NULL, &msg) == 0)
			(void)tracer_add(t, (pid_t)msg);
		ptrace(PTRACE_CONT, w, NULL, NULL);
		break;
	case PTRACE_EVENT_STOP:
		/* A group stop stays one (SIGCONT ends it); others go on. */
		if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU)
			ptrace(PTRACE_LISTEN, w, NULL, NULL);
		else
			ptrace(PTRACE_CONT, w, NULL, NULL);
		break;
	case 0:
		if (tracer_fatal(t, sig)) {
			if (tracer_crash(t, w, st, sig))
				return 1;
			/* Still there: a PID 1 that did not die of it. */
			if (tracer_attach(t, &(char *){ NULL }) != 0)
				return 1;
			return 0;
		}
		t->signals++;
		if (sig == SIGSEGV)
			t->segvs++;
		ptrace(PTRACE_CONT, w, NULL, (void *)(long)sig);
		break;
	default:
		ptrace(PTRACE_CONT, w, NULL, NULL);
		break;
	}
	return 0;
}

/*
 * Lend APP to a dump worker (dump-snapshot.c, snap_borrow): every thread
 * interrupted and detached, a signal it was about to take handed back with
 * the detach.  0: APP is let go; 1: APP is gone (or died of a crash
 * captured meanwhile); -1: not every thread stopped in time (taken back).
 */
static int
tracer_let_go(struct tracer *t)
{
	int64_t		until = ph_mono_ms() + 5000;
	unsigned long	msg;
	sigset_t	chld;
	struct timespec	ts = { 0, 100 * 1000000L };
	pid_t		w;
	size_t		i;
	int		st, sig, ev;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	for (i = 0; i < t->ntids; i++)
		ptrace(PTRACE_INTERRUPT, t->tids[i], NULL, NULL);
	while (t->ntids > 0 && ph_mono_ms() < until) {
		if ((w = waitpid(-1, &st, __WALL | WNOHANG)) == 0) {
			(void)sigtimedwait(&chld, NULL, &ts);
			continue;
		}
		if (w < 0)
			break;
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			tracer_forget(t, w);
			if (w == t->app)
				return 1;
			continue;
		}
		ev = (st >> 16) & 0xff;
		sig = WSTOPSIG(st);
		if (ev == PTRACE_EVENT_CLONE &&
		    ptrace(PTRACE_GETEVENTMSG, w, NULL, &msg) == 0)
			(void)tracer_add(t, (pid_t)msg);	/* stops by itself */
		if (ev == 0 && tracer_fatal(t, sig)) {
			if (tracer_crash(t, w, st, sig))
				return 1;
			return tracer_attach(t, &(char *){ NULL }) == 0 ? -1 : 1;
		}
		ptrace(PTRACE_DETACH, w, NULL, (void *)(long)(ev == 0 ? sig : 0));
		tracer_forget(t, w);
	}
	if (t->ntids == 0)
		return 0;
	for (i = 0; i < t->ntids; i++)
		ptrace(PTRACE_CONT, t->tids[i], NULL, NULL);
	(void)tracer_attach(t, &(char *){ NULL });
	return -1;
}

/* Is pid a descendant of the agent (the tracer's parent)? */
static int
tracer_peer_ok(pid_t pid)
{
	pid_t	agent = getppid();
	char	path[64];
	FILE	*f;
	int	i, ppid;

	for (i = 0; i < 8 && pid > 1; i++) {
		snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
		if ((f = fopen(path, "re")) == NULL)
			return 0;
		if (fscanf(f, "%*d (%*[^)]) %*c %d", &ppid) != 1)
			ppid = 0;
		fclose(f);
		if (ppid == agent)
			return 1;
		pid = ppid;
	}
	return 0;
}

/* A dump worker asks for APP: "lend PID\n"; "ok\n" or "no: WHY\n". */
static int
tracer_accept(struct tracer *t, int lfd, int *lent)
{
	struct ucred	cr;
	socklen_t	crlen = sizeof cr;
	struct pollfd	p;
	char		buf[64];
	const char	*no = NULL;
	ssize_t		n = 0;
	int		fd, r;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) != 0 ||
	    !tracer_peer_ok(cr.pid)) {
		close(fd);	/* not one of the agent's: no word */
		return 0;
	}
	p.fd = fd;
	p.events = POLLIN;
	if (poll(&p, 1, 2000) == 1)
		n = read(fd, buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = '\0';
	if (strncmp(buf, "lend ", 5) != 0 || atoi(buf + 5) != (int)t->app)
		no = "no: not the traced process\n";
	else if (*lent >= 0)
		no = "no: lent already\n";
	if (no != NULL) {
		(void)!write(fd, no, strlen(no));
		close(fd);
		return 0;
	}
	if ((r = tracer_let_go(t)) != 0) {
		no = r > 0 ? "no: the process is gone\n" :
		    "no: its threads did not stop\n";
		(void)!write(fd, no, strlen(no));
		close(fd);
		return r > 0;
	}
	ph_info("crash capture: pid %d lent to dump worker %d (no crash capture "
	    "until it is done)", (int)t->app, (int)cr.pid);
	(void)!write(fd, "ok\n", 3);
	*lent = fd;
	return 0;
}

/* The worker is done (its socket closed): seize APP again; 1 if it is gone. */
static int
tracer_take_back(struct tracer *t)
{
	int64_t	 until = ph_mono_ms() + 10000;
	char	*cause = NULL;

	for (;;) {
		if (!tracer_app_alive(t->app))
			return 1;
		if (tracer_attach(t, &cause) == 0)
			break;
		if (ph_mono_ms() >= until) {
			ph_warn("crash capture is off: %s", cause);
			free(cause);
			return 1;
		}
		free(cause);
		cause = NULL;
		tracer_sleep_ms(50);	/* the worker's exit detaches its threads */
	}
	ph_info("crash capture: tracing pid %d again", (int)t->app);
	return 0;
}

static void
tracer_bye(const struct tracer *t, const char *how)
{
	ph_info("crash capture: pid %d %s; %llu signals went through the tracer "
	    "(%llu SIGSEGV)", (int)t->app, how, (unsigned long long)t->signals,
	    (unsigned long long)t->segvs);
}

static int
tracer_main(struct agent *a, pid_t app, int welcome_fd)
{
	struct tracer		 t = { .a = a, .app = app, .status_fd = -1,
	    .welcome_fd = welcome_fd };
	struct signalfd_siginfo	 si;
	struct sockaddr_un	 sun;
	struct pollfd		 p[4];
	sigset_t		 ss;
	char			*cause = NULL, drain[64];
	socklen_t		 len;
	pid_t			 w;
	int			 sfd, lfd, lent = -1, st, n;

	sigemptyset(&ss);
	sigaddset(&ss, SIGCHLD);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGHUP);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	/* The agent gone: a word on the way out (our exit lets APP go). */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		return 0;
	if ((sfd = signalfd(-1, &ss, SFD_CLOEXEC)) < 0) {
		ph_warn("crash capture is off: signalfd: %s", strerror(errno));
		return 1;
	}
	/* Where dump workers ask for APP (dump-snapshot.c, snap_borrow). */
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	n = snprintf(sun.sun_path + 1, sizeof sun.sun_path - 1, DUMP_TRACER_SOCK "%d",
	    (int)getpid());
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	if ((lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sun, len) != 0 || listen(lfd, 4) != 0)
		ph_warn("crash capture: no socket for dumps (%s): a dump of pid %d "
		    "will say it is traced", strerror(errno), (int)app);
	if (tracer_attach(&t, &cause) != 0) {
		ph_warn("crash capture is off: %s", cause);
		return 1;
	}
	ph_info("crash capture: tracing pid %d (%zu threads); a fatal signal's "
	    "core is stored before the app dies of it (--crash-timeout %d s)",
	    (int)app, t.ntids, tracer_timeout);
	for (;;) {
		p[0].fd = sfd;
		p[0].events = POLLIN;
		p[1].fd = lent < 0 ? lfd : -1;
		p[1].events = POLLIN;
		p[2].fd = lent;
		p[2].events = POLLIN;
		p[3].fd = t.welcome_fd;
		p[3].events = POLLIN;
		if (poll(p, 4, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (p[2].fd >= 0 && p[2].revents != 0 &&
		    read(lent, drain, sizeof drain) <= 0) {
			close(lent);
			lent = -1;
			if (tracer_take_back(&t))
				return 0;
		}
		if (p[3].fd >= 0 && p[3].revents != 0)
			tracer_read_welcome(&t);
		if (p[1].fd >= 0 && (p[1].revents & POLLIN) &&
		    tracer_accept(&t, lfd, &lent))
			return 0;
		if (!(p[0].revents & POLLIN))
			continue;
		if (read(sfd, &si, sizeof si) != (ssize_t)sizeof si)
			continue;
		/* The agent winds down: our exit detaches every thread. */
		if (si.ssi_signo != SIGCHLD) {
			tracer_bye(&t, "is let go");
			return 0;
		}
		while ((w = waitpid(-1, &st, __WALL | WNOHANG)) > 0) {
			if (tracer_event(&t, w, st)) {
				tracer_bye(&t, "is gone");
				return 0;
			}
		}
	}
}

void
agent_tracer_start(struct agent *a)
{
	pid_t	app = agent_launch_app_pid(), pid;
	int	wp[2];

	if (!tracer_enabled || app == 0)
		return;
	if (pipe2(wp, O_CLOEXEC | O_NONBLOCK) != 0 || (pid = fork()) < 0) {
		ph_warn("crash capture is off: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		agent_proc_prepare(wp[0]);
		_exit(tracer_main(a, app, wp[0]));
	}
	close(wp[0]);
	tracer_wfd = wp[1];
	tracer_child = pid;
}

static void
tracer_exited(void *arg, pid_t pid, int status)
{
	(void)arg;
	(void)pid;
	tracer_child = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		ph_warn("the crash tracer ended (status 0x%x): crash capture is off",
		    (unsigned)status);
}

void
agent_tracer_adopt(struct agent *a)
{
	if (tracer_child != 0 && agent_proc_watch(a, tracer_child, tracer_exited, a) != 0)
		ph_warn("cannot watch the crash tracer %d", (int)tracer_child);
}
