/*
 * relay-conn.c - the relay's one libwebsockets callback and the life of a
 * connection: which endpoint it is, its token, reassembly of its messages,
 * its outgoing queue, pausing its reads, and closing it with a code.
 *
 * Every protocol of the vhost uses relay_conn_callback; the endpoint is
 * decided by the request path at ESTABLISHED (where the headers are still
 * readable) and must agree with the subprotocol lws bound.  Everything
 * kind-specific goes through the endpoint table (relay-endpoint.h): the
 * endpoint's start and token, complete decoded messages (rx), a message
 * leaving the queue (drained), the close; plain HTTP requests too.  This
 * file names no endpoint module.
 *
 * Writing: only from SERVER_WRITEABLE, one lws_write of one queued message
 * per callback.  Closing: relay_conn_close() records the code; the next
 * WRITEABLE with an empty queue (or at once with `now`) sets the close
 * reason and returns -1; lws calls WRITEABLE once more after that, which
 * close_sent ignores.  A refusal (relay_conn_fail) is an `error` message
 * queued first, then such a close.
 */
#include <netinet/in.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/log.h"
#include "porthole/util.h"
#include "relay.h"
#include "relay-audit.h"
#include "relay-auth.h"
#include "relay-conn.h"
#include "relay-endpoint.h"
#include "relay-limits.h"
#include "relay-metrics.h"
#include "relay-route.h"

/*
 * Keepalive, the relay's own rather than libwebsockets' (whose per-wsi
 * validity timer is turned off, see relay.c).
 *
 * lws keeps its timers in one sorted list per thread and inserts by
 * walking it: with a validity timer for each of 10,000 agents, every
 * ping sent and every pong read walked 10,000 entries, and the relay
 * spent four fifths of its time there (perf, 10,000 ph-agentload agents)
 * -- long enough stalls that peers' own pings went unanswered and a
 * several-MB `ls` answer was cut by its reader's deadline.  So: one
 * timer, once a second, walks the connections; each remembers when its
 * peer last sent anything (a message or a pong).  Silent for ping_secs:
 * a ping goes out (from WRITEABLE, between whole messages).  Silent for
 * hangup_secs: the connection is dropped.
 *
 * A connection that backpressure keeps from answering pings is not
 * silent: a session whose reader has stopped (a pager, a SIGSTOPped CLI)
 * cannot send its pings (the socket is full) and its other side cannot
 * read pongs (rx is paused).  While a connection is held up by flow
 * control, the relay asks the kernel whether it is still established and
 * not half-closed, and counts that as a sign of life.
 *
 * Not TCP_USER_TIMEOUT: Linux aborts a connection whose window has stayed
 * zero that long even while the peer answers every probe, which is
 * exactly the slow reader this keeps alive (measured: a 3 s timeout cut a
 * reader paused for 10 s).  A peer that dies while its window is zero is
 * found by TCP's own probe retransmissions, which take minutes.
 */
static int
relay_conn_tcp_alive(struct lws *wsi)
{
	struct tcp_info ti;
	socklen_t len = sizeof ti;
	struct pollfd pfd;
	int fd = (int)lws_get_socket_fd(wsi);

	if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
	    ti.tcpi_state != TCP_ESTABLISHED)
		return 0;
	pfd.fd = fd;
	pfd.events = POLLRDHUP;
	pfd.revents = 0;
	if (poll(&pfd, 1, 0) < 0 || (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)))
		return 0;
	return 1;
}

/*
 * The peer's last words.  A peer that sends its last frames and hangs up
 * (FIN, or RST when it closed with our bytes unread) leaves them in the
 * kernel's receive queue, where Linux keeps them readable even after a
 * reset.  libwebsockets 4.1.6 loses them in two ways: a write that meets
 * the reset marks the socket unusable and the wsi is closed before its
 * input is read (it serves POLLOUT before POLLIN), and a POLLHUP while
 * reads are paused closes it at once (research, libwebsockets §8).  So
 * the relay writes nothing to a peer that hung up while something it
 * sent is unread or reads are paused (a write would only provoke or meet
 * the reset), and a paused connection whose peer hung up after a FIN
 * counts as alive: what it said waits, bounded by the socket buffer,
 * until the other side drains and reads resume.
 */
static int
relay_conn_peer_hungup(struct lws *wsi)
{
	struct pollfd pfd;

	pfd.fd = (int)lws_get_socket_fd(wsi);
	pfd.events = POLLRDHUP;
	pfd.revents = 0;
	return pfd.fd >= 0 && poll(&pfd, 1, 0) == 1 &&
	    (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

/* Has the peer hung up with input the relay has not read yet? */
static int
relay_conn_last_words(struct relay_conn *c)
{
	int unread = 0;

	if (!relay_conn_peer_hungup(c->wsi))
		return 0;
	if (c->pause == 0 &&
	    (ioctl((int)lws_get_socket_fd(c->wsi), FIONREAD, &unread) != 0 || unread <= 0))
		return 0;
	if (!c->peer_gone)
		ph_debug("%s: %s hung up: reading what it sent before writing",
		    relay_endpoint(c->kind)->what, c->peer);
	c->peer_gone = 1;
	return 1;
}

/*
 * Bytes in the kernel's send queue that the peer has not taken: a reader
 * that stopped leaves them there (its window is shut) even when our own
 * queue is empty.  A resumable session's sender stops at its window of
 * unacknowledged records, so what a stalled client has not read may sit
 * in the socket buffers alone.  A frozen idle peer acknowledges our pings
 * into its buffer and leaves this at 0.
 */
static int
relay_conn_unsent(struct lws *wsi)
{
	int fd = (int)lws_get_socket_fd(wsi), n = 0;

	return fd >= 0 && ioctl(fd, SIOCOUTQ, &n) == 0 && n > 0;
}

/* Held up by flow control in either direction? */
static int
relay_conn_held(struct relay_conn *c)
{
	return (c->pause & RELAY_PAUSE_PEER) || c->tx.bytes > 0 ||
	    lws_send_pipe_choked(c->wsi) || relay_conn_unsent(c->wsi);
}

static void
relay_conn_keepalive(lws_sorted_usec_list_t *sul)
{
	struct relay_conn *c;
	int64_t now = ph_mono_ms(), ping = relay.ping_secs * 1000LL,
	    hangup = relay.hangup_secs * 1000LL;

	(void)sul;
	for (c = relay.conns; c != NULL; c = c->next) {
		if (c->close_code != 0 || c->wsi == NULL || c->hung_up)
			continue;
		if (now - c->rx_ms >= ping && relay_conn_held(c) &&
		    (relay_conn_tcp_alive(c->wsi) ||
		    ((c->pause & RELAY_PAUSE_PEER) && relay_conn_last_words(c))))
			c->rx_ms = now;
		if (now - c->rx_ms >= hangup) {
			ph_info("%s: nothing from %s for %lld s: hanging up",
			    relay_endpoint(c->kind)->what,
			    c->peer, (long long)((now - c->rx_ms) / 1000));
			c->hung_up = 1;
			/*
			 * No close frame: the peer is not listening.  shutdown(2)
			 * as well, as relay-limits.c does: lws sees the hangup
			 * whatever state timeout it might set over this one.
			 */
			if (lws_get_socket_fd(c->wsi) >= 0)
				shutdown((int)lws_get_socket_fd(c->wsi), SHUT_RDWR);
			lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		} else if (now - c->rx_ms >= ping && now - c->ping_ms >= ping) {
			c->ping_due = 1;
			lws_callback_on_writable(c->wsi);
		}
	}
	lws_sul_schedule(relay.ctx, 0, &relay.sul_keepalive, relay_conn_keepalive,
	    LWS_USEC_PER_SEC);
}

void
relay_conn_keepalive_start(int ping_secs, int hangup_secs)
{
	relay.ping_secs = ping_secs;
	relay.hangup_secs = hangup_secs;
	lws_sul_schedule(relay.ctx, 0, &relay.sul_keepalive, relay_conn_keepalive,
	    LWS_USEC_PER_SEC);
}

int
relay_conn_closing(const struct relay_conn *c)
{
	return c->close_code != 0;
}

/* Queue one whole message (type byte first).  -1: closing or queue full. */
int
relay_conn_send(struct relay_conn *c, const void *msg, size_t len)
{
	if (!c->established || c->close_code != 0 || relay.dying)
		return -1;
	if (ph_queue_push(&c->tx, -1, msg, len) != 0)
		return -1;
	relay_metrics_queue(c->kind, c->tx.bytes);
	lws_callback_on_writable(c->wsi);
	return 0;
}

/* Queue a control message (obj stays the caller's). */
int
relay_conn_send_ctl(struct relay_conn *c, json_t *obj)
{
	uint8_t *buf;
	size_t len;
	int r;

	if (obj == NULL || ph_ctl_encode(obj, &buf, &len) != 0)
		return -1;
	r = relay_conn_send(c, buf + PH_HEADROOM, len);
	free(buf);
	return r;
}

/*
 * Close c with code: at once (now), or once what is queued has gone out.
 * Reads resume so the peer's close reply can be read; anything else it
 * sends from now on is dropped.  A second call can only hurry the first.
 */
void
relay_conn_close(struct relay_conn *c, int code, const char *reason, int now)
{
	if (!c->established || relay.dying)
		return;
	if (c->close_code != 0) {
		if (now && !c->close_now) {
			c->close_now = 1;
			lws_callback_on_writable(c->wsi);
		}
		return;
	}
	c->close_code = code;
	snprintf(c->close_reason, sizeof c->close_reason, "%s", reason != NULL ? reason : "");
	c->close_now = now;
	if (c->pause != 0) {
		c->pause = 0;
		lws_rx_flow_control(c->wsi, 1 | LWS_RXFLOW_REASON_FLAG_PROCESS_NOW);
	}
	lws_callback_on_writable(c->wsi);
}

/* Refuse: queue `error` {err, message} and close with code after it. */
void
relay_conn_fail(struct relay_conn *c, const char *err, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	json_t *e;

	if (!c->established || c->close_code != 0)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if ((e = ph_ctl_error(err, "%s", msg)) != NULL) {
		if (relay_conn_send_ctl(c, e) != 0)
			ph_debug("%s: no room for the error frame", c->peer);
		json_decref(e);
	}
	relay_conn_close(c, code, err, 0);
}

/* Stop reading c for reason why (RELAY_PAUSE_*). */
void
relay_conn_pause(struct relay_conn *c, unsigned why)
{
	if (!c->established || c->close_code != 0 || relay.dying)
		return;
	if (c->pause == 0)
		lws_rx_flow_control(c->wsi, 0);
	c->pause |= why;
	ph_debug("%s: reads paused (0x%x)", c->peer, c->pause);
}

/* Drop reason why; read again once no reason is left.  Any callback may call it. */
void
relay_conn_resume(struct relay_conn *c, unsigned why)
{
	if (!c->established || (c->pause & why) == 0 || relay.dying)
		return;
	c->pause &= ~why;
	if (c->pause == 0)
		lws_rx_flow_control(c->wsi, 1 | LWS_RXFLOW_REASON_FLAG_PROCESS_NOW);
	ph_debug("%s: reads %s (0x%x)", c->peer,
	    c->pause != 0 ? "still paused" : "resumed", c->pause);
}

/*
 * SIGTERM: every WebSocket gets 1001 once what is queued for it is out (or
 * at once with now).  Whatever arrives from then on is dropped, so queues
 * only shrink.
 */
void
relay_conn_shutdown_all(int now)
{
	struct relay_conn *c;

	for (c = relay.conns; c != NULL; c = c->next)
		relay_conn_close(c, PH_CLOSE_GOING_AWAY, PH_REASON_SHUTDOWN, now);
}

/* A fleet's relay leaving: its agents' control channels go now, with 4307. */
void
relay_conn_shutdown_agents(void)
{
	struct relay_conn *c;

	for (c = relay.conns; c != NULL; c = c->next)
		if (c->kind == RELAY_CONN_CONTROL)
			relay_conn_close(c, PH_CLOSE_MOVE, PH_REASON_MOVE, 1);
}

/* "::ffff:1.2.3.4" -> "1.2.3.4" */
static void
relay_conn_peer(struct lws *wsi, char *buf, size_t len)
{
	const char *p;

	buf[0] = '\0';
	p = lws_get_peer_simple(wsi, buf, len);
	if (p == NULL) {
		snprintf(buf, len, "?");
		return;
	}
	if (strncmp(buf, "::ffff:", 7) == 0 && strchr(buf + 7, '.') != NULL)
		memmove(buf, buf + 7, strlen(buf + 7) + 1);
}

/*
 * A WebSocket is up: which endpoint its path names, the subprotocol that
 * endpoint speaks, the endpoint's own start, then the token.  Any refusal
 * is an `error` and a close code.
 */
static void
relay_conn_established(struct relay_conn *c, struct lws *wsi)
{
	const struct lws_protocols *bound = lws_get_protocol(wsi);
	const struct relay_endpoint *ep;
	const char *want, *sid;
	char path[256], *cause = NULL, *bearer = NULL;
	int refusal;

	c->wsi = wsi;
	c->established = 1;
	c->rx_ms = c->ping_ms = ph_mono_ms();
	relay_conn_peer(wsi, c->peer, sizeof c->peer);
	relay_audit_from(wsi, c->peer, c->from, sizeof c->from);
	ph_msgbuf_init(&c->rx, PH_MAX_MESSAGE);
	c->next = relay.conns;
	if (relay.conns != NULL)
		relay.conns->prev = c;
	relay.conns = c;
	relay.nwebsockets++;

	if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) <= 0)
		path[0] = '\0';
	c->kind = relay_route(path, &want, &sid);
	ep = relay_endpoint(c->kind);
	if (ep->q_limit != 0)
		ph_queue_init(&c->tx, ep->q_low, ep->q_high, ep->q_limit);
	else
		ph_queue_init(&c->tx, RELAY_CTLQ_LIMIT / 4, RELAY_CTLQ_LIMIT / 2, RELAY_CTLQ_LIMIT);
	lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, RELAY_FIRST_MSG_SECS);

	if (relay.shutting_down) {
		relay_conn_close(c, PH_CLOSE_GOING_AWAY, PH_REASON_SHUTDOWN, 1);
		return;
	}
	if (c->kind == RELAY_CONN_OTHER) {
		ph_info("refused WebSocket to %s from %s: no such endpoint", path, c->peer);
		relay_conn_fail(c, PH_ERR_BAD_MESSAGE, PH_CLOSE_NOT_FOUND,
		    "no WebSocket endpoint at %s", path);
		return;
	}
	if (bound == NULL || bound->name == NULL || strcmp(bound->name, want) != 0) {
		ph_info("refused %s from %s: subprotocol %s", path, c->peer,
		    bound != NULL && bound->name != NULL ? bound->name : "none");
		relay_conn_fail(c, PH_ERR_BAD_MESSAGE, PH_CLOSE_POLICY,
		    "%s speaks the WebSocket subprotocol %s", path, want);
		return;
	}
	if (ep->start != NULL && ep->start(c, sid) != 0)
		return;
	if (relay_auth_check_keep(wsi, ep->token, &c->claims, ep->keep_bearer ? &bearer :
	    NULL, &refusal, &cause) != 0) {
		relay_audit_refusal(c, path, refusal == 403 ? PH_ERR_FORBIDDEN :
		    PH_ERR_UNAUTHORIZED, cause);
		if (refusal == 403)
			relay_conn_fail(c, PH_ERR_FORBIDDEN, PH_CLOSE_FORBIDDEN, "%s", cause);
		else
			relay_conn_fail(c, PH_ERR_UNAUTHORIZED, PH_CLOSE_UNAUTHORIZED, "%s", cause);
		free(cause);
		return;
	}
	c->authed = 1;
	if (ep->authed != NULL)
		ep->authed(c, bearer);
	else
		relay_auth_wipe(&bearer);
	relay_limits_admit(wsi);
	ph_debug("%s from %s: token of %s (jti %s)", path, c->peer, c->claims.sub,
	    c->claims.jti != NULL ? c->claims.jti : "-");
}

/* One whole message: decode, then hand it to the endpoint's module. */
static void
relay_conn_message(struct relay_conn *c, const uint8_t *msg, size_t len)
{
	struct ph_frame f;
	const char *cause;
	int code;

	if (c->bytes_in == 0)
		lws_set_timeout(c->wsi, NO_PENDING_TIMEOUT, 0);
	c->bytes_in += (int64_t)len;
	if (ph_frame_decode(msg, len, &f, &code, &cause) != 0) {
		ph_info("%s: bad message from %s: %s", relay_endpoint(c->kind)->what,
		    c->peer, cause);
		relay_conn_fail(c, f.err, code, "%s", cause);
		return;
	}
	if (relay_endpoint(c->kind)->rx != NULL)
		relay_endpoint(c->kind)->rx(c, &f, msg, len);
	ph_frame_clear(&f);
}

static int
relay_conn_receive(struct relay_conn *c, struct lws *wsi, const uint8_t *in, size_t len)
{
	const uint8_t *msg;
	size_t mlen;
	int final;

	if (!c->established || !c->authed || c->close_code != 0)
		return 0;	/* refused or closing: drop */
	if (!lws_frame_is_binary(wsi)) {
		relay_conn_fail(c, PH_ERR_BAD_FRAME, PH_CLOSE_POLICY,
		    "text message: porthole frames are binary");
		return 0;
	}
	final = lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
	if (final && c->rx.len == 0) {
		msg = in;		/* the whole message in one piece: no copy */
		mlen = len;
	} else {
		if (ph_msgbuf_add(&c->rx, in, len) != 0) {
			relay_conn_fail(c, PH_ERR_TOO_BIG, PH_CLOSE_TOO_BIG,
			    "message larger than %d bytes", PH_MAX_MESSAGE);
			return 0;
		}
		if (!final)
			return 0;
		msg = ph_msgbuf_msg(&c->rx);
		mlen = c->rx.len;
	}
	if (mlen > PH_MAX_MESSAGE) {
		relay_conn_fail(c, PH_ERR_TOO_BIG, PH_CLOSE_TOO_BIG,
		    "message larger than %d bytes", PH_MAX_MESSAGE);
		return 0;
	}
	relay_conn_message(c, msg, mlen);
	ph_msgbuf_reset(&c->rx);
	if (relay_endpoint(c->kind)->rx_release)
		ph_msgbuf_free(&c->rx);	/* idle agents hold no 64 KiB buffer */
	return 0;
}

static int
relay_conn_writeable(struct relay_conn *c, struct lws *wsi)
{
	uint8_t ping[LWS_PRE + 1] = { 0 };
	struct ph_qitem *it;
	int n;

	if (!c->established || c->close_sent)
		return 0;	/* lws calls once more after we returned -1 */
	if (c->close_code != 0 && c->close_now)
		goto close;
	if ((c->ping_due || ph_queue_peek(&c->tx) != NULL) && relay_conn_last_words(c))
		return 0;	/* read first; the peer reads nothing more */
	if (c->ping_due) {
		/*
		 * One byte of payload: with none, the pong never came back as
		 * RECEIVE_PONG (libwebsockets 4.1.6 agent and CLI as peers).
		 */
		c->ping_due = 0;
		c->ping_ms = ph_mono_ms();
		if (lws_write(wsi, ping + LWS_PRE, 1, LWS_WRITE_PING) < 0) {
			c->close_sent = 1;
			return -1;
		}
		if (ph_queue_peek(&c->tx) != NULL || c->close_code != 0)
			lws_callback_on_writable(wsi);
		return 0;
	}
	if ((it = ph_queue_peek(&c->tx)) != NULL) {
		n = lws_write(wsi, it->data + PH_HEADROOM, it->len, LWS_WRITE_BINARY);
		if (n < (int)it->len) {
			ph_warn("write to %s failed (%d of %zu)", c->peer, n, it->len);
			c->close_sent = 1;
			return -1;
		}
		ph_queue_pop(&c->tx);
		if (relay_endpoint(c->kind)->drained != NULL)
			relay_endpoint(c->kind)->drained(c);
		if (ph_queue_peek(&c->tx) != NULL || c->close_code != 0)
			lws_callback_on_writable(wsi);
		return 0;
	}
	if (c->close_code == 0)
		return 0;
close:
	lws_close_reason(wsi, (enum lws_close_status)c->close_code,
	    (unsigned char *)c->close_reason, strlen(c->close_reason));
	c->close_sent = 1;
	return -1;
}

static void
relay_conn_closed(struct relay_conn *c)
{
	if (!c->established)
		return;
	if (relay_endpoint(c->kind)->closed != NULL)
		relay_endpoint(c->kind)->closed(c);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		relay.conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	relay.nwebsockets--;
	ph_msgbuf_free(&c->rx);
	ph_queue_free(&c->tx);
	if (c->authed)
		ph_claims_free(&c->claims);
	c->authed = 0;
	c->established = 0;
	c->wsi = NULL;
	if (relay.shutting_down && relay.nwebsockets == 0) {
		relay.done = 1;
		lws_cancel_service(relay.ctx);
	}
}

int
relay_conn_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct relay_conn *c = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		if (c == NULL)
			return -1;
		relay_limits_touch(wsi);
		c->kind = RELAY_CONN_HTTP;
		return relay_endpoint(RELAY_CONN_HTTP)->request(c, wsi, in);
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (c == NULL || c->kind != RELAY_CONN_HTTP)
			return -1;
		return relay_endpoint(RELAY_CONN_HTTP)->writeable(c, wsi);
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		if (c != NULL && c->kind == RELAY_CONN_HTTP && !c->established)
			relay_endpoint(RELAY_CONN_HTTP)->closed(c);
		break;
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
		return relay_limits_accept((int)(intptr_t)in) != 0 ? -1 : 0;
	case LWS_CALLBACK_WSI_CREATE:
		relay_limits_created(wsi);
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		relay_limits_destroyed(wsi);
		return 0;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return 0;	/* accept; the token is checked at ESTABLISHED */
	case LWS_CALLBACK_ESTABLISHED:
		relay_conn_established(c, wsi);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		if (c != NULL)
			c->rx_ms = ph_mono_ms();
		return relay_conn_receive(c, wsi, in, len);
	case LWS_CALLBACK_RECEIVE_PONG:
		if (c != NULL)
			c->rx_ms = ph_mono_ms();
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return relay_conn_writeable(c, wsi);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (c != NULL && len >= 2)
			c->peer_close = ((const uint8_t *)in)[0] << 8 | ((const uint8_t *)in)[1];
		return 0;
	case LWS_CALLBACK_CLOSED:
		if (c != NULL)
			relay_conn_closed(c);
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}
