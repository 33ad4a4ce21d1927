/*
 * ph-fakerelay.c - a relay that misbehaves, for testing the agent's own
 * checks (the real relay never forwards a malformed frame nor a forged
 * request, so only an impostor can reach them).  It accepts one agent,
 * answers its hello, asks for two exec sessions, and prints what each
 * session receives and how each channel closes, one line each:
 *
 *   listening PORT          hello {...}
 *   s1 recv CONTROL {...}   s2 recv STDOUT 5 good\n
 *   s1 close 1008 reason    s2 closed
 *
 * It holds a client's token and key (--token, --client-key), as if it had
 * recorded what a client sent, so its opens can be made exactly as a real
 * client's.  Then either
 *   --hex HEX | --big N | --text STR: both opens are good, and on the first
 *	data channel it sends that frame, raw (s2 shows the agent goes on);
 *   --forge MODE: the first open is good (s1: `echo good`), the second one
 *	(s2) is what a taken-over relay would make of it:
 *	  unsigned  no signature          forged   signed with the relay's own key
 *	  altered   argv changed after signing (`echo pwned`)
 *	  replay    s1's open again, byte for byte, after s1 ended
 *	  stale     signed, but its time 5 minutes ago (an old open replayed)
 *	  agent     carrying the agent's token instead of the client's
 *	  other     signed for another agent id
 *	  added     a member the client did not send added after signing
 *		    (`e2e_share`, as a later version's would be)
 *	  retyped   a member the client signed as 123 turned into "123"
 *		    (`x_count`: no schema checks it, as for a member a later
 *		    version adds before the schema knows it)
 *	  downgrade signed by the client in form 1 (protocol 1), as a client
 *		    told by the relay that the agent is of protocol 1 would
 *
 * Usage: ph-fakerelay --cert PEM --key PEM --token FILE --client-key PEM
 *	[--wait-ms N] (--hex HEX | --big N | --text STR | --forge MODE)
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "porthole/opensig.h"
#include "porthole/protocol.h"
#include "porthole/token.h"
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
static const char *forge;		/* NULL: bad-frame mode */
static char *client_token, *agent_token, *jti, *agent_id, *agent_sub;
static struct ph_key *client_key;
static char *open1;			/* s1's open as sent (replay) */
static int s1_closed, s1_conns;
static struct lws *control_wsi;

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

/*
 * An open as the real relay forwards a client's: signed with the client's
 * key (or as mode says), with the secret, sub and token added.
 */
static char *
make_open(const char *s, const char *cmd, const char *mode)
{
	struct ph_key *k = client_key, *own = NULL;
	const char *agent = agent_id;
	json_t *o;
	int64_t now = ph_now();
	char *cause = NULL, *txt;

	if (strcmp(mode, "stale") == 0)
		now -= 300;
	if (strcmp(mode, "other") == 0)
		agent = "someone-else";
	if (strcmp(mode, "forged") == 0 && (k = own = ph_key_generate(&cause)) == NULL)
		goto fail;
	o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:b}", "type", "open",
	    "sid", s, "agent", agent, "op", "exec", "tty", 0, "stdin",
	    strcmp(cmd, "cat") == 0);
	json_object_set_new(o, "argv", strcmp(cmd, "cat") == 0 ?
	    json_pack("[s]", "cat") : json_pack("[s,s,s]", "sh", "-c", cmd));
	if (strcmp(mode, "retyped") == 0)
		json_object_set_new(o, "x_count", json_integer(123));
	if (strcmp(mode, "downgrade") == 0)
		json_object_set_new(o, "proto", json_integer(1));
	if (strcmp(mode, "unsigned") == 0)
		json_object_set_new(o, "ts", json_integer(now));
	else if (ph_opensig_sign(k, jti, o, now, &cause) != 0)
		goto fail;
	if (strcmp(mode, "altered") == 0)
		json_object_set_new(o, "argv", json_pack("[s,s,s]", "sh", "-c", "echo pwned"));
	if (strcmp(mode, "added") == 0)
		json_object_set_new(o, "e2e_share", json_string("AAAA"));
	if (strcmp(mode, "retyped") == 0)
		json_object_set_new(o, "x_count", json_string("123"));
	json_object_set_new(o, "secret", json_string(secret));
	json_object_set_new(o, "sub", json_string("t"));
	json_object_set_new(o, "token", json_string(strcmp(mode, "agent") == 0 ?
	    agent_token : client_token));
	txt = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	ph_key_free(own);
	return txt;
fail:
	fprintf(stderr, "ph-fakerelay: cannot make an open: %s\n", cause);
	exit(2);
}

static int
control_writeable(struct lws *wsi, struct pss *p)
{
	char *open;
	int r;

	switch (p->step) {
	case 1:
		p->step++;
		lws_callback_on_writable(wsi);
		return send_ctl(wsi, "{\"type\":\"welcome\",\"proto\":1,\"max_payload\":65536}");
	case 2:
		p->step++;
		lws_callback_on_writable(wsi);
		open1 = make_open(sid[1], forge != NULL ? "echo good" : "cat", "good");
		return send_ctl(wsi, open1);
	case 3:
		if (forge != NULL && strcmp(forge, "replay") == 0) {
			if (!s1_closed)
				return 0;	/* again when s1 is over */
			p->step++;
			printf("s2 is a replay of s1\n");
			return send_ctl(wsi, open1);
		}
		p->step++;
		open = make_open(sid[2], forge != NULL ? "echo pwned; echo good" :
		    "sleep 1; echo good", forge != NULL ? forge : "good");
		r = send_ctl(wsi, open);
		free(open);
		return r;
	}
	return 0;
}

/*
 * The sub of the agent's token, from the control channel's upgrade: the
 * agent's full id is its claimed id qualified with it, as the real relay
 * makes it (docs/protocol.md, "Agent identity").
 */
static void
take_sub(struct lws *wsi)
{
	char hdr[PH_TOKEN_MAX + 64], *cause = NULL;
	json_t *claims = NULL;
	const char *sub;

	free(agent_sub);
	agent_sub = NULL;
	if (lws_hdr_copy(wsi, hdr, sizeof hdr, WSI_TOKEN_HTTP_AUTHORIZATION) < 7 ||
	    ph_token_decode(hdr + 7, NULL, &claims, &cause) != 0) {
		free(cause);
		return;
	}
	if ((sub = json_string_value(json_object_get(claims, "sub"))) != NULL)
		agent_sub = strdup(sub);
	json_decref(claims);
}

/* The agent's full id from its hello and its token's sub. */
static void
take_hello(const uint8_t *d, size_t len)
{
	json_t *h = json_loadb((const char *)d + 1, len - 1, 0, NULL);
	const char *id = json_string_value(json_object_get(h, "id"));

	free(agent_id);
	agent_id = ph_asprintf("%s@%s", id != NULL ? id : "?",
	    agent_sub != NULL ? agent_sub : "?");
	json_decref(h);
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
		if (strcmp(uri, PH_PATH_AGENT) == 0) {
			p->kind = 0;
			control_wsi = wsi;
			take_sub(wsi);
		} else if (strstr(uri, sid[1]) != NULL)
			p->kind = ++s1_conns == 1 ? 1 : 2;	/* 2: the replay */
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
				take_hello(d, len);
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
		if (p->kind == 1 && p->ready == 1 && bad != NULL) {
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
		if (p->kind == 1) {
			s1_closed = 1;
			if (control_wsi != NULL)
				lws_callback_on_writable(control_wsi);
		}
		if (p->kind == 0)
			control_wsi = NULL;
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
		{ "forge", required_argument, NULL, 'f' },
		{ "token", required_argument, NULL, 'T' },
		{ "agent-token", required_argument, NULL, 'A' },
		{ "client-key", required_argument, NULL, 'K' },
		{ NULL, 0, NULL, 0 }
	};
	struct lws_context_creation_info info;
	struct lws_context *ctx;
	struct lws_vhost *vh;
	const char *cert = NULL, *key = NULL, *tokfile = NULL, *agtokfile = NULL;
	const char *ckey = NULL;
	json_t *claims;
	char *cause = NULL;
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
		case 'f': forge = optarg; break;
		case 'T': tokfile = optarg; break;
		case 'A': agtokfile = optarg; break;
		case 'K': ckey = optarg; break;
		default:
			return 2;
		}
	}
	if (cert == NULL || key == NULL || tokfile == NULL || ckey == NULL ||
	    (bad == NULL) == (forge == NULL)) {
		fprintf(stderr, "usage: ph-fakerelay --cert PEM --key PEM --token FILE "
		    "--client-key PEM [--agent-token FILE] (--hex HEX|--big N|--text S|"
		    "--forge MODE)\n");
		return 2;
	}
	if ((client_token = ph_secret_value(tokfile, &cause)) == NULL ||
	    (agtokfile != NULL &&
	    (agent_token = ph_secret_value(agtokfile, &cause)) == NULL) ||
	    (client_key = ph_key_load(ckey, 0, &cause)) == NULL ||
	    ph_token_decode(client_token, NULL, &claims, &cause) != 0) {
		fprintf(stderr, "ph-fakerelay: %s\n", cause);
		return 2;
	}
	if (agent_token == NULL)
		agent_token = strdup(client_token);
	jti = strdup(json_string_value(json_object_get(claims, "jti")) ?
	    json_string_value(json_object_get(claims, "jti")) : "");
	json_decref(claims);
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
