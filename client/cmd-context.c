/*
 * cmd-context.c - "porthole context ls|use NAME|show [NAME]": the named
 * contexts of the config file (client-context.h), which one applies, and
 * switching it.  Works offline: it reads and writes the file only.
 *
 *   ls          every context, its relay, '*' before the one that applies
 *   use NAME    make NAME the file's current context
 *   show [NAME] a context's settings (default: the one that applies), and
 *               the variables that override them here
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/printable.h"
#include "porthole/util.h"

#include "client-conn.h"
#include "client-context.h"
#include "cmd.h"

/* One line of ls: "* NAME  RELAY". */
static void
context_ls_line(const struct client_context *c, int selected, int w)
{
	char	*n = ph_printable(c->name), *r = ph_printable(c->relay);

	printf("%s %-*s  %s\n", selected ? "*" : " ", w, n, r);
	free(n);
	free(r);
}

static int
context_ls(struct client_contexts *cs)
{
	const char	*sel = client_contexts_selected(cs);
	size_t		 i;
	int		 w = 4;
	char		*p;

	if (cs->n == 0) {
		p = ph_printable(cs->path);
		fprintf(stderr, "porthole: no contexts in %s (docs/operations.md, "
		    "\"Contexts\", shows the format)\n", p);
		free(p);
		return 0;
	}
	for (i = 0; i < cs->n; i++)
		if ((int)strlen(cs->v[i].name) > w)
			w = (int)strlen(cs->v[i].name);
	printf("  %-*s  %s\n", w, "NAME", "RELAY");
	for (i = 0; i < cs->n; i++)
		context_ls_line(&cs->v[i], sel != NULL &&
		    strcmp(sel, cs->v[i].name) == 0, w);
	return 0;
}

/* "  key: value" and, when env overrides it here, a note saying so. */
static void
context_show_line(const char *key, const char *value, const char *env)
{
	const char	*e = env != NULL ? getenv(env) : NULL;
	char		*v = ph_printable(value != NULL ? value : "-");

	printf("%-11s %s%s%s%s\n", key, v, e != NULL && *e != '\0' ?
	    " (overridden here by " : "", e != NULL && *e != '\0' ? env : "",
	    e != NULL && *e != '\0' ? ")" : "");
	free(v);
}

static int
context_show(struct client_contexts *cs, const char *name)
{
	const struct client_context	*c;
	char				*p;

	if (name == NULL && (name = client_contexts_selected(cs)) == NULL) {
		p = ph_printable(cs->path);
		printf("no context applies: none is current in %s, and neither "
		    "--context nor PORTHOLE_CONTEXT names one\n", p);
		free(p);
		return 0;
	}
	if ((c = client_contexts_find(cs, name)) == NULL)
		return cmd_failf("unknown context '%s' in %s: 'porthole context "
		    "ls' lists them", name, cs->path);
	context_show_line("context:", c->name, NULL);
	context_show_line("file:", cs->path, NULL);
	context_show_line("relay:", c->relay, "PORTHOLE_RELAY");
	context_show_line("token_file:", c->token_file, "PORTHOLE_TOKEN");
	context_show_line("key_file:", c->key_file, "PORTHOLE_KEY");
	context_show_line("ca_file:", c->ca_file, "PORTHOLE_CA");
	context_show_line("insecure:", c->insecure ? "true" : "false", NULL);
	return 0;
}

static int
context_use(struct client_contexts *cs, const char *name)
{
	const struct client_context	*c;
	char				*cause = NULL, *n, *r;

	if ((c = client_contexts_find(cs, name)) == NULL) {
		if (!cs->exists)
			return cmd_failf("unknown context '%s': %s does not exist "
			    "(docs/operations.md, \"Contexts\")", name, cs->path);
		return cmd_failf("unknown context '%s' in %s: 'porthole context "
		    "ls' lists them", name, cs->path);
	}
	if (client_contexts_set_current(cs, name, &cause) != 0)
		return cmd_fail(cause);
	n = ph_printable(c->name);
	r = ph_printable(c->relay);
	printf("context: %s (relay %s)\n", n, r);
	free(n);
	free(r);
	if (client_context_chosen() != NULL)
		fprintf(stderr, "porthole: note: --context or PORTHOLE_CONTEXT "
		    "still picks another context where it is given\n");
	return 0;
}

static int
cmd_context_exec(struct client_conf *conf, int argc, char **argv)
{
	struct client_contexts	 cs;
	char			*cause = NULL;
	char			*pos[3];
	const char		*sub;
	int			 i, r, np = 0;

	/* Global options (--context among them) may follow the name. */
	for (i = 1; i < argc; i++) {
		if (argv[i][0] == '-' && argv[i][1] != '\0') {
			if ((r = cmd_conf_option(&cmd_context_entry, conf, argc,
			    argv, &i)) != 0)
				return r;
			continue;
		}
		if (np == 3)
			return cmd_usage_error(&cmd_context_entry, "too many "
			    "arguments");
		pos[np++] = argv[i];
	}
	argc = np + 1;
	argv = (char *[]){ argv[0], np > 0 ? pos[0] : NULL,
	    np > 1 ? pos[1] : NULL, np > 2 ? pos[2] : NULL };
	sub = argc > 1 ? argv[1] : "ls";
	if (strcmp(sub, "ls") != 0 && strcmp(sub, "use") != 0 &&
	    strcmp(sub, "show") != 0)
		return cmd_usage_error(&cmd_context_entry, "unknown subcommand '%s'",
		    sub);
	if ((strcmp(sub, "use") == 0 && argc != 3) ||
	    (strcmp(sub, "show") == 0 && argc > 3) ||
	    (strcmp(sub, "ls") == 0 && argc > 2))
		return cmd_usage_error(&cmd_context_entry, "wrong number of "
		    "arguments for '%s'", sub);
	if (client_contexts_load(&cs, &cause) != 0) {
		client_contexts_free(&cs);
		return cmd_fail(cause);
	}
	if (strcmp(sub, "ls") == 0)
		r = context_ls(&cs);
	else if (strcmp(sub, "use") == 0)
		r = context_use(&cs, argv[2]);
	else
		r = context_show(&cs, argc == 3 ? argv[2] : NULL);
	client_contexts_free(&cs);
	return r;
}

static const struct cmd_sub context_subs[] = {
	{ "ls", "", "every context and its relay, '*' before the one that "
	    "applies", NULL },
	{ "use", "NAME", "make NAME the file's current context", NULL },
	{ "show", "[NAME]", "a context's settings (default: the one that "
	    "applies) and which of them a variable overrides here", NULL },
	{ NULL, NULL, NULL, NULL }
};

const struct cmd_entry cmd_context_entry = {
	.name = "context",
	.alias = NULL,
	.usage = "ls|use NAME|show [NAME]",
	.about = "named relay settings in ~/.config/porthole/config: list, "
	    "switch, show",
	.exec = cmd_context_exec,
	.description = "A context names one relay's settings (relay, token_file, "
	    "key_file, ca_file, insecure) in the JSON file "
	    "$XDG_CONFIG_HOME/porthole/config (default ~/.config/porthole/config), "
	    "so that switching relays is one command instead of an env file each. "
	    "The context that applies is --context NAME, else PORTHOLE_CONTEXT, "
	    "else the file's current; it fills only the settings that neither a "
	    "flag nor a variable gave. Works offline: only the file is read, and "
	    "only 'use' writes it (whole, through a temporary file and a rename).",
	.subs = context_subs,
};
