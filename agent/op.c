/*
 * op.c - the list of operations porthole-agent serves, looked up by the
 * `op` member of an `open` request and announced as `caps` in `hello`
 * (with the features an operation lists, "cp.cwd": ops.h, PH_CAP_*).
 * Adding an operation is its op-<name>.c, one line here and its entry in
 * the operation registry (src/ops.c); op_table_check(), run when the agent
 * starts and by the unit test agent_ops, holds the two lists equal.
 */
#include <string.h>

#include "porthole/ops.h"
#include "porthole/util.h"

#include <libwebsockets.h>

#include "op.h"

static const struct op_entry *const op_table[] = {
	&op_exec_entry,
	&op_shell_entry,
	&op_ps_entry,
	&op_mem_entry,
	&op_cp_entry,
	&op_dump_entry,
	&op_net_entry,
	&op_lsof_entry,
	&op_probe_entry,
	&op_watch_entry,
	&op_forward_entry,
	&op_sessions_entry,
	&op_attach_entry,
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
		const char *const *f = op_table[i]->caps;

		if (json_array_append_new(caps, json_string(op_table[i]->name)) != 0)
			goto fail;
		for (; f != NULL && *f != NULL; f++) {
			if (json_array_append_new(caps, json_string(*f)) != 0)
				goto fail;
		}
	}
	/* Not an operation: the control channel takes `revoked` (agent-verify.c). */
	if (json_array_append_new(caps, json_string(PH_CAP_REVOKED)) != 0)
		goto fail;
	return caps;
fail:
	json_decref(caps);
	return NULL;
}

int
op_table_check(char **cause)
{
	const struct ph_op	*all, *r;
	size_t			 n, i;

	for (i = 0; i < OP_COUNT; i++) {
		r = ph_ops_find(op_table[i]->name);
		if (r == NULL || (r->flags & PH_OPF_SESSION) == 0) {
			*cause = ph_asprintf("the agent serves '%s', which the "
			    "operation registry (src/ops.c) lacks as a session "
			    "operation", op_table[i]->name);
			return -1;
		}
	}
	all = ph_ops_all(&n);
	for (i = 0; i < n; i++) {
		if ((all[i].flags & PH_OPF_SESSION) != 0 && op_find(all[i].name) == NULL) {
			*cause = ph_asprintf("the operation registry has '%s', "
			    "which the agent's op table (agent/op.c) lacks",
			    all[i].name);
			return -1;
		}
	}
	return 0;
}
