/*
 * client-http.c - the CLI's one HTTP request: GET /v1/agents (with
 * ?selector= and the proof of the token's key, listproof.h), run on the
 * connection's loop until the answer is in.  The body is bounded
 * (HTTP_BODY_MAX, refused early from its Content-Length), a body cut short
 * is called truncated, and the relay's error bodies become the sentences
 * the CLI prints: 401 and 403 say what to do about the token, anything
 * else asks whether PORTHOLE_RELAY is a porthole relay.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>
#include <openssl/crypto.h>

#include "porthole/duration.h"
#include "porthole/listproof.h"
#include "porthole/protocol.h"
#include "porthole/util.h"

#include "client-conn.h"
#include "client-conn-priv.h"
#include "client-http.h"
#include "client-sign.h"

#define HTTP_BODY_MAX		(16u << 20)	/* largest /v1/agents answer */
#define HTTP_GET_TIMEOUT_MS	30000		/* whole GET, connect included */

/* One GET /v1/agents in flight. */
struct http_get {
	struct conn_link	 link;		/* first: lws opaque points here */
	struct client_conn	*cc;
	struct lws		*wsi;		/* NULL once closed */
	int			 status;	/* HTTP status, 0: none yet */
	char			*body;
	size_t			 len, cap;
	long long		 clen;		/* Content-Length, -1: none */
	char			*proof;		/* Porthole-Proof value, or NULL */
	int			 done;
	char			*cause;		/* failure sentence */
	lws_sorted_usec_list_t	 sul;		/* overall timeout */
};

/* Add "Authorization: Bearer TOKEN" to a handshake. */
static int
http_add_auth(struct lws *wsi, struct client_conn *cc, void *in, size_t len)
{
	unsigned char	**p = in, *end = *p + len;
	char		 *v;
	int		  r;

	v = ph_asprintf("Bearer %s", cc->conf->token);
	r = lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
	    (unsigned char *)v, (int)strlen(v), p, end);
	OPENSSL_cleanse(v, strlen(v));
	free(v);
	return r != 0 ? -1 : 0;
}

/* --- HTTP GET ---------------------------------------------------------- */

static int
http_append(struct http_get *g, const void *p, size_t n)
{
	size_t	 want;
	char	*nb;

	if (n > HTTP_BODY_MAX - g->len) {
		g->cause = ph_asprintf("the relay's agent list is larger than "
		    "%u MiB: narrow it with a selector", HTTP_BODY_MAX >> 20);
		return -1;
	}
	if (g->len + n + 1 > g->cap) {
		want = g->cap != 0 ? g->cap : 16384;
		while (want < g->len + n + 1)
			want *= 2;
		if ((nb = realloc(g->body, want)) == NULL) {
			g->cause = ph_asprintf("out of memory reading the agent list");
			return -1;
		}
		g->body = nb;
		g->cap = want;
	}
	memcpy(g->body + g->len, p, n);
	g->len += n;
	g->body[g->len] = '\0';
	return 0;
}

/*
 * ESTABLISHED_CLIENT_HTTP: note the Content-Length the relay announced, so
 * a body cut short is called truncated rather than bad JSON; refuse one
 * larger than HTTP_BODY_MAX before reading any of it.
 */
static int
http_length(struct http_get *g, struct lws *wsi)
{
	char	 v[32], *end;

	g->clen = -1;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0 ||
	    lws_hdr_copy(wsi, v, sizeof v, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
		return 0;
	errno = 0;
	g->clen = strtoll(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || g->clen < 0) {
		g->cause = ph_asprintf("the relay sent a bad Content-Length "
		    "(%.31s): is PORTHOLE_RELAY a porthole relay?", v);
		return -1;
	}
	if (g->clen > (long long)HTTP_BODY_MAX) {
		g->cause = ph_asprintf("the relay's agent list is %lld bytes, "
		    "more than %u MiB: narrow it with a selector", g->clen,
		    HTTP_BODY_MAX >> 20);
		return -1;
	}
	return 0;
}

/* The body is over: NULL if whole, else why it is not (malloc'd). */
static char *
http_short(struct http_get *g)
{
	if (g->clen < 0 || (long long)g->len == g->clen)
		return NULL;
	return ph_asprintf("the relay's answer to GET %s was truncated: %zu of "
	    "%lld bytes arrived: try again, and check the relay's log",
	    PH_PATH_AGENTS, g->len, g->clen);
}

static void
http_finish(struct http_get *g, char *cause)
{
	if (g->done) {
		free(cause);
		return;
	}
	g->done = 1;
	if (g->cause == NULL)
		g->cause = cause;
	else
		free(cause);
}

int
client_http_callback(struct lws *wsi, enum lws_callback_reasons reason,
    void *user, void *in, size_t len)
{
	struct client_conn	*cc;
	struct http_get		*g;
	char			 buf[LWS_PRE + 16384], *px;
	int			 lenx;

	if (wsi == NULL)
		return 0;
	cc = lws_context_user(lws_get_context(wsi));
	g = lws_get_opaque_user_data(wsi);
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		if (g == NULL)
			return -1;
		if (http_add_auth(wsi, cc, in, len) != 0) {
			g->cause = ph_asprintf("the token is too long for a request "
			    "header: issue a shorter one");
			return -1;
		}
		if (g->proof != NULL && lws_add_http_header_by_name(wsi,
		    (const unsigned char *)"porthole-proof:",
		    (const unsigned char *)g->proof, (int)strlen(g->proof),
		    (unsigned char **)in, *(unsigned char **)in + len) != 0) {
			g->cause = ph_asprintf("no room for the %s header",
			    PH_LISTPROOF_HEADER);
			return -1;
		}
		return 0;
	case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
		if (g != NULL) {
			g->status = (int)lws_http_client_http_response(wsi);
			if (http_length(g, wsi) != 0) {
				g->done = 1;
				return -1;
			}
		}
		return 0;
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP:
		px = buf + LWS_PRE;
		lenx = (int)(sizeof buf - LWS_PRE);
		if (lws_http_client_read(wsi, &px, &lenx) < 0)
			return -1;
		return 0;
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
		if (g == NULL || g->done)
			return -1;
		if (http_append(g, in, len) != 0) {
			g->done = 1;
			return -1;
		}
		return 0;
	case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
		if (g != NULL)
			http_finish(g, http_short(g));
		return -1;	/* one request per connection: close it */
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (g != NULL) {
			g->wsi = NULL;
			http_finish(g, client_conn_connect_cause(cc, wsi, &g->link,
			    in, len));
		}
		return 0;
	case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
		if (g != NULL) {
			g->wsi = NULL;
			if (!g->done && g->status != 0 &&
			    (g->len != 0 || g->clen >= 0))
				/* Without Content-Length the body ends at close. */
				http_finish(g, http_short(g));
			else
				http_finish(g, ph_asprintf("the relay at %s "
				    "closed the connection before answering: is "
				    "PORTHOLE_RELAY a porthole relay?",
				    cc->conf->relay));
			lws_set_opaque_user_data(wsi, NULL);
		}
		return 0;
	default:
		return 0;
	}
}

static void
http_timeout(lws_sorted_usec_list_t *sul)
{
	struct http_get	*g = lws_container_of(sul, struct http_get, sul);
	char		 t[PH_DURATION_FMT_MAX];

	http_finish(g, ph_asprintf("the relay at %s did not answer within "
	    "%s: check PORTHOLE_RELAY and the network path", g->cc->conf->relay,
	    ph_duration_fmt(HTTP_GET_TIMEOUT_MS, t, sizeof t)));
}

/* Percent-encode what a query value must not carry raw. */
static char *
http_query_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char	*out, *o;

	out = o = malloc(strlen(s) * 3 + 1);
	if (out == NULL)
		return NULL;
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || strchr("-._~=,/:", ch) != NULL)
			*o++ = (char)ch;
		else {
			*o++ = '%';
			*o++ = hex[ch >> 4];
			*o++ = hex[ch & 15];
		}
	}
	*o = '\0';
	return out;
}

json_t *
client_http_agents(struct client_conn *cc, const char *selector,
    char **cause)
{
	return client_http_agents_partial(cc, selector, NULL, cause);
}

json_t *
client_http_agents_partial(struct client_conn *cc, const char *selector, int *partial,
    char **cause)
{
	struct lws_client_connect_info	 ci;
	struct http_get			 g;
	json_t				*j = NULL, *agents;
	char				*path, *esc, *msg;

	memset(&g, 0, sizeof g);
	g.cc = cc;
	g.clen = -1;
	if (selector != NULL && *selector != '\0') {
		if ((esc = http_query_escape(selector)) == NULL) {
			*cause = ph_asprintf("out of memory");
			return NULL;
		}
		path = ph_asprintf("%s?selector=%s", PH_PATH_AGENTS, esc);
		free(esc);
	} else
		path = ph_asprintf("%s", PH_PATH_AGENTS);
	/* A token alone lists nothing: prove we hold its key (listproof.h). */
	g.proof = client_sign_list(cc->conf, PH_PATH_AGENTS, selector, cause);
	if (g.proof == NULL && *cause != NULL) {
		free(path);
		return NULL;
	}

	client_conn_ccinfo(cc, &ci);
	ci.path = path;
	ci.method = "GET";
	ci.protocol = CLIENT_CONN_HTTP_PROTOCOL;
	ci.local_protocol_name = CLIENT_CONN_HTTP_PROTOCOL;
	ci.opaque_user_data = &g;
	ci.pwsi = &g.wsi;

	lws_sul_schedule(cc->ctx, 0, &g.sul, http_timeout,
	    (lws_usec_t)HTTP_GET_TIMEOUT_MS * LWS_US_PER_MS);
	if (lws_client_connect_via_info(&ci) == NULL && !g.done)
		http_finish(&g, ph_asprintf("cannot start a connection to "
		    "the relay at %s: check PORTHOLE_RELAY", cc->conf->relay));
	while (!g.done) {
		if (lws_service(cc->ctx, 0) < 0) {
			http_finish(&g, ph_asprintf("the event loop failed"));
			break;
		}
	}
	lws_sul_cancel(&g.sul);
	if (g.wsi != NULL) {
		/* Still open (failed mid-way): forget us, close it. */
		lws_set_opaque_user_data(g.wsi, NULL);
		lws_set_timeout(g.wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		g.wsi = NULL;
	}
	free(path);
	free(g.proof);

	if (g.cause != NULL) {
		*cause = g.cause;
		goto out;
	}
	if (g.status != 200) {
		msg = client_conn_error_body(g.body, g.len);
		if (g.status == 401)
			*cause = ph_asprintf("the relay refused the token: %s: "
			    "check PORTHOLE_TOKEN, or issue a new one with "
			    "'porthole token issue'",
			    msg != NULL ? msg : "HTTP 401");
		else if (g.status == 403)
			*cause = ph_asprintf("the token may not list agents: %s: "
			    "ask for a token whose scope includes ls",
			    msg != NULL ? msg : "HTTP 403");
		else
			*cause = ph_asprintf("the relay answered HTTP %d to GET "
			    "%s%s%s: is PORTHOLE_RELAY a porthole relay?",
			    g.status, PH_PATH_AGENTS, msg != NULL ? ": " : "",
			    msg != NULL ? msg : "");
		free(msg);
		goto out;
	}
	j = json_loadb(g.body != NULL ? g.body : "", g.len, 0, NULL);
	agents = json_object_get(j, "agents");
	if (!json_is_array(agents)) {
		*cause = ph_asprintf("the relay's agent list is not the JSON it "
		    "should be: are the relay and porthole the same version?");
		goto out;
	}
	if (partial != NULL)
		*partial = json_is_true(json_object_get(j, "partial"));
	json_incref(agents);
	json_decref(j);
	free(g.body);
	return agents;
out:
	json_decref(j);
	free(g.body);
	return NULL;
}
