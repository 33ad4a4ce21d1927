/*
 * relay-auth.c - who is asking: the bearer token of a request or upgrade,
 * verified against the relay's key set, and what its claims let it touch.
 *
 * relay_auth_check() reads "Authorization: Bearer <token>" from the request
 * headers (they are only there until ESTABLISHED returns, so call it from
 * LWS_CALLBACK_HTTP or LWS_CALLBACK_ESTABLISHED), verifies the token and its
 * kind, and says whether a refusal is "who are you" (401 / 4401) or "not
 * allowed" (403 / 4403).  The token itself is never logged nor put in a
 * cause; it is wiped from memory once verified, except a client's, which is
 * kept (relay_auth_check_keep) until its `open` carries it to the agent.
 * Revoked tokens (PORTHOLE_REVOKED, re-read when it changes, and what
 * `porthole token revoke` recorded: relay-revoke.c) are refused at
 * the upgrade and again at `open`, whose signature relay_auth_open checks;
 * so are tokens made to live longer than --max-token-lifetime allows their
 * kind (tokenlife.h), wherever a token is presented.
 * The key set is re-read when its files change (key rotation, keywatch.h).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "porthole/log.h"
#include "porthole/opensig.h"
#include "porthole/revoked.h"
#include "porthole/selector.h"
#include "porthole/util.h"
#include "relay.h"
#include "relay-auth.h"
#include "relay-route.h"

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

/* Wipe and free a token. */
void
relay_auth_wipe(char **tok)
{
	if (*tok != NULL) {
		OPENSSL_cleanse(*tok, strlen(*tok));
		free(*tok);
		*tok = NULL;
	}
}

/* Re-read PORTHOLE_PUBKEY if one of its files changed (keywatch.h). */
static void
relay_auth_refresh_keys(void)
{
	char *note = NULL;
	int r;

	r = ph_keywatch_refresh(&relay.keywatch, &relay.keys, &note);
	if (r < 0) {
		ph_warn("PORTHOLE_PUBKEY: %s", note);
		free(note);
	} else if (r > 0)
		ph_info("PORTHOLE_PUBKEY re-read: %zu keys", relay.keys.n);
}

/*
 * Is the token with this jti revoked?  Re-reads PORTHOLE_REVOKED first when
 * it changed (a stat per call; see revoked.h); then what `porthole token
 * revoke` recorded for the fleet (relay-revoke.c).
 */
int
relay_auth_revoked(const char *jti)
{
	char *note = NULL;
	int r;

	r = ph_revoked_refresh(&relay.revoked, &note);
	if (r < 0) {
		ph_warn("%s", note);
		free(note);
	} else if (r > 0)
		ph_info("revocation list %s re-read: %zu token ids", relay.revoked.path,
		    relay.revoked.n);
	return ph_revoked_has(&relay.revoked, jti) || relay_revoke_has(jti);
}

/*
 * Verify the request's token and that it is of kind want.  Returns 0 with
 * *out filled (free with ph_claims_free), or -1 with *refusal set to 401 or
 * 403 and *cause a malloc'd message for the peer (never the token).  With
 * keep, the token itself is handed back there (the relay passes a client's
 * token on to the agent with its open; wipe it with relay_auth_wipe).
 */
int
relay_auth_check_keep(struct lws *wsi, enum ph_token_kind want, struct ph_claims *out,
    char **keep, int *refusal, char **cause)
{
	char *tok, *why = NULL;
	int r;

	memset(out, 0, sizeof *out);
	*refusal = 401;
	if ((tok = relay_auth_bearer(wsi, cause)) == NULL)
		return -1;
	relay_auth_refresh_keys();
	r = ph_token_verify(&relay.keys, tok, ph_now(), out, &why);
	if (r != 0 || keep == NULL)
		relay_auth_wipe(&tok);
	if (r != 0) {
		*cause = ph_asprintf("bad token: %s", why != NULL ? why : "not valid");
		free(why);
		return -1;
	}
	if (relay_auth_revoked(out->jti)) {
		*cause = ph_asprintf("bad token: token %s of %s was revoked "
		    "(PORTHOLE_REVOKED, or porthole token revoke): ask its issuer "
		    "for a new one", out->jti, out->sub);
		relay_auth_wipe(&tok);
		ph_claims_free(out);
		memset(out, 0, sizeof *out);
		return -1;
	}
	if (out->kind != want) {
		/* A relay token only ever opens /v1/peer, and only a relay token does. */
		if (want == PH_TOKEN_RELAY)
			*cause = ph_asprintf("this is %s %s token; a relay-to-relay link "
			    "needs a relay token", out->kind == PH_TOKEN_AGENT ? "an" : "a",
			    ph_token_kind_name(out->kind));
		else if (out->kind == PH_TOKEN_RELAY)
			*cause = ph_asprintf("this is a relay token; the %s needs %s token",
			    want == PH_TOKEN_CLIENT ? "CLI" : "agent",
			    want == PH_TOKEN_CLIENT ? "a client" : "an agent");
		else if (want == PH_TOKEN_CLIENT)
			*cause = strdup("this is an agent token; the CLI needs a client token");
		else
			*cause = strdup("this is a client token; the agent needs an agent token");
		relay_auth_wipe(&tok);
		ph_claims_free(out);
		memset(out, 0, sizeof *out);
		return -1;
	}
	if (ph_lifetime_check(&relay.lifetime, out, &why) != 0) {
		*cause = ph_asprintf("bad token: %s", why);
		free(why);
		relay_auth_wipe(&tok);
		ph_claims_free(out);
		memset(out, 0, sizeof *out);
		return -1;
	}
	if (keep != NULL)
		*keep = tok;
	return 0;
}

int
relay_auth_check(struct lws *wsi, enum ph_token_kind want, struct ph_claims *out,
    int *refusal, char **cause)
{
	return relay_auth_check_keep(wsi, want, out, NULL, refusal, cause);
}

/*
 * May the client with claims cl (verified at the upgrade) send this open?
 * Its token must not have been revoked since, and the open must carry the
 * signature of the key the token is bound to, fresh (opensig.h).  0, or -1
 * with *cause (malloc'd).
 */
int
relay_auth_open(const struct ph_claims *cl, const json_t *open, char **cause)
{
	if (relay_auth_revoked(cl->jti)) {
		*cause = ph_asprintf("token %s of %s was revoked "
		    "(PORTHOLE_REVOKED, or porthole token revoke)", cl->jti, cl->sub);
		return -1;
	}
	/* Both forms here: whether the agent takes form 1 is relay-session.c's. */
	return ph_opensig_verify(cl, open, ph_now(), 1, cause);
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
