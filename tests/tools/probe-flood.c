/*
 * probe-flood.c - ph-probe's flood mode: many hostile connections at once
 * from one process, for tests/e2e/chaos_hostile.sh.  Connection i is bound
 * to its own source address (FROM + i, so 127.0.0.2 and up), leaving the
 * good sessions of the test on 127.0.0.1 under any per-address limit, and
 * does one of these, by i modulo the number of kinds:
 *
 *   garbage    plain TCP, 4 KiB of random bytes where TLS is expected
 *   halfopen   plain TCP, connects and says nothing
 *   slowhttp   TLS, then an upgrade request dripped a byte every 500 ms
 *   badhttp    TLS, a request line with NULs and a 16 KiB header
 *   notoken    TLS, a valid upgrade without a token, then frames
 *   badtype    TLS, upgrade with the token, an unknown type byte, invalid
 *              JSON, a text message
 *   oversize   TLS, upgrade, a frame header announcing 2^40 bytes
 *   fragments  TLS, upgrade, 4 KiB continuation fragments past 64 KiB
 *   badws      TLS, upgrade, an unmasked frame with a reserved opcode
 *   silent     TLS, upgrade, then nothing (no first message)
 *
 * No libwebsockets here: the point is to send what lws would refuse to.
 * One poll() loop, non-blocking sockets and OpenSSL.  At the end it prints
 * one line: "flood N: connected C, tls T, closed-by-relay K, open S".
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "porthole/protocol.h"
#include "porthole/util.h"

int	probe_flood(const char *host, int port, const char *ca, const char *token,
	    const char *from, int n, int secs);

enum kind {
	K_GARBAGE, K_HALFOPEN, K_SLOWHTTP, K_BADHTTP, K_NOTOKEN, K_BADTYPE,
	K_OVERSIZE, K_FRAGMENTS, K_BADWS, K_SILENT, K_COUNT
};

enum phase { P_CONNECT, P_TLS, P_SEND, P_UPGRADE, P_FRAMES, P_HOLD, P_DONE };

struct fconn {
	int		 fd;
	SSL		*ssl;
	enum kind	 kind;
	enum phase	 phase;
	uint8_t		*out;		/* what is left to send */
	size_t		 outlen, outoff;
	int		 drip;		/* bytes per tick; 0 = all at once */
	int64_t		 next_ms;	/* next drip */
	char		 in[1024];	/* the upgrade response */
	size_t		 inlen;
	int		 connected, tls, closed_by_peer;
};

static const char *fl_host, *fl_token;
static int fl_port;

/* Append a masked (or not) WebSocket frame to *buf. */
static void
ws_frame(uint8_t **buf, size_t *len, int fin, int opcode, int masked,
    const uint8_t *p, size_t n, uint64_t claim)
{
	uint8_t hdr[14], mask[4] = { 0x12, 0x34, 0x56, 0x78 };
	size_t h = 0, i;
	uint64_t l = claim ? claim : n;

	hdr[h++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
	if (l < 126)
		hdr[h++] = (uint8_t)((masked ? 0x80 : 0) | l);
	else if (l < 65536) {
		hdr[h++] = (uint8_t)((masked ? 0x80 : 0) | 126);
		hdr[h++] = (uint8_t)(l >> 8);
		hdr[h++] = (uint8_t)l;
	} else {
		hdr[h++] = (uint8_t)((masked ? 0x80 : 0) | 127);
		for (i = 0; i < 8; i++)
			hdr[h++] = (uint8_t)(l >> (56 - 8 * i));
	}
	if (masked) {
		memcpy(hdr + h, mask, 4);
		h += 4;
	}
	*buf = realloc(*buf, *len + h + n);
	memcpy(*buf + *len, hdr, h);
	for (i = 0; i < n; i++)
		(*buf)[*len + h + i] = p[i] ^ (masked ? mask[i % 4] : 0);
	*len += h + n;
}

static void
add_bytes(uint8_t **buf, size_t *len, const void *p, size_t n)
{
	*buf = realloc(*buf, *len + n);
	memcpy(*buf + *len, p, n);
	*len += n;
}

static void
upgrade_request(struct fconn *c, int with_token)
{
	char req[8192];
	int n;

	n = snprintf(req, sizeof req,
	    "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n%s%s%s\r\n",
	    PH_PATH_SESSION, fl_host, fl_port, PH_SUBPROTO_SESSION,
	    with_token ? "Authorization: Bearer " : "", with_token ? fl_token : "",
	    with_token ? "\r\n" : "");
	add_bytes(&c->out, &c->outlen, req, (size_t)n);
}

/* What a connection of each kind sends first (after TLS, if any). */
static void
first_bytes(struct fconn *c)
{
	static const char slow[] = "GET /v1/session HTTP/1.1\r\nHost: x\r\nX-Slow: ";
	static const char bad[] = "GET /\0\xff\x01 HTTP/1.1\r\nX-Big: ";
	uint8_t junk[16384];

	switch (c->kind) {
	case K_GARBAGE:
		RAND_bytes(junk, 4096);
		add_bytes(&c->out, &c->outlen, junk, 4096);
		break;
	case K_HALFOPEN:
		break;
	case K_SLOWHTTP:
		add_bytes(&c->out, &c->outlen, slow, sizeof slow - 1);
		c->drip = 1;
		break;
	case K_BADHTTP:
		add_bytes(&c->out, &c->outlen, bad, sizeof bad - 1);
		memset(junk, 'a', sizeof junk);
		add_bytes(&c->out, &c->outlen, junk, sizeof junk);
		add_bytes(&c->out, &c->outlen, "\r\n\r\n", 4);
		break;
	case K_NOTOKEN:
		upgrade_request(c, 0);
		break;
	default:
		upgrade_request(c, 1);
		break;
	}
}

/* What an upgraded connection sends after the 101. */
static void
frames(struct fconn *c)
{
	static const uint8_t badtype[] = { 0x7f, 'x' }, badjson[] = { 0x03, '{', '"' };
	uint8_t chunk[4097];
	size_t off;

	memset(chunk, 0, sizeof chunk);
	switch (c->kind) {
	case K_NOTOKEN:
	case K_BADTYPE:
		ws_frame(&c->out, &c->outlen, 1, 2, 1, badtype, sizeof badtype, 0);
		ws_frame(&c->out, &c->outlen, 1, 2, 1, badjson, sizeof badjson, 0);
		ws_frame(&c->out, &c->outlen, 1, 1, 1, (const uint8_t *)"text", 4, 0);
		break;
	case K_OVERSIZE:
		ws_frame(&c->out, &c->outlen, 1, 2, 1, chunk, 1024, (uint64_t)1 << 40);
		break;
	case K_FRAGMENTS:
		for (off = 0; off < 200 * 1024; off += 4096)
			ws_frame(&c->out, &c->outlen, 0, off == 0 ? 2 : 0, 1, chunk,
			    4096, 0);
		break;
	case K_BADWS:
		chunk[0] = 0x03;
		ws_frame(&c->out, &c->outlen, 1, 3, 0, chunk, 16, 0);
		add_bytes(&c->out, &c->outlen, "\xf2\x85", 2);
		break;
	default:
		break;
	}
}

static int
fl_connect(struct fconn *c, const struct sockaddr_in *to, uint32_t src)
{
	struct sockaddr_in sa;

	if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(src);
	if (bind(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    (connect(c->fd, (const struct sockaddr *)to, sizeof *to) != 0 &&
	    errno != EINPROGRESS)) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	c->phase = P_CONNECT;
	return 0;
}

static void
fl_close(struct fconn *c, int by_peer)
{
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	c->ssl = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->phase = P_DONE;
	c->closed_by_peer = by_peer;
	free(c->out);
	c->out = NULL;
}

/* Read and drop what comes; 1 when the peer closed. */
static int
fl_drain(struct fconn *c)
{
	char buf[16384];
	ssize_t r;
	int e;

	for (;;) {
		if (c->ssl != NULL) {
			r = SSL_read(c->ssl, buf, sizeof buf);
			if (r <= 0) {
				e = SSL_get_error(c->ssl, (int)r);
				ERR_clear_error();
				return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : 1;
			}
		} else {
			r = read(c->fd, buf, sizeof buf);
			if (r < 0)
				return errno == EAGAIN ? 0 : 1;
			if (r == 0)
				return 1;
		}
		if (c->phase == P_UPGRADE && c->inlen + (size_t)r < sizeof c->in) {
			memcpy(c->in + c->inlen, buf, (size_t)r);
			c->inlen += (size_t)r;
		}
	}
}

/* Send what is queued (or one drip); -1 on a dead connection. */
static int
fl_send(struct fconn *c)
{
	size_t n = c->outlen - c->outoff;
	ssize_t r;

	if (n == 0)
		return 0;
	if (c->drip) {
		if (ph_mono_ms() < c->next_ms)
			return 0;
		n = (size_t)c->drip;
		c->next_ms = ph_mono_ms() + 500;
	}
	if (c->ssl != NULL) {
		r = SSL_write(c->ssl, c->out + c->outoff, (int)n);
		if (r <= 0) {
			int e = SSL_get_error(c->ssl, (int)r);
			ERR_clear_error();
			return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
		}
	} else {
		r = write(c->fd, c->out + c->outoff, n);
		if (r < 0)
			return errno == EAGAIN ? 0 : -1;
	}
	c->outoff += (size_t)r;
	return 0;
}

static void
fl_step(struct fconn *c, SSL_CTX *ctx, short revents)
{
	int r, e, err;
	socklen_t el = sizeof err;

	switch (c->phase) {
	case P_CONNECT:
		if (!(revents & (POLLOUT | POLLERR | POLLHUP)))
			return;
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
			fl_close(c, 1);
			return;
		}
		c->connected = 1;
		if (c->kind == K_GARBAGE || c->kind == K_HALFOPEN) {
			first_bytes(c);
			c->phase = P_SEND;
			break;
		}
		c->ssl = SSL_new(ctx);
		SSL_set_fd(c->ssl, c->fd);
		SSL_set_tlsext_host_name(c->ssl, fl_host);
		c->phase = P_TLS;
		/* FALLTHROUGH */
	case P_TLS:
		r = SSL_connect(c->ssl);
		if (r == 1) {
			c->tls = 1;
			first_bytes(c);
			c->phase = c->kind >= K_NOTOKEN ? P_UPGRADE : P_SEND;
			break;
		}
		e = SSL_get_error(c->ssl, r);
		ERR_clear_error();
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			fl_close(c, 1);
		return;
	default:
		break;
	}
	if (c->phase == P_DONE)
		return;
	if (fl_send(c) != 0 || fl_drain(c)) {
		fl_close(c, 1);
		return;
	}
	if (c->phase == P_UPGRADE && memmem(c->in, c->inlen, "\r\n\r\n", 4) != NULL) {
		c->phase = P_FRAMES;
		frames(c);
		if (fl_send(c) != 0)
			fl_close(c, 1);
	}
}

int
probe_flood(const char *host, int port, const char *ca, const char *token,
    const char *from, int n, int secs)
{
	struct sockaddr_in to;
	struct in_addr base;
	struct pollfd *pfd;
	struct fconn *cs;
	struct rlimit rl;
	SSL_CTX *ctx;
	int64_t end;
	int i, np, started = 0, conn = 0, tls = 0, byrelay = 0, open = 0;

	fl_host = host;
	fl_port = port;
	fl_token = token != NULL ? token : "";
	if (inet_pton(AF_INET, from, &base) != 1 || inet_pton(AF_INET, host, &to.sin_addr) != 1) {
		fprintf(stderr, "ph-probe: --flood needs numeric IPv4 --from and host\n");
		return 2;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	to.sin_family = AF_INET;
	to.sin_port = htons((uint16_t)port);
	signal(SIGPIPE, SIG_IGN);
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return 2;
	if (ca != NULL)
		SSL_CTX_load_verify_locations(ctx, ca, NULL);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	cs = calloc((size_t)n, sizeof *cs);
	pfd = calloc((size_t)n, sizeof *pfd);
	for (i = 0; i < n; i++) {
		cs[i].fd = -1;
		cs[i].phase = P_DONE;
		cs[i].kind = (enum kind)(i % K_COUNT);
	}
	end = ph_mono_ms() + (int64_t)secs * 1000;
	while (ph_mono_ms() < end) {
		/* Ramp up: a few dozen new connections per turn. */
		for (i = 0; i < 40 && started < n; i++, started++) {
			if (fl_connect(&cs[started], &to, ntohl(base.s_addr) + (uint32_t)started) != 0)
				fprintf(stderr, "ph-probe: flood %d: %s\n", started, strerror(errno));
		}
		for (i = 0, np = 0; i < started; i++) {
			struct fconn *c = &cs[i];
			if (c->phase == P_DONE)
				continue;
			pfd[np].fd = c->fd;
			pfd[np].events = POLLIN;
			if (c->phase == P_CONNECT || c->outoff < c->outlen)
				pfd[np].events |= POLLOUT;
			pfd[np].revents = 0;
			np++;
		}
		if (poll(pfd, (nfds_t)np, 20) < 0 && errno != EINTR)
			break;
		for (i = 0, np = 0; i < started; i++) {
			struct fconn *c = &cs[i];
			if (c->phase == P_DONE)
				continue;
			fl_step(c, ctx, pfd[np].revents);
			np++;
		}
	}
	for (i = 0; i < n; i++) {
		conn += cs[i].connected;
		tls += cs[i].tls;
		byrelay += cs[i].closed_by_peer;
		if (cs[i].phase != P_DONE) {
			open++;
			fl_close(&cs[i], 0);
		}
	}
	printf("flood %d: connected %d, tls %d, closed-by-relay %d, open %d\n", n, conn, tls,
	    byrelay, open);
	fflush(stdout);
	free(cs);
	free(pfd);
	SSL_CTX_free(ctx);
	return 0;
}
