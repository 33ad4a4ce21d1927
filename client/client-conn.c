/*
 * client-conn.c - the CLI's connection to the relay.
 *
 * It takes the settings from client-conf.c, resolves the
 * relay's host once before the event loop exists (a one-shot CLI may block
 * there; the loop never does) and creates the one libwebsockets context
 * with TLS verification against the system store plus PORTHOLE_CA.  The
 * HTTP GET of /v1/agents is in client-http.c; WebSocket sessions on the same context are in
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

#include "porthole/buf.h"
#include "porthole/frame.h"
#include "porthole/log.h"
#include "porthole/printable.h"
#include "porthole/protocol.h"
#include "porthole/token.h"
#include "porthole/util.h"

#include "client-conn.h"
#include "client-conn-priv.h"
#include "client-sign.h"


/*
 * lws's client certificate store (system CAs + PORTHOLE_CA), caught while
 * lws_create_context builds it, so libporthole's tlsclient.c shares it instead of
 * loading the system bundle a second time.  One context per process.
 */
static X509_STORE	*conn_lws_store;



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

/*
 * protocols[0]: the certificate verdict and the client store reach it
 * whatever the connection (research §3); the rest is the listing's.
 */
static int
conn_http_callback(struct lws *wsi, enum lws_callback_reasons reason,
    void *user, void *in, size_t len)
{
	if (reason == LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION)
		return client_conn_verify(wsi, user, (int)len);
	if (reason == LWS_CALLBACK_OPENSSL_LOAD_EXTRA_CLIENT_VERIFY_CERTS) {
		if (user != NULL)
			conn_lws_store = SSL_CTX_get_cert_store(user);
		return 0;
	}
	return client_http_callback(wsi, reason, user, in, len);
}

/* The sessions' RAW sockets, and wakes from the CLI's other threads. */
static int
conn_raw_callback(struct lws *wsi, enum lws_callback_reasons reason,
    void *user, void *in, size_t len)
{
	struct client_conn	*cc;
	struct client_session	*s, *next;

	if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED) {
		cc = wsi != NULL ? lws_context_user(lws_get_context(wsi)) : NULL;
		for (s = cc != NULL ? cc->sessions : NULL; s != NULL; s = next) {
			next = client_session_next(s);
			client_session_woken(s);
		}
		return 0;
	}
	return client_transport_callback(wsi, reason, user, in, len);
}

/* --- the context and the loop ------------------------------------------ */

static const struct lws_protocols conn_protocols[] = {
	/* protocols[0] also gets the certificate verdict (research §3). */
	{ CLIENT_CONN_HTTP_PROTOCOL, conn_http_callback, 0, 16384, 0, NULL, 0 },
	{ CLIENT_CONN_SESSION_PROTOCOL, conn_raw_callback, 0, 0, 0, NULL,
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
	char					*why = NULL;
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
	if ((cc->tls = ph_tls_ctx_new(conf->ca, conf->insecure,
	    conn_lws_store, &why)) == NULL) {
		*cause = ph_asprintf("%s: set PORTHOLE_CA to the relay's CA "
		    "certificate (PEM)", why);
		free(why);
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
	ph_tls_ctx_free(cc->tls);
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
