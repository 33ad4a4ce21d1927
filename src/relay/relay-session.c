/*
 * relay-session.c - the state machine of a relay session: a client channel
 * (/v1/session) paired with the agent's data channel
 * (/v1/agent/session/<sid>), spliced.  The states and the picture are in
 * relay-session.h; each transition is one function here, and each checks
 * that the session is in a state it may leave that way (anything else is
 * refused or ignored, never half done).
 *
 * WAIT      relay-client.c admitted the client's `open`, made the session
 *           (relay_session_new: a one-time secret, registered by sid,
 *           client reads held) and forwarded the open to the agent.  The
 *           agent has attach_secs to dial in and `attach` {sid, secret};
 *           relay_session_tick fails the sessions past their deadline.
 *           The client's frames meanwhile wait in `early`.
 * SPLICED   every frame from one side is queued, untouched, to the other.
 *           A queue past its high mark holds reads of the side feeding it;
 *           below its low mark they resume, so TCP pushes back end to end.
 * ERRORED   as SPLICED; the agent said `error`, so when its data channel
 *           closes, its close code goes on to the client.
 * EXITED    the agent's `exit` was forwarded; both channels close 1000
 *           once their queues drain; nothing more from the agent passes.
 * FAILED    ended without an exit (timeout, agent gone, a side left, a
 *           queue overflow, a failed recording): the remaining side has
 *           been told; the session waits for it to go.
 * A data channel that closes before `exit` costs the client `agent_lost`
 * and 4502 after what was already queued for it; a client that leaves
 * closes the data channel at once (1001).  The session is freed when
 * neither channel is left; its owner's `freed` hook logs and audits it.
 *
 * Only the frame types that belong to a direction pass: STDIN and the
 * controls the operation registry lets the client send in a session of its
 * operation (ops.h: signal, error, and resize, eof or meta as the
 * operation has them) toward the agent; STDOUT, STDERR and the agent's
 * controls (ready, exit, error, and progress or meta as the operation has
 * them) toward the client; DATA both ways.  Anything else is bad_message,
 * 1008.
 *
 * A session sealed end to end (docs/protocol.md, "End-to-end sessions")
 * is one whose agent answered with a clear `seal`.  From then on the relay
 * reads only envelopes: SEALED records pass both ways, checked for shape
 * alone; the agent may also send the relay, in the clear and not to be
 * forwarded, its `exit` (for the audit: the client acts on its sealed
 * one), an `error` (beside a sealed one), a forward's `report`s (the
 * audit) and COPY frames (the recording);
 * the client only an `error`.  Anything else is bad_message, 1008.  The
 * relay splices what it cannot read; it never opens a record.
 *
 * No libwebsockets here: channels are reached through ss->io only.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "porthole/log.h"
#include "porthole/ops.h"
#include "porthole/seal.h"
#include "relay-session.h"

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
relay_session_failf(struct relay_sessions *ss, struct relay_conn *c, const char *err,
    int code, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
relay_session_failf(struct relay_sessions *ss, struct relay_conn *c, const char *err,
    int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (c == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	ss->io->fail(c, err, code, msg);
}

void
relay_sessions_init(struct relay_sessions *ss, const struct relay_session_io *io)
{
	memset(ss, 0, sizeof *ss);
	ss->io = io;
	ss->attach_secs = RELAY_ATTACH_SECS;
}

/* At exit, after every connection closed (so every session was freed). */
void
relay_sessions_free(struct relay_sessions *ss)
{
	relay_map_free(&ss->by_sid);
}

const char *
relay_session_state_name(enum relay_session_state st)
{
	switch (st) {
	case RELAY_SESSION_WAIT:	return "wait";
	case RELAY_SESSION_SPLICED:	return "spliced";
	case RELAY_SESSION_ERRORED:	return "errored";
	case RELAY_SESSION_EXITED:	return "exited";
	case RELAY_SESSION_FAILED:	return "failed";
	}
	return "?";
}

/* The session an attach names, while one may. */
struct relay_session *
relay_session_find(struct relay_sessions *ss, const char *sid)
{
	return relay_map_get(&ss->by_sid, sid);
}

static void
relay_session_unregister(struct relay_sessions *ss, struct relay_session *s)
{
	if (relay_map_get(&ss->by_sid, s->sid) == s)
		relay_map_del(&ss->by_sid, s->sid);
}

static void
relay_session_free(struct relay_sessions *ss, struct relay_session *s)
{
	relay_session_unregister(ss, s);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		ss->head = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	ss->active--;
	if (ss->io->freed != NULL)
		ss->io->freed(ss, s);
	ph_queue_free(&s->early);
	OPENSSL_cleanse(s->secret, sizeof s->secret);
	free(s->agent_id);
	free(s->op);
	free(s->sub);
	free(s);
}

static void
relay_session_maybe_free(struct relay_sessions *ss, struct relay_session *s)
{
	if (s->client == NULL && s->data == NULL)
		relay_session_free(ss, s);
}

/*
 * -> WAIT: a session for client's open, with a fresh one-time secret,
 * registered by sid, the client's reads held until the agent attaches.
 * NULL with *cause (malloc'd) when out of memory or the sid is taken.
 */
struct relay_session *
relay_session_new(struct relay_sessions *ss, struct relay_conn *client, const char *sid,
    const char *agent_id, const char *op, const char *sub, int64_t now_ms, char **cause)
{
	struct relay_session *s;

	if (strlen(sid) != PH_SID_LEN || relay_map_get(&ss->by_sid, sid) != NULL) {
		*cause = strdup("session id taken or malformed");
		return NULL;
	}
	if ((s = calloc(1, sizeof *s)) == NULL)
		goto nomem;
	memcpy(s->sid, sid, PH_SID_LEN + 1);
	s->agent_id = strdup(agent_id);
	s->op = strdup(op);
	s->sub = strdup(sub);
	ph_queue_init(&s->early, RELAY_Q_LOW, RELAY_Q_HIGH, RELAY_Q_LIMIT);
	if (s->agent_id == NULL || s->op == NULL || s->sub == NULL ||
	    ph_random_hex(s->secret, PH_SECRET_LEN) != 0 ||
	    relay_map_put(&ss->by_sid, s->sid, s) != 0) {
		free(s->agent_id);
		free(s->op);
		free(s->sub);
		free(s);
		goto nomem;
	}
	s->state = RELAY_SESSION_WAIT;
	s->t0 = now_ms;
	s->deadline_ms = now_ms + (int64_t)ss->attach_secs * 1000;
	s->client = client;
	s->next = ss->head;
	if (ss->head != NULL)
		ss->head->prev = s;
	ss->head = s;
	ss->total++;
	ss->active++;
	ss->io->hold(client, RELAY_HOLD_ATTACH);
	return s;
nomem:
	*cause = strdup("out of memory");
	return NULL;
}

/* WAIT -> FAILED: the open never reached the agent; the owner tells the client. */
void
relay_session_abandon(struct relay_sessions *ss, struct relay_session *s, const char *why)
{
	if (s->state != RELAY_SESSION_WAIT)
		return;
	s->state = RELAY_SESSION_FAILED;
	relay_session_unregister(ss, s);
	relay_session_end(s, "%s", why);
}

/*
 * Queue msg from src to dst; hold src's reads once dst's queue passes its
 * high mark.  A queue past its hard limit is a flow-control bug: both go.
 */
static void
relay_session_forward(struct relay_sessions *ss, struct relay_session *s,
    struct relay_conn *src, struct relay_conn *dst, const uint8_t *msg, size_t len)
{
	if (dst == NULL || ss->io->closing(dst))
		return;
	if (ss->io->send(dst, msg, len) != 0) {
		ph_err("session %.8s: queue to the %s over its limit (%zu bytes)", s->sid,
		    dst == s->client ? "client" : "agent", ss->io->queued(dst));
		relay_session_end(s, "internal: queue overflow");
		s->state = RELAY_SESSION_FAILED;
		relay_session_failf(ss, src, PH_ERR_INTERNAL, PH_CLOSE_INTERNAL,
		    "relay queue overflow");
		relay_session_failf(ss, dst, PH_ERR_INTERNAL, PH_CLOSE_INTERNAL,
		    "relay queue overflow");
		return;
	}
	if (dst == s->client) {
		s->to_client += len - 1;
		s->msgs_to_client++;
		ss->bytes_to_client += len - 1;
	} else {
		s->to_agent += len - 1;
		ss->bytes_to_agent += len - 1;
	}
	if (src != NULL && ss->io->over_high(dst))
		ss->io->hold(src, RELAY_HOLD_PEER);
}

/*
 * WAIT -> SPLICED: the agent's data channel attached with the secret.
 * The secret is good once; the client's early frames go to the agent and
 * its reads resume.  Refused in any other state or with another secret.
 */
enum relay_session_refusal
relay_session_attach(struct relay_sessions *ss, struct relay_session *s,
    struct relay_conn *data, const char *secret)
{
	struct ph_qitem *it;

	if (s->state != RELAY_SESSION_WAIT)
		return RELAY_SESSION_NOT_WAITING;
	if (strlen(secret) != PH_SECRET_LEN ||
	    CRYPTO_memcmp(secret, s->secret, PH_SECRET_LEN) != 0)
		return RELAY_SESSION_BAD_SECRET;
	s->state = RELAY_SESSION_SPLICED;
	OPENSSL_cleanse(s->secret, sizeof s->secret);
	s->data = data;
	while ((it = ph_queue_peek(&s->early)) != NULL) {
		relay_session_forward(ss, s, s->client, data, it->data + PH_HEADROOM, it->len);
		ph_queue_pop(&s->early);
	}
	if (s->client != NULL)
		ss->io->release(s->client, RELAY_HOLD_ATTACH);
	return RELAY_SESSION_ATTACHED;
}

/* WAIT -> FAILED: the agent did not attach by the deadline. */
static void
relay_session_attach_timeout(struct relay_sessions *ss, struct relay_session *s)
{
	if (s->state != RELAY_SESSION_WAIT)
		return;
	s->state = RELAY_SESSION_FAILED;
	relay_session_unregister(ss, s);
	relay_session_end(s, "timeout: agent did not attach");
	ph_info("session %.8s: agent %s did not attach within %d s", s->sid,
	    s->agent_id, ss->attach_secs);
	relay_session_failf(ss, s->client, PH_ERR_TIMEOUT, PH_CLOSE_TIMEOUT,
	    "agent %s did not attach the session within %d s", s->agent_id,
	    ss->attach_secs);
}

/* Once a second or so: sessions whose agent is late fail. */
void
relay_session_tick(struct relay_sessions *ss, int64_t now_ms)
{
	struct relay_session *s;

	for (s = ss->head; s != NULL; s = s->next)
		if (s->state == RELAY_SESSION_WAIT && now_ms >= s->deadline_ms)
			relay_session_attach_timeout(ss, s);
}

/* WAIT -> FAILED for every session waiting on the agent whose control channel closed. */
void
relay_session_agent_gone(struct relay_sessions *ss, const char *agent_id)
{
	struct relay_session *s;

	for (s = ss->head; s != NULL; s = s->next) {
		if (s->state != RELAY_SESSION_WAIT || strcmp(s->agent_id, agent_id) != 0)
			continue;
		s->state = RELAY_SESSION_FAILED;
		relay_session_unregister(ss, s);
		relay_session_end(s, "agent_lost before attach");
		relay_session_failf(ss, s->client, PH_ERR_AGENT_LOST, PH_CLOSE_AGENT_LOST,
		    "agent %s disconnected before the session started", agent_id);
	}
}

/*
 * Any state but FAILED -> FAILED: the owner ends the session (a recording
 * that failed and is required): the client gets err/code/msg, the data
 * channel 1001 at once.
 */
void
relay_session_abort(struct relay_sessions *ss, struct relay_session *s, const char *why,
    const char *err, int code, const char *msg)
{
	if (s->state == RELAY_SESSION_FAILED)
		return;
	if (s->state == RELAY_SESSION_WAIT)
		relay_session_unregister(ss, s);
	s->state = RELAY_SESSION_FAILED;
	relay_session_end(s, "%s", why);
	if (s->client != NULL)
		ss->io->fail(s->client, err, code, msg);
	if (s->data != NULL)
		ss->io->close(s->data, PH_CLOSE_GOING_AWAY, why, 1);
}

/*
 * The client channel closed.  WAIT -> FAILED; SPLICED or ERRORED ->
 * FAILED with the data channel closed once what is queued toward the agent
 * went out; EXITED stays (the data channel is told to hurry).
 */
void
relay_session_client_closed(struct relay_sessions *ss, struct relay_session *s)
{
	s->client = NULL;
	switch (s->state) {
	case RELAY_SESSION_WAIT:
		s->state = RELAY_SESSION_FAILED;
		relay_session_unregister(ss, s);
		relay_session_end(s, "client left before the agent attached");
		break;
	case RELAY_SESSION_SPLICED:
	case RELAY_SESSION_ERRORED:
		s->state = RELAY_SESSION_FAILED;
		/* FALLTHROUGH */
	case RELAY_SESSION_EXITED:
	case RELAY_SESSION_FAILED:
		if (s->data != NULL) {
			/*
			 * After what the client sent last: a sealed session's
			 * close record tells the agent the client left on
			 * purpose (else it holds the session for a resume).
			 */
			relay_session_end(s, "client left");
			ss->io->close(s->data, PH_CLOSE_GOING_AWAY, "client left", 0);
		}
		break;
	}
	relay_session_maybe_free(ss, s);
}

/*
 * The data channel closed (peer_close: the code the agent closed with, or
 * 0).  SPLICED -> FAILED: agent_lost to the client; ERRORED -> FAILED: the
 * agent said why, its close code goes on if it is one of ours; EXITED
 * stays.
 */
void
relay_session_data_closed(struct relay_sessions *ss, struct relay_session *s,
    int peer_close)
{
	int code;

	s->data = NULL;
	switch (s->state) {
	case RELAY_SESSION_ERRORED:
		s->state = RELAY_SESSION_FAILED;
		code = peer_close;
		if (!((code >= 4000 && code <= 4999) || (code >= 1008 && code <= 1011)))
			code = PH_CLOSE_AGENT_LOST;
		if (s->client != NULL)
			ss->io->close(s->client, code, "agent ended the session", 0);
		break;
	case RELAY_SESSION_SPLICED:
		if (s->exit_seen) {
			/*
			 * Sealed: the exit went out as the record before this
			 * close (whatever code lws reports for it: 0 when the
			 * agent's close frame was not seen as such).
			 */
			s->state = RELAY_SESSION_EXITED;
			if (s->client != NULL)
				ss->io->close(s->client, PH_CLOSE_NORMAL, "", 0);
			break;
		}
		s->state = RELAY_SESSION_FAILED;
		if (s->client == NULL)
			break;
		relay_session_end(s, "agent_lost");
		relay_session_failf(ss, s->client, PH_ERR_AGENT_LOST, PH_CLOSE_AGENT_LOST,
		    "agent %s lost the session: its data channel closed before exit",
		    s->agent_id);
		break;
	case RELAY_SESSION_WAIT:	/* no data channel yet: cannot happen */
	case RELAY_SESSION_EXITED:
	case RELAY_SESSION_FAILED:
		break;
	}
	relay_session_maybe_free(ss, s);
}

/*
 * The data channel broke with the relay that carried it (another relay of
 * the fleet, gone without a close): SPLICED or ERRORED -> FAILED, the
 * client told msg with agent_lost; EXITED stays.
 */
void
relay_session_data_broke(struct relay_sessions *ss, struct relay_session *s, const char *msg)
{
	s->data = NULL;
	if (s->state == RELAY_SESSION_SPLICED || s->state == RELAY_SESSION_ERRORED) {
		s->state = RELAY_SESSION_FAILED;
		relay_session_end(s, "agent_lost: its relay went away");
		relay_session_failf(ss, s->client, PH_ERR_AGENT_LOST, PH_CLOSE_AGENT_LOST,
		    "%s", msg);
	}
	relay_session_maybe_free(ss, s);
}

/* SPLICED or ERRORED -> EXITED: the agent's exit went out; both close after it. */
static void
relay_session_exit(struct relay_sessions *ss, struct relay_session *s, json_t *exit)
{
	json_t *v;

	if (s->state != RELAY_SESSION_SPLICED && s->state != RELAY_SESSION_ERRORED)
		return;
	s->state = RELAY_SESSION_EXITED;
	if ((v = json_object_get(exit, "code")) != NULL)
		relay_session_end(s, "exit %lld", (long long)json_integer_value(v));
	else
		relay_session_end(s, "exit signal %lld", (long long)
		    json_integer_value(json_object_get(exit, "signal")));
	if (s->client != NULL)
		ss->io->close(s->client, PH_CLOSE_NORMAL, "", 0);
	if (s->data != NULL)
		ss->io->close(s->data, PH_CLOSE_NORMAL, "", 0);
}

/*
 * A sealed session's clear `exit`: the audit's copy, sent by the agent
 * before the sealed exit the client acts on.  The session goes on until
 * that record has passed and the agent closed its channel (1000).
 */
static void
relay_session_exit_seen(struct relay_session *s, json_t *exit)
{
	json_t *v;

	if (s->state != RELAY_SESSION_SPLICED || s->exit_seen)
		return;
	s->exit_seen = 1;
	if ((v = json_object_get(exit, "code")) != NULL)
		relay_session_end(s, "exit %lld", (long long)json_integer_value(v));
	else
		relay_session_end(s, "exit signal %lld", (long long)
		    json_integer_value(json_object_get(exit, "signal")));
}

/* SPLICED -> ERRORED: the agent sent `error` (the first reason stays). */
static void
relay_session_agent_error(struct relay_session *s, json_t *error)
{
	if (s->state != RELAY_SESSION_SPLICED)
		return;
	s->state = RELAY_SESSION_ERRORED;
	relay_session_end(s, "agent error %s: %s",
	    json_string_value(json_object_get(error, "code")),
	    json_string_value(json_object_get(error, "message")));
}

/* May f travel (or reach the relay) in a sealed session? */
static int
relay_session_sealed_allowed(const struct relay_session *s, int from_agent,
    const struct ph_frame *f)
{
	struct ph_seal_env env;
	char *why = NULL;

	switch (f->type) {
	case PH_FRAME_SEALED:
		if (ph_seal_envelope(f->payload - 1, f->len + 1, &env, &why) != 0) {
			free(why);
			return 0;
		}
		return 1;
	case PH_FRAME_COPY:
		return from_agent;
	case PH_FRAME_CONTROL:
		if (f->ctl == PH_CTL_RESUME_PROOF)
			return s->resuming;
		return f->ctl == PH_CTL_ERROR || (from_agent && (f->ctl == PH_CTL_EXIT ||
		    f->ctl == PH_CTL_REPORT));
	default:
		(void)s;
		return 0;
	}
}

/* May f travel in this direction in a session of s's operation? */
static int
relay_session_allowed(const struct relay_session *s, int from_agent,
    const struct ph_frame *f)
{
	if (s->sealed)
		return relay_session_sealed_allowed(s, from_agent, f);
	/* The agent's share: once, and only as the answer to a sealed open. */
	if (from_agent && f->type == PH_FRAME_CONTROL && f->ctl == PH_CTL_SEAL)
		return 1;
	switch (f->type) {
	case PH_FRAME_STDIN:
		return !from_agent;
	case PH_FRAME_STDOUT:
	case PH_FRAME_STDERR:
		return from_agent;
	case PH_FRAME_DATA:
		return 1;
	case PH_FRAME_STREAM:
		return (ph_ops_find(s->op) != NULL &&
		    (ph_ops_find(s->op)->flags & PH_OPF_STREAMS) != 0);
	case PH_FRAME_CONTROL:
		return ph_ops_ctl_allowed(ph_ops_find(s->op), from_agent, f->ctl);
	default:
		return 0;
	}
}

static const char *
relay_session_frame_name(const struct ph_frame *f)
{
	return f->type == PH_FRAME_CONTROL ? ph_ctl_name(f->ctl) :
	    ph_frame_type_name(f->type);
}

/* A decoded message from the client (not its open). */
void
relay_session_client_frame(struct relay_sessions *ss, struct relay_session *s,
    const struct ph_frame *f, const uint8_t *msg, size_t len)
{
	if (!relay_session_allowed(s, 0, f)) {
		relay_session_end(s, "bad_message from the client");
		relay_session_failf(ss, s->client, PH_ERR_BAD_MESSAGE, PH_CLOSE_POLICY,
		    "%s is not allowed from the client", relay_session_frame_name(f));
		return;
	}
	if (s->state == RELAY_SESSION_FAILED)
		return;
	if (ss->io->passing != NULL && ss->io->passing(ss, s, 0, f, msg, len) != 0)
		return;
	switch (s->state) {
	case RELAY_SESSION_WAIT:
		if (ph_queue_push(&s->early, -1, msg, len) != 0)
			relay_session_failf(ss, s->client, PH_ERR_INTERNAL, PH_CLOSE_INTERNAL,
			    "too much input before the session started");
		break;
	case RELAY_SESSION_SPLICED:
	case RELAY_SESSION_ERRORED:
	case RELAY_SESSION_EXITED:
		relay_session_forward(ss, s, s->client, s->data, msg, len);
		break;
	case RELAY_SESSION_FAILED:
		break;
	}
}

/* A decoded message on the data channel (not its attach). */
void
relay_session_agent_frame(struct relay_sessions *ss, struct relay_session *s,
    const struct ph_frame *f, const uint8_t *msg, size_t len)
{
	if (!relay_session_allowed(s, 1, f)) {
		relay_session_failf(ss, s->data, PH_ERR_BAD_MESSAGE, PH_CLOSE_POLICY,
		    "%s is not allowed from the agent", relay_session_frame_name(f));
		return;
	}
	if (s->state != RELAY_SESSION_SPLICED && s->state != RELAY_SESSION_ERRORED)
		return;		/* exit was the last word, or the session failed */
	if (f->type == PH_FRAME_CONTROL && f->ctl == PH_CTL_SEAL)
		s->sealed = 1;	/* from here on, records (relay_session_allowed) */
	if (ss->io->passing != NULL && ss->io->passing(ss, s, 1, f, msg, len) != 0)
		return;
	/*
	 * Sealed: a COPY is the recording's and the clear exit and error are
	 * the relay's own (the client has them sealed): none is forwarded.
	 */
	if (!s->sealed || f->type == PH_FRAME_SEALED ||
	    (f->type == PH_FRAME_CONTROL && f->ctl == PH_CTL_SEAL) ||
	    (s->resuming && f->type == PH_FRAME_CONTROL &&
	    (f->ctl == PH_CTL_RESUME_PROOF || f->ctl == PH_CTL_ERROR)))
		relay_session_forward(ss, s, s->data, s->client, msg, len);
	if (f->type == PH_FRAME_SEALED)
		s->resuming = 0;	/* the agent took the client's proof */
	if (f->type != PH_FRAME_CONTROL)
		return;
	if (f->ctl == PH_CTL_EXIT && s->sealed)
		relay_session_exit_seen(s, f->json);
	else if (f->ctl == PH_CTL_EXIT)
		relay_session_exit(ss, s, f->json);
	else if (f->ctl == PH_CTL_ERROR)
		relay_session_agent_error(s, f->json);
}

/* c (client or data channel) sent a message off its queue: the other side may read. */
void
relay_session_drained(struct relay_sessions *ss, struct relay_session *s,
    struct relay_conn *c)
{
	struct relay_conn *src = c == s->client ? s->data : s->client;

	if (src != NULL && ss->io->under_low(c))
		ss->io->release(src, RELAY_HOLD_PEER);
}
