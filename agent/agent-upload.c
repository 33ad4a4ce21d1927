/*
 * agent-upload.c - one artifact upload to the relay, from a capture child
 * (agent-capture.c), never from the agent's loop: a blocking TCP
 * connection, libporthole's TLS client (tlsclient.h, the certificate
 * checked against the relay's name as the control channel does) and
 * WebSocket framing (wsclient.h) to /v1/agent/artifact, authenticated with
 * the agent's own token.
 *
 * The stream (docs/protocol.md, "Artifact upload"): CONTROL `artifact`
 * {phase "begin", id, instance, what was captured and why}, DATA frames
 * of the capture as the worker writes it (one zstd stream), CONTROL
 * `artifact` {phase "end", complete, bytes, mode...}; the relay answers
 * `artifact` {phase "stored", artifact, size, sha256} and closes.  Every
 * write blocks, so a slow relay slows the worker and nothing is staged.
 * Between writes the socket is polled without waiting, so a refusal (an
 * `error` and a close: quota, an unknown agent) ends the upload at once.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "porthole/frame.h"
#include "porthole/tlsclient.h"
#include "porthole/util.h"
#include "porthole/wsclient.h"
#include "porthole/wsframe.h"

#include "agent.h"
#include "agent-capture.h"

#define UPLOAD_IO_SECS		30	/* one read or write may take this long */
#define UPLOAD_STORED_SECS	60	/* for the relay's `stored` after `end` */

struct agent_upload {
	int		 fd;
	struct ph_tls_ctx *tc;
	struct ph_tls	*tls;
	struct ph_ws_rx	 rx;
	uint8_t		*frame;		/* PH_WS_HDR_MAX + 1 + PH_MAX_PAYLOAD */
	/* What the relay said: one whole message at a time (small). */
	uint8_t		 msg[8192];
	size_t		 mlen;
	int		 mtoo_big;
	json_t		*stored;	/* `artifact` {phase stored} */
	char		*refused;	/* an `error` or a close, as a sentence */
	int		 closed;
};

static int
upload_fail(char **cause, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
upload_fail(char **cause, const char *fmt, ...)
{
	va_list	ap;
	char	buf[512];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	free(*cause);
	*cause = strdup(buf);
	return -1;
}

/* Wait for fd to be ready for events; -1 on timeout or error. */
static int
upload_wait(int fd, short events, int secs)
{
	struct pollfd	p = { .fd = fd, .events = events };
	int		r;

	do
		r = poll(&p, 1, secs * 1000);
	while (r < 0 && errno == EINTR);
	return r > 0 ? 0 : -1;
}

/* Send every ciphertext byte TLS holds. */
static int
upload_flush(struct agent_upload *u, char **cause)
{
	uint8_t	buf[16384];
	size_t	n, off;
	ssize_t	w;

	while ((n = ph_tls_take(u->tls, buf, sizeof buf)) > 0) {
		for (off = 0; off < n; off += (size_t)w) {
			if ((w = write(u->fd, buf + off, n - off)) < 0) {
				if (errno == EINTR)
					w = 0;
				else if (errno == EAGAIN &&
				    upload_wait(u->fd, POLLOUT, UPLOAD_IO_SECS) == 0)
					w = 0;
				else
					return upload_fail(cause, "writing to the relay: %s",
					    errno == EAGAIN ? "timed out" : strerror(errno));
			}
		}
	}
	return 0;
}

/* One whole message from the relay: `artifact` stored, or `error`. */
static void
upload_message(struct agent_upload *u)
{
	struct ph_frame	 f;
	const char	*code, *msg, *why = NULL;
	int		 cc;

	memset(&f, 0, sizeof f);
	if (ph_frame_decode(u->msg, u->mlen, &f, &cc, &why) != 0) {
		ph_frame_clear(&f);
		return;
	}
	if (f.type == PH_FRAME_CONTROL && f.ctl == PH_CTL_ARTIFACT &&
	    u->stored == NULL) {
		u->stored = json_incref(f.json);
	} else if (f.type == PH_FRAME_CONTROL && f.ctl == PH_CTL_ERROR &&
	    u->refused == NULL) {
		code = json_string_value(json_object_get(f.json, "code"));
		msg = json_string_value(json_object_get(f.json, "message"));
		u->refused = ph_asprintf("the relay refused the upload: %s (%s)",
		    msg != NULL ? msg : "?", code != NULL ? code : "?");
	}
	ph_frame_clear(&f);
}

static int
upload_rx_data(void *arg, int opcode, const uint8_t *p, size_t n, int first, int last)
{
	struct agent_upload	*u = arg;

	(void)opcode;
	if (first) {
		u->mlen = 0;
		u->mtoo_big = 0;
	}
	if (n > sizeof u->msg - u->mlen)
		u->mtoo_big = 1;
	else {
		memcpy(u->msg + u->mlen, p, n);
		u->mlen += n;
	}
	if (last && !u->mtoo_big)
		upload_message(u);
	return 0;
}

static int
upload_rx_control(void *arg, int opcode, const uint8_t *p, size_t n)
{
	struct agent_upload	*u = arg;
	uint8_t			 out[PH_WS_HDR_MAX + PH_WS_CTL_MAX + 1];

	if (opcode == 0x8) {		/* close */
		u->closed = 1;
		if (u->refused == NULL && n >= 2)
			u->refused = ph_asprintf("the relay closed the upload "
			    "(%u%s%.*s)", (unsigned)(p[0] << 8 | p[1]),
			    n > 2 ? ": " : "", (int)(n > 2 ? n - 2 : 0), p + 2);
	} else if (opcode == 0x9) {	/* ping: pong */
		if (ph_tls_write(u->tls, out, ph_ws_frame(out, 0xA, -1, p, n)) != 0)
			return -1;
	}
	return 0;
}

static const struct ph_ws_rx_ops upload_rx_ops = {
	.data = upload_rx_data,
	.control = upload_rx_control,
};

/* Read what is there (wait up to secs for something when secs > 0). */
static int
upload_read(struct agent_upload *u, int secs, char **cause)
{
	uint8_t		 buf[16384], plain[16384];
	const char	*why = NULL;
	ssize_t		 n;

	if (upload_wait(u->fd, POLLIN, secs) != 0)
		return 0;	/* nothing yet: the caller keeps the time */
	if ((n = read(u->fd, buf, sizeof buf)) <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		u->closed = 1;
		return upload_fail(cause, "%s", u->refused != NULL ? u->refused :
		    "the relay closed the connection");
	}
	if (ph_tls_feed(u->tls, buf, (size_t)n) != 0)
		return upload_fail(cause, "TLS: out of memory");
	while ((n = ph_tls_read(u->tls, plain, sizeof plain, &why)) > 0) {
		if (ph_ws_rx_feed(&u->rx, plain, (size_t)n, &upload_rx_ops, u,
		    &why) != 0)
			return upload_fail(cause, "the relay broke the WebSocket "
			    "protocol: %s", why != NULL ? why : "?");
	}
	if (n < 0)
		u->closed = 1;
	return upload_flush(u, cause);
}

/* TCP to the relay, with a bounded wait for the connect. */
static int
upload_connect(const char *host, int port, char **cause)
{
	struct addrinfo	 hints, *res = NULL, *ai;
	char		 portbuf[16];
	int		 fd = -1, r, err = 0;
	socklen_t	 len = sizeof err;

	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	snprintf(portbuf, sizeof portbuf, "%d", port);
	if ((r = getaddrinfo(host, portbuf, &hints, &res)) != 0) {
		upload_fail(cause, "cannot resolve %s: %s", host, gai_strerror(r));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, ai->ai_protocol)) < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    (errno == EINPROGRESS && upload_wait(fd, POLLOUT, 10) == 0 &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
		    err == 0))
			break;
		if (err == 0)
			err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		upload_fail(cause, "cannot connect to %s:%d: %s", host, port,
		    err != 0 ? strerror(err) : "timed out");
	return fd;
}

/* The TLS handshake and the WebSocket upgrade. */
static int
upload_handshake(struct agent_upload *u, struct agent *a, char **cause)
{
	const char	*why = NULL;
	char		 key[PH_WS_KEY_LEN + 1], *req, head[PH_WS_HEAD_MAX + 1];
	uint8_t		 buf[16384];
	long		 verr = 0, clen;
	ssize_t		 n;
	size_t		 hlen = 0, end;
	int		 r, status;

	for (;;) {
		if ((r = ph_tls_handshake(u->tls, &verr, &why)) < 0)
			return upload_fail(cause, "TLS with %s failed: %s", a->cfg.host,
			    why != NULL ? why : "?");
		if (upload_flush(u, cause) != 0)
			return -1;
		if (r == 1)
			break;
		if (upload_wait(u->fd, POLLIN, UPLOAD_IO_SECS) != 0 ||
		    (n = read(u->fd, buf, sizeof buf)) <= 0)
			return upload_fail(cause, "TLS with %s: the relay did not "
			    "answer", a->cfg.host);
		ph_tls_feed(u->tls, buf, (size_t)n);
	}
	if ((req = ph_ws_request(a->cfg.host, a->cfg.port, PH_PATH_AGENT_ARTIFACT,
	    PH_SUBPROTO_SESSION, a->cfg.token, key)) == NULL)
		return upload_fail(cause, "no random bytes for the WebSocket key");
	r = ph_tls_write(u->tls, req, strlen(req));
	agent_secret_free(req);
	if (r != 0 || upload_flush(u, cause) != 0)
		return upload_fail(cause, "sending the upgrade failed");
	while ((end = ph_ws_head_end(head, hlen)) == 0) {
		if (hlen == PH_WS_HEAD_MAX)
			return upload_fail(cause, "the relay's answer is too long");
		n = ph_tls_read(u->tls, head + hlen, PH_WS_HEAD_MAX - hlen, &why);
		if (n > 0) {
			hlen += (size_t)n;
			continue;
		}
		if (n < 0 || upload_wait(u->fd, POLLIN, UPLOAD_IO_SECS) != 0 ||
		    (n = read(u->fd, buf, sizeof buf)) <= 0)
			return upload_fail(cause, "the relay did not answer the "
			    "upgrade");
		ph_tls_feed(u->tls, buf, (size_t)n);
	}
	head[end] = '\0';
	if (ph_ws_response(head, key, PH_SUBPROTO_SESSION, &status, &clen, &why) != 0)
		return upload_fail(cause, "the relay refused the upload channel "
		    "(HTTP %d: %s): is it older than this agent?", status,
		    why != NULL ? why : "?");
	/* Bytes after the head are frames already. */
	if (hlen > end && ph_ws_rx_feed(&u->rx, (uint8_t *)head + end, hlen - end,
	    &upload_rx_ops, u, &why) != 0)
		return upload_fail(cause, "bad frame from the relay");
	return 0;
}

void
agent_upload_free(struct agent_upload *u)
{
	if (u == NULL)
		return;
	if (u->fd >= 0)
		close(u->fd);
	ph_tls_free(u->tls);
	ph_tls_ctx_free(u->tc);
	free(u->frame);
	json_decref(u->stored);
	free(u->refused);
	free(u);
}

/* Send one message: type byte and payload. */
static int
upload_send(struct agent_upload *u, int type, const void *p, size_t n, char **cause)
{
	size_t	len;

	if (upload_read(u, 0, cause) != 0)
		return -1;
	if (u->refused != NULL || u->closed)
		return upload_fail(cause, "%s", u->refused != NULL ? u->refused :
		    "the relay closed the upload");
	len = ph_ws_frame(u->frame, 0x2, type, p, n);
	if (ph_tls_write(u->tls, u->frame, len) != 0)
		return upload_fail(cause, "TLS: out of memory");
	return upload_flush(u, cause);
}

static int
upload_send_ctl(struct agent_upload *u, json_t *m, char **cause)
{
	char	*s = json_dumps(m, JSON_COMPACT);
	int	 r;

	if (s == NULL)
		return upload_fail(cause, "out of memory");
	r = upload_send(u, PH_FRAME_CONTROL, s, strlen(s), cause);
	free(s);
	return r;
}

int
agent_upload_fd(const struct agent_upload *u)
{
	return u->fd;
}

int
agent_upload_service(struct agent_upload *u, char **cause)
{
	if (upload_read(u, 0, cause) != 0)
		return -1;
	if (u->refused != NULL || u->closed)
		return upload_fail(cause, "%s", u->refused != NULL ? u->refused :
		    "the relay closed the upload");
	return 0;
}

struct agent_upload *
agent_upload_open(struct agent *a, json_t *begin, char **cause)
{
	struct agent_upload	*u;

	if (a->cfg.token == NULL) {
		upload_fail(cause, "the agent's token is not read yet");
		return NULL;
	}
	if ((u = calloc(1, sizeof *u)) == NULL ||
	    (u->frame = malloc(PH_WS_HDR_MAX + 1 + PH_MAX_PAYLOAD)) == NULL) {
		free(u);
		upload_fail(cause, "out of memory");
		return NULL;
	}
	u->fd = -1;
	ph_ws_rx_init(&u->rx);
	if ((u->tc = ph_tls_ctx_new(a->cfg.ca != NULL ? a->cfg.ca : a->cfg.ca_bundle,
	    0, NULL, cause)) == NULL ||
	    (u->tls = ph_tls_new(u->tc, a->cfg.host)) == NULL ||
	    (u->fd = upload_connect(a->cfg.host, a->cfg.port, cause)) < 0 ||
	    upload_handshake(u, a, cause) != 0 ||
	    upload_send_ctl(u, begin, cause) != 0) {
		if (*cause == NULL)
			upload_fail(cause, "cannot set up TLS");
		agent_upload_free(u);
		return NULL;
	}
	return u;
}

int
agent_upload_data(struct agent_upload *u, const void *p, size_t n, char **cause)
{
	const uint8_t	*b = p;
	size_t		 k;

	while (n > 0) {
		k = n < PH_MAX_PAYLOAD ? n : PH_MAX_PAYLOAD;
		if (upload_send(u, PH_FRAME_DATA, b, k, cause) != 0)
			return -1;
		b += k;
		n -= k;
	}
	return 0;
}

json_t *
agent_upload_end(struct agent_upload *u, json_t *end, char **cause)
{
	time_t	deadline = time(NULL) + UPLOAD_STORED_SECS;
	json_t	*r;

	if (upload_send_ctl(u, end, cause) != 0)
		return NULL;
	while (u->stored == NULL && u->refused == NULL && !u->closed) {
		if (time(NULL) > deadline) {
			upload_fail(cause, "the relay did not confirm the upload "
			    "within %d s", UPLOAD_STORED_SECS);
			return NULL;
		}
		if (upload_read(u, 5, cause) != 0 && u->stored == NULL)
			return NULL;
	}
	if (u->stored == NULL) {
		upload_fail(cause, "%s", u->refused != NULL ? u->refused :
		    "the relay closed the upload before confirming it");
		return NULL;
	}
	r = u->stored;
	u->stored = NULL;
	return r;
}
