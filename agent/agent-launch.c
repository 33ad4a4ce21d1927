/*
 * agent-launch.c - launcher mode: porthole-agent [OPTIONS] -- APP [ARG...]
 *
 * APP must live exactly as it would without porthole: keep the pid it was
 * started with (PID 1 in a container, so ECS's SIGTERM and the task's exit
 * code are APP's), its environment minus PORTHOLE_*, its fds, its signal
 * mask and dispositions.  The agent is a guest that may die at any time
 * without taking APP down.  Hence who does what:
 *
 *   launcher (the pid ECS started)          agent child
 *   ------------------------------          -----------
 *   pipe P (both ends >= 3, close-on-exec)
 *   oom_score_adj 1000, not dumpable
 *   fork ------------------------------->   born with both (inherited);
 *   oom_score_adj back to APP's own         prctl(PR_SET_PDEATHSIG, SIGTERM);
 *                                           getppid() still the launcher?
 *                                           else it is already gone: exit
 *   close P's read end                      close P's write end
 *   scrub PORTHOLE_* (wipe the token)       setsid(): no controlling terminal,
 *   execvp(APP)                             so Ctrl-C, SIGHUP, SIGTSTP of
 *     ok: P's write end closes              APP's terminal never reach it
 *     failed: errno into P, one line,      read(P): EOF = APP runs: go on;
 *       exit 127 (not found) / 126          bytes = exec failed: exit quietly
 *                                           stdin = /dev/null, close every
 *                                           fd >= 3 (they are APP's: a socket
 *                                           passed to APP must not be held)
 *                                           SIGTERM/INT/HUP back to default
 *                                           -> the agent's main goes on
 *
 * Why the agent waits for the exec and not the reverse: APP is never held
 * up by the agent (its start is delayed by fork and the handful of system
 * calls around it, nothing more), and the agent never registers with the
 * relay for an APP that did not start.  Why the agent is the child: APP
 * must keep its pid, so the launcher itself becomes APP; the child is the
 * only other place.
 *
 * Why the launcher, and not the child, sets the child's oom_score_adj
 * (1000: under memory pressure the guest goes before APP, best effort) and
 * makes it not dumpable: APP is the agent's parent and its user, and could
 * read the agent's memory -- the token -- from the moment it runs, so the
 * child must be born not dumpable (agent-secret.c); and a process that is
 * not dumpable cannot open its own /proc/self/oom_score_adj unless it is
 * root (its /proc files are root's then).  So the launcher raises its own
 * oom_score_adj through a descriptor opened before, makes itself not
 * dumpable, forks, and puts its oom_score_adj back through that descriptor
 * (a value it held already is always allowed back).  APP is dumpable again
 * as usual: exec gives it a new mm, dumpable unless its binary is setuid or
 * unreadable, as without porthole.
 *
 * Before the exec the launcher names the agent its ptracer
 * (prctl(PR_SET_PTRACER)): under Yama's ptrace_scope 1 a process may
 * ptrace only its descendants, and APP is the agent's parent; dumps and
 * crash capture (agent-tracer.c) of APP need it.  It opens APP to the
 * agent and its children only, and nothing of the agent to APP.
 *
 * The fork happens first thing in main, before any setting is read, any
 * signal blocked or any thread started: the launcher is single-threaded
 * (PR_SET_PDEATHSIG follows the thread that forked, and exec keeps that
 * thread), and APP inherits nothing the agent set up.  A bad agent setting
 * is the agent child's problem (one line, exit 2): APP runs regardless;
 * only a command line with nothing after `--` stops the launcher (exit 2).
 * If fork fails, APP runs without an agent and one line says so.
 *
 * What APP sees of the agent: one child process.  If APP is PID 1 and
 * reaps (wait(-1)), it reaps the agent when the agent exits, which is
 * harmless to the agent; an APP that waits for "its" one child must not
 * take the agent's exit for its own (docs/deployment.md).  The agent's own
 * session children are the agent's, never APP's; if the agent dies they
 * die too (their PR_SET_PDEATHSIG, agent-proc.c) and are reparented to
 * PID 1 to be reaped, which is why ECS's initProcessEnabled is advised for
 * an APP that never reaps.
 *
 * When APP exits, the agent gets SIGTERM (parent death) and winds down as
 * on any SIGTERM; as PID 1's child in a namespace it is SIGKILLed by the
 * kernel with the rest of the namespace anyway.  An agent reparented by an
 * APP that died before the prctl exits at once.  One known limit: the
 * parent-death signal follows APP's main thread (the one that forked), so
 * an APP whose main thread calls pthread_exit() while other threads go on
 * loses its agent (none of the usual runtimes does that).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "porthole/log.h"
#include "porthole/util.h"

#include "agent.h"
#include "agent-capture.h"

static const char *agent_launch_app;	/* APP's argv[0] in the agent child */
static pid_t	 agent_launch_pid;	/* APP's pid (the launcher's) */

/*
 * Where APP starts in argv: the index after a `--` that ends the agent's
 * options (not one that is the value of --name and the like), or 0.
 * getopt is rewound for the real parse.
 */
int
agent_launch_split(int argc, char **argv, const struct option *longopts,
    const char *shortopts)
{
	int	prev, app = 0;

	opterr = 0;
	optind = 1;
	for (;;) {
		prev = optind;
		if (getopt_long(argc, argv, shortopts, longopts, NULL) == -1)
			break;
	}
	if (prev < argc && optind == prev + 1 && strcmp(argv[prev], "--") == 0)
		app = optind;
	optind = 0;	/* glibc: start afresh next time */
	return app;
}

/* Move fd to 3 or above (close-on-exec) so that 0, 1 and 2 stay as they are. */
static int
agent_launch_high(int fd)
{
	int	nfd;

	if (fd >= 3)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return nfd;
}

/* The launcher side: become APP.  Never returns. */
static void __attribute__((noreturn))
agent_launch_exec(char **app, int wfd)
{
	int	saved;

	ph_env_scrub();
	execvp(app[0], app);
	saved = errno;
	/* The agent child reads this and exits without a word (or sees us gone). */
	if (wfd != -1)
		(void)!write(wfd, &saved, sizeof saved);
	fprintf(stderr, "porthole-agent: cannot run %s: %s\n", app[0], strerror(saved));
	_exit(saved == ENOENT || saved == ENOTDIR ? 127 : 126);
}

/* The agent child, before the agent's main goes on; 0, or exits. */
static void
agent_launch_child(pid_t launcher, int rfd)
{
	struct sigaction	sa;
	ssize_t			n;
	int			err, fd, sig;

	/* APP gone -> agent gone; and it may be gone already. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != launcher)
		_exit(0);
	setsid();

	do
		n = read(rfd, &err, sizeof err);
	while (n < 0 && errno == EINTR);
	if (n != 0 || getppid() != launcher)
		_exit(0);	/* exec failed (the launcher said why), or APP died */
	close(rfd);

	/* Nothing of APP's: no stdin to steal from it, no fd of its held. */
	if ((fd = open("/dev/null", O_RDONLY)) != -1) {
		if (fd != 0) {
			dup2(fd, 0);
			close(fd);
		}
	}
	if (close_range(3, ~0U, 0) != 0) {
		struct rlimit	rl;
		unsigned int	max = 65536, i;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (1U << 20))
			max = (unsigned int)rl.rlim_cur;
		for (i = 3; i < max; i++)
			close((int)i);
	}

	/* A disposition ignored by whoever started APP would hide it from the signalfd. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++) {
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL);
	}
}

/*
 * fork(), the child born as the agent must be: oom_score_adj 1000 and not
 * dumpable; the launcher keeps its own oom_score_adj (see the top).  A
 * /proc that cannot be written (read-only) leaves oom_score_adj alone.
 */
static pid_t
agent_launch_fork(void)
{
	char	was[16];
	ssize_t	n = -1;
	pid_t	pid;
	int	fd, e;

	if ((fd = open("/proc/self/oom_score_adj", O_RDWR | O_CLOEXEC)) != -1 &&
	    ((n = pread(fd, was, sizeof was, 0)) <= 0 || pwrite(fd, "1000", 4, 0) != 4)) {
		close(fd);	/* unchanged: nothing to put back */
		fd = -1;
	}
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);	/* checked again in main */
	pid = fork();
	e = errno;
	if (fd != -1) {
		if (pid != 0)	/* the launcher, about to become APP */
			(void)!pwrite(fd, was, (size_t)n, 0);
		close(fd);
	}
	errno = e;
	return pid;
}

/*
 * Launcher mode: fork; the caller (the launcher) becomes app[0] and never
 * returns; the agent child returns to main with 0.  An empty app is a
 * usage error (exit 2).
 */
void
agent_launch(char **app)
{
	pid_t	launcher = getpid(), pid;
	int	pfd[2];

	if (app[0] == NULL) {
		fprintf(stderr, "porthole-agent: nothing to run after '--' "
		    "(porthole-agent [OPTIONS] -- APP [ARG...])\n");
		exit(2);
	}
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		fprintf(stderr, "porthole-agent: pipe: %s: running %s without the agent\n",
		    strerror(errno), app[0]);
		agent_launch_exec(app, -1);
	}
	pfd[0] = agent_launch_high(pfd[0]);
	pfd[1] = agent_launch_high(pfd[1]);
	if (pfd[0] == -1 || pfd[1] == -1 || (pid = agent_launch_fork()) == -1) {
		fprintf(stderr, "porthole-agent: cannot start the agent (%s): "
		    "running %s without it\n", strerror(errno), app[0]);
		if (pfd[0] != -1)
			close(pfd[0]);
		if (pfd[1] != -1)
			close(pfd[1]);
		agent_launch_exec(app, -1);
	}
	if (pid != 0) {
		close(pfd[0]);
		/*
		 * Under Yama's ptrace_scope 1 only an ancestor may ptrace APP,
		 * and the agent is its child: name it APP's ptracer (with its
		 * descendants: the crash tracer, dump workers).  Process-wide,
		 * kept across the exec; elsewhere a no-op (EINVAL without Yama).
		 */
		(void)prctl(PR_SET_PTRACER, (unsigned long)pid, 0, 0, 0);
		agent_launch_exec(app, pfd[1]);
	}
	close(pfd[1]);
	agent_launch_child(launcher, pfd[0]);
	agent_launch_app = app[0];
	agent_launch_pid = launcher;
}

/* Once logging is set up: say that this agent rides with APP, and as which pids. */
pid_t
agent_launch_app_pid(void)
{
	return agent_launch_app != NULL ? agent_launch_pid : 0;
}

void
agent_launch_log(void)
{
	if (agent_launch_app != NULL)
		ph_info("launcher mode: %s runs as pid %d, the agent as its child, pid %d",
		    agent_launch_app, (int)agent_launch_pid, (int)getpid());
}
