/*
 * client-loop.h - the CLI's event loop: poll(2) over the file descriptors
 * registered with it, timers, and a wake other threads may call.  It knows
 * nothing of relays, TLS or sessions: the transport registers its socket
 * here, the session and the run their timers, and a run-set may register
 * an fd of its own (a listening socket) the same way.
 *
 * Everything but client_loop_wake runs on the loop's thread.  A callback
 * may add or remove registrations and timers, its own included; a
 * registration removed during a round gets no more callbacks in it.
 */
#ifndef PORTHOLE_CLIENT_LOOP_H
#define PORTHOLE_CLIENT_LOOP_H

#include <stdint.h>

struct client_loop;

/* A file descriptor watched for events (POLLIN, POLLOUT). */
struct client_loop_fd {
	int			 fd;
	short			 events;	/* what to wait for, 0: nothing */
	void			(*fn)(void *arg, short revents);
	void			*arg;
	struct client_loop_fd	*next;		/* the loop's */
	int			 listed;
};

/* A timer: fn(arg) once, from the loop, at its time. */
struct client_loop_timer {
	int64_t			 at;		/* monotonic ms */
	void			(*fn)(void *arg);
	void			*arg;
	struct client_loop_timer *next;		/* the loop's */
	int			 armed;
};

/* NULL with *cause (malloc'd). */
struct client_loop *client_loop_new(char **cause);
/* Registrations and timers still listed are forgotten, not called. */
void	client_loop_free(struct client_loop *l);

/* Watch f->fd for events (filled by the caller; f stays the caller's). */
void	client_loop_add(struct client_loop *l, struct client_loop_fd *f);
/* Change what to wait for. */
void	client_loop_events(struct client_loop *l, struct client_loop_fd *f,
	    short events);
/* Stop watching (safe when not listed). */
void	client_loop_del(struct client_loop *l, struct client_loop_fd *f);

/* Run fn(arg) after ms milliseconds (re-arming moves it; ms < 0 cancels). */
void	client_loop_timer(struct client_loop *l, struct client_loop_timer *t,
	    int64_t ms, void (*fn)(void *), void *arg);

/*
 * What a wake calls on the loop (one hook; NULL: none).  Wakes coalesce:
 * several before the loop runs give one call.
 */
void	client_loop_on_wake(struct client_loop *l, void (*fn)(void *), void *arg);
/* From any thread: have the wake hook run on the loop. */
void	client_loop_wake(struct client_loop *l);

/* Run rounds until *done is non-zero; -1 if poll fails. */
int	client_loop_run(struct client_loop *l, volatile int *done);

#endif
