/*
 * relay-route.c - the parts of an HTTP request the relay reads itself, as
 * pure functions of the text libwebsockets hands over: which endpoint a
 * WebSocket path names (and the subprotocol it must speak), and the token
 * in an Authorization header.  Kept free of lws calls and relay state so
 * the fuzz target (tests/fuzz/fuzz_http.c) reaches them from a buffer.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "relay-route.h"

/* The endpoint a WebSocket path names, and the subprotocol it speaks. */
enum relay_conn_kind
relay_route(const char *path, const char **subproto, const char **sid)
{
	size_t n = strlen(PH_PATH_AGENT_SESSION);

	*sid = NULL;
	if (strcmp(path, PH_PATH_AGENT) == 0) {
		*subproto = PH_SUBPROTO_CONTROL;
		return RELAY_CONN_CONTROL;
	}
	if (strcmp(path, PH_PATH_PEER) == 0) {
		*subproto = PH_SUBPROTO_PEER;
		return RELAY_CONN_PEER;
	}
	*subproto = PH_SUBPROTO_SESSION;
	if (strcmp(path, PH_PATH_SESSION) == 0)
		return RELAY_CONN_CLIENT;
	if (strcmp(path, PH_PATH_AGENT_ARTIFACT) == 0)
		return RELAY_CONN_UPLOAD;
	if (strncmp(path, PH_PATH_AGENT_SESSION, n) == 0) {
		*sid = path + n;
		return RELAY_CONN_DATA;
	}
	*subproto = NULL;
	return RELAY_CONN_OTHER;
}

/*
 * The token in an Authorization header value (hdr, NUL-terminated): a
 * malloc'd copy of what follows "Bearer ", blanks trimmed, or NULL with
 * *cause (malloc'd).  hdr is not modified; the caller wipes it.
 */
char *
relay_route_bearer(const char *hdr, char **cause)
{
	const char *p = hdr;
	char *tok;
	size_t n;

	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, "Bearer", 6) != 0 || (p[6] != ' ' && p[6] != '\t')) {
		*cause = strdup("the Authorization header must be \"Bearer <token>\"");
		return NULL;
	}
	p += 6;
	while (*p == ' ' || *p == '\t')
		p++;
	n = strlen(p);
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if ((tok = strndup(p, n)) == NULL) {
		*cause = strdup("out of memory");
		return NULL;
	}
	return tok;
}
