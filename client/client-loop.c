/*
 * client-loop.c - the CLI's event loop (see client-loop.h): one poll(2)
 * per round over the registered descriptors and a wake pipe, timers kept
 * in a short list (a CLI has a handful: one per session, one per run).
 *
 * A round: build the pollfd array from the registrations, wait until the
 * nearest timer, run the timers that are due, then the callbacks of the
 * descriptors that are ready.  The round's array of registrations is the
 * loop's, so client_loop_del can strike an entry a callback removed
 * before its turn comes.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "porthole/util.h"

#include "client-loop.h"

struct client_loop {
	struct client_loop_fd	 *fds;
	size_t			  nfds;
	struct client_loop_timer *timers;

	int			  wake_rd, wake_wr;	/* the wake pipe */
	void			(*wake_fn)(void *);
	void			 *wake_arg;

	/* The round in progress: its registrations, struck when removed. */
	struct client_loop_fd	**round;
	size_t			  nround;
};

struct client_loop *
client_loop_new(char **cause)
{
	struct client_loop	*l;
	int			 p[2];

	if ((l = calloc(1, sizeof *l)) == NULL) {
		*cause = ph_asprintf("out of memory");
		return NULL;
	}
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) {
		*cause = ph_asprintf("cannot make the loop's wake pipe: %s",
		    strerror(errno));
		free(l);
		return NULL;
	}
	l->wake_rd = p[0];
	l->wake_wr = p[1];
	return l;
}

void
client_loop_free(struct client_loop *l)
{
	if (l == NULL)
		return;
	close(l->wake_rd);
	close(l->wake_wr);
	free(l->round);
	free(l);
}

void
client_loop_add(struct client_loop *l, struct client_loop_fd *f)
{
	if (f->listed)
		return;
	f->listed = 1;
	f->next = l->fds;
	l->fds = f;
	l->nfds++;
}

void
client_loop_events(struct client_loop *l, struct client_loop_fd *f,
    short events)
{
	(void)l;
	f->events = events;
}

void
client_loop_del(struct client_loop *l, struct client_loop_fd *f)
{
	struct client_loop_fd	**pp;
	size_t			  i;

	if (!f->listed)
		return;
	for (pp = &l->fds; *pp != NULL; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	f->listed = 0;
	f->next = NULL;
	l->nfds--;
	for (i = 0; i < l->nround; i++)
		if (l->round[i] == f)
			l->round[i] = NULL;
}

void
client_loop_timer(struct client_loop *l, struct client_loop_timer *t,
    int64_t ms, void (*fn)(void *), void *arg)
{
	struct client_loop_timer	**pp;

	if (t->armed) {
		for (pp = &l->timers; *pp != NULL; pp = &(*pp)->next)
			if (*pp == t) {
				*pp = t->next;
				break;
			}
		t->armed = 0;
		t->next = NULL;
	}
	if (ms < 0 || fn == NULL)
		return;
	t->at = ph_mono_ms() + ms;
	t->fn = fn;
	t->arg = arg;
	t->armed = 1;
	t->next = l->timers;
	l->timers = t;
}

void
client_loop_on_wake(struct client_loop *l, void (*fn)(void *), void *arg)
{
	l->wake_fn = fn;
	l->wake_arg = arg;
}

void
client_loop_wake(struct client_loop *l)
{
	char	 c = 1;

	/* A full pipe is a wake already pending: nothing is lost. */
	(void)!write(l->wake_wr, &c, 1);
}

/* Milliseconds until the nearest timer (-1: none), run the due ones. */
static int
loop_timers(struct client_loop *l)
{
	struct client_loop_timer	*t;
	int64_t				 now, next = -1;

	for (;;) {
		now = ph_mono_ms();
		next = -1;
		for (t = l->timers; t != NULL; t = t->next)
			if (t->at <= now)
				break;
			else if (next < 0 || t->at - now < next)
				next = t->at - now;
		if (t == NULL)
			break;
		/* Due: disarm, then call (it may re-arm itself). */
		client_loop_timer(l, t, -1, NULL, NULL);
		t->fn(t->arg);
	}
	return next > 0x7fffffff ? 0x7fffffff : (int)next;
}

/* The wake pipe is readable: empty it and call the hook once. */
static void
loop_woken(struct client_loop *l)
{
	char	 buf[64];

	while (read(l->wake_rd, buf, sizeof buf) > 0)
		continue;
	if (l->wake_fn != NULL)
		l->wake_fn(l->wake_arg);
}

/* One round; -1 if poll failed. */
static int
loop_round(struct client_loop *l, volatile int *done)
{
	struct client_loop_fd	 *f, **nr;
	struct pollfd		 *p;
	size_t			  i, n = 0;
	int			  wait, r;

	wait = loop_timers(l);
	if (*done)
		return 0;	/* a timer ended the run */
	if ((p = calloc(l->nfds + 1, sizeof *p)) == NULL ||
	    (nr = realloc(l->round, (l->nfds + 1) * sizeof *nr)) == NULL) {
		free(p);
		return -1;
	}
	l->round = nr;
	p[n].fd = l->wake_rd;
	p[n++].events = POLLIN;
	for (f = l->fds; f != NULL; f = f->next) {
		l->round[n - 1] = f;
		p[n].fd = f->events != 0 ? f->fd : -1;	/* -1: not polled */
		p[n++].events = f->events;
	}
	l->nround = n - 1;
	r = poll(p, n, wait);
	if (r < 0 && errno != EINTR) {
		free(p);
		l->nround = 0;
		return -1;
	}
	if (r > 0 && (p[0].revents & POLLIN))
		loop_woken(l);
	for (i = 1; r > 0 && i < n; i++)
		if (p[i].revents != 0 && l->round[i - 1] != NULL)
			l->round[i - 1]->fn(l->round[i - 1]->arg, p[i].revents);
	l->nround = 0;
	free(p);
	return 0;
}

int
client_loop_run(struct client_loop *l, volatile int *done)
{
	while (!*done)
		if (loop_round(l, done) != 0)
			return -1;
	return 0;
}
