/*
 * relay-session.c - sessions: a client channel (/v1/session) paired with
 * the agent's data channel (/v1/agent/session/<sid>), spliced.
 *
 * Life of a session:
 *   WAIT     the client's `open` passed the checks (scope, signature of the
 *            key the token is bound to, not revoked, session id never
 *            seen, agent connected, token's target); the relay forwarded it
 *            to the agent with a one-time secret, the token's subject and
 *            the token itself (the agent checks them again),
 *            stopped reading the client, and waits RELAY_ATTACH_SECS for
 *            the agent to dial in and `attach` {sid, secret}.
 *   SPLICED  every frame from one side is queued, untouched, to the other.
 *            A queue past its high mark stops reads of the side feeding it
 *            (lws_rx_flow_control); below its low mark reads resume, so TCP
 *            pushes back end to end.  `exit` from the agent is forwarded,
 *            then both channels close 1000 once their queues drain.
 *   DONE     failed before attach (timeout, agent gone): the client gets an
 *            `error` and its close; the session waits for it to go.
 * A data channel that closes before `exit` costs the client `agent_lost`
 * and 4502 after what was already queued for it; a client that leaves
 * closes the data channel at once (1001).  The session is freed when
 * neither channel is left; that is where it is logged.
 *
 * Only the frame types that belong to a direction pass: STDIN and the
 * controls the operation registry lets the client send in a session of its
 * operation (ops.h: signal, error, and resize, eof or meta as the
 * operation has them) toward the agent; STDOUT, STDERR and the agent's
 * controls (ready, exit, error, and progress or meta as the operation has
 * them) toward the client; DATA both ways.  Anything else is bad_message,
 * 1008.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "porthole/agentid.h"
#include "porthole/log.h"
#include "porthole/opensig.h"
#include "porthole/ops.h"
#include "porthole/util.h"
#include "relay.h"

enum relay_sess_state { RELAY_SESS_WAIT, RELAY_SESS_SPLICED, RELAY_SESS_DONE };

struct relay_session {
	char			 sid[PH_SID_LEN + 1];
	char			 secret[PH_SECRET_LEN + 1];	/* wiped at attach */
	char			*agent_id;
	char			*op;
	char			*sub;		/* who asked (client token subject) */
	char			 peer[64];	/* client address */
	enum relay_sess_state	 state;
	int			 registered;	/* in sessions_by_sid */
	struct relay_conn	*client, *data;
	struct ph_queue		 early;		/* client frames before attach */
	lws_sorted_usec_list_t	 sul;		/* attach timeout */
	int			 exit_seen;
	int			 agent_error;	/* agent sent `error` */
	char			 end[128];	/* how it ended, for the log */
	int64_t			 t0;		/* monotonic ms at open */
	uint64_t		 to_agent, to_client;	/* payload bytes */
	json_t			*audit;		/* session_opened's members, once sent */
	struct relay_record	*rec;		/* recording, or NULL */
	struct relay_session	*prev, *next;
};

static struct relay_map		 sessions_by_sid;
static struct relay_session	*sessions;

static void
relay_session_end(struct relay_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Record how the session ended (the first reason wins). */
static void
relay_session_end(struct relay_session *s, const char *fmt, ...)
{
	va_list ap;

	if (s->end[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(s->end, sizeof s->end, fmt, ap);
	va_end(ap);
}

static void
relay_session_unregister(struct relay_session *s)
{
	if (s->registered) {
		relay_map_del(&sessions_by_sid, s->sid);
		s->registered = 0;
	}
	lws_sul_cancel(&s->sul);
}

/*
 * The recording failed: audit it; with recordings required the session
 * ends here (the output that could not be recorded is not forwarded).
 * Returns 1 when the session is closing because of it.
 */
static int
relay_session_record_failed(struct relay_session *s)
{
	const char *err = relay_record_error(s->rec);
	int req = relay_record_required();

	ph_warn("session %.8s: recording failed: %s%s", s->sid, err,
	    req ? "; recordings are required: closing the session" : "");
	relay_audit("recording_failed", json_pack("{s:s,s:s,s:s,s:b,s:s}", "sid", s->sid,
	    "recording", relay_record_path(s->rec), "error", err, "required", req,
	    "action", req ? "session closed" : "session goes on unrecorded"));
	if (s->audit != NULL)
		json_object_set_new(s->audit, "recording_error", json_string(err));
	if (!req)
		return 0;
	relay_session_end(s, "recording failed: %s", err);
	if (s->client != NULL)
		relay_conn_fail(s->client, RELAY_ERR_RECORDING, PH_CLOSE_INTERNAL,
		    "the relay could not record this session (%s) and recordings are "
		    "required: the session was closed", err);
	if (s->data != NULL)
		relay_conn_close(s->data, PH_CLOSE_GOING_AWAY, "recording failed", 1);
	return 1;
}

/* The session's last words: recording closed, session_closed audited. */
static void
relay_session_audit_closed(struct relay_session *s)
{
	char *cause = NULL;

	if (s->rec != NULL) {
		if (relay_record_finish(s->rec, &cause) != 0) {
			relay_audit("recording_failed", json_pack("{s:s,s:s,s:b,s:s}",
			    "sid", s->sid, "error", cause, "required",
			    relay_record_required(), "action", "recording ended incomplete"));
			if (s->audit != NULL)
				json_object_set_new(s->audit, "recording_error",
				    json_string(cause));
		}
		free(cause);
		s->rec = NULL;
	}
	if (s->audit == NULL)
		return;
	relay_metrics_session(s->op, -1);
	json_object_set_new(s->audit, "bytes", json_pack("{s:I,s:I}",
	    "to_agent", (json_int_t)s->to_agent, "to_client", (json_int_t)s->to_client));
	json_object_set_new(s->audit, "duration_ms", json_integer(ph_mono_ms() - s->t0));
	if (json_object_get(s->audit, "exit") == NULL)
		json_object_set_new(s->audit, "exit", json_null());
	json_object_set_new(s->audit, "end", json_string(s->end[0] != '\0' ? s->end :
	    "closed"));
	relay_audit("session_closed", s->audit);
	s->audit = NULL;
}

static void
relay_session_free(struct relay_session *s)
{
	relay_session_unregister(s);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	ph_info("session %.8s closed: op=%s agent=%s sub=%s to_agent=%llu "
	    "to_client=%llu duration=%.3fs end=%s", s->sid, s->op, s->agent_id,
	    s->sub, (unsigned long long)s->to_agent, (unsigned long long)s->to_client,
	    (double)(ph_mono_ms() - s->t0) / 1000.0,
	    s->end[0] != '\0' ? s->end : "closed");
	relay.stats.sessions_active--;
	relay_session_audit_closed(s);
	relay_limits_session_del(s->agent_id, s->sub);
	ph_queue_free(&s->early);
	OPENSSL_cleanse(s->secret, sizeof s->secret);
	free(s->agent_id);
	free(s->op);
	free(s->sub);
	free(s);
}

static void
relay_session_maybe_free(struct relay_session *s)
{
	if (s->client == NULL && s->data == NULL)
		relay_session_free(s);
}

/* The agent did not attach in time. */
static void
relay_session_attach_timeout(lws_sorted_usec_list_t *sul)
{
	struct relay_session *s = lws_container_of(sul, struct relay_session, sul);

	if (s->state != RELAY_SESS_WAIT)
		return;
	s->state = RELAY_SESS_DONE;
	relay_session_unregister(s);
	relay_session_end(s, "timeout: agent did not attach");
	ph_info("session %.8s: agent %s did not attach within %d s", s->sid,
	    s->agent_id, RELAY_ATTACH_SECS);
	if (s->client != NULL)
		relay_conn_fail(s->client, PH_ERR_TIMEOUT, PH_CLOSE_TIMEOUT,
		    "agent %s did not attach the session within %d s",
		    s->agent_id, RELAY_ATTACH_SECS);
}

/*
 * Queue msg from src to dst; stop reading src once dst's queue passes its
 * high mark.  A queue past its hard limit is a flow-control bug: both go.
 */
static void
relay_session_forward(struct relay_session *s, struct relay_conn *src,
    struct relay_conn *dst, const uint8_t *msg, size_t len)
{
	if (dst == NULL || relay_conn_closing(dst))
		return;
	if (relay_conn_send(dst, msg, len) != 0) {
		ph_err("session %.8s: queue to %s over its limit (%zu bytes)",
		    s->sid, dst->peer, dst->tx.bytes);
		relay_session_end(s, "internal: queue overflow");
		if (src != NULL)
			relay_conn_fail(src, PH_ERR_INTERNAL, PH_CLOSE_INTERNAL,
			    "relay queue overflow");
		relay_conn_fail(dst, PH_ERR_INTERNAL, PH_CLOSE_INTERNAL, "relay queue overflow");
		return;
	}
	if (dst == s->client) {
		s->to_client += len - 1;
		relay.stats.bytes_to_client += len - 1;
	} else {
		s->to_agent += len - 1;
		relay.stats.bytes_to_agent += len - 1;
	}
	if (src != NULL && ph_queue_over_high(&dst->tx))
		relay_conn_pause(src, RELAY_PAUSE_PEER);
}

static void
relay_session_refuse(struct relay_conn *c, const char *err, int code, const char *msg)
{
	relay_audit_refusal(c, c->kind == RELAY_CONN_DATA ? "data channel" :
	    "session open", err, msg);
	relay_conn_fail(c, err, code, "%s", msg);
}

/*
 * Can the agent (aj, as listed) take this open?  Not one of a newer
 * protocol than it speaks, nor one signed in a weaker form than its
 * protocol requires (opensig.h: a protocol-2 agent takes form 2 only; the
 * agent checks this itself, the relay only says it sooner and clearer).
 * 0, or -1 with the refusal in msg.
 */
static int
relay_session_version(const json_t *o, const json_t *aj, char *msg, size_t len)
{
	const char *id = json_string_value(json_object_get(aj, "id"));
	int op = ph_opensig_proto(o);
	int ap = (int)json_integer_value(json_object_get(aj, "proto"));

	if (op > ap) {
		snprintf(msg, len, "agent %s speaks protocol %d, the open is protocol "
		    "%d: list the agents again (or upgrade the agent)", id, ap, op);
		return -1;
	}
	if (ph_opensig_form(op) < ph_opensig_form(ap)) {
		snprintf(msg, len, "agent %s speaks protocol %d and takes only opens "
		    "signed in form %d; this open is protocol %d: upgrade porthole "
		    "(the CLI)", id, ap, ph_opensig_form(ap), op);
		return -1;
	}
	return 0;
}

/* The first message of a client channel: `open`. */
static void
relay_session_open(struct relay_conn *c, struct ph_frame *f)
{
	struct relay_session *s;
	struct relay_agent *a;
	struct relay_record *rec = NULL;
	const char *sid, *agent_id, *agent_sub, *op, *sub;
	json_t *o = f->json, *aj, *pj, *argv;
	char msg[512], key[PH_AGENT_ID_MAX + 1], *cause = NULL, *why = NULL;
	int proto, may;

	if (f->type != PH_FRAME_CONTROL || f->ctl != PH_CTL_OPEN) {
		snprintf(msg, sizeof msg, "the first message on %s must be open, not %s",
		    PH_PATH_SESSION, f->type == PH_FRAME_CONTROL ? ph_ctl_name(f->ctl) :
		    ph_frame_type_name(f->type));
		relay_session_refuse(c, PH_ERR_BAD_MESSAGE, PH_CLOSE_POLICY, msg);
		return;
	}
	pj = json_object_get(o, "proto");
	proto = pj != NULL ? (int)json_integer_value(pj) : 1;
	if (proto < PH_PROTOCOL_VERSION_MIN || proto > PH_PROTOCOL_VERSION) {
		snprintf(msg, sizeof msg, "client speaks protocol %d, this relay speaks "
		    "%d-%d: upgrade the %s", proto, PH_PROTOCOL_VERSION_MIN,
		    PH_PROTOCOL_VERSION, proto < PH_PROTOCOL_VERSION_MIN ? "client" : "relay");
		relay_session_refuse(c, PH_ERR_VERSION, PH_CLOSE_VERSION, msg);
		return;
	}
	sid = json_string_value(json_object_get(o, "sid"));
	agent_id = json_string_value(json_object_get(o, "agent"));
	agent_sub = json_string_value(json_object_get(o, "agent_sub"));
	op = json_string_value(json_object_get(o, "op"));
	sub = c->claims.sub != NULL ? c->claims.sub : "?";
	if (sid == NULL || agent_id == NULL || op == NULL) {
		relay_session_refuse(c, PH_ERR_BAD_MESSAGE, PH_CLOSE_POLICY,
		    "open needs sid, agent and op");
		return;
	}
	if (!ph_claims_allows(&c->claims, op)) {
		snprintf(msg, sizeof msg, "token for %s lacks scope %s", sub, op);
		relay_session_refuse(c, PH_ERR_FORBIDDEN, PH_CLOSE_FORBIDDEN, msg);
		return;
	}
	if (relay_auth_open(&c->claims, o, &why) != 0) {
		snprintf(msg, sizeof msg, "open refused: %s", why);
		free(why);
		relay_session_refuse(c, PH_ERR_UNAUTHORIZED, PH_CLOSE_UNAUTHORIZED, msg);
		return;
	}
	if (relay_sids_seen(sid)) {
		snprintf(msg, sizeof msg, "session id %s was used before: draw a new one", sid);
		relay_session_refuse(c, PH_ERR_SID_REUSED, PH_CLOSE_CONFLICT, msg);
		return;
	}
	if (relay_sids_add(sid) != 0) {
		relay_session_refuse(c, PH_ERR_INTERNAL, PH_CLOSE_INTERNAL, "out of memory");
		return;
	}
	/*
	 * The agent's full id: `agent`, or for an agent of protocol 1 (which
	 * knows only its claimed id, and checks that the open names it)
	 * `agent`@`agent_sub` (docs/protocol.md, "Agent identity").
	 */
	if ((size_t)snprintf(key, sizeof key, "%s%s%s", agent_id,
	    agent_sub != NULL ? "@" : "", agent_sub != NULL ? agent_sub : "") >= sizeof key) {
		relay_session_refuse(c, PH_ERR_BAD_MESSAGE, PH_CLOSE_POLICY,
		    "agent and agent_sub are too long for an agent id");
		return;
	}
	agent_id = key;
	if ((a = relay_agent_find(agent_id)) == NULL) {
		snprintf(msg, sizeof msg, "agent %s is not connected to this relay", agent_id);
		relay_session_refuse(c, PH_ERR_NO_AGENT, PH_CLOSE_NOT_FOUND, msg);
		return;
	}
	if (relay_agent_proto(a) < PH_PROTOCOL_QUALIFIED_IDS && agent_sub == NULL) {
		snprintf(msg, sizeof msg, "agent %s speaks protocol %d, which only a "
		    "CLI of protocol %d or later can reach (its open names the agent "
		    "as it knows itself): upgrade the CLI", agent_id,
		    relay_agent_proto(a), PH_PROTOCOL_QUALIFIED_IDS);
		relay_session_refuse(c, PH_ERR_VERSION, PH_CLOSE_VERSION, msg);
		return;
	}
	if (relay_agent_proto(a) >= PH_PROTOCOL_QUALIFIED_IDS && agent_sub != NULL) {
		snprintf(msg, sizeof msg, "agent %s speaks protocol %d: name it by its "
		    "full id, without agent_sub", agent_id, relay_agent_proto(a));
		relay_session_refuse(c, PH_ERR_BAD_MESSAGE, PH_CLOSE_POLICY, msg);
		return;
	}
	aj = relay_agent_json(a);
	may = aj != NULL && relay_auth_may_touch(&c->claims, aj);
	if (!may) {
		json_decref(aj);
		snprintf(msg, sizeof msg, "token for %s may not touch agent %s", sub, agent_id);
		relay_session_refuse(c, PH_ERR_FORBIDDEN, PH_CLOSE_FORBIDDEN, msg);
		return;
	}
	if (relay_session_version(o, aj, msg, sizeof msg) != 0) {
		json_decref(aj);
		relay_session_refuse(c, PH_ERR_VERSION, PH_CLOSE_VERSION, msg);
		return;
	}
	if (relay_limits_session_add(agent_id, sub, &cause) != 0) {
		json_decref(aj);
		relay_session_refuse(c, PH_ERR_LIMIT, PH_CLOSE_LIMIT, cause);
		free(cause);
		return;
	}
	if (relay_record_wanted(op) &&
	    (rec = relay_record_start(sid, o, json_string_value(json_object_get(aj,
	    "name")), sub, &cause)) == NULL) {
		ph_warn("session %.8s: cannot record: %s", sid, cause);
		relay_audit("recording_failed", json_pack("{s:s,s:s,s:b,s:s}", "sid", sid,
		    "error", cause, "required", relay_record_required(), "action",
		    relay_record_required() ? "session refused" : "session goes on unrecorded"));
		if (relay_record_required()) {
			json_decref(aj);
			relay_limits_session_del(agent_id, sub);
			snprintf(msg, sizeof msg, "the relay cannot record this session "
			    "(%.300s) and recordings are required: ask the relay's operator",
			    cause);
			free(cause);
			relay_session_refuse(c, RELAY_ERR_RECORDING, PH_CLOSE_INTERNAL, msg);
			return;
		}
	}

	if ((s = calloc(1, sizeof *s)) == NULL) {
		relay_limits_session_del(agent_id, sub);
		goto nomem;
	}
	s->rec = rec;
	rec = NULL;
	argv = json_object_get(o, "argv");
	s->audit = json_pack("{s:s,s:s,s:s,s:O,s:b,s:{s:s,s:s,s:s,s:O}}", "sid", sid,
	    "sub", sub, "op", op, "argv", argv != NULL ? argv : json_null(),
	    "tty", json_is_true(json_object_get(o, "tty")), "agent", "id", agent_id,
	    "name", json_string_value(json_object_get(aj, "name")), "sub",
	    json_string_value(json_object_get(aj, "sub")), "labels",
	    json_object_get(aj, "labels"));
	if (s->audit != NULL) {
		relay_audit_origin(s->audit, c);
		if (json_object_get(o, "pid") != NULL)
			json_object_set(s->audit, "pid", json_object_get(o, "pid"));
		if (json_object_get(o, "container") != NULL)
			json_object_set(s->audit, "container", json_object_get(o, "container"));
		json_object_set_new(s->audit, "recording", s->rec != NULL ?
		    json_string(relay_record_path(s->rec)) : json_null());
		if (cause != NULL)
			json_object_set_new(s->audit, "recording_error", json_string(cause));
	}
	json_decref(aj);
	aj = NULL;
	free(cause);
	cause = NULL;
	memcpy(s->sid, sid, PH_SID_LEN + 1);
	s->agent_id = strdup(agent_id);
	s->op = strdup(op);
	s->sub = strdup(sub);
	snprintf(s->peer, sizeof s->peer, "%s", c->peer);
	s->t0 = ph_mono_ms();
	ph_queue_init(&s->early, RELAY_Q_LOW, RELAY_Q_HIGH, RELAY_Q_LIMIT);
	if (s->agent_id == NULL || s->op == NULL || s->sub == NULL || s->audit == NULL ||
	    ph_random_hex(s->secret, PH_SECRET_LEN) != 0 ||
	    relay_map_put(&sessions_by_sid, s->sid, s) != 0) {
		if (s->rec != NULL) {
			(void)relay_record_finish(s->rec, &cause);
			free(cause);
			cause = NULL;
		}
		json_decref(s->audit);
		relay_limits_session_del(agent_id, sub);
		free(s->agent_id);
		free(s->op);
		free(s->sub);
		free(s);
		goto nomem;
	}
	s->registered = 1;
	s->next = sessions;
	if (sessions != NULL)
		sessions->prev = s;
	sessions = s;
	s->client = c;
	c->sess = s;
	relay.stats.sessions_total++;
	relay.stats.sessions_active++;

	/*
	 * Forward the open with the secret, who asked and the client's token
	 * (the agent checks token and signature again); the rest untouched.
	 */
	if (json_object_set_new(o, "secret", json_string(s->secret)) != 0 ||
	    json_object_set_new(o, "sub", json_string(s->sub)) != 0 ||
	    c->bearer == NULL ||
	    json_object_set_new(o, "token", json_string(c->bearer)) != 0 ||
	    relay_agent_send(a, o) != 0) {
		json_object_del(o, "token");
		relay_auth_wipe(&c->bearer);
		s->state = RELAY_SESS_DONE;
		relay_session_unregister(s);
		relay_session_end(s, "open not forwarded");
		json_decref(s->audit);		/* never opened: a refusal, not a session */
		s->audit = NULL;
		snprintf(msg, sizeof msg, "cannot forward the open to agent %s: its "
		    "control channel is closing or full, or the request is too large",
		    agent_id);
		relay_session_refuse(c, PH_ERR_NO_AGENT, PH_CLOSE_NOT_FOUND, msg);
		return;
	}
	json_object_del(o, "token");	/* the frame is freed, but wipe our copy now */
	relay_auth_wipe(&c->bearer);
	relay_conn_pause(c, RELAY_PAUSE_ATTACH);
	lws_sul_schedule(relay.ctx, 0, &s->sul, relay_session_attach_timeout,
	    (lws_usec_t)RELAY_ATTACH_SECS * LWS_US_PER_SEC);
	ph_info("session %.8s opened: op=%s agent=%s sub=%s peer=%s", s->sid, s->op,
	    s->agent_id, s->sub, s->peer);
	relay_metrics_session(s->op, 1);
	relay_audit("session_opened", json_deep_copy(s->audit));
	return;
nomem:
	json_decref(aj);
	free(cause);
	if (rec != NULL) {
		(void)relay_record_finish(rec, &cause);
		free(cause);
	}
	relay_session_refuse(c, PH_ERR_INTERNAL, PH_CLOSE_INTERNAL, "out of memory");
}

/* The first message of a data channel: `attach`. */
static void
relay_session_attach(struct relay_conn *c, struct ph_frame *f)
{
	struct relay_session *s;
	struct ph_qitem *it;
	const char *sid, *secret;
	char msg[256];

	if (f->type != PH_FRAME_CONTROL || f->ctl != PH_CTL_ATTACH) {
		snprintf(msg, sizeof msg, "the first message on a data channel must be "
		    "attach, not %s", f->type == PH_FRAME_CONTROL ? ph_ctl_name(f->ctl) :
		    ph_frame_type_name(f->type));
		relay_session_refuse(c, PH_ERR_BAD_MESSAGE, PH_CLOSE_POLICY, msg);
		return;
	}
	sid = json_string_value(json_object_get(f->json, "sid"));
	secret = json_string_value(json_object_get(f->json, "secret"));
	if (sid == NULL || secret == NULL || strcmp(sid, c->path_sid) != 0) {
		relay_session_refuse(c, PH_ERR_BAD_MESSAGE, PH_CLOSE_POLICY,
		    "attach must name the session id of the path");
		return;
	}
	if ((s = relay_map_get(&sessions_by_sid, sid)) == NULL) {
		snprintf(msg, sizeof msg, "no session %s is waiting for its agent", sid);
		relay_session_refuse(c, PH_ERR_NO_AGENT, PH_CLOSE_NOT_FOUND, msg);
		return;
	}
	if (s->state != RELAY_SESS_WAIT) {
		snprintf(msg, sizeof msg, "the secret of session %s was already used", sid);
		relay_session_refuse(c, PH_ERR_FORBIDDEN, PH_CLOSE_FORBIDDEN, msg);
		return;
	}
	if (strlen(secret) != PH_SECRET_LEN ||
	    CRYPTO_memcmp(secret, s->secret, PH_SECRET_LEN) != 0) {
		snprintf(msg, sizeof msg, "wrong secret for session %s", sid);
		relay_session_refuse(c, PH_ERR_FORBIDDEN, PH_CLOSE_FORBIDDEN, msg);
		return;
	}

	s->state = RELAY_SESS_SPLICED;
	lws_sul_cancel(&s->sul);
	OPENSSL_cleanse(s->secret, sizeof s->secret);	/* good once */
	s->data = c;
	c->sess = s;
	while ((it = ph_queue_peek(&s->early)) != NULL) {
		relay_session_forward(s, s->client, c, it->data + PH_HEADROOM, it->len);
		ph_queue_pop(&s->early);
	}
	if (s->client != NULL)
		relay_conn_resume(s->client, RELAY_PAUSE_ATTACH);
	ph_debug("session %.8s attached by agent %s from %s", s->sid, s->agent_id, c->peer);
}

/* A decoded message on a client channel. */
void
relay_session_client_rx(struct relay_conn *c, struct ph_frame *f,
    const uint8_t *msg, size_t len)
{
	struct relay_session *s = c->sess;
	int ok;

	if (s == NULL) {
		relay_session_open(c, f);
		return;
	}
	switch (f->type) {
	case PH_FRAME_STDIN:
	case PH_FRAME_DATA:
		ok = 1;
		break;
	case PH_FRAME_CONTROL:
		ok = ph_ops_ctl_allowed(ph_ops_find(s->op), 0, f->ctl);
		break;
	default:
		ok = 0;
		break;
	}
	if (!ok) {
		relay_session_end(s, "bad_message from the client");
		relay_conn_fail(c, PH_ERR_BAD_MESSAGE, PH_CLOSE_POLICY,
		    "%s is not allowed from the client", f->type == PH_FRAME_CONTROL ?
		    ph_ctl_name(f->ctl) : ph_frame_type_name(f->type));
		return;
	}
	if (f->type == PH_FRAME_CONTROL && f->ctl == PH_CTL_RESIZE && s->rec != NULL &&
	    s->state != RELAY_SESS_DONE &&
	    relay_record_resize(s->rec, f->json) < 0 && relay_session_record_failed(s))
		return;
	switch (s->state) {
	case RELAY_SESS_WAIT:
		if (ph_queue_push(&s->early, -1, msg, len) != 0) {
			relay_conn_fail(c, PH_ERR_INTERNAL, PH_CLOSE_INTERNAL,
			    "too much input before the session started");
			return;
		}
		break;
	case RELAY_SESS_SPLICED:
		relay_session_forward(s, c, s->data, msg, len);
		break;
	case RELAY_SESS_DONE:
		break;
	}
}

/* A decoded message on a data channel. */
void
relay_session_data_rx(struct relay_conn *c, struct ph_frame *f,
    const uint8_t *msg, size_t len)
{
	struct relay_session *s = c->sess;
	json_t *v;
	int ok;

	if (s == NULL) {
		relay_session_attach(c, f);
		return;
	}
	switch (f->type) {
	case PH_FRAME_STDOUT:
	case PH_FRAME_STDERR:
	case PH_FRAME_DATA:
		ok = 1;
		break;
	case PH_FRAME_CONTROL:
		ok = ph_ops_ctl_allowed(ph_ops_find(s->op), 1, f->ctl);
		break;
	default:
		ok = 0;
		break;
	}
	if (!ok) {
		relay_conn_fail(c, PH_ERR_BAD_MESSAGE, PH_CLOSE_POLICY,
		    "%s is not allowed from the agent", f->type == PH_FRAME_CONTROL ?
		    ph_ctl_name(f->ctl) : ph_frame_type_name(f->type));
		return;
	}
	if (s->exit_seen)
		return;		/* exit was the last word */
	if (s->rec != NULL && (f->type == PH_FRAME_STDOUT || f->type == PH_FRAME_STDERR) &&
	    relay_record_output(s->rec, f->type == PH_FRAME_STDERR, msg + 1, len - 1) < 0 &&
	    relay_session_record_failed(s))
		return;
	relay_session_forward(s, c, s->client, msg, len);
	if (f->type != PH_FRAME_CONTROL)
		return;
	if (f->ctl == PH_CTL_EXIT) {
		s->exit_seen = 1;
		if (s->audit != NULL && (v = json_deep_copy(f->json)) != NULL) {
			json_object_del(v, "type");
			json_object_set_new(s->audit, "exit", v);
		}
		if ((v = json_object_get(f->json, "code")) != NULL)
			relay_session_end(s, "exit %lld", (long long)json_integer_value(v));
		else
			relay_session_end(s, "exit signal %lld", (long long)
			    json_integer_value(json_object_get(f->json, "signal")));
		if (s->client != NULL)
			relay_conn_close(s->client, PH_CLOSE_NORMAL, "", 0);
		relay_conn_close(c, PH_CLOSE_NORMAL, "", 0);
	} else if (f->ctl == PH_CTL_ERROR) {
		s->agent_error = 1;
		relay_session_end(s, "agent error %s: %s",
		    json_string_value(json_object_get(f->json, "code")),
		    json_string_value(json_object_get(f->json, "message")));
	}
}

/* c (client or data channel) sent a message off its queue. */
void
relay_session_drained(struct relay_conn *c)
{
	struct relay_session *s = c->sess;
	struct relay_conn *src;

	if (s == NULL)
		return;
	src = c == s->client ? s->data : s->client;
	if (src == NULL || (src->pause & RELAY_PAUSE_PEER) == 0)
		return;
	/*
	 * src's pongs wait unread behind the data we don't read, and lws
	 * hangs up a connection whose pong is late (research section 5):
	 * while its data keeps flowing out here, it is alive.
	 */
	lws_validity_confirmed(src->wsi);
	if (ph_queue_under_low(&c->tx))
		relay_conn_resume(src, RELAY_PAUSE_PEER);
}

void
relay_session_client_closed(struct relay_conn *c)
{
	struct relay_session *s = c->sess;

	if (s == NULL)
		return;
	c->sess = NULL;
	s->client = NULL;
	if (s->state == RELAY_SESS_WAIT) {
		s->state = RELAY_SESS_DONE;
		relay_session_unregister(s);
		relay_session_end(s, "client left before the agent attached");
	} else if (s->data != NULL) {
		relay_session_end(s, "client left");
		relay_conn_close(s->data, PH_CLOSE_GOING_AWAY, "client left", 1);
	}
	relay_session_maybe_free(s);
}

void
relay_session_data_closed(struct relay_conn *c)
{
	struct relay_session *s = c->sess;
	int code;

	if (s == NULL)
		return;
	c->sess = NULL;
	s->data = NULL;
	if (!s->exit_seen && s->client != NULL) {
		if (s->agent_error) {
			/* The agent said why; pass its close code on if it is one of ours. */
			code = c->peer_close;
			if (!((code >= 4000 && code <= 4999) || (code >= 1008 && code <= 1011)))
				code = PH_CLOSE_AGENT_LOST;
			relay_conn_close(s->client, code, "agent ended the session", 0);
		} else {
			relay_session_end(s, "agent_lost");
			relay_conn_fail(s->client, PH_ERR_AGENT_LOST, PH_CLOSE_AGENT_LOST,
			    "agent %s lost the session: its data channel closed before exit",
			    s->agent_id);
		}
	}
	relay_session_maybe_free(s);
}

/* The agent's control channel closed: sessions waiting for it fail. */
void
relay_session_agent_gone(const char *agent_id)
{
	struct relay_session *s;

	for (s = sessions; s != NULL; s = s->next) {
		if (s->state != RELAY_SESS_WAIT || strcmp(s->agent_id, agent_id) != 0)
			continue;
		s->state = RELAY_SESS_DONE;
		relay_session_unregister(s);
		relay_session_end(s, "agent_lost before attach");
		if (s->client != NULL)
			relay_conn_fail(s->client, PH_ERR_AGENT_LOST, PH_CLOSE_AGENT_LOST,
			    "agent %s disconnected before the session started", agent_id);
	}
}

/* At exit, after every connection closed. */
void
relay_session_cleanup(void)
{
	relay_map_free(&sessions_by_sid);
}
