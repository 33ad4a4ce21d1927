/*
 * relay-revoke.h - revocation for the fleet (relay-revoke.c): what
 * `porthole token revoke` records (POST /v1/revoked/JTI/UNTIL), kept in
 * Redis with --redis (every relay polls it once a second) or appended to
 * PORTHOLE_REVOKED without, refused by every relay, and pushed to the
 * agents over their control channel (`revoked`, docs/protocol.md).
 */
#ifndef PORTHOLE_RELAY_REVOKE_H
#define PORTHOLE_RELAY_REVOKE_H

#include <stdint.h>

#include "porthole/revlist.h"

#define RELAY_REVOKE_POLL_MS	1000	/* ph:revoked:gen read this often */
#define RELAY_REVOKE_CAP_SECS	(3650LL * 86400)	/* a kind without a lifetime limit */
#define RELAY_REVOKE_CHUNK	(48 * 1024)	/* bytes of entries per `revoked` message */

struct relay_agent;

/* struct relay's `revoke`. */
struct relay_revoke {
	struct ph_revlist	 list;		/* recorded here or read from Redis */
	long long		 gen;		/* ph:revoked:gen last read; -1: none yet */
	int			 polling;	/* a GET or a fetch is out */
	int64_t			 poll_ms;
	/* /metrics */
	uint64_t		 recorded;	/* token revoke requests taken */
	uint64_t		 pushed;	/* `revoked` messages sent to agents */
	uint64_t		 writebacks;	/* entries Redis lacked, written again */
};

void	relay_revoke_init(void);
void	relay_revoke_free(void);
/* Is jti revoked for the fleet (Redis, or what this relay recorded)?  1 / 0. */
int	relay_revoke_has(const char *jti);
/* How far ahead an entry may reach: the longest token lifetime this relay takes. */
int64_t	relay_revoke_bound(void);
/*
 * Record jti revoked until until (Unix seconds; 0: as long as a token may
 * live, relay_revoke_bound; clamped to it).  0 with *at (the entry's time)
 * and *where ("redis" or "file"), or -1 with *cause (and *status, an HTTP
 * status: 409 when there is nowhere to record, 507 when full, 500).
 */
int	relay_revoke_record(const char *jti, int64_t until, int64_t *at,
	    const char **where, int *status, char **cause);
/* Once a second: poll Redis, notice PORTHOLE_REVOKED changes, push. */
void	relay_revoke_tick(int64_t now_ms);
/* A welcomed agent: the whole list, if it takes `revoked` (PH_CAP_REVOKED). */
void	relay_revoke_welcome(struct relay_agent *a);

#endif
