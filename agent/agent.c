/*
 * agent.c - porthole-agent's main.
 *
 * It makes itself not dumpable (agent-secret.c), reads every setting
 * (flags over PORTHOLE_* variables), then scrubs PORTHOLE_* from the
 * environment so that no program the agent starts ever sees the token
 * (whose value is overwritten where it stood); a bad setting is one
 * "porthole-agent: ..." line and exit status 2, a token no relay will ever
 * take (agent-token.c) status 3.  Files it reads (token file, CA, public
 * keys) that are not there yet are waited for (agent-files.c).  Then it blocks the
 * signals it handles (they are read from a signalfd on the loop), creates
 * the one libwebsockets context (client only, no listening port), starts
 * the control channel and runs the loop until a SIGTERM/SIGINT/SIGHUP has
 * wound every session down.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "porthole/keepalive.h"
#include "porthole/log.h"
#include "porthole/resume.h"
#include "porthole/token.h"
#include "porthole/util.h"

#include "agent.h"
#include "agent-capture.h"
#include "dump.h"
#include "op.h"

static int agent_callback(struct lws *, enum lws_callback_reasons, void *,
	    void *, size_t);

/*
 * protocols[0] gets the context-wide callbacks: loading CA certificates,
 * certificate verification results and EVENT_WAIT_CANCELLED (the resolver
 * thread's wake-up).  rx_buffer_size and tx_packet_size of the session
 * protocol let one 64 KiB frame go in and out in one piece.
 */
static const struct lws_protocols agent_protocols[] = {
	{ AGENT_PROTOCOL, agent_callback, 0, 0, 0, NULL, 0 },
	{ AGENT_CONTROL_PROTOCOL, agent_control_callback, 0, 4096, 0, NULL, 0 },
	{ AGENT_SESSION_PROTOCOL, agent_session_callback, 0, PH_MAX_PAYLOAD, 0, NULL,
	  PH_MAX_MESSAGE + 16 },
	{ OP_EXEC_PROTOCOL, op_exec_pipe_callback, 0, 0, 0, NULL, 0 },
	{ OP_SHELL_PROTOCOL, op_shell_pty_callback, 0, 0, 0, NULL, 0 },
	{ OP_FORWARD_PROTOCOL, op_forward_epoll_callback, 0, 0, 0, NULL, 0 },
	{ AGENT_SIGNAL_PROTOCOL, agent_signal_callback, 0, 0, 0, NULL, 0 },
	{ AGENT_TIMER_PROTOCOL, agent_timer_callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/*
 * Context-wide callbacks (protocols[0]): TLS trust, certificate verdicts,
 * and the wake-up of lws_cancel_service() from the resolver thread (that
 * one is broadcast to every protocol; it is handled here only).
 */
static int
agent_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct agent	*a = lws_context_user(lws_get_context(wsi));

	switch (reason) {
	case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_CLIENT_VERIFY_CERTS:
		return agent_tls_load_extra(a, user);
	case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
		agent_tls_verify_note(a, user, (int)len);
		return 0;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (!a->destroying) {
			agent_resolve_poll(a);
			agent_lookup_poll(a);
		}
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		/* A safety net: a channel whose CLOSED never came is gone now. */
		if (!a->destroying && wsi != NULL) {
			agent_control_lost(a, wsi);
			agent_session_lost(a, wsi);
		}
		return 0;
	default:
		return 0;
	}
}

static const struct option agent_longopts[] = {
	{ "relay", required_argument, NULL, 'r' },
	{ "token", required_argument, NULL, 't' },
	{ "ca", required_argument, NULL, 'c' },
	{ "name", required_argument, NULL, 'n' },
	{ "labels", required_argument, NULL, 'l' },
	{ "crash-timeout", required_argument, NULL, 'T' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "man", no_argument, NULL, 'M' },
	{ NULL, 0, NULL, 0 }
};
#define AGENT_SHORTOPTS "+hV"

static const char *agent_flag_crash_timeout;	/* --crash-timeout (agent-tracer.c) */

/* One line on stderr and exit 2 (AGENT_EXIT_CONFIG): a setting is missing or malformed. */
static void __attribute__((noreturn, format(printf, 1, 2)))
agent_config_fail(const char *fmt, ...)
{
	va_list	ap;

	fputs("porthole-agent: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(AGENT_EXIT_CONFIG);
}

/* getopt refused argv[optind - 1]: say whether it is unknown or lacks its value. */
static void __attribute__((noreturn))
agent_config_option_fail(const struct option *longopts, const char *arg)
{
	const struct option	*o;

	for (o = longopts; optopt != 0 && o->name != NULL; o++) {
		if (o->val == optopt && o->has_arg == required_argument)
			agent_config_fail("--%s needs a value (see --help)", o->name);
	}
	agent_config_fail("unknown option %s (see --help)", arg);
}

/*
 * Read every setting, flags over environment.  Exits 2 with one line on
 * any problem (this runs before the loop, and before the scrub).
 */
static void
agent_config_read(struct agent_config *c, int argc, char **argv)
{
	const struct option *longopts = agent_longopts;
	const char	*f_relay = NULL, *f_token = NULL, *f_ca = NULL;
	const char	*f_name = NULL, *f_labels = NULL;
	char		*v, *cause = NULL, host[256];
	int		 ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, AGENT_SHORTOPTS, longopts, NULL)) != -1) {
		switch (ch) {
		case 'r': f_relay = optarg; break;
		case 't': f_token = optarg; break;
		case 'c': f_ca = optarg; break;
		case 'n': f_name = optarg; break;
		case 'l': f_labels = optarg; break;
		case 'T': agent_flag_crash_timeout = optarg; break;
		case 'h':	/* agent-help.c */
			agent_help(stdout);
			exit(0);
		case 'M':
			agent_man(stdout);
			exit(0);
		case 'V':
			printf("porthole-agent %s (protocol %d)\n", PORTHOLE_VERSION,
			    PH_PROTOCOL_VERSION);
			exit(0);
		default:
			agent_config_option_fail(longopts, argv[optind - 1]);
		}
	}
	if (optind < argc)
		agent_config_fail("unexpected argument '%s' (to start a program with "
		    "the agent: porthole-agent [OPTIONS] -- APP [ARG...])", argv[optind]);

	/* Relay. */
	if ((c->relay = ph_setting(f_relay, "PORTHOLE_RELAY")) == NULL || *c->relay == '\0')
		agent_config_fail("no relay: set PORTHOLE_RELAY or --relay (wss://HOST:PORT)");
	if (ph_url_parse(c->relay, &c->host, &c->port, &cause) != 0)
		agent_config_fail("bad relay '%s': %s", c->relay, cause);

	/* Token. */
	if ((v = ph_setting(f_token, "PORTHOLE_TOKEN")) == NULL || *v == '\0')
		agent_config_fail("no token: set PORTHOLE_TOKEN or --token (the token, or @FILE)");
	/*
	 * A token given by value is judged now; one in a file is read now if
	 * the file is there, else waited for (agent-files.c).  A token that no
	 * relay will ever take exits AGENT_EXIT_TOKEN, distinct from a bad
	 * setting: retrying it would only fill the log.
	 */
	if (v[0] == '@') {
		if ((c->token_file = strdup(v)) == NULL)
			agent_config_fail("out of memory");
		if ((c->token = ph_secret_value(v, &cause)) == NULL) {
			free(cause);	/* said by the wait, once */
			cause = NULL;
		}
	} else if ((c->token = strdup(v)) == NULL)
		agent_config_fail("out of memory");
	agent_secret_free(v);	/* the token itself, or @FILE */
	ph_arg_wipe((char *)f_token);	/* --token VALUE: not in ps */
	if (c->token != NULL && agent_token_check(c->token, &cause) != 0) {
		fprintf(stderr, "porthole-agent: %s%s%s\n", c->token_file != NULL ?
		    c->token_file + 1 : "", c->token_file != NULL ? ": " : "", cause);
		exit(AGENT_EXIT_TOKEN);
	}

	/* Trust. */
	/*
	 * PORTHOLE_CA's file may come later (agent_files_wait); an image
	 * without any CA bundle and no PORTHOLE_CA will not grow one.
	 */
	if ((c->ca = ph_setting(f_ca, "PORTHOLE_CA")) != NULL && *c->ca == '\0') {
		free(c->ca);
		c->ca = NULL;
	}
	c->ca_bundle = agent_tls_find_bundle();
	if (c->ca == NULL && c->ca_bundle == NULL)
		agent_config_fail("no CA certificates found (looked at SSL_CERT_FILE, "
		    "%s): set PORTHOLE_CA or SSL_CERT_FILE", agent_tls_bundle_places());

	/* Name. */
	c->name_set = 1;
	if ((c->name = ph_setting(f_name, "PORTHOLE_NAME")) == NULL || *c->name == '\0') {
		c->name_set = 0;
		free(c->name);
		if (gethostname(host, sizeof host) != 0)
			agent_config_fail("no name: gethostname failed (%s): set PORTHOLE_NAME",
			    strerror(errno));
		host[sizeof host - 1] = '\0';
		c->name = strdup(host[0] != '\0' ? host : "agent");
		if (c->name == NULL)
			agent_config_fail("out of memory");
	}
	if (strlen(c->name) > AGENT_NAME_MAX)
		agent_config_fail("name is longer than %d bytes", AGENT_NAME_MAX);

	/* Labels. */
	if ((v = ph_setting(f_labels, "PORTHOLE_LABELS")) != NULL && *v != '\0') {
		if ((c->labels = ph_labels_parse(v, &cause)) == NULL)
			agent_config_fail("bad labels '%s': %s", v, cause);
	} else if ((c->labels = json_object()) == NULL)
		agent_config_fail("out of memory");
	free(v);

	/* Kept for later operations; read now because the scrub removes them. */
	c->shell = ph_setting(NULL, "PORTHOLE_SHELL");
	c->pubkey = ph_setting(NULL, "PORTHOLE_PUBKEY");
	if (c->pubkey == NULL || *c->pubkey == '\0')
		agent_config_fail("no PORTHOLE_PUBKEY: the agent checks every "
		    "request with the public key(s) of the token issuer; set it to "
		    "their PEM file(s) (a dev relay's is DIR/signing.key.pub)");
	c->revoked = ph_setting(NULL, "PORTHOLE_REVOKED");
	/* The agent key (agent-seal.c), when its token is bound to one. */
	c->key = ph_setting(NULL, "PORTHOLE_KEY");
	if (c->key != NULL && *c->key == '\0') {
		free(c->key);
		c->key = NULL;
	}
}

static void
agent_config_free(struct agent_config *c)
{
	free(c->relay);
	free(c->host);
	agent_secret_free(c->token);
	free(c->token_file);
	free(c->ca);
	free(c->ca_bundle);
	free(c->name);
	json_decref(c->labels);
	json_decref(c->ecs_containers);
	free(c->shell);
	free(c->pubkey);
	free(c->revoked);
	free(c->key);
}

/* A closed 0, 1 or 2 would be taken by the first pipe: fill them with /dev/null. */
static void
agent_std_fds(void)
{
	int	fd;

	for (fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
			if (open("/dev/null", O_RDWR) != fd)
				agent_config_fail("cannot open /dev/null: %s", strerror(errno));
		}
	}
}

static void
agent_stop_deadline(lws_sorted_usec_list_t *sul)
{
	struct agent	*a = lws_container_of(sul, struct agent, sul_stop);

	ph_warn("shutdown took longer than %d ms: exiting with %u session(s) left",
	    AGENT_STOP_DEADLINE_MS, a->nsessions);
	a->done = 1;
}

/*
 * SIGTERM, SIGINT or SIGHUP: stop reconnecting, end every session (its
 * program gets SIGTERM, then SIGKILL after the grace), close the control
 * channel, and leave the loop when all of that is done or the deadline
 * passed.  A second signal leaves at once.
 */
void
agent_shutdown(struct agent *a, const char *why)
{
	if (a->stopping) {
		ph_warn("%s again: exiting now", why);
		a->done = 1;
		return;
	}
	a->stopping = 1;
	ph_info("%s: ending %u session(s) and closing the control channel", why,
	    a->nsessions);
	lws_sul_schedule(a->ctx, 0, &a->sul_stop, agent_stop_deadline,
	    (lws_usec_t)AGENT_STOP_DEADLINE_MS * LWS_US_PER_MS);
	agent_control_stop(a);
	agent_session_stop_all(a);
	agent_check_done(a);
}

/* Leave the loop once a shutdown has nothing left to wait for. */
void
agent_check_done(struct agent *a)
{
	if (a->stopping && a->control.wsi == NULL && a->sessions == NULL)
		a->done = 1;
}

int
main(int argc, char **argv)
{
	struct lws_context_creation_info info;
	static struct agent agent;
	struct agent	*a = &agent;
	char		*cause = NULL;
	const char	*ttl;
	int		 app, ping, hangup;

	/* The helper children of ps and mem (op-ps.c, op-mem.c): no loop. */
	if (argc >= 2 && strcmp(argv[1], OP_PS_FLAG) == 0)
		return op_ps_main(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], OP_MEM_FLAG) == 0)
		return op_mem_main(argc - 1, argv + 1);
	/* net, lsof, probe (op-net.c, op-lsof.c, op-probe.c): the same. */
	if (argc >= 2 && strcmp(argv[1], OP_NET_FLAG) == 0)
		return op_net_main(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], OP_LSOF_FLAG) == 0)
		return op_lsof_main(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], OP_PROBE_FLAG) == 0)
		return op_probe_main(argc - 1, argv + 1);
	/* The unit test agent_ops: the op table against the registry. */
	if (argc == 2 && strcmp(argv[1], OP_CHECK_FLAG) == 0) {
		if (op_table_check(&cause) != 0) {
			fprintf(stderr, "porthole-agent: %s\n", cause);
			return 1;
		}
		return 0;
	}
	/* The dump worker (dump-worker.c): ptrace and zstd, no loop. */
	if (argc >= 2 && strcmp(argv[1], OP_DUMP_FLAG) == 0)
		return op_dump_main(argc - 1, argv + 1);

	/*
	 * Launcher mode: the launcher becomes APP here; the agent child goes on,
	 * born not dumpable.  Either way the agent is not dumpable before it
	 * reads a single setting, and what jansson frees is wiped (agent-secret.c).
	 */
	if ((app = agent_launch_split(argc, argv, agent_longopts, AGENT_SHORTOPTS)) != 0) {
		agent_launch(argv + app);
		argc = app - 1;		/* the agent's options only, without "--" */
	}
	if (agent_secret_nodump(&cause) != 0)
		agent_config_fail("%s", cause);
	agent_secret_json_init();

	ph_log_init("porthole-agent", PH_LOG_INFO);
	if (op_table_check(&cause) != 0)
		agent_config_fail("internal: %s", cause);
	agent_launch_log();
	agent_std_fds();
	agent_config_read(&a->cfg, argc, argv);
	agent_watch_config(a);		/* PORTHOLE_WATCH, PORTHOLE_SPOOL_*: before the scrub */
	agent_tracer_config(a, agent_flag_crash_timeout);	/* PORTHOLE_CAPTURE_CRASH */
	if (ph_keepalive_secs(NULL, &ping, &hangup) != 0)
		agent_config_fail("PORTHOLE_HANGUP_SECS wants a number of seconds from "
		    "%d to %d", PH_HANGUP_MIN, PH_HANGUP_MAX);
	agent_retry_policy.secs_since_valid_ping = (uint16_t)ping;
	agent_retry_policy.secs_since_valid_hangup = (uint16_t)hangup;
	if (ph_resume_settings(NULL, &a->resume_ms, &a->resume_soft,
	    &a->resume_hard, &cause) != 0)
		agent_config_fail("%s", cause);
	a->detach_ttl_ms = AGENT_DETACH_TTL_MS;
	if ((ttl = getenv("PORTHOLE_DETACH_TTL")) != NULL && *ttl != '\0' &&
	    (ph_duration_parse(ttl, &a->detach_ttl_ms, &cause) != 0 ||
	    a->detach_ttl_ms < 1000 || a->detach_ttl_ms > AGENT_DETACH_TTL_MAX_MS))
		agent_config_fail("PORTHOLE_DETACH_TTL wants a duration from 1s to 7d "
		    "(%s)", cause != NULL ? cause : "out of range");
	ph_env_scrub();
	agent_proc_init();

	/*
	 * Files that are not there yet are waited for, never a reason to exit;
	 * the identity reads the token (its sub qualifies the id), so after.
	 */
	agent_files_wait(a);
	if (agent_identity(a, &cause) != 0)
		agent_config_fail("%s", cause);
	a->max_payload = PH_MAX_PAYLOAD;
	/* The crash tracer: a fork with the identity, before any thread exists. */
	agent_tracer_start(a);

	/* Before any thread exists, so that every thread has them blocked. */
	if (agent_signal_block(&cause) != 0)
		agent_config_fail("%s", cause);

	agent_control_init(a);

	ph_log_lws_init();
	/* A refused certificate: agent-control.c says it once, with what to set. */
	ph_log_lws_quiet("SSL error");
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = agent_protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.user = a;
	/* The extra CA (PORTHOLE_CA) when given, the system bundle otherwise;
	 * agent_tls_load_extra() adds the bundle next to PORTHOLE_CA. */
	info.client_ssl_ca_filepath = a->cfg.ca != NULL ? a->cfg.ca : a->cfg.ca_bundle;
	/* Room for an 8 KiB token in the upgrade request. */
	info.pt_serv_buf_size = 16 * 1024;
	/* The agent needs few fds; do not size tables by a container's huge ulimit. */
	info.fd_limit_per_thread = 2048;
	info.timeout_secs = 15;

	if ((a->ctx = lws_create_context(&info)) == NULL) {
		if (access("/dev/urandom", R_OK) != 0)
			agent_config_fail("cannot read /dev/urandom (%s): libwebsockets needs "
			    "it (every container runtime provides it)", strerror(errno));
		agent_config_fail("cannot create the libwebsockets context (TLS setup failed?)");
	}
	if ((a->vh = lws_get_vhost_by_name(a->ctx, "default")) == NULL)
		agent_config_fail("libwebsockets has no default vhost");
	if (agent_signal_adopt(a, &cause) != 0 || agent_timer_adopt(a, &cause) != 0)
		agent_config_fail("%s", cause);
	ph_heap_hold();
	agent_tracer_adopt(a);

	ph_info("porthole-agent %s: id %s, name %s, relay %s", PORTHOLE_VERSION, a->id,
	    a->cfg.name, a->cfg.relay);
	agent_control_start(a);
	agent_watch_start(a);

	while (!a->done) {
		if (lws_service(a->ctx, 0) < 0)
			break;
	}

	agent_resolve_stop(a);
	agent_lookup_stop();
	lws_sul_cancel(&a->sul_stop);
	lws_sul_cancel(&a->sul_control);
	lws_sul_cancel(&a->sul_spool);
	agent_watch_free(a);
	a->destroying = 1;
	lws_context_destroy(a->ctx);
	a->ctx = NULL;
	agent_session_free_all(a);
	agent_proc_cleanup(a);
	agent_chan_free(&a->control);
	free(a->last_problem);
	agent_verify_free(a);
	ph_key_free(a->seal_key);
	agent_config_free(&a->cfg);
	ph_info("stopped");
	return 0;
}
