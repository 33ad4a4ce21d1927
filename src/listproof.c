/*
 * listproof.c - the proof of the client's key on a listing (listproof.h):
 * made by the CLI for its GET /v1/agents, checked by the relay before it
 * answers.  The bytes signed are sigenc.c's, as for an open.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/listproof.h"
#include "porthole/sigenc.h"
#include "porthole/util.h"

const char *
ph_listproof_host(const char *host, char *buf, size_t len)
{
	const char	*end, *colon;
	size_t		 n, i;

	if (host == NULL)
		host = "";
	if (*host == '[' && (end = strchr(host, ']')) != NULL) {
		host++;				/* [v6]:port or [v6] */
	} else if ((colon = strchr(host, ':')) != NULL &&
	    strchr(colon + 1, ':') == NULL)
		end = colon;			/* name:port */
	else
		end = host + strlen(host);	/* name, or a bare v6 address */
	n = (size_t)(end - host);
	if (len == 0)
		return buf;
	if (n >= len)
		n = len - 1;
	for (i = 0; i < n; i++)
		buf[i] = (char)tolower((unsigned char)host[i]);
	buf[n] = '\0';
	return buf;
}

int
ph_listproof_input(const struct ph_listreq *req, const char *jti, int64_t ts,
    uint8_t **out, size_t *len, char **cause)
{
	json_t	*o, *query;
	char	 host[256];
	int	 r;

	query = req->selector != NULL && *req->selector != '\0' ?
	    json_pack("{s:s}", "selector", req->selector) : json_object();
	o = json_pack("{s:s, s:s, s:s, s:o, s:I}",
	    "host", ph_listproof_host(req->host, host, sizeof host),
	    "method", req->method, "path", req->path, "query", query,
	    "ts", (json_int_t)ts);
	if (o == NULL) {
		*cause = ph_asprintf("out of memory, or a request that is not text");
		return -1;
	}
	r = ph_sigenc_input(PH_LISTPROOF_CONTEXT, jti, o, NULL, out, len, cause);
	json_decref(o);
	return r;
}

char *
ph_listproof_make(const struct ph_key *k, const char *jti,
    const struct ph_listreq *req, int64_t now, char **cause)
{
	uint8_t	*in;
	size_t	 n;
	char	*sig, *hdr;

	if (ph_listproof_input(req, jti, now, &in, &n, cause) != 0)
		return NULL;
	sig = ph_key_sign_b64url(k, in, n, cause);
	free(in);
	if (sig == NULL)
		return NULL;
	hdr = ph_asprintf("ts=%lld;sig=%s", (long long)now, sig);
	free(sig);
	return hdr;
}

/* "ts=DIGITS;sig=B64URL": 0 with *ts and *sig (pointing into hdr), or -1. */
static int
listproof_parse(const char *hdr, int64_t *ts, const char **sig)
{
	const char	*p;
	long long	 v = 0;
	int		 digits = 0;

	if (strlen(hdr) > PH_LISTPROOF_MAX || strncmp(hdr, "ts=", 3) != 0)
		return -1;
	for (p = hdr + 3; *p >= '0' && *p <= '9'; p++) {
		if (++digits > 15)
			return -1;
		v = v * 10 + (*p - '0');
	}
	if (digits == 0 || strncmp(p, ";sig=", 5) != 0)
		return -1;
	*sig = p + 5;
	for (p = *sig; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			return -1;
	}
	if (p == *sig)
		return -1;
	*ts = v;
	return 0;
}

int
ph_listproof_verify(const struct ph_claims *c, const char *hdr,
    const struct ph_listreq *req, int64_t now, char **cause)
{
	struct ph_key	*k;
	const char	*sig;
	uint8_t		*in;
	size_t		 n;
	int64_t		 ts, age;
	char		*why = NULL;
	int		 r;

	if (c->cnf == NULL || json_object_get(c->cnf, "jwk") == NULL) {
		*cause = ph_asprintf("the token of %s is not bound to a client key "
		    "(no cnf), and a token alone lists nothing: reissue it with "
		    "'porthole token issue --bind KEY.pub'", c->sub);
		return -1;
	}
	if (hdr == NULL || *hdr == '\0') {
		*cause = ph_asprintf("no proof of the client's key (%s header): a "
		    "token alone lists nothing; porthole sends the proof when "
		    "PORTHOLE_KEY is set (upgrade porthole if it does not)",
		    PH_LISTPROOF_HEADER);
		return -1;
	}
	if (listproof_parse(hdr, &ts, &sig) != 0) {
		*cause = ph_asprintf("the %s header is not ts=UNIXTIME;sig=BASE64URL",
		    PH_LISTPROOF_HEADER);
		return -1;
	}
	age = now - ts;
	if (age > PH_CLOCK_SKEW || age < -PH_CLOCK_SKEW) {
		*cause = ph_asprintf("the listing's proof is stale: its time is "
		    "%llds %s (more than %ds: replayed, or the clocks differ)",
		    (long long)(age < 0 ? -age : age), age < 0 ? "ahead" : "old",
		    PH_CLOCK_SKEW);
		return -1;
	}
	if ((k = ph_key_from_jwk(json_object_get(c->cnf, "jwk"), &why)) == NULL) {
		*cause = ph_asprintf("the token's cnf key is unusable: %s", why);
		free(why);
		return -1;
	}
	if (ph_listproof_input(req, c->jti != NULL ? c->jti : "", ts, &in, &n,
	    cause) != 0) {
		ph_key_free(k);
		return -1;
	}
	r = ph_key_verify_b64url(k, in, n, sig, &why);
	free(in);
	ph_key_free(k);
	if (r != 0) {
		free(why);
		*cause = ph_asprintf("the listing's proof does not verify with the "
		    "key the token of %s is bound to: made with another key, for "
		    "another relay name (Host), path or selector, or altered", c->sub);
		return -1;
	}
	return 0;
}
