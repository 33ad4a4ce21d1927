/*
 * selector.h - TARGET and SELECTOR matching against the agent list.
 *
 * A selector is "k=v[,k=v]": an agent matches when every key is among its
 * labels with that value.  A TARGET that contains '=' is a selector;
 * otherwise it is matched, in this order, as an exact agent id, an exact
 * name, an exact task label, then a unique prefix of an id or task; the first
 * rule that matches anything decides.
 */
#ifndef PORTHOLE_SELECTOR_H
#define PORTHOLE_SELECTOR_H

#include <jansson.h>

int	ph_selector_is(const char *target);
/* Does agent (JSON object with "labels") match selector?  -1: bad selector. */
int	ph_selector_match(const char *selector, json_t *agent, char **cause);

/*
 * Resolve target against agents (JSON array of agent objects with id, name,
 * labels).  Returns a new JSON array of the matching agent objects (empty
 * when none matched), or NULL with *cause for a malformed selector.
 */
json_t	*ph_target_resolve(const char *target, json_t *agents, char **cause);

#endif
