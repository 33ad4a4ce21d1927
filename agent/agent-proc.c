/*
 * agent-proc.c - the agent's child processes: reaping, killing with a
 * grace period, and the clean slate a child gets before exec.
 *
 * Operations register each child with a callback (agent_proc_watch); on
 * SIGCHLD (read from the signalfd, agent-signal.c) every exited child is
 * reaped with waitpid(WNOHANG) and its callback told the status, so no
 * zombie is ever left.  A child that must go (its session was lost, the
 * agent is stopping) gets SIGTERM to its whole process group and, if the
 * group is still there after AGENT_KILL_GRACE_MS, SIGKILL.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "porthole/log.h"

#include "agent.h"

struct agent_proc {
	struct agent_proc *next;
	pid_t		 pid;
	agent_proc_cb	 cb;
	void		*arg;
};

struct agent_kill {
	struct agent_kill *next;
	struct agent	*agent;
	pid_t		 pgid;
	lws_sorted_usec_list_t sul;
};

/* Call cb(arg, pid, status) when pid exits.  -1 on allocation failure. */
int
agent_proc_watch(struct agent *a, pid_t pid, agent_proc_cb cb, void *arg)
{
	struct agent_proc	*c;

	if ((c = calloc(1, sizeof *c)) == NULL)
		return -1;
	c->pid = pid;
	c->cb = cb;
	c->arg = arg;
	c->next = a->children;
	a->children = c;
	return 0;
}

/* Forget pid's callback (the child is still reaped when it exits). */
void
agent_proc_unwatch(struct agent *a, pid_t pid)
{
	struct agent_proc	**pp, *c;

	for (pp = &a->children; (c = *pp) != NULL; pp = &c->next) {
		if (c->pid == pid) {
			*pp = c->next;
			free(c);
			return;
		}
	}
}

/* SIGCHLD: reap every child that has exited and tell its watcher. */
void
agent_proc_reap(struct agent *a)
{
	struct agent_proc	**pp, *c;
	pid_t			  pid;
	int			  status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (pp = &a->children; (c = *pp) != NULL; pp = &c->next) {
			if (c->pid == pid)
				break;
		}
		if (c == NULL) {
			ph_debug("reaped pid %d (nobody waited for it)", (int)pid);
			continue;
		}
		*pp = c->next;
		c->cb(c->arg, pid, status);
		free(c);
	}
}

static void
agent_proc_kill_cb(lws_sorted_usec_list_t *sul)
{
	struct agent_kill	 *k = lws_container_of(sul, struct agent_kill, sul);
	struct agent_kill	**pp;

	for (pp = &k->agent->kills; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == k) {
			*pp = k->next;
			break;
		}
	}
	if (kill(-k->pgid, 0) == 0) {
		ph_info("process group %d still there %d ms after SIGTERM/SIGHUP: SIGKILL",
		    (int)k->pgid, AGENT_KILL_GRACE_MS);
		kill(-k->pgid, SIGKILL);
	}
	free(k);
}

/*
 * End a process group: signo (SIGTERM, or SIGHUP for a hung-up terminal)
 * and SIGCONT, so a stopped group can act on it, now; SIGKILL after the
 * grace if any member is left.
 */
static void
agent_proc_end(struct agent *a, pid_t pgid, int signo)
{
	struct agent_kill	*k;

	if (pgid <= 0)
		return;
	if (kill(-pgid, signo) != 0 && errno == ESRCH)
		return;
	kill(-pgid, SIGCONT);
	if ((k = calloc(1, sizeof *k)) == NULL) {
		kill(-pgid, SIGKILL);
		return;
	}
	k->agent = a;
	k->pgid = pgid;
	k->next = a->kills;
	a->kills = k;
	lws_sul_schedule(a->ctx, 0, &k->sul, agent_proc_kill_cb,
	    (lws_usec_t)AGENT_KILL_GRACE_MS * LWS_US_PER_MS);
}

void
agent_proc_kill(struct agent *a, pid_t pgid)
{
	agent_proc_end(a, pgid, SIGTERM);
}

/* The same with SIGHUP first: a terminal session whose user hung up. */
void
agent_proc_hangup(struct agent *a, pid_t pgid)
{
	agent_proc_end(a, pgid, SIGHUP);
}

/* The agent is exiting (after lws_context_destroy): no grace is left. */
void
agent_proc_cleanup(struct agent *a)
{
	struct agent_proc	*c;
	struct agent_kill	*k;

	while ((k = a->kills) != NULL) {
		a->kills = k->next;
		kill(-k->pgid, SIGKILL);
		free(k);
	}
	while ((c = a->children) != NULL) {
		a->children = c->next;
		free(c);
	}
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

/*
 * In a freshly forked child, after its 0/1/2 are in place: a session and
 * process group of its own (so the whole group can be signalled), default
 * dispositions and an empty mask (libwebsockets ignores SIGPIPE, the agent
 * blocks SIGCHLD/SIGTERM/SIGINT/SIGHUP: a program must not inherit either),
 * and every fd above 2 closed but keep_fd (-1: none).
 * Only async-signal-safe calls: the agent has a resolver thread at times.
 */
static pid_t agent_proc_parent;

/* Remember the agent's pid, for the children's parent-death check. */
void
agent_proc_init(void)
{
	agent_proc_parent = getpid();
}

void
agent_proc_prepare(int keep_fd)
{
	struct sigaction	sa;
	struct rlimit		rl;
	sigset_t		none;
	unsigned int		fd, max;
	int			sig;

	setsid();
	/*
	 * If the agent dies (even of SIGKILL), the program it started for a
	 * session dies with it: nothing an operator started keeps running
	 * without a session to see it.  The check closes the race with an
	 * agent that died before the prctl.
	 */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (agent_proc_parent != 0 && getppid() != agent_proc_parent)
		_exit(127);

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++) {
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL);	/* glibc's reserved ones fail: fine */
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	if (keep_fd < 3) {
		if (close_range(3, ~0U, 0) == 0)
			return;
	} else if ((keep_fd == 3 || close_range(3, (unsigned int)keep_fd - 1, 0) == 0) &&
	    close_range((unsigned int)keep_fd + 1, ~0U, 0) == 0)
		return;

	/* Kernels before 5.9 have no close_range. */
	max = 65536;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (1U << 20))
		max = (unsigned int)rl.rlim_cur;
	for (fd = 3; fd < max; fd++) {
		if ((int)fd != keep_fd)
			close((int)fd);
	}
}
