/*
 * client-target.c - TARGET resolution for commands that act on one agent,
 * and the printable names of agents.  See client-target.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "porthole/printable.h"
#include "porthole/selector.h"
#include "porthole/util.h"

#include "client-conn.h"
#include "client-target.h"

#define TARGET_LIST_MAX		10	/* agents named in one message */

char *
client_printable(const char *s)
{
	return ph_printable(s);
}

const char *
client_agent_str(json_t *agent, const char *key)
{
	const char	*s = json_string_value(json_object_get(agent, key));

	return s != NULL ? s : "";
}

int
client_agent_has_cap(json_t *agent, const char *cap)
{
	json_t	*v;
	size_t	 i;

	json_array_foreach(json_object_get(agent, "caps"), i, v) {
		if (json_is_string(v) && strcmp(json_string_value(v), cap) == 0)
			return 1;
	}
	return 0;
}

char *
client_target_list(json_t *agents, size_t max)
{
	json_t	*a;
	size_t	 i, n = json_array_size(agents);
	char	*out = ph_asprintf("%s", ""), *name, *id, *next;

	json_array_foreach(agents, i, a) {
		if (i == max)
			break;
		name = client_printable(client_agent_str(a, "name"));
		id = client_printable(client_agent_str(a, "id"));
		next = ph_asprintf("%s%s%s (%s)", out, i > 0 ? ", " : "", name, id);
		free(out);
		free(name);
		free(id);
		out = next;
	}
	if (n > max) {
		next = ph_asprintf("%s and %zu more", out, n - max);
		free(out);
		out = next;
	}
	return out;
}

char *
client_target_limit(const struct client_conf *conf)
{
	char	*p, *s;

	if (conf == NULL || conf->token_target == NULL)
		return ph_asprintf("%s", "");
	p = client_printable(conf->token_target);
	s = ph_asprintf(" (the token may only touch agents matching %s)", p);
	free(p);
	return s;
}

/*
 * A name, task or prefix decided the target: say which agent it is, and
 * which token (sub) it came with, before anything runs there.
 */
static void
client_target_said(const char *t, json_t *agent)
{
	char	*id, *name, *sub;

	id = client_printable(client_agent_str(agent, "id"));
	name = client_printable(client_agent_str(agent, "name"));
	sub = client_printable(client_agent_str(agent, "sub"));
	fprintf(stderr, "porthole: '%s' is %s (name %s, sub %s)\n", t, id, name,
	    *sub != '\0' ? sub : "unknown");
	free(id);
	free(name);
	free(sub);
}

json_t *
client_target_one(json_t *agents, const char *target,
    const struct client_conf *conf, char **cause)
{
	json_t		*found, *one;
	char		*c = NULL, *list, *t, *lim;
	const char	*relay = conf->relay;
	enum ph_target_how how;

	t = client_printable(target);
	if ((found = ph_target_resolve_how(target, agents, &how, &c)) == NULL) {
		*cause = ph_asprintf("bad TARGET '%s' (%s): give an agent id, a "
		    "name, a task id or prefix, or a selector key=value[,...]",
		    t, c != NULL ? c : "malformed");
		free(c);
		free(t);
		return NULL;
	}
	switch (json_array_size(found)) {
	case 0:
		lim = client_target_limit(conf);
		if (json_array_size(agents) == 0 && *lim != '\0')
			*cause = ph_asprintf("no agent matches '%s'%s", t, lim);
		else if (json_array_size(agents) == 0)
			*cause = ph_asprintf("no agent matches '%s': no agents are "
			    "connected to %s", t, relay);
		else {
			list = client_target_list(agents, TARGET_LIST_MAX);
			*cause = ph_asprintf("no agent matches '%s'%s; connected: %s",
			    t, lim, list);
			free(list);
		}
		free(lim);
		one = NULL;
		break;
	case 1:
		one = json_incref(json_array_get(found, 0));
		if (how != PH_TARGET_ID && isatty(STDERR_FILENO))
			client_target_said(t, one);
		break;
	default:
		list = client_target_list(found, TARGET_LIST_MAX);
		*cause = ph_asprintf("'%s' matches %zu agents: %s; %s%s",
		    t, json_array_size(found), list, how == PH_TARGET_PREFIX ?
		    "give more of the name, or name one by id" : "name one by id",
		    !ph_target_one_sub(found) ?
		    " (agents of different token subs: NAME@SUB picks by sub)" : "");
		free(list);
		one = NULL;
		break;
	}
	json_decref(found);
	free(t);
	return one;
}
