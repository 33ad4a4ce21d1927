/*
 * agent-tls.c - which certificates the agent trusts, and why a relay's
 * certificate was refused.
 *
 * The agent is one static executable copied into images that keep their CA
 * bundle in different places, while OpenSSL's built-in path is Debian's:
 * so it looks for the bundle itself (SSL_CERT_FILE, then where Debian,
 * distroless, Alpine, Amazon Linux/RHEL and openSUSE keep it) and trusts
 * PORTHOLE_CA besides it.  OpenSSL reports every verification failure as
 * the same opaque error to libwebsockets; the real reason is caught here
 * so the log says it, with what to change (the same advice as the CLI's).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "porthole/log.h"

#include "agent.h"

/*
 * Where images keep their bundle, in the order looked at.  distroless
 * (gcr.io/distroless/static, base) is Debian's layout; a scratch image
 * has none, so a `FROM scratch` image must COPY one (deploy/Dockerfile).
 */
static const char *const agent_tls_bundles[] = {
	"/etc/ssl/certs/ca-certificates.crt",	/* Debian, Ubuntu, distroless, Alpine */
	"/etc/ssl/cert.pem",			/* Alpine (ca-certificates-bundle), LibreSSL */
	"/etc/pki/tls/certs/ca-bundle.crt",	/* Amazon Linux, RHEL, Fedora, CentOS */
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", /* the same, where it is made */
	"/etc/ssl/ca-bundle.pem",		/* openSUSE, SLES */
};
#define AGENT_TLS_NBUNDLES (sizeof agent_tls_bundles / sizeof agent_tls_bundles[0])

/* "A, B, C": where agent_tls_find_bundle looks, for error messages.  Static. */
const char *
agent_tls_bundle_places(void)
{
	static char	places[512];
	size_t		i, off = 0;
	int		n;

	for (i = 0; i < AGENT_TLS_NBUNDLES && off < sizeof places; i++) {
		n = snprintf(places + off, sizeof places - off, "%s%s", i > 0 ? ", " : "",
		    agent_tls_bundles[i]);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	return places;
}

/*
 * The system CA bundle: SSL_CERT_FILE when it names a readable file, else
 * the first readable one of the usual places.  malloc'd path, or NULL.
 */
char *
agent_tls_find_bundle(void)
{
	const char	*env = getenv("SSL_CERT_FILE");
	size_t		 i;

	if (env != NULL && *env != '\0') {
		if (access(env, R_OK) == 0)
			return strdup(env);
		ph_warn("SSL_CERT_FILE=%s cannot be read (%s): looking in the usual places",
		    env, strerror(errno));
	}
	for (i = 0; i < AGENT_TLS_NBUNDLES; i++) {
		if (access(agent_tls_bundles[i], R_OK) == 0)
			return strdup(agent_tls_bundles[i]);
	}
	return NULL;
}

/*
 * LWS_CALLBACK_OPENSSL_LOAD_EXTRA_CLIENT_VERIFY_CERTS: libwebsockets loaded
 * client_ssl_ca_filepath (PORTHOLE_CA when given); add the system bundle.
 */
int
agent_tls_load_extra(struct agent *a, void *ssl_ctx)
{
	SSL_CTX	*ctx = ssl_ctx;

	if (ctx == NULL || a->cfg.ca == NULL || a->cfg.ca_bundle == NULL)
		return 0;
	if (SSL_CTX_load_verify_locations(ctx, a->cfg.ca_bundle, NULL) != 1) {
		ph_warn("cannot load CA bundle %s: %s", a->cfg.ca_bundle,
		    ERR_reason_error_string(ERR_peek_last_error()));
		ERR_clear_error();
	}
	return 0;
}

/*
 * LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION: remember why a
 * certificate was refused, for the connection error that follows.  The
 * verdict itself stays OpenSSL's.
 */
void
agent_tls_verify_note(struct agent *a, void *x509_store_ctx, int preverify_ok)
{
	X509_STORE_CTX	*sctx = x509_store_ctx;
	X509		*cert;
	char		 subject[96] = "?";
	int		 err;

	if (preverify_ok || sctx == NULL)
		return;
	err = X509_STORE_CTX_get_error(sctx);
	a->tls_verify_err = err;
	if ((cert = X509_STORE_CTX_get_current_cert(sctx)) != NULL)
		X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
	snprintf(a->tls_error, sizeof a->tls_error, "certificate %s: %s", subject,
	    X509_verify_cert_error_string(err));
}

/* What to change so that the relay's certificate verifies next time. */
const char *
agent_tls_hint(const struct agent *a)
{
	switch (a->tls_verify_err) {
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		return "put a name the certificate holds in PORTHOLE_RELAY";
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return "renew the relay's certificate or fix this machine's clock";
	default:
		if (a->cfg.ca != NULL)
			return "PORTHOLE_CA does not vouch for it: set PORTHOLE_CA to "
			    "the relay's CA file";
		return "set PORTHOLE_CA to the relay's CA file (PEM)";
	}
}
