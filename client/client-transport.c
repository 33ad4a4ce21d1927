/*
 * client-transport.c - one TLS connection of the CLI to the relay (see
 * client-transport.h).
 *
 * The socket is an lws RAW client connection on the connection's context:
 * lws connects it, runs the loop and tells us when it is readable or
 * writeable.  TLS is libporthole's tlsclient.c over memory BIOs: what the
 * socket brings is fed in, the handshake runs as far as those bytes allow
 * (the certificate checked against PORTHOLE_CA or the system store and
 * the relay's name), and the ciphertext TLS makes goes into a bounded
 * ph_queue, one lws_write per RAW_WRITEABLE (lws buffers what the socket
 * does not take and holds further WRITEABLEs until it is out).  Reads come
 * in pt_serv_buf_size blocks; the plaintext goes to the owner.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "porthole/buf.h"
#include "porthole/tlsclient.h"
#include "porthole/util.h"

#include "client-conn.h"
#include "client-conn-priv.h"
#include "client-transport.h"

#define TRANSPORT_TLS_CHUNK	65536	/* ciphertext per queue item, at most */

enum transport_state {
	TRANSPORT_CONNECTING,		/* lws connects the socket */
	TRANSPORT_TLS,			/* the handshake */
	TRANSPORT_UP,			/* plaintext both ways */
};

struct client_transport {
	struct conn_link	 link;		/* first: lws opaque points here */
	struct client_conn	*cc;
	struct lws		*wsi;		/* NULL once closed */
	const struct client_transport_ops *ops;
	void			*arg;
	enum transport_state	 state;
	struct ph_tls		*tls;
	struct ph_queue		 out;		/* ciphertext to send */
	int			 hangup;	/* close at the next chance */
	int			 closed;	/* ops->closed has run */
	int64_t			 heard_ms;	/* last byte from the relay */
	char			 ended[160];	/* why TLS ended, "" */
	char			*cause;
};

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
	t->state = TRANSPORT_CONNECTING;
	t->heard_ms = ph_mono_ms();
	ph_queue_init(&t->out, low, high, hard);
	return t;
}

int
client_transport_connect(struct client_transport *t, char **cause)
{
	struct lws_client_connect_info	 ci;

	client_conn_ccinfo(t->cc, &ci);
	ci.ssl_connection = 0;	/* TLS is ours: tlsclient.c */
	ci.alpn = NULL;
	ci.method = "RAW";
	ci.path = "";
	ci.protocol = CLIENT_CONN_SESSION_PROTOCOL;
	ci.local_protocol_name = CLIENT_CONN_SESSION_PROTOCOL;
	ci.opaque_user_data = t;
	ci.pwsi = &t->wsi;
	if (lws_client_connect_via_info(&ci) == NULL) {
		if (t->closed)
			return 0;	/* ops->closed already said why */
		t->wsi = NULL;
		*cause = ph_asprintf("cannot start a connection to the relay at "
		    "%s: check PORTHOLE_RELAY", t->cc->conf->relay);
		return -1;
	}
	return 0;
}

void
client_transport_free(struct client_transport *t)
{
	if (t == NULL)
		return;
	if (t->wsi != NULL) {
		lws_set_opaque_user_data(t->wsi, NULL);
		lws_set_timeout(t->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		t->wsi = NULL;
	}
	ph_queue_free(&t->out);
	ph_tls_free(t->tls);
	free(t->cause);
	free(t);
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

void
client_transport_hangup(struct client_transport *t)
{
	t->hangup = 1;
	if (t->wsi != NULL)
		lws_callback_on_writable(t->wsi);
}

void
client_transport_kill(struct client_transport *t)
{
	if (t->wsi != NULL)
		lws_set_timeout(t->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

void
client_transport_rx(struct client_transport *t, int on)
{
	if (t->wsi == NULL)
		return;
	/* Called from other connections' callbacks too: apply now. */
	lws_rx_flow_control(t->wsi, (on ? 1 : 0) |
	    LWS_RXFLOW_REASON_FLAG_PROCESS_NOW);
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
	return ph_queue_peek((struct ph_queue *)&t->out) == NULL;
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

int
client_transport_connecting(const struct client_transport *t)
{
	return t->state == TRANSPORT_CONNECTING;
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
	if (t->wsi != NULL && ph_queue_peek(&t->out) != NULL)
		lws_callback_on_writable(t->wsi);
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
	if (t->tls == NULL || t->hangup)
		return -1;
	if (ph_tls_write(t->tls, p, n) != 0)
		return -1;
	return transport_flush_tls(t) != 0 ? -2 : 0;
}

/* The TLS handshake failed: say why in the conn's words. */
static void
transport_tls_failed(struct client_transport *t, long verify_err, const char *why)
{
	struct client_conn	*cc = t->cc;
	struct client_conf	*conf = cc->conf;

	if (verify_err != 0) {
		t->link.verify_err = (int)verify_err;
		snprintf(t->link.verify_msg, sizeof t->link.verify_msg, "%s", why);
		client_transport_set_cause(t, client_conn_connect_cause(cc, NULL,
		    &t->link, NULL, 0));
	} else
		client_transport_set_cause(t, ph_asprintf("TLS handshake with the "
		    "relay at %s (%s port %d) failed (%s): is PORTHOLE_RELAY the "
		    "relay's TLS address?", conf->relay, cc->addr,
		    conf->port, why != NULL ? why : "unknown error"));
}

/* The socket is up: start the TLS handshake. */
static int
transport_connected(struct client_transport *t)
{
	const char	*why = NULL;
	long		 verr;
	int		 fd, one = 1;

	if (t->state != TRANSPORT_CONNECTING)
		return 0;
	/* Small frames (keystrokes, control) must not wait for Nagle. */
	fd = lws_get_socket_fd(t->wsi);
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	t->tls = ph_tls_new(t->cc->tls, t->cc->conf->host);
	if (t->tls == NULL) {
		client_transport_set_cause(t, ph_asprintf("cannot set up TLS for "
		    "the relay's host '%s'", t->cc->conf->host));
		return -1;
	}
	t->state = TRANSPORT_TLS;
	t->heard_ms = ph_mono_ms();
	if (ph_tls_handshake(t->tls, &verr, &why) < 0) {
		transport_tls_failed(t, verr, why);
		return -1;
	}
	return transport_flush_tls(t);
}

/* Ciphertext from the relay. */
static int
transport_rx(struct client_transport *t, const uint8_t *p, size_t n)
{
	static uint8_t	 plain[65536];	/* the loop is one thread */
	const char	*why = NULL;
	long		 verr;
	ssize_t		 got;
	int		 r;

	t->heard_ms = ph_mono_ms();
	if (t->tls == NULL || ph_tls_feed(t->tls, p, n) != 0)
		return -1;
	if (t->state == TRANSPORT_TLS) {
		r = ph_tls_handshake(t->tls, &verr, &why);
		if (r < 0) {
			transport_tls_failed(t, verr, why);
			return -1;
		}
		if (transport_flush_tls(t) != 0)
			return -1;
		if (r == 0)
			return 0;
		t->state = TRANSPORT_UP;
		if (t->ops->up(t->arg) != 0)
			return -1;
	}
	while (!t->hangup && (got = ph_tls_read(t->tls, plain, sizeof plain,
	    &why)) != 0) {
		if (got < 0) {
			snprintf(t->ended, sizeof t->ended, "%s", why);
			return -1;	/* RAW_CLOSE says the rest */
		}
		if (t->ops->plain(t->arg, plain, (size_t)got) != 0)
			return -1;
	}
	/* Reading may have made TLS output (key updates, alerts). */
	if (transport_flush_tls(t) != 0 || t->hangup)
		return -1;
	return 0;
}

static int
transport_writeable(struct client_transport *t, struct lws *wsi)
{
	struct ph_qitem	*it;
	int		 n;

	if (t->hangup)
		return -1;
	if ((it = ph_queue_peek(&t->out)) == NULL)
		return 0;
	n = lws_write(wsi, it->data + PH_HEADROOM, it->len, LWS_WRITE_RAW);
	if (n < (int)it->len) {
		client_transport_set_cause(t, ph_asprintf("writing to the relay "
		    "failed; the session is lost and output may be truncated"));
		return -1;
	}
	ph_queue_pop(&t->out);
	if (ph_queue_peek(&t->out) != NULL) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	return t->ops->sent(t->arg);
}

/* The socket is gone: tell the owner, once. */
static void
transport_closed(struct client_transport *t, struct lws *wsi, int connected)
{
	lws_set_opaque_user_data(wsi, NULL);
	t->wsi = NULL;
	if (t->closed)
		return;
	t->closed = 1;
	t->ops->closed(t->arg, connected, t->ended[0] != '\0' ? t->ended : NULL);
}

int
client_transport_callback(struct lws *wsi, enum lws_callback_reasons reason,
    void *user, void *in, size_t len)
{
	struct client_transport	*t;

	(void)user;
	t = wsi != NULL ? lws_get_opaque_user_data(wsi) : NULL;
	if (t == NULL)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_RAW_CONNECTED:
	case LWS_CALLBACK_RAW_ADOPT:
		return transport_connected(t);
	case LWS_CALLBACK_RAW_RX:
		if (t->state == TRANSPORT_CONNECTING && transport_connected(t) != 0)
			return -1;
		return transport_rx(t, in, len);
	case LWS_CALLBACK_RAW_WRITEABLE:
		if (t->state == TRANSPORT_CONNECTING && transport_connected(t) != 0)
			return -1;
		return transport_writeable(t, wsi);
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (t->cause == NULL)
			t->cause = client_conn_connect_cause(t->cc, wsi, &t->link,
			    in, len);
		transport_closed(t, wsi, 0);
		return 0;
	case LWS_CALLBACK_RAW_CLOSE:
		transport_closed(t, wsi, 1);
		return 0;
	default:
		return 0;
	}
}
