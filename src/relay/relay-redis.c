/*
 * relay-redis.c - the relay's connection to Redis, on its own lws loop
 * (relay-redis.h).
 *
 * Transport: an lws RAW client connection on the relay's vhost (protocol
 * RELAY_REDIS_PROTOCOL), the same as the CLI's transport to the relay:
 * lws connects the socket and says when it is readable or writeable, so
 * Redis needs no thread, no second poll loop and no fd of its own outside
 * lws (a plain fd added to lws's poll would duplicate what the RAW client
 * already does: non-blocking connect, POLLOUT, hangup).  lws 4.1.6 cannot
 * start TLS on a RAW client, so rediss:// runs libporthole's memory-BIO
 * TLS (tlsclient.h) over the plain socket.  hiredis 0.14 is only the codec
 * (relay-resp.c).  The name is resolved with getaddrinfo_a, polled from a
 * timer, and lws gets the numeric address: getaddrinfo would block the
 * loop.
 *
 * Life: IDLE -> RESOLVING -> CONNECTING -> HELLO (AUTH, SELECT, PING
 * pipelined) -> UP.  Commands are refused outside UP.  Replies come in
 * the order commands went, each to the callback queued with it.  Any
 * failure (connect, TLS, a reply past the bound, an error to AUTH, no
 * answer for RELAY_REDIS_ANSWER_MS while commands wait) drops the connection: the
 * waiting callbacks get NULL, and the next dial is after a backoff that
 * doubles from 100 ms to RELAY_REDIS_BACKOFF_MAX, jittered.
 */
#include <sys/random.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/log.h"
#include "porthole/tlsclient.h"
#include "porthole/util.h"
#include "relay.h"
#include "relay-redis.h"

#define REDIS_TLS_CHUNK	65536
#define REDIS_DIAL_MS	5000	/* resolving + connecting + TLS, at most */

struct relay_redis_wait {
	relay_redis_cb		 cb;
	void			*arg;
	int64_t			 sent_ms;
	struct relay_redis_wait	*next;
};

#define R (&relay.redis)

static uint32_t
redis_random(void)
{
	uint32_t v = 0;

	if (getrandom(&v, sizeof v, GRND_NONBLOCK) != sizeof v)
		v = (uint32_t)ph_mono_ms() * 2654435761u;
	return v;
}

static void redis_dial(lws_sorted_usec_list_t *sul);

int
relay_redis_on(void)
{
	return R->state != RELAY_REDIS_OFF;
}

int
relay_redis_up(void)
{
	return R->state == RELAY_REDIS_UP;
}

static void
redis_set_state(enum relay_redis_state st)
{
	R->state = st;
	R->state_ms = ph_mono_ms();
}

int
relay_redis_init(struct relay_redis_url *u, char **cause)
{
	const char *ca = getenv("PORTHOLE_REDIS_CA");

	R->url = *u;
	memset(u, 0, sizeof *u);
	if (R->url.tls) {
		if ((R->tlsctx = ph_tls_ctx_new(ca != NULL && *ca != '\0' ? ca : NULL, 0,
		    NULL, cause)) == NULL)
			return -1;
	}
	ph_queue_init(&R->out, 0, RELAY_REDIS_QUEUE, RELAY_REDIS_QUEUE);
	redis_set_state(RELAY_REDIS_IDLE);
	return 0;
}

/* Drop the connection: callbacks get NULL; dial again after the backoff. */
static void
redis_drop(const char *why)
{
	struct relay_redis_wait *w;
	int jitter, was_up = R->state == RELAY_REDIS_UP || R->state == RELAY_REDIS_HELLO;

	if (R->state == RELAY_REDIS_OFF || R->state == RELAY_REDIS_IDLE)
		return;
	if (why != NULL) {
		int again = strcmp(R->last_error, why) == 0;

		snprintf(R->last_error, sizeof R->last_error, "%s", why);
		if (again)
			ph_debug("redis %s:%d: %s", R->url.host, R->url.port, why);
		else if (was_up)
			ph_warn("redis %s:%d: %s; the fleet view is partial until it is back",
			    R->url.host, R->url.port, why);
		else
			ph_info("redis %s:%d: %s", R->url.host, R->url.port, why);
		R->errors++;
	}
	if (R->wsi != NULL) {
		lws_set_opaque_user_data(R->wsi, NULL);
		lws_set_timeout(R->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		R->wsi = NULL;
	}
	if (R->gai != NULL) {
		struct gaicb *g = R->gai;

		R->gai = NULL;
		if (gai_cancel(g) == EAI_NOTCANCELED) {
			/* it finishes in its own thread: leak it rather than race */
		} else {
			if (g->ar_result != NULL)
				freeaddrinfo(g->ar_result);
			free((char *)g->ar_name);
			free((char *)g->ar_service);
			free((void *)g->ar_request);
			free(g);
		}
	}
	ph_tls_free(R->tls);
	R->tls = NULL;
	relay_resp_free(R->resp);
	R->resp = NULL;
	ph_queue_free(&R->out);
	ph_queue_init(&R->out, 0, RELAY_REDIS_QUEUE, RELAY_REDIS_QUEUE);
	R->ping_ms = 0;
	redis_set_state(RELAY_REDIS_IDLE);
	/* Callbacks may queue commands: they are refused now (IDLE). */
	while ((w = R->head) != NULL) {
		R->head = w->next;
		if (R->head == NULL)
			R->tail = NULL;
		R->nwait--;
		if (w->cb != NULL)
			w->cb(NULL, w->arg);
		free(w);
	}
	if (R->backoff_ms < 100)
		R->backoff_ms = 100;
	else if ((R->backoff_ms *= 2) > RELAY_REDIS_BACKOFF_MAX)
		R->backoff_ms = RELAY_REDIS_BACKOFF_MAX;
	jitter = R->backoff_ms / 2 + (int)(redis_random() % (uint32_t)(R->backoff_ms / 2 + 1));
	if (relay.ctx != NULL && !relay.dying)
		lws_sul_schedule(relay.ctx, 0, &R->sul, redis_dial,
		    (lws_usec_t)jitter * LWS_US_PER_MS);
}

/* Move what TLS made into the socket's queue. */
static int
redis_flush_tls(void)
{
	struct ph_qitem *it;
	size_t n;

	while (R->tls != NULL && (n = ph_tls_pending(R->tls)) > 0) {
		if (n > REDIS_TLS_CHUNK)
			n = REDIS_TLS_CHUNK;
		if ((it = ph_qitem_new(n)) == NULL)
			return -1;
		it->len = ph_tls_take(R->tls, it->data + PH_HEADROOM, n);
		if (ph_queue_push_item(&R->out, it) != 0)
			return -1;
	}
	if (R->wsi != NULL && ph_queue_peek(&R->out) != NULL)
		lws_callback_on_writable(R->wsi);
	return 0;
}

/* Bytes of a command onto the wire (through TLS for rediss://). */
static int
redis_write(const char *p, size_t n)
{
	if (R->out.bytes + n > RELAY_REDIS_QUEUE)
		return -1;
	if (R->tls != NULL) {
		if (ph_tls_write(R->tls, p, n) != 0)
			return -1;
		return redis_flush_tls();
	}
	if (ph_queue_push(&R->out, -1, p, n) != 0)
		return -1;
	if (R->wsi != NULL)
		lws_callback_on_writable(R->wsi);
	return 0;
}

static int
redis_send(relay_redis_cb cb, void *arg, int argc, const char **argv, const size_t *lens)
{
	struct relay_redis_wait *w;
	char *cmd;
	long long n;

	if ((w = calloc(1, sizeof *w)) == NULL)
		return -1;
	if ((n = relay_resp_format(&cmd, argc, argv, lens)) < 0) {
		free(w);
		return -1;
	}
	if (redis_write(cmd, (size_t)n) != 0) {
		free(cmd);
		free(w);
		return -1;
	}
	free(cmd);
	w->cb = cb;
	w->arg = arg;
	w->sent_ms = ph_mono_ms();
	if (R->tail != NULL)
		R->tail->next = w;
	else
		R->head = w;
	R->tail = w;
	R->nwait++;
	R->commands++;
	return 0;
}

int
relay_redis_cmd(relay_redis_cb cb, void *arg, int argc, const char **argv,
    const size_t *lens)
{
	if (R->state != RELAY_REDIS_UP)
		return -1;
	return redis_send(cb, arg, argc, argv, lens);
}

int
relay_redis_cmdv(relay_redis_cb cb, void *arg, ...)
{
	const char *argv[16];
	size_t lens[16];
	va_list ap;
	int argc = 0;
	const char *s;

	va_start(ap, arg);
	while ((s = va_arg(ap, const char *)) != NULL && argc < 16) {
		argv[argc] = s;
		lens[argc++] = strlen(s);
	}
	va_end(ap);
	return relay_redis_cmd(cb, arg, argc, argv, lens);
}

/* The handshake's replies: any error drops the link; PING's OK brings it up. */
static void
redis_hello_reply(struct relay_reply *rp, void *arg)
{
	const char *what = arg;
	char why[200];

	if (rp == NULL)
		return;
	if (rp->type == RELAY_REPLY_ERROR) {
		/* Redis's own words, made printable; never the password. */
		snprintf(why, sizeof why, "%s refused: %.120s", what, rp->str);
		for (char *p = why; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
				*p = '?';
		redis_drop(why);
		return;
	}
	if (strcmp(what, "PING") == 0) {
		redis_set_state(RELAY_REDIS_UP);
		R->backoff_ms = 0;
		R->connects++;
		R->last_error[0] = '\0';
		ph_info("redis %s:%d%s: connected", R->url.host, R->url.port,
		    R->url.tls ? " (TLS)" : "");
		if (R->up != NULL)
			R->up();
	}
}

/* TCP (and TLS) up: AUTH, SELECT and PING go out pipelined. */
static int
redis_hello(void)
{
	char db[16];
	const char *argv[3];
	size_t lens[3];
	int argc = 0;

	redis_set_state(RELAY_REDIS_HELLO);
	if ((R->resp = relay_resp_new(RELAY_RESP_MAX)) == NULL)
		return -1;
	if (R->url.pass != NULL) {
		argv[argc] = "AUTH";
		lens[argc++] = 4;
		if (R->url.user != NULL) {
			argv[argc] = R->url.user;
			lens[argc] = strlen(R->url.user);
			argc++;
		}
		argv[argc] = R->url.pass;
		lens[argc] = strlen(R->url.pass);
		argc++;
		if (redis_send(redis_hello_reply, "AUTH", argc, argv, lens) != 0)
			return -1;
	}
	if (R->url.db != 0) {
		snprintf(db, sizeof db, "%d", R->url.db);
		argv[0] = "SELECT";
		lens[0] = 6;
		argv[1] = db;
		lens[1] = strlen(db);
		if (redis_send(redis_hello_reply, "SELECT", 2, argv, lens) != 0)
			return -1;
	}
	argv[0] = "PING";
	lens[0] = 4;
	return redis_send(redis_hello_reply, "PING", 1, argv, lens);
}

static void
redis_tick_ping(struct relay_reply *rp, void *arg)
{
	(void)arg;
	if (rp != NULL && R->ping_ms != 0)
		R->rtt_us = (ph_mono_ms() - R->ping_ms) * 1000;
	R->ping_ms = 0;
}

void
relay_redis_tick(int64_t now_ms)
{
	switch (R->state) {
	case RELAY_REDIS_RESOLVING:
	case RELAY_REDIS_CONNECTING:
		if (now_ms - R->state_ms > REDIS_DIAL_MS)
			redis_drop("no connection within 5 s");
		return;
	case RELAY_REDIS_HELLO:
	case RELAY_REDIS_UP:
		/*
		 * Nothing from Redis for 5 s while commands wait: the oldest
		 * one's age alone is not it -- a relay that writes all its
		 * agents again sends thousands of claims at once, and their
		 * answers come steadily for longer than that (at 10,000 agents
		 * a relay, each such drop set off the next relay's:
		 * bench/fleet-scale), and a listing of 30,000 agents is several
		 * MB.  A tick that comes late (this loop was stalled) judges
		 * nothing: the answers may be waiting unread on the socket.
		 */
		if (R->head != NULL && now_ms - R->tick_ms < 2 * 1000 &&
		    now_ms - R->head->sent_ms > RELAY_REDIS_ANSWER_MS &&
		    now_ms - R->answer_ms > RELAY_REDIS_ANSWER_MS) {
			R->tick_ms = now_ms;
			redis_drop("no answer within 5 s");
			return;
		}
		R->tick_ms = now_ms;
		if (R->state == RELAY_REDIS_UP && R->ping_ms == 0 &&
		    relay_redis_cmdv(redis_tick_ping, NULL, "PING", NULL) == 0)
			R->ping_ms = now_ms;
		return;
	default:
		return;
	}
}

/* Replies in order, each to its callback. */
static int
redis_plain(const uint8_t *p, size_t n)
{
	struct relay_reply *rp;
	struct relay_redis_wait *w;
	char *cause = NULL;
	int r;

	if (R->resp == NULL || relay_resp_feed(R->resp, p, n, &cause) != 0)
		goto bad;
	while ((r = relay_resp_next(R->resp, &rp, &cause)) != 0) {
		if (r < 0)
			goto bad;
		if ((w = R->head) == NULL) {
			relay_reply_free(rp);
			cause = ph_asprintf("a reply to no command");
			goto bad;
		}
		R->head = w->next;
		if (R->head == NULL)
			R->tail = NULL;
		R->nwait--;
		if (rp->type == RELAY_REPLY_ERROR)
			R->reply_errors++;	/* -ERR: a script or command failed */
		if (w->cb != NULL)
			w->cb(rp, w->arg);
		relay_reply_free(rp);
		free(w);
		if (R->resp == NULL)	/* a callback dropped the link */
			return -1;
	}
	return 0;
bad:
	redis_drop(cause != NULL ? cause : "cannot read the reply");
	free(cause);
	return -1;
}

static int
redis_rx(const uint8_t *p, size_t n)
{
	static uint8_t plain[65536];
	const char *why = NULL;
	long verr = 0;
	ssize_t got;
	int r;
	char buf[200];

	R->answer_ms = ph_mono_ms();	/* Redis is answering (relay_redis_tick) */
	if (R->tls == NULL)
		return redis_plain(p, n);
	if (ph_tls_feed(R->tls, p, n) != 0)
		goto tlsbad;
	if (R->state == RELAY_REDIS_CONNECTING) {
		if ((r = ph_tls_handshake(R->tls, &verr, &why)) < 0)
			goto tlsbad;
		if (redis_flush_tls() != 0)
			goto tlsbad;
		if (r == 0)
			return 0;
		if (redis_hello() != 0) {
			redis_drop("cannot send the handshake");
			return -1;
		}
	}
	while (R->tls != NULL && (got = ph_tls_read(R->tls, plain, sizeof plain, &why)) != 0) {
		if (got < 0)
			goto tlsbad;
		if (redis_plain(plain, (size_t)got) != 0)
			return -1;
	}
	if (R->tls != NULL && redis_flush_tls() != 0)
		goto tlsbad;
	return 0;
tlsbad:
	snprintf(buf, sizeof buf, "TLS: %s%s", why != NULL ? why : "failed",
	    verr != 0 ? " (certificate)" : "");
	redis_drop(buf);
	return -1;
}

static int
redis_connected(void)
{
	const char *why = NULL;
	long verr;

	if (R->state != RELAY_REDIS_CONNECTING)
		return 0;
	if (R->url.tls) {
		if (R->tls != NULL)
			return 0;
		if ((R->tls = ph_tls_new(R->tlsctx, R->url.host)) == NULL ||
		    ph_tls_handshake(R->tls, &verr, &why) < 0 || redis_flush_tls() != 0) {
			redis_drop("cannot start TLS");
			return -1;
		}
		return 0;
	}
	if (redis_hello() != 0) {
		redis_drop("cannot send the handshake");
		return -1;
	}
	return 0;
}

static int
redis_writeable(struct lws *wsi)
{
	struct ph_qitem *it;

	if ((it = ph_queue_peek(&R->out)) == NULL)
		return 0;
	if (lws_write(wsi, it->data + PH_HEADROOM, it->len, LWS_WRITE_RAW) < (int)it->len) {
		redis_drop("write failed");
		return -1;
	}
	ph_queue_pop(&R->out);
	if (ph_queue_peek(&R->out) != NULL)
		lws_callback_on_writable(wsi);
	return 0;
}

int
relay_redis_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	char why[200];

	(void)user;
	if (wsi == NULL || lws_get_opaque_user_data(wsi) != R)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_RAW_CONNECTED:
		return redis_connected();
	case LWS_CALLBACK_RAW_RX:
		if (R->state == RELAY_REDIS_CONNECTING && R->tls == NULL &&
		    redis_connected() != 0)
			return -1;
		return redis_rx(in, len);
	case LWS_CALLBACK_RAW_WRITEABLE:
		if (R->state == RELAY_REDIS_CONNECTING && R->tls == NULL &&
		    redis_connected() != 0)
			return -1;
		return redis_writeable(wsi);
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		snprintf(why, sizeof why, "cannot connect: %.120s",
		    in != NULL ? (const char *)in : "refused");
		R->wsi = NULL;
		lws_set_opaque_user_data(wsi, NULL);
		redis_drop(why);
		return 0;
	case LWS_CALLBACK_RAW_CLOSE:
		R->wsi = NULL;
		lws_set_opaque_user_data(wsi, NULL);
		redis_drop("connection closed");
		return 0;
	default:
		return 0;
	}
}

/* The name resolved: connect to its first address. */
static void
redis_connect(const struct addrinfo *ai)
{
	struct lws_client_connect_info ci;
	char addr[64];

	if (getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof addr, NULL, 0,
	    NI_NUMERICHOST) != 0) {
		redis_drop("cannot use the resolved address");
		return;
	}
	redis_set_state(RELAY_REDIS_CONNECTING);
	memset(&ci, 0, sizeof ci);
	ci.context = relay.ctx;
	ci.vhost = relay.vh;
	ci.address = addr;
	ci.port = R->url.port;
	ci.host = R->url.host;
	ci.origin = R->url.host;
	ci.ssl_connection = 0;
	ci.method = "RAW";
	ci.path = "";
	ci.protocol = RELAY_REDIS_PROTOCOL;
	ci.local_protocol_name = RELAY_REDIS_PROTOCOL;
	ci.opaque_user_data = R;
	ci.pwsi = &R->wsi;
	if (lws_client_connect_via_info(&ci) == NULL) {
		R->wsi = NULL;
		redis_drop("cannot start the connection");
	}
}

/* Poll the resolver (getaddrinfo_a) until it is done. */
static void
redis_resolving(lws_sorted_usec_list_t *sul)
{
	struct gaicb *g = R->gai;
	int e;

	(void)sul;
	if (g == NULL || R->state != RELAY_REDIS_RESOLVING)
		return;
	if ((e = gai_error(g)) == EAI_INPROGRESS) {
		lws_sul_schedule(relay.ctx, 0, &R->sul, redis_resolving, 20 * LWS_US_PER_MS);
		return;
	}
	R->gai = NULL;
	if (e != 0 || g->ar_result == NULL) {
		char why[200];

		snprintf(why, sizeof why, "cannot resolve %s: %s", R->url.host,
		    gai_strerror(e));
		redis_drop(why);
	} else
		redis_connect(g->ar_result);
	if (g->ar_result != NULL)
		freeaddrinfo(g->ar_result);
	free((char *)g->ar_name);
	free((void *)g->ar_request);
	free(g);
}

static void
redis_dial(lws_sorted_usec_list_t *sul)
{
	struct addrinfo *hints;
	struct gaicb *g, *list[1];

	(void)sul;
	if (R->state != RELAY_REDIS_IDLE || relay.shutting_down)
		return;
	redis_set_state(RELAY_REDIS_RESOLVING);
	g = calloc(1, sizeof *g);
	hints = calloc(1, sizeof *hints);
	if (g == NULL || hints == NULL || (g->ar_name = strdup(R->url.host)) == NULL) {
		free(g);
		free(hints);
		redis_drop("out of memory");
		return;
	}
	hints->ai_socktype = SOCK_STREAM;
	hints->ai_family = AF_UNSPEC;
	g->ar_request = hints;
	list[0] = g;
	R->gai = g;
	if (getaddrinfo_a(GAI_NOWAIT, list, 1, NULL) != 0) {
		R->gai = NULL;
		free((char *)g->ar_name);
		free(hints);
		free(g);
		redis_drop("cannot start resolving");
		return;
	}
	redis_resolving(NULL);
}

void
relay_redis_start(void (*up)(void))
{
	if (R->state == RELAY_REDIS_OFF)
		return;
	R->up = up;
	redis_dial(NULL);
}

void
relay_redis_stop(void)
{
	if (R->state == RELAY_REDIS_OFF)
		return;
	lws_sul_cancel(&R->sul);
	R->up = NULL;
	redis_drop(NULL);
	lws_sul_cancel(&R->sul);
	redis_set_state(RELAY_REDIS_OFF);
	ph_queue_free(&R->out);
	ph_tls_ctx_free(R->tlsctx);
	R->tlsctx = NULL;
	relay_redis_url_free(&R->url);
}
