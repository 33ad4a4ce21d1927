/*
 * client-transport.h - one connection of the CLI to the relay: an lws RAW
 * socket on the connection's loop (client-conn.h) carrying libporthole's
 * memory-BIO TLS client (porthole/tlsclient.h) with the relay's
 * certificate checked, and a bounded queue of ciphertext to send.  What
 * rides on it (the session's WebSocket, client-session.c) belongs to its
 * owner, which writes plaintext and is handed plaintext.
 *
 * Failures to connect or to verify the relay become the sentences of
 * client_conn_connect_cause; the owner reads them with
 * client_transport_cause after ops->closed.
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
	 * The socket is gone: connected says whether it ever came up (the
	 * cause is then set already).  ended is NULL, or why TLS ended
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
 * Start connecting.  0, or -1 with *cause when it could not start (unless
 * ops->closed already ran: then 0).
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
/* Is the socket still connecting (lws's own timeouts apply)? */
int	client_transport_connecting(const struct client_transport *t);

/* Close at the next chance, whatever is still queued. */
void	client_transport_hangup(struct client_transport *t);
/* Close now, from outside the socket's callbacks (ops->closed follows). */
void	client_transport_kill(struct client_transport *t);
/* Pause (0) or resume (1) reading from the relay. */
void	client_transport_rx(struct client_transport *t, int on);
/* When the relay last sent a byte (monotonic ms), and resetting it. */
int64_t	client_transport_heard(const struct client_transport *t);
void	client_transport_touch(struct client_transport *t, int64_t now);

/* The failure sentence: the first one set is kept (cause is stolen). */
void	client_transport_set_cause(struct client_transport *t, char *cause);
const char *client_transport_cause(const struct client_transport *t);

#endif
