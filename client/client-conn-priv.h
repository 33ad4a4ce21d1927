/*
 * client-conn-priv.h - what client-conn.c (context, loop, sentences),
 * client-http.c (the listing), client-transport.c (a TLS connection) and
 * client-session.c (WebSocket sessions) share inside the CLI's connection
 * module.  Nothing else includes it.
 */
#ifndef PORTHOLE_CLIENT_CONN_PRIV_H
#define PORTHOLE_CLIENT_CONN_PRIV_H

#include <netinet/in.h>
#include <arpa/inet.h>

#include <libwebsockets.h>

#include "client-conn.h"
#include "porthole/tlsclient.h"

#define CLIENT_CONN_SESSION_PROTOCOL	"porthole-session"
#define CLIENT_CONN_CONNECT_SECS	10	/* connect + TLS + upgrade */

/*
 * What every connection (GET or session) records of its TLS handshake.
 * It is the first member of whatever the wsi's opaque user data points at.
 */
struct conn_link {
	int	verify_err;		/* first X509 error seen, 0: none */
	char	verify_msg[96];		/* its text */
};

struct client_conn {
	struct client_conf	*conf;
	char			 addr[INET6_ADDRSTRLEN];	/* numeric relay address */
	struct lws_context	*ctx;
	struct client_session	*sessions;	/* open sessions: wake and tick */

	lws_sorted_usec_list_t	 sul;		/* client_conn_timer */
	void			(*timer_fn)(void *);
	void			*timer_arg;

	lws_sorted_usec_list_t	 tick;		/* once a second, see conn_tick */

	struct ph_tls_ctx	*tls;		/* sessions' TLS (porthole/tlsclient.h) */
};

/* Fill the connect info every connection to the relay shares. */
void	 client_conn_ccinfo(struct client_conn *cc, struct lws_client_connect_info *ci);
/* The sentence for a connection that never came up (malloc'd). */
char	*client_conn_connect_cause(struct client_conn *cc, struct lws *wsi,
	    const struct conn_link *l, const char *in, size_t len);
/* The relay's {"error":{"code","message"}} body as "message (code)", or NULL. */
char	*client_conn_error_body(const char *body, size_t len);
/* LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION, for any protocol. */
int	 client_conn_verify(struct lws *wsi, void *x509_ctx, int preverify_ok);

/* client-http.c: the listing protocol's callback (the TLS reasons are ours). */
#define CLIENT_CONN_HTTP_PROTOCOL	"porthole-http"
int	 client_http_callback(struct lws *wsi, enum lws_callback_reasons reason,
	    void *user, void *in, size_t len);

/* client-transport.c: the RAW sockets' callback. */
int	 client_transport_callback(struct lws *wsi, enum lws_callback_reasons reason,
	    void *user, void *in, size_t len);
/* client-session.c: a wake for the session's owner, and its 1 s tick. */
void	 client_session_woken(struct client_session *s);
void	 client_session_tick(struct client_session *s, int64_t now_ms);
struct client_session *client_session_next(struct client_session *s);
/* Unlist a session and stop its hooks (the conn is going away). */
void	 client_session_forget(struct client_session *s);

#endif
