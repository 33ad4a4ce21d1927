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

/* Where a download's bytes go as they come: 0 to go on, -1 to stop. */
typedef int (*client_http_sink)(void *arg, const void *p, size_t n);

/*
 * method path (?selector= when not NULL) with the token and the proof of
 * its key over method, path and selector; runs the loop until the answer
 * is in.  A 200's body goes to sink when it is not NULL (unbounded: a
 * download), else into *body (bounded).  0 with *status 200 or 404 (and
 * the body), or -1 with *cause: any other status as a sentence, a
 * transport failure, a body cut short.
 */
int	client_http_request(struct client_conn *cc, const char *method,
	    const char *path, const char *selector, client_http_sink sink,
	    void *arg, int *status, char **body, size_t *len, char **cause);

#endif
