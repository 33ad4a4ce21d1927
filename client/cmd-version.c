/*
 * cmd-version.c - "porthole version": the CLI's version and the protocol
 * version it speaks.
 */
#include <stdio.h>

#include "porthole/protocol.h"

#include "client-conn.h"
#include "cmd.h"

static int
cmd_version_exec(struct client_conf *conf, int argc, char **argv)
{
	(void)conf;
	(void)argv;
	if (argc > 1)
		return cmd_usage_error(&cmd_version_entry, "version takes no "
		    "arguments");
	printf("porthole %s (protocol %d)\n", PORTHOLE_VERSION,
	    PH_PROTOCOL_VERSION);
	return 0;
}

const struct cmd_entry cmd_version_entry = {
	.name = "version",
	.alias = NULL,
	.usage = "",
	.about = "print the version of porthole and of its protocol",
	.exec = cmd_version_exec,
	.description = "The version of this porthole and the protocol version it "
	    "speaks (also 'porthole --version').",
};
