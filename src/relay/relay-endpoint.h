/*
 * relay-endpoint.h - what each kind of connection does, as one table
 * indexed by kind (relay-endpoint.c): the connection's plumbing
 * (relay-conn.c) calls an endpoint only through its entry, never by name,
 * and an endpoint calls back only the connection API (relay-conn.h).  A
 * new kind of connection (a relay-to-relay link, say) is one more entry
 * and one module implementing it.
 */
#ifndef PORTHOLE_RELAY_ENDPOINT_H
#define PORTHOLE_RELAY_ENDPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "porthole/frame.h"
#include "porthole/token.h"

struct lws;
struct relay_conn;

enum relay_conn_kind {
	RELAY_CONN_HTTP = 0,	/* plain request: /healthz, /v1/agents ... */
	RELAY_CONN_CONTROL,	/* /v1/agent: an agent's control channel */
	RELAY_CONN_CLIENT,	/* /v1/session: a client's session */
	RELAY_CONN_DATA,	/* /v1/agent/session/<sid>: an agent's side of it */
	RELAY_CONN_UPLOAD,	/* /v1/agent/artifact: an agent uploads a capture */
	RELAY_CONN_PEER,	/* /v1/peer: another relay of the fleet */
	RELAY_CONN_OTHER,	/* a WebSocket on no endpoint; being refused */
	RELAY_CONN_NKINDS
};

struct relay_endpoint {
	const char	*what;		/* in logs and refusals: "control channel" ... */
	enum ph_token_kind token;	/* the token a WebSocket of this kind needs */
	int		 keep_bearer;	/* hand the token itself to `authed` */
	size_t		 q_low, q_high, q_limit;	/* its outgoing queue */
	int		 rx_release;	/* free the reassembly buffer between messages */

	/*
	 * WebSocket kinds.  start: after the subprotocol check, before the
	 * token (sid: what the path names after the endpoint's prefix); -1
	 * when it refused the connection.  authed: the token verified
	 * (bearer: a malloc'd copy when keep_bearer, the endpoint's to wipe).
	 * rx: one whole decoded message.  drained: a message left the
	 * connection's queue.  closed: the connection is gone; free what the
	 * endpoint hung on it.  Any may be NULL.
	 */
	int	(*start)(struct relay_conn *c, const char *sid);
	void	(*authed)(struct relay_conn *c, char *bearer);
	void	(*rx)(struct relay_conn *c, struct ph_frame *f, const uint8_t *msg,
		    size_t len);
	void	(*drained)(struct relay_conn *c);
	void	(*closed)(struct relay_conn *c);

	/* Plain HTTP: a request, room to write its answer. */
	int	(*request)(struct relay_conn *c, struct lws *wsi, const char *path);
	int	(*writeable)(struct relay_conn *c, struct lws *wsi);
};

/* The entry of a kind (never NULL). */
const struct relay_endpoint *relay_endpoint(enum relay_conn_kind kind);

/* The entries, each defined by its module. */
extern const struct relay_endpoint relay_http_endpoint;		/* relay-http.c */
extern const struct relay_endpoint relay_agent_endpoint;	/* relay-agent.c */
extern const struct relay_endpoint relay_client_endpoint;	/* relay-client.c */
extern const struct relay_endpoint relay_data_endpoint;		/* relay-data.c */
extern const struct relay_endpoint relay_upload_endpoint;	/* relay-upload.c */
extern const struct relay_endpoint relay_peer_endpoint;		/* relay-peer.c */

#endif
