/*
 * agent-help.c - what `porthole-agent --help` says and the man page
 * porthole-agent(8) (`porthole-agent --man`, run by meson at build time):
 * one table of options and one of variables (porthole/help.h), so the two
 * cannot disagree.  agent.c's getopt table must name the same options:
 * tests/e2e/help.sh checks both ways.
 */
#include <stdio.h>

#include "porthole/help.h"
#include "porthole/protocol.h"

#include "agent.h"

#define AGENT_HELP_COL	24

static const char agent_help_usage[] =
"usage: porthole-agent [--relay wss://HOST[:PORT]] [--token TOKEN|@FILE]\n"
"                      [--ca FILE] [--name NAME] [--labels KEY=VALUE,...]\n"
"                      [-- APP [ARG...]]\n";

static const char agent_help_about[] =
"The agent runs inside a container (a sidecar, or the app's own image), dials "
"out to a porthole-relay over TLS WebSocket and serves the operations an "
"operator's porthole asks for through it: exec, shell, ps, mem, net, lsof, probe, cp, dump. It "
"listens on no port. Every request is checked against the public keys of the "
"token issuer (PORTHOLE_PUBKEY), whatever the relay says.\n"
"\n"
"With -- APP, APP is exec'd in place (it keeps the pid, the signals and the "
"exit code) and the agent runs as its child (launcher mode): the app runs on "
"whatever happens to the agent.";

static const struct ph_help_opt agent_help_options[] = {
	{ "--relay", NULL, "wss://HOST[:PORT]", "the relay to dial "
	    "(PORTHOLE_RELAY)" },
	{ "--token", NULL, "TOKEN|@FILE", "the agent's token, or @FILE holding it "
	    "(PORTHOLE_TOKEN); a file not there yet is waited for" },
	{ "--ca", NULL, "FILE", "PEM certificates to trust for the relay besides "
	    "the system's (PORTHOLE_CA)" },
	{ "--name", NULL, "NAME", "the name operators use (PORTHOLE_NAME; "
	    "default: the ECS task's family, else the host name)" },
	{ "--labels", NULL, "KEY=VALUE,...", "labels for selectors "
	    "(PORTHOLE_LABELS); the token's labels claim must allow them" },
	{ "--crash-timeout", NULL, "SECONDS", "with PORTHOLE_CAPTURE_CRASH: the "
	    "longest a crashed app is held for its core to be stored "
	    "(PORTHOLE_CRASH_TIMEOUT; default 60)" },
	{ "--help", "-h", NULL, "print this help" },
	{ "--version", "-V", NULL, "print the version and the protocol version" },
	{ "--man", NULL, NULL, "print the manual page porthole-agent(8) as roff" },
	{ NULL, NULL, NULL, NULL }
};

static const struct ph_help_opt agent_help_env[] = {
	{ "PORTHOLE_RELAY", NULL, NULL, "as --relay (a flag wins)" },
	{ "PORTHOLE_TOKEN", NULL, NULL, "as --token" },
	{ "PORTHOLE_CA", NULL, NULL, "as --ca" },
	{ "PORTHOLE_NAME", NULL, NULL, "as --name" },
	{ "PORTHOLE_LABELS", NULL, NULL, "as --labels" },
	{ "PORTHOLE_PUBKEY", NULL, NULL, "required: the token issuer's public key "
	    "files, comma-separated; every request is verified with them" },
	{ "PORTHOLE_REVOKED", NULL, NULL, "a file of revoked token ids (jti), one "
	    "a line (JTI or JTI EXPIRY), re-read when it changes; relays add what "
	    "porthole token revoke recorded over the control channel" },
	{ "PORTHOLE_KEY", NULL, NULL, "the agent key its token is bound to "
	    "(token issue --kind agent --bind): it signs the agent's share of "
	    "every sealed session, so clients can authenticate the agent" },
	{ "PORTHOLE_SHELL", NULL, NULL, "the shell `porthole shell` starts "
	    "(default: the user's, else /bin/sh)" },
	{ "PORTHOLE_HANGUP_SECS", NULL, NULL, "drop a relay that answers no ping "
	    "for this many seconds" },
	{ "PORTHOLE_RESUME_TIMEOUT", NULL, NULL, "how long a session whose client "
	    "connection dropped waits for the client to resume it (default 5m, "
	    "at most 24h; 0: sessions do not resume; the CLI must have it too)" },
	{ "PORTHOLE_DETACH_TTL", NULL, NULL, "how long a shell detached with ~d "
	    "waits for porthole attach before it is hung up (e.g. 30s, 5m; "
	    "default 1h, at most 7d)" },
	{ "PORTHOLE_RESUME_BUFFER", NULL, NULL, "a session's output kept until the "
	    "client acknowledges it; past it the program's output is not read "
	    "(default 4M, 1M-64M)" },
	{ "PORTHOLE_LOG", NULL, NULL, "the log's level: error, warn, info "
	    "(default), debug" },
	{ "PORTHOLE_WATCH", NULL, NULL, "the flight recorder's watches, each as "
	    "'porthole watch add' takes them, separated by ';' (e.g. "
	    "'--rss-above 85% --kind core'): captures uploaded with nobody "
	    "attached" },
	{ "PORTHOLE_SPOOL_DIR", NULL, NULL, "where captures wait while no relay "
	    "is reachable (default none: such a capture is skipped); "
	    "PORTHOLE_SPOOL_MAX bounds it (default 2GiB)" },
	{ "PORTHOLE_ARTIFACT_RECIPIENT", NULL, NULL, "an X25519 public key "
	    "('porthole artifacts keygen' prints it): captures are sealed to it "
	    "as they stream, so neither the relay nor its bucket can read them" },
	{ "PORTHOLE_CAPTURE_CRASH", NULL, NULL, "1: in launcher mode, a fatal "
	    "signal of the app (SIGSEGV, SIGABRT...) first stores its core, then "
	    "the app dies of it as it would have" },
	{ "PORTHOLE_CRASH_TIMEOUT", NULL, NULL, "as --crash-timeout" },
	{ "SSL_CERT_FILE", NULL, NULL, "the CA bundle, where the image's is not "
	    "in a usual place" },
	{ "ECS_CONTAINER_METADATA_URI_V4", NULL, NULL, "set by ECS: the agent "
	    "takes its id, name and labels (cluster, family, task, ...) from the "
	    "task metadata" },
	{ NULL, NULL, NULL, NULL }
};

static const char agent_help_env_note[] =
"PORTHOLE_* never reaches the programs the agent starts: the agent removes "
"them from its environment once read.";

static const char agent_help_status[] =
"2: a setting is missing or malformed; 3: the token is not an agent token, or "
"not a token at all. A relay's refusal or a file not there yet is retried, "
"never a reason to exit. In launcher mode these are the agent's, not the "
"app's: the app keeps running.";

void
agent_help(FILE *f)
{
	int	width = ph_help_width();

	fputs(agent_help_usage, f);
	fputc('\n', f);
	ph_help_text(f, agent_help_about, 0, 0, width);
	fputs("\noptions:\n", f);
	ph_help_opts(f, agent_help_options, AGENT_HELP_COL, width);
	fputs("\nvariables:\n", f);
	ph_help_opts(f, agent_help_env, 34, width);
	ph_help_text(f, agent_help_env_note, 0, 0, width);
	fputs("\nexit status:\n", f);
	ph_help_text(f, agent_help_status, 0, 0, width);
}

void
agent_man(FILE *f)
{
	ph_man_head(f, "porthole-agent", "8", "the agent of porthole, inside a "
	    "container");
	ph_man_section(f, "SYNOPSIS");
	fputs("\\fBporthole\\-agent\\fR [\\fIOPTIONS\\fR] [\\fB\\-\\-\\fR "
	    "\\fIAPP\\fR [\\fIARG\\fR...]]\n", f);
	ph_man_section(f, "DESCRIPTION");
	ph_man_text(f, agent_help_about);
	ph_man_section(f, "OPTIONS");
	ph_man_opts(f, agent_help_options);
	ph_man_section(f, "ENVIRONMENT");
	ph_man_opts(f, agent_help_env);
	fputs(".PP\n", f);
	ph_man_text(f, agent_help_env_note);
	ph_man_section(f, "EXIT STATUS");
	ph_man_text(f, agent_help_status);
	ph_man_section(f, "SEE ALSO");
	fputs(".BR porthole (1),\n.BR porthole\\-relay (8)\n", f);
}
