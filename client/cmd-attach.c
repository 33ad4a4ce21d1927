/*
 * cmd-attach.c - "porthole attach [TARGET] SID|PREFIX": take up a shell
 * left with ~d again, in this terminal.
 *
 * The id (or a prefix of it, at least 4 hex digits) is looked up in the
 * caller's sessions on the agents (cmd_sessions_fetch, TARGET narrowing
 * which agents are asked): one match goes on, none or several are refused,
 * the several listed.  TARGET with the whole id asks that agent at once.
 * The shell then runs as `porthole shell` does (cmd-shell.c), over an
 * `attach` open: a new signed open with a fresh key
 * share, since this process has none of the detached session's keys.  The
 * agent gives the shell only to the token subject that detached it and
 * only while it is detached, or held for a CLI that is gone (its
 * connection dropped: the agent takes it over); a session live elsewhere
 * is refused (detach it there first).  It sends the output it kept (for a
 * held one, what the gone CLI never acknowledged, then what came since),
 * and resizes the pty to this terminal so that the program redraws.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "porthole/printable.h"
#include "porthole/util.h"

#include "client-target.h"
#include "cmd.h"

#define ATTACH_PREFIX_MIN	4
#define ATTACH_LIST_MAX		10

/* "ID on NAME (state), ..." for the refusal of an ambiguous prefix; malloc'd. */
static char *
attach_list(json_t *m)
{
	json_t		*v;
	size_t		 i;
	const char	*state;
	char		*out = NULL, *name, *next;

	json_array_foreach(m, i, v) {
		if (i == ATTACH_LIST_MAX) {
			next = ph_asprintf("%s, ...", out);
			free(out);
			return next;
		}
		name = client_printable(client_agent_str(json_object_get(v, "agent"),
		    "name"));
		state = json_string_value(json_object_get(v, "state"));
		/* Only the states we know are printed (the agent's text is not). */
		if (state == NULL || (strcmp(state, "detached") != 0 &&
		    strcmp(state, "held") != 0))
			state = "live";
		next = ph_asprintf("%s%s%s on %s (%s)", out != NULL ? out : "",
		    out != NULL ? ", " : "", json_string_value(json_object_get(v, "id")),
		    name != NULL ? name : "?", state);
		free(name);
		free(out);
		if ((out = next) == NULL)
			return NULL;
	}
	return out;
}

static int
cmd_attach_exec(struct client_conf *conf, int argc, char **argv)
{
	const char	*pos[2] = { NULL, NULL }, *target, *prefix;
	json_t		*list, *m, *v, *one;
	char		*id, *agent, *text;
	size_t		 i, n = 0, plen;
	int		 r, status;

	for (i = 1; i < (size_t)argc; i++) {
		const char *a = argv[i];

		if (a[0] == '-' && a[1] != '\0') {
			int k = (int)i;

			if ((r = cmd_conf_option(&cmd_attach_entry, conf, argc, argv, &k)) != 0)
				return r;
			i = (size_t)k;
		} else if (n < 2)
			pos[n++] = a;
		else
			return cmd_usage_error(&cmd_attach_entry, "unexpected argument '%s'", a);
	}
	if (n == 0)
		return cmd_usage_error(&cmd_attach_entry, "missing SID (or a prefix of it)");
	target = n == 2 ? pos[0] : NULL;
	prefix = pos[n - 1];
	plen = strlen(prefix);
	if (plen < ATTACH_PREFIX_MIN || plen > 32 ||
	    strspn(prefix, "0123456789abcdef") != plen)
		return cmd_usage_error(&cmd_attach_entry, "SID is a session id or a "
		    "prefix of it: %d to 32 lowercase hex digits (porthole sessions "
		    "lists them)", ATTACH_PREFIX_MIN);

	/* TARGET and the whole id: straight to that agent, which decides. */
	if (target != NULL && plen == 32)
		return cmd_shell_attach(conf, target, prefix);
	if ((list = cmd_sessions_fetch(conf, target, 1, &status)) == NULL)
		return status;
	m = json_array();
	json_array_foreach(list, i, v) {
		if (strncmp(json_string_value(json_object_get(v, "id")), prefix, plen) == 0)
			json_array_append(m, v);
	}
	json_decref(list);
	if (json_array_size(m) != 1) {
		text = json_array_size(m) > 0 ? attach_list(m) : NULL;
		r = json_array_size(m) == 0 ? cmd_failf("no session of yours matches "
		    "'%s'%s (porthole sessions lists them)", prefix, status != 0 ?
		    "; some agents did not answer" : "") :
		    cmd_failf("'%s' matches %zu sessions: %s; give more of the id",
		    prefix, json_array_size(m), text != NULL ? text : "");
		free(text);
		json_decref(m);
		return r;
	}
	one = json_array_get(m, 0);
	id = strdup(json_string_value(json_object_get(one, "id")));
	agent = strdup(client_agent_str(json_object_get(one, "agent"), "id"));
	json_decref(m);
	if (id == NULL || agent == NULL)
		r = cmd_failf("out of memory");
	else
		r = cmd_shell_attach(conf, agent, id);
	free(id);
	free(agent);
	return r;
}

const struct cmd_entry cmd_attach_entry = {
	.name = "attach",
	.alias = NULL,
	.usage = "[TARGET] SID|PREFIX",
	.about = "take up a shell detached with ~d, or left by a CLI that died, again",
	.exec = cmd_attach_exec,
	.flags = 0,	/* in the console too, as shell: ~d returns to its prompt */
	.description = "Take up again, in this terminal, a shell left with ~d, "
	    "or one held for a CLI that died (state held in porthole sessions: "
	    "its laptop crashed, its terminal closed, it was killed): "
	    "SID is its id as porthole sessions lists it, or a prefix of it (4 "
	    "hex digits at least) that matches one session of yours (several "
	    "are refused and listed); TARGET narrows the agents asked (with "
	    "the whole id, only that agent is asked, at once). The "
	    "agent sends the output it kept meanwhile (its last 64 KiB; for a "
	    "held shell, from what the dead CLI never acknowledged) and resizes "
	    "the shell's terminal to yours, so that full-screen programs redraw. "
	    "Only the token subject that started a shell may attach it; a "
	    "session attached elsewhere, with its connection up, is refused "
	    "(detach it there first), never taken over, and so are sessions "
	    "that are not shells on a terminal (exec, cp: only their own CLI "
	    "resumes them). A CLI whose held shell was taken over cannot resume "
	    "it any more. ~d detaches again; the status is the remote "
	    "program's, as in shell.",
	.options = NULL,
};
