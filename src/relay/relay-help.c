/*
 * relay-help.c - what `porthole-relay --help` says and the man page
 * porthole-relay(8) (`porthole-relay --man`, run by meson at build time):
 * one table of options (porthole/help.h), so that the two cannot
 * disagree.  relay.c's getopt table must name the same options:
 * tests/e2e/help.sh checks both ways.  Defaults are the constants the
 * relay uses, spelled here by the preprocessor.
 */
#include <stdio.h>

#include "porthole/help.h"
#include "porthole/protocol.h"
#include "porthole/tokenlife.h"

#include "relay.h"

#define RELAY_HELP_STR(x)	#x
#define RELAY_HELP_XSTR(x)	RELAY_HELP_STR(x)
#define RELAY_HELP_COL		26

static const char relay_help_usage[] =
"usage: porthole-relay [--listen ADDR:PORT] --tls-cert FILE --tls-key FILE\n"
"                      --pubkey FILE[,FILE...] [--revoked FILE] [OPTIONS]\n"
"       porthole-relay --dev [--state DIR] [--listen ADDR:PORT]\n";

static const char relay_help_about[] =
"The relay between porthole agents (which dial out to it from their "
"containers) and operators (the porthole CLI): it authenticates both with "
"Ed25519-signed tokens, keeps the list of connected agents and splices their "
"sessions, over TLS WebSocket on one port. The audit stream (JSON lines) goes "
"to stdout, the diagnostic log to stderr.";

static const struct ph_help_opt relay_help_options[] = {
	{ "--listen", NULL, "ADDR:PORT", "address to serve on (PORTHOLE_LISTEN; "
	    "default 0.0.0.0:7443, with --dev 127.0.0.1:7443; port 0 picks a "
	    "free port)" },
	{ "--tls-cert", NULL, "FILE", "PEM certificate chain (PORTHOLE_TLS_CERT)" },
	{ "--tls-key", NULL, "FILE", "PEM private key (PORTHOLE_TLS_KEY)" },
	{ "--pubkey", NULL, "FILES", "token verification keys, comma-separated PEM "
	    "files (PORTHOLE_PUBKEY)" },
	{ "--revoked", NULL, "FILE", "revoked token ids (jti), one a line, "
	    "optionally followed by the Unix time the entry expires; re-read when the "
	    "file changes; without --redis, porthole token revoke appends to it "
	    "(PORTHOLE_REVOKED)" },
	{ "--max-token-lifetime", NULL, "KIND=DUR[,KIND=DUR...]", "refuse tokens "
	    "made to live longer (exp - iat) than this for their kind: client, "
	    "agent, relay; 0 for no limit (PORTHOLE_MAX_TOKEN_LIFETIME; default "
	    PH_LIFETIME_DEFAULT ", relay as client)" },
	{ "--dev", NULL, NULL, "make (or reuse) a self-signed certificate, signing "
	    "keys and tokens in the state directory, then serve with them; "
	    "DIR/env sets what the CLI and an agent need" },
	{ "--state", NULL, "DIR", "state directory for --dev (default "
	    "./.porthole-dev)" },
	{ "--hangup-secs", NULL, "N", "drop a peer that answers no ping for N "
	    "seconds (PORTHOLE_HANGUP_SECS; default "
	    RELAY_HELP_XSTR(PH_HANGUP_SECS) "; pings every min("
	    RELAY_HELP_XSTR(PH_PING_SECS) ", N/3) s; a peer held up by flow "
	    "control counts as alive while its TCP connection is)" },
	{ "--shutdown-secs", NULL, "N", "on SIGTERM: close every session with 1001 "
	    "once its queued data is out, and exit within N s (default "
	    RELAY_HELP_XSTR(RELAY_SHUTDOWN_SECS) ")" },
	{ "--trusted-proxies", NULL, "CIDRS", "believe X-Forwarded-For from these "
	    "peers, e.g. the subnets of an ALB (PORTHOLE_TRUSTED_PROXIES)" },
	{ "--record-dir", NULL, "DIR", "record shell and exec sessions there as "
	    "asciicast v2 (PORTHOLE_RECORD_DIR)" },
	{ "--record-required", NULL, NULL, "refuse or close a session that cannot "
	    "be recorded (PORTHOLE_RECORD_REQUIRED=1)" },
	{ "--artifact-dir", NULL, "DIR", "keep the flight recorder's captures "
	    "there (PORTHOLE_ARTIFACT_DIR; --dev: STATE/artifacts); without it "
	    "uploads are refused" },
	{ "--artifact-s3", NULL, "s3://BUCKET/PREFIX", "keep them in S3 instead, "
	    "shared by a fleet's relays (PORTHOLE_ARTIFACT_S3; credentials from "
	    "AWS_ACCESS_KEY_ID/... or the ECS credentials endpoint, "
	    "AWS_REGION, AWS_ENDPOINT_URL_S3)" },
	{ "--artifact-max-bytes", NULL, "SIZE", "bound of everything the "
	    "artifact store holds (PORTHOLE_ARTIFACT_MAX_BYTES, default 20GiB)" },
	{ "--artifact-agent-quota", NULL, "SIZE", "bound of what one agent's "
	    "artifacts hold (PORTHOLE_ARTIFACT_AGENT_QUOTA, default 4GiB)" },
	{ "--handshake-timeout", NULL, "N", "close a connection that has not "
	    "finished TLS, the upgrade and its token within N s (default 10)" },
	{ "--max-pending-per-addr", NULL, "N", "connections not yet "
	    "authenticated from one address; more are refused at accept "
	    "(default 32)" },
	{ "--max-pending", NULL, "N", "connections not yet authenticated in all; "
	    "past it the oldest is closed to make room (default 1024)" },
	{ "--max-conns", NULL, "N", "connections in all (default: the file "
	    "descriptor limit less " RELAY_HELP_XSTR(RELAY_LIMITS_FD_RESERVE) ")" },
	{ "--max-sessions-per-agent", NULL, "N", "sessions open on one agent "
	    "(default 32)" },
	{ "--max-sessions-per-sub", NULL, "N", "sessions one token subject may "
	    "hold on one agent (PORTHOLE_MAX_SESSIONS_PER_SUB; default half the "
	    "per-agent limit, so that others keep room)" },
	{ "--redis", NULL, "URL", "the fleet's directory: "
	    "redis[s]://[USER:PASS@]HOST:PORT[/DB] (PORTHOLE_REDIS; the password "
	    "rather in PORTHOLE_REDIS_PASSWORD_FILE; rediss:// trusts the system "
	    "store and PORTHOLE_REDIS_CA). Without it the relay is alone" },
	{ "--advertise", NULL, "HOST:PORT", "with --redis: the address the fleet's "
	    "other relays reach this one at, published in Redis (PORTHOLE_ADVERTISE; "
	    "default: on ECS the task's private IPv4 and the listen port, from "
	    "ECS_CONTAINER_METADATA_URI_V4; else the listen address, required when "
	    "that is every address)" },
	{ "--relay-token", NULL, "TOKEN", "with --redis: this relay's token for "
	    "links to other relays (PORTHOLE_RELAY_TOKEN; @FILE reads a file; kind "
	    "relay; --dev: the state directory's relay.token). Without it, sessions "
	    "with other relays' agents are refused" },
	{ "--peer-ca", NULL, "FILE", "the CA other relays' certificates must chain "
	    "to, besides the system store (PORTHOLE_PEER_CA; default this relay's "
	    "--tls-cert)" },
	{ "--peer-name", NULL, "NAME", "the name other relays' certificates must "
	    "carry (PORTHOLE_PEER_NAME; default the first DNS name of this relay's "
	    "certificate, else its CN)" },
	{ "--help", "-h", NULL, "print this help" },
	{ "--version", "-V", NULL, "print the version and the protocol version" },
	{ "--man", NULL, NULL, "print the manual page porthole-relay(8) as roff" },
	{ NULL, NULL, NULL, NULL }
};

static const char relay_help_env[] =
"Each PORTHOLE_* variable named above sets its option; a flag wins over its "
"variable. PORTHOLE_LOG sets the diagnostic log's level: error, warn, info "
"(default), debug.";

void
relay_help(FILE *f)
{
	int	width = ph_help_width();

	fputs(relay_help_usage, f);
	fputc('\n', f);
	ph_help_text(f, relay_help_about, 0, 0, width);
	fputs("\noptions:\n", f);
	ph_help_opts(f, relay_help_options, RELAY_HELP_COL, width);
	fputc('\n', f);
	ph_help_text(f, relay_help_env, 0, 0, width);
}

void
relay_man(FILE *f)
{
	ph_man_head(f, "porthole-relay", "8", "the relay between porthole agents "
	    "and operators");
	ph_man_section(f, "SYNOPSIS");
	fputs("\\fBporthole\\-relay\\fR [\\fB\\-\\-listen\\fR \\fIADDR:PORT\\fR] "
	    "\\fB\\-\\-tls\\-cert\\fR \\fIFILE\\fR \\fB\\-\\-tls\\-key\\fR "
	    "\\fIFILE\\fR \\fB\\-\\-pubkey\\fR \\fIFILE\\fR[,\\fIFILE\\fR...] "
	    "[\\fIOPTIONS\\fR]\n.br\n\\fBporthole\\-relay \\-\\-dev\\fR "
	    "[\\fB\\-\\-state\\fR \\fIDIR\\fR] [\\fB\\-\\-listen\\fR "
	    "\\fIADDR:PORT\\fR]\n", f);
	ph_man_section(f, "DESCRIPTION");
	ph_man_text(f, relay_help_about);
	ph_man_section(f, "OPTIONS");
	ph_man_opts(f, relay_help_options);
	ph_man_section(f, "ENVIRONMENT");
	ph_man_text(f, relay_help_env);
	ph_man_section(f, "SEE ALSO");
	fputs(".BR porthole (1),\n.BR porthole\\-agent (8)\n", f);
}
