/*
 * cmd.h - the command table of the porthole CLI.
 *
 * Every subcommand lives in its own cmd-<verb>.c and exports one
 * const struct cmd_entry; cmd.c lists them in cmd_table, finds a command by
 * name, alias or unique prefix, and prints usage.  The console
 * (cmd-console.c) runs commands from the same table and completes their
 * names from it.
 *
 * Each entry also carries its whole help: a paragraph or more on what it
 * does (description) and a table of its own options (options; the
 * settings' flags, --relay and the rest, are cmd_global_options, listed
 * once).  `porthole CMD --help`, `porthole help CMD`, the man page
 * porthole(1) (`porthole help --man`, run by meson) and the shell
 * completion (cmd-completion.c) are all made from these tables, and
 * tests/e2e/help.sh fails when a parser takes an option its table does
 * not name.  A command with subcommands (token) lists them in subs, each
 * with its own options.
 *
 * A command's exec function gets the settings gathered from the global
 * options (not yet checked: commands that talk to the relay call
 * client_conf_load) and its own argv, argv[0] being the command name.  It
 * returns the process exit status: 0, the remote program's status, or 255
 * after printing exactly one "porthole: ..." line on stderr.
 */
#ifndef PORTHOLE_CLIENT_CMD_H
#define PORTHOLE_CLIENT_CMD_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "porthole/help.h"

struct client_conf;

#define CMD_EXIT_FAIL	255	/* any failure of porthole itself */
/*
 * A parser that met -h/--help (cmd_conf_option) printed the help and
 * returns this; cmd_run makes it exit status 0.
 */
#define CMD_EXIT_HELP	256

/* A subcommand ("token issue"): its usage line, about line and options. */
struct cmd_sub {
	const char			*name;		/* NULL ends the list */
	const char			*usage;
	const char			*about;
	const struct ph_help_opt	*options;	/* NULL: none */
};

struct cmd_entry {
	const char	*name;
	const char	*alias;		/* NULL: none */
	const char	*usage;		/* arguments after the name */
	const char	*about;		/* one line for "porthole help" */
	int		(*exec)(struct client_conf *conf, int argc, char **argv);
	int		  flags;	/* CMD_* below */
	const char	*description;	/* for --help and the man page (help.h) */
	const struct ph_help_opt *options;	/* its own options; NULL: none */
	const struct cmd_sub *subs;	/* subcommands; NULL: none */
};

#define CMD_TARGET	0x1	/* first positional argument is TARGET */
#define CMD_NO_CONSOLE	0x2	/* makes no sense inside the console */
#define CMD_HIDDEN	0x4	/* not listed, never matched by a prefix */
#define CMD_PID		0x8	/* the positional after TARGET is a PID */

/* The settings' flags (client_conf_option), accepted by every command. */
extern const struct ph_help_opt cmd_global_options[];

extern const struct cmd_entry cmd_ls_entry;
extern const struct cmd_entry cmd_exec_entry;
extern const struct cmd_entry cmd_ps_entry;
extern const struct cmd_entry cmd_mem_entry;
extern const struct cmd_entry cmd_net_entry;
extern const struct cmd_entry cmd_lsof_entry;
extern const struct cmd_entry cmd_probe_entry;
extern const struct cmd_entry cmd_forward_entry;
extern const struct cmd_entry cmd_cp_entry;
extern const struct cmd_entry cmd_dump_entry;
extern const struct cmd_entry cmd_artifacts_entry;
extern const struct cmd_entry cmd_watch_entry;
extern const struct cmd_entry cmd_shell_entry;
extern const struct cmd_entry cmd_sessions_entry;
extern const struct cmd_entry cmd_attach_entry;
extern const struct cmd_entry cmd_console_entry;
extern const struct cmd_entry cmd_context_entry;
extern const struct cmd_entry cmd_version_entry;
extern const struct cmd_entry cmd_help_entry;
extern const struct cmd_entry cmd_entry_token;
extern const struct cmd_entry cmd_completion_entry;
extern const struct cmd_entry cmd_complete_entry;

/* NULL-terminated. */
extern const struct cmd_entry *cmd_table[];

/*
 * "porthole token ..." (cmd-token.c), which parses its own options and
 * needs no relay settings; argv[0] == "token".  cmd.c's entry calls it.
 */
int	cmd_token_main(int argc, char **argv);

/*
 * The caller's sessions on the agents target matches (NULL: every agent
 * that serves the listing), each with its agent: a new array, or NULL with
 * the exit status in *status.  An agent that failed sets *status to 255
 * (said on stderr unless quiet).  cmd-sessions.c.
 */
json_t	*cmd_sessions_fetch(struct client_conf *conf, const char *target,
		    int quiet, int *status);
/* porthole attach: the shell's terminal over an `attach` open (cmd-shell.c). */
int	cmd_shell_attach(struct client_conf *conf, const char *agent, const char *id);
/* "porthole token revoke ..." (cmd-token-revoke.c); argv[0] == "revoke". */
int	cmd_token_revoke(struct client_conf *conf, int argc, char **argv);

/*
 * Find a command by exact name, exact alias, or unique prefix of a name.
 * Returns NULL with *cause (malloc'd) for an unknown or ambiguous name.
 */
const struct cmd_entry *cmd_find(const char *name, char **cause);

/*
 * cmd_usage_error, cmd_fail and cmd_failf print one line, escaped for the
 * terminal as a whole (ph_printable: causes quote what agents and relays
 * said).
 */
/* Print "porthole: WHAT; usage: porthole NAME USAGE" and return 255. */
int	cmd_usage_error(const struct cmd_entry *entry, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

struct client_conf;
/*
 * A setting's flag (client_conf_option: --relay, --token, ...) at
 * argv[*i] for command entry: 0 when taken (*i moved to its value), else
 * the exit status after the usage error (an unknown option included).
 */
int	cmd_conf_option(const struct cmd_entry *entry, struct client_conf *conf,
	    int argc, char **argv, int *i);

/* Print "porthole: CAUSE", free cause, return 255. */
int	cmd_fail(char *cause);
/* Print "porthole: ..." and return 255. */
int	cmd_failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Run entry with argv (argv[0] its name): -h or --help as the first
 * argument (for a command with subcommands: anywhere before "--", or
 * "help") prints its help instead; CMD_EXIT_HELP from a parser becomes 0.
 */
int	cmd_run(const struct cmd_entry *entry, struct client_conf *conf, int argc,
	    char **argv);

/* "porthole help" text: every command with its about line, the settings. */
void	cmd_list(void);
/* A command's whole help (cmd-help.c), wrapped to ph_help_width(). */
void	cmd_help(const struct cmd_entry *entry);
/* The man page porthole(1) from the table (cmd-help.c). */
void	cmd_man(FILE *f);

#endif
