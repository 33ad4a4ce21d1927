/*
 * client-conn.h - the CLI's context for talking to the relay: the
 * settings (client-conf.h), the relay's address resolved once, the one
 * event loop (client-loop.h), the one TLS trust (porthole/tlsclient.h:
 * the system store, PORTHOLE_CA, --insecure) and the sentences that say
 * what failed and what to do.  Connections are client-transport.c's;
 * what rides on them is client-http.c's (the listing, the version) and
 * client-session.c's (WebSocket sessions).
 *
 * Other threads (stdin reader, output writer, signal waiter) reach the
 * loop only through client_conn_wake, which runs the loop's wake hook
 * (client_loop_on_wake: the run's).
 */
#ifndef PORTHOLE_CLIENT_CONN_H
#define PORTHOLE_CLIENT_CONN_H

#include <netinet/in.h>
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>

#include "client-conf.h"

#define CLIENT_CONN_CONNECT_SECS	10	/* connect + TLS (+ upgrade) */

struct client_loop;
struct ph_tls_ctx;

struct client_conn {
	struct client_conf	*conf;
	char			 addr[INET6_ADDRSTRLEN];	/* numeric relay address */
	struct client_loop	*loop;
	struct ph_tls_ctx	*tls;		/* trust for every connection */
};

/*
 * Resolve the relay's host (blocking getaddrinfo: the loop does not run
 * yet), make the loop and the TLS trust.  NULL with *cause.
 */
struct client_conn *client_conn_new(struct client_conf *conf, char **cause);
/* Free everything (connections must be freed first). */
void	client_conn_free(struct client_conn *cc);
/* Wake the loop from another thread: its wake hook runs. */
void	client_conn_wake(struct client_conn *cc);
/* Service the loop until *done becomes non-zero (or the loop fails: -1). */
int	client_conn_run(struct client_conn *cc, volatile int *done);

/* --- the sentences (malloc'd), said after "porthole: " -------------- */

/* The TLS handshake failed: verify_err is the certificate's (0: not it). */
char	*client_conn_tls_cause(struct client_conn *cc, long verify_err,
	    const char *why);
/* The TCP connection could not be made (errno err). */
char	*client_conn_connect_cause(struct client_conn *cc, int err);
/* Nothing came within the connect bound (what: "no connection", ...). */
char	*client_conn_silent_cause(struct client_conn *cc, const char *what);
/* The relay's {"error":{"code","message"}} body as "message (code)", or NULL. */
char	*client_conn_error_body(const char *body, size_t len);

#endif
