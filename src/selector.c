/*
 * selector.c - matching TARGETs and label selectors against the list of
 * agents the relay reports.  Pure functions over jansson values: the CLI uses
 * them to resolve a TARGET, the relay to filter /v1/agents.
 */
#include <stdlib.h>
#include <string.h>

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

static int
rule_match(enum rule r, const char *target, json_t *agent)
{
	const char *id = str_member(agent, "id");
	const char *name = str_member(agent, "name");
	const char *task = agent_task(agent);
	size_t n = strlen(target);

	switch (r) {
	case R_ID:
		return id != NULL && strcmp(id, target) == 0;
	case R_NAME:
		return name != NULL && strcmp(name, target) == 0;
	case R_TASK:
		return task != NULL && strcmp(task, target) == 0;
	case R_PREFIX:
		return (id != NULL && strncmp(id, target, n) == 0) ||
		    (task != NULL && strncmp(task, target, n) == 0);
	default:
		return 0;
	}
}

json_t *
ph_target_resolve(const char *target, json_t *agents, char **cause)
{
	json_t *out = json_array(), *agent;
	size_t i;
	int r, m;

	if (target == NULL || *target == '\0') {
		*cause = ph_asprintf("empty target");
		json_decref(out);
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
		return out;
	}
	for (r = 0; r < R_COUNT; r++) {
		json_array_foreach(agents, i, agent) {
			if (rule_match((enum rule)r, target, agent))
				json_array_append(out, agent);
		}
		if (json_array_size(out) > 0)
			break;
	}
	return out;
}
