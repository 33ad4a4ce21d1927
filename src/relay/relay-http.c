/*
 * relay-http.c - the relay's plain HTTP endpoints on the WebSocket port:
 * GET /healthz ("ok"), GET /metrics (Prometheus text, relay-metrics.c),
 * GET /v1/agents (the
 * agents a client token may see, JSON, to a client that proves it holds
 * the token's key: listproof.h), GET /v1/version (the relay's version,
 * protocol and commit, JSON, no token: `porthole version` prints it), and
 * a JSON 404 for anything else.
 *
 * A response is built whole in memory (headers written at once, the body
 * kept in the connection with LWS_PRE bytes of headroom) and sent from
 * HTTP_WRITEABLE in pieces of at most 64 KiB, so that a listing of ten
 * thousand agents does not land in one socket write.  Works over HTTP/1.1
 * keep-alive and HTTP/2 alike.
 *
 * An HTTP connection is never admitted (relay-limits.c): it stays pending,
 * under --handshake-timeout from its last request.  Every piece written
 * restarts that deadline, so a long answer is cut only when its reader
 * stops taking it, not because the loop is slow: with ten thousand agents
 * the relay's loop serves a 2 MB /v1/agents in 64 KiB pieces between
 * their pings and took more than the 10 s default, and the shutdown cut
 * the answer short.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/listproof.h"
#include "porthole/log.h"
#include "porthole/util.h"
#include "porthole-commit.h"
#include "relay.h"
#include "relay-agent.h"
#include "relay-artifact.h"
#include "relay-audit.h"
#include "relay-auth.h"
#include "relay-conn.h"
#include "relay-endpoint.h"
#include "relay-fleet.h"
#include "porthole/selector.h"
#include "relay-limits.h"
#include "relay-metrics.h"

#define RELAY_HTTP_CHUNK	65536
#define RELAY_HTTP_TRIM		(1u << 20)	/* a body this large: malloc_trim after it */

/*
 * A response body (the connection's c->ep), LWS_PRE bytes of headroom in
 * front: the whole body in buf, or (rd set) an artifact's bytes read into
 * buf one piece at a time as the client takes them.
 */
struct relay_http_body {
	size_t	 len, off;
	struct relay_artifact_rd *rd;
	uint64_t total, sent;		/* rd: Content-Length, bytes written */
	uint8_t	 buf[];
};

static void
relay_http_body_free(struct relay_conn *c)
{
	struct relay_http_body *b = c->ep;
	int big = b != NULL && b->len >= RELAY_HTTP_TRIM;

	if (b != NULL)
		relay_artifact_close(b->rd);
	free(b);
	c->ep = NULL;
#ifdef __GLIBC__
	/*
	 * A large listing's pieces (the Redis reply, each agent parsed in
	 * turn, the body) are free again: hand their pages back, or the heap
	 * keeps its high-water mark (+3 KiB an agent at 30,000: bench/fleet-scale).
	 */
	if (big)
		malloc_trim(0);
#else
	(void)big;
#endif
}

/*
 * Queue a response whose body b (LWS_PRE bytes of headroom, b->len bytes,
 * taken whatever happens): status line and headers now, body from WRITEABLE.
 */
static int
relay_http_respond_body(struct relay_conn *c, struct lws *wsi, unsigned status,
    const char *type, struct relay_http_body *b, int challenge)
{
	uint8_t hdr[LWS_PRE + 1024], *start = hdr + LWS_PRE, *p = start;
	uint8_t *end = hdr + sizeof hdr - 1;

	relay_http_body_free(c);
	c->ep = b;
	b->off = 0;
	if (lws_add_http_common_headers(wsi, status, type, (lws_filepos_t)b->len, &p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
	    (const uint8_t *)"no-store", 8, &p, end) ||
	    (challenge && lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_WWW_AUTHENTICATE,
	    (const uint8_t *)"Bearer", 6, &p, end)) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	lws_callback_on_writable(wsi);
	return 0;
}

/* Queue a response with a copy of body. */
static int
relay_http_respond(struct relay_conn *c, struct lws *wsi, unsigned status,
    const char *type, const char *body, size_t len, int challenge)
{
	struct relay_http_body *b;

	if ((b = calloc(1, sizeof *b + LWS_PRE + len + 1)) == NULL)
		return -1;
	memcpy(b->buf + LWS_PRE, body, len);
	b->len = len;
	return relay_http_respond_body(c, wsi, status, type, b, challenge);
}

/* {"error": {"code": code, "message": message}} with the given status. */
static int
relay_http_error(struct relay_conn *c, struct lws *wsi, unsigned status,
    const char *code, const char *message)
{
	json_t *j;
	char *s;
	int r;

	j = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
	s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (s == NULL)
		return -1;
	r = relay_http_respond(c, wsi, status, "application/json", s, strlen(s),
	    status == 401);
	free(s);
	return r;
}

/*
 * Does the listing carry a proof of the token's key (listproof.h) for
 * this relay name, path and selector?  0, or -1 with *cause.
 */
static int
relay_http_proof(struct lws *wsi, const struct ph_claims *cl, const char *method,
    const char *path, const char *selector, char **cause)
{
	static const char name[] = "porthole-proof:";	/* lws keeps names in lower case */
	struct ph_listreq req;
	char proof[PH_LISTPROOF_MAX + 1], host[256];
	int n;

	proof[0] = '\0';
	n = lws_hdr_custom_length(wsi, name, (int)strlen(name));
	if (n > PH_LISTPROOF_MAX) {
		*cause = ph_asprintf("the %s header is longer than %d bytes",
		    PH_LISTPROOF_HEADER, PH_LISTPROOF_MAX);
		return -1;
	}
	if (n > 0 && lws_hdr_custom_copy(wsi, proof, (int)sizeof proof, name,
	    (int)strlen(name)) < 0)
		proof[0] = '\0';
	host[0] = '\0';
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HOST) >= (int)sizeof host ||
	    lws_hdr_copy(wsi, host, (int)sizeof host, WSI_TOKEN_HOST) < 0)
		host[0] = '\0';
	req.method = method;
	req.host = host;
	req.path = path;
	req.selector = selector;
	return ph_listproof_verify(cl, proof, &req, ph_now(), cause);
}

/*
 * A listing waiting for Redis.  Its connection may close first: then conn
 * is NULL and the answer is dropped.  The claims and selector are copied
 * (the request's headers are gone by the time Redis answers).
 */
struct relay_http_wait {
	struct relay_conn	*conn;
	struct lws		*wsi;
	json_t			*claims_agents;	/* what the token may see, by its claims */
	struct ph_claims	 cl;
	char			*selector;
	struct relay_http_body	*body;		/* the answer, once built */
	unsigned		 status;
	/* An artifact request waiting for the store (relay_artifact_refresh). */
	int			 artifact;	/* 1: serve it once status is set */
	int			 del;
	char			 id[RELAY_ARTIFACT_ID_LEN + 1];	/* "" for a listing */
	json_t			*audit;		/* a delete's, once it is done */
	struct relay_http_wait	*next;
};

static struct relay_http_wait *relay_http_waits;	/* loop-local: one thread */

static void
relay_http_wait_free(struct relay_http_wait *w)
{
	ph_claims_free(&w->cl);
	free(w->selector);
	free(w->body);
	json_decref(w->audit);
	free(w);
}

static void
relay_http_wait_unlink(struct relay_http_wait *w)
{
	struct relay_http_wait **pp;

	for (pp = &relay_http_waits; *pp != NULL; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			return;
		}
}

/*
 * A listing's body, written piece by piece into a relay_http_body that
 * grows by doubling: no JSON tree of every agent is ever held.
 */
struct relay_http_out {
	struct relay_http_body	*b;
	size_t			 cap;
	size_t			 n;		/* agents written */
	int			 oom;
};

static int
relay_http_put(struct relay_http_out *o, const char *p, size_t n)
{
	struct relay_http_body *nb;
	size_t len = o->b != NULL ? o->b->len : 0, cap;

	if (o->oom)
		return -1;
	if (o->b == NULL || len + n > o->cap) {
		for (cap = o->cap != 0 ? o->cap : 16384; cap < len + n; cap *= 2)
			;
		if ((nb = realloc(o->b, sizeof *nb + LWS_PRE + cap + 1)) == NULL) {
			o->oom = 1;
			return -1;
		}
		if (o->b == NULL)
			memset(nb, 0, sizeof *nb);
		o->b = nb;
		o->cap = cap;
	}
	memcpy(o->b->buf + LWS_PRE + len, p, n);
	o->b->len = len + n;
	return 0;
}

static int
relay_http_put_str(struct relay_http_out *o, const char *s)
{
	return relay_http_put(o, s, strlen(s));
}

/* One agent's object, after a comma if it is not the first. */
static int
relay_http_put_agent(struct relay_http_out *o, const char *json, size_t len)
{
	if ((o->n > 0 && relay_http_put(o, ",", 1) != 0) || relay_http_put(o, json, len) != 0)
		return -1;
	o->n++;
	return 0;
}

/* relay_agent_each's fn: a local agent. */
static int
relay_http_put_local(json_t *agent, void *arg)
{
	char *s = json_dumps(agent, JSON_COMPACT);
	int r;

	if (s == NULL)
		return -1;
	r = relay_http_put_agent(arg, s, strlen(s));
	free(s);
	return r;
}

/*
 * GET /v1/agents' answer: this relay's agents from memory, then (fleet)
 * the other relays' from Redis -- entries NULL: Redis did not answer, and
 * the listing says it is partial -- each filtered by the token and the
 * selector.  An entry from Redis is parsed on its own, checked, and copied
 * as it came (valid JSON: jansson refused anything else) when it passes;
 * one for an agent this relay holds is skipped (it moved here).  NULL with
 * *status 400 and *cause for a bad selector; NULL with *cause NULL: out of
 * memory.
 */
static struct relay_http_body *
relay_http_listing(const struct ph_claims *cl, const char *selector, int fleet,
    const struct relay_fleet_entry *entries, size_t n, unsigned *status, char **cause)
{
	struct relay_http_out o;
	json_t *j;
	size_t i;
	int m;

	memset(&o, 0, sizeof o);
	*status = 400;
	if (selector != NULL) {
		/* Checked once: a bad one is refused even where no agent is local. */
		if ((j = json_object()) == NULL)
			return NULL;
		m = ph_selector_match(selector, j, cause);
		json_decref(j);
		if (m < 0)
			return NULL;
	}
	*status = 500;
	if (relay_http_put_str(&o, "{\"agents\":[") != 0 ||
	    relay_agent_each(&relay.agents, cl, selector, relay_http_put_local, &o, cause) != 0)
		goto fail;
	for (i = 0; entries != NULL && i < n; i++) {
		const char *id;

		j = json_loadb(entries[i].json, entries[i].len, JSON_REJECT_DUPLICATES, NULL);
		id = json_string_value(json_object_get(j, "id"));
		m = json_is_object(j) && id != NULL &&
		    relay_agent_find(&relay.agents, id) == NULL && relay_auth_may_touch(cl, j);
		if (m && selector != NULL)
			m = ph_selector_match(selector, j, cause) > 0;
		json_decref(j);
		if (m && relay_http_put_agent(&o, entries[i].json, entries[i].len) != 0)
			goto fail;
	}
	if (relay_http_put_str(&o, !fleet ? "]}" : entries == NULL ? "],\"partial\":true}" :
	    "],\"partial\":false}") != 0)
		goto fail;
	*status = 200;
	return o.b;
fail:
	free(o.b);
	return NULL;
}

/* The string s (taken: freed) as a body; NULL when s is or memory runs out. */
static struct relay_http_body *
relay_http_str_body(char *s)
{
	struct relay_http_out o;

	memset(&o, 0, sizeof o);
	if (s == NULL || relay_http_put_str(&o, s) != 0) {
		free(s);
		free(o.b);
		return NULL;
	}
	free(s);
	return o.b;
}

/* {"error": {"code": code, "message": message}} as a body. */
static struct relay_http_body *
relay_http_error_body(const char *code, const char *message)
{
	json_t *j;
	char *s;

	j = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
	s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return relay_http_str_body(s);
}

/* Redis answered the fleet's listing (entries NULL: it did not). */
static void
relay_http_fleet_listed(const struct relay_fleet_entry *entries, size_t n, void *arg)
{
	struct relay_http_wait *w = arg;
	char *cause = NULL;

	if (w->conn == NULL) {
		relay_http_wait_unlink(w);
		relay_http_wait_free(w);
		return;
	}
	w->body = relay_http_listing(&w->cl, w->selector, 1, entries, n, &w->status, &cause);
	if (w->body == NULL && w->status == 400)
		w->body = relay_http_error_body("bad_request",
		    cause != NULL ? cause : "bad selector");
	free(cause);
	lws_callback_on_writable(w->wsi);
}

static int
relay_http_fleet_list(struct relay_conn *c, struct lws *wsi, struct ph_claims *cl,
    const char *selector)
{
	struct relay_http_wait *w;

	if ((w = calloc(1, sizeof *w)) == NULL)
		return -1;
	w->conn = c;
	w->wsi = wsi;
	w->cl = *cl;		/* taken: the caller's is zeroed */
	memset(cl, 0, sizeof *cl);
	if (selector != NULL && (w->selector = strdup(selector)) == NULL) {
		relay_http_wait_free(w);
		return -1;
	}
	w->next = relay_http_waits;
	relay_http_waits = w;
	/*
	 * No libwebsockets deadline while Redis answers: lws's own (5 s from
	 * the request) closed the connection of a 30,000-agent listing that
	 * Redis was still answering.  The wait stays bounded: Redis silent
	 * for 5 s is dropped (a partial answer), and the connection is still
	 * under --handshake-timeout (relay-limits.c).
	 */
	lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
	if (relay_fleet_list(relay_http_fleet_listed, w) != 0)
		relay_http_fleet_listed(NULL, 0, w);	/* Redis down: ours only, partial */
	return 0;
}

/* The wait of c, unlinked, or NULL. */
static struct relay_http_wait *
relay_http_wait_take(struct relay_conn *c, int ready_only)
{
	struct relay_http_wait **pp, *w;

	for (pp = &relay_http_waits; (w = *pp) != NULL; pp = &w->next) {
		if (w->conn != c || (ready_only && w->status == 0))
			continue;
		*pp = w->next;
		return w;
	}
	return NULL;
}

static int
relay_http_agents(struct relay_conn *c, struct lws *wsi)
{
	struct ph_claims cl;
	struct relay_http_body *body;
	char sel[1024], *cause = NULL;
	const char *selector;
	unsigned status;
	int refusal, r;

	relay_audit_from(wsi, c->peer, c->from, sizeof c->from);
	if (relay_auth_check(wsi, PH_TOKEN_CLIENT, &cl, &refusal, &cause) != 0) {
		relay_audit_refusal(c, PH_PATH_AGENTS, refusal == 403 ?
		    PH_ERR_FORBIDDEN : PH_ERR_UNAUTHORIZED, cause);
		r = relay_http_error(c, wsi, (unsigned)refusal, refusal == 403 ?
		    PH_ERR_FORBIDDEN : PH_ERR_UNAUTHORIZED, cause);
		free(cause);
		return r;
	}
	/* lws 4.1.6 returns a pointer into sel just past "selector=". */
	selector = lws_get_urlarg_by_name(wsi, "selector=", sel, (int)sizeof sel);
	if (selector != NULL && *selector == '\0')
		selector = NULL;
	if (relay_http_proof(wsi, &cl, "GET", PH_PATH_AGENTS, selector, &cause) != 0) {
		relay_audit_refusal(c, PH_PATH_AGENTS, PH_ERR_UNAUTHORIZED, cause);
		r = relay_http_error(c, wsi, 401, PH_ERR_UNAUTHORIZED, cause);
		free(cause);
		ph_claims_free(&cl);
		return r;
	}
	if (!ph_claims_allows(&cl, "ls")) {
		cause = ph_asprintf("token for %s lacks scope ls", cl.sub);
		relay_audit_refusal(c, PH_PATH_AGENTS, PH_ERR_FORBIDDEN, cause);
		r = relay_http_error(c, wsi, 403, PH_ERR_FORBIDDEN, cause);
		free(cause);
		ph_claims_free(&cl);
		return r;
	}
	if (relay_redis_on()) {
		/* The fleet's listing: answered from WRITEABLE once Redis replies. */
		r = relay_http_fleet_list(c, wsi, &cl, selector);
		ph_claims_free(&cl);
		return r;
	}
	body = relay_http_listing(&cl, selector, 0, NULL, 0, &status, &cause);
	ph_claims_free(&cl);
	if (body == NULL) {
		r = status == 400 ? relay_http_error(c, wsi, 400, "bad_request",
		    cause != NULL ? cause : "bad selector") : relay_http_error(c, wsi, 500,
		    PH_ERR_INTERNAL, "cannot build the listing");
		free(cause);
		return r;
	}
	return relay_http_respond_body(c, wsi, 200, "application/json", body, 0);
}

/* The body comes from relay-metrics.c. */
static int
relay_http_metrics(struct relay_conn *c, struct lws *wsi)
{
	char *body;
	size_t len;
	int r;

	if (relay_metrics_render(&body, &len) != 0)
		return relay_http_error(c, wsi, 500, PH_ERR_INTERNAL, "cannot render metrics");
	r = relay_http_respond(c, wsi, 200, "text/plain; version=0.0.4", body, len, 0);
	free(body);
	return r;
}

/* {"version", "protocol", "commit"} of this relay; asks for no token. */
static int
relay_http_version(struct relay_conn *c, struct lws *wsi)
{
	char	body[256];
	int	n;

	n = snprintf(body, sizeof body, "{\"version\":\"%s\",\"protocol\":%d,"
	    "\"commit\":\"%s\"}\n", PORTHOLE_VERSION, PH_PROTOCOL_VERSION,
	    PORTHOLE_COMMIT);
	if (n < 0 || (size_t)n >= sizeof body)
		return relay_http_error(c, wsi, 500, PH_ERR_INTERNAL, "version too long");
	return relay_http_respond(c, wsi, 200, "application/json", body,
	    (size_t)n, 0);
}

/*
 * The artifact store (relay-artifact.h), with the listing's proof of the
 * token's key over method, path and selector:
 *   GET /v1/artifacts[?selector=S]   {"artifacts": [metadata...]}   scope dump
 *   GET /v1/artifacts/ID             the stored bytes (one zstd stream) scope dump
 *   DELETE /v1/artifacts/ID          {"deleted": ID}          scope artifacts.rm
 * Only artifacts whose labels at capture the token's target matches exist
 * for it (404 otherwise, as for an id that never was).  Reads and deletes
 * are audited.
 */
static int	relay_http_artifacts_act(struct relay_conn *, struct lws *,
		    struct relay_http_wait *);

/* relay_artifact_refresh is done: serve w from WRITEABLE. */
static void
relay_http_artifacts_refreshed(void *arg)
{
	struct relay_http_wait *w = arg;

	if (w->conn == NULL) {
		relay_http_wait_unlink(w);
		relay_http_wait_free(w);
		return;
	}
	w->status = 1;
	lws_callback_on_writable(w->wsi);
}

/* A delete relay_artifact_rm finished later. */
static void
relay_http_artifact_removed(const char *err, void *arg)
{
	struct relay_http_wait *w = arg;

	if (err == NULL)
		relay_audit("artifact_deleted", json_incref(w->audit));
	if (w->conn == NULL) {
		relay_http_wait_unlink(w);
		relay_http_wait_free(w);
		return;
	}
	w->artifact = 0;	/* answered like a listing: body and status */
	if (err == NULL) {
		w->body = relay_http_str_body(ph_asprintf("{\"deleted\":\"%s\"}", w->id));
		w->status = 200;
	} else {
		w->body = relay_http_error_body(PH_ERR_INTERNAL, err);
		w->status = 500;
	}
	lws_callback_on_writable(w->wsi);
}

/*
 * An artifact's reader has bytes again: arg is the HTTP connection's wsi
 * (the reader is closed with the connection's body, before the wsi goes).
 */
static void
relay_http_artifact_readable(void *arg)
{
	lws_callback_on_writable(arg);
}

static int
relay_http_artifacts(struct relay_conn *c, struct lws *wsi, const char *path)
{
	struct ph_claims cl;
	struct relay_http_wait *w = NULL;
	const char	*id = NULL, *selector, *method, *scope;
	char		 sel[1024], *cause = NULL;
	int		 del, refusal, r;

	del = lws_hdr_total_length(wsi, WSI_TOKEN_DELETE_URI) > 0;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0 ||
	    lws_hdr_total_length(wsi, WSI_TOKEN_PUT_URI) > 0 ||
	    lws_hdr_total_length(wsi, WSI_TOKEN_PATCH_URI) > 0)
		return relay_http_error(c, wsi, 405, "method", "artifacts take GET "
		    "and DELETE");
	if (path[strlen(PH_PATH_ARTIFACTS)] == '/')
		id = path + strlen(PH_PATH_ARTIFACTS) + 1;
	if ((id == NULL && del) || (id != NULL && !relay_artifact_id_valid(id)))
		return relay_http_error(c, wsi, 404, "not_found", "no such artifact");
	method = del ? "DELETE" : "GET";
	scope = del ? "artifacts.rm" : "dump";
	relay_audit_from(wsi, c->peer, c->from, sizeof c->from);
	if (relay_auth_check(wsi, PH_TOKEN_CLIENT, &cl, &refusal, &cause) != 0) {
		relay_audit_refusal(c, PH_PATH_ARTIFACTS, refusal == 403 ?
		    PH_ERR_FORBIDDEN : PH_ERR_UNAUTHORIZED, cause);
		r = relay_http_error(c, wsi, (unsigned)refusal, refusal == 403 ?
		    PH_ERR_FORBIDDEN : PH_ERR_UNAUTHORIZED, cause);
		free(cause);
		return r;
	}
	selector = id == NULL ? lws_get_urlarg_by_name(wsi, "selector=", sel,
	    (int)sizeof sel) : NULL;
	if (selector != NULL && *selector == '\0')
		selector = NULL;
	if (relay_http_proof(wsi, &cl, method, path, selector, &cause) != 0) {
		relay_audit_refusal(c, PH_PATH_ARTIFACTS, PH_ERR_UNAUTHORIZED, cause);
		r = relay_http_error(c, wsi, 401, PH_ERR_UNAUTHORIZED, cause);
		goto out;
	}
	if (!ph_claims_allows(&cl, scope)) {
		cause = ph_asprintf("token for %s lacks scope %s", cl.sub, scope);
		relay_audit_refusal(c, PH_PATH_ARTIFACTS, PH_ERR_FORBIDDEN, cause);
		r = relay_http_error(c, wsi, 403, PH_ERR_FORBIDDEN, cause);
		goto out;
	}
	/*
	 * What the store holds now (S3: every relay's), then the request:
	 * at once, or from WRITEABLE once the listing is back.
	 */
	if ((w = calloc(1, sizeof *w)) == NULL ||
	    (selector != NULL && (w->selector = strdup(selector)) == NULL)) {
		if (w != NULL)
			relay_http_wait_free(w);
		r = -1;
		goto out;
	}
	w->conn = c;
	w->wsi = wsi;
	w->cl = cl;		/* taken */
	memset(&cl, 0, sizeof cl);
	w->artifact = 1;
	w->del = del;
	snprintf(w->id, sizeof w->id, "%s", id != NULL ? id : "");
	w->next = relay_http_waits;
	relay_http_waits = w;
	if (relay_artifact_refresh(relay_http_artifacts_refreshed, w) == 1) {
		r = 0;
		goto out;
	}
	relay_http_wait_unlink(w);
	r = relay_http_artifacts_act(c, wsi, w);
out:
	free(cause);
	ph_claims_free(&cl);
	return r;
}

/* The store's index is current: answer w (freed, or kept for a delete). */
static int
relay_http_artifacts_act(struct relay_conn *c, struct lws *wsi, struct relay_http_wait *w)
{
	struct relay_http_body *b;
	const char	*id = w->id[0] != '\0' ? w->id : NULL, *selector = w->selector;
	char		*cause = NULL, *s;
	json_t		*m, *doc;
	int		 del = w->del, r, rr;
	uint8_t		 hdr[LWS_PRE + 1024], *start = hdr + LWS_PRE, *p = start;
	uint8_t		*end = hdr + sizeof hdr - 1;

	if (id == NULL) {
		if ((doc = relay_artifact_list(&w->cl, selector, &cause)) == NULL) {
			r = relay_http_error(c, wsi, 400, "bad_request",
			    cause != NULL ? cause : "bad selector");
			goto out;
		}
		doc = json_pack("{s:o}", "artifacts", doc);
		s = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
		json_decref(doc);
		r = s != NULL ? relay_http_respond(c, wsi, 200, "application/json", s,
		    strlen(s), 0) : -1;
		free(s);
		goto out;
	}
	if ((m = relay_artifact_get(&w->cl, id)) == NULL) {
		r = relay_http_error(c, wsi, 404, "not_found", "no such artifact");
		goto out;
	}
	doc = json_pack("{s:s, s:O, s:s, s:s}", "artifact", id, "agent",
	    json_object_get(m, "agent"), "sub", w->cl.sub != NULL ? w->cl.sub : "?",
	    "from", c->from);
	if (del) {
		if ((rr = relay_artifact_rm(id, relay_http_artifact_removed, w,
		    &cause)) < 0) {
			json_decref(doc);
			r = relay_http_error(c, wsi, 500, PH_ERR_INTERNAL, cause);
			goto out;
		}
		if (rr == 1) {		/* relay_http_artifact_removed answers */
			w->status = 0;	/* not ready: neither written nor dropped */
			w->audit = doc;
			w->next = relay_http_waits;
			relay_http_waits = w;
			free(cause);
			return 0;
		}
		relay_audit("artifact_deleted", doc);
		s = ph_asprintf("{\"deleted\":\"%s\"}", id);
		r = relay_http_respond(c, wsi, 200, "application/json", s, strlen(s), 0);
		free(s);
		goto out;
	}
	relay_audit("artifact_read", doc);
	relay_http_body_free(c);
	if ((c->ep = b = calloc(1, sizeof *b + LWS_PRE + RELAY_HTTP_CHUNK)) == NULL ||
	    (b->rd = relay_artifact_open(id, relay_http_artifact_readable, wsi,
	    &cause)) == NULL) {
		relay_http_body_free(c);
		r = relay_http_error(c, wsi, 500, PH_ERR_INTERNAL,
		    cause != NULL ? cause : "out of memory");
		goto out;
	}
	b->total = (uint64_t)json_integer_value(json_object_get(m, "stored_bytes"));
	r = 0;
	if (lws_add_http_common_headers(wsi, 200, "application/zstd",
	    (lws_filepos_t)b->total, &p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
	    (const uint8_t *)"no-store", 8, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		r = -1;
	else
		lws_callback_on_writable(wsi);
out:
	free(cause);
	relay_http_wait_free(w);
	return r;
}

/* A jti as the path of POST /v1/revoked carries it: 1..256 of [A-Za-z0-9._~-]. */
static int
relay_http_jti_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 256)
		return 0;
	for (i = 0; i < n; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || strchr("._~-", s[i]) != NULL))
			return 0;
	}
	return 1;
}

/*
 * POST /v1/revoked/JTI/UNTIL (porthole token revoke), scope revoke, with the
 * proof of the token's key over method and path: the token with that jti is
 * refused from now on until UNTIL (Unix seconds; 0: as long as a token may
 * live here), by every relay of the fleet (relay-revoke.c).  Audited.
 *   {"revoked": JTI, "until": UNIX, "where": "redis"|"file"}
 */
static int
relay_http_revoke(struct relay_conn *c, struct lws *wsi, const char *path)
{
	struct ph_claims cl;
	const char	*p = path + strlen(PH_PATH_REVOKED) + 1, *slash, *where = NULL;
	char		 jti[257], *cause = NULL, *s, *end;
	long long	 until;
	int64_t		 at = 0;
	int		 refusal, status, r;
	json_t		*doc;

	if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) <= 0)
		return relay_http_error(c, wsi, 405, "method", "revocations take POST");
	slash = strchr(p, '/');
	if (slash == NULL || !relay_http_jti_ok(p, (size_t)(slash - p)) ||
	    slash[1] == '\0' || strspn(slash + 1, "0123456789") != strlen(slash + 1) ||
	    strlen(slash + 1) > 12)
		return relay_http_error(c, wsi, 400, "bad_request", "want POST "
		    PH_PATH_REVOKED "/JTI/UNTIL (JTI of [A-Za-z0-9._~-], UNTIL Unix "
		    "seconds or 0)");
	snprintf(jti, sizeof jti, "%.*s", (int)(slash - p), p);
	until = strtoll(slash + 1, &end, 10);
	relay_audit_from(wsi, c->peer, c->from, sizeof c->from);
	if (relay_auth_check(wsi, PH_TOKEN_CLIENT, &cl, &refusal, &cause) != 0) {
		relay_audit_refusal(c, PH_PATH_REVOKED, refusal == 403 ?
		    PH_ERR_FORBIDDEN : PH_ERR_UNAUTHORIZED, cause);
		r = relay_http_error(c, wsi, (unsigned)refusal, refusal == 403 ?
		    PH_ERR_FORBIDDEN : PH_ERR_UNAUTHORIZED, cause);
		free(cause);
		return r;
	}
	if (relay_http_proof(wsi, &cl, "POST", path, NULL, &cause) != 0) {
		relay_audit_refusal(c, PH_PATH_REVOKED, PH_ERR_UNAUTHORIZED, cause);
		r = relay_http_error(c, wsi, 401, PH_ERR_UNAUTHORIZED, cause);
		goto out;
	}
	if (!ph_claims_allows(&cl, "revoke")) {
		cause = ph_asprintf("token for %s lacks scope revoke (an admin scope: "
		    "issue one with --scope ...,revoke)", cl.sub);
		relay_audit_refusal(c, PH_PATH_REVOKED, PH_ERR_FORBIDDEN, cause);
		r = relay_http_error(c, wsi, 403, PH_ERR_FORBIDDEN, cause);
		goto out;
	}
	if (relay_revoke_record(jti, (int64_t)until, &at, &where, &status, &cause) != 0) {
		r = relay_http_error(c, wsi, (unsigned)status, status == 507 ? "full" :
		    status == 409 ? "conflict" : status == 400 ? "bad_request" :
		    PH_ERR_INTERNAL, cause);
		goto out;
	}
	doc = json_pack("{s:s, s:I, s:s, s:s, s:s}", "jti", jti, "until", (json_int_t)at,
	    "where", where, "sub", cl.sub != NULL ? cl.sub : "?", "from", c->from);
	relay_audit("token_revoked", doc);
	ph_info("token %s revoked by %s until %lld (%s)", jti, cl.sub != NULL ? cl.sub :
	    "?", (long long)at, where);
	s = ph_asprintf("{\"revoked\":\"%s\",\"until\":%lld,\"where\":\"%s\"}\n", jti,
	    (long long)at, where);
	r = s != NULL ? relay_http_respond(c, wsi, 200, "application/json", s,
	    strlen(s), 0) : -1;
	free(s);
out:
	free(cause);
	ph_claims_free(&cl);
	return r;
}

/* LWS_CALLBACK_HTTP: path is the request path (no query).  -1 closes. */
static int
relay_http_request(struct relay_conn *c, struct lws *wsi, const char *path)
{
	char msg[300];

	if (c->peer[0] == '\0') {
		if (lws_get_peer_simple(wsi, c->peer, sizeof c->peer) == NULL)
			snprintf(c->peer, sizeof c->peer, "?");
	}
	/* The artifacts take GET and DELETE; everything else GET only. */
	if (strncmp(path, PH_PATH_ARTIFACTS, strlen(PH_PATH_ARTIFACTS)) == 0 &&
	    (path[strlen(PH_PATH_ARTIFACTS)] == '\0' ||
	    path[strlen(PH_PATH_ARTIFACTS)] == '/'))
		return relay_http_artifacts(c, wsi, path);
	/* Revocations take POST (token revoke). */
	if (strncmp(path, PH_PATH_REVOKED "/", strlen(PH_PATH_REVOKED) + 1) == 0)
		return relay_http_revoke(c, wsi, path);
	if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0 ||
	    lws_hdr_total_length(wsi, WSI_TOKEN_PUT_URI) > 0 ||
	    lws_hdr_total_length(wsi, WSI_TOKEN_PATCH_URI) > 0 ||
	    lws_hdr_total_length(wsi, WSI_TOKEN_DELETE_URI) > 0)
		return relay_http_error(c, wsi, 405, "method", "only GET is served here");
	if (strcmp(path, PH_PATH_HEALTHZ) == 0) {
		if (relay.shutting_down)
			return relay_http_respond(c, wsi, 503, "text/plain",
			    "shutting down\n", 14, 0);
		return relay_http_respond(c, wsi, 200, "text/plain", "ok\n", 3, 0);
	}
	if (strcmp(path, PH_PATH_METRICS) == 0)
		return relay_http_metrics(c, wsi);
	if (strcmp(path, PH_PATH_AGENTS) == 0)
		return relay_http_agents(c, wsi);
	if (strcmp(path, PH_PATH_VERSION) == 0)
		return relay_http_version(c, wsi);
	snprintf(msg, sizeof msg, "nothing at %.256s", path);
	return relay_http_error(c, wsi, 404, "not_found", msg);
}

/* WRITEABLE of an artifact's body: its next piece, read now. */
static int
relay_http_stream(struct relay_conn *c, struct lws *wsi, struct relay_http_body *b)
{
	uint64_t	left = b->total - b->sent;
	size_t		want = left > RELAY_HTTP_CHUNK ? RELAY_HTTP_CHUNK : (size_t)left;
	ssize_t		n = want > 0 ? relay_artifact_read(b->rd, b->buf + LWS_PRE, want) : 0;
	int		final;

	if (n == -2)
		return 0;	/* relay_http_artifact_readable calls again */
	if (n < 0 || (n == 0 && want > 0))
		return -1;	/* cut: the client sees fewer bytes than announced */
	final = (uint64_t)n == left;
	if (lws_write(wsi, b->buf + LWS_PRE, (size_t)n,
	    final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
		return -1;
	b->sent += (uint64_t)n;
	relay_artifact_served((uint64_t)n);
	relay_limits_touch(wsi);
	if (!final) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	relay_http_body_free(c);
	if (lws_http_transaction_completed(wsi))
		return -1;
	return 0;
}

/* LWS_CALLBACK_HTTP_WRITEABLE: the next piece of the body. */
static int
relay_http_writeable(struct relay_conn *c, struct lws *wsi)
{
	struct relay_http_body *b = c->ep;
	size_t left, n;
	int final;

	if (b == NULL) {
		struct relay_http_wait *w = relay_http_wait_take(c, 1);
		int r;

		if (w == NULL)
			return 0;
		if (w->artifact)
			return relay_http_artifacts_act(c, wsi, w);
		r = w->body == NULL ? relay_http_error(c, wsi, 500, PH_ERR_INTERNAL,
		    "cannot build the listing") : relay_http_respond_body(c, wsi, w->status,
		    "application/json", w->body, 0);
		w->body = NULL;		/* taken */
		relay_http_wait_free(w);
		return r;
	}
	if (b->rd != NULL)
		return relay_http_stream(c, wsi, b);
	left = b->len - b->off;
	n = left > RELAY_HTTP_CHUNK ? RELAY_HTTP_CHUNK : left;
	final = n == left;
	/*
	 * The LWS_PRE bytes before this piece are headroom at the start, or
	 * body bytes already sent, which lws may overwrite (h2 frame header).
	 */
	if (lws_write(wsi, b->buf + LWS_PRE + b->off, n,
	    final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
		return -1;
	b->off += n;
	relay_limits_touch(wsi);	/* progress, not a stalled handshake */
	if (!final) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	relay_http_body_free(c);
	if (lws_http_transaction_completed(wsi))
		return -1;
	return 0;
}

static void
relay_http_closed(struct relay_conn *c)
{
	struct relay_http_wait *w;

	relay_http_body_free(c);
	/* A listing still waiting for Redis: its callback frees it. */
	for (w = relay_http_waits; w != NULL; w = w->next)
		if (w->conn == c)
			w->conn = NULL;
	/* One already answered: nobody will write it. */
	while ((w = relay_http_wait_take(NULL, 1)) != NULL)
		relay_http_wait_free(w);
}

const struct relay_endpoint relay_http_endpoint = {
	.what = "request",
	.token = PH_TOKEN_CLIENT,
	.request = relay_http_request,
	.writeable = relay_http_writeable,
	.closed = relay_http_closed,
};
