/*
 * op.c - the list of operations porthole-agent serves, looked up by the
 * `op` member of an `open` request and announced as `caps` in `hello`.
 * Adding an operation is adding its op-<name>.c and one line here.
 */
#include <string.h>

#include <libwebsockets.h>

#include "op.h"

static const struct op_entry *const op_table[] = {
	&op_exec_entry,
	&op_shell_entry,
	&op_ps_entry,
	&op_mem_entry,
	&op_cp_entry,
	&op_dump_entry,
};

#define OP_COUNT	(sizeof op_table / sizeof op_table[0])

const struct op_entry *
op_find(const char *name)
{
	size_t	i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < OP_COUNT; i++) {
		if (strcmp(op_table[i]->name, name) == 0)
			return op_table[i];
	}
	return NULL;
}

json_t *
op_caps(void)
{
	json_t	*caps;
	size_t	 i;

	if ((caps = json_array()) == NULL)
		return NULL;
	for (i = 0; i < OP_COUNT; i++) {
		if (json_array_append_new(caps, json_string(op_table[i]->name)) != 0) {
			json_decref(caps);
			return NULL;
		}
	}
	return caps;
}
