/*
 * cmd.c - the table of porthole's commands, finding one by name, alias or
 * unique prefix, and the few ways a command reports a failure.
 *
 * A failure line quotes what agents and relays said (names, messages, file
 * names from a stream): the whole line is escaped for the terminal
 * (ph_printable) on its way out, whatever its parts did before (escaping
 * twice changes nothing), so a cause built anywhere cannot carry an escape
 * sequence or a second line to the operator's terminal.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/printable.h"
#include "porthole/util.h"

#include "client-conn.h"
#include "cmd.h"

const struct cmd_entry *cmd_table[] = {
	&cmd_ls_entry,
	&cmd_exec_entry,
	&cmd_ps_entry,
	&cmd_mem_entry,
	&cmd_cp_entry,
	&cmd_dump_entry,
	&cmd_shell_entry,
	&cmd_console_entry,
	&cmd_context_entry,
	&cmd_entry_token,
	&cmd_version_entry,
	&cmd_help_entry,
	NULL
};

static int
cmd_exec_token(struct client_conf *conf, int argc, char **argv)
{
	(void)conf;
	return cmd_token_main(argc, argv);
}

const struct cmd_entry cmd_entry_token = {
	.name = "token",
	.alias = NULL,
	.usage = "keygen|issue|show ...",
	.about = "signing keys and tokens",
	.exec = cmd_exec_token,
};

const struct cmd_entry *
cmd_find(const char *name, char **cause)
{
	const struct cmd_entry	**e, *found = NULL;
	char			 *list = NULL, *next;
	int			  n = 0;

	for (e = cmd_table; *e != NULL; e++)
		if (strcmp((*e)->name, name) == 0 ||
		    ((*e)->alias != NULL && strcmp((*e)->alias, name) == 0))
			return *e;

	for (e = cmd_table; *e != NULL; e++) {
		if (*name == '\0' || strncmp((*e)->name, name, strlen(name)) != 0)
			continue;
		found = *e;
		next = ph_asprintf("%s%s%s", list != NULL ? list : "",
		    list != NULL ? ", " : "", (*e)->name);
		free(list);
		list = next;
		n++;
	}
	if (n == 1) {
		free(list);
		return found;
	}
	if (n == 0)
		*cause = ph_asprintf("unknown command '%s': 'porthole help' lists "
		    "the commands", name);
	else
		*cause = ph_asprintf("ambiguous command '%s': could be %s", name,
		    list);
	free(list);
	return NULL;
}

/* "porthole: LINE\n" on stderr, LINE escaped for the terminal. */
static void
cmd_line(const char *line)
{
	char	*p = ph_printable(line);

	fprintf(stderr, "porthole: %s\n", p);
	free(p);
}

/* vasprintf that aborts on allocation failure, as ph_asprintf. */
static char *
cmd_vasprintf(const char *fmt, va_list ap)
{
	char	*s;

	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	return s;
}

int
cmd_usage_error(const struct cmd_entry *entry, const char *fmt, ...)
{
	va_list	 ap;
	char	*what, *line;

	va_start(ap, fmt);
	what = cmd_vasprintf(fmt, ap);
	va_end(ap);
	line = ph_asprintf("%s; usage: porthole %s %s", what, entry->name,
	    entry->usage);
	cmd_line(line);
	free(line);
	free(what);
	return CMD_EXIT_FAIL;
}

int
cmd_conf_option(const struct cmd_entry *entry, struct client_conf *conf,
    int argc, char **argv, int *i)
{
	const char	*a = argv[*i];
	char		*cause = NULL;
	int		 r;

	if ((r = client_conf_option(conf, argc, argv, i, &cause)) < 0) {
		r = cmd_usage_error(entry, "%s", cause);
		free(cause);
		return r;
	}
	if (r == 0)
		return cmd_usage_error(entry, "unknown option '%s'", a);
	return 0;
}

int
cmd_fail(char *cause)
{
	cmd_line(cause != NULL ? cause : "failed");
	free(cause);
	return CMD_EXIT_FAIL;
}

int
cmd_failf(const char *fmt, ...)
{
	va_list	 ap;
	char	*line;

	va_start(ap, fmt);
	line = cmd_vasprintf(fmt, ap);
	va_end(ap);
	cmd_line(line);
	free(line);
	return CMD_EXIT_FAIL;
}

void
cmd_list(void)
{
	const struct cmd_entry	**e;
	char			 *left;

	printf("usage: porthole [--context NAME] [--relay URL] [--token "
	    "TOKEN|@FILE] [--key FILE]\n                [--ca FILE] [--insecure] "
	    "COMMAND [ARG...]\n\n");
	printf("commands:\n");
	for (e = cmd_table; *e != NULL; e++) {
		left = ph_asprintf("%s %s", (*e)->name, (*e)->usage);
		printf("  %-46s %s%s%s%s\n", left, (*e)->about,
		    (*e)->alias != NULL ? " (alias: " : "",
		    (*e)->alias != NULL ? (*e)->alias : "",
		    (*e)->alias != NULL ? ")" : "");
		free(left);
	}
	printf("\nsettings (a flag overrides its variable):\n"
	    "  PORTHOLE_RELAY   wss://HOST:PORT of the relay          --relay\n"
	    "  PORTHOLE_TOKEN   the token, or @FILE holding it        --token\n"
	    "  PORTHOLE_KEY     the private key the token is bound to --key\n"
	    "  PORTHOLE_CA      PEM file to trust besides the system  --ca\n"
	    "  PORTHOLE_CONTEXT a context of ~/.config/porthole/config --context\n"
	    "  (a context fills what neither a flag nor a variable gave)\n"
	    "\nTARGET is an agent id, a name, a task id or a unique prefix of "
	    "one,\nor a label selector key=value[,key=value].\n"
	    "Failures of porthole itself exit with 255 and one line on "
	    "stderr.\n");
}
