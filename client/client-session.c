/*
 * client-session.c - one WebSocket session of the CLI on /v1/session, on a
 * TLS connection of client-transport.c, with libporthole's WebSocket
 * client (porthole/wsclient.h says why the framing is ours).  Its states,
 * each left only through the function named on its arrow:
 *
 *   CONNECTING --session_upgrading--> UPGRADING --session_opened--> OPEN
 *       |                                 |                           |
 *       |                      session_refused_answer      session_closing
 *       |                                 v                           v
 *       |                              REFUSED                     CLOSING
 *       +------------------- session_done (any state) ------------> DONE
 *
 *   CONNECTING  the transport connects and runs TLS (certificate checked)
 *   UPGRADING   our upgrade request is out; reading the answer's head
 *   REFUSED     the answer was not 101: reading its (small) body to say why
 *   OPEN        frames both ways; ops->established has run
 *   CLOSING     our close frame is queued (or the connection is being
 *               dropped); waiting for it to go and for the relay's
 *   DONE        the transport is gone and ops->closed has run
 *
 * A transition called from a state that does not lead to it is refused
 * (it returns -1 and changes nothing); the API's calls check the state
 * the same way (sending needs OPEN).
 *
 * Outgoing: frames are masked and handed to the transport, which encrypts
 * them into its bounded queue (a frame is refused before encryption when
 * the queue is over SESSION_OUT_LIMIT: ciphertext, once made, must go out
 * whole and in order).  Incoming: frames are parsed as the plaintext
 * comes; data messages are reassembled up to PH_MAX_MESSAGE and handed to
 * ops->message decoded.  When the owner pauses rx we still finish the
 * buffer in hand, then the transport stops reading the socket.
 *
 * Sealing (client-seal.c; docs/protocol.md, "End-to-end sessions"): the
 * open carries a fresh X25519 share; until the agent's clear `seal`
 * answers it (SEAL_AWAIT) what the owner sends waits in `pending` and the
 * session reads as full; then (SEAL_ON) every frame goes out as a record
 * and only records (and the relay's clear `error`) come in.  An agent
 * that answers with anything else does not seal: the session ends unless
 * --allow-unsealed (SEAL_OFF: clear, as before protocol 4).  The owner
 * sees frames as always: sealing lives here, under every operation.
 *
 * Resume (docs/protocol.md, "Resume"): when the agent's `seal` says it
 * resumes, every record goes into a bounded buffer (porthole/resume.h)
 * and from there onto the connection (session_pump) until the agent
 * acknowledges it; what came from the agent is acknowledged in every
 * record and by an ack record after 256 KiB or a second.  A connection
 * that drops without our close (or the relay's word that the session
 * cannot go on) is not the end: the session waits (WAITING, backoff),
 * connects again, sends `resume` instead of handing the owner a new
 * start, checks the agent's proof, answers with its own, and sends again
 * what the agent lacks.  The owner sees none of it but a pause: sending
 * goes on into the buffer (full says stop), and the same frames come in
 * exactly once, in order.  Past the resume timeout the session ends.
 *
 * Keepalive: a ping after PH_PING_SECS without a byte from the relay, and
 * the session is declared lost after PH_HANGUP_SECS of silence (both from
 * PORTHOLE_HANGUP_SECS when set: porthole/keepalive.h), except
 * while we are the ones not reading (rx paused because the local output is
 * slow): silence is then our own doing, and the clock restarts on resume.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "porthole/duration.h"
#include "porthole/buf.h"
#include "porthole/frame.h"
#include "porthole/keepalive.h"
#include "porthole/printable.h"
#include "porthole/protocol.h"
#include "porthole/resume.h"
#include "porthole/seal.h"
#include "porthole/util.h"
#include "porthole/wsclient.h"

#include "client-conn.h"
#include "client-loop.h"
#include "client-seal.h"
#include "client-session.h"
#include "client-sign.h"
#include "client-target.h"
#include "client-transport.h"

/* Outgoing queue: the owner stops feeding above high, resumes below low. */
#define SESSION_OUT_LOW		(64u << 10)
#define SESSION_OUT_HIGH	(256u << 10)
#define SESSION_OUT_LIMIT	(1u << 20)
/* Ciphertext already made is never dropped: room above the limit for it. */
#define SESSION_OUT_HARD	(SESSION_OUT_LIMIT + (256u << 10))
#define SESSION_FRAME_MAX	(PH_WS_HDR_MAX + 1 + PH_MAX_PAYLOAD)

#define SESSION_BODY_MAX	4096	/* error body of a refused upgrade */
#define SESSION_CLOSE_MS	2000	/* wait for the relay's close frame */
#define SESSION_TICK_MS		1000	/* keepalive and bounds */

enum session_seal {
	SEAL_NONE,	/* no open sent yet */
	SEAL_AWAIT,	/* the open is out; the agent's share not yet in */
	SEAL_ON,	/* keyed: records both ways */
	SEAL_OFF,	/* the agent does not seal and --allow-unsealed said go on */
};

#define SESSION_PENDING_MAX	(1u << 20)	/* frames held until the seal */
#define SESSION_ACK_BYTES	(256u << 10)	/* acknowledge after this much */
#define SESSION_RETRY_MS	250		/* first reconnect; doubles */
#define SESSION_RETRY_MAX_MS	1000

enum session_state {
	SESSION_CONNECTING,
	SESSION_UPGRADING,
	SESSION_REFUSED,
	SESSION_OPEN,
	SESSION_CLOSING,
	SESSION_WAITING,	/* resume: between connections */
	SESSION_DONE,
};

struct client_session {
	struct client_conn	*cc;
	struct client_transport	*t;		/* TLS to the relay */
	const struct client_session_ops *ops;
	void			*arg;
	enum session_state	 state;
	struct client_loop_timer tick;
	uint8_t			*frame;		/* SESSION_FRAME_MAX: one frame */

	char			 key[PH_WS_KEY_LEN + 1];
	char			*head;		/* the answer's head, then body */
	size_t			 head_len;
	size_t			 body_at;	/* REFUSED: where the body starts */
	int			 status;	/* REFUSED: HTTP status */
	long			 body_len;	/* REFUSED: Content-Length, -1 */
	int64_t			 upgrade_ms;	/* when the upgrade went out */

	struct ph_ws_rx		 rx;
	struct ph_msgbuf	 in;		/* message being reassembled */
	int			 rx_paused;

	int64_t			 heard_ms;	/* the transport's, at the last ping */
	int			 pinged;	/* a ping is out since heard_ms */
	int			 ping_secs;	/* keepalive (PORTHOLE_HANGUP_SECS) */
	int			 hangup_secs;

	int			 peer_code;	/* close code the relay sent, 0: none */
	char			 peer_reason[124 * 4];	/* escaped */
	int			 close_written;	/* CLOSING: our close frame is out */
	int64_t			 close_ms;	/* when it was written */

	enum session_seal	 seal_state;
	struct client_seal	*seal;
	struct ph_queue		 pending;	/* SEAL_AWAIT: the owner's frames */
	char			*agent;		/* printable agent id, for messages */

	/* Resume: from the agent's `seal` saying it resumes. */
	int			 resumes;
	struct ph_resume	 rs;		/* our records until acknowledged */
	size_t			 rs_soft;	/* full (stop the owner) past it */
	int64_t			 resume_ms;	/* PORTHOLE_RESUME_TIMEOUT; 0: never */
	size_t			 rs_hard;
	uint64_t		 ack_sent;	/* the agent's bytes acknowledged last */
	int			 data_in;	/* a data record came since */
	int			 proving;	/* a new connection: the agent's proof awaited */
	int			 our_close;	/* we ended it: nothing resumes */
	int			 close_await;	/* SEAL_AWAIT: close once keyed */
	int			 close_code;	/* ... with these */
	int			 close_flush;
	char			 close_reason[124];
	int			 fatal;		/* the relay's error: it cannot go on */
	int			 said_lost;	/* "agent ... lost": said on any stderr */
	char			 boot[17];	/* the agent process's `boot` (its seal) */
	int64_t			 lost_ms;	/* when the connection went; 0: up */
	unsigned		 attempts;
	struct client_loop_timer retry;
	uint8_t			 challenge[PH_SEAL_CHALLENGE_LEN];
	json_t			*held_error;	/* the relay's last clear error */
	char			*first_error;	/* why the connection went (printable) */
	char			*final_cause;	/* why resuming gave up */
	char			*sid;		/* the open's, for a resume */
	char			*agent_id;	/* the open's agent (full id) */
};

static const struct ph_ws_rx_ops session_rx_ops;	/* below */
static void	session_resume_send(struct client_session *);

static void
session_set_cause(struct client_session *s, char *cause)
{
	client_transport_set_cause(s->t, cause);
}

/* Drop the connection at the loop's next chance (DONE follows). */
static void
session_hangup(struct client_session *s)
{
	client_transport_hangup(s->t);
}

/* Encrypt and queue one frame; -1 if the queue is full (or broken). */
static int
session_queue_frame(struct client_session *s, int opcode, int prefix,
    const void *p, size_t n)
{
	size_t	 len;
	int	 r;

	if (!client_transport_up(s->t) ||
	    n > (prefix < 0 ? PH_MAX_MESSAGE : PH_MAX_PAYLOAD) ||
	    client_transport_queued(s->t) + n + PH_WS_HDR_MAX + 1 >
	    SESSION_OUT_LIMIT)
		return -1;
	len = ph_ws_frame(s->frame, opcode, prefix, p, n);
	if ((r = client_transport_send(s->t, s->frame, len)) == -1) {
		session_set_cause(s, ph_asprintf("TLS failed encrypting output; "
		    "the session is lost"));
		session_hangup(s);
	}
	return r == 0 ? 0 : -1;
}

/* --- the transitions ------------------------------------------------------ */

/* CONNECTING -> UPGRADING: TLS is up, send the upgrade request. */
static int
session_upgrading(struct client_session *s)
{
	struct client_conf	*conf = s->cc->conf;
	char			*req;
	int			 r;

	if (s->state != SESSION_CONNECTING)
		return -1;
	req = ph_ws_request(conf->host, conf->port, PH_PATH_SESSION,
	    PH_SUBPROTO_SESSION, conf->token, s->key);
	if (req == NULL) {
		session_set_cause(s, ph_asprintf("no random bytes for the "
		    "WebSocket key"));
		return -1;
	}
	r = client_transport_send(s->t, req, strlen(req));
	OPENSSL_cleanse(req, strlen(req));
	free(req);
	if (r == -1)
		session_set_cause(s, ph_asprintf("TLS failed encrypting the "
		    "session upgrade"));
	if (r != 0)
		return -1;
	s->state = SESSION_UPGRADING;
	s->upgrade_ms = ph_mono_ms();
	return 0;
}

/*
 * UPGRADING -> OPEN: the answer was 101; what followed its head (end
 * bytes in) is the first frames.
 */
static int
session_opened(struct client_session *s, size_t end)
{
	const char	*why = NULL;
	int		 r;

	if (s->state != SESSION_UPGRADING)
		return -1;
	s->state = SESSION_OPEN;
	ph_ws_rx_init(&s->rx);
	if (s->lost_ms != 0)
		session_resume_send(s);		/* a resume's connection */
	else
		s->ops->established(s->arg);
	r = 0;
	if (s->state == SESSION_OPEN || s->state == SESSION_CLOSING)
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
		session_hangup(s);	/* the close handshake is done */
	return 0;
}

/* The refused upgrade's answer is complete: say why, hang up. */
static void
session_refused_cause(struct client_session *s)
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
	session_hangup(s);
}

/* UPGRADING -> REFUSED: not 101; the body (if any) says why. */
static int
session_refused(struct client_session *s, size_t end)
{
	if (s->state != SESSION_UPGRADING)
		return -1;
	s->state = SESSION_REFUSED;
	s->body_at = end;
	if (s->body_len == 0 || s->head_len - end >= (size_t)
	    (s->body_len < 0 ? SESSION_BODY_MAX : s->body_len))
		session_refused_cause(s);
	return 0;
}

/*
 * OPEN -> CLOSING: queue our close frame after what is queued.  Without
 * flush, when something is still queued we hang up at once instead:
 * queued bytes are ciphertext already and cannot be dropped from a TLS
 * stream, and the relay treats a vanished client like a closed one (it
 * ends the agent's side all the same).  Before OPEN there is nobody to
 * say goodbye to: the connection is dropped.
 */
static int
session_closing(struct client_session *s, int code, const char *reason,
    int flush)
{
	uint8_t	 body[2 + 123];
	size_t	 n = 0;

	if (s->state == SESSION_CLOSING || s->state == SESSION_DONE)
		return -1;
	if (s->state != SESSION_OPEN) {
		session_hangup(s);
		return 0;
	}
	s->state = SESSION_CLOSING;
	if (!flush && !client_transport_empty(s->t)) {
		session_hangup(s);
		return 0;
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
	return 0;
}

/* Any state -> DONE: the transport is gone; tell the owner, once. */
static int
session_done(struct client_session *s, int code, const char *reason)
{
	if (s->state == SESSION_DONE)
		return -1;
	s->state = SESSION_DONE;
	client_loop_timer(s->cc->loop, &s->tick, -1, NULL, NULL);
	client_loop_timer(s->cc->loop, &s->retry, -1, NULL, NULL);
	s->ops->closed(s->arg, code, reason, s->final_cause != NULL ? s->final_cause :
	    client_transport_cause(s->t));
	return 0;
}

/* --- sealing ------------------------------------------------------------- */

/*
 * The session cannot go on sealed (or refuses to go on unsealed): say why,
 * tell the relay, close.  Nothing of what came reaches the owner.
 */
static void
session_seal_fail(struct client_session *s, char *cause)
{
	s->our_close = 1;
	if (s->state != SESSION_OPEN) {
		free(cause);
		return;
	}
	client_session_send_ctl(s, ph_ctl_error(PH_ERR_SEAL, "%s", cause));
	session_set_cause(s, cause);
	session_closing(s, PH_CLOSE_POLICY, PH_ERR_SEAL, 1);
}

static int	session_send_sealed(struct client_session *, int, const void *, size_t);

/* SEAL_AWAIT -> SEAL_ON or SEAL_OFF: what the owner sent meanwhile goes out. */
static void
session_seal_flush(struct client_session *s)
{
	struct ph_qitem	*it;

	while ((it = ph_queue_peek(&s->pending)) != NULL) {
		if (s->state != SESSION_OPEN)
			return;
		if (s->seal_state == SEAL_ON)
			session_send_sealed(s, it->data[PH_HEADROOM],
			    it->data + PH_HEADROOM + 1, it->len - 1);
		else
			session_queue_frame(s, PH_WS_BINARY, -1,
			    it->data + PH_HEADROOM, it->len);
		ph_queue_pop(&s->pending);
	}
	if (s->close_await && s->state == SESSION_OPEN) {
		/* The owner closed meanwhile: now with our close record. */
		s->close_await = 0;
		client_session_close(s, s->close_code, s->close_reason,
		    s->close_flush);
	} else if (s->state == SESSION_OPEN)
		s->ops->drained(s->arg);	/* the owner held back: go on */
}

/*
 * "porthole: " and one line on stderr.  A terminal in raw mode (a shell's)
 * does not turn "\n" into "\r\n": the line ends with "\r\n" then, so what
 * comes after it (the remote output) starts at the left edge.
 */
static void
session_vsay(const char *fmt, va_list ap)
{
	struct termios	tio;
	int		raw;

	raw = isatty(2) && tcgetattr(2, &tio) == 0 && !(tio.c_oflag & OPOST);
	fputs("porthole: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs(raw ? "\r\n" : "\n", stderr);
}

/* The line only when stderr is a terminal (else nothing). */
static void
session_tty_say(const char *fmt, ...)
{
	va_list		ap;

	if (!isatty(2))
		return;
	va_start(ap, fmt);
	session_vsay(fmt, ap);
	va_end(ap);
}

/* The line on any stderr: what a script's log must show too. */
static void
session_say(const char *fmt, ...)
{
	va_list		ap;

	va_start(ap, fmt);
	session_vsay(fmt, ap);
	va_end(ap);
}

/*
 * Whether the seal's warning about agent ID was said already in this process
 * (an attach's listing and its session, a fan-out's retries): once is enough.
 * Bounded: past 64 agents each warning is said again.
 */
static int
session_warned(const char *id)
{
	static char	*seen[64];
	size_t		 i;

	if (id == NULL)
		return 0;
	for (i = 0; i < sizeof seen / sizeof seen[0] && seen[i] != NULL; i++)
		if (strcmp(seen[i], id) == 0)
			return 1;
	if (i < sizeof seen / sizeof seen[0])
		seen[i] = strdup(id);	/* kept for the process's life */
	return 0;
}

/* SEAL_AWAIT: the agent's clear `seal` keys the session. */
static void
session_seal_keyed(struct client_session *s, const struct ph_frame *f)
{
	char		*warn = NULL, *cause = NULL;
	const char	*b;

	if (client_seal_keyed(s->seal, f->json, &warn, &cause) != 0) {
		session_seal_fail(s, ph_asprintf("cannot seal the session with "
		    "agent %s: %s", s->agent, cause));
		free(cause);
		return;
	}
	if (warn != NULL && !session_warned(s->agent_id))
		session_tty_say("%s", warn);
	free(warn);
	/*
	 * The agent keeps records for a resume: so do we, and acknowledge
	 * its, whether or not we reconnect ourselves (resume_ms), or it
	 * would stop at its soft mark waiting for acknowledgements.
	 */
	if (json_is_true(json_object_get(f->json, "resume")) &&
	    s->sid != NULL && s->agent_id != NULL) {
		if (ph_resume_init(&s->rs, s->rs_hard, &cause) != 0) {
			session_seal_fail(s, cause);
			return;
		}
		s->resumes = 1;
		b = json_string_value(json_object_get(f->json, "boot"));
		if (b != NULL && strlen(b) < sizeof s->boot)
			memcpy(s->boot, b, strlen(b) + 1);
	}
	s->seal_state = SEAL_ON;
	session_seal_flush(s);
}

/* --- resume ---------------------------------------------------------------- */

/* Move kept records onto the connection while it is up and has room. */
static void
session_pump(struct client_session *s)
{
	const uint8_t	*m;
	size_t		 len;
	uint64_t	 off;

	while (s->resumes && s->state == SESSION_OPEN && !s->proving &&
	    !client_transport_full(s->t) && ph_resume_next(&s->rs, &m, &len, &off) == 1) {
		if (session_queue_frame(s, PH_WS_BINARY, -1, m, len) != 0) {
			session_set_cause(s, ph_asprintf("a sealed record could not "
			    "be queued; the session is lost"));
			session_hangup(s);
			return;
		}
	}
}

/* A record just sealed: kept until acknowledged, sent when it can be. */
static int
session_keep(struct client_session *s, const uint8_t *rec, size_t len)
{
	char	*cause = NULL;

	s->ack_sent = client_seal_received(s->seal);
	if (ph_resume_push(&s->rs, rec, len, NULL, &cause) != 0) {
		/* Cannot be: room was checked.  A gap: end it. */
		session_set_cause(s, ph_asprintf("cannot keep a sealed record: %s",
		    cause));
		free(cause);
		s->our_close = 1;
		session_hangup(s);
		return -1;
	}
	session_pump(s);
	return 0;
}

/* An ack record: what came from the agent is acknowledged. */
static void
session_ack(struct client_session *s)
{
	const uint8_t	*rec;
	size_t		 len;
	char		*cause = NULL;

	s->data_in = 0;
	if (s->rs.held + PH_SEAL_RECORD_MIN + PH_RESUME_MSG_OVERHEAD > s->rs.limit)
		return;		/* full: the next record carries it */
	if (client_seal_empty(s->seal, PH_SEAL_ACK, &rec, &len, &cause) != 0) {
		session_set_cause(s, ph_asprintf("cannot seal the session: %s", cause));
		free(cause);
		s->our_close = 1;
		session_hangup(s);
		return;
	}
	(void)session_keep(s, rec, len);
}

/*
 * A record from the agent opened: its ack frees what it acknowledges, and
 * what came is acknowledged soon.  -1: the session ends (said already).
 */
static int
session_acked(struct client_session *s)
{
	uint64_t	 ack = client_seal_last_ack(s->seal);
	char		*cause = NULL;
	int		 was_full = client_session_full(s);

	if (ack > s->rs.acked && ph_resume_ack(&s->rs, ack, &cause) != 0) {
		session_seal_fail(s, ph_asprintf("the session with agent %s was "
		    "tampered with: its acknowledgement is wrong (%s)", s->agent, cause));
		free(cause);
		return -1;
	}
	if (client_seal_last_data(s->seal))
		s->data_in = 1;
	if (client_seal_received(s->seal) - s->ack_sent >= SESSION_ACK_BYTES)
		session_ack(s);
	if (was_full && !client_session_full(s) && s->state == SESSION_OPEN)
		s->ops->drained(s->arg);
	return 0;
}

/* May a session the relay ended go on (codes of a connection that was lost)? */
static int
session_error_passes(const char *code)
{
	static const char *const codes[] = { PH_ERR_AGENT_LOST, PH_ERR_NO_AGENT,
	    PH_ERR_TIMEOUT, PH_ERR_CONFLICT, PH_ERR_LIMIT };
	size_t	 i;

	for (i = 0; i < sizeof codes / sizeof codes[0]; i++)
		if (code != NULL && strcmp(code, codes[i]) == 0)
			return 1;
	return 0;
}

/* The relay's clear error in a session that resumes: kept until it ends. */
static void
session_hold_error(struct client_session *s, const struct ph_frame *f)
{
	const char	*code = json_string_value(json_object_get(f->json, "code"));
	const char	*boot = json_string_value(json_object_get(f->json, "boot"));
	char		 t[PH_DURATION_FMT_MAX];

	/* Another process of the agent refused: the session died with the old one. */
	if (code != NULL && strcmp(code, PH_ERR_RESUME) == 0 && boot != NULL &&
	    s->boot[0] != '\0' && strcmp(boot, s->boot) != 0) {
		free(s->final_cause);
		s->final_cause = ph_asprintf("agent %s restarted while the session "
		    "waited to resume: the session and its program ended with the "
		    "agent's old process, and output may be truncated; run the "
		    "command again", s->agent);
		json_decref(s->held_error);
		s->held_error = NULL;
		s->fatal = 1;
		return;
	}
	/* Reconnected, but the agent is not there (yet): say so once. */
	if (code != NULL && strcmp(code, PH_ERR_NO_AGENT) == 0 && s->lost_ms != 0 &&
	    !s->said_lost) {
		s->said_lost = 1;
		session_say("agent %s is not connected to the relay: waiting up to "
		    "%s for it to come back and resume the session", s->agent,
		    ph_duration_fmt(s->resume_ms, t, sizeof t));
	}
	json_decref(s->held_error);
	s->held_error = json_incref(f->json);
	if (s->first_error == NULL && json_string_value(json_object_get(f->json,
	    "message")) != NULL)
		s->first_error = client_printable(json_string_value(json_object_get(
		    f->json, "message")));
	if (!session_error_passes(json_string_value(json_object_get(f->json, "code"))))
		s->fatal = 1;
}

/* The session ends after all: the owner hears the relay's last error. */
static void
session_give_error(struct client_session *s)
{
	struct ph_frame	 f;

	if (s->held_error == NULL)
		return;
	memset(&f, 0, sizeof f);
	f.type = PH_FRAME_CONTROL;
	f.ctl = PH_CTL_ERROR;
	f.json = s->held_error;
	s->held_error = NULL;
	s->ops->message(s->arg, &f);
	json_decref(f.json);
}

/* A new connection of a resume is up: `resume` goes first, clear. */
static void
session_resume_send(struct client_session *s)
{
	json_t	*m = NULL;
	char	*c = NULL, *cause = NULL;
	uint8_t	*msg = NULL;
	size_t	 len = 0;

	if (ph_seal_challenge(s->challenge, &cause) != 0 ||
	    (c = ph_seal_share_encode(s->challenge)) == NULL ||
	    (m = ph_ctl_new(PH_CTL_RESUME)) == NULL ||
	    json_object_set_new(m, "sid", json_string(s->sid)) != 0 ||
	    json_object_set_new(m, "agent", json_string(s->agent_id)) != 0 ||
	    json_object_set_new(m, "challenge", json_string(c)) != 0 ||
	    ph_ctl_encode(m, &msg, &len) != 0 ||
	    session_queue_frame(s, PH_WS_BINARY, -1, msg + PH_HEADROOM, len) != 0) {
		session_set_cause(s, ph_asprintf("cannot ask to resume the session: %s",
		    cause != NULL ? cause : "out of memory"));
		s->our_close = 1;
		session_hangup(s);
	} else
		s->proving = 1;
	free(cause);
	free(c);
	free(msg);
	json_decref(m);
}

/*
 * Resuming: the agent's `resume_proof` (or the relay's error).  Its proof
 * must verify; ours answers it; what the agent lacks goes again.
 */
static void
session_proven(struct client_session *s, const struct ph_frame *f)
{
	json_t		*answer;
	uint64_t	 received;
	char		*cause = NULL, t[PH_DURATION_FMT_MAX];
	uint8_t		*msg = NULL;
	size_t		 len = 0;

	if (f->type == PH_FRAME_CONTROL && f->ctl == PH_CTL_ERROR) {
		session_hold_error(s, f);
		return;
	}
	if (f->type != PH_FRAME_CONTROL || f->ctl != PH_CTL_RESUME_PROOF) {
		session_seal_fail(s, ph_asprintf("a %s came where agent %s's resume "
		    "proof was due: something between you and the agent injected it",
		    f->type == PH_FRAME_CONTROL ? ph_ctl_name(f->ctl) :
		    ph_frame_type_name(f->type), s->agent));
		return;
	}
	if (client_seal_resume_check(s->seal, f->json, s->challenge, &received,
	    &cause) != 0 || ph_resume_rewind(&s->rs, received, &cause) != 0) {
		session_seal_fail(s, ph_asprintf("cannot resume the session with "
		    "agent %s: %s", s->agent, cause));
		free(cause);
		return;
	}
	if ((answer = client_seal_resume_answer(s->seal, f->json, &cause)) == NULL ||
	    ph_ctl_encode(answer, &msg, &len) != 0 ||
	    session_queue_frame(s, PH_WS_BINARY, -1, msg + PH_HEADROOM, len) != 0) {
		session_seal_fail(s, ph_asprintf("cannot resume the session with "
		    "agent %s: %s", s->agent, cause != NULL ? cause :
		    "cannot queue the proof"));
		free(cause);
		json_decref(answer);
		free(msg);
		return;
	}
	json_decref(answer);
	free(msg);
	if (s->said_lost)
		session_say("resumed after %s", ph_duration_fmt(ph_mono_ms() -
		    s->lost_ms, t, sizeof t));
	else
		session_tty_say("resumed after %s", ph_duration_fmt(ph_mono_ms() -
		    s->lost_ms, t, sizeof t));
	s->said_lost = 0;
	s->proving = 0;
	s->lost_ms = 0;
	s->attempts = 0;
	json_decref(s->held_error);
	s->held_error = NULL;
	free(s->first_error);
	s->first_error = NULL;
	session_pump(s);
	if (s->state == SESSION_OPEN)
		s->ops->drained(s->arg);
}

/*
 * A decoded message from the relay, through the seal: 0 and the owner
 * gets it (or what it sealed), or nothing when it was for the seal alone.
 */
static void
session_seal_rx(struct client_session *s, const struct ph_frame *f)
{
	struct ph_frame	 inner;
	char		*cause = NULL;
	int		 r, recorded;

	switch (s->seal_state) {
	case SEAL_NONE:
	case SEAL_OFF:
		s->ops->message(s->arg, f);
		return;
	case SEAL_AWAIT:
		if (f->type == PH_FRAME_CONTROL && f->ctl == PH_CTL_SEAL) {
			session_seal_keyed(s, f);
			return;
		}
		if (f->type == PH_FRAME_CONTROL && f->ctl == PH_CTL_ERROR) {
			s->ops->message(s->arg, f);	/* a refusal: the relay's or the agent's */
			return;
		}
		if (!s->cc->conf->allow_unsealed) {
			session_seal_fail(s, ph_asprintf("%s does not seal sessions "
			    "end to end, so the relay could read and alter this one: "
			    "upgrade the agent, or pass --allow-unsealed", s->agent));
			return;
		}
		s->seal_state = SEAL_OFF;
		session_seal_flush(s);
		s->ops->message(s->arg, f);
		return;
	case SEAL_ON:
		break;
	}
	if (s->proving) {
		session_proven(s, f);
		return;
	}
	if (f->type == PH_FRAME_CONTROL && f->ctl == PH_CTL_ERROR) {
		if (s->resumes)
			session_hold_error(s, f);	/* the end, unless it resumes */
		else
			s->ops->message(s->arg, f);	/* the relay's word: the session ends */
		return;
	}
	if (f->type != PH_FRAME_SEALED) {
		session_seal_fail(s, ph_asprintf("a clear %s frame came in a session "
		    "sealed with agent %s: something between you and the agent "
		    "injected it", f->type == PH_FRAME_CONTROL ? ph_ctl_name(f->ctl) :
		    ph_frame_type_name(f->type), s->agent));
		return;
	}
	memset(&inner, 0, sizeof inner);
	r = client_seal_open(s->seal, f->payload - 1, f->len + 1, &inner,
	    &recorded, &cause);
	if (r < 0) {
		session_seal_fail(s, ph_asprintf("the session with agent %s was "
		    "tampered with: %s", s->agent, cause));
		free(cause);
		return;
	}
	if (s->resumes && session_acked(s) != 0) {
		ph_frame_clear(&inner);
		return;
	}
	if (r > 0) {
		if (recorded)
			session_tty_say("agent %s says the relay records this "
			    "session", s->agent);
		return;
	}
	/* The agent's own error ends the session: nothing resumes after it. */
	if (inner.type == PH_FRAME_CONTROL && inner.ctl == PH_CTL_ERROR)
		s->fatal = 1;
	s->ops->message(s->arg, &inner);
	ph_frame_clear(&inner);
}

/* Seal one frame (type, payload: raw bytes are cut to fit) and queue its record(s). */
static int
session_send_sealed(struct client_session *s, int type, const void *p, size_t n)
{
	const uint8_t	*b = p, *rec;
	size_t		 k, len;
	char		*cause = NULL;

	size_t		 nrec, need;

	if (type == PH_FRAME_CONTROL && n > PH_SEAL_MAX_PAYLOAD)
		return -1;	/* a control message too big to seal */
	/*
	 * All of it fits the queue, or none of it is sealed: a record that is
	 * sealed takes its number, and one sealed but not sent is a gap the
	 * agent refuses.
	 */
	nrec = n == 0 ? 1 : (n + PH_SEAL_MAX_PAYLOAD - 1) / PH_SEAL_MAX_PAYLOAD;
	if (s->resumes) {
		/* Into the resume buffer, all of it or none; out from there. */
		if (s->rs.held + n + nrec * (PH_SEAL_OVERHEAD + PH_RESUME_MSG_OVERHEAD) >
		    s->rs.limit)
			return -1;
		do {
			k = n > PH_SEAL_MAX_PAYLOAD ? PH_SEAL_MAX_PAYLOAD : n;
			if (client_seal_frame(s->seal, type, b, k, &rec, &len,
			    &cause) != 0) {
				session_set_cause(s, ph_asprintf("cannot seal the "
				    "session: %s", cause));
				free(cause);
				s->our_close = 1;
				session_hangup(s);
				return -1;
			}
			if (session_keep(s, rec, len) != 0)
				return -1;
			b += k;
			n -= k;
		} while (n > 0);
		return 0;
	}
	need = n + nrec * (PH_SEAL_OVERHEAD + PH_WS_HDR_MAX + 1);
	if (!client_transport_up(s->t) ||
	    client_transport_queued(s->t) + need > SESSION_OUT_LIMIT)
		return -1;
	do {
		k = n > PH_SEAL_MAX_PAYLOAD ? PH_SEAL_MAX_PAYLOAD : n;
		if (client_seal_frame(s->seal, type, b, k, &rec, &len, &cause) != 0) {
			session_set_cause(s, ph_asprintf("cannot seal the session: %s",
			    cause));
			free(cause);
			session_hangup(s);
			return -1;
		}
		if (session_queue_frame(s, PH_WS_BINARY, -1, rec, len) != 0) {
			/* Cannot be: room was checked.  A gap: end it. */
			session_set_cause(s, ph_asprintf("a sealed record could not "
			    "be queued; the session is lost"));
			session_hangup(s);
			return -1;
		}
		b += k;
		n -= k;
	} while (n > 0);
	return 0;
}

/* Send through the seal: held, sealed or clear (type -1: a whole message). */
static int
session_send_msg(struct client_session *s, int type, const void *p, size_t n)
{
	uint8_t	 t;

	switch (s->seal_state) {
	case SEAL_AWAIT:
		if (s->pending.bytes + n + 1 > SESSION_PENDING_MAX)
			return -1;
		if (type < 0)
			return ph_queue_push(&s->pending, -1, p, n);
		t = (uint8_t)type;
		return ph_queue_push(&s->pending, t, p, n);
	case SEAL_ON:
		if (type < 0)
			return n < 1 ? -1 : session_send_sealed(s,
			    ((const uint8_t *)p)[0], (const uint8_t *)p + 1, n - 1);
		return session_send_sealed(s, type, p, n);
	default:
		return session_queue_frame(s, PH_WS_BINARY, type, p, n);
	}
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

	if (s->state != SESSION_OPEN)
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
	session_seal_rx(s, &f);	/* then ops->message (-1: it called client_session_fail) */
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
		if (s->state == SESSION_OPEN)
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
		if (s->state == SESSION_CLOSING && s->close_written)
			return 1;	/* handshake complete: hang up */
		/* Echo it; once written, hang up (see session_t_sent). */
		session_closing(s, n >= 2 ? s->peer_code : 0, NULL, 0);
		return 0;
	default:
		return 0;
	}
}

static const struct ph_ws_rx_ops session_rx_ops = {
	.data = session_data,
	.control = session_control,
};

/* Keep n bytes of the answer to our upgrade; -1 when out of memory. */
static int
session_keep_answer(struct client_session *s, const uint8_t *p, size_t n)
{
	size_t	 room;
	char	*nh;

	room = PH_WS_HEAD_MAX + SESSION_BODY_MAX - s->head_len;
	if (n > room)
		n = room;	/* a REFUSED body past the bound: cut it */
	if ((nh = realloc(s->head, s->head_len + n + 1)) == NULL)
		return -1;
	s->head = nh;
	memcpy(s->head + s->head_len, p, n);
	s->head_len += n;
	s->head[s->head_len] = '\0';
	return 0;
}

/* Bytes of the answer to our upgrade (state UPGRADING or REFUSED). */
static int
session_answer(struct client_session *s, const uint8_t *p, size_t n)
{
	const char	*why = NULL;
	size_t		 end;
	char		 save;
	int		 r;

	if (session_keep_answer(s, p, n) != 0)
		return -1;
	if (s->state == SESSION_REFUSED) {
		if ((s->body_len >= 0 &&
		    s->head_len - s->body_at >= (size_t)s->body_len) ||
		    s->head_len - s->body_at >= SESSION_BODY_MAX)
			session_refused_cause(s);
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
	save = s->head[end];
	s->head[end] = '\0';
	r = ph_ws_response(s->head, s->key, PH_SUBPROTO_SESSION, &s->status,
	    &s->body_len, &why);
	s->head[end] = save;
	if (r != 0 && s->status == 101) {
		session_set_cause(s, ph_asprintf("the relay's WebSocket answer is "
		    "not right (%s): is the relay the same version as porthole?",
		    why));
		return -1;
	}
	return r != 0 ? session_refused(s, end) : session_opened(s, end);
}

/* --- the transport's hooks ----------------------------------------------- */

static int
session_t_up(void *arg)
{
	return session_upgrading(arg);
}

/* Decrypted bytes from the relay. */
static int
session_t_plain(void *arg, const uint8_t *p, size_t n)
{
	struct client_session	*s = arg;
	const char		*why = NULL;
	int			 r;

	if (s->state == SESSION_UPGRADING || s->state == SESSION_REFUSED) {
		if (session_answer(s, p, n) != 0 || !client_transport_up(s->t))
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

/* Everything queued is written. */
static int
session_t_sent(void *arg)
{
	struct client_session	*s = arg;

	if (s->state == SESSION_CLOSING && !s->close_written) {
		s->close_written = 1;
		s->close_ms = ph_mono_ms();
		if (s->peer_code != 0)
			return -1;	/* we echoed the relay's close: done */
		return 0;
	}
	if (s->state == SESSION_OPEN) {
		session_pump(s);
		s->ops->drained(s->arg);
	}
	return 0;
}

static const struct client_transport_ops session_transport_ops;

/* A close code of the relay's that says the session cannot go on. */
static int
session_code_final(int code)
{
	switch (code) {
	case PH_CLOSE_NORMAL:
	case PH_CLOSE_POLICY:
	case PH_CLOSE_TOO_BIG:
	case PH_CLOSE_INTERNAL:
	case PH_CLOSE_UNAUTHORIZED:
	case PH_CLOSE_FORBIDDEN:
	case PH_CLOSE_VERSION:
		return 1;
	default:
		return 0;
	}
}

/* Resuming gave up (or was stopped): the session ends, saying why. */
static void
session_give_up(void *arg)
{
	struct client_session	*s = arg;

	session_give_error(s);
	session_done(s, s->peer_code != 0 ? s->peer_code : 1006, s->peer_reason);
}

/* WAITING -> CONNECTING: a new connection for the resume. */
static void
session_reconnect(void *arg)
{
	struct client_session	*s = arg;
	char			*cause = NULL;

	if (s->state != SESSION_WAITING)
		return;
	client_transport_free(s->t);
	free(s->head);
	s->head = NULL;
	s->head_len = 0;
	s->body_at = 0;
	s->status = 0;
	s->body_len = -1;
	s->peer_code = 0;
	s->peer_reason[0] = '\0';
	s->close_written = 0;
	s->pinged = 0;
	ph_ws_rx_init(&s->rx);
	ph_msgbuf_reset(&s->in);
	s->state = SESSION_CONNECTING;
	if ((s->t = client_transport_new(s->cc, &session_transport_ops, s,
	    SESSION_OUT_LOW, SESSION_OUT_HIGH, SESSION_OUT_HARD)) == NULL) {
		free(s->final_cause);
		s->final_cause = ph_asprintf("out of memory");
		s->state = SESSION_WAITING;
		client_loop_timer(s->cc->loop, &s->retry, 0, session_give_up, s);
		return;
	}
	s->heard_ms = client_transport_heard(s->t);
	if (s->rx_paused)
		client_transport_rx(s->t, 0);
	if (client_transport_connect(s->t, &cause) != 0) {
		client_transport_set_cause(s->t, cause);
		s->state = SESSION_WAITING;
		client_loop_timer(s->cc->loop, &s->retry, SESSION_RETRY_MAX_MS,
		    session_reconnect, s);
	}
}

/*
 * The connection went: wait and connect again (1), or not (0: the session
 * ends).  Past the resume timeout the cause says so.
 */
static int
session_resume_wait(struct client_session *s)
{
	char		 t[PH_DURATION_FMT_MAX];
	const char	*last, *msg;
	int64_t		 now = ph_mono_ms(), delay;

	if (!s->resumes || s->our_close || s->fatal || s->resume_ms <= 0 ||
	    s->state == SESSION_REFUSED || session_code_final(s->peer_code))
		return 0;
	if (s->lost_ms == 0) {
		const char *code = json_string_value(json_object_get(s->held_error,
		    "code"));

		s->lost_ms = now;
		s->attempts = 0;
		/* The agent went, not our link: any log must say why we wait. */
		if (code != NULL && strcmp(code, PH_ERR_AGENT_LOST) == 0) {
			s->said_lost = 1;
			session_say("agent %s was lost mid-session (%s): waiting up "
			    "to %s for it to come back and resume the session",
			    s->agent, s->first_error != NULL ? s->first_error :
			    "its connection to the relay went", ph_duration_fmt(
			    s->resume_ms, t, sizeof t));
		} else
			session_tty_say("the connection to the relay dropped: "
			    "reconnecting...");
	}
	s->proving = 0;
	if (now - s->lost_ms >= s->resume_ms) {
		msg = json_string_value(json_object_get(s->held_error, "message"));
		last = client_transport_cause(s->t);
		free(s->final_cause);
		s->final_cause = ph_asprintf("the session with agent %s could not be "
		    "resumed within %s%s%s%s%s: output may be truncated", s->agent,
		    ph_duration_fmt(s->resume_ms, t, sizeof t), s->first_error != NULL ?
		    " (" : "", s->first_error != NULL ? s->first_error : "",
		    s->first_error != NULL ? ")" : "", msg != NULL || last != NULL ?
		    "; last: " : "");
		if (msg != NULL || last != NULL) {
			char *c = ph_asprintf("%.*s%s: output may be truncated",
			    (int)(strlen(s->final_cause) - strlen(": output may be "
			    "truncated")), s->final_cause, msg != NULL ? msg : last);
			free(s->final_cause);
			s->final_cause = c;
		}
		json_decref(s->held_error);
		s->held_error = NULL;
		return 0;
	}
	s->state = SESSION_WAITING;
	delay = (int64_t)SESSION_RETRY_MS << (s->attempts < 4 ? s->attempts : 4);
	if (delay > SESSION_RETRY_MAX_MS)
		delay = SESSION_RETRY_MAX_MS;
	delay += random() % SESSION_RETRY_MS;
	if (now + delay - s->lost_ms > s->resume_ms)
		delay = s->resume_ms - (now - s->lost_ms);
	s->attempts++;
	client_loop_timer(s->cc->loop, &s->retry, delay, session_reconnect, s);
	return 1;
}

static void
session_t_closed(void *arg, int connected, const char *ended)
{
	struct client_session	*s = arg;
	struct client_conn	*cc = s->cc;
	int			 opened = s->state == SESSION_OPEN ||
				    s->state == SESSION_CLOSING;

	if (session_resume_wait(s))
		return;
	session_give_error(s);
	if (!connected) {
		session_done(s, 0, NULL);	/* the transport said why */
		return;
	}
	if (!opened && ended != NULL && client_transport_cause(s->t) == NULL)
		session_set_cause(s, ph_asprintf("the relay at %s ended the "
		    "connection during the session upgrade (%s)", cc->conf->relay,
		    ended));
	if (s->state == SESSION_REFUSED && client_transport_cause(s->t) == NULL)
		session_refused_cause(s);	/* the body ended at close */
	if (!opened && client_transport_cause(s->t) == NULL)
		session_set_cause(s, ph_asprintf("the relay at %s closed the "
		    "connection during the session upgrade: is PORTHOLE_RELAY a "
		    "porthole relay?", cc->conf->relay));
	session_done(s, !opened ? 0 : s->peer_code != 0 ? s->peer_code : 1006,
	    s->peer_reason);
}

static const struct client_transport_ops session_transport_ops = {
	.up = session_t_up,
	.plain = session_t_plain,
	.sent = session_t_sent,
	.closed = session_t_closed,
};

/* --- the clock ------------------------------------------------------------ */

/* OPEN: a ping after ping_secs of silence, lost after hangup_secs. */
static void
session_keepalive(struct client_session *s, int64_t now, int64_t heard)
{
	char	 t[PH_DURATION_FMT_MAX];

	if (s->rx_paused) {
		/* Our silence, not the relay's. */
		client_transport_touch(s->t, now);
		s->heard_ms = now;
		return;
	}
	if (now - heard >= (int64_t)s->hangup_secs * 1000) {
		session_set_cause(s, ph_asprintf("the relay at %s stopped "
		    "answering (nothing for %s): the session is lost and "
		    "output may be truncated", s->cc->conf->relay,
		    ph_duration_fmt(s->hangup_secs * 1000LL, t, sizeof t)));
		session_hangup(s);
	} else if (!s->pinged && now - heard >= (int64_t)s->ping_secs * 1000) {
		s->pinged = 1;
		session_queue_frame(s, PH_WS_PING, -1, NULL, 0);
	}
}

static void
session_tick(void *arg)
{
	struct client_session	*s = arg;
	char			 t[PH_DURATION_FMT_MAX];
	int64_t			 now = ph_mono_ms();
	int64_t			 heard = client_transport_heard(s->t);

	if (heard != s->heard_ms) {
		s->heard_ms = heard;	/* the relay spoke: no ping is out */
		s->pinged = 0;
	}
	switch (s->state) {
	case SESSION_CONNECTING:	/* the transport bounds it */
		break;
	case SESSION_UPGRADING:
	case SESSION_REFUSED:
		if (now - s->upgrade_ms >= CLIENT_CONN_CONNECT_SECS * 1000) {
			session_set_cause(s, ph_asprintf("the relay at %s did not "
			    "answer the session upgrade within %s", s->cc->conf->relay,
			    ph_duration_fmt(CLIENT_CONN_CONNECT_SECS * 1000LL, t,
			    sizeof t)));
			session_hangup(s);
		}
		break;
	case SESSION_OPEN:
		session_keepalive(s, now, heard);
		/* What came since the last ack, acknowledged within a tick. */
		if (s->resumes && !s->proving && s->data_in &&
		    client_seal_received(s->seal) != s->ack_sent)
			session_ack(s);
		break;
	case SESSION_WAITING:		/* the retry timer runs it */
		break;
	case SESSION_CLOSING:
		if (s->close_written && now - s->close_ms >= SESSION_CLOSE_MS)
			session_hangup(s);	/* the relay never answered our close */
		break;
	case SESSION_DONE:
		return;
	}
	client_loop_timer(s->cc->loop, &s->tick, SESSION_TICK_MS, session_tick, s);
}

/* --- the API ------------------------------------------------------------------ */

struct client_session *
client_session_open(struct client_conn *cc, const struct client_session_ops *ops,
    void *arg, char **cause)
{
	struct client_session	*s;
	int			 ping, hangup;
	int64_t			 resume_ms;
	size_t			 soft, hard;

	if (client_sign_ready(cc->conf, cause) != 0)
		return NULL;
	if (ph_resume_settings(cc->conf->flag_resume, &resume_ms, &soft, &hard,
	    cause) != 0)
		return NULL;
	if (ph_keepalive_secs(NULL, &ping, &hangup) != 0) {
		*cause = ph_asprintf("PORTHOLE_HANGUP_SECS wants a number of seconds "
		    "from %d to %d", PH_HANGUP_MIN, PH_HANGUP_MAX);
		return NULL;
	}
	if ((s = calloc(1, sizeof *s)) == NULL ||
	    (s->frame = malloc(SESSION_FRAME_MAX)) == NULL ||
	    (s->t = client_transport_new(cc, &session_transport_ops, s,
	    SESSION_OUT_LOW, SESSION_OUT_HIGH, SESSION_OUT_HARD)) == NULL) {
		if (s != NULL)
			free(s->frame);
		free(s);
		*cause = ph_asprintf("out of memory");
		return NULL;
	}
	s->ping_secs = ping;
	s->hangup_secs = hangup;
	s->resume_ms = resume_ms;
	s->rs_soft = soft;
	s->rs_hard = hard;
	s->cc = cc;
	s->ops = ops;
	s->arg = arg;
	s->state = SESSION_CONNECTING;
	s->heard_ms = client_transport_heard(s->t);
	ph_msgbuf_init(&s->in, PH_MAX_MESSAGE);
	ph_queue_init(&s->pending, 0, SESSION_PENDING_MAX, SESSION_PENDING_MAX + PH_MAX_MESSAGE);
	ph_ws_rx_init(&s->rx);
	if (client_transport_connect(s->t, cause) != 0) {
		client_session_free(s);
		return NULL;
	}
	client_loop_timer(cc->loop, &s->tick, SESSION_TICK_MS, session_tick, s);
	return s;
}

/* May the owner send: the session is open, or resumes between connections. */
static int
session_can_send(const struct client_session *s)
{
	if (s->state == SESSION_OPEN)
		return 1;
	return s->resumes && !s->our_close && s->lost_ms != 0 &&
	    s->state != SESSION_DONE && s->state != SESSION_CLOSING;
}

int
client_session_send(struct client_session *s, int type, const void *p, size_t n)
{
	if (!session_can_send(s) || n > PH_MAX_PAYLOAD)
		return -1;
	return session_send_msg(s, type, p, n);
}

int
client_session_send_ctl(struct client_session *s, json_t *obj)
{
	uint8_t	*msg = NULL;
	size_t	 len = 0;
	int	 r = -1;

	if (obj != NULL && session_can_send(s) &&
	    ph_ctl_encode(obj, &msg, &len) == 0 && len <= PH_MAX_MESSAGE)
		r = session_send_msg(s, -1, msg + PH_HEADROOM, len);
	free(msg);
	json_decref(obj);
	return r;
}

int
client_session_send_open(struct client_session *s, json_t *obj, long agent_proto)
{
	struct client_conf	*conf = s->cc->conf;
	const char		*agent;
	char			*why = NULL;
	json_int_t		 proto;
	uint8_t			*msg = NULL;
	size_t			 len = 0;
	int			 r = -1;

	if (obj == NULL)
		return -1;
	agent = json_string_value(json_object_get(obj, "agent"));
	free(s->agent);
	s->agent = client_printable(agent != NULL ? agent : "?");
	/* A resume names the session and its agent (protocol 2 ids: full). */
	free(s->sid);
	free(s->agent_id);
	s->sid = json_string_value(json_object_get(obj, "sid")) != NULL ?
	    strdup(json_string_value(json_object_get(obj, "sid"))) : NULL;
	s->agent_id = agent != NULL && json_object_get(obj, "agent_sub") == NULL ?
	    strdup(agent) : NULL;
	/*
	 * No downgrade: an agent listed below the sealing protocol gets no
	 * open unless --allow-unsealed (what arrives is checked again).
	 */
	proto = agent_proto;
	if (proto < PH_PROTOCOL_SEALED && !conf->allow_unsealed) {
		session_set_cause(s, ph_asprintf("%s does not seal sessions end to "
		    "end (it speaks protocol %lld), so the relay could read and "
		    "alter this one: upgrade the agent, or pass --allow-unsealed",
		    s->agent, (long long)(proto < 1 ? 1 : proto)));
		json_decref(obj);
		session_hangup(s);
		return -1;
	}
	/* A client that will not reconnect: the agent holds nothing for it. */
	if ((s->seal = client_seal_new(obj, &why)) == NULL ||
	    (s->resume_ms <= 0 && json_object_set_new(obj, "resume",
	    json_false()) != 0) ||
	    client_sign_open(conf, obj, &why) != 0 ||
	    client_seal_sent(s->seal, obj, conf->jti, &why) != 0) {
		session_set_cause(s, ph_asprintf("cannot sign the request: %s", why));
		free(why);
		json_decref(obj);
		session_hangup(s);
		return -1;
	}
	/* The open itself goes clear, before the seal is waited for. */
	if (s->state == SESSION_OPEN && ph_ctl_encode(obj, &msg, &len) == 0 &&
	    len <= PH_MAX_MESSAGE)
		r = session_queue_frame(s, PH_WS_BINARY, -1, msg + PH_HEADROOM, len);
	free(msg);
	json_decref(obj);
	if (r == 0)
		s->seal_state = SEAL_AWAIT;
	return r;
}

int
client_session_full(const struct client_session *s)
{
	if (s->seal_state == SEAL_AWAIT)
		return 1;	/* held until the agent's share came */
	if (s->resumes)
		return s->state != SESSION_OPEN || s->proving ||
		    s->rs.held >= s->rs_soft || client_transport_full(s->t);
	return client_transport_full(s->t);
}

int
client_session_between(const struct client_session *s)
{
	return session_can_send(s) && s->lost_ms != 0;
}

int
client_session_keeps(const struct client_session *s)
{
	return client_session_between(s) && s->rs.held < s->rs_soft;
}

void
client_session_rx(struct client_session *s, int on)
{
	if (s->state == SESSION_DONE || on == !s->rx_paused)
		return;
	s->rx_paused = !on;
	if (on)
		client_transport_touch(s->t, ph_mono_ms());
	client_transport_rx(s->t, on);
}

void
client_session_close(struct client_session *s, int code, const char *reason,
    int flush)
{
	const uint8_t	*rec;
	size_t		 len;
	char		*cause = NULL;

	s->our_close = 1;
	if (s->state == SESSION_WAITING) {
		/* Between connections: nobody to tell; end from the loop. */
		client_loop_timer(s->cc->loop, &s->retry, 0, session_give_up, s);
		return;
	}
	if (s->seal_state == SEAL_AWAIT && s->state == SESSION_OPEN) {
		/*
		 * The agent's `seal` is on its way (maybe unread while the owner
		 * paused us): it keys the close record that stops the agent
		 * holding the session for a resume (session_seal_flush closes).
		 * What else comes meanwhile is the owner's to drop; its own
		 * bound (CLIENT_RUN_ABORT_MS) ends it if the seal never comes.
		 */
		s->close_await = 1;
		s->close_code = code;
		s->close_flush = flush;
		snprintf(s->close_reason, sizeof s->close_reason, "%s",
		    reason != NULL ? reason : "");
		client_session_rx(s, 1);
		return;
	}
	if (s->resumes && s->state == SESSION_OPEN && !s->proving) {
		/*
		 * Our close record: the agent ends the session now rather than
		 * hold it for a resume.  It goes out before the close frame.
		 */
		if (client_seal_empty(s->seal, PH_SEAL_CLOSE, &rec, &len, &cause) == 0)
			(void)session_queue_frame(s, PH_WS_BINARY, -1, rec, len);
		free(cause);
		flush = 1;
	}
	session_closing(s, code, reason, flush);
}

void
client_session_fail(struct client_session *s, int close_code,
    const char *err_code, const char *message)
{
	s->our_close = 1;
	if (s->state != SESSION_OPEN)
		return;
	session_set_cause(s, ph_asprintf("the relay broke the protocol (%s); "
	    "the session was closed and output may be truncated", message));
	client_session_send_ctl(s, ph_ctl_error(err_code, "%s", message));
	session_closing(s, close_code, err_code, 1);
}

void
client_session_free(struct client_session *s)
{
	if (s == NULL)
		return;
	client_loop_timer(s->cc->loop, &s->tick, -1, NULL, NULL);
	client_loop_timer(s->cc->loop, &s->retry, -1, NULL, NULL);
	client_transport_free(s->t);
	client_seal_free(s->seal);
	ph_resume_clear(&s->rs);
	json_decref(s->held_error);
	free(s->first_error);
	free(s->final_cause);
	free(s->sid);
	free(s->agent_id);
	ph_queue_free(&s->pending);
	free(s->agent);
	ph_msgbuf_free(&s->in);
	free(s->frame);
	free(s->head);
	free(s);
}
