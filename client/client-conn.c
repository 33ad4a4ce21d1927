/*
 * client-conn.c - the CLI's context for talking to the relay (see
 * client-conn.h).
 *
 * It takes the settings from client-conf.c, resolves the relay's host
 * once before the event loop runs (a one-shot CLI may block there; the
 * loop never does), makes the loop and the one TLS trust every
 * connection is checked against (libporthole's tlsclient.c: the system
 * store plus PORTHOLE_CA, the certificate's name or address checked).
 * Whatever fails is turned here into one sentence that says what is
 * wrong and what to do; the caller prints it after "porthole: ".
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "porthole/printable.h"
#include "porthole/tlsclient.h"
#include "porthole/util.h"

#include "client-conn.h"
#include "client-loop.h"

/* --- failures as sentences ------------------------------------------ */

char *
client_conn_tls_cause(struct client_conn *cc, long verify_err, const char *why)
{
	const char	*host = cc->conf->host;
	char		 msg[96];

	if (verify_err == 0)
		return ph_asprintf("TLS handshake with the relay at %s (%s port "
		    "%d) failed (%s): is PORTHOLE_RELAY the relay's TLS address?",
		    cc->conf->relay, cc->addr, cc->conf->port,
		    why != NULL ? why : "unknown error");
	snprintf(msg, sizeof msg, "%s", why != NULL ? why :
	    X509_verify_cert_error_string(verify_err));
	switch (verify_err) {
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		return ph_asprintf("TLS: the relay's certificate is not for %s "
		    "(%s): put a name the certificate holds in PORTHOLE_RELAY",
		    host, msg);
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return ph_asprintf("TLS: cannot verify the relay's certificate "
		    "for %s (%s): renew the relay's certificate or fix this "
		    "machine's clock", host, msg);
	default:
		if (cc->conf->ca != NULL)
			return ph_asprintf("TLS: cannot verify the relay's "
			    "certificate for %s (%s): PORTHOLE_CA (%s) does not "
			    "vouch for it; set PORTHOLE_CA to the relay's CA file",
			    host, msg, cc->conf->ca);
		return ph_asprintf("TLS: cannot verify the relay's certificate "
		    "for %s (%s): set PORTHOLE_CA to the relay's CA file", host,
		    msg);
	}
}

char *
client_conn_connect_cause(struct client_conn *cc, int err)
{
	return ph_asprintf("cannot connect to the relay at %s (%s port %d: %s): "
	    "check PORTHOLE_RELAY and that porthole-relay is running there",
	    cc->conf->relay, cc->addr, cc->conf->port,
	    strerror(err != 0 ? err : ECONNREFUSED));
}

char *
client_conn_silent_cause(struct client_conn *cc, const char *what)
{
	return ph_asprintf("the relay at %s (%s port %d) did not answer (%s "
	    "within %d s): check PORTHOLE_RELAY and the network path",
	    cc->conf->relay, cc->addr, cc->conf->port, what,
	    CLIENT_CONN_CONNECT_SECS);
}

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

/* --- the context -------------------------------------------------------- */

/* The relay's host as one numeric address in cc->addr; -1 with *cause. */
static int
conn_resolve(struct client_conn *cc, char **cause)
{
	struct client_conf	*conf = cc->conf;
	struct addrinfo		 hints, *res = NULL;
	char			 port[16];
	const void		*a;
	int			 r;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	snprintf(port, sizeof port, "%d", conf->port);
	if ((r = getaddrinfo(conf->host, port, &hints, &res)) != 0 || res == NULL) {
		*cause = ph_asprintf("cannot resolve the relay's host '%s' (%s): "
		    "check PORTHOLE_RELAY", conf->host,
		    r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
		return -1;
	}
	if (res->ai_family == AF_INET6)
		a = &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr;
	else
		a = &((struct sockaddr_in *)res->ai_addr)->sin_addr;
	inet_ntop(res->ai_family, a, cc->addr, sizeof cc->addr);
	freeaddrinfo(res);
	return 0;
}

struct client_conn *
client_conn_new(struct client_conf *conf, char **cause)
{
	struct client_conn	*cc;
	char			*why = NULL;

	if ((cc = calloc(1, sizeof *cc)) == NULL) {
		*cause = ph_asprintf("out of memory");
		return NULL;
	}
	cc->conf = conf;
	if (conn_resolve(cc, cause) != 0 ||
	    (cc->loop = client_loop_new(cause)) == NULL)
		goto fail;
	if ((cc->tls = ph_tls_ctx_new(conf->ca, conf->insecure, NULL,
	    &why)) == NULL) {
		*cause = ph_asprintf("%s: set PORTHOLE_CA to the relay's CA "
		    "certificate (PEM)", why);
		free(why);
		goto fail;
	}
	return cc;
fail:
	client_conn_free(cc);
	return NULL;
}

void
client_conn_free(struct client_conn *cc)
{
	if (cc == NULL)
		return;
	client_loop_free(cc->loop);
	ph_tls_ctx_free(cc->tls);
	free(cc);
}

void
client_conn_wake(struct client_conn *cc)
{
	client_loop_wake(cc->loop);
}

int
client_conn_run(struct client_conn *cc, volatile int *done)
{
	return client_loop_run(cc->loop, done);
}
