/*
 * relay-endpoint.c - the table of endpoints by connection kind
 * (relay-endpoint.h).  A WebSocket on no endpoint gets an entry with no
 * callbacks: relay-conn.c refuses it before anything would be called.
 */
#include "relay-endpoint.h"

static const struct relay_endpoint relay_other_endpoint = {
	.what = "connection",
	.token = PH_TOKEN_CLIENT,
};

static const struct relay_endpoint *const relay_endpoints[RELAY_CONN_NKINDS] = {
	[RELAY_CONN_HTTP] = &relay_http_endpoint,
	[RELAY_CONN_CONTROL] = &relay_agent_endpoint,
	[RELAY_CONN_CLIENT] = &relay_client_endpoint,
	[RELAY_CONN_DATA] = &relay_data_endpoint,
	[RELAY_CONN_UPLOAD] = &relay_upload_endpoint,
	[RELAY_CONN_PEER] = &relay_peer_endpoint,
	[RELAY_CONN_OTHER] = &relay_other_endpoint,
};

const struct relay_endpoint *
relay_endpoint(enum relay_conn_kind kind)
{
	if ((unsigned)kind >= RELAY_CONN_NKINDS)
		kind = RELAY_CONN_OTHER;
	return relay_endpoints[kind];
}
