/*
 * ph-evilrelay.c - a relay that lies to the CLI: it answers `GET
 * /v1/agents` and `/v1/session` from a script, whatever the client sends,
 * verifying nothing (no token, no signature).  For tests of what the CLI
 * does with what a compromised relay or a malicious agent behind it says:
 * escapes in names, hostile error messages, bad cp streams, bad dumps.
 *
 * Usage: ph-evilrelay --cert PEM --key PEM --script FILE [--wait-ms N]
 * It prints "listening PORT", then one line per request it serves:
 *   agents PATH?QUERY        open OP AGENT (block N|none)
 *   recv SID TYPE LEN        (a frame from the client after its open)
 *   closed OP
 * and exits after --wait-ms (default 600000) or on SIGTERM/SIGINT.
 *
 * The script, one directive per line; blank lines and lines starting with
 * '#' are skipped:
 *
 *   agents STATUS BODY    the answer to GET /v1/agents (any query): HTTP
 *                         STATUS with BODY as given (JSON, one line); the
 *                         last `agents` line wins; none: 200 {"agents":[]}
 *   session OP [AGENT]    start a block: the frames below go, in order, to
 *                         every session whose `open` has this op ("*": any)
 *                         and, if given, this agent id (C escapes, below);
 *                         the first block in the file that matches is used
 *   ctl JSON              a CONTROL frame, JSON as written (the line is
 *                         taken as is: write escapes the JSON way, \u001b)
 *   stdout TEXT           a STDOUT frame of TEXT, with C escapes: \n \r \t
 *   stderr TEXT           \e (ESC) \0 \\ \xHH; any other backslash is kept
 *   data TEXT             a DATA frame (same escapes)
 *   raw TEXT              a message of TEXT as is (type byte included)
 *   wait                  hold until the client has sent one more message
 *                         (its `open` is the first, already in)
 *   close CODE [TEXT]     close with CODE and reason TEXT (C escapes); a
 *                         block without one waits for the client's close
 *
 * A session whose open matches no block is closed with 4404.  The server
 * speaks TLS with the given certificate, HTTP/1.1 only, on 127.0.0.1.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "porthole/printable.h"
#include "porthole/protocol.h"
#include "porthole/token.h"
#include "porthole/util.h"

#define EVIL_MSG_MAX	(256 * 1024)	/* a client message, reassembled */

enum evil_kind { EV_FRAME, EV_WAIT, EV_CLOSE };

struct evil_item {
	enum evil_kind	 kind;
	uint8_t		*msg;		/* the whole message (type byte first) */
	size_t		 len;
	int		 code;		/* EV_CLOSE */
};

struct evil_block {
	char		*op;
	char		*agent;		/* NULL: any */
	struct evil_item *items;
	size_t		 n;
};

static struct evil_block *blocks;
static size_t nblocks;
static unsigned agents_status = 200;
static char *agents_body;
static volatile sig_atomic_t stop;
static struct lws_context *ctx;

/* Per connection: HTTP or a session. */
struct pss {
	int		 is_session;
	/* HTTP */
	uint8_t		*body;		/* LWS_PRE headroom first */
	size_t		 body_len;
	/* session */
	uint8_t		*rx;		/* the message being reassembled */
	size_t		 rx_len;
	int		 rx_over;
	unsigned	 got;		/* whole messages from the client */
	struct evil_block *b;		/* NULL until the open came */
	char		 op[64];
	size_t		 step;
	unsigned	 waits;		/* `wait`s passed so far */
};

static void
die(const char *what, int line)
{
	fprintf(stderr, "ph-evilrelay: script line %d: %s\n", line, what);
	exit(2);
}

/* C escapes (\n \r \t \e \0 \\ \xHH) of s into a malloc'd buffer. */
static uint8_t *
unescape(const char *s, size_t *len, int line)
{
	uint8_t	*out = malloc(strlen(s) + 2), *o = out + 1;	/* room for a type byte */
	unsigned int v;

	if (out == NULL)
		die("out of memory", line);
	while (*s != '\0') {
		if (*s != '\\' || s[1] == '\0') {
			*o++ = (uint8_t)*s++;
			continue;
		}
		switch (s[1]) {
		case 'n': *o++ = '\n'; s += 2; break;
		case 'r': *o++ = '\r'; s += 2; break;
		case 't': *o++ = '\t'; s += 2; break;
		case 'e': *o++ = 0x1b; s += 2; break;
		case '0': *o++ = 0; s += 2; break;
		case '\\': *o++ = '\\'; s += 2; break;
		case 'x':
			if (sscanf(s + 2, "%2x", &v) != 1 || s[2] == '\0' || s[3] == '\0')
				die("\\x wants two hex digits", line);
			*o++ = (uint8_t)v;
			s += 4;
			break;
		default:
			*o++ = (uint8_t)*s++;	/* kept with what follows */
			break;
		}
	}
	*len = (size_t)(o - out - 1);
	return out;
}

static void
add_item(struct evil_block *b, struct evil_item it, int line)
{
	struct evil_item *n;

	if (b == NULL)
		die("a frame before any 'session' line", line);
	if ((n = realloc(b->items, (b->n + 1) * sizeof *n)) == NULL)
		die("out of memory", line);
	b->items = n;
	b->items[b->n++] = it;
}

/* A frame of type t whose payload is the rest of the line. */
static struct evil_item
frame_item(int t, const char *rest, int escapes, int line)
{
	struct evil_item it = { EV_FRAME, NULL, 0, 0 };
	size_t n;

	if (escapes) {
		it.msg = unescape(rest, &n, line);
		it.msg[0] = (uint8_t)t;
		it.len = n + 1;
	} else {
		n = strlen(rest);
		if ((it.msg = malloc(n + 1)) == NULL)
			die("out of memory", line);
		it.msg[0] = (uint8_t)t;
		memcpy(it.msg + 1, rest, n);
		it.len = n + 1;
	}
	return it;
}

static void
load_script(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, *word, *rest, *sp;
	size_t cap = 0, n;
	ssize_t got;
	int lineno = 0;
	struct evil_block *cur = NULL, *nb;
	struct evil_item it;

	if (f == NULL) {
		fprintf(stderr, "ph-evilrelay: %s: cannot open\n", path);
		exit(2);
	}
	while ((got = getline(&line, &cap, f)) >= 0) {
		lineno++;
		while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
			line[--got] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		word = line;
		if ((sp = strchr(line, ' ')) != NULL) {
			*sp = '\0';
			rest = sp + 1;
		} else
			rest = line + got;
		if (strcmp(word, "agents") == 0) {
			agents_status = (unsigned)strtoul(rest, &sp, 10);
			if (agents_status < 100 || agents_status > 599 || *sp != ' ')
				die("agents STATUS BODY", lineno);
			free(agents_body);
			agents_body = strdup(sp + 1);
		} else if (strcmp(word, "session") == 0) {
			if ((nb = realloc(blocks, (nblocks + 1) * sizeof *nb)) == NULL)
				die("out of memory", lineno);
			blocks = nb;
			cur = &blocks[nblocks++];
			memset(cur, 0, sizeof *cur);
			if ((sp = strchr(rest, ' ')) != NULL) {
				*sp = '\0';
				cur->agent = (char *)unescape(sp + 1, &n, lineno);
				memmove(cur->agent, cur->agent + 1, n);
				cur->agent[n] = '\0';
			}
			if (*rest == '\0')
				die("session OP [AGENT]", lineno);
			cur->op = strdup(rest);
		} else if (strcmp(word, "ctl") == 0)
			add_item(cur, frame_item(PH_FRAME_CONTROL, rest, 0, lineno), lineno);
		else if (strcmp(word, "stdout") == 0)
			add_item(cur, frame_item(PH_FRAME_STDOUT, rest, 1, lineno), lineno);
		else if (strcmp(word, "stderr") == 0)
			add_item(cur, frame_item(PH_FRAME_STDERR, rest, 1, lineno), lineno);
		else if (strcmp(word, "data") == 0)
			add_item(cur, frame_item(PH_FRAME_DATA, rest, 1, lineno), lineno);
		else if (strcmp(word, "raw") == 0) {
			it.kind = EV_FRAME;
			it.code = 0;
			it.msg = unescape(rest, &n, lineno);
			memmove(it.msg, it.msg + 1, n);
			it.len = n;
			add_item(cur, it, lineno);
		} else if (strcmp(word, "wait") == 0) {
			memset(&it, 0, sizeof it);
			it.kind = EV_WAIT;
			add_item(cur, it, lineno);
		} else if (strcmp(word, "close") == 0) {
			memset(&it, 0, sizeof it);
			it.kind = EV_CLOSE;
			it.code = (int)strtol(rest, &sp, 10);
			if (it.code < 1000 || it.code > 4999)
				die("close CODE [TEXT]", lineno);
			it.msg = unescape(*sp == ' ' ? sp + 1 : "", &n, lineno);
			memmove(it.msg, it.msg + 1, n);
			it.len = n > 123 ? 123 : n;
			add_item(cur, it, lineno);
		} else
			die("unknown directive", lineno);
	}
	free(line);
	fclose(f);
	if (agents_body == NULL)
		agents_body = strdup("{\"agents\":[]}");
}

static struct evil_block *
find_block(const char *op, const char *agent)
{
	size_t i;

	for (i = 0; i < nblocks; i++)
		if ((strcmp(blocks[i].op, "*") == 0 || strcmp(blocks[i].op, op) == 0) &&
		    (blocks[i].agent == NULL || strcmp(blocks[i].agent, agent) == 0))
			return &blocks[i];
	return NULL;
}

/* The client's first message, its open: choose the block. */
static void
take_open(struct pss *p, struct lws *wsi)
{
	json_t *o = NULL;
	const char *op = NULL, *agent = NULL;
	char *shown;

	if (p->rx_len > 1 && p->rx[0] == PH_FRAME_CONTROL)
		o = json_loadb((const char *)p->rx + 1, p->rx_len - 1, 0, NULL);
	op = json_string_value(json_object_get(o, "op"));
	agent = json_string_value(json_object_get(o, "agent"));
	shown = ph_printable(op != NULL ? op : "?");
	snprintf(p->op, sizeof p->op, "%s", shown);
	free(shown);
	p->b = find_block(p->op, agent != NULL ? agent : "");
	shown = ph_printable(agent != NULL ? agent : "?");
	printf("open %s %s (block %s)\n", p->op, shown, p->b != NULL ? "found" : "none");
	free(shown);
	json_decref(o);
	lws_callback_on_writable(wsi);
}

static int
session_writeable(struct lws *wsi, struct pss *p)
{
	struct evil_item *it;
	uint8_t *buf;
	int r;

	if (p->got == 0)
		return 0;
	if (p->b == NULL) {
		lws_close_reason(wsi, 4404, (unsigned char *)"no such agent", 13);
		return -1;
	}
	if (p->step >= p->b->n)
		return 0;	/* all said: the client closes */
	it = &p->b->items[p->step];
	switch (it->kind) {
	case EV_WAIT:
		if (p->got < 2 + p->waits)
			return 0;	/* again on the next message */
		p->waits++;
		p->step++;
		lws_callback_on_writable(wsi);
		return 0;
	case EV_CLOSE:
		lws_close_reason(wsi, (enum lws_close_status)it->code, it->msg, it->len);
		p->step++;
		return -1;
	case EV_FRAME:
		break;
	}
	if ((buf = malloc(LWS_PRE + it->len)) == NULL)
		return -1;
	memcpy(buf + LWS_PRE, it->msg, it->len);
	r = lws_write(wsi, buf + LWS_PRE, it->len, LWS_WRITE_BINARY);
	free(buf);
	if (r < (int)it->len)
		return -1;
	p->step++;
	lws_callback_on_writable(wsi);
	return 0;
}

static int
http_request(struct lws *wsi, struct pss *p, const char *path)
{
	uint8_t hdr[LWS_PRE + 512], *start = hdr + LWS_PRE, *q = start;
	uint8_t *end = hdr + sizeof hdr - 1;
	char query[512] = "";
	const char *body;
	unsigned status;
	size_t len;

	lws_hdr_copy(wsi, query, sizeof query, WSI_TOKEN_HTTP_URI_ARGS);
	if (strcmp(path, PH_PATH_AGENTS) == 0) {
		printf("agents %s%s%s\n", path, query[0] != '\0' ? "?" : "", query);
		status = agents_status;
		body = agents_body;
	} else {
		status = 404;
		body = "{\"error\":{\"code\":\"not_found\",\"message\":\"nothing here\"}}";
	}
	len = strlen(body);
	free(p->body);
	if ((p->body = malloc(LWS_PRE + len + 1)) == NULL)
		return -1;
	memcpy(p->body + LWS_PRE, body, len);
	p->body_len = len;
	if (lws_add_http_common_headers(wsi, status, "application/json",
	    (lws_filepos_t)len, &q, end) ||
	    lws_finalize_write_http_header(wsi, start, &q, end))
		return -1;
	lws_callback_on_writable(wsi);
	return 0;
}

static int
callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
    size_t len)
{
	struct pss *p = user;
	char uri[256];
	int r;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return http_request(wsi, p, in);
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (p->body == NULL)
			return 0;
		r = lws_write(wsi, p->body + LWS_PRE, p->body_len, LWS_WRITE_HTTP_FINAL);
		free(p->body);
		p->body = NULL;
		if (r < (int)p->body_len || lws_http_transaction_completed(wsi))
			return -1;
		return 0;
	case LWS_CALLBACK_CLOSED_HTTP:
		free(p->body);
		p->body = NULL;
		return 0;
	case LWS_CALLBACK_ESTABLISHED:
		memset(p, 0, sizeof *p);
		if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) < 0 ||
		    strcmp(uri, PH_PATH_SESSION) != 0)
			return -1;
		p->is_session = 1;
		return 0;
	case LWS_CALLBACK_RECEIVE:
		if (!p->is_session)
			return -1;
		if (!p->rx_over && p->rx_len + len <= EVIL_MSG_MAX) {
			uint8_t *nr = realloc(p->rx, p->rx_len + len + 1);

			if (nr == NULL)
				return -1;
			p->rx = nr;
			memcpy(p->rx + p->rx_len, in, len);
			p->rx_len += len;
		} else
			p->rx_over = 1;
		if (!lws_is_final_fragment(wsi))
			return 0;
		if (++p->got == 1)
			take_open(p, wsi);
		else {
			printf("recv %s %u %zu\n", p->op, p->rx_len > 0 ? p->rx[0] : 0,
			    p->rx_len > 0 ? p->rx_len - 1 : 0);
			lws_callback_on_writable(wsi);
		}
		p->rx_len = 0;
		p->rx_over = 0;
		break;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		r = session_writeable(wsi, p);
		fflush(stdout);
		return r;
	case LWS_CALLBACK_CLOSED:
		if (p->is_session)
			printf("closed %s\n", p->op[0] != '\0' ? p->op : "?");
		free(p->rx);
		p->rx = NULL;
		break;
	default:
		break;
	}
	fflush(stdout);
	return 0;
}

static const struct lws_protocols protocols[] = {
	{ "http", callback, sizeof(struct pss), 0, 0, NULL, 0 },
	{ PH_SUBPROTO_SESSION, callback, sizeof(struct pss), 65536 + 16, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
	if (ctx != NULL)
		lws_cancel_service(ctx);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "script", required_argument, NULL, 's' },
		{ "wait-ms", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	struct lws_context_creation_info info;
	struct lws_vhost *vh;
	const char *cert = NULL, *key = NULL, *script = NULL;
	long wait_ms = 600000;
	int64_t deadline;
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': cert = optarg; break;
		case 'k': key = optarg; break;
		case 's': script = optarg; break;
		case 'w': wait_ms = strtol(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	if (cert == NULL || key == NULL || script == NULL) {
		fprintf(stderr, "usage: ph-evilrelay --cert PEM --key PEM --script FILE "
		    "[--wait-ms N]\n");
		return 2;
	}
	load_script(script);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	lws_set_log_level(LLL_ERR, NULL);
	memset(&info, 0, sizeof info);
	info.port = 0;
	info.iface = "127.0.0.1";
	info.protocols = protocols;
	info.ssl_cert_filepath = cert;
	info.ssl_private_key_filepath = key;
	info.alpn = "http/1.1";
	info.max_http_header_data = PH_TOKEN_MAX + 4096;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_DISABLE_IPV6;
	if ((ctx = lws_create_context(&info)) == NULL) {
		fprintf(stderr, "ph-evilrelay: cannot serve (bad certificate or key?)\n");
		return 2;
	}
	vh = lws_get_vhost_by_name(ctx, "default");
	printf("listening %d\n", vh != NULL ? lws_get_vhost_listen_port(vh) : -1);
	fflush(stdout);
	deadline = ph_mono_ms() + wait_ms;
	while (!stop && ph_mono_ms() < deadline)
		lws_service(ctx, 0);
	lws_context_destroy(ctx);
	return 0;
}
