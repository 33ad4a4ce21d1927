/*
 * client-sign.c - the key a client token is bound to, and the signature it
 * puts on every `open` (see client-sign.h).
 *
 * The token is only decoded here, never trusted: what it says about its
 * binding serves to catch a wrong PORTHOLE_KEY with a clear sentence
 * before anything is sent.  Whether the binding holds is decided by the
 * relay and the agent, which verify the token and the signature.
 */
#include <stdlib.h>
#include <string.h>

#include "porthole/listproof.h"
#include "porthole/opensig.h"
#include "porthole/token.h"
#include "porthole/util.h"

#include "client-conf.h"
#include "client-sign.h"

int
client_sign_load(struct client_conf *conf, char **cause)
{
	json_t		*claims = NULL, *jwk;
	struct ph_key	*bound = NULL;
	const char	*jti;
	char		*why = NULL;
	int		 rc = -1;

	if (ph_token_decode(conf->token, NULL, &claims, &why) != 0) {
		free(why);	/* the relay will say what is wrong with it */
		claims = NULL;
	}
	if (claims != NULL &&
	    (jti = json_string_value(json_object_get(claims, "jti"))) != NULL &&
	    (conf->jti = strdup(jti)) == NULL)
		goto nomem;
	if (claims != NULL &&
	    (jti = json_string_value(json_object_get(claims, "target"))) != NULL &&
	    *jti != '\0' && (conf->token_target = strdup(jti)) == NULL)
		goto nomem;
	jwk = claims != NULL ? json_object_get(json_object_get(claims, "cnf"),
	    "jwk") : NULL;
	if (jwk != NULL && (bound = ph_key_from_jwk(jwk, &why)) == NULL) {
		*cause = ph_asprintf("the token's cnf.jwk is not a usable key (%s): "
		    "reissue the token with 'porthole token issue --bind KEY.pub'",
		    why);
		free(why);
		goto out;
	}
	conf->bound = bound != NULL;
	if (conf->key != NULL) {
		if ((conf->signer = ph_key_load(conf->key, 0, &why)) == NULL) {
			*cause = ph_asprintf("cannot use PORTHOLE_KEY: %s", why);
			free(why);
			goto out;
		}
		if (bound != NULL && strcmp(ph_key_kid(bound),
		    ph_key_kid(conf->signer)) != 0) {
			*cause = ph_asprintf("PORTHOLE_KEY %s (kid %s) is not the key "
			    "the token is bound to (kid %s): set PORTHOLE_KEY to "
			    "that key, or reissue the token with --bind", conf->key,
			    ph_key_kid(conf->signer), ph_key_kid(bound));
			goto out;
		}
	}
	rc = 0;
	goto out;
nomem:
	*cause = ph_asprintf("out of memory");
out:
	ph_key_free(bound);
	json_decref(claims);
	return rc;
}

int
client_sign_ready(const struct client_conf *conf, char **cause)
{
	if (conf->bound && conf->signer == NULL) {
		*cause = ph_asprintf("the token is bound to a client key: set "
		    "PORTHOLE_KEY (or --key) to that private key");
		return -1;
	}
	return 0;
}

char *
client_sign_list(const struct client_conf *conf, const char *path,
    const char *selector, char **cause)
{
	return client_sign_req(conf, "GET", path, selector, cause);
}

char *
client_sign_req(const struct client_conf *conf, const char *method, const char *path,
    const char *selector, char **cause)
{
	struct ph_listreq req;

	*cause = NULL;
	if (client_sign_ready(conf, cause) != 0 || conf->signer == NULL)
		return NULL;
	req.method = method;
	req.host = conf->host;
	req.path = path;
	req.selector = selector;
	return ph_listproof_make(conf->signer, conf->jti != NULL ? conf->jti : "",
	    &req, ph_now(), cause);
}

int
client_sign_open(const struct client_conf *conf, json_t *open, char **cause)
{
	if (conf->signer == NULL) {
		/* Unsigned: the relay will refuse it, saying why. */
		return json_object_set_new(open, "ts", json_integer(ph_now()));
	}
	return ph_opensig_sign(conf->signer, conf->jti != NULL ? conf->jti : "",
	    open, ph_now(), cause);
}

void
client_sign_free(struct client_conf *conf)
{
	ph_key_free(conf->signer);
	conf->signer = NULL;
	free(conf->jti);
	conf->jti = NULL;
	free(conf->token_target);
	conf->token_target = NULL;
}
