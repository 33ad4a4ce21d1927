/*
 * dump-snapshot.c - a consistent image of a live process for the core
 * writer: every thread stopped and its registers recorded, then either a
 * copy-on-write snapshot cloned out of the app (which runs on at once) or,
 * as a fallback or on request, the app kept stopped for the whole dump.
 *
 * The technique and every pitfall are in research/cow-snapshot.md.  In
 * short: seize and interrupt every thread (clone tracing on, /proc/PID/task
 * rescanned until stable), record GPRs, FP, XSTATE and siginfo; then make
 * one stopped thread run clone(CLONE_FILES, exit signal 0) by pointing it
 * at a syscall instruction that is already there (its own, at rip-2, or
 * one in the vdso: no byte is ever patched) with every signal blocked
 * (PTRACE_SETSIGMASK), and put its registers back.  Exit signal 0: no
 * SIGCHLD ever reaches the app and a plain waitpid(-1) never sees the
 * snapshot; CLONE_FILES: the snapshot holds no descriptor the app closes.
 * Clone tracing attaches the snapshot before it runs a single instruction;
 * it gets PTRACE_O_EXITKILL (dies with this worker) and oom_score_adj
 * 1000 (its copy-on-write pages are charged to the app's cgroup).
 *
 * A thread stopped inside a system call keeps its syscall number in
 * orig_rax and a restart code in rax: after the injection those are
 * restored exactly, and the thread is made to stop once more in the
 * signal path (interrupt + continue) so that the kernel's own restart
 * logic runs at detach; otherwise errno 512..516 would leak to the app.
 *
 * A thread caught in a signal-delivery stop keeps its signal: it is
 * re-delivered by the detach, and such a thread is never injected into.
 * The snapshot is killed, waited for as its tracer, then reaped through
 * the app by injecting wait4(child, NULL, __WALL|WNOHANG): else a zombie
 * would hold a pid until the app exits.
 *
 * Fallback to freeze (reason given): seccomp filter on every candidate
 * thread (an injected clone under a kill filter would kill the app), no
 * syscall instruction found, clone failing (EAGAIN: pids.max or
 * RLIMIT_NPROC; ENOMEM: strict overcommit; EPERM), or any unexpected stop.
 */
#include <sys/types.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <linux/sched.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dump.h"

#define SNAP_OPTS	(PTRACE_O_TRACECLONE | PTRACE_O_TRACESYSGOOD)
#define SNAP_XSTATE_MAX	(64 * 1024)
#define SNAP_PF_KTHREAD	0x00200000
#define SNAP_ROUNDS	100	/* rescans of /proc/PID/task before giving up */
#define SNAP_STOP_SECS	10	/* for every thread to stop (SIGALRM): a thread
				 * in uninterruptible sleep holds the others
				 * stopped that long at most */

static void
snap_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long	snap_status(pid_t, pid_t, const char *);

/* Diagnostics that are no event: on stderr they would break the JSON
 * lines, so they go nowhere unless PORTHOLE_DUMP_DEBUG is set. */
static void
snap_log(const char *fmt, ...)
{
	va_list	ap;

	if (getenv("PORTHOLE_DUMP_DEBUG") == NULL)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "# dump: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static struct dump_thread *
snap_find(struct dump_snap *s, pid_t tid)
{
	size_t	i;

	for (i = 0; i < s->nt; i++)
		if (s->t[i].tid == tid)
			return &s->t[i];
	return NULL;
}

static struct dump_thread *
snap_add(struct dump_snap *s, pid_t tid)
{
	struct dump_thread	*t;

	t = realloc(s->t, (s->nt + 1) * sizeof *s->t);
	if (t == NULL)
		return NULL;
	s->t = t;
	t = &s->t[s->nt++];
	memset(t, 0, sizeof *t);
	t->tid = tid;
	return t;
}

static void
snap_drop(struct dump_snap *s, struct dump_thread *t)
{
	size_t	i = (size_t)(t - s->t);

	free(t->xstate);
	memmove(&s->t[i], &s->t[i + 1], (s->nt - i - 1) * sizeof *s->t);
	s->nt--;
}

/*
 * Read /proc/PID/stat: 0, or -1 with *code and msg filled (no such process,
 * a kernel thread).  *tgid is the thread group of pid.
 */
static int
snap_stat(pid_t pid, unsigned long long *start, unsigned long *flags)
{
	char		 path[64], buf[1024], *p;
	int		 fd, i;
	ssize_t		 n;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	p += 2;		/* field 3, state */
	*flags = 0;
	*start = 0;
	for (i = 3; i <= 22 && p != NULL; i++) {
		if (i == 9)
			*flags = strtoul(p, NULL, 10);
		if (i == 22)
			*start = strtoull(p, NULL, 10);
		if ((p = strchr(p, ' ')) != NULL)
			p++;
	}
	return 0;
}

int
dump_snap_alive(const struct dump_snap *s)
{
	unsigned long long	start;
	unsigned long		flags;
	char			path[64], st = 0;
	FILE			*f;

	if (snap_stat(s->pid, &start, &flags) != 0 || start != s->start)
		return 0;
	/* A zombie is gone too, unless only its leader is dead. */
	if (snap_status(s->pid, s->pid, "Threads") > 1)
		return 1;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)s->pid);
	if ((f = fopen(path, "re")) != NULL) {
		if (fscanf(f, "%*d (%*[^)]) %c", &st) != 1)
			st = 0;
		fclose(f);
	}
	return st != 'Z' && st != 'X';
}

/* Value of "Name:" in /proc/PID/task/TID/status, -1 if absent. */
static long
snap_status(pid_t pid, pid_t tid, const char *name)
{
	char	 path[96], *line = NULL;
	size_t	 cap = 0, len = strlen(name);
	long	 v = -1;
	FILE	*f;

	snprintf(path, sizeof path, "/proc/%d/task/%d/status", (int)pid, (int)tid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (getline(&line, &cap, f) > 0) {
		if (strncmp(line, name, len) == 0 && line[len] == ':') {
			v = strtol(line + len + 1, NULL, 10);
			break;
		}
	}
	free(line);
	fclose(f);
	return v;
}

static volatile sig_atomic_t snap_alarm;

static void
snap_on_alarm(int sig)
{
	(void)sig;
	snap_alarm = 1;
}

/*
 * Wait for the next stop or end of tid.  1: stopped (*status); 0: the
 * thread is gone; -1: waitpid failed, or (interruptible) SIGALRM or a stop
 * signal came first.  Waits in the middle of an injection are never
 * interruptible: the thread's registers must be put back.
 */
static int
snap_wait(pid_t tid, int *status, int interruptible)
{
	int	st;
	pid_t	w;

	for (;;) {
		w = waitpid(tid, &st, __WALL);
		if (w == tid)
			break;
		if (w < 0 && errno == EINTR &&
		    !(interruptible && (snap_alarm || dump_cancelled())))
			continue;
		return -1;
	}
	*status = st;
	if (WIFEXITED(st) || WIFSIGNALED(st))
		return 0;
	return 1;
}

/* State letter of a thread (/proc/PID/task/TID/stat), or 0. */
static char
snap_state(pid_t pid, pid_t tid)
{
	char	 path[96], st = 0;
	FILE	*f;

	snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	if (fscanf(f, "%*d (%*[^)]) %c", &st) != 1)
		st = 0;
	fclose(f);
	return st;
}

/* Record what a stop of t says; handle a clone event. */
static int
snap_stopped(struct dump_snap *s, struct dump_thread *t, int st)
{
	unsigned long		 msg;
	struct iovec		 iov;
	uint8_t			*x;
	pid_t			 tid = t->tid;

	t->stopped = 1;
	t->event = (st >> 16) & 0xff;
	t->stopsig = WSTOPSIG(st);
	t->sig = 0;
	memset(t->siginfo, 0, sizeof t->siginfo);
	if (t->event == 0) {
		/* A signal-delivery stop: this signal goes back at detach. */
		t->sig = WSTOPSIG(st);
		ptrace(PTRACE_GETSIGINFO, tid, NULL, t->siginfo);
		snap_log("thread %d stopped delivering signal %d", (int)tid, t->sig);
	} else if (t->event == PTRACE_EVENT_CLONE &&
	    ptrace(PTRACE_GETEVENTMSG, tid, NULL, &msg) == 0 &&
	    snap_find(s, (pid_t)msg) == NULL) {
		/* Born while stopping: already traced, stops on its own. */
		if (snap_add(s, (pid_t)msg) == NULL)
			return -1;
		t = snap_find(s, tid);
	}
	if (ptrace(PTRACE_GETREGS, tid, NULL, t->regs) != 0 ||
	    ptrace(PTRACE_GETFPREGS, tid, NULL, t->fpregs) != 0)
		return -1;
	if (t->xstate == NULL && (x = malloc(SNAP_XSTATE_MAX)) != NULL) {
		iov.iov_base = x;
		iov.iov_len = SNAP_XSTATE_MAX;
		if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_X86_XSTATE, &iov) == 0 &&
		    iov.iov_len > 0) {
			/* Keep only its size (64 KiB per thread is a lot). */
			if ((t->xstate = malloc(iov.iov_len)) != NULL) {
				memcpy(t->xstate, x, iov.iov_len);
				t->xstate_len = iov.iov_len;
			}
		}
		free(x);
	}
	return 0;
}

/* Stop every thread; 0 or dump_error. */
static int
snap_stop_all(struct dump_snap *s)
{
	char		 path[64];
	DIR		*d;
	struct dirent	*e;
	pid_t		 tid, *fresh = NULL;
	size_t		 nfresh, cap = 0, i;
	struct dump_thread *t;
	int		 round, st, r;
	char		 c;

	snprintf(path, sizeof path, "/proc/%d/task", (int)s->pid);
	for (round = 0; round < SNAP_ROUNDS; round++) {
		if ((d = opendir(path)) == NULL)
			goto gone;
		nfresh = 0;
		while ((e = readdir(d)) != NULL) {
			if ((tid = (pid_t)atoi(e->d_name)) <= 0 ||
			    snap_find(s, tid) != NULL)
				continue;
			/* A dead leader (main called pthread_exit) never
			 * stops: it has no registers left to record. */
			c = snap_state(s->pid, tid);
			if (c == 'Z' || c == 'X' || c == 0)
				continue;
			if (nfresh == cap) {
				pid_t *nf = realloc(fresh, (cap + 64) * sizeof *fresh);
				if (nf == NULL) {
					closedir(d);
					free(fresh);
					return dump_error("internal", "out of memory");
				}
				fresh = nf;
				cap += 64;
			}
			fresh[nfresh++] = tid;
		}
		closedir(d);
		/* New threads still unstopped (from clone events) count too. */
		for (i = 0; i < s->nt; i++)
			if (!s->t[i].stopped)
				break;
		if (nfresh == 0 && i == s->nt)
			break;
		for (i = 0; i < nfresh; i++) {
			/* Traced: ours already (seized, or through clone tracing). */
			if (!s->traced && ptrace(PTRACE_SEIZE, fresh[i], NULL,
			    (void *)(long)SNAP_OPTS) != 0) {
				if (errno == ESRCH)
					continue;	/* gone already */
				if (errno == EPERM && s->nt == 0) {
					free(fresh);
					return dump_error("not_permitted",
					    "ptrace of %d not permitted: run the agent "
					    "as the app's user, or add SYS_PTRACE to "
					    "the task definition (linuxParameters."
					    "capabilities), or lower Yama's "
					    "kernel.yama.ptrace_scope", (int)s->pid);
				}
				/* EPERM later: traced by us through a clone
				 * event not yet seen; waited for below. */
			}
			if (snap_add(s, fresh[i]) == NULL) {
				free(fresh);
				return dump_error("internal", "out of memory");
			}
			if (s->t_stop == 0)
				s->t_stop = dump_now_ns();
			ptrace(PTRACE_INTERRUPT, fresh[i], NULL, NULL);
		}
		for (i = 0; i < s->nt; i++) {
			t = &s->t[i];
			if (t->stopped)
				continue;
			tid = t->tid;
			if ((r = snap_wait(tid, &st, 1)) == 0) {
				snap_drop(s, t);	/* exited meanwhile */
				i--;
				continue;
			}
			if (r < 0) {
				free(fresh);
				if (dump_cancelled())
					return dump_error("cancelled", "dump stopped: "
					    "asked to stop");
				if (snap_alarm)
					return dump_error("internal", "thread %d of %d "
					    "did not stop within %d s (uninterruptible "
					    "sleep?)", (int)tid, (int)s->pid,
					    SNAP_STOP_SECS);
				return dump_error("internal", "waiting for thread "
				    "%d: %s", (int)tid, strerror(errno));
			}
			if (snap_stopped(s, t, st) != 0) {
				free(fresh);
				return dump_error("internal", "registers of thread "
				    "%d: %s", (int)tid, strerror(errno));
			}
		}
	}
	free(fresh);
	if (round == SNAP_ROUNDS)
		return dump_error("internal", "threads of %d keep appearing: "
		    "could not stop them all", (int)s->pid);
	if (s->nt == 0)
		goto gone;
	/* The leader first: gdb's thread 1. */
	for (i = 1; i < s->nt; i++) {
		if (s->t[i].tid == s->pid) {
			struct dump_thread tmp = s->t[0];
			s->t[0] = s->t[i];
			s->t[i] = tmp;
			break;
		}
	}
	return 0;
gone:
	free(fresh);
	return dump_error("target_exited", "process %d exited", (int)s->pid);
}

/* A syscall instruction for t: its own at rip-2, else one in the vdso. */
static uint64_t
snap_insn(struct dump_snap *s, struct dump_thread *t)
{
	struct user_regs_struct	*r = (struct user_regs_struct *)t->regs;
	char			 path[64], line[512], name[64];
	unsigned long		 lo, hi, a;
	long			 w;
	uint8_t			 buf[8192];
	ssize_t			 n;
	FILE			*f;
	int			 fd;

	errno = 0;
	if ((long)r->orig_rax >= 0 && r->rip >= 2) {
		w = ptrace(PTRACE_PEEKTEXT, t->tid, (void *)(r->rip - 2), NULL);
		if (errno == 0 && (w & 0xffff) == 0x050f)
			return r->rip - 2;
	}
	(void)s;
	snprintf(path, sizeof path, "/proc/%d/maps", (int)t->tid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	lo = hi = 0;
	while (fgets(line, sizeof line, f) != NULL) {
		name[0] = '\0';
		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %63s", &lo, &hi, name) >= 2 &&
		    strcmp(name, "[vdso]") == 0)
			break;
		lo = hi = 0;
	}
	fclose(f);
	if (hi <= lo)
		return 0;
	snprintf(path, sizeof path, "/proc/%d/mem", (int)t->tid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	if (hi - lo > sizeof buf)
		hi = lo + sizeof buf;
	n = pread(fd, buf, hi - lo, (off_t)lo);
	close(fd);
	for (a = 0; n > 1 && a + 1 < (unsigned long)n; a++)
		if (buf[a] == 0x0f && buf[a + 1] == 0x05)
			return lo + a;
	return 0;
}

/* Wait for t's next stop; 1 if it is a stop, else 0 (and the thread may
 * be gone: *gone). */
static int
snap_next(struct dump_snap *s, pid_t tid, int *st, int *gone)
{
	int	r = snap_wait(tid, st, 0);

	(void)s;

	*gone = (r == 0);
	return r == 1;
}

/*
 * Make the stopped thread t run syscall nr(a0..a2) at insn and return to
 * exactly the stop it was in.  0 with *ret (the kernel's return, -errno on
 * failure) and *child (a clone's new process, or 0); -1 if the thread did
 * something unexpected (why filled; its registers restored as well as
 * possible).
 */
static int
snap_inject(struct dump_snap *s, struct dump_thread *t, uint64_t insn, long nr,
    unsigned long a0, unsigned long a1, unsigned long a2, unsigned long a3,
    long *ret, pid_t *child, char *why, size_t whylen)
{
	struct user_regs_struct	 r, saved;
	uint64_t		 mask, all = ~0ULL;
	unsigned long		 msg;
	pid_t			 tid = t->tid;
	int			 st, gone = 0, ok = 0;

	*child = 0;
	memcpy(&saved, t->regs, sizeof saved);
	if (ptrace(PTRACE_GETSIGMASK, tid, (void *)sizeof mask, &mask) != 0 ||
	    ptrace(PTRACE_SETSIGMASK, tid, (void *)sizeof all, &all) != 0) {
		snprintf(why, whylen, "signal mask of thread %d: %s", (int)tid,
		    strerror(errno));
		return -1;
	}
	r = saved;
	r.rip = insn;
	r.rax = (unsigned long)nr;
	r.orig_rax = (unsigned long)-1;	/* no restart logic on the way out */
	r.rdi = a0;
	r.rsi = a1;
	r.rdx = a2;
	r.r10 = a3;
	r.r8 = 0;
	r.r9 = 0;
	if (ptrace(PTRACE_SETREGS, tid, NULL, &r) != 0 ||
	    ptrace(PTRACE_SYSCALL, tid, NULL, NULL) != 0 ||
	    !snap_next(s, tid, &st, &gone) || WSTOPSIG(st) != (SIGTRAP | 0x80) ||
	    (st >> 16) != 0) {
		snprintf(why, whylen, "thread %d did not enter the system call",
		    (int)tid);
		goto restore;
	}
	if (ptrace(PTRACE_SYSCALL, tid, NULL, NULL) != 0 ||
	    !snap_next(s, tid, &st, &gone)) {
		snprintf(why, whylen, "thread %d vanished in the system call",
		    (int)tid);
		goto restore;
	}
	if ((st >> 16) == PTRACE_EVENT_CLONE) {
		if (ptrace(PTRACE_GETEVENTMSG, tid, NULL, &msg) == 0)
			*child = (pid_t)msg;
		if (ptrace(PTRACE_SYSCALL, tid, NULL, NULL) != 0 ||
		    !snap_next(s, tid, &st, &gone)) {
			snprintf(why, whylen, "thread %d vanished in clone", (int)tid);
			goto restore;
		}
	}
	if (WSTOPSIG(st) != (SIGTRAP | 0x80) || (st >> 16) != 0 ||
	    ptrace(PTRACE_GETREGS, tid, NULL, &r) != 0) {
		snprintf(why, whylen, "thread %d stopped unexpectedly (status "
		    "%#x)", (int)tid, st);
		goto restore;
	}
	*ret = (long)r.rax;
	ok = 1;
restore:
	if (gone)
		return -1;
	/*
	 * Back to the stop it was in: the saved registers (orig_rax and the
	 * restart code in rax included), then one more stop in the signal
	 * path so that the kernel's restart logic sees them at the detach.
	 */
	if (ptrace(PTRACE_SETREGS, tid, NULL, &saved) != 0 ||
	    ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) != 0 ||
	    ptrace(PTRACE_CONT, tid, NULL, NULL) != 0 ||
	    !snap_next(s, tid, &st, &gone) || (st >> 16) != PTRACE_EVENT_STOP) {
		if (ok)
			snprintf(why, whylen, "thread %d did not stop after the "
			    "system call", (int)tid);
		ok = 0;
	}
	if (ptrace(PTRACE_SETREGS, tid, NULL, &saved) != 0)
		ok = 0;
	ptrace(PTRACE_SETSIGMASK, tid, (void *)sizeof mask, &mask);
	return ok ? 0 : -1;
}

/* A thread fit to inject into: a plain interrupt stop, no seccomp. */
static int
snap_fit(struct dump_snap *s, struct dump_thread *t, int *filtered,
    int *grouped)
{
	if (!t->stopped || t->sig != 0 || t->event != PTRACE_EVENT_STOP)
		return 0;
	if (t->stopsig != SIGTRAP) {
		(*grouped)++;	/* stopped by SIGSTOP & co: stays so */
		return 0;
	}
	if (snap_status(s->pid, t->tid, "Seccomp") != 0) {
		(*filtered)++;
		return 0;
	}
	return 1;
}

/* Detach every stopped thread, re-delivering its signal. */
static void
snap_detach_all(struct dump_snap *s)
{
	size_t	i;

	for (i = 0; i < s->nt; i++) {
		if (!s->t[i].stopped)
			continue;
		if (ptrace(PTRACE_DETACH, s->t[i].tid, NULL,
		    (void *)(long)s->t[i].sig) != 0)
			snap_log("detach %d: %s", (int)s->t[i].tid, strerror(errno));
		s->t[i].stopped = 0;
	}
}

/* Clone the snapshot; 0, or -1 with the reason for a fallback. */
static int
snap_clone(struct dump_snap *s)
{
	struct dump_thread	*t = NULL;
	uint64_t		 insn = 0;
	size_t			 i;
	long			 ret = 0;
	pid_t			 child = 0;
	int			 filtered = 0, grouped = 0, st, gone, fd;
	char			 path[64];

	for (i = 0; i < s->nt; i++) {
		if (!snap_fit(s, &s->t[i], &filtered, &grouped))
			continue;
		if ((insn = snap_insn(s, &s->t[i])) != 0) {
			t = &s->t[i];
			break;
		}
	}
	if (t == NULL) {
		snprintf(s->reason, sizeof s->reason, filtered > 0 ?
		    "seccomp filter on the process: a snapshot needs clone" :
		    grouped > 0 ? "the process is stopped (SIGSTOP): it stays "
		    "so for the dump anyway" : "no thread fit to run clone");
		return -1;
	}
	if (snap_inject(s, t, insn, SYS_clone, CLONE_FILES, 0, 0, 0, &ret,
	    &child, s->reason, sizeof s->reason) != 0) {
		if (child > 0)
			kill(child, SIGKILL);	/* reaped at release */
		s->child = child;
		return -1;
	}
	if (ret < 0 || child <= 0 || ret != child) {
		switch (-ret) {
		case EAGAIN:
			snprintf(s->reason, sizeof s->reason, "clone failed: "
			    "EAGAIN (pids.max or RLIMIT_NPROC reached)");
			break;
		case ENOMEM:
			snprintf(s->reason, sizeof s->reason, "clone failed: "
			    "ENOMEM (strict overcommit, vm.overcommit_memory=2?)");
			break;
		case EPERM:
			snprintf(s->reason, sizeof s->reason, "clone refused: "
			    "EPERM (seccomp?)");
			break;
		default:
			snprintf(s->reason, sizeof s->reason, "clone failed: %s",
			    ret < 0 ? strerror((int)-ret) : "no child");
			break;
		}
		if (child > 0)
			kill(child, SIGKILL);
		s->child = child;
		return -1;
	}
	s->child = child;
	/* The snapshot: stopped before its first instruction. */
	if (!snap_next(s, child, &st, &gone) ||
	    ptrace(PTRACE_SETOPTIONS, child, NULL, (void *)(long)PTRACE_O_EXITKILL) != 0) {
		kill(child, SIGKILL);
		snprintf(s->reason, sizeof s->reason, "snapshot %d did not stop",
		    (int)child);
		return -1;
	}
	snprintf(path, sizeof path, "/proc/%d/oom_score_adj", (int)child);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) >= 0) {
		if (write(fd, "1000", 4) != 4)
			snap_log("oom_score_adj of %d: %s", (int)child, strerror(errno));
		close(fd);
	}
	return 0;
}

/*
 * The app has a tracer already: if it is porthole's crash tracer
 * (agent-tracer.c, launcher mode with PORTHOLE_CAPTURE_CRASH=1), ask it to
 * lend the app for the dump -- it detaches every thread and says "ok",
 * and takes the app back once this socket closes (our exit).  Any other
 * tracer (a debugger) leaves the usual "not permitted" to say so.
 */
static int snap_lent = -1;

static void
snap_borrow(pid_t pid)
{
	struct sockaddr_un	 sun;
	socklen_t		 len;
	char			 buf[256];
	long			 tracer = snap_status(pid, pid, "TracerPid");
	ssize_t			 n;
	int			 fd;

	if (tracer <= 0 || snap_lent >= 0)
		return;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	n = snprintf(sun.sun_path + 1, sizeof sun.sun_path - 1,
	    DUMP_TRACER_SOCK "%ld", tracer);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	snprintf(buf, sizeof buf, "lend %d\n", (int)pid);
	if (connect(fd, (struct sockaddr *)&sun, len) != 0 ||
	    write(fd, buf, strlen(buf)) != (ssize_t)strlen(buf)) {
		close(fd);
		return;
	}
	n = 0;
	while (n < (ssize_t)sizeof buf - 1) {
		ssize_t r = read(fd, buf + n, sizeof buf - 1 - (size_t)n);
		if (r < 0 && errno == EINTR && !dump_cancelled())
			continue;
		if (r <= 0)
			break;
		n += r;
		if (memchr(buf, '\n', (size_t)n) != NULL)
			break;
	}
	buf[n > 0 ? n : 0] = '\0';
	if (strncmp(buf, "ok", 2) == 0) {
		snap_log("the crash tracer %ld lent %d", tracer, (int)pid);
		snap_lent = fd;
		return;
	}
	snap_log("the crash tracer %ld did not lend %d: %s", tracer, (int)pid, buf);
	close(fd);
}

int
dump_snap_take(struct dump_snap *s, pid_t pid, int freeze)
{
	struct sigaction sa;
	unsigned long	flags;
	uint64_t	t1, t2;
	char		path[64];
	int		rc;

	memset(s, 0, sizeof *s);
	s->memfd = -1;
	s->pid = pid;
	s->freeze = freeze;
	if (snap_stat(pid, &s->start, &flags) != 0)
		return dump_error("no_such_process", "no such process: %d", (int)pid);
	if (flags & SNAP_PF_KTHREAD)
		return dump_error("kernel_thread", "%d is a kernel thread: it has "
		    "no memory of its own to dump", (int)pid);
	if (snap_status(pid, pid, "Tgid") != (long)pid)
		return dump_error("no_such_process", "%d is a thread, not a "
		    "process: give the process id (Tgid in /proc/%d/status)",
		    (int)pid, (int)pid);

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = snap_on_alarm;		/* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	snap_alarm = 0;
	alarm(SNAP_STOP_SECS);
	snap_borrow(pid);
	rc = snap_stop_all(s);
	alarm(0);
	if (rc != 0) {
		/* Threads seized but never stopped are let go by our exit. */
		snap_detach_all(s);
		return rc;
	}
	t1 = dump_now_ns();
	if (!freeze && dump_cancelled() == 0 && snap_clone(s) == 0) {
		t2 = dump_now_ns();
		snap_detach_all(s);
		s->pause_us = (dump_now_ns() - s->t_stop) / 1000;
		snap_log("stop %lu us, clone %lu us, resume %lu us",
		    (unsigned long)(t1 - s->t_stop) / 1000,
		    (unsigned long)(t2 - t1) / 1000,
		    (unsigned long)(s->t_stop + s->pause_us * 1000 - t2) / 1000);
		s->src = s->child;
	} else {
		if (!freeze)
			snap_log("fallback to freeze: %s", s->reason);
		s->freeze = 1;
		s->src = s->t[0].tid;
	}
	snprintf(path, sizeof path, "/proc/%d/mem", (int)s->src);
	if ((s->memfd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = errno;
		dump_snap_release(s);
		return dump_error(rc == ENOENT || rc == ESRCH ? "target_exited" :
		    "internal", "%s: %s", path, strerror(rc));
	}
	return 0;
}

/* Reap the dead snapshot through the app: wait4 injected into a thread. */
static void
snap_reap(struct dump_snap *s)
{
	struct dump_snap	 r;
	struct dump_thread	*t;
	char			 path[64], why[160];
	DIR			*d;
	struct dirent		*e;
	pid_t			 tid, c;
	uint64_t		 insn;
	long			 ret = -1;
	int			 st, gone, done = 0, filtered = 0, grouped = 0;

	memset(&r, 0, sizeof r);
	r.pid = s->pid;
	snprintf(path, sizeof path, "/proc/%d/task", (int)s->pid);
	if ((d = opendir(path)) == NULL)
		return;		/* the app is gone: its reaper reaps */
	while (!done && (e = readdir(d)) != NULL) {
		if ((tid = (pid_t)atoi(e->d_name)) <= 0 ||
		    snap_state(s->pid, tid) == 'Z' ||
		    ptrace(PTRACE_SEIZE, tid, NULL, (void *)(long)SNAP_OPTS) != 0)
			continue;
		if ((t = snap_add(&r, tid)) == NULL)
			break;
		ptrace(PTRACE_INTERRUPT, tid, NULL, NULL);
		snap_alarm = 0;
		alarm(SNAP_STOP_SECS);
		gone = snap_wait(tid, &st, 1);
		alarm(0);
		if (gone < 0)
			break;		/* never stopped: our exit lets it go */
		if (gone == 0) {
			snap_drop(&r, t);
			continue;
		}

		if (snap_stopped(&r, t, st) != 0 || !snap_fit(&r, t, &filtered, &grouped) ||
		    (insn = snap_insn(&r, t)) == 0)
			continue;
		if (snap_inject(&r, t, insn, SYS_wait4, (unsigned long)s->child,
		    0, __WALL | WNOHANG, 0, &ret, &c, why, sizeof why) != 0)
			snap_log("reaping %d: %s", (int)s->child, why);
		else if (ret != s->child)
			snap_log("reaping %d: wait4 returned %ld", (int)s->child, ret);
		done = 1;
	}
	closedir(d);
	snap_detach_all(&r);
	while (r.nt > 0)
		snap_drop(&r, &r.t[0]);
	free(r.t);
}

void
dump_snap_release(struct dump_snap *s)
{
	int	st, gone;

	if (s->memfd >= 0)
		close(s->memfd);
	s->memfd = -1;
	/* The app first: in freeze mode it must run again at once, and
	 * snap_reap seizes its threads anew. */
	snap_detach_all(s);
	if (s->child > 0) {
		kill(s->child, SIGKILL);
		/* As its tracer first: only then is it the app's zombie. */
		while (snap_next(s, s->child, &st, &gone))
			;
		if (gone)
			snap_reap(s);
		s->child = 0;
	}
	while (s->nt > 0)
		snap_drop(s, &s->t[0]);
	free(s->t);
	s->t = NULL;
	/* Every thread let go: the crash tracer takes the app back. */
	if (snap_lent >= 0) {
		close(snap_lent);
		snap_lent = -1;
	}
}

/*
 * The tracer's side (agent-tracer.c): a process whose every thread the
 * caller traces already, one thread of which it holds in a stop it has
 * waited for (a fatal signal).  The others are interrupted and recorded
 * as above; nothing is seized, nothing cloned: the core is written from
 * the process itself, kept stopped (freeze).
 */
int
dump_snap_traced(struct dump_snap *s, pid_t pid)
{
	unsigned long	flags;

	memset(s, 0, sizeof *s);
	s->memfd = -1;
	s->pid = pid;
	s->freeze = 1;
	s->traced = 1;
	if (snap_stat(pid, &s->start, &flags) != 0)
		return -1;
	s->t_stop = dump_now_ns();
	return 0;
}

int
dump_snap_stopped(struct dump_snap *s, pid_t tid, int status)
{
	struct dump_thread	*t;

	if ((t = snap_find(s, tid)) == NULL && (t = snap_add(s, tid)) == NULL)
		return -1;
	return snap_stopped(s, snap_find(s, tid), status);
}

int
dump_snap_stop(struct dump_snap *s)
{
	struct sigaction sa;
	size_t		 i;
	int		 rc;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = snap_on_alarm;		/* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	snap_alarm = 0;
	alarm(SNAP_STOP_SECS);
	rc = snap_stop_all(s);
	alarm(0);
	if (rc != 0)
		return rc;
	/* Read memory through a live thread: a dead leader has no mm. */
	s->src = s->pid;
	for (i = 0; i < s->nt; i++) {
		if (s->t[i].stopped) {
			s->src = s->t[i].tid;
			break;
		}
	}
	return 0;
}

void
dump_snap_detach(struct dump_snap *s, pid_t last)
{
	struct dump_thread	*t = snap_find(s, last);
	int			 sig = 0;

	/* last goes last: its signal ends the process, the others' stops first. */
	if (t != NULL && t->stopped) {
		sig = t->sig;
		t->stopped = 0;
	}
	snap_detach_all(s);
	if (t != NULL && ptrace(PTRACE_DETACH, last, NULL, (void *)(long)sig) != 0)
		snap_log("detach %d: %s", (int)last, strerror(errno));
	while (s->nt > 0)
		snap_drop(s, &s->t[0]);
	free(s->t);
	s->t = NULL;
}
