/*
 * relay-sids.h - the session ids a relay has seen, bounded, the oldest
 * forgotten first (relay-sids.c).
 */
#ifndef PORTHOLE_RELAY_SIDS_H
#define PORTHOLE_RELAY_SIDS_H

#include <stdint.h>

/* The set (struct relay's `sids`). */
struct relay_sids {
	uint8_t		(*key)[16];	/* ring of ids, oldest at `oldest` once full */
	uint32_t	 *chain;	/* next index in the same bucket */
	uint32_t	 *bucket;	/* first index per bucket; cap buckets */
	uint32_t	  cap, n, oldest;
	uint64_t	  seed;
};

int	relay_sids_seen(struct relay_sids *set, const char *sid);
int	relay_sids_add(struct relay_sids *set, const char *sid);
void	relay_sids_free(struct relay_sids *set);

#endif
