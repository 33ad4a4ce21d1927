/*
 * client-tls.h - TLS for the CLI's WebSocket sessions, done with OpenSSL
 * over memory BIOs on a plain lws RAW connection.
 *
 * Why not lws's own TLS here: a session's WebSocket framing is ours (see
 * client-ws.h), so the session is an lws RAW client connection, and
 * libwebsockets 4.1.6 starts TLS on a RAW client before its TCP connect
 * is made ("lws_tls_client_connect: n -1, m 5, errno 9", then "tls start
 * fail": lws_client_connect_via_info returns NULL every time).  So lws
 * carries the ciphertext and this file is the TLS client: the same trust
 * as the rest of the CLI (the system store plus PORTHOLE_CA), the
 * certificate checked against the relay's name or address, SNI for names,
 * ALPN http/1.1.
 *
 * Ownership: client_tls_ctx_free / client_tls_free accept NULL.
 */
#ifndef PORTHOLE_CLIENT_TLS_H
#define PORTHOLE_CLIENT_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct client_tls_ctx;
struct client_tls;

/*
 * Trust for every session of one CLI run: the system store and ca (a PEM
 * file, or NULL); insecure skips all certificate checks.  store, when not
 * NULL, is a certificate store already holding the system's CAs (lws's
 * client store: loading the system bundle costs ~50 ms here, so it is
 * done once); it is shared, not copied.  NULL with *cause (malloc'd).
 */
struct client_tls_ctx *client_tls_ctx_new(const char *ca, int insecure,
	    void *store, char **cause);
void	client_tls_ctx_free(struct client_tls_ctx *tc);

/* A client for host (a name or an address literal).  NULL on failure. */
struct client_tls *client_tls_new(struct client_tls_ctx *tc, const char *host);
void	client_tls_free(struct client_tls *t);

/*
 * Run the handshake as far as the bytes received allow.  Returns 1 once
 * it is complete, 0 while it needs more, -1 when it failed: then
 * *verify_err is the certificate error (0 if it was not the certificate)
 * and *why a description (static or OpenSSL's, copy it at once).
 */
int	client_tls_handshake(struct client_tls *t, long *verify_err,
	    const char **why);

/* Ciphertext received from the socket. */
int	client_tls_feed(struct client_tls *t, const void *p, size_t n);

/*
 * Decrypted bytes: > 0 bytes read, 0 none available now, -1 the stream
 * ended (close_notify) or failed (*why).
 */
ssize_t	client_tls_read(struct client_tls *t, void *buf, size_t cap,
	    const char **why);

/* Encrypt plaintext (all of it); -1 on failure. */
int	client_tls_write(struct client_tls *t, const void *p, size_t n);

/* Ciphertext waiting to be sent, and taking it. */
size_t	client_tls_pending(struct client_tls *t);
size_t	client_tls_take(struct client_tls *t, void *buf, size_t cap);

#endif
