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
 * Resume (docs/protocol.md, "Resume"): a sealed session keeps every record
 * until the client acknowledges it (agent-seal.c).  When its channel goes
 * without the client's close record, the session is held: the program
 * runs on, its output kept until the buffer's soft mark (then it is no
 * longer read), until the client resumes through the relay (`resume` on
 * the control channel: a new channel, proofs both ways, the records the
 * client lacks sent again) or the resume timeout ends it as a lost one.
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

#include "porthole/duration.h"
#include "porthole/frame.h"
#include "porthole/log.h"
#include "porthole/ops.h"
#include "porthole/resume.h"
#include "porthole/seal.h"
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

/* A new session's channel and inbox, and its place in the agent's list. */
void
agent_session_link(struct agent *a, struct agent_session *s, const char *sid)
{
	agent_chan_init(&s->chan, &agent_session_chan_ops, s, AGENT_OUT_LOW,
	    AGENT_OUT_HIGH, AGENT_OUT_LIMIT);
	ph_queue_init(&s->inbox, 0, 0, PH_RESUME_BUF_MAX + PH_RESUME_SLACK);
	snprintf(s->chan.label, sizeof s->chan.label, "session %.8s: ", sid);
	s->next = a->sessions;
	a->sessions = s;
	a->nsessions++;
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
	s->started = s->active = ph_now();
	agent_session_link(a, s, sid);
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
 * A resume the agent refuses: a session of its own that dials the data
 * channel the relay expects only to say why (error, then close_code).
 */
static void
agent_session_refuse_stub(struct agent *a, const char *sid, const char *secret,
    const char *sub, const char *code, int close_code, const char *msg)
{
	struct agent_session	*s;

	ph_warn("session %.8s: resume refused (%s): %s", sid, code, msg);
	if (a->nsessions >= AGENT_SESSIONS_MAX || (s = calloc(1, sizeof *s)) == NULL)
		return;		/* the relay times it out */
	s->agent = a;
	memcpy(s->sid, sid, PH_SID_LEN);
	memcpy(s->secret, secret, PH_SECRET_LEN);
	s->refuse_code = code;
	s->refuse_close = close_code;
	s->refuse_msg = strdup(msg);
	s->sub = strdup(sub != NULL ? sub : "?");
	s->path = ph_asprintf("%s%s", PH_PATH_AGENT_SESSION, sid);
	s->open = json_object();
	agent_session_link(a, s, sid);
	if (s->refuse_msg == NULL || s->sub == NULL || s->path == NULL ||
	    s->open == NULL || agent_chan_connect(&s->chan, a, s->path,
	    PH_SUBPROTO_SESSION, AGENT_SESSION_PROTOCOL) != 0)
		agent_session_check(s);
}

/*
 * The relay's `resume` {sid, secret, sub, challenge}: a client wants its
 * held session back.  Only the session's own token subject may ask; the
 * proofs on the new channel decide the rest (agent_session_proven).
 */
void
agent_session_resume(struct agent *a, json_t *msg)
{
	struct agent_session	*s;
	const char		*sid, *secret, *sub, *ch;
	char			*why = NULL;

	sid = json_string_value(json_object_get(msg, "sid"));
	secret = json_string_value(json_object_get(msg, "secret"));
	sub = json_string_value(json_object_get(msg, "sub"));
	ch = json_string_value(json_object_get(msg, "challenge"));
	if (sid == NULL || !ph_sid_valid(sid) || secret == NULL || sub == NULL ||
	    strlen(secret) != PH_SECRET_LEN ||
	    strspn(secret, "0123456789abcdef") != PH_SECRET_LEN) {
		ph_warn("resume without a session id, secret or subject: ignored");
		return;
	}
	for (s = a->sessions; s != NULL; s = s->next)
		if (s->refuse_code == NULL && strcmp(s->sid, sid) == 0)
			break;
	if (s == NULL || a->stopping || !agent_seal_resumes(s) || s->failed ||
	    s->state == AGENT_SESSION_CLOSED || s->state == AGENT_SESSION_OPENING) {
		agent_session_refuse_stub(a, sid, secret, sub, PH_ERR_RESUME,
		    PH_CLOSE_NOT_FOUND, "the session cannot resume: the agent holds "
		    "no such session (it ended, its resume timeout passed, or the "
		    "agent restarted)");
		return;
	}
	if (strcmp(s->sub, sub) != 0) {
		agent_session_refuse_stub(a, sid, secret, sub, PH_ERR_FORBIDDEN,
		    PH_CLOSE_FORBIDDEN, "the session belongs to another token subject");
		return;
	}
	if (s->chan.wsi != NULL || s->resuming) {
		agent_session_refuse_stub(a, sid, secret, sub, PH_ERR_CONFLICT,
		    PH_CLOSE_CONFLICT, "the session's channel is still up: try again");
		return;
	}
	if (ph_seal_share_decode(ch, s->resume_challenge, &why) != 0) {
		agent_session_refuse_stub(a, sid, secret, sub, PH_ERR_BAD_MESSAGE,
		    PH_CLOSE_POLICY, "the resume's challenge is not 32 bytes");
		free(why);
		return;
	}
	ph_info("session %.8s: %s resumes it", s->sid, s->sub);
	memcpy(s->secret, secret, PH_SECRET_LEN);
	agent_chan_reset(&s->chan);
	s->resuming = 1;
	if (agent_chan_connect(&s->chan, a, s->path, PH_SUBPROTO_SESSION,
	    AGENT_SESSION_PROTOCOL) != 0) {
		ph_warn("session %.8s: cannot start a connection to the relay", s->sid);
		s->resuming = 0;
	}
}

/* Does the session take output: a channel, or held for a resume? */
static int
agent_session_live(const struct agent_session *s)
{
	return agent_chan_open(&s->chan) ||
	    (agent_seal_resumes(s) && (s->held || s->resuming) && !s->failed);
}

static void	agent_session_resume_over(lws_sorted_usec_list_t *);

/*
 * Send `error` {code, message}, then close with close_code once the queue
 * is out; input is no longer read.  A second failure keeps the first.  A
 * held session (no channel) ends soon.
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
	s->failed = 1;
	if (!agent_chan_open(&s->chan)) {
		if (s->held) {
			ph_warn("session %.8s: %s: %s: ending the held session", s->sid,
			    code, msg);
			lws_sul_schedule(s->agent->ctx, 0, &s->sul_resume,
			    agent_session_resume_over, 1);
		}
		return;
	}
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

	if (s->detach != NULL)
		return agent_detach_keep(s, p, n);
	if (!agent_session_live(s))
		return 0;
	s->active = ph_now();
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

	if (!agent_session_live(s)) {
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
	if (s->sealed != NULL && !agent_chan_open(&s->chan)) {
		json_decref(msg);	/* held: the relay that audits it is gone */
		return 0;
	}
	if (s->sealed == NULL)
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
	return ph_queue_over_high(&s->chan.out) || agent_seal_full(s);
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

static void	agent_session_frame(void *, struct ph_frame *);

/*
 * The records kept while the input was full, to the operation, until it
 * pauses again.  The operation may pause and resume from inside (an input
 * queue drained, an input closed): its resume only clears in_paused, and
 * this loop goes on; it never runs twice over the same record.
 */
static void
agent_session_inbox(struct agent_session *s)
{
	struct ph_qitem	*it;
	struct ph_frame	 f;
	const char	*why = NULL;
	int		 code;

	if (s->inbox_busy)
		return;
	s->inbox_busy = 1;
	while (!s->in_paused && (it = ph_queue_peek(&s->inbox)) != NULL) {
		memset(&f, 0, sizeof f);
		if (ph_frame_decode(it->data + PH_HEADROOM, it->len, &f, &code,
		    &why) == 0)
			agent_session_frame(s, &f);
		ph_frame_clear(&f);
		ph_queue_pop(&s->inbox);
	}
	s->inbox_busy = 0;
}

/* Stop (pause != 0) or resume reading the data channel. */
void
agent_session_rx_pause(struct agent_session *s, int pause)
{
	if (agent_seal_resumes(s)) {
		s->in_paused = !!pause;
		if (!pause)
			agent_session_inbox(s);
		return;
	}
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

/*
 * A resumable session that finished: close 1000 once the client has every
 * record (it acknowledged them all, or sent its close record).
 */
static void
agent_session_maybe_end(struct agent_session *s)
{
	if (s->state == AGENT_SESSION_FINISHING && agent_chan_open(&s->chan) &&
	    !agent_seal_proving(s) && (agent_seal_peer_closed(s) ||
	    !agent_seal_unacked(s)))
		agent_chan_close(&s->chan, PH_CLOSE_NORMAL);
}

/* The operation is over: queue `exit` (takes the reference), close 1000 after. */
void
agent_session_exit(struct agent_session *s, json_t *exit_msg)
{
	char	*txt;

	if (s->detach != NULL) {
		agent_detach_exited(s, exit_msg);
		return;
	}
	if (s->state != AGENT_SESSION_RUNNING || !agent_session_live(s)) {
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

		/* Kept: a relay the session resumes through audits it too. */
		json_decref(s->exit_copy);
		s->exit_copy = copy != NULL ? json_incref(copy) : NULL;
		if (copy == NULL || (agent_chan_open(&s->chan) &&
		    !agent_seal_proving(s) && agent_chan_push_ctl(&s->chan,
		    json_incref(copy)) != 0)) {
			json_decref(copy);
			json_decref(exit_msg);
			agent_session_fail(s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL,
			    "cannot queue exit");
			return;
		}
		json_decref(copy);
		if (agent_seal_ctl(s, exit_msg, &why) != 0) {
			agent_session_fail(s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL, "%s", why);
			free(why);
			return;
		}
		if (agent_seal_resumes(s)) {
			/* Until the client has it all: its close record, or acks. */
			agent_session_maybe_end(s);
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

	if (s->chan.wsi != NULL || s->held ||
	    (s->op != NULL && s->op->busy != NULL && s->op->busy(s)))
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
	lws_sul_cancel(&s->sul_resume);
	agent_detach_free(s);
	agent_chan_free(&s->chan);
	ph_queue_free(&s->inbox);
	json_decref(s->open);
	json_decref(s->exit_copy);
	explicit_bzero(s->secret, sizeof s->secret);
	agent_seal_free(s);
	free(s->jti);
	free(s->sub);
	free(s->path);
	free(s->refuse_msg);
	json_decref(s->forward_claim);
	free(s);
	ph_heap_release();	/* what its buffers held (ph_heap_hold) */
	agent_check_done(a);
}

/* The resume timeout passed (or a held session failed): it ends as lost. */
static void
agent_session_resume_over(lws_sorted_usec_list_t *sul)
{
	struct agent_session	*s = lws_container_of(sul, struct agent_session,
				    sul_resume);
	char			 t[PH_DURATION_FMT_MAX];

	if (!s->held && !s->resuming)
		return;
	if (!s->failed)
		ph_warn("session %.8s: the client did not come back within %s: the "
		    "session ends", s->sid, ph_duration_fmt(s->agent->resume_ms, t,
		    sizeof t));
	s->failed = 1;
	if (s->chan.wsi != NULL) {
		/* A resume half done: its channel goes, and the session with it. */
		agent_chan_close(&s->chan, PH_CLOSE_GOING_AWAY);
		lws_callback_on_writable(s->chan.wsi);
		return;
	}
	s->held = 0;
	s->resuming = 0;
	agent_session_to_closed(s);
	agent_session_check(s);
}

/*
 * Is the session held when its channel goes?  A sealed one that resumes,
 * did not fail, whose client did not close on purpose, with its program
 * running or records the client does not have.
 */
static int
agent_session_holdable(const struct agent_session *s)
{
	return agent_seal_resumes(s) && !s->failed && !s->no_hold &&
	    !s->agent->stopping && !agent_seal_peer_closed(s) && (s->state == AGENT_SESSION_RUNNING ||
	    (s->state == AGENT_SESSION_FINISHING && agent_seal_unacked(s)));
}

/* The channel is closed (or failed to connect): hold, or tell the operation, maybe free. */
static void
agent_session_closed(struct agent_session *s, struct lws *wsi)
{
	char	t[PH_DURATION_FMT_MAX];

	if (s->chan.wsi != wsi)
		return;
	agent_chan_gone(&s->chan);
	lws_sul_cancel(&s->sul_keep);
	s->rx_paused = 0;
	if (agent_session_holdable(s)) {
		s->resuming = 0;
		if (!s->held) {
			s->held = 1;
			s->held_ms = ph_mono_ms();
			ph_info("session %.8s: the channel to the client is gone: holding "
			    "the session for %s for it to resume", s->sid,
			    ph_duration_fmt(s->agent->resume_ms, t, sizeof t));
			lws_sul_schedule(s->agent->ctx, 0, &s->sul_resume,
			    agent_session_resume_over,
			    (lws_usec_t)s->agent->resume_ms * LWS_US_PER_MS);
		}
		return;
	}
	s->held = 0;
	s->resuming = 0;
	lws_sul_cancel(&s->sul_resume);
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

	if (s->resuming) {
		char	*why = NULL;

		/* Our proof first; the client's answers it (agent_session_proven). */
		if (agent_seal_proof(s, s->resume_challenge, &why) != 0) {
			ph_warn("session %.8s: cannot resume: %s", s->sid, why);
			free(why);
			agent_chan_close(&s->chan, PH_CLOSE_INTERNAL);
		}
		return;
	}

	if (s->refuse_code != NULL && strcmp(s->refuse_code, PH_ERR_RESUME) == 0) {
		/* Which process refuses: the CLI tells a restart by it. */
		json_t	*e = ph_ctl_error(s->refuse_code, "%s", s->refuse_msg);

		ph_info("session %.8s: %s: %s (closing %d)", s->sid, s->refuse_code,
		    s->refuse_msg, s->refuse_close);
		s->failed = 1;
		if (e != NULL)
			json_object_set_new(e, "boot", json_string(agent_seal_boot()));
		if (agent_chan_push_ctl(&s->chan, e) != 0)
			s->refuse_close = PH_CLOSE_INTERNAL;
		agent_chan_close(&s->chan, s->refuse_close);
		return;
	}
	if (s->refuse_code != NULL) {
		agent_session_fail(s, s->refuse_close, s->refuse_code, "%s",
		    s->refuse_msg);
		return;
	}
	/* One that must not be held says so before the seal offers resume. */
	op = op_find(opname);
	if (op != NULL && op->holds != NULL && !op->holds(s->open))
		s->no_hold = 1;
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
	if (op == NULL) {
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
	s->active = ph_now();
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
		case PH_CTL_DETACH:
			agent_detach(s);	/* the shell goes on without the client */
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
 * A resume's refusal: `error` in the clear (the client is not proven:
 * nothing goes into the sealed stream), then close; the session stays
 * held for its real client unless end says it cannot go on.
 */
static void
agent_session_refuse_resume(struct agent_session *s, const char *code,
    int close_code, const char *msg, int end)
{
	ph_warn("session %.8s: resume refused (%s): %s", s->sid, code, msg);
	if (end)
		s->failed = 1;
	(void)agent_chan_push_ctl(&s->chan, ph_ctl_error(code, "%s", msg));
	agent_chan_close(&s->chan, close_code);
}

/* Resuming: the client's `resume_proof` (nothing else comes first). */
static void
agent_session_proven(struct agent_session *s, struct ph_frame *f)
{
	char		*why = NULL, t[PH_DURATION_FMT_MAX];
	const char	*code;
	int		 close_code;

	if (f->type == PH_FRAME_CONTROL && f->ctl == PH_CTL_ERROR) {
		agent_session_dispatch(s, f);	/* logged */
		return;
	}
	if (f->type != PH_FRAME_CONTROL || f->ctl != PH_CTL_RESUME_PROOF) {
		agent_session_refuse_resume(s, PH_ERR_BAD_MESSAGE, PH_CLOSE_POLICY,
		    "a resumed session starts with the client's resume_proof", 0);
		return;
	}
	if (agent_seal_check(s, f->json, &code, &close_code, &why) != 0) {
		agent_session_refuse_resume(s, code, close_code, why,
		    strcmp(code, PH_ERR_UNAUTHORIZED) != 0);
		free(why);
		return;
	}
	ph_info("session %.8s: resumed after %s", s->sid, ph_duration_fmt(ph_mono_ms() -
	    s->held_ms, t, sizeof t));
	s->resuming = 0;
	s->held = 0;
	s->held_ms = 0;
	lws_sul_cancel(&s->sul_resume);
	if (s->exit_copy != NULL)
		(void)agent_chan_push_ctl(&s->chan, json_incref(s->exit_copy));
	if (agent_seal_pump(s) != 0) {
		agent_session_fail(s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL,
		    "output queue overflow");
		return;
	}
	if (!agent_session_over_high(s) && s->op != NULL && s->op->resume != NULL &&
	    s->state == AGENT_SESSION_RUNNING)
		s->op->resume(s);
	agent_session_maybe_end(s);
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
	if (agent_seal_proving(s)) {
		agent_session_proven(s, f);
		return;
	}
	if (agent_seal_resumes(s) && f->type == PH_FRAME_SEALED && !s->inbox_busy &&
	    (s->in_paused || ph_queue_peek(&s->inbox) != NULL)) {
		/* Input full: kept unopened; its ack counts now. */
		agent_seal_peek_ack(s, f->payload - 1, f->len + 1);
		if (ph_queue_push(&s->inbox, -1, f->payload - 1, f->len + 1) != 0)
			agent_session_fail(s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL,
			    "the client sent more than its resume buffer holds");
		else if (!s->in_paused)
			agent_session_inbox(s);	/* the ack let the input go on */
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
		agent_session_maybe_end(s);
		return;
	}
	agent_session_dispatch(s, &inner);
	ph_frame_clear(&inner);
	agent_session_maybe_end(s);
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

	if (agent_seal_pump(s) != 0) {
		agent_session_fail(s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL,
		    "output queue overflow");
		return;
	}
	if (s->op != NULL && s->op->resume != NULL && !agent_session_over_high(s))
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
		s->held = 0;
		s->resuming = 0;
		lws_sul_cancel(&s->sul_resume);
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
		agent_detach_free(s);
		agent_chan_free(&s->chan);
		ph_queue_free(&s->inbox);
		json_decref(s->open);
		json_decref(s->exit_copy);
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
