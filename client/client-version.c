/*
 * client-version.c - GET /v1/version from the relay for `porthole
 * version`: one blocking HTTPS request (the CLI has no event loop yet at
 * that point, and a version question needs none), over a plain socket and
 * libporthole's TLS client (tlsclient.c), so it trusts what every other
 * connection of the CLI trusts (the system store, PORTHOLE_CA,
 * --insecure).  Bounded: one deadline for connect, handshake and answer,
 * at most VERSION_BODY_MAX bytes read.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "porthole/printable.h"
#include "porthole/protocol.h"
#include "porthole/tlsclient.h"
#include "porthole/util.h"

#include "client-version.h"

#define VERSION_BODY_MAX	16384	/* bytes of answer kept */

struct vget {
	int			 fd;
	struct ph_tls	*t;
	int64_t			 deadline;
	char			*cause;
};

/* Wait for fd to be ready for events until the deadline; -1 on timeout. */
static int
vget_wait(struct vget *g, short events)
{
	struct pollfd	 p = { .fd = g->fd, .events = events };
	int64_t		 left;
	int		 r;

	for (;;) {
		if ((left = g->deadline - ph_mono_ms()) <= 0) {
			g->cause = ph_asprintf("no answer within %d s",
			    CLIENT_VERSION_TIMEOUT_MS / 1000);
			return -1;
		}
		r = poll(&p, 1, (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR) {
			g->cause = ph_asprintf("poll: %s", strerror(errno));
			return -1;
		}
	}
}

/* Send whatever ciphertext TLS has queued. */
static int
vget_flush(struct vget *g)
{
	char	 buf[16384];
	size_t	 n, off;
	ssize_t	 w;

	while ((n = ph_tls_take(g->t, buf, sizeof buf)) > 0) {
		for (off = 0; off < n; ) {
			if (vget_wait(g, POLLOUT) != 0)
				return -1;
			w = send(g->fd, buf + off, n - off, MSG_NOSIGNAL);
			if (w < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (w < 0) {
				g->cause = ph_asprintf("send: %s", strerror(errno));
				return -1;
			}
			off += (size_t)w;
		}
	}
	return 0;
}

/* Read ciphertext into TLS: 1 read, 0 the peer closed, -1 failed. */
static int
vget_recv(struct vget *g)
{
	char	 buf[16384];
	ssize_t	 n;

	if (vget_wait(g, POLLIN) != 0)
		return -1;
	n = recv(g->fd, buf, sizeof buf, 0);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (n < 0) {
		g->cause = ph_asprintf("recv: %s", strerror(errno));
		return -1;
	}
	if (n == 0)
		return 0;
	if (ph_tls_feed(g->t, buf, (size_t)n) != 0) {
		g->cause = ph_asprintf("out of memory");
		return -1;
	}
	return 1;
}

/* A non-blocking TCP connection to host:port, made before the deadline. */
static int
vget_connect(struct vget *g, const char *host, int port)
{
	struct addrinfo	 hints, *res = NULL, *ai;
	char		 ps[16];
	socklen_t	 len;
	int		 r, err = 0;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(ps, sizeof ps, "%d", port);
	if ((r = getaddrinfo(host, ps, &hints, &res)) != 0) {
		g->cause = ph_asprintf("cannot resolve %s: %s", host,
		    gai_strerror(r));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		g->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (g->fd < 0)
			continue;
		if (connect(g->fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    (errno == EINPROGRESS && vget_wait(g, POLLOUT) == 0 &&
		    (len = sizeof err, getsockopt(g->fd, SOL_SOCKET, SO_ERROR,
		    &err, &len) == 0) && err == 0))
			break;
		if (err == 0)
			err = errno;
		close(g->fd);
		g->fd = -1;
		if (g->cause != NULL)
			break;		/* the deadline passed */
	}
	freeaddrinfo(res);
	if (g->fd < 0 && g->cause == NULL)
		g->cause = ph_asprintf("cannot connect to %s port %d: %s", host,
		    port, strerror(err != 0 ? err : ECONNREFUSED));
	return g->fd < 0 ? -1 : 0;
}

/* The TLS handshake, with the certificate's verdict said in words. */
static int
vget_handshake(struct vget *g)
{
	const char	*why = NULL;
	long		 verr = 0;
	int		 r;

	for (;;) {
		r = ph_tls_handshake(g->t, &verr, &why);
		if (vget_flush(g) != 0)
			return -1;
		if (r == 1)
			return 0;
		if (r < 0) {
			g->cause = verr != 0 ? ph_asprintf("TLS: %s: set PORTHOLE_CA "
			    "to the relay's CA file", X509_verify_cert_error_string(verr)) :
			    ph_asprintf("TLS handshake failed: %s", why != NULL ? why :
			    "?");
			return -1;
		}
		if ((r = vget_recv(g)) <= 0) {
			if (r == 0)
				g->cause = ph_asprintf("the relay closed the "
				    "connection during the TLS handshake");
			return -1;
		}
	}
}

/* Status and body of the answer in resp (NUL-terminated); -1 with cause. */
static json_t *
vget_parse(struct vget *g, char *resp, size_t len)
{
	char		*body;
	int		 status = 0;
	json_t		*doc;

	if (sscanf(resp, "HTTP/1.%*c %d", &status) != 1 ||
	    (body = strstr(resp, "\r\n\r\n")) == NULL) {
		g->cause = ph_asprintf("not an HTTP answer: is it a porthole relay?");
		return NULL;
	}
	body += 4;
	if (status != 200) {
		g->cause = ph_asprintf("it answered HTTP %d to GET %s (a relay older "
		    "than porthole %s has no version to tell)", status,
		    PH_PATH_VERSION, PORTHOLE_VERSION);
		return NULL;
	}
	doc = json_loadb(body, len - (size_t)(body - resp), 0, NULL);
	if (!json_is_object(doc) || !json_is_string(json_object_get(doc, "version"))) {
		json_decref(doc);
		g->cause = ph_asprintf("its answer to GET %s is not the JSON it "
		    "should be", PH_PATH_VERSION);
		return NULL;
	}
	return doc;
}

/* Has resp (len bytes) the whole answer its Content-Length announces? */
static int
vget_complete(const char *resp, size_t len)
{
	const char	*h = strstr(resp, "\r\n\r\n"), *cl;
	long		 want;

	if (h == NULL)
		return 0;
	if ((cl = strcasestr(resp, "\r\ncontent-length:")) == NULL || cl > h)
		return 0;
	want = strtol(cl + 17, NULL, 10);
	return want >= 0 && (size_t)(h + 4 - resp) + (size_t)want <= len;
}

json_t *
client_version_get(const char *host, int port, const char *ca, int insecure,
    char **cause)
{
	struct ph_tls_ctx	*tc;
	struct vget		 g;
	json_t			*doc = NULL;
	char			*req, *resp = NULL, *p;
	const char		*why = NULL;
	size_t			 len = 0;
	ssize_t			 n;
	int			 r;

	memset(&g, 0, sizeof g);
	g.fd = -1;
	g.deadline = ph_mono_ms() + CLIENT_VERSION_TIMEOUT_MS;
	if ((tc = ph_tls_ctx_new(ca, insecure, NULL, cause)) == NULL)
		return NULL;
	if (vget_connect(&g, host, port) != 0)
		goto out;
	if ((g.t = ph_tls_new(tc, host)) == NULL) {
		g.cause = ph_asprintf("cannot set up TLS");
		goto out;
	}
	if (vget_handshake(&g) != 0)
		goto out;
	req = ph_asprintf("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: "
	    "porthole/%s\r\nAccept: application/json\r\nConnection: close\r\n\r\n",
	    PH_PATH_VERSION, host, port, PORTHOLE_VERSION);
	r = ph_tls_write(g.t, req, strlen(req));
	free(req);
	if (r != 0 || vget_flush(&g) != 0) {
		if (g.cause == NULL)
			g.cause = ph_asprintf("cannot send the request");
		goto out;
	}
	if ((resp = malloc(VERSION_BODY_MAX + 1)) == NULL)
		abort();
	resp[0] = '\0';
	while (!vget_complete(resp, len)) {
		n = ph_tls_read(g.t, resp + len, VERSION_BODY_MAX - len, &why);
		if (n > 0) {
			len += (size_t)n;
			resp[len] = '\0';
			if (len == VERSION_BODY_MAX)
				break;
			continue;
		}
		if (n < 0)
			break;		/* close_notify, or an error: parse what came */
		if ((r = vget_recv(&g)) < 0)
			goto out;
		if (r == 0)
			break;
	}
	if (len == 0) {
		g.cause = ph_asprintf("the relay closed the connection without "
		    "answering%s%s", why != NULL ? ": " : "", why != NULL ? why : "");
		goto out;
	}
	doc = vget_parse(&g, resp, len);
out:
	if (doc == NULL) {
		p = ph_printable(g.cause != NULL ? g.cause : "failed");
		*cause = p;
	}
	free(g.cause);
	free(resp);
	ph_tls_free(g.t);
	if (g.fd >= 0)
		close(g.fd);
	ph_tls_ctx_free(tc);
	return doc;
}
