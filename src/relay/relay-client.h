/*
 * relay-client.h - the client endpoint (/v1/session, in the endpoint table)
 * and the io table through which sessions reach their channels
 * (relay-client.c).
 */
#ifndef PORTHOLE_RELAY_CLIENT_H
#define PORTHOLE_RELAY_CLIENT_H

#include "relay-session.h"

extern const struct relay_session_io relay_client_session_io;

#endif
