/*
 * relay-route.h - the endpoint a WebSocket path names, and the token in an
 * Authorization header (relay-route.c; pure, reached by the fuzz target).
 */
#ifndef PORTHOLE_RELAY_ROUTE_H
#define PORTHOLE_RELAY_ROUTE_H

#include "relay-endpoint.h"

enum relay_conn_kind relay_route(const char *path, const char **subproto, const char **sid);
char	*relay_route_bearer(const char *hdr, char **cause);

#endif
