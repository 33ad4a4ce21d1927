/*
 * relay.c - porthole-relay's main: options (flags over PORTHOLE_*
 * variables), the --dev state directory, the libwebsockets context and its
 * one TLS vhost serving HTTP and the three WebSocket endpoints, signals,
 * and the event loop.
 *
 * The listening address is bound exactly: an IPv4 literal turns IPv6 off
 * for the vhost, because lws 4.1.6 binds a v4 literal on an IPv6 socket as
 * "every interface" (research/libwebsockets-4.1.6.md, section 1).  Port 0
 * lets the kernel choose; the port actually bound is reported on stderr as
 * "porthole-relay: listening on ADDR:PORT" (tests wait for that line) and,
 * with --dev, written to DIR/env first.
 *
 * SIGTERM and SIGINT: new connections are closed as soon as they are
 * accepted (relay-limits.c; not lws_context_deprecate, which crashed the
 * relay in 4.1.6: docs/libwebsockets-notes.md), every WebSocket is closed
 * with 1001 "relay shutting down" once what is queued for it has gone out,
 * and the loop ends when they are all gone.  --shutdown-secs (default 25, under ECS's 30 s stop timeout) bounds
 * it: RELAY_SHUTDOWN_HURRY seconds before the end the relay stops waiting
 * for queues to drain and closes at once, and at the end it leaves anyway.
 *
 * Keepalive: lws pings every connection after min(20, hangup/3) s without
 * a pong and hangs up after --hangup-secs (PORTHOLE_HANGUP_SECS, default
 * PH_HANGUP_SECS); relay-conn.c keeps flow-controlled sessions alive.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "porthole/ecs.h"
#include "porthole/keepalive.h"
#include "porthole/log.h"
#include "porthole/util.h"
#include "relay.h"
#include "relay-agent.h"
#include "relay-audit.h"
#include "relay-client.h"
#include "relay-conn.h"
#include "relay-dev.h"
#include "relay-link.h"
#include "relay-limits.h"
#include "relay-metrics.h"
#include "relay-record.h"
#include "relay-artifact.h"
#include "porthole/watch.h"
#include "relay-session.h"
#include "relay-sids.h"

#define RELAY_ECS_TIMEOUT_MS	2000	/* the task metadata, for --advertise */

/* The context; module defaults that are not zero are set here. */
struct relay relay = {
	.shutdown_secs = RELAY_SHUTDOWN_SECS,
	.audit = { .audit_fd = 1 },
};

static volatile sig_atomic_t relay_signalled;

/* getopt values of the long-only options relay-limits.c reads (by name). */
enum relay_opt {
	RELAY_OPT_HANDSHAKE_TIMEOUT = 0x100,
	RELAY_OPT_MAX_PENDING,
	RELAY_OPT_MAX_PENDING_PER_ADDR,
	RELAY_OPT_MAX_CONNS,
	RELAY_OPT_MAX_SESSIONS_PER_AGENT,
	RELAY_OPT_MAX_SESSIONS_PER_SUB,
	RELAY_OPT_ARTIFACT_DIR,
	RELAY_OPT_ARTIFACT_MAX,
	RELAY_OPT_ARTIFACT_QUOTA,
	RELAY_OPT_ARTIFACT_S3,
	RELAY_OPT_REDIS,
	RELAY_OPT_ADVERTISE,
	RELAY_OPT_RELAY_TOKEN,
	RELAY_OPT_PEER_CA,
	RELAY_OPT_PEER_NAME,
};

/*
 * No libwebsockets validity timers on the relay's connections (both zero
 * turns them off; without a policy lws would use its default, a ping at
 * 300 s): relay-conn.c keeps connections alive with one timer for all,
 * where lws would sort one timer per connection into a list on every ping
 * and pong.
 */
static const lws_retry_bo_t relay_no_validity = {
	.secs_since_valid_ping = 0,
	.secs_since_valid_hangup = 0,
};

static const struct lws_protocols relay_protocols[] = {
	{
		.name = "http",
		.callback = relay_conn_callback,
		.per_session_data_size = sizeof(struct relay_conn),
	},
	{
		.name = PH_SUBPROTO_CONTROL,
		.callback = relay_conn_callback,
		.per_session_data_size = sizeof(struct relay_conn),
		.rx_buffer_size = RELAY_RX_CONTROL,
	},
	{
		.name = PH_SUBPROTO_SESSION,
		.callback = relay_conn_callback,
		.per_session_data_size = sizeof(struct relay_conn),
		.rx_buffer_size = RELAY_RX_SESSION,
		.tx_packet_size = RELAY_TX_PACKET,
	},
	{
		.name = PH_SUBPROTO_PEER,
		.callback = relay_conn_callback,
		.per_session_data_size = sizeof(struct relay_conn),
		.rx_buffer_size = RELAY_RX_SESSION,
		.tx_packet_size = RELAY_TX_PACKET,
	},
	{
		/* Links to other relays of the fleet (relay-link.c): RAW client sockets. */
		.name = RELAY_LINK_PROTOCOL,
		.callback = relay_link_callback,
		.rx_buffer_size = 65536,
	},
	{
		/* The Redis connection (relay-redis.c): a RAW client socket. */
		.name = RELAY_REDIS_PROTOCOL,
		.callback = relay_redis_callback,
		.rx_buffer_size = 65536,
	},
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

struct relay_opts {
	char	*listen;
	char	*cert;
	char	*key;
	char	*pubkey;
	char	*revoked;
	char	*state;
	int	 dev;
	char	*trusted_proxies;	/* relay-audit.c */
	char	*record_dir;		/* relay-record.c */
	int	 record_required;
	char	*artifact_dir;		/* relay-artifact.c */
	char	*artifact_s3;		/* s3://BUCKET/PREFIX: the other store */
	uint64_t artifact_max, artifact_quota;
	int	 ping_secs, hangup_secs;	/* relay-conn.c's keepalive */
	char	*redis;			/* relay-redis.c: --redis URL */
	char	*advertise;		/* relay-fleet.c: --advertise HOST:PORT */
	char	*relay_token;		/* relay-link.c: --relay-token */
	char	*peer_ca, *peer_name;	/* relay-link.c: --peer-ca, --peer-name */
	struct ph_lifetime lifetime;		/* relay-auth.c, relay-dev.c */
};

/* relay-help.c: --help and the man page, from one table. */
static void
relay_usage(FILE *f)
{
	relay_help(f);
}

/* Once a second: sessions whose agent did not attach in time fail. */
static void
relay_tick(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	relay_session_tick(&relay.sessions, ph_mono_ms());
	relay_redis_tick(ph_mono_ms());
	relay_fleet_tick(ph_mono_ms());
	relay_artifact_poll();
	relay_revoke_tick(ph_mono_ms());
	lws_sul_schedule(relay.ctx, 0, &relay.sul_tick, relay_tick, LWS_US_PER_SEC);
}

/* The artifact store's S3 thread has news: wake the loop (any thread). */
static void
relay_artifact_woken(void)
{
	if (relay.ctx != NULL && !relay.dying)
		lws_cancel_service(relay.ctx);
}

static void
relay_on_signal(int sig)
{
	relay_signalled = sig;
	if (relay.ctx != NULL)
		lws_cancel_service(relay.ctx);
}

/*
 * The shutdown clock: first RELAY_SHUTDOWN_HURRY s before the bound, stop
 * waiting for queues (close every WebSocket at once); then leave.
 */
static void
relay_shutdown_timeout(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	if (!relay.shutdown_hurried) {
		relay.shutdown_hurried = 1;
		if (relay.nwebsockets > 0) {
			ph_warn("%zu connections still draining after %d s: closing them "
			    "now", relay.nwebsockets, relay.shutdown_secs - RELAY_SHUTDOWN_HURRY);
			relay_conn_shutdown_all(1);
		}
		lws_sul_schedule(relay.ctx, 0, &relay.sul_shutdown, relay_shutdown_timeout,
		    (lws_usec_t)RELAY_SHUTDOWN_HURRY * LWS_US_PER_SEC);
		return;
	}
	if (relay.nwebsockets > 0)
		ph_warn("%zu connections did not finish closing; leaving anyway",
		    relay.nwebsockets);
	relay.done = 1;
	lws_cancel_service(relay.ctx);	/* sul callbacks run before poll: wake it */
}

static void
relay_shutdown_begin(int sig)
{
	int first = relay.shutdown_secs - RELAY_SHUTDOWN_HURRY;

	relay.shutting_down = 1;
	if (relay_redis_on()) {
		/*
		 * In a fleet the agents have somewhere else to go: they are told
		 * to reconnect now (4307), and the sessions running here finish
		 * on their own, until the hurry closes what is left.
		 */
		ph_info("%s: no longer accepting; agents sent elsewhere; %zu WebSockets "
		    "left to finish (at most %d s)", strsignal(sig), relay.nwebsockets,
		    relay.shutdown_secs);
		relay_conn_shutdown_agents();
	} else {
		ph_info("%s: no longer accepting; closing %zu WebSockets (at most %d s)",
		    strsignal(sig), relay.nwebsockets, relay.shutdown_secs);
		relay_conn_shutdown_all(0);
	}
	if (relay.nwebsockets == 0) {
		relay.done = 1;
		return;
	}
	if (first <= 0) {
		relay.shutdown_hurried = 1;
		first = relay.shutdown_secs;
	}
	lws_sul_schedule(relay.ctx, 0, &relay.sul_shutdown, relay_shutdown_timeout,
	    (lws_usec_t)first * LWS_US_PER_SEC);
}

/*
 * What to give lws for addr: iface (NULL = every address) and whether IPv6
 * must be off.  Only numeric addresses (and "localhost") are accepted: a
 * relay should not depend on DNS to know where it listens.
 */
static int
relay_listen_iface(const char *addr, const char **iface, int *v4only, char **cause)
{
	struct in6_addr a6;
	struct in_addr a4;

	*v4only = 0;
	*iface = NULL;
	if (strcmp(addr, "*") == 0)
		return 0;
	if (strcmp(addr, "localhost") == 0)
		addr = "127.0.0.1";
	if (inet_pton(AF_INET, addr, &a4) == 1) {
		*v4only = 1;
		*iface = strcmp(addr, "0.0.0.0") == 0 ? NULL : addr;
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &a6) == 1) {
		*iface = strcmp(addr, "::") == 0 ? NULL : addr;
		return 0;
	}
	*cause = ph_asprintf("listen address '%s' is not a numeric IPv4 or IPv6 address", addr);
	return -1;
}

static int
relay_readable(const char *what, const char *path)
{
	if (access(path, R_OK) != 0) {
		fprintf(stderr, "porthole-relay: %s %s: %s\n", what, path, strerror(errno));
		return -1;
	}
	return 0;
}

/* --dev's files, unless flags or variables name others; then what is still missing. */
static int
relay_opts_dev(struct relay_opts *o)
{
	if (o->dev) {
		/* Flags and variables still override what the state directory holds. */
		if (o->cert == NULL)
			o->cert = ph_asprintf("%s/%s", o->state, RELAY_DEV_CERT);
		if (o->key == NULL)
			o->key = ph_asprintf("%s/%s", o->state, RELAY_DEV_TLS_KEY);
		if (o->pubkey == NULL)
			o->pubkey = ph_asprintf("%s/%s", o->state, RELAY_DEV_PUBKEY);
	}
	if (o->cert == NULL || o->key == NULL || o->pubkey == NULL) {
		fprintf(stderr, "porthole-relay: %s is required (or try --dev)\n",
		    o->cert == NULL ? "--tls-cert (PORTHOLE_TLS_CERT)" :
		    o->key == NULL ? "--tls-key (PORTHOLE_TLS_KEY)" :
		    "--pubkey (PORTHOLE_PUBKEY)");
		return -1;
	}
	return 0;
}

static const struct option relay_longopts[] = {
	{ "listen", required_argument, NULL, 'l' },
	{ "tls-cert", required_argument, NULL, 'c' },
	{ "tls-key", required_argument, NULL, 'k' },
	{ "pubkey", required_argument, NULL, 'p' },
	{ "revoked", required_argument, NULL, 'r' },
	{ "max-token-lifetime", required_argument, NULL, 'L' },
	{ "state", required_argument, NULL, 's' },
	{ "dev", no_argument, NULL, 'd' },
	{ "hangup-secs", required_argument, NULL, 'H' },
	{ "trusted-proxies", required_argument, NULL, 'P' },
	{ "record-dir", required_argument, NULL, 'R' },
	{ "record-required", no_argument, NULL, 'Q' },
	{ "artifact-dir", required_argument, NULL, RELAY_OPT_ARTIFACT_DIR },
	{ "artifact-max-bytes", required_argument, NULL, RELAY_OPT_ARTIFACT_MAX },
	{ "artifact-agent-quota", required_argument, NULL, RELAY_OPT_ARTIFACT_QUOTA },
	{ "artifact-s3", required_argument, NULL, RELAY_OPT_ARTIFACT_S3 },
	{ "shutdown-secs", required_argument, NULL, 'S' },
	{ "handshake-timeout", required_argument, NULL, RELAY_OPT_HANDSHAKE_TIMEOUT },
	{ "max-pending", required_argument, NULL, RELAY_OPT_MAX_PENDING },
	{ "max-pending-per-addr", required_argument, NULL,
	    RELAY_OPT_MAX_PENDING_PER_ADDR },
	{ "max-conns", required_argument, NULL, RELAY_OPT_MAX_CONNS },
	{ "max-sessions-per-agent", required_argument, NULL,
	    RELAY_OPT_MAX_SESSIONS_PER_AGENT },
	{ "max-sessions-per-sub", required_argument, NULL,
	    RELAY_OPT_MAX_SESSIONS_PER_SUB },
	{ "redis", required_argument, NULL, RELAY_OPT_REDIS },
	{ "advertise", required_argument, NULL, RELAY_OPT_ADVERTISE },
	{ "relay-token", required_argument, NULL, RELAY_OPT_RELAY_TOKEN },
	{ "peer-ca", required_argument, NULL, RELAY_OPT_PEER_CA },
	{ "peer-name", required_argument, NULL, RELAY_OPT_PEER_NAME },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "man", no_argument, NULL, 'M' },
	{ NULL, 0, NULL, 0 }
};

/* A SIZE option (flag over variable, else def); -1 after one line. */
static int
relay_opt_size(const char *name, const char *flag, const char *env, uint64_t def,
    uint64_t *out)
{
	char	*v = ph_setting(flag, env), *cause = NULL;

	*out = def;
	if (v != NULL && *v != '\0' && (ph_size_parse(v, out, &cause) != 0 || *out == 0)) {
		fprintf(stderr, "porthole-relay: %s (%s): %s\n", name, env,
		    cause != NULL ? cause : "must be more than 0");
		free(cause);
		free(v);
		return -1;
	}
	free(v);
	return 0;
}

static int
relay_opts_parse(int argc, char **argv, struct relay_opts *o)
{
	const char *f_listen = NULL, *f_cert = NULL, *f_key = NULL, *f_pub = NULL;
	const char *f_state = NULL, *f_proxies = NULL, *f_record = NULL, *req;
	const char *f_revoked = NULL, *f_hangup = NULL, *f_lifetime = NULL;
	const char *f_artifacts = NULL, *f_amax = NULL, *f_aquota = NULL, *f_as3 = NULL;
	const char *f_redis = NULL, *f_advertise = NULL, *f_rtok = NULL, *f_pca = NULL;
	const char *f_pname = NULL;
	char *lifetime, *cause = NULL;
	int ch, f_required = 0, ping, hangup, longindex = -1;

	memset(o, 0, sizeof *o);
	while ((ch = getopt_long(argc, argv, "hV", relay_longopts, &longindex)) != -1) {
		switch (ch) {
		case 'l': f_listen = optarg; break;
		case 'c': f_cert = optarg; break;
		case 'k': f_key = optarg; break;
		case 'p': f_pub = optarg; break;
		case 'r': f_revoked = optarg; break;
		case 'L': f_lifetime = optarg; break;
		case 's': f_state = optarg; break;
		case 'd': o->dev = 1; break;
		case 'P': f_proxies = optarg; break;
		case 'R': f_record = optarg; break;
		case 'Q': f_required = 1; break;
		case RELAY_OPT_ARTIFACT_DIR: f_artifacts = optarg; break;
		case RELAY_OPT_ARTIFACT_MAX: f_amax = optarg; break;
		case RELAY_OPT_ARTIFACT_QUOTA: f_aquota = optarg; break;
		case RELAY_OPT_ARTIFACT_S3: f_as3 = optarg; break;
		case 'H':
			f_hangup = optarg;
			break;
		case 'S': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*optarg == '\0' || *end != '\0' || v < 1 || v > 3600) {
				fprintf(stderr, "porthole-relay: --shutdown-secs wants 1 to "
				    "3600, not '%s'\n", optarg);
				return -1;
			}
			relay.shutdown_secs = (int)v;
			break;
		}
		case RELAY_OPT_REDIS:
			f_redis = optarg;
			break;
		case RELAY_OPT_ADVERTISE:
			f_advertise = optarg;
			break;
		case RELAY_OPT_RELAY_TOKEN:
			f_rtok = optarg;
			break;
		case RELAY_OPT_PEER_CA:
			f_pca = optarg;
			break;
		case RELAY_OPT_PEER_NAME:
			f_pname = optarg;
			break;
		case RELAY_OPT_HANDSHAKE_TIMEOUT:
		case RELAY_OPT_MAX_PENDING:
		case RELAY_OPT_MAX_PENDING_PER_ADDR:
		case RELAY_OPT_MAX_CONNS:
		case RELAY_OPT_MAX_SESSIONS_PER_AGENT:
		case RELAY_OPT_MAX_SESSIONS_PER_SUB:
			if (longindex < 0 ||
			    relay_limits_option(relay_longopts[longindex].name, optarg) != 0)
				return -1;
			break;
		case 'h':
			relay_usage(stdout);
			exit(0);
		case 'M':
			relay_man(stdout);
			exit(0);
		case 'V':
			printf("porthole-relay %s (protocol %d)\n", PORTHOLE_VERSION,
			    PH_PROTOCOL_VERSION);
			exit(0);
		default:
			relay_usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "porthole-relay: unexpected argument '%s'\n", argv[optind]);
		relay_usage(stderr);
		return -1;
	}
	if (ph_keepalive_secs(f_hangup, &ping, &hangup) != 0) {
		fprintf(stderr, "porthole-relay: --hangup-secs (PORTHOLE_HANGUP_SECS) wants "
		    "%d to %d, not '%s'\n", PH_HANGUP_MIN, PH_HANGUP_MAX,
		    f_hangup != NULL ? f_hangup : getenv("PORTHOLE_HANGUP_SECS"));
		return -1;
	}
	o->ping_secs = ping;
	o->hangup_secs = hangup;
	ph_lifetime_defaults(&o->lifetime);
	if ((lifetime = ph_setting(f_lifetime, "PORTHOLE_MAX_TOKEN_LIFETIME")) != NULL &&
	    ph_lifetime_parse(&o->lifetime, lifetime, &cause) != 0) {
		fprintf(stderr, "porthole-relay: --max-token-lifetime "
		    "(PORTHOLE_MAX_TOKEN_LIFETIME): %s\n", cause);
		free(cause);
		free(lifetime);
		return -1;
	}
	free(lifetime);
	o->listen = ph_setting(f_listen, "PORTHOLE_LISTEN");
	o->cert = ph_setting(f_cert, "PORTHOLE_TLS_CERT");
	o->key = ph_setting(f_key, "PORTHOLE_TLS_KEY");
	o->pubkey = ph_setting(f_pub, "PORTHOLE_PUBKEY");
	o->trusted_proxies = ph_setting(f_proxies, "PORTHOLE_TRUSTED_PROXIES");
	o->record_dir = ph_setting(f_record, "PORTHOLE_RECORD_DIR");
	req = getenv("PORTHOLE_RECORD_REQUIRED");
	o->record_required = f_required || (req != NULL && *req != '\0' &&
	    strcmp(req, "0") != 0 && strcmp(req, "false") != 0 && strcmp(req, "no") != 0);
	o->revoked = ph_setting(f_revoked, "PORTHOLE_REVOKED");
	o->redis = ph_setting(f_redis, "PORTHOLE_REDIS");
	o->advertise = ph_setting(f_advertise, "PORTHOLE_ADVERTISE");
	o->relay_token = ph_setting(f_rtok, "PORTHOLE_RELAY_TOKEN");
	if (f_rtok != NULL)
		ph_arg_wipe((char *)f_rtok);
	o->peer_ca = ph_setting(f_pca, "PORTHOLE_PEER_CA");
	o->peer_name = ph_setting(f_pname, "PORTHOLE_PEER_NAME");
	if (f_state != NULL && !o->dev) {
		fprintf(stderr, "porthole-relay: --state only goes with --dev\n");
		return -1;
	}
	o->state = strdup(f_state != NULL ? f_state : ".porthole-dev");
	o->artifact_dir = ph_setting(f_artifacts, "PORTHOLE_ARTIFACT_DIR");
	if (o->artifact_dir != NULL && *o->artifact_dir == '\0') {
		free(o->artifact_dir);
		o->artifact_dir = NULL;
	}
	o->artifact_s3 = ph_setting(f_as3, "PORTHOLE_ARTIFACT_S3");
	if (o->artifact_s3 != NULL && *o->artifact_s3 == '\0') {
		free(o->artifact_s3);
		o->artifact_s3 = NULL;
	}
	if (o->artifact_s3 != NULL && strncmp(o->artifact_s3, "s3://", 5) != 0) {
		fprintf(stderr, "porthole-relay: --artifact-s3 takes s3://BUCKET/PREFIX\n");
		return -1;
	}
	if (o->artifact_s3 != NULL && o->artifact_dir != NULL) {
		fprintf(stderr, "porthole-relay: --artifact-dir and --artifact-s3 are "
		    "one store or the other\n");
		return -1;
	}
	/* PORTHOLE_ARTIFACT_DIR=s3://... is the S3 store too. */
	if (o->artifact_dir != NULL && strncmp(o->artifact_dir, "s3://", 5) == 0) {
		o->artifact_s3 = o->artifact_dir;
		o->artifact_dir = NULL;
	}
	if (o->artifact_dir == NULL && o->artifact_s3 == NULL && o->dev)
		o->artifact_dir = ph_asprintf("%s/artifacts", o->state);
	if (relay_opt_size("--artifact-max-bytes", f_amax, "PORTHOLE_ARTIFACT_MAX_BYTES",
	    RELAY_ARTIFACT_MAX_DEFAULT, &o->artifact_max) != 0 ||
	    relay_opt_size("--artifact-agent-quota", f_aquota,
	    "PORTHOLE_ARTIFACT_AGENT_QUOTA", RELAY_ARTIFACT_QUOTA_DEFAULT,
	    &o->artifact_quota) != 0)
		return -1;
	if (o->listen == NULL)
		o->listen = strdup(o->dev ? "127.0.0.1:7443" : "0.0.0.0:7443");
	return relay_opts_dev(o);
}

static void
relay_opts_free(struct relay_opts *o)
{
	free(o->listen);
	free(o->cert);
	free(o->key);
	free(o->pubkey);
	free(o->revoked);
	free(o->state);
	free(o->trusted_proxies);
	free(o->record_dir);
	free(o->artifact_dir);
	free(o->artifact_s3);
	if (o->redis != NULL)
		explicit_bzero(o->redis, strlen(o->redis));
	free(o->redis);
	free(o->advertise);
	if (o->relay_token != NULL)
		explicit_bzero(o->relay_token, strlen(o->relay_token));
	free(o->relay_token);
	free(o->peer_ca);
	free(o->peer_name);
}

/*
 * On ECS (ECS_CONTAINER_METADATA_URI_V4 set): the task's private IPv4 and
 * the listen port, as HOST:PORT (malloc'd), or NULL with *cause.  Before
 * the loop exists: a blocking GET of the container document, bounded.
 */
static char *
relay_advertise_ecs(const char *uri, int port, char **cause)
{
	struct ph_ecs_url u;
	char ip[64], *doc, *why = NULL;
	size_t len;

	if (ph_ecs_url_parse(uri, &u, &why) != 0 ||
	    (doc = ph_ecs_get(&u, u.path, RELAY_ECS_TIMEOUT_MS, &len, &why)) == NULL) {
		*cause = ph_asprintf("the ECS task metadata (%s): %s", uri, why);
		free(why);
		return NULL;
	}
	if (ph_ecs_ipv4(doc, len, ip, sizeof ip, &why) != 0) {
		*cause = ph_asprintf("the ECS task metadata (%s): %s", uri, why);
		free(why);
		free(doc);
		return NULL;
	}
	free(doc);
	return ph_asprintf("%s:%d", ip, port);
}

/*
 * Where the other relays of the fleet dial this one (published in Redis):
 * --advertise; else, on ECS, the task's private IPv4 and the listen port;
 * else the listen address when it is one address.  A relay that listens on
 * every address elsewhere cannot tell which one its peers reach.
 */
static int
relay_advertise(const struct relay_opts *o, const char *addr, const char *iface, int port)
{
	char *host = NULL, *cause = NULL;
	const char *ecs;
	int p;

	if (!relay_redis_on())
		return 0;
	if (o->advertise != NULL && *o->advertise != '\0') {
		if (ph_hostport_parse(o->advertise, &host, &p, &cause) != 0 || p == 0) {
			fprintf(stderr, "porthole-relay: --advertise (PORTHOLE_ADVERTISE): %s\n",
			    cause != NULL ? cause : "the port must not be 0");
			free(cause);
			free(host);
			return -1;
		}
		free(host);
		relay.fleet.advertise = strdup(o->advertise);
	} else if ((ecs = getenv("ECS_CONTAINER_METADATA_URI_V4")) != NULL && *ecs != '\0') {
		if ((relay.fleet.advertise = relay_advertise_ecs(ecs, port, &cause)) == NULL) {
			fprintf(stderr, "porthole-relay: --advertise: %s; set --advertise "
			    "HOST:PORT (PORTHOLE_ADVERTISE)\n", cause);
			free(cause);
			return -1;
		}
	} else if (iface == NULL) {
		fprintf(stderr, "porthole-relay: --advertise HOST:PORT (PORTHOLE_ADVERTISE) "
		    "is required with --redis when the relay listens on every address "
		    "(%s): the address the fleet's other relays reach this one at\n", addr);
		return -1;
	} else
		relay.fleet.advertise = strchr(addr, ':') != NULL ?
		    ph_asprintf("[%s]:%d", addr, port) : ph_asprintf("%s:%d", addr, port);
	ph_info("fleet: other relays reach this one at %s", relay.fleet.advertise);
	return 0;
}

/*
 * With --redis: the links to other relays (relay-link.c): --relay-token
 * (--dev: the state directory's relay.token), --peer-ca, --peer-name.
 * Without a relay token the relay serves its own agents and clients only.
 */
static int
relay_peer_setup(const struct relay_opts *o)
{
	char *tok = NULL, *cause = NULL, *dflt = NULL;
	const char *v = o->relay_token;
	int r;

	if (!relay_redis_on())
		return 0;
	if ((v == NULL || *v == '\0') && o->dev)
		v = dflt = ph_asprintf("@%s/relay.token", o->state);
	if (v != NULL && *v != '\0' && (tok = ph_secret_value(v, &cause)) == NULL) {
		fprintf(stderr, "porthole-relay: --relay-token (PORTHOLE_RELAY_TOKEN): %s\n",
		    cause);
		free(cause);
		free(dflt);
		return -1;
	}
	free(dflt);
	r = relay_link_init(o->peer_ca, o->peer_name, o->cert, tok, &cause);
	if (tok != NULL)
		explicit_bzero(tok, strlen(tok));
	free(tok);
	if (r != 0) {
		fprintf(stderr, "porthole-relay: --peer-ca / --peer-name: %s\n", cause);
		free(cause);
		return -1;
	}
	if (!relay_link_ready())
		ph_warn("fleet: no --relay-token (PORTHOLE_RELAY_TOKEN): sessions with "
		    "agents of other relays are refused");
	else
		ph_info("fleet: other relays must show a certificate for %s",
		    relay_link_peer_name());
	return 0;
}

/* --redis / PORTHOLE_REDIS and PORTHOLE_REDIS_PASSWORD_FILE; -1 said why. */
static int
relay_redis_setup(const struct relay_opts *o)
{
	struct relay_redis_url u;
	const char *pwfile = getenv("PORTHOLE_REDIS_PASSWORD_FILE");
	char *cause = NULL;

	if (o->redis == NULL || o->redis[0] == '\0')
		return 0;
	if (relay_redis_url_parse(o->redis, &u, &cause) != 0 ||
	    (pwfile != NULL && *pwfile != '\0' &&
	    relay_redis_url_password_file(&u, pwfile, &cause) != 0) ||
	    relay_redis_init(&u, &cause) != 0) {
		fprintf(stderr, "porthole-relay: --redis (PORTHOLE_REDIS): %s\n", cause);
		free(cause);
		relay_redis_url_free(&u);
		return -1;
	}
	relay_redis_url_free(&u);
	return 0;
}

static void
relay_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = relay_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* The libwebsockets context and the one TLS vhost.  -1 with the reason on stderr. */
static int
relay_listen(const struct relay_opts *o, int port, const char *iface, int v4only)
{
	struct lws_context_creation_info info;
	uint64_t opts;

	opts = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	if (v4only)
		opts |= LWS_SERVER_OPTION_DISABLE_IPV6;
	memset(&info, 0, sizeof info);
	info.options = opts;
	info.max_http_header_data = PH_TOKEN_MAX + 4096;
	info.pt_serv_buf_size = 64 * 1024;	/* one read takes a whole message */
	if ((relay.ctx = lws_create_context(&info)) == NULL) {
		fprintf(stderr, "porthole-relay: cannot create the libwebsockets context\n");
		return -1;
	}
	memset(&info, 0, sizeof info);
	info.options = opts;
	info.vhost_name = "porthole";
	info.port = port;
	info.iface = iface;
	info.protocols = relay_protocols;
	info.ssl_cert_filepath = o->cert;
	info.ssl_private_key_filepath = o->key;
	info.retry_and_idle_policy = &relay_no_validity;
	info.server_string = "porthole-relay";
	/*
	 * HTTP/1.1 only: WebSocket upgrades need it, and libwebsockets 4.1.6
	 * answered an HTTP/2 GET of more than 64 KiB with an empty body.
	 */
	info.alpn = "http/1.1";
	if ((relay.vh = lws_create_vhost(relay.ctx, &info)) == NULL) {
		fprintf(stderr, "porthole-relay: cannot serve on %s (address in use, "
		    "not local, or bad certificate/key)\n", o->listen);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct relay_opts o;
	const char *iface;
	char *addr = NULL, *cause = NULL;
	int port, v4only, rc = 1;

	ph_log_init("porthole-relay", PH_LOG_INFO);
	ph_log_lws_init();
	if (relay_opts_parse(argc, argv, &o) != 0) {
		relay_opts_free(&o);
		return 2;
	}
	if (ph_hostport_parse(o.listen, &addr, &port, &cause) != 0 ||
	    relay_listen_iface(addr, &iface, &v4only, &cause) != 0) {
		fprintf(stderr, "porthole-relay: --listen: %s\n", cause);
		goto out;
	}
	relay.lifetime = o.lifetime;
	{
		char c[32], a[32], r[32];

		ph_info("token lifetimes at most: client %s, agent %s, relay %s",
		    ph_lifetime_fmt(ph_lifetime_max(&o.lifetime, "client"), c, sizeof c),
		    ph_lifetime_fmt(ph_lifetime_max(&o.lifetime, "agent"), a, sizeof a),
		    ph_lifetime_fmt(ph_lifetime_max(&o.lifetime, "relay"), r, sizeof r));
	}
	if (o.dev && relay_dev_prepare(o.state, &o.lifetime, &cause) != 0) {
		fprintf(stderr, "porthole-relay: --dev: %s\n", cause);
		goto out;
	}
	if (relay_readable("certificate", o.cert) != 0 ||
	    relay_readable("private key", o.key) != 0)
		goto out;
	if (ph_keywatch_init(&relay.keywatch, &relay.keys, o.pubkey, &cause) != 0) {
		fprintf(stderr, "porthole-relay: --pubkey: %s\n", cause);
		goto out;
	}
	if (ph_revoked_init(&relay.revoked, o.revoked, &cause) != 0) {
		fprintf(stderr, "porthole-relay: --revoked: %s\n", cause);
		goto out;
	}
	relay_metrics_init();
	relay_sessions_init(&relay.sessions, &relay_client_session_io);
	if (relay_audit_init(o.trusted_proxies, &cause) != 0) {
		fprintf(stderr, "porthole-relay: --trusted-proxies: %s\n", cause);
		goto out;
	}
	if (relay_record_init(o.record_dir, o.record_required, &cause) != 0) {
		fprintf(stderr, "porthole-relay: --record-dir: %s\n", cause);
		goto out;
	}

	relay_artifact_set_wake(relay_artifact_woken);
	if (relay_artifact_init(o.artifact_s3 != NULL ? o.artifact_s3 : o.artifact_dir,
	    o.artifact_max, o.artifact_quota, &cause) != 0) {
		fprintf(stderr, "porthole-relay: %s: %s\n", o.artifact_s3 != NULL ?
		    "--artifact-s3" : "--artifact-dir", cause);
		goto out;
	}

	if (relay_limits_init() != 0)
		goto out;
	if (relay_redis_setup(&o) != 0 || relay_peer_setup(&o) != 0)
		goto out;
	relay_fleet_init();
	relay_revoke_init();

	relay_signals();
	if (relay_listen(&o, port, iface, v4only) != 0)
		goto out;
	relay_conn_keepalive_start(o.ping_secs, o.hangup_secs);
	relay_limits_start();
	lws_sul_schedule(relay.ctx, 0, &relay.sul_tick, relay_tick, LWS_US_PER_SEC);
	port = lws_get_vhost_listen_port(relay.vh);
	if (port <= 0) {
		fprintf(stderr, "porthole-relay: cannot tell which port %s bound\n", o.listen);
		goto out;
	}
	if (relay_advertise(&o, addr, iface, port) != 0)
		goto out;
	relay_redis_start(relay_fleet_up);
	if (o.dev && relay_dev_write_env(o.state, addr, port, &cause) != 0) {
		fprintf(stderr, "porthole-relay: --dev: %s\n", cause);
		goto out;
	}
	if (strchr(addr, ':') != NULL)
		fprintf(stderr, "porthole-relay: listening on [%s]:%d\n", addr, port);
	else
		fprintf(stderr, "porthole-relay: listening on %s:%d\n", addr, port);
	if (o.dev)
		ph_info("dev mode: '. %s/env' configures a client on this machine; "
		    "the agent takes %s/agent.token", o.state, o.state);

	while (!relay.done) {
		if (relay_signalled && !relay.shutting_down)
			relay_shutdown_begin(relay_signalled);
		if (lws_service(relay.ctx, 0) < 0)
			break;
		relay_artifact_poll();	/* what the S3 store's thread finished */
	}
	rc = 0;
out:
	if (relay.ctx != NULL) {
		lws_sul_cancel(&relay.sul_shutdown);
		lws_sul_cancel(&relay.sul_keepalive);
		lws_sul_cancel(&relay.sul_tick);
		relay_limits_stop();
		relay_redis_stop();
		relay_link_cleanup();
		free(relay.fleet.advertise);
		relay.fleet.advertise = NULL;
		relay_artifact_set_wake(NULL);	/* the S3 thread leaves the context alone */
		relay.dying = 1;
		lws_context_destroy(relay.ctx);
		relay.ctx = NULL;
	}
	relay_agents_free(&relay.agents);
	relay_sessions_free(&relay.sessions);
	relay_record_cleanup();
	relay_artifact_cleanup();
	relay_audit_cleanup();
	relay_sids_free(&relay.sids);
	relay_limits_cleanup();
	ph_keyset_free(&relay.keys);
	ph_keywatch_free(&relay.keywatch);
	ph_revoked_free(&relay.revoked);
	relay_revoke_free();
	free(addr);
	free(cause);
	relay_opts_free(&o);
	return rc;
}
