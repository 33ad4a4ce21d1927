/*
 * client-out.c - ending like a pipeline member when our reader leaves.
 * See client-out.h.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "client-out.h"
#include "cmd.h"

/*
 * Is fd a pipe or socket whose reading end is closed?  The kernel says so
 * with POLLERR (a pipe) or POLLHUP (a socket) on the writing end.  This
 * covers a stdio stream whose error flag was set by an earlier write,
 * when errno no longer says why.
 */
static int
out_reader_gone(int fd)
{
	struct stat	 st;
	struct pollfd	 p = { .fd = fd, .events = POLLOUT };

	if (fstat(fd, &st) != 0 || !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
		return 0;
	return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP)) != 0;
}

/* Die of SIGPIPE, whatever its disposition and mask were. */
static void
out_die_of_sigpipe(void)
{
	sigset_t	set;

	fflush(stderr);
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	signal(SIGPIPE, SIG_DFL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	raise(SIGPIPE);
}

int
client_out_failed(int fd, int err, const char *after)
{
	if (err == EPIPE || out_reader_gone(fd)) {
		out_die_of_sigpipe();
		/* Still here: something we do not control holds SIGPIPE off. */
		return cmd_failf("the reader of our output went away");
	}
	return cmd_failf("cannot write to %s (%s)%s%s", fd == 2 ? "stderr" : "stdout",
	    strerror(err), after != NULL ? ": " : "", after != NULL ? after : "");
}

int
client_out_flush(void)
{
	int	err;

	errno = 0;
	if (fflush(stdout) == 0 && !ferror(stdout))
		return 0;
	err = errno != 0 ? errno : EIO;
	clearerr(stdout);	/* said once */
	return client_out_failed(1, err, NULL);
}
