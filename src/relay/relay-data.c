/*
 * relay-data.c - the agent's data endpoint (/v1/agent/session/<sid>): the
 * channel an agent dials for one session after the relay forwarded its
 * open.  Its first message is `attach` {sid, secret}: the sid must be the
 * one in the path and name a session waiting for its agent, the secret
 * that session's one-time secret (relay_session_attach).  Every later
 * message goes to the session's state machine (relay-session.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/log.h"
#include "relay.h"
#include "relay-audit.h"
#include "relay-conn.h"
#include "relay-cross.h"
#include "relay-data.h"
#include "relay-endpoint.h"
#include "relay-session.h"


static void
relay_data_refuse(struct relay_conn *c, const char *err, int code, const char *msg)
{
	relay_audit_refusal(c, "data channel", err, msg);
	relay_conn_fail(c, err, code, "%s", msg);
}

/* The first message of a data channel: `attach`. */
static void
relay_data_attach(struct relay_conn *c, struct relay_data_chan *ch, struct ph_frame *f)
{
	struct relay_session *s;
	const char *sid, *secret;
	char msg[256];

	if (f->type != PH_FRAME_CONTROL || f->ctl != PH_CTL_ATTACH) {
		snprintf(msg, sizeof msg, "the first message on a data channel must be "
		    "attach, not %s", f->type == PH_FRAME_CONTROL ? ph_ctl_name(f->ctl) :
		    ph_frame_type_name(f->type));
		relay_data_refuse(c, PH_ERR_BAD_MESSAGE, PH_CLOSE_POLICY, msg);
		return;
	}
	sid = json_string_value(json_object_get(f->json, "sid"));
	secret = json_string_value(json_object_get(f->json, "secret"));
	if (sid == NULL || secret == NULL || strcmp(sid, ch->sid) != 0) {
		relay_data_refuse(c, PH_ERR_BAD_MESSAGE, PH_CLOSE_POLICY,
		    "attach must name the session id of the path");
		return;
	}
	if ((s = relay_session_find(&relay.sessions, sid)) == NULL) {
		/*
		 * Not here: in a fleet, the session may be another relay's (the
		 * load balancer landed the agent here); carried there once.
		 */
		if (!ch->via_peer && relay_cross_data(c, ch, sid, secret) == 0)
			return;
		snprintf(msg, sizeof msg, "no session %s is waiting for its agent", sid);
		relay_data_refuse(c, PH_ERR_NO_AGENT, PH_CLOSE_NOT_FOUND, msg);
		return;
	}
	switch (relay_session_attach(&relay.sessions, s, c, secret)) {
	case RELAY_SESSION_ATTACHED:
		ch->sess = s;
		relay_cross_attached(s, ch->via_peer ? json_string_value(json_object_get(f->json,
		    "via")) : NULL);
		ph_debug("session %.8s attached by agent %s from %s", s->sid,
		    s->agent_id, c->peer);
		break;
	case RELAY_SESSION_NOT_WAITING:
		snprintf(msg, sizeof msg, "the secret of session %s was already used", sid);
		relay_data_refuse(c, PH_ERR_FORBIDDEN, PH_CLOSE_FORBIDDEN, msg);
		break;
	case RELAY_SESSION_BAD_SECRET:
		snprintf(msg, sizeof msg, "wrong secret for session %s", sid);
		relay_data_refuse(c, PH_ERR_FORBIDDEN, PH_CLOSE_FORBIDDEN, msg);
		break;
	}
}

/* A data channel starts: the path must name a session id. */
static int
relay_data_start(struct relay_conn *c, const char *sid)
{
	struct relay_data_chan *ch;

	if (!ph_sid_valid(sid)) {
		relay_conn_fail(c, PH_ERR_BAD_MESSAGE, PH_CLOSE_NOT_FOUND,
		    "the path names no valid session id");
		return -1;
	}
	if ((c->ep = ch = calloc(1, sizeof *ch)) == NULL) {
		relay_conn_fail(c, PH_ERR_INTERNAL, PH_CLOSE_INTERNAL, "out of memory");
		return -1;
	}
	memcpy(ch->sid, sid, PH_SID_LEN + 1);
	return 0;
}

/* A decoded message on a data channel (ch: its state). */
void
relay_data_chan_rx(struct relay_conn *c, struct relay_data_chan *ch, struct ph_frame *f,
    const uint8_t *msg, size_t len)
{
	if (ch->cross != NULL)
		relay_cross_data_rx(ch->cross, msg, len);
	else if (ch->sess == NULL)
		relay_data_attach(c, ch, f);
	else
		relay_session_agent_frame(&relay.sessions, ch->sess, f, msg, len);
}

void
relay_data_chan_drained(struct relay_conn *c, struct relay_data_chan *ch)
{
	if (ch->cross != NULL)
		relay_cross_data_drained(ch->cross);
	else if (ch->sess != NULL)
		relay_session_drained(&relay.sessions, ch->sess, c);
}

/*
 * The channel is gone.  One that came from another relay and broke
 * without a close frame lost its relay (killed, or the network): the
 * client hears that, not that the agent went.
 */
void
relay_data_chan_closed(struct relay_conn *c, struct relay_data_chan *ch)
{
	char msg[256];

	if (ch->cross != NULL) {
		relay_cross_data_closed(ch->cross, c->peer_close);
		ch->cross = NULL;
	}
	if (ch->sess == NULL)
		return;
	if (ch->via_peer && c->peer_close == 0) {
		snprintf(msg, sizeof msg, "the relay carrying agent %s's side of the "
		    "session (%s) went away: the session is lost", ch->sess->agent_id, c->peer);
		relay_session_data_broke(&relay.sessions, ch->sess, msg);
	} else
		relay_session_data_closed(&relay.sessions, ch->sess, c->peer_close);
	ch->sess = NULL;
}

static void
relay_data_rx(struct relay_conn *c, struct ph_frame *f, const uint8_t *msg, size_t len)
{
	relay_data_chan_rx(c, c->ep, f, msg, len);
}

static void
relay_data_drained(struct relay_conn *c)
{
	if (c->ep != NULL)
		relay_data_chan_drained(c, c->ep);
}

static void
relay_data_closed(struct relay_conn *c)
{
	struct relay_data_chan *ch = c->ep;

	if (ch == NULL)
		return;
	c->ep = NULL;
	relay_data_chan_closed(c, ch);
	free(ch);
}

const struct relay_endpoint relay_data_endpoint = {
	.what = "session",
	.token = PH_TOKEN_AGENT,
	.q_low = RELAY_Q_LOW,
	.q_high = RELAY_Q_HIGH,
	.q_limit = RELAY_Q_LIMIT,
	.start = relay_data_start,
	.rx = relay_data_rx,
	.drained = relay_data_drained,
	.closed = relay_data_closed,
};
