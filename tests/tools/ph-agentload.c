/*
 * ph-agentload.c - many idle agents from one process, for the relay's
 * memory-per-agent figure in bench/run.  Each is a real control channel:
 * TLS, the WebSocket upgrade to /v1/agent with the agent token, a `hello`
 * with its own id and instance, then nothing but answers to the relay's
 * pings (libwebsockets sends the pongs).  Connections are bound to source
 * addresses spread over 127.1.0.0/16 (FROM_BASE + i / PER_ADDR), so a
 * relay's per-address connection limit stays on while it is loaded.
 * --addr-base K starts at the K-th address instead, so that several
 * loaders (bench/fleet-scale: a process holds at most 20,000 descriptors
 * here) use disjoint sources.
 *
 * Usage: ph-agentload --url wss://127.0.0.1:PORT --ca FILE --token @FILE
 *   [-n AGENTS] [--per-addr N] [--inflight N] [--prefix NAME] [--hold SECS]
 *   [--retries N] [--pad BYTES] [--addr-base K]
 *
 * A dial that fails before the welcome (refused at accept by the relay's
 * per-address limit, a handshake cut short) is tried again like a real
 * agent would: after a jittered, doubling backoff (250 ms, capped at 8 s),
 * at most --retries times (default 8; 0: never), then it counts as failed.
 * --pad adds labels pad0, pad1... holding that many bytes in all to every
 * hello (250 a label: a value may have 255), so that a
 * few thousand agents make a large /v1/agents answer.
 *
 * Prints "ready W of N (F failed, S stuck, R retries) in MS ms" once every
 * connection is welcomed or has failed, then "lost K" lines when the relay
 * drops some,
 * and holds them until SIGTERM/SIGINT or --hold seconds (0: forever).
 * Exit 0 if every agent was welcomed, 1 otherwise, 2 on usage.
 */
#include <sys/resource.h>

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "porthole/frame.h"
#include "porthole/protocol.h"
#include "porthole/util.h"

struct conn {
	int		 idx;
	int		 state;		/* 0 dialling, 1 upgraded, 2 welcomed, 3 gone */
	int		 hello_sent;
	int		 tries;		/* dials that failed so far */
	struct lws	*wsi;
	lws_sorted_usec_list_t sul;	/* the next dial after a failure */
};

static struct conn	*conns;
static int		 nconns, per_addr = 50, addr_base, inflight = 64, next_dial;
static int		 pending, welcomed, failed, lost, ready_said;

/*
 * No libwebsockets validity timers (lws's default would ping at 300 s):
 * one per connection, each sorted into one list on every ping and pong,
 * costs O(n) apiece at thousands of connections.  The relay pings these
 * connections and lws answers its pings.
 */
static const lws_retry_bo_t no_validity = { .secs_since_valid_ping = 0 };
static int		 max_retries = 8, retries, waiting;
static char		*pad;
static const char	*token, *prefix = "load";
static char		*host;
static int		 port;
static struct lws_context *ctx;
static volatile sig_atomic_t stop;
static int64_t		 t0, last_progress;
static int		 stuck;
static lws_sorted_usec_list_t sul_watch;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
	if (ctx != NULL)
		lws_cancel_service(ctx);
}

static void
dial(int i)
{
	struct lws_client_connect_info ci;
	static char ifaces[1][32];
	char *iface = ifaces[0];
	int a = addr_base + i / per_addr;

	/* 127.1.0.1 and up: a /16 holds 65,534 sources. */
	snprintf(iface, sizeof ifaces[0], "127.1.%d.%d", (a + 1) / 256, (a + 1) % 256);
	memset(&ci, 0, sizeof ci);
	ci.context = ctx;
	ci.address = host;
	ci.port = port;
	ci.path = PH_PATH_AGENT;
	ci.host = host;
	ci.origin = host;
	ci.iface = iface;
	ci.ssl_connection = LCCSCF_USE_SSL;
	ci.protocol = PH_SUBPROTO_CONTROL;
	ci.local_protocol_name = "load";
	ci.userdata = &conns[i];
	ci.pwsi = &conns[i].wsi;
	ci.retry_and_idle_policy = &no_validity;
	conns[i].idx = i;
	conns[i].state = 0;
	conns[i].hello_sent = 0;
	pending++;
	if (lws_client_connect_via_info(&ci) == NULL) {
		pending--;
		failed++;
		conns[i].state = 3;
	}
}

static void
dial_more(void)
{
	last_progress = ph_mono_ms();
	while (next_dial < nconns && pending < inflight && !stop)
		dial(next_dial++);
	if (!ready_said && waiting == 0 && welcomed + failed == nconns) {
		ready_said = 1;
		printf("ready %d of %d (%d failed, %d stuck, %d retries) in %lld ms\n",
		    welcomed, nconns, failed, stuck, retries,
		    (long long)(ph_mono_ms() - t0));
		fflush(stdout);
	}
}

static void
redial(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, sul);

	waiting--;
	if (stop)
		return;
	dial(c->idx);
	last_progress = ph_mono_ms();
}

/*
 * Dial i failed before its welcome: try again after a jittered backoff, or
 * give up past --retries.  The slot in flight is freed either way.
 */
static void
dial_failed(struct conn *c, const char *why)
{
	lws_usec_t ms;

	pending--;
	c->state = 3;
	c->wsi = NULL;
	if (!stop && c->tries < max_retries) {
		ms = 250LL << (c->tries < 5 ? c->tries : 5);
		if (ms > 8000)
			ms = 8000;
		ms = ms / 2 + (lws_usec_t)(random() % (long)(ms / 2 + 1));
		c->tries++;
		retries++;
		waiting++;
		c->hello_sent = 0;
		lws_sul_schedule(ctx, 0, &c->sul, redial, ms * LWS_US_PER_MS);
	} else {
		if (failed < 5)
			fprintf(stderr, "ph-agentload: agent %d: %s (after %d tries)\n",
			    c->idx, why, c->tries + 1);
		failed++;
	}
	dial_more();
}

/*
 * Every second: dials that made no progress for 10 s are written off.
 * (Seen with libwebsockets 4.1.6 past ~6,000 client connections in one
 * context: a few dozen connect calls return a wsi that never opens a
 * socket nor calls back.)  Fresh dials take their place.
 */
static void
watch(lws_sorted_usec_list_t *sul)
{
	int i;

	(void)sul;
	if (pending > 0 && ph_mono_ms() - last_progress > 10000) {
		for (i = 0; i < next_dial; i++) {
			if (conns[i].state < 2) {
				conns[i].state = 3;
				stuck++;
				failed++;
			}
		}
		fprintf(stderr, "ph-agentload: %d dials made no progress in 10 s: "
		    "written off (%d so far)\n", pending, stuck);
		pending = 0;
		dial_more();
	}
	lws_sul_schedule(ctx, 0, &sul_watch, watch, LWS_US_PER_SEC);
}

static int
send_hello(struct conn *c, struct lws *wsi)
{
	char id[96], inst[96];
	uint8_t *enc;
	size_t len;
	json_t *h, *labels;
	char key[32];
	size_t off;
	int r;

	snprintf(id, sizeof id, "%s-%d", prefix, c->idx);
	snprintf(inst, sizeof inst, "%s-%ld-%d", prefix, (long)getpid(), c->idx);
	labels = json_pack("{s:s}", "bench", prefix);
	/* Label values are at most 255 bytes: the padding takes several. */
	for (off = 0; labels != NULL && pad != NULL && off < strlen(pad); off += 250) {
		snprintf(key, sizeof key, "pad%zu", off / 250);
		json_object_set_new(labels, key, json_stringn(pad + off,
		    strlen(pad) - off > 250 ? 250 : strlen(pad) - off));
	}
	h = json_pack("{s:s, s:i, s:s, s:s, s:o, s:s, s:s, s:[s], s:i}",
	    "type", "hello", "proto", PH_PROTOCOL_VERSION, "id", id, "name", id,
	    "labels", labels, "version", "agentload", "instance", inst,
	    "caps", "exec", "max_payload", PH_MAX_PAYLOAD);
	if (h == NULL || ph_ctl_encode(h, &enc, &len) != 0) {
		json_decref(h);
		return -1;
	}
	json_decref(h);
	r = lws_write(wsi, enc + PH_HEADROOM, len, LWS_WRITE_BINARY);
	free(enc);
	c->hello_sent = 1;
	return r < (int)len ? -1 : 0;
}

static int
callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct conn *c = user;	/* ci.userdata */
	const uint8_t *p = in;
	unsigned char **hp;
	char hdr[PH_MAX_PAYLOAD];

	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		hp = (unsigned char **)in;
		snprintf(hdr, sizeof hdr, "Bearer %s", token);
		if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
		    (unsigned char *)hdr, (int)strlen(hdr), hp, *hp + len))
			return -1;
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (c != NULL && c->state < 2)
			dial_failed(c, in ? (char *)in : "connect error");
		break;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		if (c != NULL) {
			c->state = 1;
			lws_callback_on_writable(wsi);
		}
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (c != NULL && !c->hello_sent)
			return send_hello(c, wsi);
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (c != NULL && c->state == 1 && len > 1 && p[0] == PH_FRAME_CONTROL) {
			if (len > 20 && memmem(p, len, "\"welcome\"", 9) != NULL) {
				c->state = 2;
				pending--;
				welcomed++;
			} else {
				fprintf(stderr, "ph-agentload: agent %d: %.*s\n", c->idx,
				    (int)len - 1, p + 1);
			}
			dial_more();
		}
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (c != NULL && c->state < 3) {
			if (c->state == 2) {
				welcomed--;
				lost++;
				if (!stop) {
					printf("lost %d\n", lost);
					fflush(stdout);
				}
				c->state = 3;
				dial_more();
			} else
				dial_failed(c, "closed before the welcome");
		}
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	{ "load", callback, 0, 4096, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "ca", required_argument, NULL, 'c' },
		{ "token", required_argument, NULL, 't' },
		{ "per-addr", required_argument, NULL, 'a' },
		{ "inflight", required_argument, NULL, 'i' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "hold", required_argument, NULL, 'H' },
		{ "retries", required_argument, NULL, 'r' },
		{ "pad", required_argument, NULL, 'P' },
		{ "addr-base", required_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 }
	};
	struct lws_context_creation_info info;
	struct rlimit rl;
	const char *url = NULL, *ca = NULL;
	char *cause = NULL;
	long hold = 0, padlen = 0;
	int64_t until;
	int c;

	nconns = 100;
	while ((c = getopt_long(argc, argv, "n:", longopts, NULL)) != -1) {
		switch (c) {
		case 'n': nconns = atoi(optarg); break;
		case 'u': url = optarg; break;
		case 'c': ca = optarg; break;
		case 't': token = optarg; break;
		case 'a': per_addr = atoi(optarg); break;
		case 'i': inflight = atoi(optarg); break;
		case 'p': prefix = optarg; break;
		case 'H': hold = strtol(optarg, NULL, 10); break;
		case 'r': max_retries = atoi(optarg); break;
		case 'P': padlen = strtol(optarg, NULL, 10); break;
		case 'A': addr_base = atoi(optarg); break;
		default: return 2;
		}
	}
	if (url == NULL || token == NULL || nconns < 1 || per_addr < 1 || inflight < 1 ||
	    addr_base < 0 || addr_base > 65000 ||
	    addr_base + nconns / per_addr > 65000 || max_retries < 0 || padlen < 0 ||
	    padlen > 16384) {
		fprintf(stderr, "usage: ph-agentload --url wss://HOST:PORT --ca FILE "
		    "--token @FILE [-n AGENTS] [--per-addr N] [--inflight N] "
		    "[--prefix NAME] [--hold SECS] [--retries N] [--pad BYTES] [--addr-base K]\n");
		return 2;
	}
	if (token[0] == '@' && (token = ph_secret_value(token, &cause)) == NULL) {
		fprintf(stderr, "ph-agentload: %s\n", cause);
		return 2;
	}
	if (ph_url_parse(url, &host, &port, &cause) != 0) {
		fprintf(stderr, "ph-agentload: %s\n", cause);
		return 2;
	}
	/* One descriptor per agent, and some for the rest. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < (rlim_t)nconns + 64) {
			fprintf(stderr, "ph-agentload: %d agents need %d descriptors, the "
			    "limit is %llu\n", nconns, nconns + 64,
			    (unsigned long long)rl.rlim_cur);
			return 2;
		}
	}
	if ((conns = calloc((size_t)nconns, sizeof *conns)) == NULL)
		return 2;
	if (padlen > 0) {
		if ((pad = malloc((size_t)padlen + 1)) == NULL)
			return 2;
		memset(pad, 'x', (size_t)padlen);
		pad[padlen] = '\0';
	}
	srandom((unsigned)getpid());
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	lws_set_log_level(getenv("PH_AGENTLOAD_DEBUG") != NULL ? LLL_ERR | LLL_WARN |
	    LLL_NOTICE | LLL_INFO : LLL_ERR, NULL);
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.client_ssl_ca_filepath = ca;
	info.fd_limit_per_thread = (unsigned int)nconns + 64;
	info.retry_and_idle_policy = &no_validity;
	if ((ctx = lws_create_context(&info)) == NULL)
		return 2;
	t0 = ph_mono_ms();
	dial_more();
	lws_sul_schedule(ctx, 0, &sul_watch, watch, LWS_US_PER_SEC);
	until = hold > 0 ? ph_mono_ms() + hold * 1000 : 0;
	while (!stop && (until == 0 || ph_mono_ms() < until))
		lws_service(ctx, 0);
	c = welcomed == nconns ? 0 : 1;
	stop = 1;
	lws_context_destroy(ctx);
	return c;
}
