/*
 * agent-lookup.c - the names of forwarded connections (op-forward.c)
 * resolved off the event loop (agent.h, "agent-lookup.c").
 *
 * getaddrinfo() blocks, and libwebsockets 4.1.6 has no asynchronous DNS
 * here, so each lookup runs on a short-lived detached thread (like the
 * relay's name, agent-resolve.c), at most AGENT_LOOKUP_THREADS at once:
 * more wait in a queue and start as threads finish.  A finished lookup
 * joins the done list and wakes the loop with lws_cancel_service(); the
 * loop hands it to its owner in EVENT_WAIT_CANCELLED.  Everything shared
 * (the lists, the count, the context to wake) is under one mutex; a
 * lookup's own fields are the thread's until it is on the done list.
 * The threads count as resolver threads (agent_resolve_running) so the
 * flight recorder does not fork while one may hold a lock.
 *
 * The static agent's glibc resolves /etc/hosts and the image's
 * /etc/resolv.conf without NSS modules (op-probe.c says more).
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libwebsockets.h>

#include "porthole/util.h"

#include "agent.h"

static pthread_mutex_t	 lookup_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lws_context *lookup_ctx;		/* to wake; NULL once the loop ended */
static struct agent_lookup *lookup_wait, *lookup_wait_tail;	/* not started */
static struct agent_lookup *lookup_done;	/* finished, for the loop */
static int		 lookup_running;	/* threads alive */

static int lookup_spawn(struct agent_lookup *l);

static void *
lookup_thread(void *arg)
{
	struct agent_lookup	*l = arg, *next;
	struct addrinfo		 hints, *res = NULL, *ai;

	for (;;) {
		memset(&hints, 0, sizeof hints);
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		l->gai = getaddrinfo(l->host, NULL, &hints, &res);
		l->gai_errno = l->gai == EAI_SYSTEM ? errno : 0;
		for (ai = l->gai == 0 ? res : NULL; ai != NULL &&
		    l->naddrs < AGENT_LOOKUP_ADDRS; ai = ai->ai_next) {
			if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
			    ai->ai_addrlen > sizeof l->addrs[0])
				continue;
			memcpy(&l->addrs[l->naddrs], ai->ai_addr, ai->ai_addrlen);
			l->lens[l->naddrs++] = ai->ai_addrlen;
		}
		if (res != NULL)
			freeaddrinfo(res);
		res = NULL;

		pthread_mutex_lock(&lookup_lock);
		l->next = lookup_done;
		lookup_done = l;
		if (lookup_ctx != NULL)
			lws_cancel_service(lookup_ctx);
		/* The next one waiting runs on this thread. */
		if ((next = lookup_wait) != NULL) {
			lookup_wait = next->next;
			if (lookup_wait == NULL)
				lookup_wait_tail = NULL;
			next->next = NULL;
		} else
			lookup_running--;
		pthread_mutex_unlock(&lookup_lock);
		if (next == NULL)
			break;
		l = next;
	}
	agent_resolve_count(-1);
	return NULL;
}

/* Start a thread for l; lookup_lock held.  0 or -1. */
static int
lookup_spawn(struct agent_lookup *l)
{
	pthread_attr_t	attr;
	pthread_t	t;
	int		rc;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	agent_resolve_count(1);
	rc = pthread_create(&t, &attr, lookup_thread, l);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		agent_resolve_count(-1);
		errno = rc;
		return -1;
	}
	lookup_running++;
	return 0;
}

struct agent_lookup *
agent_lookup_start(struct agent *a, const char *host,
    void (*done)(void *, struct agent_lookup *), void *arg, char **cause)
{
	struct agent_lookup	*l;

	if ((l = calloc(1, sizeof *l)) == NULL) {
		*cause = ph_asprintf("out of memory");
		return NULL;
	}
	snprintf(l->host, sizeof l->host, "%s", host);
	l->done = done;
	l->arg = arg;
	pthread_mutex_lock(&lookup_lock);
	lookup_ctx = a->ctx;
	if (lookup_running < AGENT_LOOKUP_THREADS) {
		if (lookup_spawn(l) != 0) {
			pthread_mutex_unlock(&lookup_lock);
			*cause = ph_asprintf("cannot start a resolver thread: %s",
			    strerror(errno));
			free(l);
			return NULL;
		}
	} else {
		if (lookup_wait_tail != NULL)
			lookup_wait_tail->next = l;
		else
			lookup_wait = l;
		lookup_wait_tail = l;
	}
	pthread_mutex_unlock(&lookup_lock);
	return l;
}

void
agent_lookup_cancel(struct agent_lookup *l)
{
	struct agent_lookup	**pp, *prev = NULL;

	if (l == NULL)
		return;
	pthread_mutex_lock(&lookup_lock);
	for (pp = &lookup_wait; *pp != NULL; prev = *pp, pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			if (lookup_wait_tail == l)
				lookup_wait_tail = prev;
			pthread_mutex_unlock(&lookup_lock);
			free(l);
			return;
		}
	}
	l->cancelled = 1;	/* freed by agent_lookup_poll */
	pthread_mutex_unlock(&lookup_lock);
}

void
agent_lookup_free(struct agent_lookup *l)
{
	free(l);
}

void
agent_lookup_poll(struct agent *a)
{
	struct agent_lookup	*l, *next;

	(void)a;
	pthread_mutex_lock(&lookup_lock);
	l = lookup_done;
	lookup_done = NULL;
	pthread_mutex_unlock(&lookup_lock);
	for (; l != NULL; l = next) {
		next = l->next;
		l->next = NULL;
		if (l->cancelled)
			free(l);
		else
			l->done(l->arg, l);
	}
}

void
agent_lookup_stop(void)
{
	pthread_mutex_lock(&lookup_lock);
	lookup_ctx = NULL;
	pthread_mutex_unlock(&lookup_lock);
}

const char *
agent_lookup_error(const struct agent_lookup *l)
{
	if (l->gai == EAI_SYSTEM)
		return strerror(l->gai_errno);
	if (l->gai != 0)
		return gai_strerror(l->gai);
	return l->naddrs == 0 ? "no IPv4 or IPv6 address" : "no error";
}
