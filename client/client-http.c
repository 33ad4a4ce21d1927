/*
 * client-http.c - the CLI's one HTTP client (see client-http.h) and its
 * uses with a token: the listing, GET /v1/agents with ?selector= and the
 * proof of the token's key (listproof.h), and any request of the artifact
 * store with the proof over its method and path (client_http_request).
 *
 * The request goes out once the transport's TLS is up; the answer is fed
 * to client-httpparse.c as it comes, and the connection is dropped once
 * it is complete (one request per connection).  One deadline covers
 * connect, TLS, request and answer.  The relay's error bodies become the
 * sentences the CLI prints: 401 and 403 say what to do about the token,
 * anything else asks whether PORTHOLE_RELAY is a porthole relay.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "porthole/duration.h"
#include "porthole/jsonfmt.h"
#include "porthole/listproof.h"
#include "porthole/printable.h"
#include "porthole/protocol.h"
#include "porthole/util.h"

#include "client-conn.h"
#include "client-http.h"
#include "client-httpparse.h"
#include "client-loop.h"
#include "client-sign.h"
#include "client-transport.h"

#define HTTP_BODY_MAX		(16u << 20)	/* largest /v1/agents answer */
#define HTTP_GET_TIMEOUT_MS	30000		/* whole GET, connect included */

/* --- one GET on a transport ------------------------------------------------- */

struct http_get {
	struct client_conn		*cc;
	const struct client_http_req	*req;
	struct client_http_parser	*hp;
	struct client_transport		*t;
	struct client_loop_timer	 deadline;
	volatile int			 done;
	char				*cause;
};

static void
http_finish(struct http_get *g, char *cause)
{
	if (g->done) {
		free(cause);
		return;
	}
	g->done = 1;
	g->cause = cause;
	client_loop_timer(g->cc->loop, &g->deadline, -1, NULL, NULL);
}

/* TLS is up: send the request. */
static int
http_t_up(void *arg)
{
	struct http_get		*g = arg;
	struct client_conf	*conf = g->cc->conf;
	char			*req, *auth = NULL;
	int			 v6 = strchr(conf->host, ':') != NULL, r;

	if (g->req->auth)
		auth = ph_asprintf("Authorization: Bearer %s\r\n", conf->token);
	req = ph_asprintf("%s %s HTTP/1.1\r\nHost: %s%s%s:%d\r\nUser-Agent: "
	    "porthole/%s\r\nAccept: application/json\r\n%s%sConnection: "
	    "close\r\n\r\n", g->req->method != NULL ? g->req->method : "GET",
	    g->req->path, v6 ? "[" : "", conf->host,
	    v6 ? "]" : "", conf->port, PORTHOLE_VERSION,
	    auth != NULL ? auth : "",
	    g->req->headers != NULL ? g->req->headers : "");
	r = client_transport_send(g->t, req, strlen(req));
	OPENSSL_cleanse(req, strlen(req));
	free(req);
	if (auth != NULL) {
		OPENSSL_cleanse(auth, strlen(auth));
		free(auth);
	}
	if (r != 0) {
		http_finish(g, ph_asprintf("TLS failed encrypting the request "
		    "for %s", g->req->path));
		return -1;
	}
	return 0;
}

static void http_timeout(void *arg);

static int
http_t_plain(void *arg, const uint8_t *p, size_t n)
{
	struct http_get	*g = arg;
	char		*cause = NULL;
	int		 r;

	if (g->done)
		return -1;
	if (g->hp->sinking)	/* a download: the deadline runs from its last bytes */
		client_loop_timer(g->cc->loop, &g->deadline, g->req->timeout_ms,
		    http_timeout, g);
	if ((r = client_http_parse(g->hp, p, n, &cause)) < 0) {
		http_finish(g, cause);
		return -1;
	}
	if (r > 0) {
		http_finish(g, NULL);
		return -1;	/* one request per connection: hang up */
	}
	return 0;
}

static int
http_t_sent(void *arg)
{
	(void)arg;
	return 0;
}

static void
http_t_closed(void *arg, int connected, const char *ended)
{
	struct http_get	*g = arg;
	char		*cause = NULL;

	(void)ended;
	if (g->done)
		return;
	if (!connected || client_transport_cause(g->t) != NULL) {
		http_finish(g, strdup(client_transport_cause(g->t)));
		return;
	}
	if (client_http_parse_end(g->hp, &cause) > 0)
		http_finish(g, NULL);
	else
		http_finish(g, cause != NULL ? cause : ph_asprintf("the relay at "
		    "%s closed the connection before answering: is PORTHOLE_RELAY "
		    "a porthole relay?", g->cc->conf->relay));
}

static const struct client_transport_ops http_transport_ops = {
	.up = http_t_up,
	.plain = http_t_plain,
	.sent = http_t_sent,
	.closed = http_t_closed,
};

static void
http_timeout(void *arg)
{
	struct http_get	*g = arg;
	char		 t[PH_DURATION_FMT_MAX];

	http_finish(g, ph_asprintf("the relay at %s did not answer within "
	    "%s: check PORTHOLE_RELAY and the network path", g->cc->conf->relay,
	    ph_duration_fmt(g->req->timeout_ms, t, sizeof t)));
}

int
client_http_get(struct client_conn *cc, const struct client_http_req *req,
    struct client_http_parser *hp, char **cause)
{
	struct http_get	 g;

	memset(&g, 0, sizeof g);
	g.cc = cc;
	g.req = req;
	g.hp = hp;
	client_http_parser_init(hp, req);
	if ((g.t = client_transport_new(cc, &http_transport_ops, &g, 0,
	    SIZE_MAX, SIZE_MAX)) == NULL) {
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	client_loop_timer(cc->loop, &g.deadline, req->timeout_ms, http_timeout,
	    &g);
	if (client_transport_connect(g.t, cause) != 0) {
		client_loop_timer(cc->loop, &g.deadline, -1, NULL, NULL);
		client_transport_free(g.t);
		return -1;
	}
	if (client_loop_run(cc->loop, &g.done) != 0)
		http_finish(&g, ph_asprintf("the event loop failed"));
	client_transport_free(g.t);
	if (g.cause != NULL) {
		*cause = g.cause;
		client_http_parser_free(hp);
		return -1;
	}
	return 0;
}

/* --- the listing -------------------------------------------------------------- */

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

/* A listing's answer other than 200: why, in words (malloc'd). */
static char *
http_agents_refused(struct client_http_parser *hp)
{
	char	*msg, *cause;

	msg = client_conn_error_body(hp->body, hp->len);
	if (hp->status == 401)
		cause = ph_asprintf("the relay refused the token: %s: "
		    "check PORTHOLE_TOKEN, or issue a new one with "
		    "'porthole token issue'",
		    msg != NULL ? msg : "HTTP 401");
	else if (hp->status == 403)
		cause = ph_asprintf("the token may not list agents: %s: "
		    "ask for a token whose scope includes ls",
		    msg != NULL ? msg : "HTTP 403");
	else
		cause = ph_asprintf("the relay answered HTTP %d to GET "
		    "%s%s%s: is PORTHOLE_RELAY a porthole relay?",
		    hp->status, PH_PATH_AGENTS, msg != NULL ? ": " : "",
		    msg != NULL ? msg : "");
	free(msg);
	return cause;
}

static char *
http_agents_not_json(void)
{
	return ph_asprintf("the relay's agent list is not the JSON it "
	    "should be: are the relay and porthole the same version?");
}

/* The listing's answer is in: its agents, or why not. */
static json_t *
http_agents_answer(struct client_http_parser *hp, int *partial, char **cause)
{
	json_t	*j, *agents;

	if (hp->status != 200) {
		*cause = http_agents_refused(hp);
		return NULL;
	}
	j = json_loadb(hp->body != NULL ? hp->body : "", hp->len, 0, NULL);
	agents = json_incref(json_object_get(j, "agents"));
	if (partial != NULL)
		*partial = json_is_true(json_object_get(j, "partial"));
	json_decref(j);
	if (!json_is_array(agents)) {
		json_decref(agents);
		*cause = http_agents_not_json();
		return NULL;
	}
	return agents;
}

/*
 * The listing's answer as text: its "agents" array checked and indented
 * as the second level of a document (jsonfmt.h), with no tree of every
 * agent built.  The document must be an object; keys other than "agents"
 * and "partial" are checked and skipped; a repeated key counts last.
 */
static char *
http_agents_answer_text(struct client_http_parser *hp, int *partial, char **cause)
{
	struct ph_jsonfmt	 agents;
	const char		*b = hp->body != NULL ? hp->body : "";
	size_t			 n = hp->len, i, k0;
	long			 k, v;
	int			 seen = 0;
	char			*why = NULL;

	if (hp->status != 200) {
		*cause = http_agents_refused(hp);
		return NULL;
	}
	memset(&agents, 0, sizeof agents);
	*partial = 0;
	i = ph_jsonfmt_ws(b, n);
	if (i >= n || b[i] != '{')
		goto bad;
	i++;
	i += ph_jsonfmt_ws(b + i, n - i);
	while (i < n && b[i] != '}') {
		k0 = i;
		if (b[i] != '"' || (k = ph_jsonfmt_value(NULL, b + i, n - i, 1, &why)) < 0)
			goto bad;
		i += (size_t)k;
		i += ph_jsonfmt_ws(b + i, n - i);
		if (i >= n || b[i] != ':')
			goto bad;
		i++;
		i += ph_jsonfmt_ws(b + i, n - i);
		if (k == 8 && memcmp(b + k0, "\"agents\"", 8) == 0) {
			agents.len = 0;
			if (i >= n || b[i] != '[' ||
			    (v = ph_jsonfmt_value(&agents, b + i, n - i, 1, &why)) < 0)
				goto bad;
			seen = 1;
		} else if ((v = ph_jsonfmt_value(NULL, b + i, n - i, 1, &why)) < 0)
			goto bad;
		else if (k == 9 && memcmp(b + k0, "\"partial\"", 9) == 0)
			*partial = v == 4 && memcmp(b + i, "true", 4) == 0;
		i += (size_t)v;
		i += ph_jsonfmt_ws(b + i, n - i);
		if (i < n && b[i] == ',') {
			i++;
			i += ph_jsonfmt_ws(b + i, n - i);
			if (i >= n || b[i] != '"')
				goto bad;
		} else if (i >= n || b[i] != '}')
			goto bad;
	}
	if (i >= n || !seen)
		goto bad;
	i++;
	if (i + ph_jsonfmt_ws(b + i, n - i) != n)
		goto bad;
	return agents.s;
bad:
	free(why);
	ph_jsonfmt_free(&agents);
	*cause = http_agents_not_json();
	return NULL;
}

/* GET /v1/agents[?selector=], the proof with it: 0 with the answer in *hp, or -1. */
static int
http_agents_get(struct client_conn *cc, const char *selector,
    struct client_http_parser *hp, char **cause)
{
	struct client_http_req		 req = { .auth = 1, .max = HTTP_BODY_MAX,
	    .timeout_ms = HTTP_GET_TIMEOUT_MS, .what = "the relay's agent list",
	    .hint = "narrow it with a selector" };
	char				*path = NULL, *esc, *proof, *hdr = NULL;
	int				 r = -1;

	if (selector != NULL && *selector != '\0') {
		if ((esc = http_query_escape(selector)) == NULL) {
			*cause = ph_asprintf("out of memory");
			return -1;
		}
		path = ph_asprintf("%s?selector=%s", PH_PATH_AGENTS, esc);
		free(esc);
	}
	/* A token alone lists nothing: prove we hold its key (listproof.h). */
	proof = client_sign_list(cc->conf, PH_PATH_AGENTS, selector, cause);
	if (proof == NULL && *cause != NULL) {
		free(path);
		return -1;
	}
	if (proof != NULL)
		hdr = ph_asprintf("%s: %s\r\n", PH_LISTPROOF_HEADER, proof);
	req.path = path != NULL ? path : PH_PATH_AGENTS;
	req.headers = hdr;
	r = client_http_get(cc, &req, hp, cause);
	free(hdr);
	free(proof);
	free(path);
	return r;
}

json_t *
client_http_agents(struct client_conn *cc, const char *selector,
    char **cause)
{
	return client_http_agents_partial(cc, selector, NULL, cause);
}

json_t *
client_http_agents_partial(struct client_conn *cc, const char *selector,
    int *partial, char **cause)
{
	struct client_http_parser	*hp;
	json_t				*agents = NULL;

	if ((hp = malloc(sizeof *hp)) == NULL)
		*cause = ph_asprintf("out of memory");
	else if (http_agents_get(cc, selector, hp, cause) == 0) {
		agents = http_agents_answer(hp, partial, cause);
		client_http_parser_free(hp);
	}
	free(hp);
	return agents;
}

char *
client_http_agents_text(struct client_conn *cc, const char *selector,
    int *partial, char **cause)
{
	struct client_http_parser	*hp;
	char				*text = NULL;

	if ((hp = malloc(sizeof *hp)) == NULL)
		*cause = ph_asprintf("out of memory");
	else if (http_agents_get(cc, selector, hp, cause) == 0) {
		text = http_agents_answer_text(hp, partial, cause);
		client_http_parser_free(hp);
	}
	free(hp);
	return text;
}

/* --- any request with the proof: the artifacts ---------------------------------- */

int
client_http_request(struct client_conn *cc, const char *method, const char *path,
    const char *selector, client_http_sink sink, void *arg, int *status,
    char **body, size_t *len, char **cause)
{
	struct client_http_req		 req = { .method = method, .auth = 1,
	    .max = HTTP_BODY_MAX, .timeout_ms = HTTP_GET_TIMEOUT_MS,
	    .what = "the relay's answer", .hint = "check the relay's log",
	    .sink = sink, .sink_arg = arg };
	struct client_http_parser	 hp;
	char				*full = NULL, *esc, *proof, *hdr = NULL, *msg;
	int				 r = -1;

	*body = NULL;
	*len = 0;
	if (selector != NULL && *selector != '\0') {
		if ((esc = http_query_escape(selector)) == NULL) {
			*cause = ph_asprintf("out of memory");
			return -1;
		}
		full = ph_asprintf("%s?selector=%s", path, esc);
		free(esc);
	}
	proof = client_sign_req(cc->conf, method, path, selector, cause);
	if (proof == NULL && *cause != NULL) {
		free(full);
		return -1;
	}
	if (proof != NULL)
		hdr = ph_asprintf("%s: %s\r\n", PH_LISTPROOF_HEADER, proof);
	req.path = full != NULL ? full : path;
	req.headers = hdr;
	if (client_http_get(cc, &req, &hp, cause) != 0)
		goto out;
	*status = hp.status;
	if (hp.status == 401 || hp.status == 403) {
		msg = client_conn_error_body(hp.body, hp.len);
		*cause = hp.status == 401 ? ph_asprintf("the relay refused the token: "
		    "%s: check PORTHOLE_TOKEN", msg != NULL ? msg : "HTTP 401") :
		    ph_asprintf("the token may not do this: %s",
		    msg != NULL ? msg : "HTTP 403");
		free(msg);
		client_http_parser_free(&hp);
		goto out;
	}
	if (hp.status != 200 && hp.status != 404) {
		msg = client_conn_error_body(hp.body, hp.len);
		*cause = ph_asprintf("the relay answered HTTP %d to %s %s%s%s",
		    hp.status, method, path, msg != NULL ? ": " : "",
		    msg != NULL ? msg : "");
		free(msg);
		client_http_parser_free(&hp);
		goto out;
	}
	*body = hp.body;	/* NULL for a download */
	*len = hp.len;
	r = 0;
out:
	free(hdr);
	free(proof);
	free(full);
	return r;
}
