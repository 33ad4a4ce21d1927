/*
 * cmd-complete.c - "porthole __complete -- WORD...", hidden: the
 * candidates for the last WORD of a command line, one a line, for the
 * scripts `porthole completion bash|zsh|fish` prints.  The words are those
 * after "porthole", the last one the word being completed (maybe empty).
 *
 * Everything comes from the command table (cmd.h): command names, each
 * command's (and subcommand's) options and the global ones, the choices an
 * option's argument names ("--sort cpu|rss|pid"), and where a command wants
 * a TARGET or a PID (CMD_TARGET, CMD_PID, an option whose argument is PID).
 * Agent names and pids come from the relay the same way the console gets
 * them: by running `ls --json` or `ps TARGET --json` (here in this
 * process, stdout to a temporary file) and keeping what client-complete.c
 * keeps.  A line ":files" asks the shell to complete file names.
 *
 * Completion must never get in the way: stderr goes to /dev/null, any
 * failure (no relay set, a relay down, an unknown command) just gives no
 * candidates and status 0, and the relay gets COMPLETE_SECS at most.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "client-complete.h"
#include "client-conn.h"
#include "client-out.h"
#include "cmd.h"

#define COMPLETE_SECS	5

static void
complete_alarm(int sig)
{
	(void)sig;
	_exit(0);
}

/* Run entry with argv here, its stdout into a temporary file: the JSON. */
static json_t *
complete_fetch(struct client_conf *conf, const struct cmd_entry *entry, int argc,
    char **argv)
{
	json_error_t	 jerr;
	json_t		*doc = NULL;
	FILE		*tmp;
	int		 saved, r;

	if ((tmp = tmpfile()) == NULL)
		return NULL;
	fflush(stdout);
	if ((saved = dup(STDOUT_FILENO)) == -1 ||
	    dup2(fileno(tmp), STDOUT_FILENO) == -1) {
		if (saved != -1)
			close(saved);
		fclose(tmp);
		return NULL;
	}
	r = entry->exec(conf, argc, argv);
	if (client_out_flush() != 0)
		r = -1;
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	if (r == 0) {
		rewind(tmp);
		doc = json_loadf(tmp, 0, &jerr);
	}
	fclose(tmp);
	return doc;
}

/* Agent names that start with prefix. */
static void
complete_names(json_t *cands, struct client_conf *conf, const char *prefix)
{
	char	*argv[] = { (char *)"ls", (char *)"--json", NULL };
	json_t	*doc, *names, *v;
	size_t	 i;

	if ((doc = complete_fetch(conf, &cmd_ls_entry, 2, argv)) == NULL)
		return;
	names = client_complete_names(doc);
	json_decref(doc);
	json_array_foreach(names, i, v)
		client_complete_add(cands, json_string_value(v), prefix);
	json_decref(names);
}

/* Pids of target's processes that start with prefix. */
static void
complete_pids(json_t *cands, struct client_conf *conf, const char *target,
    const char *prefix)
{
	char	*argv[] = { (char *)"ps", (char *)target, (char *)"--json", NULL };
	json_t	*doc, *pids, *v;
	size_t	 i;

	if (target == NULL || (doc = complete_fetch(conf, &cmd_ps_entry, 3,
	    argv)) == NULL)
		return;
	pids = client_complete_pids(doc);
	json_decref(doc);
	json_array_foreach(pids, i, v)
		client_complete_add(cands, json_string_value(v), prefix);
	json_decref(pids);
}

/* The option of table opts that word names (--name, --name=..., -s). */
static const struct ph_help_opt *
complete_opt_find(const struct ph_help_opt *opts, const char *word)
{
	const struct ph_help_opt	*o;
	size_t				 n;

	for (o = opts; o != NULL && o->name != NULL; o++) {
		n = strlen(o->name);
		if (strncmp(word, o->name, n) == 0 && (word[n] == '\0' ||
		    word[n] == '='))
			return o;
		if (o->short_name != NULL && strcmp(word, o->short_name) == 0)
			return o;
	}
	return NULL;
}

/* Every option's names of opts that start with prefix. */
static void
complete_opts(json_t *cands, const struct ph_help_opt *opts, const char *prefix)
{
	const struct ph_help_opt	*o;

	for (o = opts; o != NULL && o->name != NULL; o++) {
		client_complete_add(cands, o->name, prefix);
		if (o->short_name != NULL && prefix[1] != '-')
			client_complete_add(cands, o->short_name, prefix);
	}
}

/*
 * The value of option o: its choices when the argument lists them in lower
 * case ("cpu|rss|pid"), pids for PID, files for a FILE or DIR.
 */
static void
complete_value(json_t *cands, struct client_conf *conf,
    const struct ph_help_opt *o, const char *target, const char *prefix)
{
	const char	*a = o->arg, *p, *end;
	char		*choice;

	if (strcmp(a, "PID") == 0) {
		complete_pids(cands, conf, target, prefix);
		return;
	}
	if (strstr(a, "FILE") != NULL || strstr(a, "DIR") != NULL) {
		json_array_append_new(cands, json_string(":files"));
		return;
	}
	if (a[0] < 'a' || a[0] > 'z' || strchr(a, '|') == NULL)
		return;
	for (p = a; *p != '\0'; p = *end != '\0' ? end + 1 : end) {
		end = p + strcspn(p, "|");
		choice = strndup(p, (size_t)(end - p));
		if (choice != NULL)
			client_complete_add(cands, choice, prefix);
		free(choice);
	}
}

/* The candidates for words[n - 1], n >= 1. */
static json_t *
complete(struct client_conf *conf, int n, char **words)
{
	const struct cmd_entry		*e;
	const struct cmd_sub		*sub = NULL;
	const struct ph_help_opt	*opts, *o;
	const char			*cur = words[n - 1], *target = NULL;
	json_t				*cands = json_array();
	char				*cause = NULL;
	int				 i, start, npos = 0, dashes = 0, global;

	/* The global options before the command. */
	for (i = 0; i < n - 1 && words[i][0] == '-'; i++) {
		if ((o = complete_opt_find(cmd_global_options, words[i])) != NULL &&
		    o->arg != NULL && strchr(words[i], '=') == NULL && i + 1 == n - 1) {
			complete_value(cands, conf, o, NULL, cur);
			return cands;
		}
		if (client_conf_option(conf, n - 1, words, &i, &cause) < 0) {
			free(cause);
			return cands;
		}
	}
	if (i == n - 1) {
		if (cur[0] == '-') {
			complete_opts(cands, cmd_global_options, cur);
			client_complete_add(cands, "--version", cur);
		} else
			client_complete_commands(cands, cur, 0);
		return cands;
	}
	if ((e = cmd_find(words[i], &cause)) == NULL) {
		free(cause);
		return cands;
	}
	start = i + 1;
	opts = e->options;
	if (e->subs != NULL) {
		if (start == n - 1) {
			for (sub = e->subs; sub->name != NULL; sub++)
				client_complete_add(cands, sub->name, cur);
			return cands;
		}
		for (sub = e->subs; sub->name != NULL; sub++)
			if (strcmp(sub->name, words[start]) == 0)
				break;
		if (sub->name == NULL)
			return cands;
		opts = sub->options;
		start++;
	}

	/* Where are we: after an option that wants a value, or which positional. */
	for (i = start; i < n - 1; i++) {
		if (dashes || words[i][0] != '-' || words[i][1] == '\0') {
			if (npos++ == 0)
				target = words[i];
			continue;
		}
		if (strcmp(words[i], "--") == 0) {
			dashes = 1;
			continue;
		}
		global = (o = complete_opt_find(opts, words[i])) == NULL &&
		    (o = complete_opt_find(cmd_global_options, words[i])) != NULL;
		if (o == NULL || o->arg == NULL || strchr(words[i], '=') != NULL) {
			if (global &&	/* --insecure, --relay=URL: for the relay */
			    client_conf_option(conf, n - 1, words, &i, &cause) < 0) {
				free(cause);
				cause = NULL;
			}
			continue;
		}
		if (i + 1 == n - 1) {
			complete_value(cands, conf, o, target, cur);
			return cands;
		}
		if (global && client_conf_option(conf, n - 1, words, &i, &cause) > 0)
			continue;	/* a setting for the relay, with its value */
		free(cause);
		cause = NULL;
		i++;	/* its value */
	}
	if (cur[0] == '-' && !dashes) {
		complete_opts(cands, opts, cur);
		complete_opts(cands, cmd_global_options, cur);
		return cands;
	}
	if (dashes && (e->flags & CMD_TARGET))
		return cands;	/* the remote command line */
	if (e == &cmd_help_entry && npos == 0)
		client_complete_commands(cands, cur, 0);
	else if (e == &cmd_cp_entry)
		json_array_append_new(cands, json_string(":files"));
	else if (npos == 0 && ((e->flags & CMD_TARGET) || e == &cmd_ls_entry))
		complete_names(cands, conf, cur);
	else if (npos == 1 && (e->flags & CMD_PID))
		complete_pids(cands, conf, target, cur);
	return cands;
}

static int
cmd_complete_exec(struct client_conf *conf, int argc, char **argv)
{
	json_t	*cands, *v;
	size_t	 i;
	int	 fd;

	if (argc < 3 || strcmp(argv[1], "--") != 0)
		return cmd_usage_error(&cmd_complete_entry, "want -- WORD...");
	if ((fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) != -1) {
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	signal(SIGALRM, complete_alarm);
	alarm(COMPLETE_SECS);
	cands = complete(conf, argc - 2, argv + 2);
	alarm(0);
	json_array_foreach(cands, i, v)
		printf("%s\n", json_string_value(v));
	json_decref(cands);
	return 0;
}

const struct cmd_entry cmd_complete_entry = {
	.name = "__complete",
	.alias = NULL,
	.usage = "-- WORD...",
	.about = "the candidates for the last WORD (the completion scripts' helper)",
	.exec = cmd_complete_exec,
	.flags = CMD_HIDDEN | CMD_NO_CONSOLE,
	.description = "Print the completions of the last WORD of a porthole "
	    "command line, one a line; ':files' means file names. Quiet: "
	    "failures give nothing.",
};
