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
 * What runs over the link — opens forwarded to the relay that holds the
 * agent, data channels spliced to the relay that holds the client — is
 * not served by this version yet: a message on it is refused with 1008,
 * so a newer relay learns at once that this one cannot carry its session.
 */
#include <stdlib.h>

#include "porthole/log.h"
#include "porthole/util.h"
#include "relay.h"
#include "relay-audit.h"
#include "relay-conn.h"
#include "relay-endpoint.h"

static void
relay_peer_authed(struct relay_conn *c, char *bearer)
{
	json_t *o;

	(void)bearer;
	relay.peers++;
	c->ep = (void *)1;	/* counted */
	ph_info("peer relay connected from %s (token of %s)", c->peer, c->claims.sub);
	if ((o = json_pack("{s:s,s:s}", "peer", c->peer, "sub", c->claims.sub)) != NULL) {
		relay_audit_origin(o, c);
		relay_audit("peer_connected", o);
	}
}

static void
relay_peer_rx(struct relay_conn *c, struct ph_frame *f, const uint8_t *m, size_t len)
{
	(void)f;
	(void)m;
	(void)len;
	relay_conn_fail(c, PH_ERR_BAD_MESSAGE, PH_CLOSE_POLICY, "this relay (version %s) "
	    "carries no sessions for other relays yet", PORTHOLE_VERSION);
}

static void
relay_peer_closed(struct relay_conn *c)
{
	json_t *o;

	if (c->ep == NULL)
		return;
	c->ep = NULL;
	relay.peers--;
	if ((o = json_pack("{s:s,s:s}", "peer", c->peer, "sub", c->claims.sub)) != NULL)
		relay_audit("peer_gone", o);
}

const struct relay_endpoint relay_peer_endpoint = {
	.what = "peer link",
	.token = PH_TOKEN_RELAY,
	.q_low = 64 * 1024,
	.q_high = 256 * 1024,
	.q_limit = 1024 * 1024 + 4 * PH_MAX_MESSAGE,
	.authed = relay_peer_authed,
	.rx = relay_peer_rx,
	.closed = relay_peer_closed,
};
