/*
 * selector.c - matching TARGETs and label selectors against the list of
 * agents the relay reports.  Pure functions over jansson values: the CLI uses
 * them to resolve a TARGET, the relay to filter /v1/agents.
 *
 * Agent ids are "<claimed>@<sub>" (agentid.h): a TARGET written T@SUB is
 * matched only against the agents of that sub, T against their claimed
 * ids, names and tasks; without '@', ids are matched whole (an id prefix
 * is still a task id prefix, the claimed id coming first).  The last rule
 * takes a prefix of an id, a name or a task alike: "api" picks api-1 when
 * it is the only agent whose id, name or task starts so, and picks api-1
 * and api-2 both (an ambiguity the CLI refuses, a list "ls" prints) when
 * both are connected; an exact name or task still comes first.
 */
#include <stdlib.h>
#include <string.h>

#include "porthole/agentid.h"
#include "porthole/selector.h"
#include "porthole/util.h"

int
ph_selector_is(const char *target)
{
	return target != NULL && strchr(target, '=') != NULL;
}

int
ph_selector_match(const char *selector, json_t *agent, char **cause)
{
	json_t *want, *labels, *v;
	const char *key;
	int match = 1;

	if ((want = ph_labels_parse(selector, cause)) == NULL)
		return -1;
	labels = json_object_get(agent, "labels");
	json_object_foreach(want, key, v) {
		json_t *have = json_object_get(labels, key);

		if (!json_is_string(have) ||
		    strcmp(json_string_value(have), json_string_value(v)) != 0) {
			match = 0;
			break;
		}
	}
	json_decref(want);
	return match;
}

static const char *
str_member(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static const char *
agent_task(json_t *agent)
{
	return str_member(json_object_get(agent, "labels"), "task");
}

/* Rules in order; the first that matches anything decides. */
enum rule { R_ID, R_NAME, R_TASK, R_PREFIX, R_COUNT };

static const enum ph_target_how rule_how[R_COUNT] = {
	PH_TARGET_ID, PH_TARGET_NAME, PH_TARGET_TASK, PH_TARGET_PREFIX
};

/*
 * Does rule r match agent for target?  With sub (TARGET written as
 * T@SUB), only agents of that sub match, and the id compared is their
 * claimed id (the full id without "@SUB").
 */
static int
rule_match(enum rule r, const char *target, const char *sub, json_t *agent)
{
	const char *id = str_member(agent, "id");
	const char *name = str_member(agent, "name");
	const char *task = agent_task(agent);
	const char *asub = str_member(agent, "sub");
	size_t n = strlen(target), idlen = 0;

	if (sub != NULL && (asub == NULL || strcmp(asub, sub) != 0))
		return 0;
	if (id != NULL)
		idlen = sub != NULL ? ph_agent_claim_len(id, asub) : strlen(id);
	switch (r) {
	case R_ID:
		return id != NULL && idlen == n && strncmp(id, target, n) == 0;
	case R_NAME:
		return name != NULL && strcmp(name, target) == 0;
	case R_TASK:
		return task != NULL && strcmp(task, target) == 0;
	case R_PREFIX:
		return (id != NULL && n <= idlen && strncmp(id, target, n) == 0) ||
		    (name != NULL && strncmp(name, target, n) == 0) ||
		    (task != NULL && strncmp(task, target, n) == 0);
	default:
		return 0;
	}
}

/* Apply the rules in order to (target, sub); the first that matches decides. */
static void
rules_apply(const char *target, const char *sub, json_t *agents, json_t *out,
    enum ph_target_how *how)
{
	json_t *agent;
	size_t i;
	int r;

	for (r = 0; r < R_COUNT; r++) {
		json_array_foreach(agents, i, agent) {
			if (rule_match((enum rule)r, target, sub, agent))
				json_array_append(out, agent);
		}
		if (json_array_size(out) > 0) {
			*how = rule_how[r];
			return;
		}
	}
}

json_t *
ph_target_resolve_how(const char *target, json_t *agents, enum ph_target_how *howp,
    char **cause)
{
	json_t *out, *agent;
	enum ph_target_how how = PH_TARGET_NONE;
	const char *at;
	char *claim;
	size_t i;
	int m;

	if (target == NULL || *target == '\0') {
		*cause = ph_asprintf("empty target");
		return NULL;
	}
	if ((out = json_array()) == NULL) {
		*cause = ph_asprintf("out of memory");
		return NULL;
	}
	if (ph_selector_is(target)) {
		json_array_foreach(agents, i, agent) {
			if ((m = ph_selector_match(target, agent, cause)) < 0) {
				json_decref(out);
				return NULL;
			}
			if (m)
				json_array_append(out, agent);
		}
		how = PH_TARGET_SELECTOR;
		goto done;
	}
	/* CLAIM@SUB, NAME@SUB, TASK@SUB, PREFIX@SUB: within that sub. */
	if ((at = strchr(target, '@')) != NULL && at != target && at[1] != '\0') {
		if ((claim = strndup(target, (size_t)(at - target))) == NULL) {
			json_decref(out);
			*cause = ph_asprintf("out of memory");
			return NULL;
		}
		rules_apply(claim, at + 1, agents, out, &how);
		free(claim);
		if (json_array_size(out) > 0)
			goto done;
	}
	rules_apply(target, NULL, agents, out, &how);
done:
	if (json_array_size(out) == 0)
		how = PH_TARGET_NONE;
	if (howp != NULL)
		*howp = how;
	return out;
}

json_t *
ph_target_resolve(const char *target, json_t *agents, char **cause)
{
	return ph_target_resolve_how(target, agents, NULL, cause);
}

int
ph_target_one_sub(json_t *agents)
{
	json_t *a;
	const char *first = NULL, *sa;
	size_t i;

	json_array_foreach(agents, i, a) {
		sa = str_member(a, "sub");
		if (i == 0)
			first = sa;
		else if ((sa == NULL) != (first == NULL) ||
		    (sa != NULL && strcmp(sa, first) != 0))
			return 0;
	}
	return 1;
}
