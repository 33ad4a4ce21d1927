/*
 * cmd-console.c - "porthole console": an interactive prompt on libedit that
 * runs the same commands as the CLI, found in the same cmd_table.
 *
 * A line is split into words (libedit's tokenizer: quotes and backslashes
 * as in sh) and dispatched through cmd_find like argv.  Each command runs
 * in a forked child: whatever it does on the way out (exit statuses,
 * atexit handlers, raw mode of `shell`, a fatal signal) stays in the child,
 * and the prompt returns.  The console itself never runs an event loop: it
 * waits for its child, and what completion needs from the relay (the agent
 * list, a target's processes) is fetched the same way, by running `ls
 * --json` or `ps TARGET --json` in a child whose stdout is a pipe read with
 * a size cap and a deadline.  What is offered (commands, printable names,
 * pids) is client-complete.c's, as for the shells' completion.
 *
 * Builtins: `use [TARGET|-]` shows, sets or clears the default target;
 * `exit`/`quit` leave, as does Ctrl-D.  `use TARGET` asks the relay first:
 * a TARGET that matches no agent, or several, is refused with the same
 * line a command would print, and one that matches exactly one is taken
 * and said which.  With a default target set, a command that takes a
 * TARGET (CMD_TARGET) gets it inserted right after the command name; a
 * word written `@NAME` (before any `--`: `exec -n @worker -- uptime`)
 * names another target for that line instead.  A first word other than an
 * option that is exactly another agent's name, id or
 * task id (`exec worker -- ...` after `use api-2`) is refused rather than
 * taken as the program to run on the default target: `@worker` or
 * `exec -- worker` says which was meant.  `help` adds these rules to the
 * list of commands.  History lives in $XDG_STATE_HOME/porthole/history
 * (default ~/.local/state/porthole/history; directory 0700, file 0600).
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <histedit.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "porthole/printable.h"
#include "porthole/selector.h"
#include "porthole/util.h"

#include "client-complete.h"
#include "client-conn.h"
#include "client-target.h"
#include "cmd.h"

#define CONSOLE_FETCH_MAX	(8 * 1024 * 1024)	/* bytes of JSON read */
#define CONSOLE_FETCH_MS	15000			/* a fetch's deadline */
#define CONSOLE_AGENTS_TTL_MS	5000			/* agent names cached */
#define CONSOLE_PIDS_TTL_MS	2000			/* pids cached */
#define CONSOLE_HISTORY_SIZE	1000			/* lines kept */
#define CONSOLE_LIST_MAX	10			/* agents named in a line */

struct console {
	struct client_conf	*conf;
	EditLine		*el;
	History			*hist;
	char			*history_path;	/* NULL: no history file */
	char			*target;	/* default target, or NULL */
	char			*prompt;

	json_t			*agents;	/* cached names (array of str) */
	int64_t			 agents_at;
	json_t			*listing;	/* cached agent objects (ls --json) */
	int64_t			 listing_at;
	json_t			*pids;		/* cached pids of pids_target */
	char			*pids_target;
	int64_t			 pids_at;
};

/* The signals the console keeps away from itself while a child runs. */
static void
console_signals(void (*how)(int))
{
	signal(SIGINT, how);
	signal(SIGQUIT, how);
	signal(SIGTSTP, how);
	signal(SIGTTOU, how);
	signal(SIGTTIN, how);
	signal(SIGPIPE, how);
}

/* Wait for child pid; returns its wait status.  A stopped child goes on. */
static int
console_wait(pid_t pid)
{
	int	status;

	for (;;) {
		if (waitpid(pid, &status, WUNTRACED) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (WIFSTOPPED(status)) {
			kill(pid, SIGCONT);
			continue;
		}
		return status;
	}
}

/*
 * Run entry with argv in a forked child, stdout to out_fd unless it is -1
 * (then stderr goes to /dev/null too).  Returns the child's pid, or -1
 * with *cause.
 */
static pid_t
console_spawn(struct console *c, const struct cmd_entry *entry, int argc, char **argv,
    int out_fd, char **cause)
{
	pid_t	pid;
	int	null_fd, r;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		*cause = ph_asprintf("cannot fork: %s", strerror(errno));
		return -1;
	}
	if (pid != 0)
		return pid;

	console_signals(SIG_DFL);
	if (out_fd != -1) {
		if (dup2(out_fd, STDOUT_FILENO) == -1)
			_exit(CMD_EXIT_FAIL);
		close(out_fd);
		if ((null_fd = open("/dev/null", O_RDWR)) != -1) {
			dup2(null_fd, STDIN_FILENO);
			dup2(null_fd, STDERR_FILENO);
			close(null_fd);
		}
	}
	r = cmd_run(entry, c->conf, argc, argv);
	/* exit(), not _exit(): a command's atexit handlers (tty restore) run. */
	exit(r);
}

/*
 * Run entry with argv in a child and parse what it prints as JSON.
 * NULL with *cause on failure.
 */
static json_t *
console_fetch(struct console *c, const struct cmd_entry *entry, int argc, char **argv,
    char **cause)
{
	struct pollfd	 pfd;
	json_error_t	 jerr;
	json_t		*doc;
	char		*buf;
	size_t		 len = 0;
	ssize_t		 n;
	int64_t		 deadline = ph_mono_ms() + CONSOLE_FETCH_MS, left;
	pid_t		 pid;
	int		 fds[2], status, failed = 0;

	if (pipe(fds) == -1) {
		*cause = ph_asprintf("cannot make a pipe: %s", strerror(errno));
		return NULL;
	}
	if ((pid = console_spawn(c, entry, argc, argv, fds[1], cause)) == -1) {
		close(fds[0]);
		close(fds[1]);
		return NULL;
	}
	close(fds[1]);
	if ((buf = malloc(CONSOLE_FETCH_MAX + 1)) == NULL) {
		close(fds[0]);
		kill(pid, SIGKILL);
		console_wait(pid);
		*cause = ph_asprintf("out of memory");
		return NULL;
	}
	pfd.fd = fds[0];
	pfd.events = POLLIN;
	for (;;) {
		if ((left = deadline - ph_mono_ms()) <= 0) {
			failed = 1;
			break;
		}
		if (poll(&pfd, 1, (int)left) == -1) {
			if (errno == EINTR)
				continue;
			failed = 1;
			break;
		}
		if (len == CONSOLE_FETCH_MAX) {
			failed = 1;
			break;
		}
		n = read(fds[0], buf + len, CONSOLE_FETCH_MAX - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			failed = n < 0;
			break;
		}
		len += (size_t)n;
	}
	close(fds[0]);
	if (failed)
		kill(pid, SIGKILL);
	status = console_wait(pid);
	if (failed || status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		free(buf);
		*cause = ph_asprintf("'%s' failed", argv[0]);
		return NULL;
	}
	buf[len] = '\0';
	doc = json_loadb(buf, len, 0, &jerr);
	free(buf);
	if (doc == NULL)
		*cause = ph_asprintf("'%s' printed no JSON: %s", argv[0], jerr.text);
	return doc;
}

/*
 * Agent names, from `ls --json`, cached for a few seconds; only printable
 * ones (client_complete_names).
 */
static json_t *
console_agents(struct console *c)
{
	json_t		*doc, *names;
	char		*argv[] = { (char *)"ls", (char *)"--json", NULL }, *cause = NULL;

	if (c->agents != NULL && ph_mono_ms() - c->agents_at < CONSOLE_AGENTS_TTL_MS)
		return c->agents;
	if ((doc = console_fetch(c, &cmd_ls_entry, 2, argv, &cause)) == NULL) {
		free(cause);
		return c->agents;	/* stale is better than nothing */
	}
	names = client_complete_names(doc);
	json_decref(doc);
	json_decref(c->agents);
	c->agents = names;
	c->agents_at = ph_mono_ms();
	return names;
}

/* Pids of the default target's processes, from `ps TARGET --json`. */
static json_t *
console_pids(struct console *c)
{
	json_t		*doc, *pids;
	char		*argv[] = { (char *)"ps", c->target, (char *)"--json", NULL };
	char		*cause = NULL;

	if (c->pids != NULL && c->pids_target != NULL &&
	    strcmp(c->pids_target, c->target) == 0 &&
	    ph_mono_ms() - c->pids_at < CONSOLE_PIDS_TTL_MS)
		return c->pids;
	if ((doc = console_fetch(c, &cmd_ps_entry, 3, argv, &cause)) == NULL) {
		free(cause);
		return NULL;
	}
	pids = client_complete_pids(doc);
	json_decref(doc);
	json_decref(c->pids);
	free(c->pids_target);
	c->pids = pids;
	c->pids_target = ph_asprintf("%s", c->target);
	c->pids_at = ph_mono_ms();
	return pids;
}

/* The candidates for word number idx (partial word) of the words before it. */
static json_t *
console_candidates(struct console *c, char **words, int idx, const char *word)
{
	const struct cmd_entry	 *entry = NULL;
	json_t			 *cands = json_array(), *list, *v;
	char			 *cause = NULL, *at;
	size_t			  i;
	int			  digits = 1;
	const char		 *p;

	if (idx == 0) {
		client_complete_commands(cands, word, 1);
		client_complete_add(cands, "use", word);
		client_complete_add(cands, "quit", word);
		return cands;
	}
	if (strcmp(words[0], "use") == 0) {
		if (idx == 1 && (list = console_agents(c)) != NULL)
			json_array_foreach(list, i, v)
				client_complete_add(cands, json_string_value(v), word);
		return cands;
	}
	if ((entry = cmd_find(words[0], &cause)) == NULL) {
		free(cause);
		return cands;
	}
	if ((entry->flags & CMD_TARGET) == 0)
		return cands;

	/* An explicit @TARGET, or the TARGET itself when no default is set. */
	if (word[0] == '@' || (idx == 1 && c->target == NULL)) {
		if ((list = console_agents(c)) == NULL)
			return cands;
		json_array_foreach(list, i, v) {
			if (word[0] == '@') {
				at = ph_asprintf("@%s", json_string_value(v));
				client_complete_add(cands, at, word);
				free(at);
			} else
				client_complete_add(cands, json_string_value(v), word);
		}
		return cands;
	}
	/* Once a target is chosen, a numeric word is a pid. */
	for (p = word; *p != '\0'; p++)
		if (*p < '0' || *p > '9')
			digits = 0;
	if (c->target != NULL && digits && (list = console_pids(c)) != NULL)
		json_array_foreach(list, i, v)
			client_complete_add(cands, json_string_value(v), word);
	return cands;
}

/* The longest common prefix length of the candidates. */
static size_t
console_common(json_t *cands)
{
	const char	*first = json_string_value(json_array_get(cands, 0)), *s;
	size_t		 n = strlen(first), i, k;

	for (i = 1; i < json_array_size(cands); i++) {
		s = json_string_value(json_array_get(cands, i));
		for (k = 0; k < n && s[k] == first[k]; k++)
			;
		n = k;
	}
	return n;
}

/* Tab: complete the word under the cursor, or list the choices. */
static unsigned char
console_complete(EditLine *el, int ch)
{
	struct console	*c;
	const LineInfo	*li;
	json_t		*cands, *v;
	char		*line, *words[64], *word, *save = NULL, *tok, *ins;
	size_t		 len, common, i;
	int		 nw = 0, rv = CC_REFRESH;

	(void)ch;
	if (el_get(el, EL_CLIENTDATA, &c) != 0 || c == NULL)
		return CC_ERROR;
	li = el_line(el);
	len = (size_t)(li->cursor - li->buffer);
	line = ph_asprintf("%.*s", (int)len, li->buffer);

	/* The partial word is what follows the last blank before the cursor. */
	word = line + len;
	while (word > line && word[-1] != ' ' && word[-1] != '\t')
		word--;
	word = ph_asprintf("%s", word);
	line[len - strlen(word)] = '\0';
	for (tok = strtok_r(line, " \t", &save); tok != NULL && nw < 63;
	    tok = strtok_r(NULL, " \t", &save))
		words[nw++] = tok;
	words[nw] = NULL;

	cands = console_candidates(c, words, nw, word);
	if (json_array_size(cands) == 0)
		rv = CC_ERROR;
	else if (json_array_size(cands) == 1) {
		ins = ph_asprintf("%s ", json_string_value(json_array_get(cands, 0)) +
		    strlen(word));
		el_insertstr(el, ins);
		free(ins);
	} else if ((common = console_common(cands)) > strlen(word)) {
		ins = ph_asprintf("%s", json_string_value(json_array_get(cands, 0)));
		ins[common] = '\0';
		el_insertstr(el, ins + strlen(word));
		free(ins);
	} else {
		fputc('\n', stdout);
		json_array_foreach(cands, i, v)
			printf("%s%s", i > 0 ? "  " : "", json_string_value(v));
		fputc('\n', stdout);
		fflush(stdout);
		rv = CC_REDISPLAY;
	}
	json_decref(cands);
	free(word);
	free(line);
	return (unsigned char)rv;
}

static char *
console_prompt(EditLine *el)
{
	struct console	*c;

	if (el_get(el, EL_CLIENTDATA, &c) != 0 || c == NULL)
		return (char *)"porthole> ";
	free(c->prompt);
	c->prompt = c->target != NULL ? ph_asprintf("porthole %s> ", c->target) :
	    ph_asprintf("%s", "porthole> ");
	return c->prompt;
}

/* mkdir -p path with mode for every level made.  -1 with *cause. */
static int
console_mkdirs(char *path, mode_t mode, char **cause)
{
	char	*p;

	for (p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, mode) == -1 && errno != EEXIST) {
			*cause = ph_asprintf("cannot make %s: %s", path, strerror(errno));
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	if (mkdir(path, mode) == -1 && errno != EEXIST) {
		*cause = ph_asprintf("cannot make %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* $XDG_STATE_HOME/porthole/history, made ready; NULL with *cause. */
static char *
console_history_path(char **cause)
{
	const char	*state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	char		*dir, *path;
	int		 fd;

	if (state != NULL && state[0] == '/')
		dir = ph_asprintf("%s/porthole", state);
	else if (home != NULL && home[0] == '/')
		dir = ph_asprintf("%s/.local/state/porthole", home);
	else {
		*cause = ph_asprintf("%s", "neither XDG_STATE_HOME nor HOME is set: no history");
		return NULL;
	}
	if (console_mkdirs(dir, 0700, cause) != 0) {
		free(dir);
		return NULL;
	}
	path = ph_asprintf("%s/history", dir);
	free(dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		*cause = ph_asprintf("cannot open %s: %s", path, strerror(errno));
		free(path);
		return NULL;
	}
	close(fd);
	return path;
}

/*
 * The agents as `ls --json` lists them (borrowed), cached for a few
 * seconds unless fresh; NULL with *cause when the listing failed.
 */
static json_t *
console_listing(struct console *c, int fresh, char **cause)
{
	json_t	*doc, *agents;
	char	*argv[] = { (char *)"ls", (char *)"--json", NULL };

	if (!fresh && c->listing != NULL &&
	    ph_mono_ms() - c->listing_at < CONSOLE_AGENTS_TTL_MS)
		return c->listing;
	if ((doc = console_fetch(c, &cmd_ls_entry, 2, argv, cause)) == NULL)
		return NULL;
	agents = json_object_get(doc, "agents");
	if (!json_is_array(agents)) {
		json_decref(doc);
		*cause = ph_asprintf("'ls --json' listed no agents array");
		return NULL;
	}
	json_decref(c->listing);
	c->listing = json_incref(agents);
	c->listing_at = ph_mono_ms();
	json_decref(doc);
	return c->listing;
}

/*
 * `use TARGET`: taken only when the relay's agents have exactly one match;
 * otherwise the line says what is connected or what matched.
 */
static void
console_use_set(struct console *c, const char *target)
{
	json_t			*agents, *found, *one;
	enum ph_target_how	 how;
	char			*cause = NULL, *t, *list, *id, *name;

	t = client_printable(target);
	if ((agents = console_listing(c, 1, &cause)) == NULL) {
		cmd_failf("use: cannot check '%s' against the relay (%s: run 'ls' "
		    "to see why); the target is unchanged", t, cause);
		free(cause);
		free(t);
		return;
	}
	if ((found = ph_target_resolve_how(target, agents, &how, &cause)) == NULL) {
		cmd_failf("use: bad TARGET '%s' (%s): give an agent id, a name, a "
		    "task id or prefix, or a selector key=value[,...]", t,
		    cause != NULL ? cause : "malformed");
		free(cause);
		free(t);
		return;
	}
	switch (json_array_size(found)) {
	case 0:
		list = client_target_list(agents, CONSOLE_LIST_MAX);
		cmd_failf("use: no agent matches '%s'%s%s; the target is unchanged",
		    t, *list != '\0' ? "; connected: " : ": no agents are connected",
		    list);
		free(list);
		break;
	case 1:
		one = json_array_get(found, 0);
		free(c->target);
		c->target = ph_asprintf("%s", target);
		id = client_printable(client_agent_str(one, "id"));
		name = client_printable(client_agent_str(one, "name"));
		printf("target: %s is %s (name %s)\n", t, id, name);
		free(id);
		free(name);
		break;
	default:
		list = client_target_list(found, CONSOLE_LIST_MAX);
		cmd_failf("use: '%s' matches %zu agents: %s; name one (a longer "
		    "prefix, a full name or an id); the target is unchanged", t,
		    json_array_size(found), list);
		free(list);
		break;
	}
	json_decref(found);
	free(t);
}

/* `use [TARGET|-]`. */
static void
console_use(struct console *c, int argc, const char **argv)
{
	if (argc > 2) {
		fprintf(stderr, "porthole: one TARGET at most; usage: use [TARGET|-]\n");
		return;
	}
	if (argc == 1) {
		if (c->target != NULL)
			printf("target: %s\n", c->target);
		else
			printf("no target: 'use TARGET' sets one\n");
		return;
	}
	if (strcmp(argv[1], "-") == 0) {
		free(c->target);
		c->target = NULL;
		return;
	}
	console_use_set(c, argv[1]);
}

/*
 * With a default target, is word (the first argument of a command that
 * takes a TARGET) exactly another agent's id, name or task id?  Then the
 * line is ambiguous: the word would be run on the default target.  A
 * listing that fails says nothing here (the command itself will say).
 */
static int
console_other_agent(struct console *c, const char *word)
{
	json_t			*agents, *found;
	enum ph_target_how	 how = PH_TARGET_NONE;
	char			*cause = NULL;

	if (word[0] == '-' || word[0] == '@' || ph_selector_is(word))
		return 0;
	if ((agents = console_listing(c, 0, &cause)) == NULL) {
		free(cause);
		return 0;
	}
	if ((found = ph_target_resolve_how(word, agents, &how, &cause)) == NULL) {
		free(cause);
		return 0;
	}
	json_decref(found);
	return how == PH_TARGET_ID || how == PH_TARGET_NAME || how == PH_TARGET_TASK;
}

/* `help` in the console: the commands, then the console's own rules. */
static void
console_help(void)
{
	const struct cmd_entry	**e;
	char			 *list = ph_asprintf("%s", ""), *next;

	for (e = cmd_table; *e != NULL; e++) {
		if (((*e)->flags & CMD_TARGET) == 0)
			continue;
		next = ph_asprintf("%s%s%s", list, *list != '\0' ? ", " : "",
		    (*e)->name);
		free(list);
		list = next;
	}
	printf("\nin the console:\n"
	    "  use TARGET    set the default target (checked: it must match one "
	    "agent)\n"
	    "  use           show it; 'use -' clears it\n"
	    "  exit, quit    leave (so does Ctrl-D)\n"
	    "With a default target, %s take it as their TARGET:\n"
	    "'ps' runs 'ps TARGET'.  To name another agent for one line, write "
	    "it\nright after the command with '@': 'exec @worker -- uptime'.  A "
	    "first word\nthat is another agent's name is refused, not run as a "
	    "program: write\n'exec -- worker' to run a program named like an "
	    "agent.\n", list);
	free(list);
}

/* Run one line's words.  Returns 1 to leave the console. */
static int
console_dispatch(struct console *c, int argc, const char **argv)
{
	const struct cmd_entry	*entry;
	char			*cause = NULL, **av;
	int			 ac = 0, i, status, at, first;
	pid_t			 pid;

	if (strcmp(argv[0], "exit") == 0 || strcmp(argv[0], "quit") == 0)
		return 1;
	if (strcmp(argv[0], "use") == 0) {
		console_use(c, argc, argv);
		return 0;
	}
	if ((entry = cmd_find(argv[0], &cause)) == NULL) {
		cmd_fail(cause);
		return 0;
	}
	if (entry->flags & CMD_NO_CONSOLE) {
		cmd_failf("'%s' does not run inside the console", entry->name);
		return 0;
	}
	/* Before "--": the word naming a target ('@NAME'), the first other word. */
	at = first = -1;
	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (at < 0 && argv[i][0] == '@' && argv[i][1] != '\0')
			at = i;
		else if (first < 0 && argv[i][0] != '-')
			first = i;
	}
	if ((entry->flags & CMD_TARGET) && c->target != NULL && at < 0 &&
	    first > 0 && console_other_agent(c, argv[first])) {
		char *w = client_printable(argv[first]), *t = client_printable(c->target);

		cmd_failf("'%s' is an agent, and the target is %s: write '%s @%s "
		    "...' to use that agent, or put the program after '--' ('%s "
		    "-- %s ...') to run it on %s", w, t, entry->name, w,
		    entry->name, w, t);
		free(w);
		free(t);
		return 0;
	}

	if ((av = calloc((size_t)argc + 2, sizeof *av)) == NULL) {
		cmd_failf("out of memory");
		return 0;
	}
	av[ac++] = (char *)argv[0];
	if ((entry->flags & CMD_TARGET) && at < 0 && c->target != NULL)
		av[ac++] = c->target;
	for (i = 1; i < argc; i++)
		av[ac++] = (char *)argv[i] + ((entry->flags & CMD_TARGET) && i == at);
	av[ac] = NULL;

	if ((pid = console_spawn(c, entry, ac, av, -1, &cause)) == -1)
		cmd_fail(cause);
	else {
		status = console_wait(pid);
		/* After ^C the cursor sits behind the echo: a fresh line. */
		if (status != -1 && ((WIFSIGNALED(status) && WTERMSIG(status) ==
		    SIGINT) || (WIFEXITED(status) && WEXITSTATUS(status) == 130)))
			fputc('\n', stdout);
		if (status != -1 && WIFSIGNALED(status) && WTERMSIG(status) != SIGINT)
			cmd_failf("%s ended by signal %d", entry->name, WTERMSIG(status));
		else if (entry == &cmd_help_entry && argc == 1)
			console_help();
	}
	free(av);
	return 0;
}

static void
console_free(struct console *c)
{
	if (c->el != NULL)
		el_end(c->el);
	if (c->hist != NULL)
		history_end(c->hist);
	free(c->history_path);
	free(c->target);
	free(c->prompt);
	free(c->pids_target);
	json_decref(c->agents);
	json_decref(c->listing);
	json_decref(c->pids);
}

static int
cmd_console_exec(struct client_conf *conf, int argc, char **argv)
{
	struct console	 c;
	HistEvent	 ev;
	Tokenizer	*tok;
	const char	*line, **words;
	char		*cause = NULL;
	int		 i, r, n, nw, leave = 0;

	for (i = 1; i < argc; i++) {
		r = client_conf_option(conf, argc, argv, &i, &cause);
		if (r < 0) {
			r = cmd_usage_error(&cmd_console_entry, "%s", cause);
			free(cause);
			return r;
		}
		if (r == 0)
			return cmd_usage_error(&cmd_console_entry, "unexpected "
			    "argument '%s'", argv[i]);
	}

	memset(&c, 0, sizeof c);
	c.conf = conf;
	c.hist = history_init();
	history(c.hist, &ev, H_SETSIZE, CONSOLE_HISTORY_SIZE);
	history(c.hist, &ev, H_SETUNIQUE, 1);
	if ((c.history_path = console_history_path(&cause)) == NULL) {
		fprintf(stderr, "porthole: %s\n", cause);
		free(cause);
		cause = NULL;
	} else
		history(c.hist, &ev, H_LOAD, c.history_path);

	c.el = el_init("porthole", stdin, stdout, stderr);
	el_set(c.el, EL_CLIENTDATA, &c);
	el_set(c.el, EL_EDITOR, "emacs");
	el_set(c.el, EL_PROMPT, console_prompt);
	el_set(c.el, EL_HIST, history, c.hist);
	/* Wide strings: the narrow EL_ADDFN leaks its copies (libedit 3.1). */
	el_wset(c.el, EL_ADDFN, L"ph-complete", L"complete a command, agent or pid",
	    console_complete);
	el_set(c.el, EL_BIND, "^I", "ph-complete", NULL);
	el_source(c.el, NULL);	/* ~/.editrc, as other libedit programs */
	tok = tok_init(NULL);

	while (!leave) {
		/* At the prompt, Ctrl-C and friends do nothing; Ctrl-D leaves. */
		console_signals(SIG_IGN);
		if ((line = el_gets(c.el, &n)) == NULL || n <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			fputc('\n', stdout);
			break;
		}
		tok_reset(tok);
		if (tok_str(tok, line, &nw, &words) != 0) {
			cmd_failf("unbalanced quotes");
			continue;
		}
		if (nw == 0)
			continue;
		history(c.hist, &ev, H_ENTER, line);
		if (c.history_path != NULL &&
		    history(c.hist, &ev, H_SAVE, c.history_path) == -1)
			fprintf(stderr, "porthole: cannot save history to %s\n",
			    c.history_path);
		leave = console_dispatch(&c, nw, words);
	}
	tok_end(tok);
	console_free(&c);
	console_signals(SIG_DFL);
	fflush(stdout);
	return 0;
}

const struct cmd_entry cmd_console_entry = {
	.name = "console",
	.alias = NULL,
	.usage = "",
	.about = "an interactive prompt: these commands, 'use TARGET', completion",
	.exec = cmd_console_exec,
	.flags = CMD_NO_CONSOLE,
	.description = "A prompt that runs porthole's commands without the "
	    "word porthole, with history ($XDG_STATE_HOME/porthole/history) and "
	    "Tab completion of commands, agent names and pids. 'use TARGET' sets "
	    "a default target, given to every command that takes one; '@NAME' as "
	    "a command's first argument names another one for that line; 'use "
	    "-' clears it. exit, quit or Ctrl-D leave.",
};
