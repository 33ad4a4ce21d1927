/*
 * client-transport.h - one connection of the CLI to the relay: a
 * non-blocking TCP socket on the conn's loop (client-loop.h) carrying
 * libporthole's memory-BIO TLS client (porthole/tlsclient.h) with the
 * relay's certificate checked, and a bounded queue of ciphertext to send.
 * What rides on it (an HTTP request, client-http.c; a session's
 * WebSocket, client-session.c) belongs to its owner, which writes
 * plaintext and is handed plaintext.
 *
 * Connecting and the TLS handshake are bounded by CLIENT_CONN_CONNECT_SECS;
 * failures become client-conn.c's sentences, which the owner reads with
 * client_transport_cause after ops->closed.  Hooks run from the loop,
 * never from inside a call the owner made.
 */
#ifndef PORTHOLE_CLIENT_TRANSPORT_H
#define PORTHOLE_CLIENT_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

struct client_conn;
struct client_transport;

/* What a transport tells its owner; every hook runs on the loop. */
struct client_transport_ops {
	/* TLS is up and the certificate checked: send.  -1 hangs up. */
	int	(*up)(void *arg);
	/* Decrypted bytes from the relay.  -1 hangs up. */
	int	(*plain)(void *arg, const uint8_t *p, size_t n);
	/* The send queue became empty.  -1 hangs up. */
	int	(*sent)(void *arg);
	/*
	 * The socket is gone: connected says whether TCP ever came up (if
	 * not, the cause is set already).  ended is NULL, or why TLS ended
	 * after the handshake (the relay's close_notify or an error).
	 */
	void	(*closed)(void *arg, int connected, const char *ended);
};

/*
 * A transport whose send queue resumes below low, is full above high and
 * refuses past hard (ciphertext, once made, must go out whole).  NULL
 * when out of memory.  Nothing happens before client_transport_connect.
 */
struct client_transport *client_transport_new(struct client_conn *cc,
	    const struct client_transport_ops *ops, void *arg, size_t low,
	    size_t high, size_t hard);
/*
 * Start connecting.  0 (a failure to connect is then said through
 * ops->closed), or -1 with *cause when no socket could be made.
 */
int	client_transport_connect(struct client_transport *t, char **cause);
/* Close the socket (ops->closed is not called) and free everything. */
void	client_transport_free(struct client_transport *t);

/*
 * Encrypt and queue plaintext.  0; -1 when TLS failed (the owner says
 * why and hangs up); -2 when the ciphertext could not be kept (cause set,
 * hung up already).
 */
int	client_transport_send(struct client_transport *t, const void *p, size_t n);
/* Bytes queued, and the queue's marks. */
size_t	client_transport_queued(const struct client_transport *t);
int	client_transport_empty(const struct client_transport *t);
int	client_transport_full(const struct client_transport *t);
/* Is TLS up (sending allowed)? */
int	client_transport_up(const struct client_transport *t);

/* Close soon (from the loop), whatever is still queued; ops->closed follows. */
void	client_transport_hangup(struct client_transport *t);
/* Pause (0) or resume (1) reading from the relay. */
void	client_transport_rx(struct client_transport *t, int on);
/* When the relay last sent a byte (monotonic ms), and resetting it. */
int64_t	client_transport_heard(const struct client_transport *t);
void	client_transport_touch(struct client_transport *t, int64_t now);

/* The failure sentence: the first one set is kept (cause is stolen). */
void	client_transport_set_cause(struct client_transport *t, char *cause);
const char *client_transport_cause(const struct client_transport *t);

#endif
