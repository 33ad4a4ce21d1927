/*
 * client-http.h - the listing: GET /v1/agents from the relay (see
 * client-http.c), the one plain HTTP request the CLI makes.
 */
#ifndef PORTHOLE_CLIENT_HTTP_H
#define PORTHOLE_CLIENT_HTTP_H

#include <jansson.h>

struct client_conn;

/*
 * GET /v1/agents (with ?selector= when selector is not NULL), running the
 * loop until the answer is in.  Returns the "agents" array (new reference)
 * or NULL with *cause.
 */
json_t	*client_http_agents(struct client_conn *cc, const char *selector,
	    char **cause);
/*
 * The same, and *partial: 1 when the relay is one of a fleet whose
 * directory (Redis) did not answer, so agents held by other relays may
 * be missing.
 */
json_t	*client_http_agents_partial(struct client_conn *cc, const char *selector,
	    int *partial, char **cause);

#endif
