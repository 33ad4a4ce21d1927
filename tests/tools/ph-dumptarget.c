/*
 * ph-dumptarget - the process the dump tests take cores of, and that
 * counts every trace a dump could leave on it.
 *
 *   ph-dumptarget --status FILE [--threads N] [--heap MIB] [--seccomp]
 *       [--pids-cgroup DIR] [--zombie-main] [--fill sparse|semi|zero]
 *       [--writer-sleep US] [--holes]
 *
 * Shape (gdb must show it in the core): main -> level_one -> level_two ->
 * park (nanosleep, a restartable sleep), N parked threads (park_thread ->
 * park, alternating poll, read on a pipe, and futex waits), a writer
 * thread bumping `counter` and a second copy of it in the last page of
 * the heap (`tail`, read last by a dump: both agree in a consistent
 * image), a global `marker`, and --heap MiB of touched heap.
 *
 * Self-accounting, written to FILE (atomically: FILE.tmp, rename) once every
 * thread is parked (the file's appearance says: ready), and on every SIGUSR2, as `key=value` lines:
 *   sigchld   SIGCHLDs received
 *   eintr     EINTRs out of the blocking calls of the parked threads
 *   badret    other unexpected errnos out of them (e.g. a leaked 512..516)
 *   strays    children seen by waitpid(-1, WNOHANG) (it has none)
 *   rt        real-time signals taken (SIGRTMIN..SIGRTMIN+2)
 *   rt_handled  SIGRTMIN+3s caught by a handler in the writer thread
 *   usr1      SIGUSR1s received; the first closes the pipe's write end
 *   eof       1 once the pipe's reader thread saw EOF
 *   counter   the writer's counter
 *   stall_us  the longest gap the writer saw between two bumps since
 *             the last status (reset by each SIGUSR2)
 *   ready     how many threads are running
 *   sigwait_eintr  EINTRs out of sigwaitinfo: Linux returns one after
 *             every stop, a debugger's too (signal(7)); not a dump's trace
 * Every handled signal is blocked in every thread and taken by one
 * thread in sigwaitinfo, so no test signal ever interrupts a parked call:
 * an EINTR can only come from a dump.
 *
 * --fill: what the heap holds.  sparse (the default): one word in eight
 * set on every page, the rest zero; semi: what a real heap looks like to
 * a compressor, in runs of four pages: half low-entropy bytes (4 random bits of 8),
 * a quarter pointer-like words, a quarter zero (touched, never set);
 * zero: every page touched with zero bytes only (memory never written).
 * bench/dump-vs-gcore dumps all three.
 *
 * --writer-sleep US: the writer sleeps US microseconds every 64 bumps
 * instead of spinning: an app that works but does not hold a whole core
 * (a benchmark on a machine of two cores wants the other one for the
 * dump); stall_us then includes the sleeps.
 *
 * --holes: `holes`, 4 MiB of private anonymous memory of which only some
 * pages were ever touched: page k holds the byte HOLES_BYTE(k) 4096 times
 * if HOLES_TOUCHED(k), else it was never touched (the dump's pagemap
 * shortcut writes it as zeros without reading it); runs of either kind
 * cross the worker's 1 MiB chunks.  Without --holes, holes is NULL.
 *
 * --seccomp: after the threads exist, a filter on every thread (TSYNC)
 * answers EPERM to clone and clone3 (the snapshot's fallback test).
 * --zombie-main: main calls pthread_exit once all is up (a dead leader).
 * --pids-cgroup DIR: a cgroup v1 pids directory to create and join with
 * pids.max set to the current number of tasks (the EAGAIN fallback).
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char marker[] = "porthole-dump-marker-7f3a";
volatile unsigned long counter;
volatile unsigned long *tail;		/* the last word of the heap */
volatile unsigned long stall_ns;
unsigned char *holes;			/* --holes */
const unsigned long holes_len = 4UL << 20;

#define HOLES_TOUCHED(k)	((k) % 5 == 0 || ((k) >= 200 && (k) < 600))
#define HOLES_BYTE(k)		((unsigned char)((k) * 7 % 255 + 1))

static volatile unsigned long n_eintr, n_badret, n_strays, n_sigwait_eintr;
static unsigned long n_sigchld, n_rt, n_usr1;
static volatile unsigned long n_rt_handled;
static volatile int pipe_eof, nready;
static int pipefd[2] = { -1, -1 };
static const char *status_path;
static uint32_t futex_word;
static size_t heap_mib = 16;
static long writer_sleep_us;		/* --writer-sleep: 0 = spin */
static char *heap;
static enum { FILL_SPARSE, FILL_SEMI, FILL_ZERO } heap_fill = FILL_SPARSE;

static void
die(const char *what)
{
	fprintf(stderr, "ph-dumptarget: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
count_ret(long r, int err)
{
	if (r >= 0)
		return;
	if (err == EINTR)
		__atomic_add_fetch(&n_eintr, 1, __ATOMIC_SEQ_CST);
	else if (err != ETIMEDOUT && err != EAGAIN)
		__atomic_add_fetch(&n_badret, 1, __ATOMIC_SEQ_CST);
}

static void
write_status(void)
{
	char	tmp[PATH_MAX];
	FILE	*f;

	snprintf(tmp, sizeof tmp, "%s.tmp", status_path);
	if ((f = fopen(tmp, "w")) == NULL)
		return;
	fprintf(f, "sigchld=%lu\neintr=%lu\nbadret=%lu\nstrays=%lu\nrt=%lu\n"
	    "usr1=%lu\neof=%d\ncounter=%lu\nstall_us=%lu\nready=%d\n"
	    "sigwait_eintr=%lu\nrt_handled=%lu\n",
	    n_sigchld, n_eintr, n_badret, n_strays, n_rt, n_usr1, pipe_eof,
	    counter, stall_ns / 1000, nready, n_sigwait_eintr, n_rt_handled);
	fclose(f);
	rename(tmp, status_path);
}

/* The innermost frame of every parked thread: one blocking call, forever. */
static void __attribute__((noinline))
park(int how)
{
	struct timespec	ts = { 3600, 0 };
	struct pollfd	pfd;
	char		c;
	long		r;

	for (;;) {
		switch (how) {
		case 0:		/* nanosleep: -516, restart_block */
			r = nanosleep(&ts, NULL);
			count_ret(r, errno);
			break;
		case 1:		/* poll with a timeout: restart_block too */
			pfd.fd = -1;
			pfd.events = POLLIN;
			r = poll(&pfd, 1, 3600 * 1000);
			count_ret(r, errno);
			break;
		case 2:		/* futex wait: -512 */
			r = syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0,
			    NULL, NULL, 0);
			count_ret(r, errno);
			break;
		default:	/* the pipe's reader: read, EOF when closed */
			r = read(pipefd[0], &c, 1);
			count_ret(r, errno);
			if (r == 0) {
				pipe_eof = 1;
				write_status();
				how = 0;
			}
			break;
		}
	}
}

static void __attribute__((noinline))
level_two(void)
{
	write_status();		/* everything is up: the test may begin */
	park(0);
}

static void __attribute__((noinline))
level_one(void)
{
	level_two();
}

static void *
park_thread(void *arg)
{
	__atomic_add_fetch(&nready, 1, __ATOMIC_SEQ_CST);
	park((int)(intptr_t)arg);
	return NULL;
}

static unsigned long
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long)ts.tv_sec * 1000000000UL + (unsigned long)ts.tv_nsec;
}

/* SIGRTMIN+3, caught by the writer alone (the one thread that never
 * blocks in a call): a dump that stops it at that signal's delivery
 * must hand the signal back. */
static void
on_rt3(int sig)
{
	(void)sig;
	n_rt_handled++;
}

/* Bump the counter and its copy at the other end of memory, forever. */
static void *
writer_thread(void *arg)
{
	unsigned long	n = 0, last = now_ns(), t;
	sigset_t	rt3;

	(void)arg;
	sigemptyset(&rt3);
	sigaddset(&rt3, SIGRTMIN + 3);
	pthread_sigmask(SIG_UNBLOCK, &rt3, NULL);
	__atomic_add_fetch(&nready, 1, __ATOMIC_SEQ_CST);
	for (;;) {
		n++;
		counter = n;
		*tail = n;
		if ((n & 63) == 0) {
			t = now_ns();
			if (t - last > stall_ns)
				stall_ns = t - last;
			last = t;
			if (writer_sleep_us > 0)
				usleep((useconds_t)writer_sleep_us);
		}
	}
	return NULL;
}

/* Reaps nothing (it has no children): any child is a stray. */
static void *
waiter_thread(void *arg)
{
	struct timespec	ts = { 0, 10 * 1000 * 1000 };
	int		st;
	long		r;

	(void)arg;
	__atomic_add_fetch(&nready, 1, __ATOMIC_SEQ_CST);
	for (;;) {
		r = waitpid(-1, &st, WNOHANG);
		if (r > 0)
			__atomic_add_fetch(&n_strays, 1, __ATOMIC_SEQ_CST);
		else if (r < 0 && errno != ECHILD)
			count_ret(r, errno);
		r = nanosleep(&ts, NULL);
		count_ret(r, errno);
	}
	return NULL;
}

static void
block_all(sigset_t *set)
{
	int	i;

	sigemptyset(set);
	sigaddset(set, SIGCHLD);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGUSR2);
	for (i = 0; i < 3; i++)
		sigaddset(set, SIGRTMIN + i);
}

/* Takes every test signal; SIGTERM/SIGINT end the program as usual. */
static void *
signal_thread(void *arg)
{
	sigset_t	*set = arg;
	siginfo_t	 si;
	int		 sig;

	__atomic_add_fetch(&nready, 1, __ATOMIC_SEQ_CST);
	for (;;) {
		if ((sig = sigwaitinfo(set, &si)) < 0) {
			/* Linux fails sigwaitinfo with EINTR after any stop,
			 * even a debugger's (signal(7)): counted apart. */
			if (errno == EINTR)
				n_sigwait_eintr++;
			else
				count_ret(-1, errno);
			continue;
		}
		if (sig == SIGCHLD)
			n_sigchld++;
		else if (sig == SIGUSR1) {
			if (n_usr1++ == 0) {
				close(pipefd[1]);
				pipefd[1] = -1;
			}
		} else if (sig == SIGUSR2) {
			write_status();
			stall_ns = 0;
		} else
			n_rt++;
	}
	return NULL;
}

static void
seccomp_clone_eperm(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 435 /* clone3 */, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	};
	struct sock_fprog prog = { sizeof f / sizeof f[0], f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		die("PR_SET_NO_NEW_PRIVS");
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
	    SECCOMP_FILTER_FLAG_TSYNC, &prog) != 0)
		die("seccomp");
}

static void
put(const char *dir, const char *file, const char *what)
{
	char	path[PATH_MAX];
	FILE	*f;

	snprintf(path, sizeof path, "%s/%s", dir, file);
	if ((f = fopen(path, "w")) == NULL)
		die(path);
	fputs(what, f);
	if (fclose(f) != 0)
		die(path);
}

/* Join a cgroup v1 pids directory with no room for one more task. */
static void
pids_cgroup(const char *dir)
{
	char		 buf[32];
	DIR		*d;
	struct dirent	*e;
	int		 n = 0;

	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		die(dir);
	snprintf(buf, sizeof buf, "%d", (int)getpid());
	put(dir, "cgroup.procs", buf);
	if ((d = opendir("/proc/self/task")) == NULL)
		die("/proc/self/task");
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	snprintf(buf, sizeof buf, "%d", n);
	put(dir, "pids.max", buf);
}

/* One page of the heap, as --fill says (see the top of the file). */
static void
fill_page(unsigned long *w, size_t pg)
{
	static uint64_t	 x = 0x9e3779b97f4a7c15ULL;
	size_t		 k, n = 4096 / sizeof *w;

	switch (heap_fill) {
	case FILL_ZERO:
		*(volatile unsigned long *)w = 0;
		break;
	case FILL_SPARSE:
		for (k = 0; k < n; k += 8)
			w[k] = (pg + k) * 2654435761UL;
		break;
	case FILL_SEMI:
		switch ((pg >> 14) & 3) {
		case 0:
		case 1:
			for (k = 0; k < n; k++) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				w[k] = x & 0x0f0f0f0f0f0f0f0fULL;
			}
			break;
		case 2:
			for (k = 0; k < n; k++)
				w[k] = k % 3 == 0 ? 0x7f0000000000UL + pg * 8 + k * 16 :
				    k % 3 == 1 ? k : 0;
			break;
		default:
			*(volatile unsigned long *)w = 0;
			break;
		}
		break;
	}
}

int
main(int argc, char **argv)
{
	static sigset_t	 set;
	pthread_t	 th;
	const char	*cgdir = NULL;
	int		 i, nthreads = 3, secc = 0, zmain = 0, want_holes = 0;
	size_t		 len, pg;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--status") == 0 && i + 1 < argc)
			status_path = argv[++i];
		else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
			nthreads = atoi(argv[++i]);
		else if (strcmp(argv[i], "--heap") == 0 && i + 1 < argc)
			heap_mib = (size_t)atol(argv[++i]);
		else if (strcmp(argv[i], "--fill") == 0 && i + 1 < argc &&
		    strcmp(argv[i + 1], "sparse") == 0) {
			heap_fill = FILL_SPARSE;
			i++;
		} else if (strcmp(argv[i], "--fill") == 0 && i + 1 < argc &&
		    strcmp(argv[i + 1], "semi") == 0) {
			heap_fill = FILL_SEMI;
			i++;
		} else if (strcmp(argv[i], "--fill") == 0 && i + 1 < argc &&
		    strcmp(argv[i + 1], "zero") == 0) {
			heap_fill = FILL_ZERO;
			i++;
		} else if (strcmp(argv[i], "--writer-sleep") == 0 && i + 1 < argc)
			writer_sleep_us = atol(argv[++i]);
		else if (strcmp(argv[i], "--seccomp") == 0)
			secc = 1;
		else if (strcmp(argv[i], "--zombie-main") == 0)
			zmain = 1;
		else if (strcmp(argv[i], "--holes") == 0)
			want_holes = 1;
		else if (strcmp(argv[i], "--pids-cgroup") == 0 && i + 1 < argc)
			cgdir = argv[++i];
		else {
			fprintf(stderr, "usage: ph-dumptarget --status FILE "
			    "[--threads N] [--heap MIB] [--seccomp] "
			    "[--pids-cgroup DIR] [--zombie-main] "
			    "[--fill sparse|semi|zero] [--writer-sleep US] "
			    "[--holes]\n");
			return 2;
		}
	}
	if (status_path == NULL || nthreads < 0 || heap_mib < 1) {
		fprintf(stderr, "ph-dumptarget: --status FILE is required\n");
		return 2;
	}

	/* Touched heap, a pattern zstd cannot make nothing of; its last
	 * word is the second copy of the counter. */
	len = heap_mib << 20;
	if ((heap = malloc(len)) == NULL)
		die("malloc");
	for (pg = 0; pg < len; pg += 4096)
		fill_page((unsigned long *)(heap + pg), pg);
	tail = (volatile unsigned long *)(heap + len - sizeof *tail);
	*tail = 0;
	if (want_holes) {
		holes = mmap(NULL, holes_len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (holes == MAP_FAILED)
			die("mmap");
		for (pg = 0; pg < holes_len / 4096; pg++) {
			if (HOLES_TOUCHED(pg))
				memset(holes + pg * 4096, HOLES_BYTE(pg), 4096);
		}
	}

	if (pipe(pipefd) != 0)
		die("pipe");
	{
		struct sigaction	sa;
		sigset_t		all;

		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_rt3;
		sa.sa_flags = SA_RESTART;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGRTMIN + 3, &sa, NULL);
		block_all(&all);
		sigaddset(&all, SIGRTMIN + 3);	/* the writer unblocks it */
		if (pthread_sigmask(SIG_BLOCK, &all, NULL) != 0)
			die("sigmask");
	}
	block_all(&set);
	if (pthread_create(&th, NULL, signal_thread, &set) != 0 ||
	    pthread_create(&th, NULL, writer_thread, NULL) != 0 ||
	    pthread_create(&th, NULL, waiter_thread, NULL) != 0 ||
	    pthread_create(&th, NULL, park_thread, (void *)(intptr_t)3) != 0)
		die("pthread_create");
	for (i = 0; i < nthreads; i++)
		if (pthread_create(&th, NULL, park_thread,
		    (void *)(intptr_t)(i % 3)) != 0)
			die("pthread_create");
	while (nready < 4 + nthreads)
		usleep(1000);
	if (cgdir != NULL)
		pids_cgroup(cgdir);
	if (secc)
		seccomp_clone_eperm();
	nready++;	/* main */
	if (zmain) {
		/* The leader gone, its threads running: a zombie leader. */
		write_status();
		pthread_exit(NULL);
	}
	level_one();
	return 0;
}
