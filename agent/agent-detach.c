/*
 * agent-detach.c - detached shells (docs/protocol.md, "Detach and attach").
 *
 * A client's `detach` on a shell session moves the shell (its program, its
 * pty, op-shell.c's state) to a session of its own that has no channel:
 * the holder.  The holder keeps reading the pty, so the program never
 * blocks on a terminal nobody reads, and keeps the last AGENT_DETACH_RING
 * bytes of output in a ring.  The session the client detached from answers
 * `detach` {session} (sealed) and tells the relay for its audit (a clear
 * `report` {kind detach}), then ends as a finished one: no `exit`.
 *
 * `attach` (op-attach.c) is a new signed open with a fresh key share: its
 * session takes the shell from the holder (the same token subject only),
 * sends what the ring holds, and sizes the pty for the new terminal (the
 * program redraws on SIGWINCH).  The holder is freed.
 *
 * A shell held for its client to resume (the CLI died: its keys with it)
 * is taken over the same way: detached here first, the output its client
 * never acknowledged (the resume buffer's records, opened again with the
 * agent's own key) going into the ring before anything newer, and the held
 * session ends.  A live one, or one whose client is resuming it, is
 * refused; so is any session that is not a shell on a terminal (an exec,
 * a cp: their client alone resumes them).
 *
 * A holder ends after PORTHOLE_DETACH_TTL (detach_ttl_ms) as a lost session
 * does (the pty closed, SIGHUP, SIGKILL after the grace), or when its
 * program ends (its exit is logged: nobody is there to hear it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "porthole/duration.h"
#include "porthole/frame.h"
#include "porthole/log.h"
#include "porthole/util.h"

#include "agent.h"
#include "op.h"

struct agent_detach {
	struct agent_session	*s;		/* the holder */
	uint8_t			 ring[AGENT_DETACH_RING];
	size_t			 head;		/* where the next byte goes */
	size_t			 len;		/* bytes held (at most the ring's) */
	uint64_t		 dropped;	/* older bytes overwritten */
	int64_t			 since_ms;	/* detached when (monotonic) */
	int			 taken;		/* from a held session (takeover) */
	uint64_t		 missed;	/* its client's unacknowledged output */
	lws_sorted_usec_list_t	 sul_ttl;
};

/* The holder's time is up: the shell is hung up as a lost session's is. */
static void
agent_detach_ttl(lws_sorted_usec_list_t *sul)
{
	struct agent_detach	*d = lws_container_of(sul, struct agent_detach, sul_ttl);
	struct agent_session	*s = d->s;
	char			 t[PH_DURATION_FMT_MAX];

	ph_info("session %.8s: detached for %s, nobody attached: hanging up the shell",
	    s->sid, ph_duration_fmt(s->agent->detach_ttl_ms, t, sizeof t));
	if (s->state == AGENT_SESSION_RUNNING && s->op != NULL && s->op->lost != NULL)
		s->op->lost(s);
	s->state = AGENT_SESSION_CLOSED;
	agent_session_check(s);
}

/*
 * The shell of session s moves to a new holder session (no channel) under
 * the shell's id, kept for detach_ttl_ms; NULL (out of memory) leaves it.
 */
static struct agent_session *
agent_detach_hold(struct agent_session *s, const char *id)
{
	struct agent		*a = s->agent;
	struct agent_session	*h;
	struct agent_detach	*d;

	h = calloc(1, sizeof *h);
	d = calloc(1, sizeof *d);
	if (h == NULL || d == NULL || (h->sub = strdup(s->sub)) == NULL) {
		free(h);
		free(d);
		return NULL;
	}
	h->agent = a;
	memcpy(h->sid, id, PH_SID_LEN);
	h->state = AGENT_SESSION_RUNNING;
	h->started = s->started;
	h->active = ph_now();
	h->detach = d;
	d->s = h;
	d->since_ms = ph_mono_ms();
	agent_session_link(a, h, h->sid);
	op_shell_move(s, h);
	lws_sul_schedule(a->ctx, 0, &d->sul_ttl, agent_detach_ttl,
	    (lws_usec_t)a->detach_ttl_ms * LWS_US_PER_MS);
	return h;
}

void
agent_detach(struct agent_session *s)
{
	struct agent		*a = s->agent;
	struct agent_session	*h;
	const char		*id = op_shell_id(s);
	char			 t[PH_DURATION_FMT_MAX];
	json_t			*m;

	if (id == NULL || s->state != AGENT_SESSION_RUNNING || s->failed) {
		ph_info("session %.8s: detach ignored: no shell runs on a terminal",
		    s->sid);
		return;
	}
	if ((h = agent_detach_hold(s, id)) == NULL) {
		agent_session_fail(s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL,
		    "out of memory: cannot detach");
		return;
	}
	ph_info("session %.8s: %s detached shell %.8s (pid %ld): kept for %s", s->sid,
	    s->sub, h->sid, op_shell_pid(h), ph_duration_fmt(a->detach_ttl_ms, t,
	    sizeof t));

	/* The relay audits it; the client hears the id to attach with. */
	if (s->sealed != NULL && (m = json_pack("{s:s,s:s,s:s}", "type", "report",
	    "kind", "detach", "session", h->sid)) != NULL)
		(void)agent_session_send_relay_ctl(s, m);
	if ((m = ph_ctl_new(PH_CTL_DETACH)) != NULL)
		json_object_set_new(m, "session", json_string(h->sid));
	(void)agent_session_send_ctl(s, m);
	/* No exit: the session is over, closed once the client has it all. */
	if (s->state == AGENT_SESSION_RUNNING)
		s->state = AGENT_SESSION_FINISHING;
	if (!agent_seal_resumes(s))
		agent_chan_close(&s->chan, PH_CLOSE_NORMAL);
}

/* agent_seal_unacked_out's fn: a gone client's output into the ring. */
static void
agent_detach_missed(void *arg, const uint8_t *p, size_t n)
{
	struct agent_session	*h = arg;

	h->detach->missed += n;
	(void)agent_detach_keep(h, p, n);
}

/*
 * A held shell (its client's connection dropped: it waits for a resume
 * that a new process cannot make) is detached here for an attach: the
 * output its client never acknowledged goes into the ring first, then the
 * held session ends (a resume of it later finds nothing).
 */
static struct agent_session *
agent_detach_takeover(struct agent_session *s, const char *id)
{
	struct agent_session	*h;
	int64_t			 held_ms = s->held_ms;

	if ((h = agent_detach_hold(s, id)) == NULL)
		return NULL;
	h->detach->taken = 1;
	if (held_ms > 0)
		h->detach->since_ms = held_ms;
	(void)agent_seal_unacked_out(s, agent_detach_missed, h);
	ph_info("session %.8s: held for its client, taken over by an attach of %s: "
	    "%llu bytes of output it had not acknowledged kept", s->sid, s->sub,
	    (unsigned long long)h->detach->missed);
	s->held = 0;
	s->resuming = 0;
	s->state = AGENT_SESSION_CLOSED;	/* no program: the shell moved */
	agent_session_check(s);			/* freed: no channel, no operation */
	return h;
}

int
agent_detach_keep(struct agent_session *s, const void *p, size_t n)
{
	struct agent_detach	*d = s->detach;
	const uint8_t		*b = p;
	size_t			 k;

	s->active = ph_now();
	if (n > sizeof d->ring) {
		d->dropped += n - sizeof d->ring;
		b += n - sizeof d->ring;
		n = sizeof d->ring;
	}
	while (n > 0) {
		k = sizeof d->ring - d->head;
		if (k > n)
			k = n;
		memcpy(d->ring + d->head, b, k);
		d->head = (d->head + k) % sizeof d->ring;
		b += k;
		n -= k;
		if (d->len + k > sizeof d->ring) {
			d->dropped += d->len + k - sizeof d->ring;
			d->len = sizeof d->ring;
		} else
			d->len += k;
	}
	return 0;
}

void
agent_detach_exited(struct agent_session *s, json_t *exit_msg)
{
	char	*txt;

	if ((txt = json_dumps(exit_msg, JSON_COMPACT)) != NULL) {
		ph_info("session %.8s: the detached shell ended: %s", s->sid, txt);
		free(txt);
	}
	json_decref(exit_msg);
	lws_sul_cancel(&s->detach->sul_ttl);
	s->state = AGENT_SESSION_CLOSED;
}

struct agent_session *
agent_detach_take(struct agent *a, const char *id, const char *sub, const char **code,
    int *close_code, char **cause)
{
	struct agent_session	*s, *h;
	const char		*sid;

	for (s = a->sessions; s != NULL; s = s->next) {
		if (s->refuse_code != NULL || s->state != AGENT_SESSION_RUNNING ||
		    strcmp(s->sub, sub) != 0)
			continue;
		sid = s->detach != NULL ? s->sid : op_shell_id(s);
		if (sid == NULL && strcmp(s->sid, id) == 0 && s->op != NULL) {
			/* An exec, cp, ...: it resumes from its own client only. */
			*code = PH_ERR_UNSUPPORTED;
			*close_code = PH_CLOSE_NORMAL;
			*cause = ph_asprintf("session %s runs '%s', not a shell on a "
			    "terminal: only shells are attached (%s)", id,
			    s->op->name, s->held ?
			    "this one waits for its own client to resume it, until "
			    "its resume timeout" : "it goes on with its own client");
			return NULL;
		}
		if (sid == NULL || strcmp(sid, id) != 0)
			continue;
		if (s->detach != NULL)
			return s;
		/* Held, its client gone: taken over (its keys died with it). */
		if (s->held && !s->resuming && s->chan.wsi == NULL && !s->failed) {
			if ((h = agent_detach_takeover(s, id)) != NULL)
				return h;
			*code = PH_ERR_INTERNAL;
			*close_code = PH_CLOSE_INTERNAL;
			*cause = ph_asprintf("out of memory: cannot take session %s over",
			    id);
			return NULL;
		}
		/* Live, its client resuming it right now, or ending: not taken. */
		*code = PH_ERR_CONFLICT;
		*close_code = PH_CLOSE_CONFLICT;
		*cause = ph_asprintf("session %s is %s", id, s->resuming ?
		    "being resumed by its client right now (its connection dropped "
		    "and came back): detach it there (~d)" : s->chan.wsi != NULL ?
		    "attached elsewhere: detach it there first (~d)" :
		    "ending (it failed): try again to see whether it is gone");
		return NULL;
	}
	/* Another subject's sessions are not there, for this one. */
	*code = PH_ERR_RESUME;
	*close_code = PH_CLOSE_NOT_FOUND;
	*cause = ph_asprintf("no detached session %s on this agent (it ended, its "
	    "PORTHOLE_DETACH_TTL passed, or the agent restarted)", id);
	return NULL;
}

void
agent_detach_attach(struct agent_session *h, struct agent_session *s)
{
	struct agent_detach	*d = h->detach;
	size_t			 max = agent_session_read_max(s), start, k, n;
	char			 t[PH_DURATION_FMT_MAX];
	json_t			*m;

	ph_info("session %.8s: %s attached shell %.8s (pid %ld), %s %s ago, "
	    "%zu bytes kept%s", s->sid, s->sub, h->sid, op_shell_pid(h),
	    d->taken ? "its client gone" : "detached",
	    ph_duration_fmt(ph_mono_ms() - d->since_ms, t, sizeof t), d->len,
	    d->dropped > 0 ? " (older output dropped)" : "");
	s->started = h->started;
	op_shell_move(h, s);
	lws_sul_cancel(&d->sul_ttl);
	h->state = AGENT_SESSION_CLOSED;
	if (s->sealed != NULL && (m = json_pack("{s:s,s:s,s:s,s:b}", "type", "report",
	    "kind", "attach", "session", h->sid, "held", d->taken)) != NULL)
		(void)agent_session_send_relay_ctl(s, m);
	/* What the terminal missed, oldest first, before anything new. */
	start = (d->head + sizeof d->ring - d->len) % sizeof d->ring;
	for (n = d->len; n > 0 && !s->failed; n -= k) {
		k = sizeof d->ring - start;
		if (k > n)
			k = n;
		if (k > max)
			k = max;
		if (agent_session_send(s, PH_FRAME_STDOUT, d->ring + start, k) != 0)
			break;
		start = (start + k) % sizeof d->ring;
	}
	d->len = 0;
	agent_session_check(h);		/* nothing holds it now: freed */
}

int64_t
agent_detach_taken_ms(const struct agent_session *h)
{
	return h->detach != NULL && h->detach->taken ? ph_mono_ms() -
	    h->detach->since_ms : -1;
}

void
agent_detach_free(struct agent_session *s)
{
	if (s->detach == NULL)
		return;
	lws_sul_cancel(&s->detach->sul_ttl);
	explicit_bzero(s->detach->ring, sizeof s->detach->ring);
	free(s->detach);
	s->detach = NULL;
}
