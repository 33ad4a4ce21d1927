/*
 * relay-sids.c - the session ids this relay has seen, so that a client can
 * never reuse one (protocol: "sid_reused", 4409).
 *
 * Memory is bounded: the set remembers the last RELAY_SIDS_MAX ids (16 bytes
 * each, plus a 4-byte chain link and a 4-byte bucket), forgetting the oldest
 * first.  It starts small and doubles up to that cap.  Ids are 128 random
 * bits drawn by clients, so forgetting one that old only re-admits a
 * deliberate replay of a session long finished, whose one-time secret is
 * gone anyway.  Buckets are keyed with a per-process random seed so that a
 * client choosing its ids cannot pile them into one chain.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "porthole/frame.h"
#include "porthole/protocol.h"
#include "relay-sids.h"

#define RELAY_SIDS_MAX	(1u << 17)	/* 131072 ids, about 3 MiB at most */
#define RELAY_SIDS_MIN	1024u
#define RELAY_SIDS_NONE	UINT32_MAX


static int
relay_sids_parse(const char *sid, uint8_t out[16])
{
	int i, hi, lo;

	if (!ph_sid_valid(sid))
		return -1;
	for (i = 0; i < 16; i++) {
		hi = sid[2 * i] <= '9' ? sid[2 * i] - '0' : sid[2 * i] - 'a' + 10;
		lo = sid[2 * i + 1] <= '9' ? sid[2 * i + 1] - '0' : sid[2 * i + 1] - 'a' + 10;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static uint32_t
relay_sids_hash(const struct relay_sids *sids, const uint8_t k[16])
{
	uint64_t h = sids->seed ^ 1469598103934665603ULL;
	int i;

	for (i = 0; i < 16; i++) {
		h ^= k[i];
		h *= 1099511628211ULL;
	}
	h ^= h >> 29;
	return (uint32_t)(h & (sids->cap - 1));
}

static int
relay_sids_find(const struct relay_sids *sids, const uint8_t k[16])
{
	uint32_t i;

	if (sids->cap == 0)
		return 0;
	for (i = sids->bucket[relay_sids_hash(sids, k)]; i != RELAY_SIDS_NONE;
	    i = sids->chain[i]) {
		if (memcmp(sids->key[i], k, 16) == 0)
			return 1;
	}
	return 0;
}

static void
relay_sids_link(struct relay_sids *sids, uint32_t i)
{
	uint32_t h = relay_sids_hash(sids, sids->key[i]);

	sids->chain[i] = sids->bucket[h];
	sids->bucket[h] = i;
}

static void
relay_sids_unlink(struct relay_sids *sids, uint32_t i)
{
	uint32_t *pp = &sids->bucket[relay_sids_hash(sids, sids->key[i])];

	while (*pp != RELAY_SIDS_NONE && *pp != i)
		pp = &sids->chain[*pp];
	if (*pp == i)
		*pp = sids->chain[i];
}

/* Grow to newcap entries and rebuild the buckets; -1 on ENOMEM. */
static int
relay_sids_grow(struct relay_sids *sids, uint32_t newcap)
{
	uint8_t (*key)[16];
	uint32_t *chain, *bucket, i;

	if ((key = realloc(sids->key, (size_t)newcap * sizeof *key)) == NULL)
		return -1;
	sids->key = key;
	if ((chain = realloc(sids->chain, (size_t)newcap * sizeof *chain)) == NULL)
		return -1;
	sids->chain = chain;
	if ((bucket = malloc((size_t)newcap * sizeof *bucket)) == NULL)
		return -1;
	free(sids->bucket);
	sids->bucket = bucket;
	sids->cap = newcap;
	for (i = 0; i < newcap; i++)
		sids->bucket[i] = RELAY_SIDS_NONE;
	for (i = 0; i < sids->n; i++)
		relay_sids_link(sids, i);
	return 0;
}

/* Has sid been used?  (A malformed sid counts as seen: refuse it.) */
int
relay_sids_seen(struct relay_sids *sids, const char *sid)
{
	uint8_t k[16];

	if (relay_sids_parse(sid, k) != 0)
		return 1;
	return relay_sids_find(sids, k);
}

/* Remember sid; forgets the oldest id once RELAY_SIDS_MAX are held. */
int
relay_sids_add(struct relay_sids *sids, const char *sid)
{
	uint8_t k[16];
	uint32_t i;

	if (relay_sids_parse(sid, k) != 0)
		return -1;
	if (sids->cap == 0) {
		if (getrandom(&sids->seed, sizeof sids->seed, 0) != sizeof sids->seed)
			sids->seed = 0x9e3779b97f4a7c15ULL;
		if (relay_sids_grow(sids, RELAY_SIDS_MIN) != 0)
			return -1;
	}
	if (relay_sids_find(sids, k))
		return 0;
	if (sids->n == sids->cap && sids->cap < RELAY_SIDS_MAX &&
	    relay_sids_grow(sids, sids->cap * 2) != 0)
		return -1;
	if (sids->n < sids->cap) {
		i = sids->n++;
	} else {
		i = sids->oldest;
		relay_sids_unlink(sids, i);
		sids->oldest = (sids->oldest + 1) % sids->cap;
	}
	memcpy(sids->key[i], k, 16);
	relay_sids_link(sids, i);
	return 0;
}

void
relay_sids_free(struct relay_sids *sids)
{
	free(sids->key);
	free(sids->chain);
	free(sids->bucket);
	memset(sids, 0, sizeof *sids);
}
