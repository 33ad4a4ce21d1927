/*
 * ph-fakerelay.c - a relay that misbehaves, for testing the agent's own
 * input checks (the real relay never forwards a malformed frame, so only an
 * impostor can reach them).  It accepts one agent, answers its hello, asks
 * for two exec sessions, and on the first data channel sends the frame it
 * was told to, raw.  It prints what each session receives and how each
 * channel closes, one line each:
 *
 *   listening PORT          hello {...}
 *   s1 recv CONTROL {...}   s2 recv STDOUT 5 good\n
 *   s1 close 1008 reason    s2 closed
 *
 * Usage: ph-fakerelay --cert PEM --key PEM [--wait-ms N] (--hex HEX | --big N | --text STR)
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "porthole/protocol.h"
#include "porthole/util.h"

struct pss {
	int	 kind;		/* 0 control, 1 session 1, 2 session 2 */
	int	 step;		/* what to write next */
	int	 ready;
};

static const char *sid[3] = { NULL, "11111111111111111111111111111111",
    "22222222222222222222222222222222" };
static const char secret[] =
    "abababababababababababababababababababababababababababababababab";
static uint8_t *bad;
static size_t bad_len;
static int bad_text, closed_sessions, done;

static int
send_ctl(struct lws *wsi, const char *json)
{
	size_t n = strlen(json);
	uint8_t *buf = malloc(LWS_PRE + 1 + n);
	int r;

	buf[LWS_PRE] = PH_FRAME_CONTROL;
	memcpy(buf + LWS_PRE + 1, json, n);
	r = lws_write(wsi, buf + LWS_PRE, n + 1, LWS_WRITE_BINARY);
	free(buf);
	return r < (int)(n + 1) ? -1 : 0;
}

static int
control_writeable(struct lws *wsi, struct pss *p)
{
	char open[512];

	switch (p->step) {
	case 1:
		p->step++;
		lws_callback_on_writable(wsi);
		return send_ctl(wsi, "{\"type\":\"welcome\",\"proto\":1,\"max_payload\":65536}");
	case 2:
		p->step++;
		lws_callback_on_writable(wsi);
		snprintf(open, sizeof open, "{\"type\":\"open\",\"sid\":\"%s\",\"agent\":\"x\","
		    "\"op\":\"exec\",\"argv\":[\"cat\"],\"secret\":\"%s\",\"sub\":\"t\"}",
		    sid[1], secret);
		return send_ctl(wsi, open);
	case 3:
		p->step++;
		snprintf(open, sizeof open, "{\"type\":\"open\",\"sid\":\"%s\",\"agent\":\"x\","
		    "\"op\":\"exec\",\"argv\":[\"sh\",\"-c\",\"sleep 1; echo good\"],"
		    "\"stdin\":false,\"secret\":\"%s\",\"sub\":\"t\"}", sid[2], secret);
		return send_ctl(wsi, open);
	}
	return 0;
}

static int
callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct pss *p = user;
	const uint8_t *d = in;
	char uri[256];
	uint8_t *buf;
	int r;

	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		memset(p, 0, sizeof *p);
		if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) < 0)
			return -1;
		if (strcmp(uri, PH_PATH_AGENT) == 0)
			p->kind = 0;
		else if (strstr(uri, sid[1]) != NULL)
			p->kind = 1;
		else if (strstr(uri, sid[2]) != NULL)
			p->kind = 2;
		else
			return -1;
		break;
	case LWS_CALLBACK_RECEIVE:
		if (!lws_is_first_fragment(wsi) || len == 0)
			break;
		if (p->kind == 0) {
			if (d[0] == PH_FRAME_CONTROL && strstr((const char *)d, "hello")) {
				printf("hello %.*s\n", (int)len - 1, d + 1);
				p->step = 1;
				lws_callback_on_writable(wsi);
			}
			break;
		}
		if (d[0] == PH_FRAME_CONTROL)
			printf("s%d recv CONTROL %.*s\n", p->kind, (int)len - 1, d + 1);
		else
			printf("s%d recv %d %zu %.*s\n", p->kind, d[0], len - 1,
			    (int)(len > 40 ? 40 : len - 1), d + 1);
		if (p->kind == 1 && d[0] == PH_FRAME_CONTROL &&
		    strstr((const char *)d + 1, "\"ready\"") != NULL && !p->ready) {
			p->ready = 1;
			lws_callback_on_writable(wsi);
		}
		break;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (p->kind == 0)
			return control_writeable(wsi, p);
		if (p->kind == 1 && p->ready == 1) {
			p->ready = 2;
			buf = malloc(LWS_PRE + bad_len + 1);
			memcpy(buf + LWS_PRE, bad, bad_len);
			r = lws_write(wsi, buf + LWS_PRE, bad_len,
			    bad_text ? LWS_WRITE_TEXT : LWS_WRITE_BINARY);
			free(buf);
			printf("s1 sent bad frame\n");
			return r < (int)bad_len ? -1 : 0;
		}
		break;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (p->kind > 0 && len >= 2)
			printf("s%d close %d %.*s\n", p->kind, d[0] << 8 | d[1],
			    (int)len - 2, d + 2);
		break;
	case LWS_CALLBACK_CLOSED:
		if (p->kind > 0) {
			printf("s%d closed\n", p->kind);
			if (++closed_sessions == 2)
				done = 1;
		}
		break;
	default:
		break;
	}
	fflush(stdout);
	return 0;
}

static const struct lws_protocols protocols[] = {
	{ PH_SUBPROTO_CONTROL, callback, sizeof(struct pss), 65536 + 16, 0, NULL, 0 },
	{ PH_SUBPROTO_SESSION, callback, sizeof(struct pss), 65536 + 16, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "wait-ms", required_argument, NULL, 'w' },
		{ "hex", required_argument, NULL, 'x' },
		{ "big", required_argument, NULL, 'b' },
		{ "text", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	struct lws_context_creation_info info;
	struct lws_context *ctx;
	struct lws_vhost *vh;
	const char *cert = NULL, *key = NULL;
	long wait_ms = 20000;
	int64_t deadline;
	size_t i;
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'w': wait_ms = strtol(optarg, NULL, 10); break;
		case 'x':
			bad_len = strlen(optarg) / 2;
			bad = malloc(bad_len + 1);
			for (i = 0; i < bad_len; i++)
				sscanf(optarg + 2 * i, "%2hhx", &bad[i]);
			break;
		case 'b':
			bad_len = strtoul(optarg, NULL, 10) + 1;
			bad = calloc(1, bad_len);
			break;
		case 't':
			bad = (uint8_t *)strdup(optarg);
			bad_len = strlen(optarg);
			bad_text = 1;
			break;
		default:
			return 2;
		}
	}
	if (cert == NULL || key == NULL || bad == NULL) {
		fprintf(stderr, "usage: ph-fakerelay --cert PEM --key PEM (--hex HEX|--big N|--text S)\n");
		return 2;
	}
	lws_set_log_level(LLL_ERR, NULL);
	memset(&info, 0, sizeof info);
	info.port = 0;
	info.iface = "127.0.0.1";
	info.protocols = protocols;
	info.ssl_cert_filepath = cert;
	info.ssl_private_key_filepath = key;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_DISABLE_IPV6;
	if ((ctx = lws_create_context(&info)) == NULL)
		return 2;
	vh = lws_get_vhost_by_name(ctx, "default");
	printf("listening %d\n", vh ? lws_get_vhost_listen_port(vh) : -1);
	fflush(stdout);
	deadline = ph_mono_ms() + wait_ms;
	while (!done && ph_mono_ms() < deadline)
		lws_service(ctx, 0);
	if (!done)
		printf("timeout\n");
	lws_context_destroy(ctx);
	return 0;
}
