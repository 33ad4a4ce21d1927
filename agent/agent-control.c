/*
 * agent-control.c - the control channel: one WebSocket to wss://RELAY/v1/agent.
 *
 * Life of a connection: resolve the relay's name off the loop
 * (agent-resolve.c), connect to the numeric address with the name as host
 * (SNI, certificate check, Host), send `hello` (claiming a->claimed), get
 * `welcome` (naming the full id the relay registered: compared with ours,
 * never adopted), then receive
 * `open` requests, each of which starts a session (agent-session.c).  The
 * agent reconnects forever with capped (30 s), jittered exponential backoff;
 * the backoff is reset by `welcome`, not by the WebSocket upgrade, because
 * a relay that refuses an agent completes the upgrade first and then sends
 * `error` and closes 4401/4403: resetting on the upgrade would make a
 * refused agent knock every half second.  A relay's verdict (4401, 4403)
 * is never a reason to exit: the relay's keys may rotate, its revocation
 * list change, and nothing restarts a launcher-mode agent that gave up; so
 * the agent keeps knocking, and every problem it retries is logged once,
 * then again every 10 minutes with a count (agent_problem).  A certificate
 * the agent cannot verify is said with what to set (agent_tls_hint), as the
 * CLI says it.  A relay that closes
 * with 1001 is restarting: its agents come back spread over a few seconds.
 *
 * Keepalive: libwebsockets pings after PH_PING_SECS without a pong and
 * hangs up after PH_HANGUP_SECS.  The control channel is never paused, so
 * the hangup only catches dead relays.  Losing the control channel does
 * not touch running sessions: they have their own connections.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libwebsockets.h>

#include "porthole/frame.h"
#include "porthole/log.h"
#include "porthole/token.h"
#include "porthole/util.h"

#include "agent.h"
#include "agent-capture.h"
#include "op.h"

/* 0.5 s doubling to 24 s; +0..25 % jitter caps the wait at 30 s. */
static const uint32_t agent_backoff_ms[] = {
	500, 1000, 2000, 4000, 8000, 16000, 24000
};

/*
 * Shared by both channel kinds: backoff table and keepalive (must be
 * static; main sets the keepalive from PORTHOLE_HANGUP_SECS).
 */
lws_retry_bo_t agent_retry_policy = {
	.retry_ms_table = agent_backoff_ms,
	.retry_ms_table_count = sizeof agent_backoff_ms / sizeof agent_backoff_ms[0],
	.conceal_count = LWS_RETRY_CONCEAL_ALWAYS,
	.secs_since_valid_ping = PH_PING_SECS,
	.secs_since_valid_hangup = PH_HANGUP_SECS,
	.jitter_percent = 25,
};

/* A relay restart (close 1001): reconnect within 0.5 s + up to this. */
#define AGENT_RESTART_SPREAD_MS	5000
/* A fleet's relay leaving (4307): reconnect through the balancer within this. */
#define AGENT_MOVE_SPREAD_MS	1000

static void	agent_control_retry(struct agent *a);
static void	agent_control_retry_cb(lws_sorted_usec_list_t *sul);

static int64_t
agent_now_secs(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

/*
 * A problem the agent retries (agent.h): the first time at warn, repeats
 * at debug ("(again)"), and at warn once more every
 * AGENT_PROBLEM_REPEAT_SECS so that a log read later still shows why the
 * agent is not connected.  welcome forgets the last message.
 */
void
agent_problem(struct agent *a, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;
	int64_t	 now = agent_now_secs();

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (msg == NULL)
		return;
	if (a->last_problem != NULL && strcmp(a->last_problem, msg) == 0) {
		a->problem_repeats++;
		if (now - a->last_problem_at < AGENT_PROBLEM_REPEAT_SECS) {
			ph_debug("%s (again)", msg);
			free(msg);
			return;
		}
		ph_warn("%s (still: %u times in the last %d min)", msg,
		    a->problem_repeats, AGENT_PROBLEM_REPEAT_SECS / 60);
		a->last_problem_at = now;
		a->problem_repeats = 0;
		free(msg);
		return;
	}
	ph_warn("%s", msg);
	free(a->last_problem);
	a->last_problem = msg;
	a->last_problem_at = now;
	a->problem_repeats = 0;
}

void
agent_problem_clear(struct agent *a)
{
	free(a->last_problem);
	a->last_problem = NULL;
	a->problem_repeats = 0;
}

/* Send `error` and close with close_code once it is out. */
static void __attribute__((format(printf, 4, 5)))
agent_control_fail(struct agent *a, int close_code, const char *code, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[256];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	ph_warn("relay: %s: closing the control channel (%d)", msg, close_code);
	if (a->control.state != AGENT_CHAN_OPEN)
		return;
	agent_chan_push_ctl(&a->control, ph_ctl_error(code, "%s", msg));
	agent_chan_close(&a->control, close_code);
}

/*
 * Authorization: Bearer <token> on the upgrade, for both channel kinds
 * (LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: in is char **p, len the room).
 */
int
agent_control_auth_header(struct agent *a, struct lws *wsi, void *in, size_t len)
{
	unsigned char	**p = in, *end = *p + len;
	char		  value[PH_TOKEN_MAX + 8];
	int		  n;

	n = snprintf(value, sizeof value, "Bearer %s", a->cfg.token);
	if (n < 0 || (size_t)n >= sizeof value ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
	    (unsigned char *)value, n, p, end) != 0) {
		explicit_bzero(value, sizeof value);
		ph_err("the token does not fit in the upgrade request");
		return -1;
	}
	explicit_bzero(value, sizeof value);
	return 0;
}

/* Begin a connection attempt: resolve first (the answer comes back below). */
void
agent_control_start(struct agent *a)
{
	char	*cause = NULL;

	if (a->stopping || a->control.wsi != NULL || a->resolve != NULL)
		return;
	if (agent_resolve_start(a, &cause) != 0) {
		agent_problem(a, "%s", cause);
		free(cause);
		agent_control_retry(a);
	}
}

static void
agent_control_retry_cb(lws_sorted_usec_list_t *sul)
{
	struct agent	*a = lws_container_of(sul, struct agent, sul_control);

	agent_control_start(a);
}

/*
 * While a session is held for its client to resume, the relay it resumes
 * through is tried every AGENT_HELD_RETRY_MS (+0..50 % jitter), not on the
 * backoff table: a restarted relay's sessions go on within a second of it,
 * not after the table's 4 or 8 s step.
 */
#define AGENT_HELD_RETRY_MS	500

static int
agent_holds_session(const struct agent *a)
{
	const struct agent_session	*s;

	for (s = a->sessions; s != NULL; s = s->next)
		if (s->held)
			return 1;
	return 0;
}

/* Schedule the next attempt on the backoff table. */
static void
agent_control_retry(struct agent *a)
{
	uint32_t	r = 0;

	if (a->stopping)
		return;
	if (agent_holds_session(a)) {
		lws_get_random(a->ctx, &r, sizeof r);
		lws_sul_schedule(a->ctx, 0, &a->sul_control, agent_control_retry_cb,
		    (lws_usec_t)(AGENT_HELD_RETRY_MS + r % (AGENT_HELD_RETRY_MS / 2)) *
		    LWS_US_PER_MS);
		return;
	}
	lws_retry_sul_schedule(a->ctx, 0, &a->sul_control, &agent_retry_policy,
	    agent_control_retry_cb, &a->control_retries);
}

/* The resolver answered: connect to addr, or retry later. */
void
agent_control_resolved(struct agent *a, const char *addr, const char *error)
{
	if (a->stopping)
		return;
	if (addr == NULL) {
		agent_problem(a, "cannot resolve relay %s: %s", a->cfg.host, error);
		agent_control_retry(a);
		return;
	}
	snprintf(a->relay_addr, sizeof a->relay_addr, "%s", addr);

	a->control_welcomed = 0;
	a->control_got_error = 0;
	a->control_going_away = 0;
	agent_chan_reset(&a->control);
	a->tls_error[0] = '\0';
	a->tls_verify_err = 0;
	ph_debug("connecting to %s:%d (%s)", a->cfg.host, a->cfg.port, a->relay_addr);
	if (agent_chan_connect(&a->control, a, PH_PATH_AGENT, PH_SUBPROTO_CONTROL,
	    AGENT_CONTROL_PROTOCOL) != 0) {
		agent_problem(a, "cannot connect to relay %s:%d: no connection could be "
		    "started", a->cfg.host, a->cfg.port);
		agent_control_retry(a);
	}
}

/*
 * The control channel is gone (error, close, or the WSI_DESTROY that
 * protocols[0] sees for every wsi): clean up and retry.  A wsi that is not
 * the control channel is ignored.
 */
void
agent_control_lost(struct agent *a, struct lws *wsi)
{
	int	was_welcomed = a->control_welcomed;

	if (wsi != a->control.wsi)
		return;
	agent_chan_gone(&a->control);
	if (a->stopping) {
		agent_check_done(a);
		return;
	}
	a->control_welcomed = 0;
	if (a->control_going_away) {
		/*
		 * The relay is restarting: every agent it held comes back now.
		 * Spread them over AGENT_RESTART_SPREAD_MS instead of the first
		 * backoff step, so a relay with thousands of agents is not hit
		 * by all of them in the same half second.
		 */
		uint32_t	r = 0;

		lws_get_random(a->ctx, &r, sizeof r);
		/* A fleet's relay leaving (4307): the others are up, go now. */
		if (a->control_going_away == 2)
			lws_sul_schedule(a->ctx, 0, &a->sul_control, agent_control_retry_cb,
			    (lws_usec_t)(r % AGENT_MOVE_SPREAD_MS) * LWS_US_PER_MS);
		else
			lws_sul_schedule(a->ctx, 0, &a->sul_control, agent_control_retry_cb,
			    (lws_usec_t)(500 + r % AGENT_RESTART_SPREAD_MS) * LWS_US_PER_MS);
		return;
	}
	if (was_welcomed)
		ph_warn("lost the control channel to %s:%d: reconnecting", a->cfg.host,
		    a->cfg.port);
	agent_control_retry(a);
}

/* Shutdown: stop retrying and close the control channel (1001). */
void
agent_control_stop(struct agent *a)
{
	lws_sul_cancel(&a->sul_control);
	agent_resolve_stop(a);
	if (a->control.wsi == NULL)
		return;
	agent_chan_close(&a->control, PH_CLOSE_GOING_AWAY);	/* unless closing */
	/* Not yet established, or a relay that does not read: do not wait on it. */
	lws_set_timeout(a->control.wsi, PENDING_TIMEOUT_CLOSE_SEND, 2);
}

static void
agent_control_established(struct agent *a)
{
	json_t	*h;

	ph_debug("connected to %s:%d (%s): sending hello", a->cfg.host, a->cfg.port,
	    a->relay_addr);
	if ((h = ph_ctl_new(PH_CTL_HELLO)) == NULL ||
	    json_object_set_new(h, "proto", json_integer(PH_PROTOCOL_VERSION)) != 0 ||
	    json_object_set_new(h, "id", json_string(a->claimed)) != 0 ||
	    json_object_set_new(h, "name", json_string(a->cfg.name)) != 0 ||
	    json_object_set(h, "labels", a->cfg.labels) != 0 ||
	    json_object_set_new(h, "version", json_string(PORTHOLE_VERSION)) != 0 ||
	    json_object_set_new(h, "instance", json_string(a->instance)) != 0 ||
	    json_object_set_new(h, "caps", op_caps()) != 0 ||
	    json_object_set_new(h, "max_payload", json_integer(PH_MAX_PAYLOAD)) != 0) {
		json_decref(h);
		agent_control_fail(a, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL, "cannot build hello");
		return;
	}
	if (agent_chan_push_ctl(&a->control, h) != 0)
		agent_control_fail(a, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL, "cannot queue hello");
}

static void
agent_control_welcome(struct agent *a, json_t *w)
{
	json_int_t	mp = json_integer_value(json_object_get(w, "max_payload"));
	json_int_t	proto = json_integer_value(json_object_get(w, "proto"));
	const char	*rid = json_string_value(json_object_get(w, "id"));
	char		*q;

	a->control_welcomed = 1;
	a->control_retries = 0;
	a->max_payload = PH_MAX_PAYLOAD;
	if (mp > 1 && mp < PH_MAX_PAYLOAD)
		a->max_payload = (size_t)mp;
	agent_problem_clear(a);
	ph_info("connected to relay %s:%d as %s (protocol %lld)", a->cfg.host, a->cfg.port,
	    a->id, (long long)proto);
	/* Captures spooled while no relay was reachable go up now. */
	agent_capture_spool_kick(a);
	agent_tracer_welcomed();	/* a crash's core may go to the relay now */
	/*
	 * Who we are comes from our own token, never from the relay: a relay
	 * that registered us under another id sends opens we refuse.
	 */
	if (rid != NULL && strcmp(rid, a->id) != 0) {
		q = ph_ident_quote(rid, strlen(rid));
		ph_warn("relay %s:%d registered this agent as \"%s\", but its token "
		    "makes it %s: opens naming \"%s\" will be refused", a->cfg.host,
		    a->cfg.port, q != NULL ? q : "?", a->id, q != NULL ? q : "?");
		free(q);
	}
}

/* One whole message from the relay (agent_chan_ops.frame). */
static void
agent_control_frame(void *arg, struct ph_frame *f)
{
	struct agent	*a = arg;
	char		*cause = NULL;

	if (f->type != PH_FRAME_CONTROL) {
		agent_control_fail(a, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
		    "%s frame on the control channel", ph_frame_type_name(f->type));
		return;
	}

	switch (f->ctl) {
	case PH_CTL_WELCOME:
		if (a->control_welcomed)
			agent_control_fail(a, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE, "second welcome");
		else
			agent_control_welcome(a, f->json);
		break;
	case PH_CTL_ERROR:
		a->control_got_error = 1;
		agent_problem(a, "relay %s:%d refused the agent: %s: %s", a->cfg.host,
		    a->cfg.port, json_string_value(json_object_get(f->json, "code")),
		    json_string_value(json_object_get(f->json, "message")));
		break;
	case PH_CTL_REVOKED:
		if (!a->control_welcomed) {
			agent_control_fail(a, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
			    "revoked before welcome");
			break;
		}
		if (agent_verify_pushed(a, json_object_get(f->json, "entries"),
		    &cause) != 0) {
			agent_control_fail(a, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
			    "bad revoked: %s", cause);
			free(cause);
		}
		break;
	case PH_CTL_RESUME:
		if (!a->control_welcomed) {
			agent_control_fail(a, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
			    "resume before welcome");
			break;
		}
		agent_session_resume(a, f->json);
		break;
	case PH_CTL_OPEN:
		if (!a->control_welcomed) {
			agent_control_fail(a, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
			    "open before welcome");
			break;
		}
		if (agent_session_open(a, f->json, &cause) != 0) {
			agent_control_fail(a, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE, "bad open: %s",
			    cause);
			free(cause);
		}
		break;
	default:
		agent_control_fail(a, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
		    "%s is not expected on the control channel",
		    f->ctl_name != NULL ? f->ctl_name : "message");
		break;
	}
}

static void
agent_control_chan_fail(void *arg, int close_code, const char *code, const char *msg)
{
	agent_control_fail(arg, close_code, code, "%s", msg);
}

static int
agent_control_write(struct lws *wsi, uint8_t *msg, size_t len)
{
	return lws_write(wsi, msg, len, LWS_WRITE_BINARY) < (int)len ? -1 : 0;
}

static const struct agent_chan_ops agent_control_chan_ops = {
	.frame = agent_control_frame,
	.fail = agent_control_chan_fail,
	.write = agent_control_write,
};

/* The control channel's queues, for the life of the agent. */
void
agent_control_init(struct agent *a)
{
	agent_chan_init(&a->control, &agent_control_chan_ops, a, 16 * 1024, 64 * 1024,
	    1024 * 1024);
}

/* WS_PEER_INITIATED_CLOSE: in is the 2-byte code and the reason. */
static void
agent_control_peer_close(struct agent *a, const unsigned char *in, size_t len)
{
	int	code = len >= 2 ? (in[0] << 8 | in[1]) : 0;

	if (a->control_got_error || code == PH_CLOSE_NORMAL)
		return;		/* the error frame already said why */
	if (a->control.state == AGENT_CHAN_CLOSED)
		return;		/* the relay's answer to our own close */
	a->control_going_away = code == PH_CLOSE_GOING_AWAY ? 1 :
	    code == PH_CLOSE_MOVE ? 2 : 0;
	if (code == PH_CLOSE_MOVE)
		ph_info("relay %s:%d is leaving its fleet (%.*s): reconnecting now",
		    a->cfg.host, a->cfg.port, len > 2 ? (int)(len - 2) : 0,
		    (const char *)in + 2);
	else if (code == PH_CLOSE_GOING_AWAY)
		ph_info("relay %s:%d is going away (%.*s): reconnecting", a->cfg.host,
		    a->cfg.port, len > 2 ? (int)(len - 2) : 0, (const char *)in + 2);
	else
		agent_problem(a, "relay %s:%d closed the control channel: %d %.*s",
		    a->cfg.host, a->cfg.port, code, len > 2 ? (int)(len - 2) : 0,
		    (const char *)in + 2);
}

int
agent_control_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct agent	*a = lws_context_user(lws_get_context(wsi));

	if (a->destroying) {
		if (wsi == a->control.wsi)
			a->control.wsi = NULL;
		return 0;
	}

	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		return agent_control_auth_header(a, wsi, in, len);
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		agent_control_established(a);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		agent_chan_receive(&a->control, wsi, in, len);
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return agent_chan_writeable(&a->control, wsi);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		agent_control_peer_close(a, in, len);
		return 0;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (wsi != a->control.wsi)
			return 0;
		if (a->stopping)
			;
		else if (a->tls_error[0] != '\0')
			/* lws's own text is OpenSSL's opaque "SSL err 1": not shown. */
			agent_problem(a, "cannot connect to relay %s:%d: TLS: cannot "
			    "verify the relay's certificate (%s): %s", a->cfg.host,
			    a->cfg.port, a->tls_error, agent_tls_hint(a));
		else
			agent_problem(a, "cannot connect to relay %s:%d (%s): %s",
			    a->cfg.host, a->cfg.port, a->relay_addr,
			    in != NULL ? (const char *)in : "connection failed");
		agent_control_lost(a, wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		agent_control_lost(a, wsi);
		return 0;
	default:
		return 0;
	}
}
