/*
 * relay-fleet.h - the fleet's directory in Redis (relay-fleet.c): which
 * relay holds which agent, claims of agent ids, heartbeats, the listing.
 * Soft state only: everything a relay wrote is written again when Redis
 * comes back empty, and nothing a session needs while it runs is there.
 */
#ifndef PORTHOLE_RELAY_FLEET_H
#define PORTHOLE_RELAY_FLEET_H

#include <stdint.h>

#include <jansson.h>

#define RELAY_FLEET_BEAT_MS	2000	/* heartbeat period */
#define RELAY_FLEET_ALIVE_SECS	6	/* a relay silent this long is gone */
#define RELAY_FLEET_AGENTS_SECS	15	/* its agents' hash outlives it this long */
#define RELAY_FLEET_CLAIM_SECS	86400	/* a claim outlives its relay at most this */

/* struct relay's `fleet`. */
struct relay_fleet {
	char		 id[17];		/* hex, new at every start */
	char		 alive_key[32];		/* ph:relay:RID */
	char		 agents_key[40];	/* ph:relay:RID:agents */
	char		*advertise;		/* --advertise, or NULL */
	int64_t		 started;
	int64_t		 beat_ms;
};

/* A claim's answer: 0 taken, 1 held by another live agent (holder: its relay), -1 no answer. */
typedef void (*relay_fleet_claimed)(int result, const char *holder, void *arg);
/*
 * One agent of another relay, as Redis holds it: the text of its JSON
 * object (what `ls` shows, with "relay"), unchecked: the caller parses it.
 */
struct relay_fleet_entry {
	const char	*json;
	size_t		 len;
};
/*
 * The listing: the other relays' agents (borrowed for the call), or
 * entries NULL when Redis did not answer (the listing is partial).  This
 * relay's own agents are not among them: it lists those from memory.
 */
typedef void (*relay_fleet_listed)(const struct relay_fleet_entry *entries, size_t n,
	    void *arg);

void	relay_fleet_init(void);
const char *relay_fleet_id(void);		/* this relay's id in the directory */
/* Redis came up (again): heartbeat, and every local agent written again. */
void	relay_fleet_up(void);
void	relay_fleet_tick(int64_t now_ms);
/*
 * Claim agent id for this relay (entry: what `ls` shows of it, taken).
 * -1 when Redis is down: done is not called, the claim is local only.
 */
int	relay_fleet_claim(const char *id, const char *instance, json_t *entry,
	    relay_fleet_claimed done, void *arg);
/* The agent left: its entries go, if they are still this relay's. */
void	relay_fleet_gone(const char *id, const char *instance);
/* Every agent of the other relays, each once.  -1 when Redis is down: done not called. */
int	relay_fleet_list(relay_fleet_listed done, void *arg);

#endif
