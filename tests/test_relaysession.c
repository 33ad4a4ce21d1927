/*
 * test_relaysession.c - the relay's session state machine
 * (src/relay/relay-session.c) driven without sockets: its channels are
 * fakes that record what the session did to them (queued messages, holds,
 * failures, closes), its clock is a number.  Open, the agent attaching,
 * frames both ways with flow control, close from either side, the attach
 * deadline, and the transitions a state must refuse.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "relay-session.h"

/* A fake channel. */
struct relay_conn {
	uint8_t		 types[64];	/* type byte of each message queued */
	int		 ctls[64];	/* ... and for CONTROL, which (by the test) */
	int		 nsent;
	size_t		 queued;	/* bytes "waiting" */
	int		 full;		/* send fails: over the hard limit */
	int		 high, low;	/* over_high / under_low answers */
	unsigned	 held;		/* RELAY_HOLD_* bits */
	char		 err[32];	/* fail: the error code */
	int		 code;		/* fail or close: the close code */
	int		 now;		/* close: at once */
	int		 closing;
};

static int nfreed;
static struct relay_session *freed_last;
static int passing_veto;	/* the owner's hook stops the next frame */
static int npassing;		/* frames the owner saw pass (recorded) */

static int
fake_send(struct relay_conn *c, const void *msg, size_t len)
{
	if (c->full || c->closing)
		return -1;
	cr_assert_lt(c->nsent, 64);
	c->types[c->nsent++] = ((const uint8_t *)msg)[0];
	c->queued += len;
	return 0;
}

static size_t fake_queued(const struct relay_conn *c) { return c->queued; }
static int fake_over_high(const struct relay_conn *c) { return c->high; }
static int fake_under_low(const struct relay_conn *c) { return c->low; }
static int fake_closing(const struct relay_conn *c) { return c->closing; }

static void
fake_fail(struct relay_conn *c, const char *err, int code, const char *msg)
{
	(void)msg;
	if (c->closing)
		return;
	snprintf(c->err, sizeof c->err, "%s", err);
	c->code = code;
	c->closing = 1;
}

static void
fake_close(struct relay_conn *c, int code, const char *reason, int now)
{
	(void)reason;
	if (!c->closing)
		c->code = code;
	c->closing = 1;
	c->now |= now;
}

static void fake_hold(struct relay_conn *c, unsigned why) { c->held |= why; }
static void fake_release(struct relay_conn *c, unsigned why) { c->held &= ~why; }

static int
fake_passing(struct relay_sessions *ss, struct relay_session *s, int from_agent,
    const struct ph_frame *f, const uint8_t *msg, size_t len)
{
	(void)from_agent; (void)f; (void)msg; (void)len;
	npassing++;
	if (!passing_veto)
		return 0;
	passing_veto = 0;
	relay_session_abort(ss, s, "recording failed: test", "recording_failed",
	    PH_CLOSE_INTERNAL, "cannot record");
	return -1;
}

static void
fake_freed(struct relay_sessions *ss, struct relay_session *s)
{
	(void)ss;
	nfreed++;
	freed_last = s;
}

static const struct relay_session_io fake_io = {
	.send = fake_send, .queued = fake_queued, .over_high = fake_over_high,
	.under_low = fake_under_low, .closing = fake_closing, .fail = fake_fail,
	.close = fake_close, .hold = fake_hold, .release = fake_release,
	.passing = fake_passing, .freed = fake_freed,
};

static struct relay_sessions ss;
static struct relay_conn client, data;
static const char *SID = "0123456789abcdef0123456789abcdef";

static void
setup(void)
{
	relay_sessions_init(&ss, &fake_io);
	memset(&client, 0, sizeof client);
	memset(&data, 0, sizeof data);
	nfreed = 0;
	freed_last = NULL;
	passing_veto = 0;
	npassing = 0;
}

static void
teardown(void)
{
	relay_sessions_free(&ss);
}

TestSuite(relaysession, .init = setup, .fini = teardown);

/* A frame and its message: type byte, then payload (or JSON for CONTROL). */
struct msg {
	struct ph_frame	 f;
	uint8_t		 buf[64];
	size_t		 len;
};

static struct msg
bytes(enum ph_frame_type type, const char *text)
{
	struct msg m;

	memset(&m, 0, sizeof m);
	m.f.type = type;
	m.buf[0] = (uint8_t)type;
	memcpy(m.buf + 1, text, strlen(text));
	m.len = 1 + strlen(text);
	m.f.payload = m.buf + 1;
	m.f.len = strlen(text);
	return m;
}

static struct msg
ctl(enum ph_ctl which, json_t *json)
{
	struct msg m = bytes(PH_FRAME_CONTROL, "{}");

	m.f.ctl = which;
	m.f.json = json;
	return m;
}

static struct relay_session *
open_session(const char *op)
{
	struct relay_session *s;
	char *cause = NULL;

	s = relay_session_new(&ss, &client, SID, "web-1@ops", op, "alice", 1000, &cause);
	cr_assert_not_null(s, "%s", cause != NULL ? cause : "");
	return s;
}

static struct relay_session *
spliced(const char *op)
{
	struct relay_session *s = open_session(op);
	char secret[PH_SECRET_LEN + 1];

	memcpy(secret, s->secret, sizeof secret);
	cr_assert_eq(relay_session_attach(&ss, s, &data, secret), RELAY_SESSION_ATTACHED);
	return s;
}

Test(relaysession, open_waits_for_the_agent_with_the_client_held)
{
	struct relay_session *s = open_session("exec");

	cr_assert_eq(s->state, RELAY_SESSION_WAIT);
	cr_assert_eq(relay_session_find(&ss, SID), s);
	cr_assert(client.held & RELAY_HOLD_ATTACH);
	cr_assert_eq(strlen(s->secret), PH_SECRET_LEN);
	cr_assert_eq(ss.total, 1);
	cr_assert_eq(ss.active, 1);
	cr_assert_eq(s->deadline_ms, 1000 + RELAY_ATTACH_SECS * 1000);
}

Test(relaysession, a_sid_is_registered_once)
{
	char *cause = NULL;

	open_session("exec");
	cr_assert_null(relay_session_new(&ss, &client, SID, "a", "exec", "b", 0, &cause));
	cr_assert_not_null(cause);
	free(cause);
}

Test(relaysession, attach_needs_the_secret_and_is_good_once)
{
	struct relay_session *s = open_session("exec");
	struct relay_conn other;
	char secret[PH_SECRET_LEN + 1];

	memset(&other, 0, sizeof other);
	memcpy(secret, s->secret, sizeof secret);
	cr_assert_eq(relay_session_attach(&ss, s, &data, "0000"), RELAY_SESSION_BAD_SECRET);
	cr_assert_eq(s->state, RELAY_SESSION_WAIT);
	cr_assert_null(s->data);
	cr_assert_eq(relay_session_attach(&ss, s, &data, secret), RELAY_SESSION_ATTACHED);
	cr_assert_eq(s->state, RELAY_SESSION_SPLICED);
	cr_assert_eq(s->data, &data);
	cr_assert_eq(client.held & RELAY_HOLD_ATTACH, 0, "client reads resume at attach");
	cr_assert_eq(s->secret[0], '\0', "the secret is wiped once used");
	cr_assert_eq(relay_session_attach(&ss, s, &other, secret), RELAY_SESSION_NOT_WAITING);
	cr_assert_eq(s->data, &data);
}

Test(relaysession, early_client_frames_reach_the_agent_at_attach_in_order)
{
	struct relay_session *s = open_session("exec");
	struct msg a = bytes(PH_FRAME_STDIN, "one"), b = ctl(PH_CTL_EOF, NULL);
	char secret[PH_SECRET_LEN + 1];

	relay_session_client_frame(&ss, s, &a.f, a.buf, a.len);
	relay_session_client_frame(&ss, s, &b.f, b.buf, b.len);
	cr_assert_eq(data.nsent, 0);
	memcpy(secret, s->secret, sizeof secret);
	relay_session_attach(&ss, s, &data, secret);
	cr_assert_eq(data.nsent, 2);
	cr_assert_eq(data.types[0], PH_FRAME_STDIN);
	cr_assert_eq(data.types[1], PH_FRAME_CONTROL);
	cr_assert_eq(s->to_agent, 3 + 2);
}

Test(relaysession, frames_pass_each_way_and_are_counted)
{
	struct relay_session *s = spliced("exec");
	struct msg in = bytes(PH_FRAME_STDIN, "abc"), out = bytes(PH_FRAME_STDOUT, "hello");
	struct msg err = bytes(PH_FRAME_STDERR, "e");

	relay_session_client_frame(&ss, s, &in.f, in.buf, in.len);
	relay_session_agent_frame(&ss, s, &out.f, out.buf, out.len);
	relay_session_agent_frame(&ss, s, &err.f, err.buf, err.len);
	cr_assert_eq(data.nsent, 1);
	cr_assert_eq(client.nsent, 2);
	cr_assert_eq(client.types[0], PH_FRAME_STDOUT);
	cr_assert_eq(client.types[1], PH_FRAME_STDERR);
	cr_assert_eq(s->to_agent, 3);
	cr_assert_eq(s->to_client, 6);
	cr_assert_eq(ss.bytes_to_client, 6);
	cr_assert_eq(ss.bytes_to_agent, 3);
}

Test(relaysession, frames_of_the_wrong_direction_are_refused)
{
	struct relay_session *s = spliced("exec");
	struct msg out = bytes(PH_FRAME_STDOUT, "x"), in = bytes(PH_FRAME_STDIN, "x");

	relay_session_client_frame(&ss, s, &out.f, out.buf, out.len);
	cr_assert_str_eq(client.err, PH_ERR_BAD_MESSAGE);
	cr_assert_eq(client.code, PH_CLOSE_POLICY);
	cr_assert_eq(data.nsent, 0);
	relay_session_agent_frame(&ss, s, &in.f, in.buf, in.len);
	cr_assert_str_eq(data.err, PH_ERR_BAD_MESSAGE);
	cr_assert_eq(client.nsent, 0);
}

Test(relaysession, controls_follow_the_operation_registry)
{
	struct relay_session *s = spliced("exec");
	struct msg resize = ctl(PH_CTL_RESIZE, NULL);	/* shell's, not exec's */

	relay_session_client_frame(&ss, s, &resize.f, resize.buf, resize.len);
	cr_assert_str_eq(client.err, PH_ERR_BAD_MESSAGE);
	cr_assert_eq(data.nsent, 0);
}

Test(relaysession, exit_closes_both_sides_normally_and_is_the_last_word)
{
	struct relay_session *s = spliced("exec");
	json_t *j = json_pack("{s:s,s:i}", "type", "exit", "code", 3);
	struct msg exit = ctl(PH_CTL_EXIT, j), late = bytes(PH_FRAME_STDOUT, "late");

	relay_session_agent_frame(&ss, s, &exit.f, exit.buf, exit.len);
	cr_assert_eq(s->state, RELAY_SESSION_EXITED);
	cr_assert_eq(client.nsent, 1, "the exit itself reaches the client");
	cr_assert_eq(client.code, PH_CLOSE_NORMAL);
	cr_assert_eq(data.code, PH_CLOSE_NORMAL);
	cr_assert_eq(client.now, 0, "the client's queue drains first");
	cr_assert_str_eq(s->end, "exit 3");
	cr_assert_eq(npassing, 1);
	relay_session_agent_frame(&ss, s, &late.f, late.buf, late.len);
	cr_assert_eq(client.nsent, 1, "nothing passes after exit");
	cr_assert_eq(npassing, 1, "nor is it recorded");
	relay_session_data_closed(&ss, s, PH_CLOSE_NORMAL);
	cr_assert_eq(s->state, RELAY_SESSION_EXITED);
	cr_assert_eq(nfreed, 0);
	relay_session_client_closed(&ss, s);
	cr_assert_eq(nfreed, 1);
	cr_assert_eq(ss.active, 0);
	json_decref(j);
}

/*
 * What the client sent last is queued toward the agent and goes out
 * before the close: a sealed session's close record tells the agent the
 * client left on purpose, so it does not hold the session for a resume.
 */
Test(relaysession, client_leaving_closes_the_data_channel_after_its_last_frames)
{
	struct relay_session *s = spliced("shell");

	relay_session_client_closed(&ss, s);
	cr_assert_eq(s->state, RELAY_SESSION_FAILED);
	cr_assert_eq(data.code, PH_CLOSE_GOING_AWAY);
	cr_assert_eq(data.now, 0, "the queue toward the agent is sent first");
	cr_assert_str_eq(s->end, "client left");
	cr_assert_eq(nfreed, 0, "freed once neither side is left");
	relay_session_data_closed(&ss, s, 0);
	cr_assert_eq(nfreed, 1);
	cr_assert_null(relay_session_find(&ss, SID));
}

Test(relaysession, data_channel_lost_before_exit_is_agent_lost)
{
	struct relay_session *s = spliced("exec");

	relay_session_data_closed(&ss, s, 1006);
	cr_assert_eq(s->state, RELAY_SESSION_FAILED);
	cr_assert_str_eq(client.err, PH_ERR_AGENT_LOST);
	cr_assert_eq(client.code, PH_CLOSE_AGENT_LOST);
	cr_assert_str_eq(s->end, "agent_lost");
	relay_session_client_closed(&ss, s);
	cr_assert_eq(nfreed, 1);
}

Test(relaysession, after_an_agent_error_its_close_code_goes_on)
{
	struct relay_session *s = spliced("exec");
	json_t *j = json_pack("{s:s,s:s,s:s}", "type", "error", "code", "forbidden",
	    "message", "no");
	struct msg e = ctl(PH_CTL_ERROR, j);

	relay_session_agent_frame(&ss, s, &e.f, e.buf, e.len);
	cr_assert_eq(s->state, RELAY_SESSION_ERRORED);
	cr_assert_eq(client.nsent, 1);
	relay_session_data_closed(&ss, s, 4403);
	cr_assert_eq(client.code, 4403);
	cr_assert_str_eq(client.err, "", "no agent_lost error after the agent's own");
	cr_assert_str_eq(s->end, "agent error forbidden: no");
	json_decref(j);
}

Test(relaysession, after_an_agent_error_a_foreign_close_code_is_agent_lost)
{
	struct relay_session *s = spliced("exec");
	json_t *j = json_pack("{s:s,s:s,s:s}", "type", "error", "code", "x", "message", "y");
	struct msg e = ctl(PH_CTL_ERROR, j);

	relay_session_agent_frame(&ss, s, &e.f, e.buf, e.len);
	relay_session_data_closed(&ss, s, 1000);
	cr_assert_eq(client.code, PH_CLOSE_AGENT_LOST);
	json_decref(j);
}

Test(relaysession, the_attach_deadline_fails_a_waiting_session)
{
	struct relay_session *s = open_session("exec");
	char secret[PH_SECRET_LEN + 1];

	memcpy(secret, s->secret, sizeof secret);
	relay_session_tick(&ss, s->deadline_ms - 1);
	cr_assert_eq(s->state, RELAY_SESSION_WAIT);
	relay_session_tick(&ss, s->deadline_ms);
	cr_assert_eq(s->state, RELAY_SESSION_FAILED);
	cr_assert_str_eq(client.err, PH_ERR_TIMEOUT);
	cr_assert_eq(client.code, PH_CLOSE_TIMEOUT);
	cr_assert_null(relay_session_find(&ss, SID), "a late attach finds nothing");
	cr_assert_eq(relay_session_attach(&ss, s, &data, secret), RELAY_SESSION_NOT_WAITING);
	relay_session_client_closed(&ss, s);
	cr_assert_eq(nfreed, 1);
}

Test(relaysession, the_deadline_leaves_spliced_sessions_alone)
{
	struct relay_session *s = spliced("exec");

	relay_session_tick(&ss, s->deadline_ms + 60000);
	cr_assert_eq(s->state, RELAY_SESSION_SPLICED);
	cr_assert_eq(client.closing, 0);
}

Test(relaysession, agent_gone_fails_only_the_sessions_waiting_for_it)
{
	struct relay_session *s = open_session("exec");

	relay_session_agent_gone(&ss, "web-2@ops");
	cr_assert_eq(s->state, RELAY_SESSION_WAIT);
	relay_session_agent_gone(&ss, "web-1@ops");
	cr_assert_eq(s->state, RELAY_SESSION_FAILED);
	cr_assert_eq(client.code, PH_CLOSE_AGENT_LOST);
}

Test(relaysession, agent_gone_leaves_a_spliced_session_running)
{
	struct relay_session *s = spliced("exec");

	relay_session_agent_gone(&ss, "web-1@ops");
	cr_assert_eq(s->state, RELAY_SESSION_SPLICED);
	cr_assert_eq(client.closing, 0);
}

Test(relaysession, client_leaving_before_attach_needs_no_agent)
{
	struct relay_session *s = open_session("exec");

	relay_session_client_closed(&ss, s);
	cr_assert_eq(nfreed, 1);
	cr_assert_eq(freed_last, s);
	cr_assert_null(relay_session_find(&ss, SID));
}

Test(relaysession, a_full_queue_holds_its_feeder_until_it_drains)
{
	struct relay_session *s = spliced("exec");
	struct msg out = bytes(PH_FRAME_STDOUT, "x");

	client.high = 1;
	relay_session_agent_frame(&ss, s, &out.f, out.buf, out.len);
	cr_assert(data.held & RELAY_HOLD_PEER);
	relay_session_drained(&ss, s, &client);
	cr_assert(data.held & RELAY_HOLD_PEER, "still above the low mark");
	client.low = 1;
	relay_session_drained(&ss, s, &client);
	cr_assert_eq(data.held & RELAY_HOLD_PEER, 0);
}

Test(relaysession, a_queue_past_its_limit_fails_both_sides)
{
	struct relay_session *s = spliced("exec");
	struct msg out = bytes(PH_FRAME_STDOUT, "x");

	client.full = 1;
	relay_session_agent_frame(&ss, s, &out.f, out.buf, out.len);
	cr_assert_eq(s->state, RELAY_SESSION_FAILED);
	cr_assert_str_eq(client.err, PH_ERR_INTERNAL);
	cr_assert_str_eq(data.err, PH_ERR_INTERNAL);
	cr_assert_str_eq(s->end, "internal: queue overflow");
}

Test(relaysession, the_owner_can_stop_a_frame_and_end_the_session)
{
	struct relay_session *s = spliced("shell");
	struct msg out = bytes(PH_FRAME_STDOUT, "x");

	passing_veto = 1;
	relay_session_agent_frame(&ss, s, &out.f, out.buf, out.len);
	cr_assert_eq(client.nsent, 0, "the frame that could not be recorded is dropped");
	cr_assert_eq(s->state, RELAY_SESSION_FAILED);
	cr_assert_str_eq(client.err, "recording_failed");
	cr_assert_eq(data.code, PH_CLOSE_GOING_AWAY);
	cr_assert_eq(data.now, 1);
}

Test(relaysession, illegal_transitions_are_refused)
{
	struct relay_session *s = spliced("exec");
	json_t *j = json_pack("{s:s,s:i}", "type", "exit", "code", 0);
	json_t *j2 = json_pack("{s:s,s:i}", "type", "exit", "code", 9);
	struct msg exit = ctl(PH_CTL_EXIT, j), exit2 = ctl(PH_CTL_EXIT, j2);

	relay_session_abandon(&ss, s, "not waiting");		/* only from WAIT */
	cr_assert_eq(s->state, RELAY_SESSION_SPLICED);
	cr_assert_str_eq(s->end, "");
	relay_session_agent_frame(&ss, s, &exit.f, exit.buf, exit.len);
	relay_session_agent_frame(&ss, s, &exit2.f, exit2.buf, exit2.len);
	cr_assert_eq(client.nsent, 1, "a second exit does not pass");
	cr_assert_str_eq(s->end, "exit 0");
	relay_session_abort(&ss, s, "late", "x", 1011, "late");
	relay_session_abort(&ss, s, "later", "y", 1011, "later");
	cr_assert_str_eq(s->end, "exit 0", "the first ending is the one told");
	json_decref(j);
	json_decref(j2);
}

Test(relaysession, an_open_not_forwarded_is_abandoned)
{
	struct relay_session *s = open_session("exec");

	relay_session_abandon(&ss, s, "open not forwarded");
	cr_assert_eq(s->state, RELAY_SESSION_FAILED);
	cr_assert_null(relay_session_find(&ss, SID));
	cr_assert_str_eq(s->end, "open not forwarded");
	relay_session_client_closed(&ss, s);
	cr_assert_eq(nfreed, 1);
}
