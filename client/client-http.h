/*
 * client-http.h - the CLI's one HTTP client (client-http.c): a GET over a
 * transport of client-transport.c, run on the conn's loop until the
 * answer is in, for the listing (GET /v1/agents with the proof of the
 * token's key), `porthole version` (GET /v1/version) and the artifacts
 * (GET and DELETE /v1/artifacts..., a download streamed to a sink).  HTTP/1.1, one
 * request per connection, a body by Content-Length, chunked or up to the
 * close, bounded in size and time.
 */
#ifndef PORTHOLE_CLIENT_HTTP_H
#define PORTHOLE_CLIENT_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "client-httpparse.h"

struct client_conn;

/*
 * Make the GET, running the loop until its answer is in: 0 with the
 * status and body in *hp (free it with client_http_parser_free), or -1
 * with *cause.
 */
int	client_http_get(struct client_conn *cc, const struct client_http_req *req,
	    struct client_http_parser *hp, char **cause);

/*
 * GET /v1/agents (with ?selector= when selector is not NULL).  Returns the
 * "agents" array (new reference) or NULL with *cause.
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
/*
 * The same as text, no tree of every agent built (`ls --json` of a large
 * fleet): the "agents" array checked and indented two spaces a level as
 * the value of a member of a top-level object (jsonfmt.h); malloc'd, or
 * NULL with *cause.
 */
char	*client_http_agents_text(struct client_conn *cc, const char *selector,
	    int *partial, char **cause);

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

/*
 * method path (?selector= when not NULL) with the token and the proof of
 * its key over method, path and selector; runs the loop until the answer
 * is in.  A 200's body goes to sink when it is not NULL (unbounded: a
 * download; the deadline runs from its last bytes), else into *body
 * (bounded).  0 with *status 200 or 404 (and the body), or -1 with
 * *cause: any other status as a sentence, a transport failure, a body
 * cut short.
 */
int	client_http_request(struct client_conn *cc, const char *method,
	    const char *path, const char *selector, client_http_sink sink,
	    void *arg, int *status, char **body, size_t *len, char **cause);

#endif
