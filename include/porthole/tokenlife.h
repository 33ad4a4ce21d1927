/*
 * tokenlife.h - the longest life a relay lets a token have, per kind of
 * token: the policy behind `porthole-relay --max-token-lifetime`
 * (PORTHOLE_MAX_TOKEN_LIFETIME).
 *
 * A token's life is exp - iat, as its issuer wrote it (not what is left of
 * it): a token issued for a year is refused on its first day too, so a
 * leaked long-lived token cannot be used however fresh it is.  Limits are
 * whole seconds, 0 meaning none.  Defaults: client tokens 30 days (what
 * `porthole token issue` writes unless told otherwise), agent tokens none
 * (they live in a secrets store and are revoked by jti), relay tokens (a
 * kind to come) as client tokens unless set.
 *
 * A spec is "KIND=DURATION[,KIND=DURATION...]", e.g. "client=7d,agent=90d";
 * kinds it does not name keep their current limit.  A token without iat
 * (porthole always writes one) is refused wherever its kind has a limit:
 * its life cannot be told.
 *
 * Errors: -1 with *cause (malloc'd).
 */
#ifndef PORTHOLE_TOKENLIFE_H
#define PORTHOLE_TOKENLIFE_H

#include <stdint.h>

#include "porthole/token.h"

#define PH_LIFETIME_DEFAULT	"client=30d,agent=0"

struct ph_lifetime {
	int64_t	client;		/* seconds; 0: no limit */
	int64_t	agent;
	int64_t	relay;		/* -1: as client */
};

/* The defaults (PH_LIFETIME_DEFAULT, relay as client). */
void	ph_lifetime_defaults(struct ph_lifetime *lt);

/* Apply spec over lt's current limits; lt is unchanged on failure. */
int	ph_lifetime_parse(struct ph_lifetime *lt, const char *spec, char **cause);

/* The limit for a kind of token by name ("client", "agent", "relay"); 0: none. */
int64_t	ph_lifetime_max(const struct ph_lifetime *lt, const char *kind);

/* Is the verified token c within its kind's limit?  0, or -1 with *cause. */
int	ph_lifetime_check(const struct ph_lifetime *lt, const struct ph_claims *c,
	    char **cause);

/* A number of seconds for a message: "30d", "1d12h", "90s"; 0: "none".  Returns buf. */
const char *ph_lifetime_fmt(int64_t secs, char *buf, size_t len);

#endif
