/*
 * fuzz_selector.c - libFuzzer target for TARGET resolution (src/selector.c):
 * the first line is a TARGET (id, name, task id prefix or label selector),
 * the rest a JSON array of agents as /v1/agents lists them (ids qualified
 * "<claimed>@<sub>", TARGETs T@SUB among them).  Every agent
 * returned must be one of those given.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "porthole/selector.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	json_t *agents, *got, *a, *b;
	json_error_t err;
	char *target, *cause = NULL;
	size_t i, j, tlen = nl != NULL ? (size_t)(nl - data) : size;
	int found;

	if ((target = strndup((const char *)data, tlen)) == NULL)
		return 0;
	if (nl != NULL)
		agents = json_loadb((const char *)nl + 1, size - tlen - 1, 0, &err);
	else
		agents = json_array();
	if (agents == NULL)
		agents = json_array();
	(void)ph_selector_is(target);
	got = ph_target_resolve(target, agents, &cause);
	if (got != NULL) {
		(void)ph_target_one_sub(got);
		json_array_foreach(got, i, a) {
			found = 0;
			json_array_foreach(agents, j, b) {
				if (json_equal(a, b))
					found = 1;
			}
			if (!found)
				abort();
		}
		json_decref(got);
	} else
		free(cause);
	if (json_is_array(agents) && json_array_size(agents) > 0) {
		cause = NULL;
		if (ph_selector_match(target, json_array_get(agents, 0), &cause) < 0)
			free(cause);
	}
	json_decref(agents);
	free(target);
	return 0;
}
