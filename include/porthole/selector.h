/*
 * selector.h - TARGET and SELECTOR matching against the agent list.
 *
 * A selector is "k=v[,k=v]": an agent matches when every key is among its
 * labels with that value.  A TARGET that contains '=' is a selector;
 * otherwise it is matched, in this order, as an exact agent id, an exact
 * name, an exact task label, then a prefix of an id, a name or a task; the
 * first rule that matches anything decides (several agents matched by a
 * prefix are an ambiguity for a command that acts on one, and what "ls
 * PREFIX" lists).
 *
 * Agent ids are "<claimed>@<sub>" (agentid.h).  A TARGET "T@SUB" (no '=')
 * is first matched by the same rules among the agents whose token had
 * that sub, T against their claimed id, name and task; if nothing matches
 * so, the whole TARGET is matched as above (a prefix of a full id).  A name
 * shared by agents of several subs matches them all: the caller says it
 * is ambiguous, and NAME@SUB picks one.
 */
#ifndef PORTHOLE_SELECTOR_H
#define PORTHOLE_SELECTOR_H

#include <jansson.h>

int	ph_selector_is(const char *target);
/* Does agent (JSON object with "labels") match selector?  -1: bad selector. */
int	ph_selector_match(const char *selector, json_t *agent, char **cause);

/*
 * Resolve target against agents (JSON array of agent objects with id, name,
 * sub, labels).  Returns a new JSON array of the matching agent objects (empty
 * when none matched), or NULL with *cause for a malformed selector.
 */
json_t	*ph_target_resolve(const char *target, json_t *agents, char **cause);

/* Which rule decided a TARGET. */
enum ph_target_how {
	PH_TARGET_NONE,		/* nothing matched */
	PH_TARGET_SELECTOR,	/* key=value[,...] */
	PH_TARGET_ID,		/* an exact id: the full id, or CLAIMED@SUB */
	PH_TARGET_NAME,		/* an exact name (NAME or NAME@SUB) */
	PH_TARGET_TASK,		/* an exact task label */
	PH_TARGET_PREFIX,	/* a prefix of an id, a name or a task */
};

/* ph_target_resolve, also saying which rule decided (how may be NULL). */
json_t	*ph_target_resolve_how(const char *target, json_t *agents,
	    enum ph_target_how *how, char **cause);

/*
 * Did every agent of the array come with the same `sub` (agents listed
 * without one, by an older relay, count as one more sub)?  1 or 0; 1 for
 * an empty array.
 */
int	 ph_target_one_sub(json_t *agents);

#endif
