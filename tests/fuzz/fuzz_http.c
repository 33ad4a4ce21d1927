/*
 * fuzz_http.c - libFuzzer target for what the relay reads of an HTTP
 * request itself (src/relay/relay-route.c): the endpoint a path names and
 * the token in an Authorization header; libwebsockets parses the request
 * line and headers before that.  The first byte picks which; a data path's
 * session id must point inside the path.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay-route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *proto, *sid;
	char *s, *tok, *cause = NULL;
	enum relay_conn_kind k;

	if (size < 1)
		return 0;
	if ((s = strndup((const char *)data + 1, size - 1)) == NULL)
		return 0;
	if (data[0] & 1) {
		k = relay_route(s, &proto, &sid);
		if (k == RELAY_CONN_DATA && (sid < s || sid > s + strlen(s)))
			abort();
		if (k == RELAY_CONN_OTHER && proto != NULL)
			abort();
		if (k == RELAY_CONN_DATA)
			(void)ph_sid_valid(sid);
	} else {
		if ((tok = relay_route_bearer(s, &cause)) != NULL) {
			if (strlen(tok) > strlen(s) || strchr(tok, '\0') == NULL)
				abort();
			free(tok);
		} else
			free(cause);
	}
	free(s);
	return 0;
}
