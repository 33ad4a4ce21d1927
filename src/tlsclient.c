/*
 * tlsclient.c - OpenSSL TLS client over memory BIOs, for any owner of a
 * socket (the CLI's sessions; later a relay's links).  See tlsclient.h.
 *
 * One SSL_CTX per process holds the trust (system store + a CA file) and the
 * policy (TLS 1.2 at least, peer verification unless --insecure); each
 * connection is an SSL with a read BIO we fill with what the socket
 * brought and a write BIO we drain into the socket's queue.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "porthole/util.h"

#include "porthole/tlsclient.h"

struct ph_tls_ctx {
	SSL_CTX		*ctx;
	int		 insecure;
};

struct ph_tls {
	SSL		*ssl;
	BIO		*rbio;		/* ciphertext in (owned by ssl) */
	BIO		*wbio;		/* ciphertext out (owned by ssl) */
	int		 insecure;
};

/*
 * OpenSSL's own words for the last error, or fallback.  The text lives in
 * a per-thread buffer until the thread's next call.
 */
static const char *
tls_err(const char *fallback)
{
	static __thread char buf[160];
	unsigned long	 e = ERR_peek_last_error();

	if (e == 0)
		return fallback;
	ERR_error_string_n(e, buf, sizeof buf);
	ERR_clear_error();
	/* "error:0A00010B:SSL routines::wrong version number" -> the reason */
	{
		char *r = strrchr(buf, ':');

		if (r != NULL && r[1] != '\0')
			return r + 1;
	}
	return buf;
}

struct ph_tls_ctx *
ph_tls_ctx_new(const char *ca, int insecure, void *store, char **cause)
{
	struct ph_tls_ctx	*tc;
	static const unsigned char alpn[] = "\x08http/1.1";

	if ((tc = calloc(1, sizeof *tc)) == NULL) {
		*cause = ph_asprintf("out of memory");
		return NULL;
	}
	tc->insecure = insecure;
	if ((tc->ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		*cause = ph_asprintf("cannot set up TLS (%s)", tls_err("SSL_CTX_new"));
		free(tc);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(tc->ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(tc->ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_alpn_protos(tc->ctx, alpn, sizeof alpn - 1);
	if (!insecure) {
		SSL_CTX_set_verify(tc->ctx, SSL_VERIFY_PEER, NULL);
		if (store != NULL)
			SSL_CTX_set1_cert_store(tc->ctx, store);
		else if (SSL_CTX_set_default_verify_paths(tc->ctx) != 1)
			ERR_clear_error();	/* no system store: the CA file may do */
		if (ca != NULL && SSL_CTX_load_verify_locations(tc->ctx, ca,
		    NULL) != 1) {
			*cause = ph_asprintf("cannot use CA file '%s' (%s)", ca,
			    tls_err("not a PEM certificate file"));
			ph_tls_ctx_free(tc);
			return NULL;
		}
	} else
		SSL_CTX_set_verify(tc->ctx, SSL_VERIFY_NONE, NULL);
	return tc;
}

void
ph_tls_ctx_free(struct ph_tls_ctx *tc)
{
	if (tc == NULL)
		return;
	SSL_CTX_free(tc->ctx);
	free(tc);
}

static int
tls_is_address(const char *host)
{
	unsigned char	 a[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

struct ph_tls *
ph_tls_new(struct ph_tls_ctx *tc, const char *host)
{
	struct ph_tls	*t;
	X509_VERIFY_PARAM	*param;

	if ((t = calloc(1, sizeof *t)) == NULL)
		return NULL;
	t->insecure = tc->insecure;
	if ((t->ssl = SSL_new(tc->ctx)) == NULL ||
	    (t->rbio = BIO_new(BIO_s_mem())) == NULL ||
	    (t->wbio = BIO_new(BIO_s_mem())) == NULL)
		goto fail;
	/* EOF on an empty read BIO means "retry", not "closed". */
	BIO_set_mem_eof_return(t->rbio, -1);
	BIO_set_mem_eof_return(t->wbio, -1);
	SSL_set_bio(t->ssl, t->rbio, t->wbio);
	SSL_set_connect_state(t->ssl);

	if (tls_is_address(host)) {
		/* RFC 6066: no SNI for an address; check the IP SAN instead. */
		param = SSL_get0_param(t->ssl);
		if (!t->insecure && X509_VERIFY_PARAM_set1_ip_asc(param, host) != 1)
			goto fail_ssl;
	} else {
		if (SSL_set_tlsext_host_name(t->ssl, host) != 1)
			goto fail_ssl;
		if (!t->insecure) {
			SSL_set_hostflags(t->ssl,
			    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
			if (SSL_set1_host(t->ssl, host) != 1)
				goto fail_ssl;
		}
	}
	return t;
fail:
	BIO_free(t->rbio);
	BIO_free(t->wbio);
	SSL_free(t->ssl);
	free(t);
	ERR_clear_error();
	return NULL;
fail_ssl:
	ph_tls_free(t);	/* the BIOs belong to the SSL now */
	ERR_clear_error();
	return NULL;
}

void
ph_tls_free(struct ph_tls *t)
{
	if (t == NULL)
		return;
	SSL_free(t->ssl);
	free(t);
}

int
ph_tls_handshake(struct ph_tls *t, long *verify_err, const char **why)
{
	int	 r, e;
	long	 v;

	*verify_err = 0;
	*why = NULL;
	if (SSL_is_init_finished(t->ssl))
		return 1;
	ERR_clear_error();	/* see ph_tls_read */
	r = SSL_do_handshake(t->ssl);
	if (r == 1)
		return 1;
	e = SSL_get_error(t->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		ERR_clear_error();
		return 0;
	}
	if (!t->insecure && (v = SSL_get_verify_result(t->ssl)) != X509_V_OK) {
		*verify_err = v;
		*why = X509_verify_cert_error_string(v);
		ERR_clear_error();
		return -1;
	}
	*why = tls_err(e == SSL_ERROR_SYSCALL ? "the connection broke" :
	    "handshake failed");
	return -1;
}

int
ph_tls_feed(struct ph_tls *t, const void *p, size_t n)
{
	while (n > 0) {
		int chunk = n > 1 << 30 ? 1 << 30 : (int)n;
		int w = BIO_write(t->rbio, p, chunk);

		if (w <= 0)
			return -1;
		p = (const uint8_t *)p + w;
		n -= (size_t)w;
	}
	return 0;
}

ssize_t
ph_tls_read(struct ph_tls *t, void *buf, size_t cap, const char **why)
{
	int	 r, e;

	/*
	 * SSL_get_error reads the thread's error queue first: an error some
	 * other TLS connection of the process left there (a relay's lws
	 * server side, an agent that hung up: "unexpected eof while
	 * reading") would be taken for this one's.
	 */
	ERR_clear_error();
	r = SSL_read(t->ssl, buf, cap > 1 << 30 ? 1 << 30 : (int)cap);
	if (r > 0)
		return r;
	e = SSL_get_error(t->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		ERR_clear_error();
		return 0;
	}
	*why = e == SSL_ERROR_ZERO_RETURN ? "the peer ended TLS" :
	    tls_err("TLS read failed");
	return -1;
}

int
ph_tls_write(struct ph_tls *t, const void *p, size_t n)
{
	size_t	 done = 0;
	int	 r;

	ERR_clear_error();	/* see ph_tls_read */
	while (done < n) {
		r = SSL_write(t->ssl, (const uint8_t *)p + done,
		    n - done > 1 << 30 ? 1 << 30 : (int)(n - done));
		if (r <= 0) {
			ERR_clear_error();
			return -1;
		}
		done += (size_t)r;
	}
	return 0;
}

size_t
ph_tls_pending(struct ph_tls *t)
{
	return BIO_ctrl_pending(t->wbio);
}

size_t
ph_tls_take(struct ph_tls *t, void *buf, size_t cap)
{
	int	 r;

	r = BIO_read(t->wbio, buf, cap > 1 << 30 ? 1 << 30 : (int)cap);
	return r > 0 ? (size_t)r : 0;
}
