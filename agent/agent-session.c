/*
 * agent-session.c - the data channels: one WebSocket per session to
 * wss://RELAY/v1/agent/session/<sid>, and the operation behind it.
 *
 * On `open` (from the control channel) the agent checks it (agent-verify.c)
 * and dials the data channel with its agent token, to the numeric address the control channel
 * resolved (no DNS on the loop), and queues `attach` {sid, secret}; then it
 * starts the operation from the table in op.c, or, for an open it refused,
 * only sends `error` with the reason and closes 4401/4403.  Frames toward the relay go
 * through one bounded queue, written one message per WRITEABLE callback;
 * the operation stops reading its sources while the queue is above its
 * high mark and reads again below the low mark (op->resume).  Frames from
 * the relay are reassembled up to the protocol's cap and handed to the
 * operation (STDIN, resize, signal, eof).
 *
 * A session ends when its operation has queued `exit` and the queue has
 * drained (close 1000), or when the channel closes first: then the
 * operation is told it lost its peer and kills its program.  The session is
 * freed only when the channel is closed and the operation holds nothing.
 *
 * Keepalive: the channel pings like the control channel, but a session that
 * is flow-controlled cannot read pongs (rx paused) or get its ping out (send
 * pipe choked behind a slow client): libwebsockets would hang up on a live
 * transfer after PH_HANGUP_SECS (research §5).  So while the session is
 * flow-controlled a timer confirms its validity itself, and checks the
 * paused socket for the relay's hangup (POLLRDHUP); a peer that dies
 * silently is found by TCP once data moves again.
 */
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "porthole/frame.h"
#include "porthole/log.h"
#include "porthole/ops.h"
#include "porthole/token.h"
#include "porthole/util.h"

#include "agent.h"
#include "op.h"

static const struct agent_chan_ops agent_session_chan_ops;	/* below */

#define AGENT_SESSIONS_MAX	256	/* beyond this an open is ignored (relay times it out) */
#define AGENT_KEEP_SECS		5	/* < PH_PING_SECS: confirm before a ping is due */

/*
 * Every AGENT_KEEP_SECS while the channel is up.  A paused channel is not
 * read, so neither a pong nor the relay's close or FIN would be noticed:
 * confirm validity ourselves, and look for the hangup with POLLRDHUP,
 * which the kernel reports even with unread data in front of the FIN.
 */
static void
agent_session_keep(lws_sorted_usec_list_t *sul)
{
	struct agent_session	*s = lws_container_of(sul, struct agent_session, sul_keep);
	struct pollfd		 pfd;

	if (s->chan.wsi == NULL)
		return;
	if (s->rx_paused) {
		pfd.fd = lws_get_socket_fd(s->chan.wsi);
		pfd.events = POLLRDHUP;
		pfd.revents = 0;
		if (pfd.fd >= 0 && poll(&pfd, 1, 0) == 1 &&
		    (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0) {
			ph_info("session %.8s: the relay hung up while the channel was "
			    "paused", s->sid);
			lws_set_timeout(s->chan.wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
			return;
		}
	}
	if (s->rx_paused || ph_queue_peek(&s->chan.out) != NULL ||
	    lws_send_pipe_choked(s->chan.wsi))
		lws_validity_confirmed(s->chan.wsi);
	lws_sul_schedule(s->agent->ctx, 0, &s->sul_keep, agent_session_keep,
	    (lws_usec_t)AGENT_KEEP_SECS * LWS_US_PER_SEC);
}

/* The jti of the open's client token (decoded only: verified before), or NULL. */
static char *
agent_session_jti(json_t *open)
{
	json_t		*claims = NULL;
	const char	*token = json_string_value(ph_open_relayed(open, "token"));
	char		*why = NULL, *jti = NULL;

	if (token == NULL || ph_token_decode(token, NULL, &claims, &why) != 0) {
		free(why);
		return NULL;
	}
	if (json_string_value(json_object_get(claims, "jti")) != NULL)
		jti = strdup(json_string_value(json_object_get(claims, "jti")));
	json_decref(claims);
	return jti;
}

/* Start a session for an `open` from the relay; -1 with *cause if malformed. */
int
agent_session_open(struct agent *a, json_t *open, char **cause)
{
	struct agent_session		*s;
	const char			*sid, *secret, *op, *sub, *rcode = NULL;
	char				*why = NULL, *jti = NULL;
	json_t				*fwd = NULL;
	int				 rclose = 0;

	sid = json_string_value(ph_open_get(open, "sid"));
	secret = json_string_value(ph_open_relayed(open, "secret"));
	op = json_string_value(ph_open_get(open, "op"));
	sub = json_string_value(ph_open_relayed(open, "sub"));
	if (sid == NULL || !ph_sid_valid(sid)) {
		*cause = ph_asprintf("sid is not %d hex digits", PH_SID_LEN);
		return -1;
	}
	if (secret == NULL || strlen(secret) != PH_SECRET_LEN ||
	    strspn(secret, "0123456789abcdef") != PH_SECRET_LEN) {
		*cause = ph_asprintf("secret is not %d hex digits", PH_SECRET_LEN);
		return -1;
	}
	if (op == NULL) {
		*cause = ph_asprintf("no op");
		return -1;
	}
	if (a->stopping) {
		ph_info("session %.8s: not started: the agent is shutting down", sid);
		return 0;
	}
	if (agent_verify_open(a, open, &rcode, &rclose, &fwd, &why) != 0)
		ph_warn("session %.8s: refused %s: %s", sid, op, why);
	else
		rcode = NULL;
	sub = json_string_value(ph_open_relayed(open, "sub"));	/* the token's */
	jti = agent_session_jti(open);	/* verified above: a sealed session's transcript */
	json_object_del(open, "token");		/* not kept (wiped: agent-secret.c) */
	for (s = a->sessions; rcode == NULL && s != NULL; s = s->next) {
		if (strcmp(s->sid, sid) == 0) {
			ph_warn("session %.8s: second open for a running session ignored", sid);
			free(jti);
			json_decref(fwd);
			return 0;
		}
	}
	if (a->nsessions >= AGENT_SESSIONS_MAX) {
		ph_warn("session %.8s: not started: %u sessions are running already", sid,
		    a->nsessions);
		free(why);
		free(jti);
		json_decref(fwd);
		return 0;
	}

	if ((s = calloc(1, sizeof *s)) == NULL) {
		ph_err("session %.8s: out of memory", sid);
		free(why);
		free(jti);
		json_decref(fwd);
		return 0;
	}
	s->forward_claim = fwd;
	if (rcode != NULL) {
		s->refuse_code = rcode;
		s->refuse_close = rclose;
		s->refuse_msg = why;	/* said on the data channel */
		why = NULL;
	}
	free(why);
	s->agent = a;
	s->jti = jti;
	memcpy(s->sid, sid, PH_SID_LEN);
	memcpy(s->secret, secret, PH_SECRET_LEN);
	json_object_del(open, "secret");	/* s->secret is the one copy */
	secret = NULL;
	s->sub = strdup(sub != NULL ? sub : "?");
	s->path = ph_asprintf("%s%s", PH_PATH_AGENT_SESSION, sid);
	s->open = json_incref(open);
	agent_chan_init(&s->chan, &agent_session_chan_ops, s, AGENT_OUT_LOW,
	    AGENT_OUT_HIGH, AGENT_OUT_LIMIT);
	snprintf(s->chan.label, sizeof s->chan.label, "session %.8s: ", sid);
	s->next = a->sessions;
	a->sessions = s;
	a->nsessions++;
	if (s->refuse_code == NULL)
		ph_info("session %.8s: %s for %s", sid, op, s->sub);

	if (s->sub == NULL || agent_chan_connect(&s->chan, a, s->path,
	    PH_SUBPROTO_SESSION, AGENT_SESSION_PROTOCOL) != 0) {
		ph_warn("session %.8s: cannot start a connection to the relay", sid);
		agent_session_check(s);
	}
	return 0;
}

/*
 * Send `error` {code, message}, then close with close_code once the queue
 * is out; input is no longer read.  A second failure keeps the first.
 */
void
agent_session_fail(struct agent_session *s, int close_code, const char *code,
    const char *fmt, ...)
{
	va_list	ap;
	char	msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (!agent_chan_open(&s->chan))
		return;
	ph_info("session %.8s: %s: %s (closing %d)", s->sid, code, msg, close_code);
	/* Sealed: the client hears it sealed, the relay in the clear too. */
	if (s->sealed != NULL) {
		char	*why = NULL;

		if (agent_seal_ctl(s, ph_ctl_error(code, "%s", msg), &why) != 0)
			ph_debug("session %.8s: %s", s->sid, why);
		free(why);
	}
	if (agent_chan_push_ctl(&s->chan, ph_ctl_error(code, "%s", msg)) != 0)
		close_code = PH_CLOSE_INTERNAL;
	agent_chan_close(&s->chan, close_code);
}

/*
 * Queue output for the relay (STDOUT, STDERR, DATA).  Dropped silently when
 * the session is closing; -1 (and the session fails) past the hard limit.
 */
int
agent_session_send(struct agent_session *s, int type, const void *p, size_t n)
{
	char	*why = NULL;

	if (!agent_chan_open(&s->chan))
		return 0;
	if (s->sealed != NULL) {
		if (agent_seal_send(s, type, p, n, &why) == 0)
			return 0;
		agent_session_fail(s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL, "%s", why);
		free(why);
		return -1;
	}
	if (agent_chan_push(&s->chan, type, p, n) != 0) {
		agent_session_fail(s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL,
		    "output queue overflow (%zu bytes queued)", s->chan.out.bytes);
		return -1;
	}
	return 0;
}

/* Queue a control message for the relay; takes the reference. */
int
agent_session_send_ctl(struct agent_session *s, json_t *msg)
{
	char	*why = NULL;

	if (!agent_chan_open(&s->chan)) {
		json_decref(msg);
		return 0;
	}
	if (s->sealed != NULL) {
		if (agent_seal_ctl(s, msg, &why) == 0)
			return 0;
		agent_session_fail(s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL, "%s", why);
		free(why);
		return -1;
	}
	if (agent_chan_push_ctl(&s->chan, msg) != 0) {
		agent_session_fail(s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL,
		    "cannot queue a control message");
		return -1;
	}
	return 0;
}

/*
 * A control message for the relay alone (a forward's `report`, for its
 * audit).  In a sealed session it goes beside the records in the clear, as
 * the exit's audit copy does; the relay drops it either way.
 */
int
agent_session_send_relay_ctl(struct agent_session *s, json_t *msg)
{
	if (s->sealed == NULL || !agent_chan_open(&s->chan))
		return agent_session_send_ctl(s, msg);
	if (agent_seal_clear_ctl(s, msg) != 0) {
		agent_session_fail(s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL,
		    "cannot queue a control message");
		return -1;
	}
	return 0;
}

int
agent_session_over_high(const struct agent_session *s)
{
	return ph_queue_over_high(&s->chan.out);
}

/* Is anything queued toward the relay? */
int
agent_session_queued(const struct agent_session *s)
{
	return s->chan.out.count != 0;
}

/* Bytes an operation may read for one output frame. */
size_t
agent_session_read_max(const struct agent_session *s)
{
	size_t	max = s->agent->max_payload;

	if (max > PH_MAX_PAYLOAD)
		max = PH_MAX_PAYLOAD;
	if (max > agent_seal_max(s) + 1)
		max = agent_seal_max(s) + 1;	/* a sealed record's frame */
	return max - 1;
}

/* Stop (pause != 0) or resume reading the data channel. */
void
agent_session_rx_pause(struct agent_session *s, int pause)
{
	if (s->chan.wsi == NULL || s->rx_paused == !!pause)
		return;
	s->rx_paused = !!pause;
	lws_rx_flow_control(s->chan.wsi, pause ? 0 : 1 | LWS_RXFLOW_REASON_FLAG_PROCESS_NOW);
}

/* OPENING → RUNNING: start op. */
static void
agent_session_run(struct agent_session *s, const struct op_entry *op)
{
	s->op = op;
	s->state = AGENT_SESSION_RUNNING;
	op->start(s, s->open);
}

/* RUNNING (or OPENING) → FINISHING: nothing more is asked of the operation. */
static void
agent_session_finish(struct agent_session *s)
{
	if (s->state == AGENT_SESSION_OPENING || s->state == AGENT_SESSION_RUNNING)
		s->state = AGENT_SESSION_FINISHING;
}

/* Any → CLOSED: the channel is gone; a RUNNING operation is told (lost). */
static void
agent_session_to_closed(struct agent_session *s)
{
	int	running = s->state == AGENT_SESSION_RUNNING;

	s->state = AGENT_SESSION_CLOSED;
	if (running && s->op != NULL && s->op->lost != NULL) {
		ph_info("session %.8s: channel closed before the program ended: stopping it",
		    s->sid);
		s->op->lost(s);
	}
}

/* The operation is over: queue `exit` (takes the reference), close 1000 after. */
void
agent_session_exit(struct agent_session *s, json_t *exit_msg)
{
	char	*txt;

	if (s->state != AGENT_SESSION_RUNNING || !agent_chan_open(&s->chan)) {
		json_decref(exit_msg);
		return;
	}
	agent_session_finish(s);
	if ((txt = json_dumps(exit_msg, JSON_COMPACT)) != NULL) {
		ph_info("session %.8s: %s", s->sid, txt);
		free(txt);
	}
	if (s->sealed != NULL) {
		/*
		 * The client acts on the sealed exit; the relay gets it in the
		 * clear for its audit first (it does not forward that one), so
		 * it has it before the client, done, can leave.
		 */
		char	*why = NULL;
		json_t	*copy = json_deep_copy(exit_msg);

		if (copy == NULL || agent_chan_push_ctl(&s->chan, copy) != 0) {
			json_decref(exit_msg);
			agent_session_fail(s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL,
			    "cannot queue exit");
			return;
		}
		if (agent_seal_ctl(s, exit_msg, &why) != 0) {
			agent_session_fail(s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL, "%s", why);
			free(why);
			return;
		}
	} else if (agent_chan_push_ctl(&s->chan, exit_msg) != 0) {
		agent_session_fail(s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL, "cannot queue exit");
		return;
	}
	agent_chan_close(&s->chan, PH_CLOSE_NORMAL);
}

/* Free the session if nothing holds it any more (channel closed, op idle). */
void
agent_session_check(struct agent_session *s)
{
	struct agent		 *a = s->agent;
	struct agent_session	**pp;

	if (s->chan.wsi != NULL || (s->op != NULL && s->op->busy != NULL && s->op->busy(s)))
		return;
	for (pp = &a->sessions; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			a->nsessions--;
			break;
		}
	}
	ph_debug("session %.8s: freed", s->sid);
	if (s->op != NULL && s->op->free != NULL)
		s->op->free(s);
	lws_sul_cancel(&s->sul_keep);
	agent_chan_free(&s->chan);
	json_decref(s->open);
	explicit_bzero(s->secret, sizeof s->secret);
	agent_seal_free(s);
	free(s->jti);
	free(s->sub);
	free(s->path);
	free(s->refuse_msg);
	json_decref(s->forward_claim);
	free(s);
	agent_check_done(a);
}

/* The channel is closed (or failed to connect): tell the operation, maybe free. */
static void
agent_session_closed(struct agent_session *s, struct lws *wsi)
{
	if (s->chan.wsi != wsi)
		return;
	agent_chan_gone(&s->chan);
	lws_sul_cancel(&s->sul_keep);
	agent_session_to_closed(s);
	agent_session_check(s);
}

/* WSI_DESTROY safety net from protocols[0]. */
void
agent_session_lost(struct agent *a, struct lws *wsi)
{
	struct agent_session	*s;

	for (s = a->sessions; s != NULL; s = s->next) {
		if (s->chan.wsi == wsi) {
			agent_session_closed(s, wsi);
			return;
		}
	}
}

static void
agent_session_established(struct agent_session *s)
{
	const char	*opname = json_string_value(json_object_get(s->open, "op"));
	const struct op_entry *op;
	json_t		*att;

	ph_debug("session %.8s: data channel up: attaching", s->sid);
	att = ph_ctl_new(PH_CTL_ATTACH);
	if (att == NULL || json_object_set_new(att, "sid", json_string(s->sid)) != 0 ||
	    json_object_set_new(att, "secret", json_string(s->secret)) != 0) {
		json_decref(att);
		att = NULL;
	}
	explicit_bzero(s->secret, sizeof s->secret);
	if (att == NULL || agent_chan_push_ctl(&s->chan, att) != 0) {
		agent_chan_close(&s->chan, PH_CLOSE_INTERNAL);
		return;
	}
	lws_sul_schedule(s->agent->ctx, 0, &s->sul_keep, agent_session_keep,
	    (lws_usec_t)AGENT_KEEP_SECS * LWS_US_PER_SEC);

	if (s->refuse_code != NULL) {
		agent_session_fail(s, s->refuse_close, s->refuse_code, "%s",
		    s->refuse_msg);
		return;
	}
	/* A sealed open: the agent's share goes first, before the operation. */
	if (json_string_value(json_object_get(s->open, "seal")) != NULL) {
		char	*why = NULL;

		if (agent_seal_start(s, s->jti, &why) != 0) {
			agent_seal_free(s);
			agent_session_fail(s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
			    "cannot seal the session: %s", why);
			free(why);
			return;
		}
	}
	if ((op = op_find(opname)) == NULL) {
		/* The client reports the error; the close is a normal one. */
		agent_session_fail(s, PH_CLOSE_NORMAL, PH_ERR_UNSUPPORTED,
		    "operation '%s' is not supported by this agent (version %s)", opname,
		    PORTHOLE_VERSION);
		return;
	}
	agent_session_run(s, op);
}

/* One frame for the session (clear, or opened from a sealed record). */
static void
agent_session_dispatch(struct agent_session *s, struct ph_frame *f)
{
	if (f->type == PH_FRAME_STREAM && (s->op == NULL || ph_ops_find(s->op->name) == NULL ||
	    (ph_ops_find(s->op->name)->flags & PH_OPF_STREAMS) == 0)) {
		agent_session_fail(s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
		    "STREAM frames go only to an operation that carries streams");
		return;
	}
	switch (f->type) {
	case PH_FRAME_STDIN:
	case PH_FRAME_DATA:	/* cp put: the stream (op-cp.c) */
	case PH_FRAME_STREAM:	/* forward's connections (op-forward.c) */
		if (s->op != NULL && s->op->input != NULL)
			s->op->input(s, f);
		break;
	case PH_FRAME_CONTROL:
		switch (f->ctl) {
		case PH_CTL_RESIZE:
		case PH_CTL_SIGNAL:
		case PH_CTL_EOF:
		case PH_CTL_META:
			if (s->op != NULL && s->op->input != NULL)
				s->op->input(s, f);
			break;
		case PH_CTL_ERROR:
			ph_warn("session %.8s: relay says %s: %s", s->sid,
			    json_string_value(json_object_get(f->json, "code")),
			    json_string_value(json_object_get(f->json, "message")));
			break;
		default:
			agent_session_fail(s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
			    "%s is not expected on a data channel",
			    f->ctl_name != NULL ? f->ctl_name : "message");
			break;
		}
		break;
	default:
		agent_session_fail(s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
		    "%s frames do not go to the agent", ph_frame_type_name(f->type));
		break;
	}
}

/*
 * One whole message from the relay (agent_chan_ops.frame).  In a sealed
 * session only records reach the operation, opened; a record that does
 * not open ends the session before anything of it reaches the program.
 */
static void
agent_session_frame(void *arg, struct ph_frame *f)
{
	struct agent_session	*s = arg;
	struct ph_frame		 inner;
	const char		*code = NULL;
	char			*why = NULL;
	int			 r;

	if (s->sealed == NULL) {
		agent_session_dispatch(s, f);
		return;
	}
	memset(&inner, 0, sizeof inner);
	r = agent_seal_open(s, f, &inner, &code, &why);
	if (r < 0) {
		ph_warn("session %.8s: %s: stopping the program", s->sid, why);
		agent_session_fail(s, PH_CLOSE_POLICY, code, "%s", why);
		free(why);
		return;
	}
	if (r > 0) {
		if (f->type == PH_FRAME_CONTROL)
			agent_session_dispatch(s, f);	/* the relay's error: logged */
		return;
	}
	agent_session_dispatch(s, &inner);
	ph_frame_clear(&inner);
}

static void
agent_session_chan_fail(void *arg, int close_code, const char *code, const char *msg)
{
	agent_session_fail(arg, close_code, code, "%s", msg);
}

/* The queue is under its low mark: the operation may read its sources again. */
static void
agent_session_low(void *arg)
{
	struct agent_session	*s = arg;

	if (s->op != NULL && s->op->resume != NULL)
		s->op->resume(s);
}

static const struct agent_chan_ops agent_session_chan_ops = {
	.frame = agent_session_frame,
	.fail = agent_session_chan_fail,
	.low = agent_session_low,
	.write = agent_wsframe_write,
};


int
agent_session_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct agent		*a = lws_context_user(lws_get_context(wsi));
	struct agent_session	*s;
	const unsigned char	*c = in;

	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		return agent_control_auth_header(a, wsi, in, len);
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		if ((s = lws_get_opaque_user_data(wsi)) != NULL && !a->destroying)
			agent_session_established(s);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if ((s = lws_get_opaque_user_data(wsi)) != NULL && !a->destroying)
			agent_chan_receive(&s->chan, wsi, in, len);
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if ((s = lws_get_opaque_user_data(wsi)) == NULL || a->destroying)
			return -1;
		return agent_chan_writeable(&s->chan, wsi);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if ((s = lws_get_opaque_user_data(wsi)) != NULL && len >= 2)
			ph_debug("session %.8s: relay closed the channel: %d %.*s", s->sid,
			    c[0] << 8 | c[1], (int)(len - 2), (const char *)c + 2);
		return 0;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
	case LWS_CALLBACK_CLIENT_CLOSED:
		if ((s = lws_get_opaque_user_data(wsi)) == NULL)
			return 0;
		if (a->destroying) {
			if (s->chan.wsi == wsi)
				s->chan.wsi = NULL;
			return 0;
		}
		if (reason == LWS_CALLBACK_CLIENT_CONNECTION_ERROR && s->chan.wsi == wsi)
			ph_warn("session %.8s: cannot connect to relay %s:%d: %s%s%s", s->sid,
			    a->cfg.host, a->cfg.port,
			    in != NULL ? (const char *)in : "connection failed",
			    a->tls_error[0] != '\0' ? ": " : "", a->tls_error);
		agent_session_closed(s, wsi);
		return 0;
	default:
		return 0;
	}
}

/* Shutdown: every program is stopped, every channel closed with 1001. */
void
agent_session_stop_all(struct agent *a)
{
	struct agent_session	*s, *next;

	for (s = a->sessions; s != NULL; s = next) {
		next = s->next;
		if (s->state == AGENT_SESSION_RUNNING && s->op != NULL &&
		    s->op->lost != NULL)
			s->op->lost(s);
		agent_session_finish(s);
		if (s->chan.wsi != NULL) {
			agent_chan_close(&s->chan, PH_CLOSE_GOING_AWAY);	/* unless closing */
			lws_callback_on_writable(s->chan.wsi);
			/* Do not wait long for a relay that does not read. */
			lws_set_timeout(s->chan.wsi, PENDING_TIMEOUT_CLOSE_SEND, 2);
		}
		agent_session_check(s);
	}
}

/* After lws_context_destroy(): free what is left, whatever its state. */
void
agent_session_free_all(struct agent *a)
{
	struct agent_session	*s;

	while ((s = a->sessions) != NULL) {
		a->sessions = s->next;
		if (s->op != NULL && s->op->free != NULL)
			s->op->free(s);
		agent_chan_free(&s->chan);
		json_decref(s->open);
		agent_seal_free(s);
		free(s->jti);
		free(s->sub);
		free(s->path);
		free(s->refuse_msg);
		json_decref(s->forward_claim);
		free(s);
	}
	a->nsessions = 0;
}
