/*
 * relay-agent.h - the registry of connected agents (relay-agent.c); its
 * endpoint, the control channel, is in the endpoint table.
 */
#ifndef PORTHOLE_RELAY_AGENT_H
#define PORTHOLE_RELAY_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "porthole/token.h"
#include "relay-map.h"

struct relay_agent;

/* The registry (struct relay's `agents`). */
struct relay_agents {
	struct relay_map	 by_id;		/* full id -> agent */
	struct relay_agent	*head, *tail;	/* in connection order, for listings */
	size_t			 n;
	uint64_t		 total;		/* registrations ever, for /metrics */
};

struct relay_agent *relay_agent_find(struct relay_agents *as, const char *id);
json_t	*relay_agent_json(const struct relay_agent *a);
json_t	*relay_agent_list(struct relay_agents *as, const struct ph_claims *cl,
	    const char *selector, char **cause);
/* The same agents, one at a time to fn (JSON borrowed): 0, or -1 with *cause. */
int	relay_agent_each(struct relay_agents *as, const struct ph_claims *cl,
	    const char *selector, int (*fn)(json_t *agent, void *arg), void *arg,
	    char **cause);
int	relay_agent_send(struct relay_agent *a, json_t *obj);
json_t	*relay_agent_attribution(struct relay_agents *as, const char *claimed,
	    const char *sub, const char *instance, char **cause);
const char *relay_agent_id(const struct relay_agent *a);
int	relay_agent_proto(const struct relay_agent *a);
void	relay_agents_free(struct relay_agents *as);
/* Welcomed: its claim held (locally, and in the fleet's directory when there is one). */
int	relay_agent_ready(const struct relay_agent *a);
/* Every local agent into the fleet's directory again (Redis up, or restarted empty). */
void	relay_agents_republish(void);
/* Did its hello.caps name cap? */
int	relay_agent_has_cap(const struct relay_agent *a, const char *cap);
/* fn for every agent of the registry (it must not remove any). */
void	relay_agents_each(void (*fn)(struct relay_agent *, void *), void *arg);

#endif
