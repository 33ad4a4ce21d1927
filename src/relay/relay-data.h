/*
 * relay-data.h - an agent's data channel as the relay holding its session
 * sees it (relay-data.c): on /v1/agent/session/<sid> straight from the
 * agent, or on /v1/peer from the relay the agent's data channel landed on
 * (relay-peer.c).  Either way its first message is `attach`.
 */
#ifndef PORTHOLE_RELAY_DATA_H
#define PORTHOLE_RELAY_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "porthole/frame.h"
#include "porthole/protocol.h"

struct relay_conn;
struct relay_session;
struct relay_cross_splice;

struct relay_data_chan {
	char			 sid[PH_SID_LEN + 1];	/* the sid in the path (or the attach) */
	struct relay_session	*sess;		/* once attached */
	struct relay_cross_splice *cross;	/* carried to the session's relay (relay-cross.c) */
	int			 via_peer;	/* came over /v1/peer: never carried further */
};

void	relay_data_chan_rx(struct relay_conn *c, struct relay_data_chan *ch,
	    struct ph_frame *f, const uint8_t *msg, size_t len);
void	relay_data_chan_drained(struct relay_conn *c, struct relay_data_chan *ch);
void	relay_data_chan_closed(struct relay_conn *c, struct relay_data_chan *ch);

#endif
