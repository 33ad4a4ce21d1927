/*
 * tlsclient.h - a TLS client done with OpenSSL over memory BIOs: no
 * socket, no event loop, no libwebsockets.  Whoever owns the socket (the
 * CLI's sessions today; a relay dialing another relay or Redis later)
 * feeds it the ciphertext it read and sends the ciphertext it takes, from
 * its own non-blocking loop; nothing here blocks or calls back.
 *
 * Why not lws's TLS: libwebsockets 4.1.6 starts TLS on a RAW client before
 * its TCP connect is made ("lws_tls_client_connect: n -1, m 5, errno 9",
 * then "tls start fail": lws_client_connect_via_info returns NULL every
 * time), so a connection whose framing is our own (wsclient.h) cannot use
 * it.  Trust: the system store plus an optional CA file, the certificate
 * checked against the peer's name or address (IP SAN for an address, SNI
 * and hostname for a name), TLS 1.2 at least, ALPN http/1.1.  Plaintext
 * and ciphertext live in OpenSSL's memory BIOs; the caller bounds them by
 * taking the ciphertext out as it goes and by not writing while its own
 * send queue is full.
 *
 * Ownership: ph_tls_ctx_free / ph_tls_free accept NULL.
 */
#ifndef PORTHOLE_TLSCLIENT_H
#define PORTHOLE_TLSCLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ph_tls_ctx;
struct ph_tls;

/*
 * Trust for every connection made with it: the system store and ca (a PEM
 * file, or NULL); insecure skips all certificate checks.  store, when not
 * NULL, is an X509_STORE already holding the system's CAs (loading the
 * system bundle costs ~50 ms here, so do it once per process); it is
 * shared, not copied.  NULL with *cause (malloc'd): "cannot use CA file
 * 'ca' (why)" or "cannot set up TLS (why)"; the caller adds what to set.
 */
struct ph_tls_ctx *ph_tls_ctx_new(const char *ca, int insecure,
	    void *store, char **cause);
void	ph_tls_ctx_free(struct ph_tls_ctx *tc);

/* A client for host (a name or an address literal).  NULL on failure. */
struct ph_tls *ph_tls_new(struct ph_tls_ctx *tc, const char *host);
void	ph_tls_free(struct ph_tls *t);

/*
 * Run the handshake as far as the bytes received allow.  Returns 1 once
 * it is complete, 0 while it needs more, -1 when it failed: then
 * *verify_err is the certificate error (0 if it was not the certificate)
 * and *why a description (static or OpenSSL's, copy it at once).
 */
int	ph_tls_handshake(struct ph_tls *t, long *verify_err,
	    const char **why);

/* Ciphertext received from the socket. */
int	ph_tls_feed(struct ph_tls *t, const void *p, size_t n);

/*
 * Decrypted bytes: > 0 bytes read, 0 none available now, -1 the stream
 * ended (close_notify) or failed (*why).
 */
ssize_t	ph_tls_read(struct ph_tls *t, void *buf, size_t cap,
	    const char **why);

/* Encrypt plaintext (all of it); -1 on failure. */
int	ph_tls_write(struct ph_tls *t, const void *p, size_t n);

/* Ciphertext waiting to be sent, and taking it. */
size_t	ph_tls_pending(struct ph_tls *t);
size_t	ph_tls_take(struct ph_tls *t, void *buf, size_t cap);

#endif
