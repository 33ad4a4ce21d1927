/*
 * client-session.c - one WebSocket session of the CLI on /v1/session.
 *
 * The session is an lws RAW client connection (lws does TCP and the loop)
 * with TLS from libporthole's tlsclient.c and the WebSocket from its
 * wsclient.c: see porthole/wsclient.h and porthole/tlsclient.h for why.  Its life:
 *
 *   CONNECTING  lws connects the socket
 *   TLS         the TLS handshake, the relay's certificate checked
 *   UPGRADING   our upgrade request is out; reading the answer's head
 *   REFUSED     the answer was not 101: reading its (small) body to say why
 *   OPEN        frames both ways; ops->established has run
 *   CLOSING     a close frame is queued or sent; waiting for the relay's
 *
 * Outgoing: frames are masked, encrypted, and the ciphertext queued in a
 * bounded ph_queue (a frame is refused before encryption when the queue is
 * full: ciphertext, once made, must go out whole and in order), one
 * lws_write per RAW_WRITEABLE (lws buffers what the socket does not take
 * and holds further WRITEABLEs until it is out).  Incoming: frames are
 * parsed as the bytes come; data messages are reassembled up to
 * PH_MAX_MESSAGE and handed to ops->message decoded.  When the owner pauses
 * rx we still finish the buffer in hand (at most pt_serv_buf_size bytes),
 * then lws stops reading the socket.
 *
 * Keepalive: a ping after PH_PING_SECS without a byte from the relay, and
 * the session is declared lost after PH_HANGUP_SECS of silence (both from
 * PORTHOLE_HANGUP_SECS when set: porthole/keepalive.h), except
 * while we are the ones not reading (rx paused because the local output is
 * slow): silence is then our own doing, and the clock restarts on resume.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>
#include <openssl/crypto.h>

#include "porthole/agentid.h"
#include "porthole/duration.h"
#include "porthole/buf.h"
#include "porthole/frame.h"
#include "porthole/keepalive.h"
#include "porthole/log.h"
#include "porthole/printable.h"
#include "porthole/protocol.h"
#include "porthole/util.h"

#include "client-conn.h"
#include "client-conn-priv.h"
#include "client-sign.h"
#include "client-target.h"
#include "porthole/tlsclient.h"
#include "porthole/wsclient.h"

/* Outgoing queue: the owner stops feeding above high, resumes below low. */
#define SESSION_OUT_LOW		(64u << 10)
#define SESSION_OUT_HIGH	(256u << 10)
#define SESSION_OUT_LIMIT	(1u << 20)
/* Ciphertext already made is never dropped: room above the limit for it. */
#define SESSION_OUT_HARD	(SESSION_OUT_LIMIT + (256u << 10))
#define SESSION_TLS_CHUNK	65536	/* ciphertext per queue item, at most */
#define SESSION_FRAME_MAX	(PH_WS_HDR_MAX + 1 + PH_MAX_PAYLOAD)

#define SESSION_BODY_MAX	4096	/* error body of a refused upgrade */
#define SESSION_CLOSE_MS	2000	/* wait for the relay's close frame */

enum session_state {
	SESSION_CONNECTING,
	SESSION_TLS,
	SESSION_UPGRADING,
	SESSION_REFUSED,
	SESSION_OPEN,
	SESSION_CLOSING,
};

struct client_session {
	struct conn_link	 link;		/* first: lws opaque points here */
	struct client_session	*next;		/* in cc->sessions */
	struct client_conn	*cc;
	struct lws		*wsi;		/* NULL once closed */
	const struct client_session_ops *ops;
	void			*arg;
	enum session_state	 state;
	struct ph_tls	*tls;
	uint8_t			*frame;		/* SESSION_FRAME_MAX: one frame */

	char			 key[PH_WS_KEY_LEN + 1];
	char			*head;		/* the answer's head, then body */
	size_t			 head_len;
	size_t			 body_at;	/* REFUSED: where the body starts */
	int			 status;	/* REFUSED: HTTP status */
	long			 body_len;	/* REFUSED: Content-Length, -1 */

	struct ph_ws_rx	 rx;
	struct ph_msgbuf	 in;		/* message being reassembled */
	int			 bad_input;	/* we failed the session: ignore rx */
	struct ph_queue		 out;		/* whole frames to send */
	int			 rx_paused;

	int64_t			 started_ms;	/* connection attempt began */
	int64_t			 heard_ms;	/* last byte from the relay */
	int			 pinged;	/* a ping is out since heard_ms */
	int			 ping_secs;	/* keepalive (PORTHOLE_HANGUP_SECS) */
	int			 hangup_secs;

	int			 peer_code;	/* close code the relay sent, 0: none */
	char			 peer_reason[124 * 4];	/* escaped */
	int			 close_queued;	/* our close frame is in out */
	int			 close_written;	/* ... and written */
	int64_t			 close_ms;	/* when it was written */
	int			 hangup;	/* close the socket at next chance */

	int			 finished;	/* ops->closed has run */
	char			*cause;		/* our side's failure sentence */
};

struct client_session *
client_session_next(struct client_session *s)
{
	return s->next;
}

static void
session_unlist(struct client_session *s)
{
	struct client_session	**pp;

	for (pp = &s->cc->sessions; *pp != NULL; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	s->next = NULL;
}

static void
session_set_cause(struct client_session *s, char *cause)
{
	if (s->cause == NULL)
		s->cause = cause;
	else
		free(cause);
}

/* The connection is gone: tell the owner, once. */
static void
session_finish(struct client_session *s, int code, const char *reason)
{
	s->wsi = NULL;
	if (s->finished)
		return;
	s->finished = 1;
	session_unlist(s);
	s->ops->closed(s->arg, code, reason, s->cause);
}

/* Close the socket from outside its callbacks (RAW_CLOSE follows). */
static void
session_kill(struct client_session *s)
{
	if (s->wsi != NULL)
		lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* Close the socket at the next WRITEABLE, whatever is still queued. */
static void
session_hangup(struct client_session *s)
{
	s->hangup = 1;
	if (s->wsi != NULL)
		lws_callback_on_writable(s->wsi);
}

/* Move the ciphertext TLS made into the queue; -1 if it could not be kept. */
static int
session_flush_tls(struct client_session *s)
{
	struct ph_qitem	*it;
	size_t		 n;

	while ((n = ph_tls_pending(s->tls)) > 0) {
		if (n > SESSION_TLS_CHUNK)
			n = SESSION_TLS_CHUNK;
		if ((it = ph_qitem_new(n)) == NULL)
			goto lost;
		it->len = ph_tls_take(s->tls, it->data + PH_HEADROOM, n);
		if (it->len == 0) {
			free(it);
			break;
		}
		if (ph_queue_push_item(&s->out, it) != 0)
			goto lost;
	}
	if (s->wsi != NULL && ph_queue_peek(&s->out) != NULL)
		lws_callback_on_writable(s->wsi);
	return 0;
lost:
	/* Ciphertext lost breaks the TLS stream: the session is over. */
	session_set_cause(s, ph_asprintf("out of memory queueing output to the "
	    "relay; the session is lost"));
	session_hangup(s);
	return -1;
}

/* Encrypt and queue one frame; -1 if the queue is full (or broken). */
static int
session_queue_frame(struct client_session *s, int opcode, int prefix,
    const void *p, size_t n)
{
	size_t	 len;

	if (s->tls == NULL || s->hangup || n > PH_MAX_PAYLOAD ||
	    s->out.bytes + n + PH_WS_HDR_MAX + 1 > SESSION_OUT_LIMIT)
		return -1;
	len = ph_ws_frame(s->frame, opcode, prefix, p, n);
	if (ph_tls_write(s->tls, s->frame, len) != 0) {
		session_set_cause(s, ph_asprintf("TLS failed encrypting output; "
		    "the session is lost"));
		session_hangup(s);
		return -1;
	}
	return session_flush_tls(s);
}

/*
 * Queue our close frame after what is queued.  Without flush, when
 * something is still queued we hang up at once instead: queued bytes are
 * ciphertext already and cannot be dropped from a TLS stream, and the
 * relay treats a vanished client like a closed one (it ends the agent's
 * side all the same).
 */
static void
session_queue_close(struct client_session *s, int code, const char *reason,
    int flush)
{
	uint8_t	 body[2 + 123];
	size_t	 n = 0;

	if (s->close_queued)
		return;
	s->close_queued = 1;
	s->state = SESSION_CLOSING;
	if (!flush && ph_queue_peek(&s->out) != NULL) {
		session_hangup(s);
		return;
	}
	if (code > 0) {
		body[0] = (uint8_t)(code >> 8);
		body[1] = (uint8_t)code;
		n = strlen(reason != NULL ? reason : "");
		if (n > sizeof body - 2)
			n = sizeof body - 2;
		memcpy(body + 2, reason != NULL ? reason : "", n);
		n += 2;
	}
	if (session_queue_frame(s, PH_WS_CLOSE, -1, body, n) != 0)
		session_hangup(s);	/* no room for it: just hang up */
}

/* --- incoming frames ---------------------------------------------------- */

static int
session_data(void *arg, int opcode, const uint8_t *p, size_t n, int first,
    int last)
{
	struct client_session	*s = arg;
	struct ph_frame		 f;
	const char		*why = NULL;
	int			 code = 0;

	if (s->bad_input || s->state != SESSION_OPEN)
		return 0;	/* failing or closing: nothing more matters */
	if (opcode != PH_WS_BINARY) {
		client_session_fail(s, PH_CLOSE_POLICY, PH_ERR_BAD_FRAME,
		    "text message: every porthole message is binary");
		return 0;
	}
	if (first)
		ph_msgbuf_reset(&s->in);
	if (ph_msgbuf_add(&s->in, p, n) != 0) {
		client_session_fail(s, PH_CLOSE_TOO_BIG, PH_ERR_TOO_BIG,
		    "message larger than the protocol's maximum");
		return 0;
	}
	if (!last)
		return 0;

	if (ph_frame_decode(ph_msgbuf_msg(&s->in), s->in.len, &f, &code,
	    &why) != 0) {
		client_session_fail(s, code != 0 ? code : PH_CLOSE_POLICY,
		    code == PH_CLOSE_TOO_BIG ? PH_ERR_TOO_BIG : PH_ERR_BAD_MESSAGE,
		    why != NULL ? why : "undecodable message");
		return 0;
	}
	s->ops->message(s->arg, &f);	/* -1: it called client_session_fail */
	ph_frame_clear(&f);
	ph_msgbuf_reset(&s->in);
	return 0;
}

static int
session_control(void *arg, int opcode, const uint8_t *p, size_t n)
{
	struct client_session	*s = arg;

	switch (opcode) {
	case PH_WS_PING:
		if (!s->close_queued)
			session_queue_frame(s, PH_WS_PONG, -1, p, n);
		return 0;
	case PH_WS_PONG:
		return 0;	/* heard_ms is refreshed by every byte */
	case PH_WS_CLOSE:
		if (n >= 2) {
			s->peer_code = (p[0] << 8) | p[1];
			ph_printable_buf(s->peer_reason, sizeof s->peer_reason,
			    p + 2, n - 2);
		} else
			s->peer_code = 1005;	/* RFC 6455: no status received */
		if (s->peer_code == PH_CLOSE_GOING_AWAY &&
		    strcmp(s->peer_reason, PH_REASON_SHUTDOWN) == 0)
			session_set_cause(s, ph_asprintf("relay shutting down: the relay "
			    "at %s ended the session before it finished (output may be "
			    "truncated); run the command again once the relay is back",
			    s->cc->conf->relay));
		if (s->close_queued && s->close_written)
			return 1;	/* handshake complete: hang up */
		/* Echo it; once written, hang up (see session_writeable). */
		session_queue_close(s, n >= 2 ? s->peer_code : 0, NULL, 0);
		return 0;
	default:
		return 0;
	}
}

static const struct ph_ws_rx_ops session_rx_ops = {
	.data = session_data,
	.control = session_control,
};

/* The refused upgrade's answer is complete: say why in one sentence. */
static void
session_refused(struct client_session *s)
{
	struct client_conn	*cc = s->cc;
	char			*msg;

	msg = client_conn_error_body(s->head + s->body_at,
	    s->head_len - s->body_at);
	if (s->status == 401)
		session_set_cause(s, ph_asprintf("the relay refused the token: "
		    "%s: check PORTHOLE_TOKEN, or issue a new one with 'porthole "
		    "token issue'", msg != NULL ? msg : "HTTP 401"));
	else if (s->status == 403)
		session_set_cause(s, ph_asprintf("the relay refused this token: "
		    "%s: ask for a token whose scope allows this",
		    msg != NULL ? msg : "HTTP 403"));
	else
		session_set_cause(s, ph_asprintf("the relay at %s answered HTTP "
		    "%d to the session upgrade%s%s: is PORTHOLE_RELAY a porthole "
		    "relay?", cc->conf->relay, s->status, msg != NULL ? ": " : "",
		    msg != NULL ? msg : ""));
	free(msg);
	s->hangup = 1;
}

/* Bytes of the answer to our upgrade (state UPGRADING or REFUSED). */
static int
session_answer(struct client_session *s, const uint8_t *p, size_t n)
{
	const char	*why = NULL;
	size_t		 end, room;
	char		*nh;
	int		 r;

	room = PH_WS_HEAD_MAX + SESSION_BODY_MAX - s->head_len;
	if (n > room)
		n = room;	/* a REFUSED body past the bound: cut it */
	if ((nh = realloc(s->head, s->head_len + n + 1)) == NULL)
		return -1;
	s->head = nh;
	memcpy(s->head + s->head_len, p, n);
	s->head_len += n;
	s->head[s->head_len] = '\0';

	if (s->state == SESSION_REFUSED) {
		if ((s->body_len >= 0 &&
		    s->head_len - s->body_at >= (size_t)s->body_len) ||
		    s->head_len - s->body_at >= SESSION_BODY_MAX)
			session_refused(s);
		return 0;
	}

	if ((end = ph_ws_head_end(s->head, s->head_len)) == 0) {
		if (s->head_len >= PH_WS_HEAD_MAX) {
			session_set_cause(s, ph_asprintf("the relay's answer to "
			    "the session upgrade is too long: is PORTHOLE_RELAY a "
			    "porthole relay?"));
			return -1;
		}
		return 0;
	}
	{
		char	 save = s->head[end];

		s->head[end] = '\0';
		r = ph_ws_response(s->head, s->key, PH_SUBPROTO_SESSION,
		    &s->status, &s->body_len, &why);
		s->head[end] = save;
	}
	if (r != 0 && s->status == 101) {
		session_set_cause(s, ph_asprintf("the relay's WebSocket answer is "
		    "not right (%s): is the relay the same version as porthole?",
		    why));
		return -1;
	}
	if (r != 0) {
		s->state = SESSION_REFUSED;
		s->body_at = end;
		if (s->body_len == 0 || s->head_len - end >= (size_t)
		    (s->body_len < 0 ? SESSION_BODY_MAX : s->body_len))
			session_refused(s);
		return 0;
	}

	/* Upgraded: what followed the head is the first frames. */
	s->state = SESSION_OPEN;
	ph_ws_rx_init(&s->rx);
	s->ops->established(s->arg);
	if (s->state == SESSION_OPEN || s->state == SESSION_CLOSING) {
		r = ph_ws_rx_feed(&s->rx, (const uint8_t *)s->head + end,
		    s->head_len - end, &session_rx_ops, s, &why);
		free(s->head);
		s->head = NULL;
		s->head_len = 0;
		if (r < 0) {
			session_set_cause(s, ph_asprintf("the relay broke the "
			    "WebSocket protocol (%s); output may be truncated", why));
			return -1;
		}
		if (r > 0)
			s->hangup = 1;
	}
	return 0;
}

/* Decrypted bytes from the relay. */
static int
session_plain(struct client_session *s, const uint8_t *p, size_t n)
{
	const char	*why = NULL;
	int		 r;

	if (s->state == SESSION_UPGRADING || s->state == SESSION_REFUSED) {
		if (session_answer(s, p, n) != 0 || s->hangup)
			return -1;
		return 0;
	}

	r = ph_ws_rx_feed(&s->rx, p, n, &session_rx_ops, s, &why);
	if (r < 0) {
		session_set_cause(s, ph_asprintf("the relay broke the WebSocket "
		    "protocol (%s); output may be truncated", why));
		return -1;
	}
	if (r > 0)
		return -1;	/* close handshake done */
	return 0;
}

/* The TLS handshake failed: say why in the conn's words. */
static void
session_tls_failed(struct client_session *s, long verify_err, const char *why)
{
	struct client_conn	*cc = s->cc;

	if (verify_err != 0) {
		s->link.verify_err = (int)verify_err;
		snprintf(s->link.verify_msg, sizeof s->link.verify_msg, "%s", why);
		session_set_cause(s, client_conn_connect_cause(cc, NULL, &s->link,
		    NULL, 0));
	} else
		session_set_cause(s, ph_asprintf("TLS handshake with the relay at "
		    "%s (%s port %d) failed (%s): is PORTHOLE_RELAY the relay's "
		    "TLS address?", cc->conf->relay, cc->addr, cc->conf->port,
		    why != NULL ? why : "unknown error"));
}

/* Send the upgrade request (the TLS handshake is done). */
static int
session_upgrade(struct client_session *s)
{
	struct client_conf	*conf = s->cc->conf;
	char			*req;
	int			 r;

	req = ph_ws_request(conf->host, conf->port, PH_PATH_SESSION,
	    PH_SUBPROTO_SESSION, conf->token, s->key);
	if (req == NULL) {
		session_set_cause(s, ph_asprintf("no random bytes for the "
		    "WebSocket key"));
		return -1;
	}
	r = ph_tls_write(s->tls, req, strlen(req));
	OPENSSL_cleanse(req, strlen(req));
	free(req);
	if (r != 0) {
		session_set_cause(s, ph_asprintf("TLS failed encrypting the "
		    "session upgrade"));
		return -1;
	}
	s->state = SESSION_UPGRADING;
	s->heard_ms = ph_mono_ms();
	return session_flush_tls(s);
}

/* Ciphertext from the relay. */
static int
session_rx(struct client_session *s, const uint8_t *p, size_t n)
{
	static uint8_t	 plain[65536];	/* the loop is one thread */
	const char	*why = NULL;
	long		 verr;
	ssize_t		 got;
	int		 r;

	s->heard_ms = ph_mono_ms();
	s->pinged = 0;
	if (s->tls == NULL || ph_tls_feed(s->tls, p, n) != 0)
		return -1;
	if (s->state == SESSION_TLS) {
		r = ph_tls_handshake(s->tls, &verr, &why);
		if (r < 0) {
			session_tls_failed(s, verr, why);
			return -1;
		}
		if (session_flush_tls(s) != 0)
			return -1;
		if (r == 0)
			return 0;
		if (session_upgrade(s) != 0)
			return -1;
	}
	while (!s->hangup && (got = ph_tls_read(s->tls, plain, sizeof plain,
	    &why)) != 0) {
		if (got < 0) {
			if (s->state < SESSION_OPEN && s->cause == NULL)
				session_set_cause(s, ph_asprintf("the relay at %s "
				    "ended the connection during the session "
				    "upgrade (%s)", s->cc->conf->relay, why));
			return -1;	/* RAW_CLOSE says the rest */
		}
		if (session_plain(s, plain, (size_t)got) != 0)
			return -1;
	}
	/* Reading may have made TLS output (key updates, alerts). */
	if (session_flush_tls(s) != 0 || s->hangup)
		return -1;
	return 0;
}

/* --- writing -------------------------------------------------------------- */

static int
session_writeable(struct client_session *s, struct lws *wsi)
{
	struct ph_qitem	*it;
	int		 n;

	if (s->hangup)
		return -1;
	if ((it = ph_queue_peek(&s->out)) == NULL)
		return 0;
	n = lws_write(wsi, it->data + PH_HEADROOM, it->len, LWS_WRITE_RAW);
	if (n < (int)it->len) {
		session_set_cause(s, ph_asprintf("writing to the relay failed; "
		    "the session is lost and output may be truncated"));
		return -1;
	}
	ph_queue_pop(&s->out);
	if (ph_queue_peek(&s->out) != NULL) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (s->close_queued && !s->close_written) {
		s->close_written = 1;
		s->close_ms = ph_mono_ms();
		if (s->peer_code != 0)
			return -1;	/* we echoed the relay's close: done */
		return 0;
	}
	if (s->state == SESSION_OPEN && ph_queue_under_low(&s->out))
		s->ops->drained(s->arg);
	return 0;
}

/* The socket is up: start the TLS handshake. */
static int
session_connected(struct client_session *s)
{
	const char	*why = NULL;
	long		 verr;
	int		 fd, one = 1;

	if (s->state != SESSION_CONNECTING)
		return 0;
	/* Small frames (keystrokes, control) must not wait for Nagle. */
	fd = lws_get_socket_fd(s->wsi);
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	s->tls = ph_tls_new(s->cc->tls, s->cc->conf->host);
	if (s->tls == NULL) {
		session_set_cause(s, ph_asprintf("cannot set up TLS for the "
		    "relay's host '%s'", s->cc->conf->host));
		return -1;
	}
	s->state = SESSION_TLS;
	s->heard_ms = ph_mono_ms();
	if (ph_tls_handshake(s->tls, &verr, &why) < 0) {
		session_tls_failed(s, verr, why);
		return -1;
	}
	return session_flush_tls(s);
}

/* --- the protocol callback and the clock ----------------------------------- */

int
client_session_callback(struct lws *wsi, enum lws_callback_reasons reason,
    void *user, void *in, size_t len)
{
	struct client_conn	*cc;
	struct client_session	*s, *next;

	if (reason == LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION)
		return client_conn_verify(wsi, user, (int)len);

	cc = wsi != NULL ? lws_context_user(lws_get_context(wsi)) : NULL;
	if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED) {
		for (s = cc != NULL ? cc->sessions : NULL; s != NULL; s = next) {
			next = s->next;
			s->ops->wake(s->arg);
		}
		return 0;
	}

	s = wsi != NULL ? lws_get_opaque_user_data(wsi) : NULL;
	if (s == NULL)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_RAW_CONNECTED:
	case LWS_CALLBACK_RAW_ADOPT:
		return session_connected(s);
	case LWS_CALLBACK_RAW_RX:
		if (s->state == SESSION_CONNECTING && session_connected(s) != 0)
			return -1;
		return session_rx(s, in, len);
	case LWS_CALLBACK_RAW_WRITEABLE:
		if (s->state == SESSION_CONNECTING && session_connected(s) != 0)
			return -1;
		return session_writeable(s, wsi);
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		lws_set_opaque_user_data(wsi, NULL);
		if (s->cause == NULL)
			s->cause = client_conn_connect_cause(cc, wsi, &s->link, in,
			    len);
		session_finish(s, 0, NULL);
		return 0;
	case LWS_CALLBACK_RAW_CLOSE:
		lws_set_opaque_user_data(wsi, NULL);
		if (s->state == SESSION_REFUSED && s->cause == NULL)
			session_refused(s);	/* the body ended at close */
		if (s->state < SESSION_OPEN && s->cause == NULL)
			s->cause = ph_asprintf("the relay at %s closed the "
			    "connection during the session upgrade: is "
			    "PORTHOLE_RELAY a porthole relay?", cc->conf->relay);
		session_finish(s, s->state < SESSION_OPEN ? 0 :
		    s->peer_code != 0 ? s->peer_code : 1006, s->peer_reason);
		return 0;
	default:
		return 0;
	}
}

void
client_session_tick(struct client_session *s, int64_t now)
{
	char	t[PH_DURATION_FMT_MAX];

	switch (s->state) {
	case SESSION_CONNECTING:
		return;		/* lws's connect and TLS timeouts apply */
	case SESSION_TLS:
	case SESSION_UPGRADING:
	case SESSION_REFUSED:
		if (now - s->heard_ms >= CLIENT_CONN_CONNECT_SECS * 1000) {
			session_set_cause(s, ph_asprintf("the relay at %s did not "
			    "answer the session upgrade within %s", s->cc->conf->relay,
			    ph_duration_fmt(CLIENT_CONN_CONNECT_SECS * 1000LL, t,
			    sizeof t)));
			session_kill(s);
		}
		return;
	case SESSION_OPEN:
		if (s->rx_paused) {
			s->heard_ms = now;	/* our silence, not the relay's */
			return;
		}
		if (now - s->heard_ms >= (int64_t)s->hangup_secs * 1000) {
			session_set_cause(s, ph_asprintf("the relay at %s stopped "
			    "answering (nothing for %s): the session is lost and "
			    "output may be truncated", s->cc->conf->relay,
			    ph_duration_fmt(s->hangup_secs * 1000LL, t, sizeof t)));
			session_kill(s);
		} else if (!s->pinged && now - s->heard_ms >= (int64_t)s->ping_secs * 1000) {
			s->pinged = 1;
			session_queue_frame(s, PH_WS_PING, -1, NULL, 0);
		}
		return;
	case SESSION_CLOSING:
		if (s->close_written && now - s->close_ms >= SESSION_CLOSE_MS)
			session_kill(s);	/* the relay never answered our close */
		return;
	}
}

/* --- the API ------------------------------------------------------------------ */

struct client_session *
client_session_open(struct client_conn *cc, const struct client_session_ops *ops,
    void *arg, char **cause)
{
	struct lws_client_connect_info	 ci;
	struct client_session		*s;

	int				 ping, hangup;

	if (client_sign_ready(cc->conf, cause) != 0)
		return NULL;
	if (ph_keepalive_secs(NULL, &ping, &hangup) != 0) {
		*cause = ph_asprintf("PORTHOLE_HANGUP_SECS wants a number of seconds "
		    "from %d to %d", PH_HANGUP_MIN, PH_HANGUP_MAX);
		return NULL;
	}
	if ((s = calloc(1, sizeof *s)) == NULL) {
		*cause = ph_asprintf("out of memory");
		return NULL;
	}
	s->ping_secs = ping;
	s->hangup_secs = hangup;
	s->cc = cc;
	s->ops = ops;
	s->arg = arg;
	s->state = SESSION_CONNECTING;
	s->started_ms = ph_mono_ms();
	s->heard_ms = s->started_ms;
	ph_queue_init(&s->out, SESSION_OUT_LOW, SESSION_OUT_HIGH, SESSION_OUT_HARD);
	if ((s->frame = malloc(SESSION_FRAME_MAX)) == NULL) {
		free(s);
		*cause = ph_asprintf("out of memory");
		return NULL;
	}
	ph_msgbuf_init(&s->in, PH_MAX_MESSAGE);
	ph_ws_rx_init(&s->rx);
	s->next = cc->sessions;
	cc->sessions = s;

	client_conn_ccinfo(cc, &ci);
	ci.ssl_connection = 0;	/* TLS is ours: tlsclient.c */
	ci.alpn = NULL;
	ci.method = "RAW";
	ci.path = "";
	ci.protocol = CLIENT_CONN_SESSION_PROTOCOL;
	ci.local_protocol_name = CLIENT_CONN_SESSION_PROTOCOL;
	ci.opaque_user_data = s;
	ci.pwsi = &s->wsi;
	if (lws_client_connect_via_info(&ci) == NULL) {
		if (s->finished)
			return s;	/* ops->closed already said why */
		s->wsi = NULL;
		*cause = ph_asprintf("cannot start a connection to the relay at "
		    "%s: check PORTHOLE_RELAY", cc->conf->relay);
		client_session_free(s);
		return NULL;
	}
	return s;
}

int
client_session_send(struct client_session *s, int type, const void *p, size_t n)
{
	if (s->state != SESSION_OPEN || s->finished || s->bad_input ||
	    n > PH_MAX_PAYLOAD)
		return -1;
	return session_queue_frame(s, PH_WS_BINARY, type, p, n);
}

int
client_session_send_ctl(struct client_session *s, json_t *obj)
{
	uint8_t	*msg = NULL;
	size_t	 len = 0;
	int	 r = -1;

	if (obj != NULL && s->state == SESSION_OPEN && !s->finished &&
	    ph_ctl_encode(obj, &msg, &len) == 0 && len <= PH_MAX_MESSAGE)
		r = session_queue_frame(s, PH_WS_BINARY, -1,
		    msg + PH_HEADROOM, len);
	free(msg);
	json_decref(obj);
	return r;
}

json_t *
client_open_new(const char *sid, json_t *agent, const char *op, json_t *argv)
{
	json_t		*m, *members;
	json_int_t	 proto;
	const char	*id, *sub;
	char		*claimed = NULL;

	/*
	 * An agent that speaks protocol 1 checks only form-1 signatures (the
	 * weaker one: opensig.h).  A relay that lies about a newer agent gains
	 * nothing: such an agent refuses form 1.
	 */
	proto = json_integer_value(json_object_get(agent, "proto"));
	if (proto < 1)
		proto = 1;
	if (proto > PH_PROTOCOL_VERSION)
		proto = PH_PROTOCOL_VERSION;
	/*
	 * An agent of protocol 1 knows only its claimed id and checks that the
	 * open (and its signature) names it: send that, and its sub for the
	 * relay to find it (docs/protocol.md, "Agent identity").
	 */
	id = json_string_value(json_object_get(agent, "id"));
	sub = json_string_value(json_object_get(agent, "sub"));
	if (id != NULL && sub != NULL && proto < PH_PROTOCOL_QUALIFIED_IDS &&
	    (claimed = strndup(id, ph_agent_claim_len(id, sub))) == NULL)
		return NULL;
	m = ph_ctl_new(PH_CTL_OPEN);
	members = json_pack("{s:s, s:s, s:s, s:o, s:b, s:b, s:I, s:I, s:n}",
	    "sid", sid, "agent", claimed != NULL ? claimed : id != NULL ? id : "",
	    "op", op, "argv", argv != NULL ? argv : json_array(), "tty", 0, "stdin", 0,
	    "ts", (json_int_t)ph_now(), "proto", proto, "sig");
	if (members != NULL && claimed != NULL &&
	    json_object_set_new(members, "agent_sub", json_string(sub)) != 0) {
		json_decref(members);
		members = NULL;
	}
	if (m == NULL || members == NULL || json_object_update(m, members) != 0) {
		json_decref(m);
		m = NULL;
	}
	json_decref(members);
	free(claimed);
	return m;
}

int
client_session_send_open(struct client_session *s, json_t *obj)
{
	char	*why = NULL;

	if (obj == NULL)
		return -1;
	if (client_sign_open(s->cc->conf, obj, &why) != 0) {
		session_set_cause(s, ph_asprintf("cannot sign the request: %s", why));
		free(why);
		json_decref(obj);
		session_kill(s);
		return -1;
	}
	return client_session_send_ctl(s, obj);
}

int
client_session_full(const struct client_session *s)
{
	return ph_queue_over_high(&s->out);
}

void
client_session_rx(struct client_session *s, int on)
{
	if (s->wsi == NULL || s->finished || on == !s->rx_paused)
		return;
	s->rx_paused = !on;
	if (on)
		s->heard_ms = ph_mono_ms();
	/* Called from other connections' callbacks too: apply now. */
	lws_rx_flow_control(s->wsi, (on ? 1 : 0) |
	    LWS_RXFLOW_REASON_FLAG_PROCESS_NOW);
}

void
client_session_close(struct client_session *s, int code, const char *reason,
    int flush)
{
	if (s->finished || s->close_queued)
		return;
	if (s->state != SESSION_OPEN) {
		/* Not up yet: nothing to say to the relay, just drop it. */
		session_kill(s);
		return;
	}
	session_queue_close(s, code, reason, flush);
}

void
client_session_fail(struct client_session *s, int close_code,
    const char *err_code, const char *message)
{
	if (s->finished || s->close_queued || s->bad_input)
		return;
	session_set_cause(s, ph_asprintf("the relay broke the protocol (%s); "
	    "the session was closed and output may be truncated", message));
	client_session_send_ctl(s, ph_ctl_error(err_code, "%s", message));
	s->bad_input = 1;
	session_queue_close(s, close_code, err_code, 1);
}

void
client_session_forget(struct client_session *s)
{
	session_unlist(s);
	s->finished = 1;
}

void
client_session_free(struct client_session *s)
{
	if (s == NULL)
		return;
	session_unlist(s);
	if (s->wsi != NULL) {
		lws_set_opaque_user_data(s->wsi, NULL);
		session_kill(s);
		s->wsi = NULL;
	}
	ph_queue_free(&s->out);
	ph_msgbuf_free(&s->in);
	ph_tls_free(s->tls);
	free(s->frame);
	free(s->head);
	free(s->cause);
	free(s);
}
