/*
 * relay-auth.h - tokens on requests and upgrades, the signature of an open,
 * what a token may touch (relay-auth.c).
 */
#ifndef PORTHOLE_RELAY_AUTH_H
#define PORTHOLE_RELAY_AUTH_H

#include <jansson.h>

#include "porthole/token.h"

struct lws;

int	relay_auth_check(struct lws *wsi, enum ph_token_kind want,
	    struct ph_claims *out, int *refusal, char **cause);
int	relay_auth_check_keep(struct lws *wsi, enum ph_token_kind want,
	    struct ph_claims *out, char **keep, int *refusal, char **cause);
int	relay_auth_may_touch(const struct ph_claims *cl, json_t *agent);
int	relay_auth_open(const struct ph_claims *cl, const json_t *open, char **cause);
int	relay_auth_revoked(const char *jti);
void	relay_auth_wipe(char **tok);

#endif
