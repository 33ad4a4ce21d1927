/*
 * cmd.c - the table of porthole's commands, finding one by name, alias or
 * unique prefix (hidden commands only by their whole name), running one
 * (cmd_run: -h/--help first), the table of the settings' flags every
 * command takes, and the few ways a command reports a failure.
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
	&cmd_net_entry,
	&cmd_lsof_entry,
	&cmd_probe_entry,
	&cmd_forward_entry,
	&cmd_cp_entry,
	&cmd_dump_entry,
	&cmd_artifacts_entry,
	&cmd_watch_entry,
	&cmd_shell_entry,
	&cmd_sessions_entry,
	&cmd_attach_entry,
	&cmd_console_entry,
	&cmd_context_entry,
	&cmd_entry_token,
	&cmd_version_entry,
	&cmd_help_entry,
	&cmd_completion_entry,
	&cmd_complete_entry,
	NULL
};

const struct ph_help_opt cmd_global_options[] = {
	{ "--context", NULL, "NAME", "take the settings no flag or variable "
	    "gives from this context of $XDG_CONFIG_HOME/porthole/config "
	    "(PORTHOLE_CONTEXT; default: the file's current; see 'porthole "
	    "context')" },
	{ "--relay", NULL, "URL", "the relay, wss://HOST:PORT (PORTHOLE_RELAY)" },
	{ "--token", NULL, "TOKEN|@FILE", "your token, or @FILE to read it from "
	    "a file (PORTHOLE_TOKEN); a token given here is wiped from the "
	    "process's arguments, but a file is better" },
	{ "--key", NULL, "FILE", "the private key your token is bound to "
	    "(PORTHOLE_KEY): every session request is signed with it" },
	{ "--ca", NULL, "FILE", "PEM certificates to trust for the relay besides "
	    "the system's (PORTHOLE_CA); a dev relay writes its own to "
	    "DIR/ca.pem" },
	{ "--resume", NULL, "DUR", "reconnect a session whose connection drops "
	    "and go on from where it stopped, for up to DUR (default 5m; 0: not; "
	    "PORTHOLE_RESUME_TIMEOUT); only with an agent that has it too" },
	{ "--insecure", NULL, NULL, "do not verify the relay's certificate "
	    "(tests only: says so loudly on every run)" },
	{ "--allow-unsealed", NULL, NULL, "take an agent that does not seal "
	    "sessions end to end (older than protocol 4; PORTHOLE_ALLOW_UNSEALED=1): "
	    "the relay could read and alter the session" },
	{ "--help", "-h", NULL, "show the help of porthole, or of the command it "
	    "follows" },
	{ NULL, NULL, NULL, NULL }
};

static int
cmd_exec_token(struct client_conf *conf, int argc, char **argv)
{
	/* revoke talks to the relay: the settings' flags and conf are its. */
	if (argc >= 2 && strcmp(argv[1], "revoke") == 0)
		return cmd_token_revoke(conf, argc - 1, argv + 1);
	return cmd_token_main(argc, argv);
}

static const struct ph_help_opt token_keygen_options[] = {
	{ "--output", "-o", "FILE", "write the private key to FILE (mode 0600) and "
	    "the public key to FILE.pub (mode 0644); required" },
	{ "--force", "-f", NULL, "replace FILE and FILE.pub if they exist (keygen "
	    "never does otherwise)" },
	{ NULL, NULL, NULL, NULL }
};

static const struct ph_help_opt token_issue_options[] = {
	{ "--key", NULL, "FILE", "the signing key (a private key from keygen); "
	    "required" },
	{ "--kind", NULL, "agent|client|relay", "an agent's token, a client's "
	    "(an operator's CLI), or a relay's (one relay of a fleet to another: "
	    "porthole-relay --relay-token); required" },
	{ "--sub", NULL, "NAME", "who the token is for: the subject the relay's "
	    "audit names and its per-subject limits count; required" },
	{ "--scope", NULL, "OP,...", "the operations a client token may do "
	    "(default: every one; the admin scope revoke only when named)" },
	{ "--viewer", NULL, NULL, "a client token that may only look: the "
	    "read-only operations (not with --scope)" },
	{ "--target", NULL, "SELECTOR", "the agents a client token may reach, as "
	    "a label selector key=value[,key=value]" },
	{ "--bind", NULL, "CLIENT_KEY", "tie a client token to the client's key "
	    "pair (the .pub file from keygen): each request must be signed with "
	    "the private key (PORTHOLE_KEY); required for a client token" },
	{ "--forward", NULL, "HOST:PORT,...", "the destinations a client token's "
	    "forward may reach (its forward claim): name globs (db.internal, "
	    "*.svc.local), addresses or CIDRs (10.0.0.0/8, [fd00::/8]), each with "
	    "a port, LO-HI or *; the credential endpoints 169.254.170.2 and "
	    "169.254.169.254 only when named by address. Default: anywhere but "
	    "those two" },
	{ "--labels", NULL, "K=V|V...,K=*", "the labels an agent token may claim: "
	    "values allowed for each key, or * for any" },
	{ "--ttl", NULL, "DUR", "how long the token lives (default 30d, the "
	    "longest a relay takes a client token by default); DUR as 1h, 30m, "
	    "1m30s, 7d" },
	{ "--expires-at", NULL, "UNIXTIME", "set exp exactly, in seconds since "
	    "1970 (also in the past: tests of expiry use it)" },
	{ NULL, NULL, NULL, NULL }
};

static const struct ph_help_opt token_show_options[] = {
	{ "--pubkey", "-p", "FILE[,FILE]", "verify the signature, key and expiry "
	    "with these public keys; without it nothing is verified and the "
	    "output says so" },
	{ NULL, NULL, NULL, NULL }
};

static const struct ph_help_opt token_revoke_options[] = {
	{ "--until", NULL, "UNIXTIME", "keep the entry until then (default: the "
	    "token's exp when a token is given, else as long as the relay lets a "
	    "token live; never longer)" },
	{ NULL, NULL, NULL, NULL }
};

static const struct cmd_sub token_subs[] = {
	{ "keygen", "-o FILE [--force]", "make an Ed25519 key pair: FILE "
	    "(private) and FILE.pub (public, for PORTHOLE_PUBKEY)",
	    token_keygen_options },
	{ "issue", "--key FILE --kind agent|client|relay --sub NAME [--scope OP,...|"
	    "--viewer] [--target SELECTOR] [--forward HOST:PORT,...] [--bind CLIENT_KEY] [--labels "
	    "K=V|V...,K=*] [--ttl DUR|--expires-at UNIXTIME]", "print a token "
	    "signed with --key on stdout", token_issue_options },
	{ "show", "[--pubkey FILE[,FILE]] TOKEN|@FILE", "print a token's header "
	    "and claims as JSON; verified only with --pubkey",
	    token_show_options },
	{ "revoke", "TOKEN|@FILE|JTI [--until UNIXTIME]", "refuse a token from now "
	    "on, through the relay: every relay of its fleet and their agents "
	    "(needs the admin scope revoke)", token_revoke_options },
	{ NULL, NULL, NULL, NULL }
};

const struct cmd_entry cmd_entry_token = {
	.name = "token",
	.alias = NULL,
	.usage = "keygen|issue|show|revoke ...",
	.about = "signing keys and tokens",
	.exec = cmd_exec_token,
	.description = "The issuer's side of porthole's identity; works offline "
	    "and needs no relay. keygen makes a key pair: the private key signs "
	    "tokens (or is a client's key), the public one goes into the relays' "
	    "and agents' PORTHOLE_PUBKEY. issue signs a token for an agent or a "
	    "client; show prints one. revoke is the exception: it asks the relay "
	    "(--relay, --token, --key as every command) to refuse a token from "
	    "now until it would have expired; with --redis every relay of the "
	    "fleet does within seconds and pushes it to its agents, else the "
	    "relay appends it to its PORTHOLE_REVOKED. Its token needs the admin "
	    "scope revoke, which token issue gives only when --scope names it.",
	.subs = token_subs,
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
		if (*name == '\0' || ((*e)->flags & CMD_HIDDEN) ||
		    strncmp((*e)->name, name, strlen(name)) != 0)
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

	if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
		cmd_help(entry);
		return CMD_EXIT_HELP;
	}
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

/* Is a one of -h, --help? */
static int
cmd_is_help(const char *a)
{
	return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0;
}

int
cmd_run(const struct cmd_entry *entry, struct client_conf *conf, int argc,
    char **argv)
{
	int	i, r;

	if (argc > 1 && cmd_is_help(argv[1])) {
		cmd_help(entry);
		return 0;
	}
	for (i = 1; entry->subs != NULL && i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (cmd_is_help(argv[i]) || (i == 1 && strcmp(argv[i], "help") == 0)) {
			cmd_help(entry);
			return 0;
		}
	}
	r = entry->exec(conf, argc, argv);
	return r == CMD_EXIT_HELP ? 0 : r;
}
