/*
 * client-complete.c - completion candidates from the command table and
 * from the relay's answers (client-complete.h).
 */
#include <string.h>

#include "porthole/printable.h"

#include "client-complete.h"
#include "cmd.h"

void
client_complete_add(json_t *cands, const char *s, const char *prefix)
{
	if (strncmp(s, prefix, strlen(prefix)) == 0 &&
	    json_array_size(cands) < CLIENT_COMPLETE_MAX)
		json_array_append_new(cands, json_string(s));
}

void
client_complete_commands(json_t *cands, const char *prefix, int console)
{
	const struct cmd_entry	**e;

	for (e = cmd_table; *e != NULL; e++) {
		if (((*e)->flags & CMD_HIDDEN) ||
		    (console && ((*e)->flags & CMD_NO_CONSOLE)))
			continue;
		client_complete_add(cands, (*e)->name, prefix);
	}
}

json_t *
client_complete_names(json_t *ls_doc)
{
	json_t	*names = json_array(), *a, *name;
	size_t	 i;

	json_array_foreach(json_object_get(ls_doc, "agents"), i, a) {
		name = json_object_get(a, "name");
		if (json_is_string(name) && ph_is_printable(json_string_value(name),
		    json_string_length(name)))
			json_array_append(names, name);
	}
	return names;
}

json_t *
client_complete_pids(json_t *ps_doc)
{
	json_t	*pids = json_array(), *p, *pid;
	size_t	 i;

	json_array_foreach(json_object_get(ps_doc, "processes"), i, p) {
		pid = json_object_get(p, "pid");
		if (json_is_integer(pid))
			json_array_append_new(pids, json_sprintf("%lld",
			    (long long)json_integer_value(pid)));
	}
	return pids;
}
