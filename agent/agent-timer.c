/*
 * agent-timer.c - timers finer than the wait of libwebsockets' loop.
 *
 * libwebsockets 4.1.6 waits in poll() for its next scheduled callback in
 * whole milliseconds, rounded down: a callback due in less than a
 * millisecond makes it poll with a zero timeout, again and again, until
 * the callback is due.  The output hold of agent-fd.c (500 us) spun the
 * loop like that through most of a bulk transfer: perf trace counted
 * 29,000 to 173,000 empty polls in one `exec -- head -c 1G /dev/zero`, and
 * the agent's CPU time for it went from 1.3 s to as much as 3.3 s.  These
 * timers sit on one timerfd in the loop instead (a raw file, like the
 * signalfd), which wakes poll() when the earliest of them is due.
 *
 * The pending timers are a short unsorted list (one per session holding
 * output back at most): every change sets the timerfd to the earliest.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "porthole/util.h"

#include "agent.h"

static uint64_t
agent_timer_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Set the timerfd to the earliest pending timer, or disarm it. */
static void
agent_timer_arm(struct agent *a)
{
	struct itimerspec	 its;
	struct agent_timer	*t;
	uint64_t		 due = 0;

	if (a->timer_fd < 0)
		return;
	for (t = a->timers; t != NULL; t = t->next)
		if (due == 0 || t->due < due)
			due = t->due;
	memset(&its, 0, sizeof its);
	if (due != 0) {		/* 0 would disarm: an absolute time is never 0 */
		its.it_value.tv_sec = (time_t)(due / 1000000);
		its.it_value.tv_nsec = (long)(due % 1000000) * 1000;
	}
	(void)timerfd_settime(a->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void
agent_timer_unlink(struct agent *a, struct agent_timer *t)
{
	struct agent_timer	**pp;

	for (pp = &a->timers; *pp != NULL; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	t->next = NULL;
	t->armed = 0;
}

void
agent_timer_schedule(struct agent *a, struct agent_timer *t,
    void (*fn)(struct agent_timer *), uint64_t us)
{
	if (t->armed)
		agent_timer_unlink(a, t);
	t->fn = fn;
	t->due = agent_timer_now() + (us > 0 ? us : 1);
	t->armed = 1;
	t->next = a->timers;
	a->timers = t;
	agent_timer_arm(a);
}

void
agent_timer_cancel(struct agent *a, struct agent_timer *t)
{
	if (!t->armed)
		return;
	agent_timer_unlink(a, t);
	agent_timer_arm(a);
}

int
agent_timer_adopt(struct agent *a, char **cause)
{
	lws_adopt_desc_t	 ad;

	a->timer_fd = -1;
	if ((a->timer_fd = timerfd_create(CLOCK_MONOTONIC,
	    TFD_NONBLOCK | TFD_CLOEXEC)) < 0) {
		*cause = ph_asprintf("timerfd_create: %s", strerror(errno));
		return -1;
	}
	memset(&ad, 0, sizeof ad);
	ad.vh = a->vh;
	ad.type = LWS_ADOPT_RAW_FILE_DESC;
	ad.fd.filefd = a->timer_fd;
	ad.vh_prot_name = AGENT_TIMER_PROTOCOL;
	ad.opaque = a;
	if ((a->timer_wsi = lws_adopt_descriptor_vhost_via_info(&ad)) == NULL) {
		a->timer_fd = -1;	/* lws closed it */
		*cause = ph_asprintf("cannot add the timerfd to the event loop");
		return -1;
	}
	return 0;
}

/* Run every timer that is due (one may schedule or cancel others). */
static void
agent_timer_run(struct agent *a)
{
	struct agent_timer	*t;
	uint64_t		 now = agent_timer_now();

	for (;;) {
		for (t = a->timers; t != NULL && t->due > now; t = t->next)
			continue;
		if (t == NULL)
			break;
		agent_timer_unlink(a, t);
		t->fn(t);
	}
	agent_timer_arm(a);
}

int
agent_timer_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct agent	*a = lws_context_user(lws_get_context(wsi));
	uint64_t	 n;

	(void)user;
	(void)in;
	(void)len;
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		while (read(lws_get_socket_fd(wsi), &n, sizeof n) == (ssize_t)sizeof n)
			continue;
		if (!a->destroying)
			agent_timer_run(a);
		return 0;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (wsi == a->timer_wsi) {
			a->timer_wsi = NULL;
			a->timer_fd = -1;
		}
		return 0;
	default:
		return 0;
	}
}
