/*
 * client-conn.c - the CLI's connection to the relay.
 *
 * It gathers the settings (flags over PORTHOLE_* variables), resolves the
 * relay's host once before the event loop exists (a one-shot CLI may block
 * there; the loop never does), creates the one libwebsockets context with
 * TLS verification against the system store plus PORTHOLE_CA, and runs the
 * HTTP GET of /v1/agents (with the proof of the token's key,
 * client-sign.h).  WebSocket sessions on the same context are in
 * client-session.c.  Whatever fails is turned here into one sentence that
 * says what is wrong and what to do; the caller prints it after
 * "porthole: ".
 *
 * libwebsockets 4.1.6 traps handled here (research/libwebsockets-4.1.6.md):
 * the certificate verdict only reaches code through
 * LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION (§3), so each
 * connection keeps the first verify error to explain a failed handshake;
 * *pwsi is never cleared by lws (§4): we clear it ourselves; pending
 * connection timeouts only fire when the loop wakes (see conn_tick).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "porthole/duration.h"
#include "porthole/buf.h"
#include "porthole/frame.h"
#include "porthole/listproof.h"
#include "porthole/log.h"
#include "porthole/printable.h"
#include "porthole/protocol.h"
#include "porthole/token.h"
#include "porthole/util.h"

#include "client-conn.h"
#include "client-conn-priv.h"
#include "client-context.h"
#include "client-sign.h"

#define CONN_HTTP_PROTOCOL	"porthole-http"

#define CONN_BODY_MAX		(16u << 20)	/* largest /v1/agents answer */
#define CONN_GET_TIMEOUT_MS	30000		/* whole GET, connect included */

/*
 * lws's client certificate store (system CAs + PORTHOLE_CA), caught while
 * lws_create_context builds it, so client-tls.c shares it instead of
 * loading the system bundle a second time.  One context per process.
 */
static X509_STORE	*conn_lws_store;

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


/* --- settings ------------------------------------------------------- */

static int
conf_take(char **slot, const char *name, const char *arg, int argc, char **argv,
    int *i, char **cause)
{
	size_t	 n = strlen(name);

	if (arg[n] == '=') {
		free(*slot);
		*slot = strdup(arg + n + 1);
		if (strcmp(name, "--token") == 0)
			ph_arg_wipe((char *)arg + n + 1);	/* not in ps */
		return 1;
	}
	if (*i + 1 >= argc) {
		*cause = ph_asprintf("option %s needs a value", name);
		return -1;
	}
	free(*slot);
	*slot = strdup(argv[++*i]);
	if (strcmp(name, "--token") == 0)
		ph_arg_wipe(argv[*i]);		/* not in ps */
	return 1;
}

int
client_conf_option(struct client_conf *conf, int argc, char **argv, int *i,
    char **cause)
{
	static const struct {
		const char	*name;
		size_t		 off;
	} opts[] = {
		{ "--relay", offsetof(struct client_conf, flag_relay) },
		{ "--token", offsetof(struct client_conf, flag_token) },
		{ "--key", offsetof(struct client_conf, flag_key) },
		{ "--ca", offsetof(struct client_conf, flag_ca) },
	};
	const char	*arg = argv[*i];
	size_t		 k, n;
	int		 r;

	if ((r = client_context_option(argc, argv, i, cause)) != 0)
		return r;		/* --context NAME: client-context.c */
	if (strcmp(arg, "--insecure") == 0) {
		conf->insecure = 1;
		return 1;
	}
	for (k = 0; k < sizeof opts / sizeof opts[0]; k++) {
		n = strlen(opts[k].name);
		if (strncmp(arg, opts[k].name, n) != 0 ||
		    (arg[n] != '\0' && arg[n] != '='))
			continue;
		return conf_take((char **)((char *)conf + opts[k].off),
		    opts[k].name, arg, argc, argv, i, cause);
	}
	return 0;
}

/* Is path a readable, non-empty file?  0 or -1 with *cause. */
static int
conf_check_file(const char *what, const char *path, const char *hint,
    char **cause)
{
	char	 b;
	int	 fd;
	ssize_t	 n;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		*cause = ph_asprintf("cannot read %s file '%s' (%s): %s", what,
		    path, strerror(errno), hint);
		return -1;
	}
	n = read(fd, &b, 1);
	close(fd);
	if (n <= 0) {
		*cause = ph_asprintf("cannot read %s file '%s' (%s): %s", what,
		    path, n < 0 ? strerror(errno) : "it is empty", hint);
		return -1;
	}
	return 0;
}

int
client_conf_load(struct client_conf *conf, char **cause)
{
	char	*raw, *c = NULL;

	/* What neither a flag nor a variable gave, from the context. */
	if (client_context_apply(conf, cause) != 0)
		return -1;
	conf->relay = ph_setting(conf->flag_relay, "PORTHOLE_RELAY");
	if (conf->relay == NULL || *conf->relay == '\0') {
		*cause = ph_asprintf("no relay given: set PORTHOLE_RELAY="
		    "wss://HOST:PORT or pass --relay (a dev relay writes it to "
		    "DIR/env)");
		return -1;
	}
	if (strncmp(conf->relay, "wss://", 6) != 0) {
		*cause = ph_asprintf("PORTHOLE_RELAY '%s' is not a wss:// URL: "
		    "set it to wss://HOST:PORT", conf->relay);
		return -1;
	}
	if (ph_url_parse(conf->relay, &conf->host, &conf->port, &c) != 0) {
		*cause = ph_asprintf("bad PORTHOLE_RELAY '%s' (%s): set it to "
		    "wss://HOST:PORT", conf->relay, c);
		free(c);
		return -1;
	}

	raw = ph_setting(conf->flag_token, "PORTHOLE_TOKEN");
	if (raw == NULL || *raw == '\0') {
		free(raw);
		*cause = ph_asprintf("no token given: set PORTHOLE_TOKEN (the "
		    "token, or @FILE holding it) or pass --token");
		return -1;
	}
	conf->token = ph_secret_value(raw, &c);
	if (conf->token == NULL) {
		*cause = ph_asprintf("cannot read the token%s%s (%s): fix "
		    "PORTHOLE_TOKEN", raw[0] == '@' ? " from " : "",
		    raw[0] == '@' ? raw + 1 : "", c);
		free(c);
		free(raw);
		return -1;
	}
	free(raw);
	if (*conf->token == '\0' || strlen(conf->token) > PH_TOKEN_MAX) {
		*cause = ph_asprintf("the token in PORTHOLE_TOKEN is %s: issue a "
		    "new one with 'porthole token issue'",
		    *conf->token == '\0' ? "empty" : "too long");
		return -1;
	}

	conf->key = ph_setting(conf->flag_key, "PORTHOLE_KEY");
	if (conf->key != NULL && *conf->key == '\0') {
		free(conf->key);
		conf->key = NULL;
	}
	if (conf->key != NULL && conf_check_file("PORTHOLE_KEY", conf->key,
	    "set PORTHOLE_KEY to the private key the token is bound to", cause))
		return -1;

	if (client_sign_load(conf, cause) != 0)
		return -1;

	conf->ca = ph_setting(conf->flag_ca, "PORTHOLE_CA");
	if (conf->ca != NULL && *conf->ca == '\0') {
		free(conf->ca);
		conf->ca = NULL;
	}
	if (conf->ca != NULL && conf_check_file("PORTHOLE_CA", conf->ca,
	    "set PORTHOLE_CA to the relay's CA certificate (PEM)", cause))
		return -1;

	if (conf->insecure)
		fprintf(stderr, "porthole: WARNING: --insecure: the relay's "
		    "certificate is NOT checked; anyone on the network path can "
		    "read and change this session\n");
	return 0;
}

void
client_conf_free(struct client_conf *conf)
{
	free(conf->flag_relay);
	free(conf->flag_token);
	free(conf->flag_key);
	free(conf->flag_ca);
	free(conf->relay);
	free(conf->host);
	if (conf->token != NULL) {
		OPENSSL_cleanse(conf->token, strlen(conf->token));
		free(conf->token);
	}
	free(conf->key);
	free(conf->ca);
	client_sign_free(conf);
	memset(conf, 0, sizeof *conf);
}

/* --- failures as sentences ------------------------------------------ */

/* The sentence for a TLS verification failure. */
static char *
conn_tls_cause(struct client_conn *cc, const struct conn_link *l)
{
	const char	*host = cc->conf->host;

	switch (l->verify_err) {
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		return ph_asprintf("TLS: the relay's certificate is not for %s "
		    "(%s): put a name the certificate holds in PORTHOLE_RELAY",
		    host, l->verify_msg);
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return ph_asprintf("TLS: cannot verify the relay's certificate "
		    "for %s (%s): renew the relay's certificate or fix this "
		    "machine's clock", host, l->verify_msg);
	default:
		if (cc->conf->ca != NULL)
			return ph_asprintf("TLS: cannot verify the relay's "
			    "certificate for %s (%s): PORTHOLE_CA (%s) does not "
			    "vouch for it; set PORTHOLE_CA to the relay's CA file",
			    host, l->verify_msg, cc->conf->ca);
		return ph_asprintf("TLS: cannot verify the relay's certificate "
		    "for %s (%s): set PORTHOLE_CA to the relay's CA file", host,
		    l->verify_msg);
	}
}

/* The sentence for a connection that never came up. */
char *
client_conn_connect_cause(struct client_conn *cc, struct lws *wsi,
    const struct conn_link *l, const char *in, size_t len)
{
	char		 why[160];
	unsigned int	 status = 0;

	if (l != NULL && l->verify_err != 0)
		return conn_tls_cause(cc, l);

	ph_printable_buf(why, sizeof why, in != NULL ? in : "",
	    in != NULL ? strnlen(in, len) : 0);
	if (why[0] == '\0')
		snprintf(why, sizeof why, "connection failed");
	if (wsi != NULL)
		status = lws_http_client_http_response(wsi);

	if (status == 401)
		return ph_asprintf("the relay refused the token (HTTP 401): "
		    "check PORTHOLE_TOKEN, or issue a new one with 'porthole "
		    "token issue'");
	if (status == 403)
		return ph_asprintf("the relay refused this token (HTTP 403): "
		    "its scope does not allow this; ask for a token that does");
	if (status != 0 && status != 101)
		return ph_asprintf("the relay at %s answered HTTP %u to the "
		    "WebSocket upgrade: is PORTHOLE_RELAY a porthole relay?",
		    cc->conf->relay, status);
	if (strstr(why, "connect SSL err") != NULL)
		/* lws's text here is "error:00000001:lib(0)..."; say less. */
		return ph_asprintf("TLS handshake with the relay at %s (%s "
		    "port %d) failed: is PORTHOLE_RELAY the relay's TLS "
		    "address?", cc->conf->relay, cc->addr, cc->conf->port);
	if (strstr(why, "SSL") != NULL || strstr(why, "TLS") != NULL ||
	    strstr(why, "ssl") != NULL)
		return ph_asprintf("TLS handshake with the relay at %s (%s "
		    "port %d) failed (%s): is PORTHOLE_RELAY the relay's TLS "
		    "address?", cc->conf->relay, cc->addr, cc->conf->port, why);
	if (strstr(why, "imed out") != NULL)
		return ph_asprintf("the relay at %s (%s port %d) did not "
		    "answer (%s): check PORTHOLE_RELAY and the network path",
		    cc->conf->relay, cc->addr, cc->conf->port, why);
	return ph_asprintf("cannot connect to the relay at %s (%s port %d: %s): "
	    "check PORTHOLE_RELAY and that porthole-relay is running there",
	    cc->conf->relay, cc->addr, cc->conf->port, why);
}

/* The relay's {"error":{"code","message"}} body, as "message (code)". */
char *
client_conn_error_body(const char *body, size_t len)
{
	json_t		*j, *e;
	const char	*code, *msg;
	char		 c[64], m[300];
	char		*r = NULL;

	if (body == NULL || (j = json_loadb(body, len, 0, NULL)) == NULL)
		return NULL;
	e = json_object_get(j, "error");
	code = json_string_value(json_object_get(e, "code"));
	msg = json_string_value(json_object_get(e, "message"));
	if (msg != NULL) {
		ph_printable_buf(m, sizeof m, msg, strlen(msg));
		ph_printable_buf(c, sizeof c, code != NULL ? code : "",
		    code != NULL ? strlen(code) : 0);
		r = c[0] != '\0' ? ph_asprintf("%s (%s)", m, c) : strdup(m);
	}
	json_decref(j);
	return r;
}

/* --- TLS verification hook (both protocols) -------------------------- */

int
client_conn_verify(struct lws *wsi, void *x509_ctx, int preverify_ok)
{
	X509_STORE_CTX		*xs = x509_ctx;
	struct client_conn	*cc;
	struct conn_link	*l;
	int			 err;

	if (preverify_ok || xs == NULL || wsi == NULL)
		return 0;
	cc = lws_context_user(lws_get_context(wsi));
	err = X509_STORE_CTX_get_error(xs);
	if (cc != NULL && cc->conf->insecure) {
		/* --insecure: overrule OpenSSL (said loudly at start). */
		X509_STORE_CTX_set_error(xs, X509_V_OK);
		return 0;
	}
	l = lws_get_opaque_user_data(wsi);
	if (l != NULL && l->verify_err == 0 && err != X509_V_OK) {
		l->verify_err = err;
		snprintf(l->verify_msg, sizeof l->verify_msg, "%s",
		    X509_verify_cert_error_string(err));
	}
	return 0;	/* keep OpenSSL's verdict */
}

/* Add "Authorization: Bearer TOKEN" to a handshake. */
static int
conn_add_auth(struct lws *wsi, struct client_conn *cc, void *in, size_t len)
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
conn_http_append(struct http_get *g, const void *p, size_t n)
{
	size_t	 want;
	char	*nb;

	if (n > CONN_BODY_MAX - g->len) {
		g->cause = ph_asprintf("the relay's agent list is larger than "
		    "%u MiB: narrow it with a selector", CONN_BODY_MAX >> 20);
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
 * larger than CONN_BODY_MAX before reading any of it.
 */
static int
conn_http_length(struct http_get *g, struct lws *wsi)
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
	if (g->clen > (long long)CONN_BODY_MAX) {
		g->cause = ph_asprintf("the relay's agent list is %lld bytes, "
		    "more than %u MiB: narrow it with a selector", g->clen,
		    CONN_BODY_MAX >> 20);
		return -1;
	}
	return 0;
}

/* The body is over: NULL if whole, else why it is not (malloc'd). */
static char *
conn_http_short(struct http_get *g)
{
	if (g->clen < 0 || (long long)g->len == g->clen)
		return NULL;
	return ph_asprintf("the relay's answer to GET %s was truncated: %zu of "
	    "%lld bytes arrived: try again, and check the relay's log",
	    PH_PATH_AGENTS, g->len, g->clen);
}

static void
conn_http_finish(struct http_get *g, char *cause)
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

static int
conn_http_callback(struct lws *wsi, enum lws_callback_reasons reason,
    void *user, void *in, size_t len)
{
	struct client_conn	*cc;
	struct http_get		*g;
	char			 buf[LWS_PRE + 16384], *px;
	int			 lenx;

	if (reason == LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION)
		return client_conn_verify(wsi, user, (int)len);
	if (reason == LWS_CALLBACK_OPENSSL_LOAD_EXTRA_CLIENT_VERIFY_CERTS) {
		if (user != NULL)
			conn_lws_store = SSL_CTX_get_cert_store(user);
		return 0;
	}

	if (wsi == NULL)
		return 0;
	cc = lws_context_user(lws_get_context(wsi));
	g = lws_get_opaque_user_data(wsi);
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		if (g == NULL)
			return -1;
		if (conn_add_auth(wsi, cc, in, len) != 0) {
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
			if (conn_http_length(g, wsi) != 0) {
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
		if (conn_http_append(g, in, len) != 0) {
			g->done = 1;
			return -1;
		}
		return 0;
	case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
		if (g != NULL)
			conn_http_finish(g, conn_http_short(g));
		return -1;	/* one request per connection: close it */
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (g != NULL) {
			g->wsi = NULL;
			conn_http_finish(g, client_conn_connect_cause(cc, wsi, &g->link,
			    in, len));
		}
		return 0;
	case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
		if (g != NULL) {
			g->wsi = NULL;
			if (!g->done && g->status != 0 &&
			    (g->len != 0 || g->clen >= 0))
				/* Without Content-Length the body ends at close. */
				conn_http_finish(g, conn_http_short(g));
			else
				conn_http_finish(g, ph_asprintf("the relay at %s "
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
conn_http_timeout(lws_sorted_usec_list_t *sul)
{
	struct http_get	*g = lws_container_of(sul, struct http_get, sul);
	char		 t[PH_DURATION_FMT_MAX];

	conn_http_finish(g, ph_asprintf("the relay at %s did not answer within "
	    "%s: check PORTHOLE_RELAY and the network path", g->cc->conf->relay,
	    ph_duration_fmt(CONN_GET_TIMEOUT_MS, t, sizeof t)));
}

/* Percent-encode what a query value must not carry raw. */
static char *
conn_query_escape(const char *s)
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

/* Flags every connection to the relay shares. */
void
client_conn_ccinfo(struct client_conn *cc, struct lws_client_connect_info *ci)
{
	memset(ci, 0, sizeof *ci);
	ci->context = cc->ctx;
	ci->address = cc->addr;
	ci->port = cc->conf->port;
	ci->host = cc->conf->host;
	ci->origin = cc->conf->host;
	ci->ssl_connection = LCCSCF_USE_SSL;
	if (cc->conf->insecure)
		ci->ssl_connection |= LCCSCF_ALLOW_SELFSIGNED |
		    LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
		    LCCSCF_ALLOW_EXPIRED | LCCSCF_ALLOW_INSECURE;
	ci->alpn = "http/1.1";
}

json_t *
client_conn_get_agents(struct client_conn *cc, const char *selector,
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
		if ((esc = conn_query_escape(selector)) == NULL) {
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
	ci.protocol = CONN_HTTP_PROTOCOL;
	ci.local_protocol_name = CONN_HTTP_PROTOCOL;
	ci.opaque_user_data = &g;
	ci.pwsi = &g.wsi;

	lws_sul_schedule(cc->ctx, 0, &g.sul, conn_http_timeout,
	    (lws_usec_t)CONN_GET_TIMEOUT_MS * LWS_US_PER_MS);
	if (lws_client_connect_via_info(&ci) == NULL && !g.done)
		conn_http_finish(&g, ph_asprintf("cannot start a connection to "
		    "the relay at %s: check PORTHOLE_RELAY", cc->conf->relay));
	while (!g.done) {
		if (lws_service(cc->ctx, 0) < 0) {
			conn_http_finish(&g, ph_asprintf("the event loop failed"));
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
	json_incref(agents);
	json_decref(j);
	free(g.body);
	return agents;
out:
	json_decref(j);
	free(g.body);
	return NULL;
}

/* --- the context and the loop ------------------------------------------ */

static const struct lws_protocols conn_protocols[] = {
	/* protocols[0] also gets the certificate verdict (research §3). */
	{ CONN_HTTP_PROTOCOL, conn_http_callback, 0, 16384, 0, NULL, 0 },
	{ CLIENT_CONN_SESSION_PROTOCOL, client_session_callback, 0, 0, 0, NULL,
	  0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/*
 * libwebsockets 4.1.6 checks a connection's pending timeout (connect, TLS,
 * close handshake: info.timeout_secs) only when the loop wakes for
 * something else: measured here, a relay that accepts TCP and then says
 * nothing held "porthole ls" until another timer woke the loop.  A tick
 * every second keeps those timeouts honest.
 */
static void
conn_tick(lws_sorted_usec_list_t *sul)
{
	struct client_conn	*cc = lws_container_of(sul, struct client_conn, tick);
	struct client_session	*s, *next;
	int64_t			 now = ph_mono_ms();

	/* Sessions keep their own clocks (keepalive, handshake, close). */
	for (s = cc->sessions; s != NULL; s = next) {
		next = client_session_next(s);
		client_session_tick(s, now);
	}
	lws_sul_schedule(cc->ctx, 0, &cc->tick, conn_tick, LWS_US_PER_SEC);
}

struct client_conn *
client_conn_new(struct client_conf *conf, char **cause)
{
	struct lws_context_creation_info	 info;
	struct addrinfo				 hints, *res = NULL;
	struct client_conn			*cc;
	char					 port[16];
	const void				*a;
	int					 r;

	if ((cc = calloc(1, sizeof *cc)) == NULL) {
		*cause = ph_asprintf("out of memory");
		return NULL;
	}
	cc->conf = conf;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	snprintf(port, sizeof port, "%d", conf->port);
	if ((r = getaddrinfo(conf->host, port, &hints, &res)) != 0 || res == NULL) {
		*cause = ph_asprintf("cannot resolve the relay's host '%s' (%s): "
		    "check PORTHOLE_RELAY", conf->host,
		    r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
		free(cc);
		return NULL;
	}
	if (res->ai_family == AF_INET6)
		a = &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr;
	else
		a = &((struct sockaddr_in *)res->ai_addr)->sin_addr;
	inet_ntop(res->ai_family, a, cc->addr, sizeof cc->addr);
	freeaddrinfo(res);

	/* lws's own lines would break "one line on stderr": only on request. */
	if (ph_log_enabled(PH_LOG_INFO))
		ph_log_lws_init();
	else
		lws_set_log_level(0, NULL);

	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = conn_protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.client_ssl_ca_filepath = conf->ca;
	info.user = cc;
	info.gid = -1;
	info.uid = -1;
	info.timeout_secs = CLIENT_CONN_CONNECT_SECS;
	info.fd_limit_per_thread = 256;
	/* Raw session reads come in buffers of this size: fewer, bigger reads. */
	info.pt_serv_buf_size = 65536;
	if ((cc->ctx = lws_create_context(&info)) == NULL) {
		*cause = ph_asprintf("cannot set up TLS%s%s%s: check that "
		    "PORTHOLE_CA is a PEM certificate file",
		    conf->ca != NULL ? " with PORTHOLE_CA '" : "",
		    conf->ca != NULL ? conf->ca : "",
		    conf->ca != NULL ? "'" : "");
		free(cc);
		return NULL;
	}
	if ((cc->tls = client_tls_ctx_new(conf->ca, conf->insecure,
	    conn_lws_store, cause)) == NULL) {
		lws_context_destroy(cc->ctx);
		free(cc);
		return NULL;
	}
	lws_sul_schedule(cc->ctx, 0, &cc->tick, conn_tick, LWS_US_PER_SEC);
	return cc;
}

void
client_conn_free(struct client_conn *cc)
{
	if (cc == NULL)
		return;
	/* Sessions still listed get no more hooks: the owner is leaving. */
	while (cc->sessions != NULL)
		client_session_forget(cc->sessions);
	lws_sul_cancel(&cc->sul);
	lws_sul_cancel(&cc->tick);
	lws_context_destroy(cc->ctx);
	client_tls_ctx_free(cc->tls);
	free(cc);
}

void
client_conn_wake(struct client_conn *cc)
{
	lws_cancel_service(cc->ctx);
}

int
client_conn_run(struct client_conn *cc, volatile int *done)
{
	while (!*done)
		if (lws_service(cc->ctx, 0) < 0)
			return -1;
	return 0;
}

static void
conn_timer_fire(lws_sorted_usec_list_t *sul)
{
	struct client_conn	*cc = lws_container_of(sul, struct client_conn, sul);
	void			(*fn)(void *) = cc->timer_fn;

	cc->timer_fn = NULL;
	if (fn != NULL)
		fn(cc->timer_arg);
}

void
client_conn_timer(struct client_conn *cc, int64_t ms, void (*fn)(void *),
    void *arg)
{
	if (ms < 0 || fn == NULL) {
		cc->timer_fn = NULL;
		lws_sul_cancel(&cc->sul);
		return;
	}
	cc->timer_fn = fn;
	cc->timer_arg = arg;
	lws_sul_schedule(cc->ctx, 0, &cc->sul, conn_timer_fire,
	    (lws_usec_t)ms * LWS_US_PER_MS);
}
