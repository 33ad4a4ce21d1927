/*
 * cmd-help.c - "porthole help [COMMAND]": the list of commands, or the
 * usage of one.
 */
#include <stdio.h>
#include <stdlib.h>

#include "client-conn.h"
#include "cmd.h"

static int
cmd_help_exec(struct client_conf *conf, int argc, char **argv)
{
	const struct cmd_entry	*e;
	char			*cause = NULL;

	(void)conf;
	if (argc > 2)
		return cmd_usage_error(&cmd_help_entry, "too many arguments");
	if (argc == 2) {
		if ((e = cmd_find(argv[1], &cause)) == NULL)
			return cmd_fail(cause);
		printf("usage: porthole %s %s\n  %s%s%s%s\n", e->name, e->usage,
		    e->about, e->alias != NULL ? " (alias: " : "",
		    e->alias != NULL ? e->alias : "", e->alias != NULL ? ")" : "");
		return 0;
	}
	cmd_list();
	return 0;
}

const struct cmd_entry cmd_help_entry = {
	.name = "help",
	.alias = NULL,
	.usage = "[COMMAND]",
	.about = "list the commands, or show how to use one",
	.exec = cmd_help_exec,
};
