/*
 * agent-resolve.c - DNS for the relay's name, off the event loop.
 *
 * libwebsockets 4.1.6 as built here has no asynchronous DNS: a name given
 * as the connect address is resolved with a blocking getaddrinfo() inside
 * the loop.  So the agent resolves the relay's name on a short-lived
 * detached thread, which stores the numeric address and wakes the loop
 * with lws_cancel_service(); the loop picks the answer up in
 * LWS_CALLBACK_EVENT_WAIT_CANCELLED (agent_resolve_poll) and connects to
 * the number, with the name as `host` for SNI and the certificate check.
 *
 * The request is shared by the loop and the thread and freed by whichever
 * lets go last; a loop that stops first clears ctx so the thread never
 * wakes a destroyed context.  At most one resolution runs at a time.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libwebsockets.h>

#include "porthole/log.h"
#include "porthole/util.h"

#include "agent.h"

struct agent_resolve {
	pthread_mutex_t	 lock;
	int		 refs;		/* loop + thread */
	struct lws_context *ctx;	/* to wake; NULL once the loop let go */
	int		 done;
	char		*host;
	char		 addr[INET6_ADDRSTRLEN];
	char		 error[160];
};

/*
 * Resolver threads alive, counted until their last instruction: the
 * flight recorder forks its capture children (agent-capture.c) only when
 * none is, so that a child never inherits a lock (malloc's, a sanitizer's
 * allocator's) that a thread held at the fork.
 */
static volatile int agent_resolve_threads;

int
agent_resolve_running(void)
{
	return __atomic_load_n(&agent_resolve_threads, __ATOMIC_SEQ_CST) != 0;
}

/* Another resolver thread starts (1) or ends (-1): agent-lookup.c's. */
void
agent_resolve_count(int delta)
{
	__atomic_add_fetch(&agent_resolve_threads, delta, __ATOMIC_SEQ_CST);
}

/* Drop one reference, with r->lock held; the last one frees.  Unlocks. */
static void
agent_resolve_unref(struct agent_resolve *r)
{
	int	last = --r->refs == 0;

	pthread_mutex_unlock(&r->lock);
	if (last) {
		pthread_mutex_destroy(&r->lock);
		free(r->host);
		free(r);
	}
}

static void *
agent_resolve_thread(void *arg)
{
	struct agent_resolve	*r = arg;
	struct addrinfo		 hints, *res = NULL, *ai;
	char			 addr[INET6_ADDRSTRLEN] = "", error[160] = "";
	int			 rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(r->host, NULL, &hints, &res);
	if (rc != 0)
		snprintf(error, sizeof error, "%s", rc == EAI_SYSTEM ? strerror(errno) :
		    gai_strerror(rc));
	else {
		for (ai = res; ai != NULL; ai = ai->ai_next) {
			if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
				continue;
			if (getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof addr,
			    NULL, 0, NI_NUMERICHOST) == 0)
				break;
			addr[0] = '\0';
		}
		if (addr[0] == '\0')
			snprintf(error, sizeof error, "no IPv4 or IPv6 address");
		freeaddrinfo(res);
	}

	pthread_mutex_lock(&r->lock);
	memcpy(r->addr, addr, sizeof addr);
	memcpy(r->error, error, sizeof error);
	r->done = 1;
	if (r->ctx != NULL)
		lws_cancel_service(r->ctx);
	agent_resolve_unref(r);
	__atomic_sub_fetch(&agent_resolve_threads, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* Start resolving cfg.host; the answer reaches agent_control_resolved(). */
int
agent_resolve_start(struct agent *a, char **cause)
{
	struct agent_resolve	*r;
	pthread_attr_t		 attr;
	pthread_t		 t;
	int			 rc;

	if (a->resolve != NULL)
		return 0;
	if ((r = calloc(1, sizeof *r)) == NULL ||
	    (r->host = strdup(a->cfg.host)) == NULL) {
		free(r);
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	pthread_mutex_init(&r->lock, NULL);
	r->refs = 2;
	r->ctx = a->ctx;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	__atomic_add_fetch(&agent_resolve_threads, 1, __ATOMIC_SEQ_CST);
	rc = pthread_create(&t, &attr, agent_resolve_thread, r);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		__atomic_sub_fetch(&agent_resolve_threads, 1, __ATOMIC_SEQ_CST);
		pthread_mutex_destroy(&r->lock);
		free(r->host);
		free(r);
		*cause = ph_asprintf("cannot start the resolver thread: %s", strerror(rc));
		return -1;
	}
	a->resolve = r;
	return 0;
}

/* EVENT_WAIT_CANCELLED: hand a finished answer to the control channel. */
void
agent_resolve_poll(struct agent *a)
{
	struct agent_resolve	*r = a->resolve;
	char			 addr[INET6_ADDRSTRLEN], error[160];

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	if (!r->done) {
		pthread_mutex_unlock(&r->lock);
		return;
	}
	memcpy(addr, r->addr, sizeof addr);
	memcpy(error, r->error, sizeof error);
	a->resolve = NULL;
	agent_resolve_unref(r);

	agent_control_resolved(a, error[0] == '\0' ? addr : NULL,
	    error[0] == '\0' ? NULL : error);
}

/* The loop is about to stop: forget an unfinished resolution. */
void
agent_resolve_stop(struct agent *a)
{
	struct agent_resolve	*r = a->resolve;

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	r->ctx = NULL;
	a->resolve = NULL;
	agent_resolve_unref(r);
}
