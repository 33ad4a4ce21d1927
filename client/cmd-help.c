/*
 * cmd-help.c - "porthole help [COMMAND]": the list of commands, or the
 * whole help of one (the same text as `porthole COMMAND --help`), and
 * `porthole help --man`, the man page porthole(1) that meson builds.
 *
 * Everything is made from the command table (cmd.h): each entry's usage,
 * description and options, cmd_global_options for the settings' flags.
 * Text is wrapped to the terminal's width (80 when stdout is not one:
 * ph_help_width), so that no line of `porthole help` is wider.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/help.h"
#include "porthole/util.h"

#include "client-conn.h"
#include "cmd.h"

#define HELP_OPT_COL	24	/* where an option's meaning starts */

static const char help_intro[] =
"porthole gets an operator into running containers that have no SSH and no "
"docker exec: each container's porthole-agent dials out to a porthole-relay, "
"and this CLI reaches the agents through the same relay.";

static const char help_target[] =
"TARGET is an agent id, a name, a task id or a unique prefix of one, or a "
"label selector key=value[,key=value] that matches exactly one agent.";

static const char help_status[] =
"A command that runs a program ends with that program's status (a signal N "
"as 128+N; 124 when exec --timeout stopped it). Failures of porthole itself "
"exit with 255 and print one line on stderr.";

static const char help_where[] =
"options (before the command, or after one that talks to the relay; a flag "
"overrides its variable):";

static const struct ph_help_opt help_env[] = {
	{ "PORTHOLE_RELAY", NULL, NULL, "the relay, wss://HOST:PORT (--relay)" },
	{ "PORTHOLE_TOKEN", NULL, NULL, "the token, or @FILE holding it (--token)" },
	{ "PORTHOLE_KEY", NULL, NULL, "the private key the token is bound to "
	    "(--key)" },
	{ "PORTHOLE_CA", NULL, NULL, "PEM certificates to trust besides the "
	    "system's (--ca)" },
	{ "PORTHOLE_HANGUP_SECS", NULL, NULL, "end a session after this many "
	    "seconds without a byte from the relay (default 50)" },
	{ "PORTHOLE_RESUME_TIMEOUT", NULL, NULL, "reconnect a session whose "
	    "connection dropped and go on where it stopped, for this long (e.g. "
	    "5m; unset or 0: off; the agent must have it too)" },
	{ "PORTHOLE_LOG", NULL, NULL, "the diagnostic log's level: error, warn "
	    "(default), info, debug" },
	{ "PORTHOLE_CONTEXT", NULL, NULL, "the context of the config file to "
	    "use (--context)" },
	{ "XDG_CONFIG_HOME", NULL, NULL, "the contexts are in "
	    "$XDG_CONFIG_HOME/porthole/config (default ~/.config/porthole/config)" },
	{ "XDG_STATE_HOME", NULL, NULL, "the console's history is "
	    "$XDG_STATE_HOME/porthole/history (default "
	    "~/.local/state/porthole/history)" },
	{ NULL, NULL, NULL, NULL }
};

/* "usage: porthole NAME USAGE", the usage wrapped under itself. */
static void
help_usage(FILE *f, const char *lead, const char *name, const char *sub,
    const char *usage, int width)
{
	char	*left;
	int	 n;

	left = ph_asprintf("%sporthole %s%s%s", lead, name, sub != NULL ? " " : "",
	    sub != NULL ? sub : "");
	fputs(left, f);
	n = (int)strlen(left);
	free(left);
	if (usage == NULL || *usage == '\0') {
		fputc('\n', f);
		return;
	}
	if (n + 20 > width) {	/* a narrow terminal: the usage below */
		fputc('\n', f);
		ph_help_text(f, usage, 8, 0, width);
	} else
		ph_help_text(f, usage, n + 1, n, width);
}

/* The names of the global options, for the last line of a command's help. */
static void
help_globals_line(FILE *f, int width)
{
	const struct ph_help_opt	*o;
	char				*s = NULL, *t;

	for (o = cmd_global_options; o->name != NULL; o++) {
		t = ph_asprintf("%s%s%s", s != NULL ? s : "", s != NULL ? ", " : "",
		    o->name);
		free(s);
		s = t;
	}
	t = ph_asprintf("Global options: %s (described by 'porthole help').", s);
	ph_help_text(f, t, 0, 0, width);
	free(t);
	free(s);
}

void
cmd_help(const struct cmd_entry *e)
{
	const struct cmd_sub	*sub;
	int			 width = ph_help_width();
	char			*title;

	if (e->subs == NULL)
		help_usage(stdout, "usage: ", e->name, NULL, e->usage, width);
	for (sub = e->subs; sub != NULL && sub->name != NULL; sub++)
		help_usage(stdout, sub == e->subs ? "usage: " : "       ", e->name,
		    sub->name, sub->usage, width);
	if (e->alias != NULL)
		printf("       porthole %s ... (alias)\n", e->alias);
	fputc('\n', stdout);
	ph_help_text(stdout, e->description != NULL ? e->description : e->about,
	    0, 0, width);
	if (e->options != NULL && e->options->name != NULL) {
		printf("\noptions:\n");
		ph_help_opts(stdout, e->options, HELP_OPT_COL, width);
	}
	for (sub = e->subs; sub != NULL && sub->name != NULL; sub++) {
		title = ph_asprintf("%s %s: %s", e->name, sub->name, sub->about);
		fputc('\n', stdout);
		ph_help_text(stdout, title, 2, 0, width);
		free(title);
		if (sub->options != NULL)
			ph_help_opts(stdout, sub->options, HELP_OPT_COL, width);
	}
	if (e->flags & CMD_TARGET) {
		fputc('\n', stdout);
		ph_help_text(stdout, help_target, 0, 0, width);
	}
	fputc('\n', stdout);
	help_globals_line(stdout, width);
}

void
cmd_list(void)
{
	const struct cmd_entry	**e;
	char			 *about;
	int			  width = ph_help_width(), col = 2, n;

	for (e = cmd_table; *e != NULL; e++)
		if (((*e)->flags & CMD_HIDDEN) == 0 &&
		    (n = (int)strlen((*e)->name) + 4) > col)
			col = n;
	help_usage(stdout, "usage: ", "[OPTIONS]", NULL, "COMMAND [ARG...]", width);
	fputc('\n', stdout);
	ph_help_text(stdout, help_intro, 0, 0, width);
	printf("\ncommands:\n");
	for (e = cmd_table; *e != NULL; e++) {
		if ((*e)->flags & CMD_HIDDEN)
			continue;
		printf("  %s", (*e)->name);
		about = ph_asprintf("%s%s%s%s", (*e)->about,
		    (*e)->alias != NULL ? " (alias: " : "",
		    (*e)->alias != NULL ? (*e)->alias : "",
		    (*e)->alias != NULL ? ")" : "");
		ph_help_text(stdout, about, col, 2 + (int)strlen((*e)->name), width);
		free(about);
	}
	fputc('\n', stdout);
	ph_help_text(stdout, help_where, 0, 0, width);
	ph_help_opts(stdout, cmd_global_options, HELP_OPT_COL, width);
	fputc('\n', stdout);
	ph_help_text(stdout, help_target, 0, 0, width);
	fputc('\n', stdout);
	ph_help_text(stdout, "'porthole COMMAND --help' or 'porthole help "
	    "COMMAND' shows what a command does and all its options; 'porthole "
	    "completion bash|zsh|fish' prints a completion script; 'porthole "
	    "--version' is 'porthole version'.", 0, 0, width);
	fputc('\n', stdout);
	ph_help_text(stdout, help_status, 0, 0, width);
}

/* ".B porthole NAME" then the usage, escaped. */
static void
man_usage(FILE *f, const char *name, const char *sub, const char *usage)
{
	fputs(".PP\n\\fBporthole ", f);
	ph_man_escape(f, name);
	if (sub != NULL) {
		fputc(' ', f);
		ph_man_escape(f, sub);
	}
	fputs("\\fR ", f);
	ph_man_escape(f, usage != NULL ? usage : "");
	fputc('\n', f);
}

void
cmd_man(FILE *f)
{
	const struct cmd_entry	**e;
	const struct cmd_sub	 *sub;
	char			 *title;

	ph_man_head(f, "porthole", "1", "the operator's CLI of porthole: shell, "
	    "exec, ps, mem, cp and dump in containers");
	ph_man_section(f, "SYNOPSIS");
	fputs("\\fBporthole\\fR [\\fIOPTIONS\\fR] \\fICOMMAND\\fR "
	    "[\\fIARG\\fR...]\n", f);
	ph_man_section(f, "DESCRIPTION");
	ph_man_text(f, help_intro);
	fputs(".PP\n", f);
	ph_man_text(f, help_target);
	ph_man_section(f, "OPTIONS");
	ph_man_text(f, "These go before the command, or after one that talks to "
	    "the relay; a flag overrides its variable (see ENVIRONMENT).");
	ph_man_opts(f, cmd_global_options);
	ph_man_section(f, "COMMANDS");
	for (e = cmd_table; *e != NULL; e++) {
		if ((*e)->flags & CMD_HIDDEN)
			continue;
		fprintf(f, ".SS %s\n", (*e)->name);
		if ((*e)->subs == NULL)
			man_usage(f, (*e)->name, NULL, (*e)->usage);
		for (sub = (*e)->subs; sub != NULL && sub->name != NULL; sub++)
			man_usage(f, (*e)->name, sub->name, sub->usage);
		if ((*e)->alias != NULL) {
			title = ph_asprintf("Alias: %s.", (*e)->alias);
			fputs(".PP\n", f);
			ph_man_text(f, title);
			free(title);
		}
		fputs(".PP\n", f);
		ph_man_text(f, (*e)->description != NULL ? (*e)->description :
		    (*e)->about);
		if ((*e)->options != NULL && (*e)->options->name != NULL) {
			fputs(".RS\n", f);
			ph_man_opts(f, (*e)->options);
			fputs(".RE\n", f);
		}
		for (sub = (*e)->subs; sub != NULL && sub->name != NULL; sub++) {
			title = ph_asprintf("%s %s: %s.", (*e)->name, sub->name,
			    sub->about);
			fputs(".PP\n", f);
			ph_man_text(f, title);
			free(title);
			fputs(".RS\n", f);
			ph_man_opts(f, sub->options);
			fputs(".RE\n", f);
		}
	}
	ph_man_section(f, "ENVIRONMENT");
	ph_man_opts(f, help_env);
	ph_man_section(f, "EXIT STATUS");
	ph_man_text(f, help_status);
	ph_man_section(f, "SEE ALSO");
	fputs(".BR porthole\\-agent (8),\n.BR porthole\\-relay (8)\n", f);
}

static int
cmd_help_exec(struct client_conf *conf, int argc, char **argv)
{
	const struct cmd_entry	*e;
	char			*cause = NULL;

	(void)conf;
	if (argc == 2 && strcmp(argv[1], "--man") == 0) {
		cmd_man(stdout);
		return 0;
	}
	if (argc > 1 && argv[1][0] == '-')
		return cmd_usage_error(&cmd_help_entry, "unknown option '%s'",
		    argv[1]);
	if (argc > 2)
		return cmd_usage_error(&cmd_help_entry, "too many arguments");
	if (argc == 2) {
		if ((e = cmd_find(argv[1], &cause)) == NULL)
			return cmd_fail(cause);
		cmd_help(e);
		return 0;
	}
	cmd_list();
	return 0;
}

static const struct ph_help_opt help_options[] = {
	{ "--man", NULL, NULL, "print the manual page porthole(1) as roff (the "
	    "build makes the installed one with it)" },
	{ NULL, NULL, NULL, NULL }
};

const struct cmd_entry cmd_help_entry = {
	.name = "help",
	.alias = NULL,
	.usage = "[COMMAND|--man]",
	.about = "list the commands, or show how to use one",
	.exec = cmd_help_exec,
	.description = "Without COMMAND, the commands and the options every one "
	    "takes; with one, what it does and all its options, as 'porthole "
	    "COMMAND --help' shows them.",
	.options = help_options,
};
