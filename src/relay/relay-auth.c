/*
 * relay-auth.c - who is asking: the bearer token of a request or upgrade,
 * verified against the relay's key set, and what its claims let it touch.
 *
 * relay_auth_check() reads "Authorization: Bearer <token>" from the request
 * headers (they are only there until ESTABLISHED returns, so call it from
 * LWS_CALLBACK_HTTP or LWS_CALLBACK_ESTABLISHED), verifies the token and its
 * kind, and says whether a refusal is "who are you" (401 / 4401) or "not
 * allowed" (403 / 4403).  The token itself is never logged nor put in a
 * cause; it is wiped from memory once verified.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "porthole/log.h"
#include "porthole/selector.h"
#include "porthole/util.h"
#include "relay.h"

/*
 * The token of a request: a malloc'd copy of what follows "Bearer ", or
 * NULL with *cause.
 */
static char *
relay_auth_bearer(struct lws *wsi, char **cause)
{
	char *hdr, *tok;
	int n;

	n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
	if (n <= 0) {
		*cause = strdup("no token: send Authorization: Bearer <token>");
		return NULL;
	}
	if (n > PH_TOKEN_MAX + 64) {
		*cause = strdup("the Authorization header is too long");
		return NULL;
	}
	if ((hdr = malloc((size_t)n + 1)) == NULL) {
		*cause = strdup("out of memory");
		return NULL;
	}
	if (lws_hdr_copy(wsi, hdr, n + 1, WSI_TOKEN_HTTP_AUTHORIZATION) < 0) {
		free(hdr);
		*cause = strdup("cannot read the Authorization header");
		return NULL;
	}
	tok = relay_route_bearer(hdr, cause);
	OPENSSL_cleanse(hdr, (size_t)n);
	free(hdr);
	return tok;
}

/*
 * Verify the request's token and that it is of kind want.  Returns 0 with
 * *out filled (free with ph_claims_free), or -1 with *refusal set to 401 or
 * 403 and *cause a malloc'd message for the peer (never the token).
 */
int
relay_auth_check(struct lws *wsi, enum ph_token_kind want, struct ph_claims *out,
    int *refusal, char **cause)
{
	char *tok, *why = NULL;
	int r;

	memset(out, 0, sizeof *out);
	*refusal = 401;
	if ((tok = relay_auth_bearer(wsi, cause)) == NULL)
		return -1;
	r = ph_token_verify(&relay.keys, tok, ph_now(), out, &why);
	OPENSSL_cleanse(tok, strlen(tok));
	free(tok);
	if (r != 0) {
		*cause = ph_asprintf("bad token: %s", why != NULL ? why : "not valid");
		free(why);
		return -1;
	}
	if (out->kind != want) {
		if (want == PH_TOKEN_CLIENT)
			*cause = strdup("this is an agent token; the CLI needs a client token");
		else
			*cause = strdup("this is a client token; the agent needs an agent token");
		ph_claims_free(out);
		memset(out, 0, sizeof *out);
		return -1;
	}
	return 0;
}

/*
 * May a client with claims cl touch agent (JSON with "labels")?  Its token's
 * target selector must match the agent's labels; no target means every agent.
 * A malformed target matches nothing.
 */
int
relay_auth_may_touch(const struct ph_claims *cl, json_t *agent)
{
	char *cause = NULL;
	int m;

	if (cl->target == NULL || *cl->target == '\0')
		return 1;
	m = ph_selector_match(cl->target, agent, &cause);
	if (m < 0) {
		ph_warn("token of %s has a bad target: %s", cl->sub, cause);
		free(cause);
		return 0;
	}
	return m;
}
