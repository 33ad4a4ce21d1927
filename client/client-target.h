/*
 * client-target.h - turn a TARGET into the one agent a command acts on, and
 * name agents in the CLI's messages.
 *
 * Matching itself is ph_target_resolve (selector.h); what this adds is the
 * operator-facing side: "no agent matches", "matches N agents", and agent
 * names made safe to print (names and labels come from agents, and a
 * terminal must not act on escape sequences hidden in them).
 */
#ifndef PORTHOLE_CLIENT_TARGET_H
#define PORTHOLE_CLIENT_TARGET_H

#include <stddef.h>
#include <jansson.h>

struct client_conf;

/*
 * The single agent (new reference) that target names among agents (the
 * /v1/agents array), or NULL with *cause: no match (listing the connected
 * agents), several matches (listing them), or a malformed selector.
 * conf names the relay and the token's own target in the message.
 */
json_t	*client_target_one(json_t *agents, const char *target,
	    const struct client_conf *conf, char **cause);
/* ", and the token may only touch agents matching SEL" or ""; malloc'd. */
char	*client_target_limit(const struct client_conf *conf);

/* "name (id), name (id), ... and N more" for up to max agents; malloc'd. */
char	*client_target_list(json_t *agents, size_t max);

/*
 * A string member of an agent object as it came ("" if absent): the
 * agent's bytes, for matching and JSON; client_printable before printing.
 */
const char *client_agent_str(json_t *agent, const char *key);

/* Does the agent list cap in its hello.caps (as the relay lists it)? */
int	 client_agent_has_cap(json_t *agent, const char *cap);

/*
 * s escaped for a terminal (ph_printable, porthole/printable.h: \x1b,
 * \n, \u009b, ...); malloc'd.  Every CLI printer of network text uses it.
 */
char	*client_printable(const char *s);

#endif
