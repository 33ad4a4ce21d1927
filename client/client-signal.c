/*
 * client-signal.c - the CLI's signal thread: sigwait for SIGINT and
 * SIGTERM, remember them in order, and wake the loop.  See client-signal.h.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "porthole/util.h"

#include "client-conn.h"
#include "client-signal.h"

#define SIGNAL_PENDING_MAX	8	/* more than that: the first ones are enough */

static pthread_mutex_t	 signal_lock = PTHREAD_MUTEX_INITIALIZER;
static struct client_conn *signal_cc;
static int		 signal_pending[SIGNAL_PENDING_MAX];
static int		 signal_count;

static sigset_t		 signal_waited;	/* what client_signal_block chose */
static sigset_t		 signal_extra;	/* added by client_signal_also */
static int		 signal_extra_set;

/*
 * SIGINT and SIGTERM, except one our parent made us ignore (a background
 * job of a script, nohup): that one stays ignored, as in any program.
 */
static void
signal_set(sigset_t *set)
{
	static const int	 sigs[] = { SIGINT, SIGTERM };
	struct sigaction	 sa;
	size_t			 i;

	sigemptyset(set);
	for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		if (sigaction(sigs[i], NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
			continue;
		sigaddset(set, sigs[i]);
	}
	for (i = 1; signal_extra_set && i < NSIG; i++)
		if (sigismember(&signal_extra, (int)i) == 1)
			sigaddset(set, (int)i);
}

void
client_signal_also(int sig)
{
	struct sigaction	 sa;

	if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
		return;		/* our parent wants it ignored (nohup) */
	if (!signal_extra_set) {
		sigemptyset(&signal_extra);
		signal_extra_set = 1;
	}
	sigaddset(&signal_extra, sig);
}

/*
 * SIGPIPE blocked in every thread made from here: a write to a reader
 * that went away fails with EPIPE, the run closes its session (a session
 * that resumes sends its close record, or the agent would hold it for a
 * resume), and client_out_failed() dies of it then.
 */
void
client_signal_block_pipe(void)
{
	sigset_t	pipe;

	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, NULL);
}

void
client_signal_block(void)
{
	signal_set(&signal_waited);
	pthread_sigmask(SIG_BLOCK, &signal_waited, NULL);
	client_signal_block_pipe();
}

static void *
signal_thread(void *arg)
{
	int		 sig;

	(void)arg;
	for (;;) {
		if (sigwait(&signal_waited, &sig) != 0)
			break;
		pthread_mutex_lock(&signal_lock);
		if (signal_cc == NULL) {
			/*
			 * The loop is gone (flushing the last output, or
			 * leaving): the signal means "quit now", by the
			 * signal's own default action.
			 */
			sigset_t one;

			sigemptyset(&one);
			sigaddset(&one, sig);
			signal(sig, SIG_DFL);
			pthread_sigmask(SIG_UNBLOCK, &one, NULL);
			raise(sig);
		}
		if (signal_count < SIGNAL_PENDING_MAX)
			signal_pending[signal_count++] = sig;
		if (signal_cc != NULL)
			client_conn_wake(signal_cc);
		pthread_mutex_unlock(&signal_lock);
	}
	return NULL;
}

int
client_signal_start(struct client_conn *cc, char **cause)
{
	pthread_attr_t	 attr;
	pthread_t	 t;
	int		 r;

	if (sigisemptyset(&signal_waited))
		return 0;	/* both ignored: nothing to wait for */
	pthread_mutex_lock(&signal_lock);
	signal_cc = cc;
	pthread_mutex_unlock(&signal_lock);

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = pthread_create(&t, &attr, signal_thread, NULL);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		*cause = ph_asprintf("cannot start the signal thread (%s)",
		    strerror(r));
		client_signal_detach();
		return -1;
	}
	return 0;
}

void
client_signal_detach(void)
{
	pthread_mutex_lock(&signal_lock);
	signal_cc = NULL;
	pthread_mutex_unlock(&signal_lock);
}

int
client_signal_take(void)
{
	int	 sig = 0;

	pthread_mutex_lock(&signal_lock);
	if (signal_count > 0) {
		sig = signal_pending[0];
		memmove(signal_pending, signal_pending + 1,
		    (size_t)(signal_count - 1) * sizeof signal_pending[0]);
		signal_count--;
	}
	pthread_mutex_unlock(&signal_lock);
	return sig;
}
