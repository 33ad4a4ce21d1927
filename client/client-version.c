/*
 * client-version.c - GET /v1/version from the relay for `porthole
 * version`, with the CLI's one HTTP client (client-http.c) on a
 * connection of its own: no token, the trust every other connection of
 * the CLI has (the system store, PORTHOLE_CA, --insecure), at most
 * VERSION_BODY_MAX bytes, one deadline for connect, handshake and answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/printable.h"
#include "porthole/protocol.h"
#include "porthole/util.h"

#include "client-conn.h"
#include "client-http.h"
#include "client-version.h"

#define VERSION_BODY_MAX	16384	/* bytes of answer kept */

/* The answer's JSON, or NULL with *cause. */
static json_t *
version_answer(struct client_http_parser *hp, char **cause)
{
	json_t	*doc;

	if (hp->status != 200) {
		*cause = ph_asprintf("it answered HTTP %d to GET %s (a relay older "
		    "than porthole %s has no version to tell)", hp->status,
		    PH_PATH_VERSION, PORTHOLE_VERSION);
		return NULL;
	}
	doc = json_loadb(hp->body != NULL ? hp->body : "", hp->len, 0, NULL);
	if (!json_is_object(doc) || !json_is_string(json_object_get(doc,
	    "version"))) {
		json_decref(doc);
		*cause = ph_asprintf("its answer to GET %s is not the JSON it "
		    "should be", PH_PATH_VERSION);
		return NULL;
	}
	return doc;
}

json_t *
client_version_get(const char *host, int port, const char *ca, int insecure,
    char **cause)
{
	struct client_http_req	 req = { .path = PH_PATH_VERSION,
	    .max = VERSION_BODY_MAX, .timeout_ms = CLIENT_VERSION_TIMEOUT_MS,
	    .what = "the relay's version answer", .hint = "is it a porthole "
	    "relay?" };
	struct client_http_parser *hp = NULL;
	struct client_conf	 conf;
	struct client_conn	*cc = NULL;
	json_t			*doc = NULL;
	char			*why = NULL;

	memset(&conf, 0, sizeof conf);
	conf.host = (char *)host;
	conf.port = port;
	conf.ca = (char *)ca;
	conf.insecure = insecure;
	conf.relay = ph_asprintf(strchr(host, ':') != NULL ? "wss://[%s]:%d" :
	    "wss://%s:%d", host, port);
	if ((cc = client_conn_new(&conf, &why)) != NULL &&
	    (hp = malloc(sizeof *hp)) == NULL)
		why = ph_asprintf("out of memory");
	if (hp != NULL && client_http_get(cc, &req, hp, &why) == 0) {
		doc = version_answer(hp, &why);
		client_http_parser_free(hp);
	}
	if (doc == NULL)
		*cause = ph_printable(why != NULL ? why : "failed");
	free(why);
	free(hp);
	client_conn_free(cc);
	free(conf.relay);
	return doc;
}
