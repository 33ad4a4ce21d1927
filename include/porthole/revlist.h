/*
 * revlist.h - a bounded set of revoked token ids (jti), each with the time
 * it stops mattering (exp, Unix seconds: when the token would have
 * expired; 0 = never).  The relay keeps the fleet's revocations in one
 * (relay-revoke.c: what `porthole token revoke` recorded, from Redis or
 * PORTHOLE_REVOKED), and an agent keeps in one what its relays pushed
 * (agent-verify.c), beside the file of its image.
 *
 * Entries are only ever added or extended (a later exp wins), and leave
 * when their time has passed: nothing removes one otherwise.  The set is
 * bounded (max entries): an add that finds it full first drops expired
 * entries, then fails.  Lookups are a binary search in a sorted array.
 *
 * ph_revlist_add_json reads the `entries` of a `revoked` control message
 * (docs/protocol.md, "revoked"): an object {"JTI": EXP, ...} as an untrusted
 * peer sent it, every member checked.
 *
 * Errors: -1 with *cause (malloc'd) where a cause is taken.
 */
#ifndef PORTHOLE_REVLIST_H
#define PORTHOLE_REVLIST_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define PH_REVLIST_JTI_MAX	1024		/* longest jti (as token.c takes) */
#define PH_REVLIST_MAX		16384		/* a relay's revocations */
#define PH_REVLIST_PUSH_MAX	(2 * PH_REVLIST_MAX)	/* an agent's pushed ones */

struct ph_revent {
	char		*jti;
	int64_t		 exp;		/* 0: never */
};

struct ph_revlist {
	struct ph_revent	*v;		/* sorted by jti */
	size_t			 n, cap;
	size_t			 max;		/* most entries held */
};

void	ph_revlist_init(struct ph_revlist *l, size_t max);
void	ph_revlist_free(struct ph_revlist *l);
/* Is s a jti an entry may name: 1..PH_REVLIST_JTI_MAX bytes, no control characters? */
int	ph_revlist_jti_ok(const char *s, size_t len);
/*
 * Add jti until exp (an exp already past at now is not added).  1 when the
 * set changed (new, or a later exp), 0 when not, -1 when it is full (or
 * out of memory, or jti is not one: *cause says which).
 */
int	ph_revlist_add(struct ph_revlist *l, const char *jti, int64_t exp, int64_t now,
	    char **cause);
/* Is jti in the set and not expired at now?  1 / 0. */
int	ph_revlist_has(const struct ph_revlist *l, const char *jti, int64_t now);
/* Drop the entries expired at now; how many went. */
size_t	ph_revlist_prune(struct ph_revlist *l, int64_t now);
/*
 * Add every member of entries ({"JTI": EXP, ...}); *added counts those
 * that changed the set.  -1 with *cause when entries is not such an object
 * (nothing of it is added then) or when the set is full (what fitted stays).
 */
int	ph_revlist_add_json(struct ph_revlist *l, json_t *entries, int64_t now,
	    size_t *added, char **cause);

#endif
