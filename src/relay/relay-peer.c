/*
 * relay-peer.c - /v1/peer, another relay of the fleet dialing this one on
 * the same listener and certificate (docs/protocol.md, "Relay to relay").
 *
 * Only a relay token (kind `relay`, `porthole token issue --kind relay`)
 * opens it, and a relay token opens nothing else: relay-auth.c refuses a
 * client or agent token here, and a relay token on /v1/session or
 * /v1/agent, each refusal audited like any other.  A link that passed is
 * audited (`peer_connected`, `peer_gone`) and counted for /metrics.
 *
 * A link carries one session, and its first message says which part:
 *   open     the other relay holds the client's side; the agent's control
 *            channel is here.  The open (with the session's secret, who
 *            asked and the client's token) goes down that channel as a
 *            local client's would, and the link closes 1000; an agent not
 *            here is `error` no_agent and 4404.
 *   resume   the same for a client's resume: the relay's `resume` {sid,
 *            challenge, secret, sub} to the agent named by `agent`.
 *   attach   {sid, secret, via}: the agent's data channel landed on the
 *            other relay (via); the session is here.  From then on the
 *            link is that data channel (relay-data.c), and a link that
 *            breaks without a close frame tells the client that the relay
 *            carrying its agent's side went away.
 * Anything else first is bad_message, 1008.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/agentid.h"
#include "porthole/log.h"
#include "porthole/util.h"
#include "relay.h"
#include "relay-agent.h"
#include "relay-audit.h"
#include "relay-conn.h"
#include "relay-data.h"
#include "relay-endpoint.h"

/* A peer link's own state (its c->ep). */
struct relay_peer_chan {
	int			 attach;	/* its first message was attach */
	struct relay_data_chan	 data;
};

static void
relay_peer_authed(struct relay_conn *c, char *bearer)
{
	json_t *o;

	(void)bearer;		/* NULL: the endpoint keeps no bearer */
	if ((c->ep = calloc(1, sizeof(struct relay_peer_chan))) == NULL) {
		relay_conn_fail(c, PH_ERR_INTERNAL, PH_CLOSE_INTERNAL, "out of memory");
		return;
	}
	relay.peers++;
	ph_debug("peer relay connected from %s (token of %s)", c->peer, c->claims.sub);
	if ((o = json_pack("{s:s,s:s}", "peer", c->peer, "sub", c->claims.sub)) != NULL) {
		relay_audit_origin(o, c);
		relay_audit("peer_connected", o);
	}
}

/*
 * First message `open` or `resume` (what): hand it to the agent whose
 * control channel is here.
 */
static void
relay_peer_open(struct relay_conn *c, json_t *o, const char *what)
{
	const char *id = json_string_value(json_object_get(o, "agent"));
	const char *asub = json_string_value(json_object_get(o, "agent_sub"));
	const char *sid = json_string_value(json_object_get(o, "sid"));
	char full[PH_AGENT_ID_MAX + 1], msg[PH_AGENT_ID_MAX + 128];
	struct relay_agent *a;
	json_t *au;

	if (id == NULL || sid == NULL || !ph_sid_valid(sid) ||
	    json_string_value(json_object_get(o, "secret")) == NULL ||
	    (size_t)snprintf(full, sizeof full, "%s%s%s", id, asub != NULL ? "@" : "",
	    asub != NULL ? asub : "") >= sizeof full) {
		snprintf(msg, sizeof msg, "malformed %s", what);
		relay_audit_refusal(c, "peer open", PH_ERR_BAD_MESSAGE, msg);
		relay_conn_fail(c, PH_ERR_BAD_MESSAGE, PH_CLOSE_POLICY, "%s", msg);
		return;
	}
	if ((a = relay_agent_find(&relay.agents, full)) == NULL || !relay_agent_ready(a)) {
		snprintf(msg, sizeof msg, "agent %s is no longer connected to the relay "
		    "that held it: %s", full, strcmp(what, "open") == 0 ?
		    "list the agents again" : "try again");
		relay_audit_refusal(c, "peer open", PH_ERR_NO_AGENT, msg);
		relay_conn_fail(c, PH_ERR_NO_AGENT, PH_CLOSE_NOT_FOUND, "%s", msg);
		return;
	}
	if (relay_agent_send(a, o) != 0) {
		snprintf(msg, sizeof msg, "cannot forward the %s to agent %s: its control "
		    "channel is closing or full", what, full);
		relay_conn_fail(c, PH_ERR_NO_AGENT, PH_CLOSE_NOT_FOUND, "%s", msg);
		return;
	}
	ph_info("session %.8s: %s from relay %s forwarded to agent %s", sid, what, c->peer,
	    full);
	if ((au = json_pack("{s:s,s:s,s:s?,s:s?,s:s}", "sid", sid, "agent", full, "op",
	    strcmp(what, "open") == 0 ? json_string_value(json_object_get(o, "op")) :
	    "resume", "sub", json_string_value(json_object_get(o, "sub")), "relay",
	    relay_fleet_id())) != NULL) {
		relay_audit_origin(au, c);
		relay_audit(strcmp(what, "open") == 0 ? "session_open_forwarded" :
		    "session_resume_forwarded", au);
	}
	relay_conn_close(c, PH_CLOSE_NORMAL, "", 0);
}

static void
relay_peer_rx(struct relay_conn *c, struct ph_frame *f, const uint8_t *m, size_t len)
{
	struct relay_peer_chan *pc = c->ep;
	const char *sid;

	if (pc == NULL)
		return;
	if (pc->attach) {
		relay_data_chan_rx(c, &pc->data, f, m, len);
		return;
	}
	if (f->type == PH_FRAME_CONTROL && (f->ctl == PH_CTL_OPEN || f->ctl == PH_CTL_RESUME)) {
		relay_peer_open(c, f->json, f->ctl == PH_CTL_OPEN ? "open" : "resume");
		json_object_del(f->json, "token");
		return;
	}
	if (f->type == PH_FRAME_CONTROL && f->ctl == PH_CTL_ATTACH &&
	    (sid = json_string_value(json_object_get(f->json, "sid"))) != NULL &&
	    ph_sid_valid(sid)) {
		pc->attach = 1;
		pc->data.via_peer = 1;
		snprintf(pc->data.sid, sizeof pc->data.sid, "%s", sid);
		relay_data_chan_rx(c, &pc->data, f, m, len);
		return;
	}
	relay_audit_refusal(c, "peer link", PH_ERR_BAD_MESSAGE,
	    "first message not open, resume or attach");
	relay_conn_fail(c, PH_ERR_BAD_MESSAGE, PH_CLOSE_POLICY, "the first message on a peer "
	    "link must be open, resume or attach (this relay is version %s)",
	    PORTHOLE_VERSION);
}

static void
relay_peer_drained(struct relay_conn *c)
{
	struct relay_peer_chan *pc = c->ep;

	if (pc != NULL && pc->attach)
		relay_data_chan_drained(c, &pc->data);
}

static void
relay_peer_closed(struct relay_conn *c)
{
	struct relay_peer_chan *pc = c->ep;
	json_t *o;

	if (pc == NULL)
		return;
	c->ep = NULL;
	if (pc->attach)
		relay_data_chan_closed(c, &pc->data);
	free(pc);
	relay.peers--;
	if ((o = json_pack("{s:s,s:s}", "peer", c->peer, "sub", c->claims.sub)) != NULL)
		relay_audit("peer_gone", o);
}

const struct relay_endpoint relay_peer_endpoint = {
	.what = "peer link",
	.token = PH_TOKEN_RELAY,
	.q_low = RELAY_Q_LOW,
	.q_high = RELAY_Q_HIGH,
	.q_limit = RELAY_Q_LIMIT,
	.authed = relay_peer_authed,
	.rx = relay_peer_rx,
	.drained = relay_peer_drained,
	.closed = relay_peer_closed,
};
