/*
 * ph-probe.c - a hostile WebSocket peer for the end-to-end tests.  It dials
 * one relay endpoint with a token and sends what it is told, byte for byte:
 * frames with unknown type bytes, invalid JSON, text messages, oversized or
 * fragmented messages.  It prints every message it receives and how the
 * channel closed, one line each, for the test to assert on:
 *
 *   recv CONTROL {"type":"error",...}     recv STDOUT 123
 *   close 1008 reason                     closed-without-code
 *   connect-error MESSAGE                 timeout
 *
 * Usage: ph-probe --url wss://127.0.0.1:PORT/PATH --ca FILE [--token T]
 *   [--proto SUBPROTOCOL] [--wait-ms N] [--xff VALUE] [--source ADDR] ACTION...
 * --xff sends an X-Forwarded-For header; --source binds the local address
 * (127.0.0.2 ...: another loopback peer).
 * ACTION: --hex HEX (one binary message), --text STR (a text message),
 *   --ctl JSON (a CONTROL frame), --big N (a STDIN message of N payload
 *   bytes in one frame), --frag N (a STDIN message of N payload bytes in
 *   4 KiB fragments), --sleep-ms N.
 * --show-stderr prints a STDERR message's bytes ("recv STDERR TEXT", each
 * byte outside printable ASCII as \xNN) instead of its length.
 * Signing: with --sign KEY every --ctl `open` is signed as the CLI signs
 * it (ts now plus --ts-offset SECS), for the token of --token; then the
 * members of --after-sign JSON are merged in (an open altered after it was
 * signed).
 *
 * Listing proof: ph-probe --url wss://HOST:PORT/v1/agents --token T --sign KEY
 *   --list-proof [--selector S] [--proof-host H] [--ts-offset SECS] prints
 *   the Porthole-Proof header value the CLI would send for that listing
 *   (signed for H instead of the URL's host with --proof-host) and exits.
 *
 * Flood mode (probe-flood.c): ph-probe --url ... --ca FILE --token T
 *   --flood N [--from 127.0.0.2] [--flood-secs S] opens N hostile
 *   connections at once, each from its own source address counting up
 *   from --from, and holds them for S seconds (default 20).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libwebsockets.h>

#include "porthole/listproof.h"
#include "porthole/opensig.h"
#include "porthole/protocol.h"
#include "porthole/token.h"
#include "porthole/util.h"

/* probe-flood.c */
int	probe_flood(const char *host, int port, const char *ca, const char *token,
	    const char *from, int n, int secs);

enum act_kind { A_HEX, A_TEXT, A_CTL, A_BIG, A_FRAG, A_SLEEP };

struct action {
	enum act_kind	 kind;
	uint8_t		*data;
	size_t		 len;
};

static struct action	 acts[64];
static int		 nacts, cur;
static size_t		 frag_off;
static int		 done, sleeping;
static struct lws	*client;
static lws_sorted_usec_list_t sul_sleep;

static void
add_act(enum act_kind k, const char *arg)
{
	struct action *a = &acts[nacts++];
	size_t i, n;

	if (nacts > 64) {
		fprintf(stderr, "ph-probe: too many actions\n");
		exit(2);
	}
	a->kind = k;
	switch (k) {
	case A_HEX:
		n = strlen(arg) / 2;
		a->data = malloc(n + 1);
		for (i = 0; i < n; i++)
			a->data[i] = (uint8_t)(ph_hexval((unsigned char)arg[2 * i]) << 4 | ph_hexval((unsigned char)arg[2 * i + 1]));
		a->len = n;
		break;
	case A_TEXT:
		a->data = (uint8_t *)strdup(arg);
		a->len = strlen(arg);
		break;
	case A_CTL:
		n = strlen(arg);
		a->data = malloc(n + 1);
		a->data[0] = PH_FRAME_CONTROL;
		memcpy(a->data + 1, arg, n);
		a->len = n + 1;
		break;
	case A_BIG:
	case A_FRAG:
		n = strtoul(arg, NULL, 10) + 1;
		a->data = calloc(1, n);
		a->data[0] = PH_FRAME_STDIN;
		a->len = n;
		break;
	case A_SLEEP:
		a->len = strtoul(arg, NULL, 10);
		break;
	}
}

static void
sleep_done(lws_sorted_usec_list_t *sul)
{
	sleeping = 0;
	cur++;
	if (client != NULL)
		lws_callback_on_writable(client);
}

static int
write_next(struct lws *wsi)
{
	struct action *a;
	uint8_t *buf;
	size_t n;
	int flags, r;

	if (cur >= nacts || sleeping)
		return 0;
	a = &acts[cur];
	if (a->kind == A_SLEEP) {
		sleeping = 1;
		lws_sul_schedule(lws_get_context(wsi), 0, &sul_sleep, sleep_done,
		    (lws_usec_t)a->len * 1000);
		return 0;
	}
	n = a->len;
	if (a->kind == A_FRAG) {
		n = a->len - frag_off;
		if (n > 4096)
			n = 4096;
	}
	buf = malloc(LWS_PRE + n);
	memcpy(buf + LWS_PRE, a->data + (a->kind == A_FRAG ? frag_off : 0), n);
	if (a->kind == A_FRAG)
		flags = lws_write_ws_flags(LWS_WRITE_BINARY, frag_off == 0,
		    frag_off + n == a->len);
	else
		flags = a->kind == A_TEXT ? LWS_WRITE_TEXT : LWS_WRITE_BINARY;
	r = lws_write(wsi, buf + LWS_PRE, n, (enum lws_write_protocol)flags);
	free(buf);
	if (r < (int)n)
		return -1;
	if (a->kind == A_FRAG && frag_off + n < a->len) {
		frag_off += n;
	} else {
		frag_off = 0;
		cur++;
	}
	if (cur < nacts)
		lws_callback_on_writable(wsi);
	return 0;
}

static const char *token, *proto = PH_SUBPROTO_SESSION;
static const char *xff, *source;
static int show_stderr;

/* "recv STDERR " and p, every byte outside printable ASCII as \xNN. */
static void
print_stderr(const uint8_t *p, size_t n)
{
	size_t	i;

	printf("recv STDERR ");
	for (i = 0; i < n; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			putchar(p[i]);
		else
			printf("\\x%02x", p[i]);
	}
	putchar('\n');
}

static int
callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	const uint8_t *p = in;
	unsigned char **hp;
	char hdr[PH_MAX_PAYLOAD];

	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		hp = (unsigned char **)in;
		if (xff != NULL && lws_add_http_header_by_name(wsi,
		    (const unsigned char *)"x-forwarded-for:", (const unsigned char *)xff,
		    (int)strlen(xff), hp, *hp + len))
			return -1;
		if (token == NULL)
			break;
		snprintf(hdr, sizeof hdr, "Bearer %s", token);
		if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
		    (unsigned char *)hdr, (int)strlen(hdr), hp, *hp + len))
			return -1;
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		printf("connect-error %s\n", in ? (char *)in : "");
		client = NULL;
		done = 1;
		break;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		printf("established\n");
		lws_callback_on_writable(wsi);
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return write_next(wsi);
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (lws_is_first_fragment(wsi) && len > 0) {
			if (p[0] == PH_FRAME_CONTROL)
				printf("recv CONTROL %.*s\n", (int)len - 1, p + 1);
			else if (p[0] == PH_FRAME_STDERR && show_stderr)
				print_stderr(p + 1, len - 1);
			else
				printf("recv %d %zu\n", p[0], len - 1);
		}
		break;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (len >= 2)
			printf("close %d %.*s\n", p[0] << 8 | p[1], (int)len - 2, p + 2);
		else
			printf("closed-without-code\n");
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		printf("closed\n");
		client = NULL;
		done = 1;
		break;
	default:
		break;
	}
	fflush(stdout);
	return 0;
}

static const struct lws_protocols protocols[] = {
	{ "probe", callback, 0, 65536, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* Print the proof of a listing (see the top of the file). */
static int
list_proof(const char *keyfile, const char *host, const char *path,
    const char *selector, long ts_offset)
{
	struct ph_listreq req = { "GET", host, path, selector };
	struct ph_key *k;
	json_t *claims = NULL;
	const char *jti;
	char *cause = NULL, *hdr;

	if ((k = ph_key_load(keyfile, 0, &cause)) == NULL ||
	    ph_token_decode(token, NULL, &claims, &cause) != 0) {
		fprintf(stderr, "ph-probe: --list-proof: %s\n", cause);
		return 2;
	}
	jti = json_string_value(json_object_get(claims, "jti"));
	if ((hdr = ph_listproof_make(k, jti != NULL ? jti : "", &req,
	    ph_now() + ts_offset, &cause)) == NULL) {
		fprintf(stderr, "ph-probe: --list-proof: %s\n", cause);
		return 2;
	}
	printf("%s\n", hdr);
	fflush(stdout);
	free(hdr);
	json_decref(claims);
	ph_key_free(k);
	return 0;
}

/* Sign every --ctl open (see the top of the file). */
static void
sign_opens(const char *keyfile, long ts_offset, const char *after)
{
	struct ph_key *k;
	json_t *claims = NULL, *o, *extra = NULL;
	const char *jti;
	char *cause = NULL, *s;
	int i;

	if ((k = ph_key_load(keyfile, 0, &cause)) == NULL ||
	    ph_token_decode(token, NULL, &claims, &cause) != 0) {
		fprintf(stderr, "ph-probe: --sign: %s\n", cause);
		exit(2);
	}
	if (after != NULL && (extra = json_loads(after, 0, NULL)) == NULL) {
		fprintf(stderr, "ph-probe: --after-sign is not JSON\n");
		exit(2);
	}
	jti = json_string_value(json_object_get(claims, "jti"));
	for (i = 0; i < nacts; i++) {
		if (acts[i].kind != A_CTL)
			continue;
		o = json_loadb((const char *)acts[i].data + 1, acts[i].len - 1, 0, NULL);
		if (o == NULL || strcmp(json_string_value(json_object_get(o, "type")) ?
		    json_string_value(json_object_get(o, "type")) : "", "open") != 0) {
			json_decref(o);
			continue;
		}
		if (ph_opensig_sign(k, jti != NULL ? jti : "", o, ph_now() + ts_offset,
		    &cause) != 0) {
			fprintf(stderr, "ph-probe: --sign: %s\n", cause);
			exit(2);
		}
		if (extra != NULL)
			json_object_update(o, extra);
		s = json_dumps(o, JSON_COMPACT);
		free(acts[i].data);
		acts[i].len = strlen(s) + 1;
		acts[i].data = malloc(acts[i].len);
		acts[i].data[0] = PH_FRAME_CONTROL;
		memcpy(acts[i].data + 1, s, acts[i].len - 1);
		free(s);
		json_decref(o);
	}
	json_decref(extra);
	json_decref(claims);
	ph_key_free(k);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "ca", required_argument, NULL, 'c' },
		{ "token", required_argument, NULL, 't' },
		{ "proto", required_argument, NULL, 'p' },
		{ "wait-ms", required_argument, NULL, 'w' },
		{ "hex", required_argument, NULL, 'x' },
		{ "text", required_argument, NULL, 'T' },
		{ "ctl", required_argument, NULL, 'C' },
		{ "big", required_argument, NULL, 'B' },
		{ "frag", required_argument, NULL, 'F' },
		{ "sleep-ms", required_argument, NULL, 'S' },
		{ "xff", required_argument, NULL, 'X' },
		{ "source", required_argument, NULL, 's' },
		{ "sign", required_argument, NULL, 'k' },
		{ "ts-offset", required_argument, NULL, 'o' },
		{ "after-sign", required_argument, NULL, 'a' },
		{ "flood", required_argument, NULL, 'f' },
		{ "from", required_argument, NULL, 'O' },
		{ "flood-secs", required_argument, NULL, 'D' },
		{ "list-proof", no_argument, NULL, 'L' },
		{ "selector", required_argument, NULL, 'e' },
		{ "proof-host", required_argument, NULL, 'H' },
		{ "show-stderr", no_argument, NULL, 'E' },
		{ NULL, 0, NULL, 0 }
	};
	struct lws_context_creation_info info;
	struct lws_client_connect_info ci;
	struct lws_context *ctx;
	const char *url = NULL, *ca = NULL, *path, *signkey = NULL, *after = NULL;
	long ts_offset = 0;
	char *host = NULL, *cause = NULL, *tok;
	long wait_ms = 5000, flood = 0, flood_secs = 20;
	const char *from = "127.0.0.2", *selector = NULL, *proof_host = NULL;
	int64_t deadline;
	int c, port, listproof = 0;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'u': url = optarg; break;
		case 'c': ca = optarg; break;
		case 't': token = optarg; break;
		case 'p': proto = optarg; break;
		case 'w': wait_ms = strtol(optarg, NULL, 10); break;
		case 'x': add_act(A_HEX, optarg); break;
		case 'T': add_act(A_TEXT, optarg); break;
		case 'C': add_act(A_CTL, optarg); break;
		case 'B': add_act(A_BIG, optarg); break;
		case 'F': add_act(A_FRAG, optarg); break;
		case 'S': add_act(A_SLEEP, optarg); break;
		case 'X': xff = optarg; break;
		case 's': source = optarg; break;
		case 'k': signkey = optarg; break;
		case 'o': ts_offset = strtol(optarg, NULL, 10); break;
		case 'a': after = optarg; break;
		case 'f': flood = strtol(optarg, NULL, 10); break;
		case 'O': from = optarg; break;
		case 'D': flood_secs = strtol(optarg, NULL, 10); break;
		case 'L': listproof = 1; break;
		case 'e': selector = optarg; break;
		case 'H': proof_host = optarg; break;
		case 'E': show_stderr = 1; break;
		default: return 2;
		}
	}
	if (url == NULL || (path = strchr(url + 6, '/')) == NULL) {
		fprintf(stderr, "ph-probe: --url wss://HOST:PORT/PATH required\n");
		return 2;
	}
	if (token != NULL && token[0] == '@') {
		if ((tok = ph_secret_value(token, &cause)) == NULL) {
			fprintf(stderr, "ph-probe: %s\n", cause);
			return 2;
		}
		token = tok;
	}
	if (signkey != NULL && token == NULL) {
		fprintf(stderr, "ph-probe: --sign needs --token\n");
		return 2;
	}
	{
		char *base = strndup(url, (size_t)(path - url));
		if (ph_url_parse(base, &host, &port, &cause) != 0) {
			fprintf(stderr, "ph-probe: %s\n", cause);
			return 2;
		}
		free(base);
	}
	if (listproof) {
		if (signkey == NULL) {
			fprintf(stderr, "ph-probe: --list-proof needs --sign\n");
			return 2;
		}
		c = list_proof(signkey, proof_host != NULL ? proof_host : host,
		    path, selector, ts_offset);
		free(host);
		return c;
	}
	if (signkey != NULL)
		sign_opens(signkey, ts_offset, after);
	if (flood > 0)
		return probe_flood(host, port, ca, token, from, (int)flood, (int)flood_secs);
	lws_set_log_level(LLL_ERR, NULL);
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.client_ssl_ca_filepath = ca;
	if ((ctx = lws_create_context(&info)) == NULL)
		return 2;
	memset(&ci, 0, sizeof ci);
	ci.context = ctx;
	ci.address = host;
	ci.port = port;
	ci.path = path;
	ci.host = host;
	ci.iface = source;
	ci.origin = host;
	ci.ssl_connection = LCCSCF_USE_SSL;
	ci.protocol = proto;
	ci.local_protocol_name = "probe";
	ci.pwsi = &client;
	if (lws_client_connect_via_info(&ci) == NULL) {
		printf("connect-error immediate\n");
		return 1;
	}
	deadline = ph_mono_ms() + wait_ms;
	while (!done && ph_mono_ms() < deadline)
		lws_service(ctx, 0);
	if (!done)
		printf("timeout\n");
	lws_context_destroy(ctx);
	free(host);
	return 0;
}
