/*
 * porthole.c - main() of the operator's CLI: the global options (--context,
 * --relay, --token, --key, --ca, --insecure), then the command named by the first
 * other argument, found in cmd_table by name, alias or unique prefix, and
 * run by cmd_run (which answers -h/--help from the table).
 * Global options may also follow the command name; each command accepts
 * them through client_conf_option.  What a command printed with stdio is
 * flushed after it returns (client-out.c): a reader gone ends us quietly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/log.h"
#include "porthole/util.h"

#include "client-conn.h"
#include "client-io.h"
#include "client-out.h"
#include "cmd.h"

static int
main_usage(const char *what)
{
	fprintf(stderr, "porthole: %s; usage: porthole [OPTIONS] COMMAND "
	    "[ARG...] ('porthole help' lists the commands and options)\n", what);
	return CMD_EXIT_FAIL;
}

int
main(int argc, char **argv)
{
	struct client_conf	 conf;
	const struct cmd_entry	*e;
	char			*cause = NULL, *what;
	int			 i, r;

	client_io_guard_std();
	ph_heap_hold();
	ph_log_init("porthole", PH_LOG_WARN);
	memset(&conf, 0, sizeof conf);

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			cmd_list();
			return 0;
		}
		if (strcmp(argv[i], "--version") == 0) {
			argv[i] = (char *)"version";
			break;
		}
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		r = client_conf_option(&conf, argc, argv, &i, &cause);
		if (r < 0) {
			r = main_usage(cause);
			free(cause);
			client_conf_free(&conf);
			return r;
		}
		if (r == 0) {
			what = ph_asprintf("unknown option '%s'", argv[i]);
			r = main_usage(what);
			free(what);
			client_conf_free(&conf);
			return r;
		}
	}
	if (i >= argc) {
		client_conf_free(&conf);
		return main_usage("no command given");
	}
	if ((e = cmd_find(argv[i], &cause)) == NULL) {
		client_conf_free(&conf);
		return cmd_fail(cause);
	}
	r = cmd_run(e, &conf, argc - i, argv + i);
	client_conf_free(&conf);
	/* Whatever went to stdout through stdio: a reader gone ends us quietly. */
	if ((i = client_out_flush()) != 0 && r == 0)
		r = i;
	return r;
}
