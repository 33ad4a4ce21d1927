/*
 * relay-link.c - links this relay dials to other relays of the fleet
 * (relay-link.h; docs/protocol.md, "Relay to relay").
 *
 * Transport: an lws RAW client socket on the relay's vhost, as Redis's
 * (relay-redis.c): lws connects it and says when it is readable or
 * writeable.  On it, libporthole's memory-BIO TLS (tlsclient.h) and
 * porthole's own WebSocket client framing (wsclient.h): libwebsockets
 * 4.1.6 cannot start TLS on a RAW client, and its ws client parses every
 * received byte on its own.
 *
 * Trust comes first: the other relay's certificate must verify against
 * --peer-ca (default: the relay's own certificate file, which a fleet
 * shares) and name --peer-name (default: the certificate's own first DNS
 * name, else its CN) -- never against the address dialed, a private IP is
 * no name.  Only after that does the upgrade request carry this relay's
 * token (--relay-token).  A certificate that does not verify is audited
 * (`peer_refused`) and the link ends without a byte of the token sent.
 *
 * Life: DIAL (TCP) -> TLS -> UPGRADE (request out, reading the 101) ->
 * OPEN: the first message goes out, then whatever the owner queues with
 * relay_conn_send.  Writing: one queued message at a time is framed,
 * encrypted and its ciphertext written, so what a link holds beyond its
 * message queue (bounded like any session queue) is one message's worth.
 * Reading stops while the owner holds the link (relay_conn_pause: lws rx
 * flow control on the socket), so TCP pushes back on the other relay.
 * Closing is WebSocket's: a close frame each way, then the socket.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "porthole/log.h"
#include "porthole/tlsclient.h"
#include "porthole/util.h"
#include "porthole/wsclient.h"
#include "relay.h"
#include "relay-audit.h"
#include "relay-conn.h"
#include "relay-link.h"
#include "relay-metrics.h"

#define LINK_CHUNK	16384	/* ciphertext per socket write */
#define LINK_CLOSE_SECS	3	/* wait this long for the other's close frame */

enum link_state { LINK_DIAL, LINK_TLS, LINK_UPGRADE, LINK_OPEN, LINK_DONE };

struct relay_link {
	struct relay_conn	 c;		/* first: what the owner holds */
	struct lws		*wsi;
	enum link_state		 st;
	char			 addr[128];	/* as dialed, for logs */
	char			 host[96];
	int			 port;
	struct ph_tls		*tls;
	char			 key[PH_WS_KEY_LEN + 1];
	char			 head[PH_WS_HEAD_MAX + 1];
	size_t			 headlen;
	struct ph_ws_rx		 wsrx;
	struct ph_queue		 wire;		/* ciphertext to write */
	const struct relay_link_ops *ops;	/* NULL once detached */
	void			*arg;
	int			 close_frame_sent;
	int			 sync_fail;	/* failed inside lws_client_connect_via_info */
	char			 why[160];	/* how it ended */
};

static struct {
	struct ph_tls_ctx	*tc;
	char			*name;		/* --peer-name */
	char			*token;		/* --relay-token */
} L;

/* The first DNS name of the certificate in file, else its CN; NULL if none. */
static char *
link_cert_name(const char *file)
{
	GENERAL_NAMES *gens;
	X509 *x = NULL;
	BIO *b;
	char cn[256], *out = NULL;
	int i;

	if ((b = BIO_new_file(file, "r")) == NULL)
		return NULL;
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	if (x == NULL)
		return NULL;
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens) && out == NULL; i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

		if (g->type == GEN_DNS)
			out = strndup((const char *)ASN1_STRING_get0_data(g->d.dNSName),
			    (size_t)ASN1_STRING_length(g->d.dNSName));
	}
	GENERAL_NAMES_free(gens);
	if (out == NULL && X509_NAME_get_text_by_NID(X509_get_subject_name(x),
	    NID_commonName, cn, sizeof cn) > 0)
		out = strdup(cn);
	X509_free(x);
	return out;
}

int
relay_link_init(const char *peer_ca, const char *peer_name, const char *cert,
    const char *token, char **cause)
{
	const char *ca = peer_ca != NULL && *peer_ca != '\0' ? peer_ca : cert;

	if ((L.tc = ph_tls_ctx_new(ca, 0, NULL, cause)) == NULL)
		return -1;
	if (peer_name != NULL && *peer_name != '\0')
		L.name = strdup(peer_name);
	else if ((L.name = link_cert_name(cert)) == NULL) {
		*cause = ph_asprintf("the certificate %s names nothing: set --peer-name", cert);
		return -1;
	}
	if (token != NULL && *token != '\0')
		L.token = strdup(token);
	return 0;
}

void
relay_link_cleanup(void)
{
	ph_tls_ctx_free(L.tc);
	L.tc = NULL;
	free(L.name);
	L.name = NULL;
	if (L.token != NULL)
		explicit_bzero(L.token, strlen(L.token));
	free(L.token);
	L.token = NULL;
}

int
relay_link_ready(void)
{
	return L.tc != NULL && L.token != NULL;
}

const char *
relay_link_peer_name(void)
{
	return L.name != NULL ? L.name : "";
}

const char *
relay_link_addr(const struct relay_conn *c)
{
	return ((const struct relay_link *)c)->addr;
}

static void
link_why(struct relay_link *lk, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
link_why(struct relay_link *lk, const char *fmt, ...)
{
	va_list ap;

	if (lk->why[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(lk->why, sizeof lk->why, fmt, ap);
	va_end(ap);
}

/* End the socket now (RAW_CLOSE follows from lws). */
static void
link_kill(struct relay_link *lk)
{
	lk->st = LINK_DONE;
	if (lk->wsi != NULL)
		lws_set_timeout(lk->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* Ciphertext TLS made: onto the wire queue. */
static int
link_flush(struct relay_link *lk)
{
	struct ph_qitem *it;
	size_t n;

	while (lk->tls != NULL && (n = ph_tls_pending(lk->tls)) > 0) {
		if (n > LINK_CHUNK)
			n = LINK_CHUNK;
		if ((it = ph_qitem_new(n)) == NULL)
			return -1;
		it->len = ph_tls_take(lk->tls, it->data + PH_HEADROOM, n);
		if (ph_queue_push_item(&lk->wire, it) != 0)
			return -1;
	}
	if (lk->wsi != NULL && ph_queue_peek(&lk->wire) != NULL)
		lws_callback_on_writable(lk->wsi);
	return 0;
}

/* One WebSocket frame (masked) through TLS. */
static int
link_frame(struct relay_link *lk, int opcode, const void *p, size_t n)
{
	uint8_t *out;
	size_t len;
	int r;

	if ((out = malloc(PH_WS_HDR_MAX + 1 + n)) == NULL)
		return -1;
	len = ph_ws_frame(out, opcode, -1, p, n);
	r = ph_tls_write(lk->tls, out, len);
	free(out);
	if (r != 0)
		return -1;
	relay.metrics.cross_bytes_out += n;
	return link_flush(lk);
}

static void
link_close_frame(struct relay_link *lk, int code, const char *reason)
{
	uint8_t p[2 + 64];
	size_t rl = reason != NULL ? strlen(reason) : 0;

	if (lk->close_frame_sent || lk->tls == NULL)
		return;
	if (rl > sizeof p - 2)
		rl = sizeof p - 2;
	p[0] = (uint8_t)(code >> 8);
	p[1] = (uint8_t)code;
	if (rl > 0)
		memcpy(p + 2, reason, rl);
	lk->close_frame_sent = 1;
	(void)link_frame(lk, PH_WS_CLOSE, p, 2 + rl);
	if (lk->wsi != NULL)
		lws_set_timeout(lk->wsi, PENDING_TIMEOUT_USER_OK, LINK_CLOSE_SECS);
}

/* A whole message from the other relay. */
static int
link_message(struct relay_link *lk, const uint8_t *msg, size_t len)
{
	struct ph_frame f;
	const char *cause;
	int code;

	relay.metrics.cross_bytes_in += len;
	if (lk->c.close_code != 0 || lk->ops == NULL)
		return 0;
	if (ph_frame_decode(msg, len, &f, &code, &cause) != 0) {
		ph_info("peer link %s: bad message: %s", lk->addr, cause);
		relay_conn_fail(&lk->c, f.err, code, "%s", cause);
		return 0;
	}
	lk->ops->rx(lk->arg, &lk->c, &f, msg, len);
	ph_frame_clear(&f);
	return 0;
}

static int
link_ws_data(void *arg, int opcode, const uint8_t *p, size_t n, int first, int last)
{
	struct relay_link *lk = arg;

	(void)first;
	lk->c.rx_ms = ph_mono_ms();
	if (opcode != PH_WS_BINARY) {
		link_why(lk, "text message from the other relay");
		return -1;
	}
	if (last && lk->c.rx.len == 0)
		return link_message(lk, p, n);
	if (ph_msgbuf_add(&lk->c.rx, p, n) != 0) {
		link_why(lk, "message larger than %d bytes", PH_MAX_MESSAGE);
		return -1;
	}
	if (!last)
		return 0;
	link_message(lk, ph_msgbuf_msg(&lk->c.rx), lk->c.rx.len);
	ph_msgbuf_reset(&lk->c.rx);
	return 0;
}

static int
link_ws_control(void *arg, int opcode, const uint8_t *p, size_t n)
{
	struct relay_link *lk = arg;

	lk->c.rx_ms = ph_mono_ms();
	if (opcode == PH_WS_PING)
		return link_frame(lk, PH_WS_PONG, p, n) != 0 ? -1 : 0;
	if (opcode != PH_WS_CLOSE)
		return 0;
	lk->c.peer_close = n >= 2 ? (p[0] << 8 | p[1]) : 1005;
	link_why(lk, "closed by the other relay (%d)", lk->c.peer_close);
	if (!lk->close_frame_sent)
		link_close_frame(lk, lk->c.peer_close == 1005 ? 1000 : lk->c.peer_close, "");
	lk->st = LINK_DONE;
	if (ph_queue_peek(&lk->wire) == NULL)
		link_kill(lk);
	return 0;
}

static const struct ph_ws_rx_ops link_ws_ops = {
	.data = link_ws_data,
	.control = link_ws_control,
};

/* The 101 is in: the link is a WebSocket; the first message goes out. */
static int
link_open(struct relay_link *lk)
{
	lk->st = LINK_OPEN;
	lk->c.established = 1;
	lk->c.rx_ms = ph_mono_ms();
	lws_set_timeout(lk->wsi, NO_PENDING_TIMEOUT, 0);
	relay.metrics.peer_links++;
	lws_callback_on_writable(lk->wsi);
	if (lk->ops != NULL && lk->ops->up != NULL)
		lk->ops->up(lk->arg, &lk->c);
	return 0;
}

/* Plaintext from the other relay: the upgrade's answer, then frames. */
static int
link_plain(struct relay_link *lk, const uint8_t *p, size_t n)
{
	const char *cause = NULL;
	int status;
	long clen;
	size_t end, take;

	if (lk->st == LINK_UPGRADE) {
		take = sizeof lk->head - 1 - lk->headlen;
		if (take > n)
			take = n;
		memcpy(lk->head + lk->headlen, p, take);
		lk->headlen += take;
		if ((end = ph_ws_head_end(lk->head, lk->headlen)) == 0) {
			if (lk->headlen >= sizeof lk->head - 1) {
				link_why(lk, "the upgrade's answer is too long");
				return -1;
			}
			return 0;
		}
		/* What came after the head is WebSocket already. */
		p += take - (lk->headlen - end);
		n -= take - (lk->headlen - end);
		lk->head[end] = '\0';
		if (ph_ws_response(lk->head, lk->key, PH_SUBPROTO_PEER, &status, &clen,
		    &cause) != 0) {
			link_why(lk, "the other relay answered %d: %s", status,
			    cause != NULL ? cause : "not a WebSocket");
			return -1;
		}
		if (link_open(lk) != 0)
			return -1;
	}
	if (n == 0 || lk->c.peer_close != 0)
		return 0;
	if (ph_ws_rx_feed(&lk->wsrx, p, n, &link_ws_ops, lk, &cause) != 0) {
		link_why(lk, "%s", cause != NULL ? cause : "bad WebSocket framing");
		return -1;
	}
	return 0;
}

/* TLS is up and the certificate verified: the upgrade, with the token. */
static int
link_upgrade(struct relay_link *lk)
{
	char *req;
	int r;

	if ((req = ph_ws_request(L.name, lk->port, PH_PATH_PEER, PH_SUBPROTO_PEER,
	    L.token, lk->key)) == NULL)
		return -1;
	r = ph_tls_write(lk->tls, req, strlen(req));
	explicit_bzero(req, strlen(req));
	free(req);
	lk->st = LINK_UPGRADE;
	return r != 0 || link_flush(lk) != 0 ? -1 : 0;
}

/* The certificate did not verify: refused and audited; no token went out. */
static void
link_refuse_cert(struct relay_link *lk, long verr, const char *why)
{
	json_t *o;

	link_why(lk, "the certificate of the relay at %s is not the fleet's (%s): "
	    "its token was not sent", lk->addr, verr != 0 ?
	    X509_verify_cert_error_string(verr) : why);
	ph_warn("peer link: %s", lk->why);
	relay.metrics.peer_refused++;
	if ((o = json_pack("{s:s,s:s,s:s}", "peer", lk->addr, "peer_name", L.name,
	    "error", verr != 0 ? X509_verify_cert_error_string(verr) : why)) != NULL)
		relay_audit("peer_refused", o);
}

static int
link_rx(struct relay_link *lk, const uint8_t *p, size_t n)
{
	static uint8_t plain[65536];
	const char *why = NULL;
	long verr = 0;
	ssize_t got;
	int r;

	if (lk->tls == NULL || ph_tls_feed(lk->tls, p, n) != 0)
		goto tlsbad;
	if (lk->st == LINK_TLS) {
		if ((r = ph_tls_handshake(lk->tls, &verr, &why)) < 0) {
			if (link_flush(lk) == 0 && verr == 0)
				link_why(lk, "TLS with the relay at %s failed: %s", lk->addr,
				    why != NULL ? why : "?");
			else
				link_refuse_cert(lk, verr, why != NULL ? why : "?");
			return -1;
		}
		if (link_flush(lk) != 0)
			goto tlsbad;
		if (r == 0)
			return 0;
		if (link_upgrade(lk) != 0)
			goto tlsbad;
	}
	while (lk->tls != NULL && lk->c.peer_close == 0 &&
	    (got = ph_tls_read(lk->tls, plain, sizeof plain, &why)) != 0) {
		if (got < 0) {
			link_why(lk, "the relay at %s ended TLS (%s)", lk->addr, why != NULL ? why : "?");
			return -1;
		}
		if (link_plain(lk, plain, (size_t)got) != 0)
			return -1;
	}
	return link_flush(lk);
tlsbad:
	link_why(lk, "TLS with the relay at %s: %s", lk->addr, why != NULL ? why : "failed");
	return -1;
}

/* Room to write: ciphertext first, then the next queued message, then the close. */
static int
link_writeable(struct relay_link *lk)
{
	struct ph_qitem *it;

	if ((it = ph_queue_peek(&lk->wire)) != NULL) {
		if (lws_write(lk->wsi, it->data + PH_HEADROOM, it->len, LWS_WRITE_RAW) <
		    (int)it->len) {
			link_why(lk, "write to the relay at %s failed", lk->addr);
			return -1;
		}
		ph_queue_pop(&lk->wire);
		if (ph_queue_peek(&lk->wire) != NULL)
			lws_callback_on_writable(lk->wsi);
		else if (lk->st == LINK_DONE && lk->c.peer_close != 0)
			return -1;	/* both close frames went: done */
		else if (lk->st == LINK_OPEN)
			lws_callback_on_writable(lk->wsi);
		return 0;
	}
	if (lk->st != LINK_OPEN)
		return 0;
	if (lk->c.close_code != 0 && (lk->c.close_now || ph_queue_peek(&lk->c.tx) == NULL)) {
		link_close_frame(lk, lk->c.close_code, lk->c.close_reason);
		lk->st = LINK_DONE;
		return 0;
	}
	if ((it = ph_queue_peek(&lk->c.tx)) == NULL)
		return 0;
	if (link_frame(lk, PH_WS_BINARY, it->data + PH_HEADROOM, it->len) != 0) {
		link_why(lk, "cannot frame a message");
		return -1;
	}
	ph_queue_pop(&lk->c.tx);
	if (lk->ops != NULL && lk->ops->drained != NULL)
		lk->ops->drained(lk->arg, &lk->c);
	return 0;
}

static void
link_free(struct relay_link *lk)
{
	int code = lk->c.peer_close;


	if (lk->c.established)
		relay.metrics.peer_links--;
	lk->c.established = 0;
	if (lk->ops != NULL) {
		const struct relay_link_ops *ops = lk->ops;

		lk->ops = NULL;
		if (lk->why[0] == '\0')
			snprintf(lk->why, sizeof lk->why, "the link to the relay at %s broke",
			    lk->addr);
		ops->closed(lk->arg, &lk->c, code, lk->why);
	}
	ph_tls_free(lk->tls);
	ph_queue_free(&lk->wire);
	ph_queue_free(&lk->c.tx);
	ph_msgbuf_free(&lk->c.rx);
	free(lk);
}

int
relay_link_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct relay_link *lk;
	const char *why = NULL;
	long verr;

	(void)user;
	if (wsi == NULL || (lk = lws_get_opaque_user_data(wsi)) == NULL)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_RAW_CONNECTED:
		if (lk->st != LINK_DIAL)
			return 0;
		lk->st = LINK_TLS;
		if ((lk->tls = ph_tls_new(L.tc, L.name)) == NULL ||
		    ph_tls_handshake(lk->tls, &verr, &why) < 0 || link_flush(lk) != 0) {
			link_why(lk, "cannot start TLS to the relay at %s", lk->addr);
			return -1;
		}
		return 0;
	case LWS_CALLBACK_RAW_RX:
		if (lk->st == LINK_DONE && lk->tls == NULL)
			return 0;
		return link_rx(lk, in, len) != 0 ? -1 : 0;
	case LWS_CALLBACK_RAW_WRITEABLE:
		return link_writeable(lk);
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		link_why(lk, "cannot connect to the relay at %s: %.80s", lk->addr,
		    in != NULL ? (const char *)in : "refused");
		lws_set_opaque_user_data(wsi, NULL);
		if (lk->wsi == NULL) {		/* still inside relay_link_dial */
			lk->sync_fail = 1;
			return 0;
		}
		lk->wsi = NULL;
		link_free(lk);
		return 0;
	case LWS_CALLBACK_RAW_CLOSE:
		lws_set_opaque_user_data(wsi, NULL);
		lk->wsi = NULL;
		link_free(lk);
		return 0;
	default:
		return 0;
	}
}

struct relay_conn *
relay_link_dial(const char *addr, json_t *first, const struct relay_link_ops *ops,
    void *arg, char **cause)
{
	struct lws_client_connect_info ci;
	struct relay_link *lk;
	struct lws *wsi;
	char *host = NULL;
	uint8_t *enc = NULL;
	size_t enclen = 0;
	int port;

	if (!relay_link_ready()) {
		json_decref(first);
		*cause = strdup("this relay has no relay token (--relay-token)");
		return NULL;
	}
	if (addr == NULL || ph_hostport_parse(addr, &host, &port, cause) != 0 || port == 0) {
		json_decref(first);
		free(host);
		if (*cause == NULL)
			*cause = ph_asprintf("the other relay advertises no address");
		return NULL;
	}
	if ((lk = calloc(1, sizeof *lk)) == NULL) {
		json_decref(first);
		free(host);
		*cause = strdup("out of memory");
		return NULL;
	}
	snprintf(lk->addr, sizeof lk->addr, "%s", addr);
	snprintf(lk->host, sizeof lk->host, "%s", host);
	free(host);
	lk->port = port;
	lk->ops = ops;
	lk->arg = arg;
	lk->c.kind = RELAY_CONN_PEER;
	snprintf(lk->c.peer, sizeof lk->c.peer, "%s", addr);
	snprintf(lk->c.from, sizeof lk->c.from, "%s", addr);
	ph_msgbuf_init(&lk->c.rx, PH_MAX_MESSAGE);
	ph_queue_init(&lk->c.tx, RELAY_Q_LOW, RELAY_Q_HIGH, RELAY_Q_LIMIT);
	ph_queue_init(&lk->wire, 0, 0, 4 * PH_MAX_MESSAGE);
	ph_ws_rx_init(&lk->wsrx);
	/* The first message leads the queue: whatever the owner queues goes after it. */
	if (ph_ctl_encode(first, &enc, &enclen) != 0 ||
	    ph_queue_push(&lk->c.tx, -1, enc + PH_HEADROOM, enclen) != 0) {
		free(enc);
		json_decref(first);
		ph_queue_free(&lk->c.tx);
		ph_queue_free(&lk->wire);
		ph_msgbuf_free(&lk->c.rx);
		free(lk);
		*cause = strdup("cannot encode the first message");
		return NULL;
	}
	if (enc != NULL)
		OPENSSL_cleanse(enc, PH_HEADROOM + enclen);	/* it may hold a secret */
	free(enc);
	json_decref(first);
	memset(&ci, 0, sizeof ci);
	ci.context = relay.ctx;
	ci.vhost = relay.vh;
	ci.address = lk->host;
	ci.port = port;
	ci.host = lk->host;
	ci.origin = lk->host;
	ci.method = "RAW";
	ci.path = "";
	ci.protocol = RELAY_LINK_PROTOCOL;
	ci.local_protocol_name = RELAY_LINK_PROTOCOL;
	ci.opaque_user_data = lk;
	wsi = lws_client_connect_via_info(&ci);
	if (wsi == NULL || lk->sync_fail) {
		*cause = strdup(lk->why[0] != '\0' ? lk->why : "cannot start the connection");
		lk->ops = NULL;
		if (wsi == NULL || lk->sync_fail) {
			ph_queue_free(&lk->c.tx);
			ph_queue_free(&lk->wire);
			ph_msgbuf_free(&lk->c.rx);
			free(lk);
		}
		return NULL;
	}
	lk->wsi = wsi;
	lk->c.wsi = wsi;
	if (ph_queue_peek(&lk->wire) != NULL)
		lws_callback_on_writable(wsi);
	lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, RELAY_LINK_DIAL_SECS);
	return &lk->c;
}

int
relay_link_queue(struct relay_conn *c, const void *msg, size_t len)
{
	if (c->close_code != 0 || relay.dying || ph_queue_push(&c->tx, -1, msg, len) != 0)
		return -1;
	if (c->established)
		lws_callback_on_writable(c->wsi);
	return 0;
}

void
relay_link_detach(struct relay_conn *c)
{
	struct relay_link *lk = (struct relay_link *)c;

	lk->ops = NULL;
	if (lk->st == LINK_OPEN)
		relay_conn_close(c, PH_CLOSE_GOING_AWAY, "", 0);
	else if (lk->st != LINK_DONE)
		link_kill(lk);
}
