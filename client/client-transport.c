/*
 * client-transport.c - one TLS connection of the CLI to the relay (see
 * client-transport.h).
 *
 *   CONNECTING  a non-blocking connect(2) to the relay's address
 *   TLS         the handshake, as far as the bytes read allow (the
 *               certificate checked against PORTHOLE_CA or the system
 *               store and the relay's name: tlsclient.c)
 *   UP          plaintext both ways; ops->up has run
 *   CLOSED      the socket is gone; ops->closed has run
 *
 * The socket is registered with the conn's loop: readable while the
 * owner wants input, writeable while ciphertext is queued.  What the
 * socket brings is fed to TLS and the plaintext handed to the owner;
 * the ciphertext TLS makes goes into a bounded ph_queue, written as far
 * as the socket takes it (a partial write keeps its offset).  Closing is
 * always done from the loop (a zero-delay timer when the owner asks), so
 * a hook never runs inside a call of its owner.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "porthole/buf.h"
#include "porthole/frame.h"
#include "porthole/tlsclient.h"
#include "porthole/util.h"

#include "client-conn.h"
#include "client-loop.h"
#include "client-transport.h"

#define TRANSPORT_TLS_CHUNK	65536	/* ciphertext per queue item, at most */
#define TRANSPORT_READS		4	/* reads of the socket per round */

enum transport_state {
	TRANSPORT_IDLE,
	TRANSPORT_CONNECTING,
	TRANSPORT_TLS,
	TRANSPORT_UP,
	TRANSPORT_CLOSED,
};

struct client_transport {
	struct client_conn	*cc;
	const struct client_transport_ops *ops;
	void			*arg;
	enum transport_state	 state;
	struct client_loop_fd	 lfd;		/* the socket; fd -1: none */
	struct client_loop_timer bound;		/* connect + handshake */
	struct client_loop_timer later;		/* a close the owner asked for */
	struct ph_tls		*tls;
	struct ph_queue		 out;		/* ciphertext to send */
	int			 rx_on;
	int			 hangup;	/* closing: nothing more is sent */
	int64_t			 heard_ms;	/* last byte from the relay */
	char			 ended[160];	/* why TLS ended, "" */
	char			*cause;
};

static void	transport_io(void *arg, short revents);

struct client_transport *
client_transport_new(struct client_conn *cc, const struct client_transport_ops *ops,
    void *arg, size_t low, size_t high, size_t hard)
{
	struct client_transport	*t;

	if ((t = calloc(1, sizeof *t)) == NULL)
		return NULL;
	t->cc = cc;
	t->ops = ops;
	t->arg = arg;
	t->state = TRANSPORT_IDLE;
	t->rx_on = 1;
	t->lfd.fd = -1;
	t->lfd.fn = transport_io;
	t->lfd.arg = t;
	t->heard_ms = ph_mono_ms();
	ph_queue_init(&t->out, low, high, hard);
	return t;
}

void
client_transport_set_cause(struct client_transport *t, char *cause)
{
	if (t->cause == NULL)
		t->cause = cause;
	else
		free(cause);
}

const char *
client_transport_cause(const struct client_transport *t)
{
	return t->cause;
}

/* What to wait for, from the state, the queue and the owner's wish. */
static void
transport_events(struct client_transport *t)
{
	short	 ev = 0;

	if (t->lfd.fd < 0)
		return;
	if (t->state == TRANSPORT_CONNECTING)
		ev = POLLOUT;
	else if (t->state == TRANSPORT_TLS || t->state == TRANSPORT_UP) {
		if (t->rx_on || t->state == TRANSPORT_TLS)
			ev |= POLLIN;
		if (ph_queue_peek(&t->out) != NULL && !t->hangup)
			ev |= POLLOUT;
	}
	client_loop_events(t->cc->loop, &t->lfd, ev);
}

/* Let go of the socket and the timers. */
static void
transport_drop(struct client_transport *t)
{
	client_loop_timer(t->cc->loop, &t->bound, -1, NULL, NULL);
	client_loop_timer(t->cc->loop, &t->later, -1, NULL, NULL);
	if (t->lfd.fd >= 0) {
		client_loop_del(t->cc->loop, &t->lfd);
		close(t->lfd.fd);
		t->lfd.fd = -1;
	}
}

/* The connection is over: tell the owner, once (from the loop only). */
static void
transport_close(struct client_transport *t)
{
	int	 connected = t->state == TRANSPORT_TLS || t->state == TRANSPORT_UP;

	if (t->state == TRANSPORT_CLOSED)
		return;
	t->state = TRANSPORT_CLOSED;
	transport_drop(t);
	t->ops->closed(t->arg, connected, t->ended[0] != '\0' ? t->ended : NULL);
}

static void
transport_later(void *arg)
{
	transport_close(arg);
}

void
client_transport_hangup(struct client_transport *t)
{
	t->hangup = 1;
	if (t->state != TRANSPORT_CLOSED)
		client_loop_timer(t->cc->loop, &t->later, 0, transport_later, t);
}

/* Nothing came within the bound: connect or handshake. */
static void
transport_bound(void *arg)
{
	struct client_transport	*t = arg;

	client_transport_set_cause(t, client_conn_silent_cause(t->cc,
	    t->state == TRANSPORT_CONNECTING ? "no connection" :
	    "no TLS handshake"));
	transport_close(t);
}

/* The relay's address as a sockaddr; its length, 0 if it is not one. */
static socklen_t
transport_sockaddr(struct client_conn *cc, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof *ss);
	if (inet_pton(AF_INET, cc->addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)cc->conf->port);
		return sizeof *s4;
	}
	if (inet_pton(AF_INET6, cc->addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)cc->conf->port);
		return sizeof *s6;
	}
	return 0;
}

int
client_transport_connect(struct client_transport *t, char **cause)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 fd, one = 1;

	if ((len = transport_sockaddr(t->cc, &ss)) == 0 ||
	    (fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) < 0) {
		*cause = ph_asprintf("cannot start a connection to the relay at "
		    "%s (%s): check PORTHOLE_RELAY", t->cc->conf->relay,
		    len == 0 ? "not an address" : strerror(errno));
		return -1;
	}
	/* Small frames (keystrokes, control) must not wait for Nagle. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	t->lfd.fd = fd;
	t->state = TRANSPORT_CONNECTING;
	client_loop_add(t->cc->loop, &t->lfd);
	client_loop_timer(t->cc->loop, &t->bound,
	    CLIENT_CONN_CONNECT_SECS * 1000LL, transport_bound, t);
	if (connect(fd, (struct sockaddr *)&ss, len) != 0 &&
	    errno != EINPROGRESS) {
		/* Refused at once: said from the loop, the socket not polled. */
		client_transport_set_cause(t, client_conn_connect_cause(t->cc,
		    errno));
		client_transport_hangup(t);
		return 0;
	}
	transport_events(t);
	return 0;
}

void
client_transport_free(struct client_transport *t)
{
	if (t == NULL)
		return;
	transport_drop(t);
	ph_queue_free(&t->out);
	ph_tls_free(t->tls);
	free(t->cause);
	free(t);
}

void
client_transport_rx(struct client_transport *t, int on)
{
	t->rx_on = on != 0;
	transport_events(t);
}

int64_t
client_transport_heard(const struct client_transport *t)
{
	return t->heard_ms;
}

void
client_transport_touch(struct client_transport *t, int64_t now)
{
	t->heard_ms = now;
}

size_t
client_transport_queued(const struct client_transport *t)
{
	return t->out.bytes;
}

int
client_transport_empty(const struct client_transport *t)
{
	return ph_queue_peek(&t->out) == NULL;
}

int
client_transport_full(const struct client_transport *t)
{
	return ph_queue_over_high(&t->out);
}

int
client_transport_up(const struct client_transport *t)
{
	return t->state == TRANSPORT_UP && !t->hangup;
}

/* Move the ciphertext TLS made into the queue; -1 if it could not be kept. */
static int
transport_flush_tls(struct client_transport *t)
{
	struct ph_qitem	*it;
	size_t		 n;

	while ((n = ph_tls_pending(t->tls)) > 0) {
		if (n > TRANSPORT_TLS_CHUNK)
			n = TRANSPORT_TLS_CHUNK;
		if ((it = ph_qitem_new(n)) == NULL)
			goto lost;
		it->len = ph_tls_take(t->tls, it->data + PH_HEADROOM, n);
		if (it->len == 0) {
			free(it);
			break;
		}
		if (ph_queue_push_item(&t->out, it) != 0)
			goto lost;
	}
	transport_events(t);
	return 0;
lost:
	/* Ciphertext lost breaks the TLS stream: the connection is over. */
	client_transport_set_cause(t, ph_asprintf("out of memory queueing "
	    "output to the relay; the session is lost"));
	client_transport_hangup(t);
	return -1;
}

int
client_transport_send(struct client_transport *t, const void *p, size_t n)
{
	if (t->tls == NULL || t->hangup || t->state == TRANSPORT_CLOSED)
		return -1;
	if (ph_tls_write(t->tls, p, n) != 0)
		return -1;
	return transport_flush_tls(t) != 0 ? -2 : 0;
}

/* TCP is up (or failed): start the TLS handshake; -1 closes. */
static int
transport_connected(struct client_transport *t)
{
	const char	*why = NULL;
	socklen_t	 len = sizeof(int);
	long		 verr;
	int		 err = 0;

	if (getsockopt(t->lfd.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err != 0) {
		client_transport_set_cause(t, client_conn_connect_cause(t->cc, err));
		return -1;
	}
	if ((t->tls = ph_tls_new(t->cc->tls, t->cc->conf->host)) == NULL) {
		client_transport_set_cause(t, ph_asprintf("cannot set up TLS for "
		    "the relay's host '%s'", t->cc->conf->host));
		return -1;
	}
	t->state = TRANSPORT_TLS;
	t->heard_ms = ph_mono_ms();
	if (ph_tls_handshake(t->tls, &verr, &why) < 0) {
		client_transport_set_cause(t, client_conn_tls_cause(t->cc, verr,
		    why));
		return -1;
	}
	return transport_flush_tls(t);
}

/* Bytes from the handshake: 0 still going or done, -1 failed. */
static int
transport_handshake(struct client_transport *t)
{
	const char	*why = NULL;
	long		 verr;
	int		 r;

	r = ph_tls_handshake(t->tls, &verr, &why);
	if (r < 0) {
		client_transport_set_cause(t, client_conn_tls_cause(t->cc, verr,
		    why));
		return -1;
	}
	if (transport_flush_tls(t) != 0)
		return -1;
	if (r == 0)
		return 0;
	t->state = TRANSPORT_UP;
	client_loop_timer(t->cc->loop, &t->bound, -1, NULL, NULL);
	return t->ops->up(t->arg);
}

/* Ciphertext from the relay; -1 closes. */
static int
transport_feed(struct client_transport *t, const uint8_t *p, size_t n)
{
	static uint8_t	 plain[65536];	/* the loop is one thread */
	const char	*why = NULL;
	ssize_t		 got;

	t->heard_ms = ph_mono_ms();
	if (ph_tls_feed(t->tls, p, n) != 0)
		return -1;
	if (t->state == TRANSPORT_TLS && (transport_handshake(t) != 0 ||
	    t->state != TRANSPORT_UP))
		return t->state == TRANSPORT_TLS && t->cause == NULL ? 0 : -1;
	while (!t->hangup && (got = ph_tls_read(t->tls, plain, sizeof plain,
	    &why)) != 0) {
		if (got < 0) {
			snprintf(t->ended, sizeof t->ended, "%s", why);
			return -1;
		}
		if (t->ops->plain(t->arg, plain, (size_t)got) != 0)
			return -1;
	}
	/* Reading may have made TLS output (key updates, alerts). */
	if (t->hangup || transport_flush_tls(t) != 0)
		return -1;
	return 0;
}

/* The socket is readable; -1 closes. */
static int
transport_read(struct client_transport *t)
{
	static uint8_t	 buf[65536];
	ssize_t		 n;
	int		 i;

	for (i = 0; i < TRANSPORT_READS && t->state != TRANSPORT_CLOSED &&
	    !t->hangup && (t->rx_on || t->state == TRANSPORT_TLS); i++) {
		n = recv(t->lfd.fd, buf, sizeof buf, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n <= 0) {
			if (n < 0 && t->state == TRANSPORT_TLS)
				client_transport_set_cause(t,
				    client_conn_tls_cause(t->cc, 0, strerror(errno)));
			return -1;	/* the relay closed, or the socket broke */
		}
		if (transport_feed(t, buf, (size_t)n) != 0)
			return -1;
	}
	return 0;
}

/* The socket is writeable; -1 closes. */
static int
transport_write(struct client_transport *t)
{
	struct ph_qitem	*it;
	ssize_t		 w;

	while ((it = ph_queue_peek(&t->out)) != NULL && !t->hangup) {
		w = send(t->lfd.fd, it->data + PH_HEADROOM + it->off,
		    it->len - it->off, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (w < 0) {
			client_transport_set_cause(t, ph_asprintf("writing to the "
			    "relay failed (%s); the session is lost and output may "
			    "be truncated", strerror(errno)));
			return -1;
		}
		if ((it->off += (size_t)w) < it->len)
			return 0;
		ph_queue_pop(&t->out);
		if (ph_queue_peek(&t->out) == NULL)
			return t->ops->sent(t->arg);
	}
	return 0;
}

static void
transport_io(void *arg, short revents)
{
	struct client_transport	*t = arg;
	int			 r = 0;

	if (t->state == TRANSPORT_CONNECTING)
		r = transport_connected(t);
	else {
		if (revents & POLLOUT)
			r = transport_write(t);
		if (r == 0 && (revents & (POLLIN | POLLHUP | POLLERR)))
			r = transport_read(t);
	}
	if (r != 0 && t->state == TRANSPORT_TLS && t->cause == NULL)
		client_transport_set_cause(t, client_conn_tls_cause(t->cc, 0,
		    "the relay closed the connection"));
	if (r != 0 || t->hangup)
		transport_close(t);
	else
		transport_events(t);
}
