/*
 * cmd-version.c - "porthole version": the CLI's version, the protocol it
 * speaks and the commit it was built from; then, when a relay is
 * configured (flag, variable or context), the relay's own, asked with
 * GET /v1/version (no token needed), or why it could not be asked.  Exit 0
 * either way: the CLI's own version is the answer, the relay's a bonus.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/printable.h"
#include "porthole/protocol.h"
#include "porthole/util.h"
#include "porthole-commit.h"

#include "client-conn.h"
#include "client-context.h"
#include "client-version.h"
#include "cmd.h"

/* The relay's line: "relay: URL porthole-relay V (protocol N, commit C)". */
static void
version_relay(struct client_conf *conf)
{
	json_t	*doc;
	char	*relay, *ca, *host = NULL, *cause = NULL, *v, *c, *r;
	int	 port;

	if (client_context_apply(conf, &cause) != 0) {
		printf("relay: unknown (%s)\n", cause);
		free(cause);
		return;
	}
	relay = ph_setting(conf->flag_relay, "PORTHOLE_RELAY");
	if (relay == NULL) {
		printf("relay: none configured (PORTHOLE_RELAY, --relay or a "
		    "context names one)\n");
		return;
	}
	r = ph_printable(relay);
	if (strncmp(relay, "wss://", 6) != 0 ||
	    ph_url_parse(relay, &host, &port, &cause) != 0) {
		printf("relay: %s: unreachable (not a wss://HOST:PORT URL%s%s)\n",
		    r, cause != NULL ? ": " : "", cause != NULL ? cause : "");
		goto out;
	}
	ca = ph_setting(conf->flag_ca, "PORTHOLE_CA");
	doc = client_version_get(host, port, ca, conf->insecure, &cause);
	free(ca);
	if (doc == NULL) {
		printf("relay: %s: unreachable (%s)\n", r, cause);
		goto out;
	}
	v = ph_printable(json_string_value(json_object_get(doc, "version")));
	c = ph_printable(json_is_string(json_object_get(doc, "commit")) ?
	    json_string_value(json_object_get(doc, "commit")) : "unknown");
	printf("relay: %s porthole-relay %s (protocol %lld, commit %s)\n", r, v,
	    (long long)json_integer_value(json_object_get(doc, "protocol")), c);
	free(v);
	free(c);
	json_decref(doc);
out:
	free(cause);
	free(host);
	free(relay);
	free(r);
}

static int
cmd_version_exec(struct client_conf *conf, int argc, char **argv)
{
	int	i, r;

	for (i = 1; i < argc; i++) {
		if (argv[i][0] != '-')
			return cmd_usage_error(&cmd_version_entry, "version "
			    "takes no arguments");
		if ((r = cmd_conf_option(&cmd_version_entry, conf, argc, argv,
		    &i)) != 0)
			return r;
	}
	printf("porthole %s (protocol %d, commit %s)\n", PORTHOLE_VERSION,
	    PH_PROTOCOL_VERSION, PORTHOLE_COMMIT);
	fflush(stdout);
	version_relay(conf);
	return 0;
}

const struct cmd_entry cmd_version_entry = {
	.name = "version",
	.alias = NULL,
	.usage = "",
	.about = "print the version of porthole, of its protocol and of the relay",
	.exec = cmd_version_exec,
	.description = "The version of this porthole, the protocol version it "
	    "speaks and the commit it was built from (also 'porthole "
	    "--version'); then, when a relay is configured (a flag, a variable or "
	    "a context), the relay's, asked with GET /v1/version (no token), or "
	    "why it could not be asked. Exits 0 in every case and waits at most "
	    "5 s for the relay.",
};
