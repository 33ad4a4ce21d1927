/*
 * client-signal.h - SIGINT and SIGTERM delivered to the event loop.
 *
 * A signal handler may not touch the loop, so the signals are blocked in
 * every thread (client_signal_block must run before any thread is
 * started) and one thread waits for them with sigwait, counts them and
 * wakes the loop, which takes them with client_signal_take.
 */
#ifndef PORTHOLE_CLIENT_SIGNAL_H
#define PORTHOLE_CLIENT_SIGNAL_H

struct client_conn;

/* Also wait for sig (SIGHUP, SIGWINCH...): call before client_signal_block. */
void	client_signal_also(int sig);
/* Block SIGINT and SIGTERM in this thread and the threads it starts. */
void	client_signal_block(void);
/* SIGPIPE alone (client_signal_block does it too): EPIPE, then the session's close. */
void	client_signal_block_pipe(void);
/* Start the waiting thread; -1 with *cause. */
int	client_signal_start(struct client_conn *cc, char **cause);
/*
 * Stop waking the loop (before the conn goes away): from then on a signal
 * ends the process by its default action.
 */
void	client_signal_detach(void);
/* The oldest signal not yet taken, or 0. */
int	client_signal_take(void);

#endif
