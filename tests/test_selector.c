/*
 * test_selector.c - TARGET and selector resolution: which agents each rule
 * picks (by id, not only how many), that the first rule to match anything
 * decides, and the CLI's messages for no match and for several
 * (client/client-target.c, compiled in).
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "porthole/selector.h"

#include "client-conn.h"
#include "client-target.h"

static json_t *
agents(void)
{
	return json_pack("[{s:s,s:s,s:{s:s,s:s}},{s:s,s:s,s:{s:s,s:s}},"
	    "{s:s,s:s,s:{}}]",
	    "id", "abc123/app", "name", "api", "labels", "family", "api", "task", "abc123",
	    "id", "abd999/app", "name", "api", "labels", "family", "api", "task", "abd999",
	    "id", "f00", "name", "worker", "labels");
}

/* The ids target resolves to among list, in order, joined by ','. */
static const char *
ids_in(json_t *list, const char *target)
{
	static char	 out[256];
	json_t		*m, *a;
	char		*cause = NULL;
	size_t		 i;

	m = ph_target_resolve(target, list, &cause);
	cr_assert_not_null(m, "%s: %s", target, cause);
	out[0] = '\0';
	json_array_foreach(m, i, a) {
		if (i > 0)
			strcat(out, ",");
		strcat(out, json_string_value(json_object_get(a, "id")));
	}
	json_decref(m);
	return out;
}

static const char *
ids(const char *target)
{
	json_t		*a = agents();
	const char	*s = ids_in(a, target);

	json_decref(a);
	return s;
}

Test(selector, rules_pick_these_agents)
{
	cr_assert_str_eq(ids("f00"), "f00");			/* exact id */
	cr_assert_str_eq(ids("worker"), "f00");			/* name */
	cr_assert_str_eq(ids("api"), "abc123/app,abd999/app");	/* shared name */
	cr_assert_str_eq(ids("abc123"), "abc123/app");		/* task */
	cr_assert_str_eq(ids("ab"), "abc123/app,abd999/app");	/* ambiguous prefix */
	cr_assert_str_eq(ids("abd"), "abd999/app");		/* unique prefix */
	cr_assert_str_eq(ids("abd999/"), "abd999/app");		/* id prefix */
	cr_assert_str_eq(ids("zzz"), "");
	cr_assert_str_eq(ids("family=api"), "abc123/app,abd999/app");
	cr_assert_str_eq(ids("family=api,task=abc123"), "abc123/app");
	cr_assert_str_eq(ids("task=abd999"), "abd999/app");
	cr_assert_str_eq(ids("family=web"), "");
}

/*
 * Each target below also matches a later rule (another agent), so only the
 * order id, name, task, prefix gives the one answer.
 */
Test(selector, first_rule_that_matches_decides)
{
	json_t *a = json_pack("[{s:s,s:s,s:{}},{s:s,s:s,s:{}},"
	    "{s:s,s:s,s:{s:s}},{s:s,s:s,s:{s:s}}]",
	    "id", "x1", "name", "n1", "labels",
	    "id", "n1x", "name", "x1", "labels",
	    "id", "t9x", "name", "t9", "labels", "task", "other",
	    "id", "y", "name", "n2", "labels", "task", "t9");

	cr_assert_str_eq(ids_in(a, "x1"), "x1");	/* id, not the agent named x1 */
	cr_assert_str_eq(ids_in(a, "n1"), "x1");	/* name, not the id prefix n1x */
	cr_assert_str_eq(ids_in(a, "t9"), "t9x");	/* name, not the task t9 */
	cr_assert_str_eq(ids_in(a, "other"), "t9x");	/* task */
	cr_assert_str_eq(ids_in(a, "t"), "t9x,y");	/* prefix of id or task */
	json_decref(a);
}

Test(selector, bad_selector)
{
	json_t *a = agents();
	char *cause = NULL;

	cr_assert_null(ph_target_resolve("=x", a, &cause));
	cr_assert_not_null(cause);
	free(cause);
	cause = NULL;
	cr_assert_null(ph_target_resolve("", a, &cause));
	cr_assert_str_eq(cause, "empty target");
	free(cause);
	json_decref(a);
}

/* What the operator reads: client_target_one over the same agents. */
static char *
one_cause(const char *target, const char *token_target)
{
	struct client_conf	 conf;
	json_t			*a = agents(), *one;
	char			*cause = NULL;

	memset(&conf, 0, sizeof conf);
	conf.relay = "wss://relay.test:8443";
	conf.token_target = (char *)token_target;
	one = client_target_one(a, target, &conf, &cause);
	cr_assert_null(one, "%s resolved to one agent", target);
	cr_assert_not_null(cause);
	json_decref(a);
	return cause;
}

Test(selector, one_agent_or_a_message)
{
	struct client_conf	 conf;
	json_t			*a = agents(), *one;
	char			*cause = NULL;

	memset(&conf, 0, sizeof conf);
	conf.relay = "wss://relay.test:8443";
	one = client_target_one(a, "abd", &conf, &cause);
	cr_assert_not_null(one, "%s", cause);
	cr_assert_str_eq(json_string_value(json_object_get(one, "id")), "abd999/app");
	json_decref(one);
	json_decref(a);

	cause = one_cause("api", NULL);
	cr_assert_str_eq(cause, "'api' matches 2 agents: api (abc123/app), "
	    "api (abd999/app); name one by id");
	free(cause);
	cause = one_cause("family=api", NULL);
	cr_assert_str_eq(cause, "'family=api' matches 2 agents: api (abc123/app), "
	    "api (abd999/app); name one by id");
	free(cause);
	cause = one_cause("zzz", NULL);
	cr_assert_str_eq(cause, "no agent matches 'zzz'; connected: api "
	    "(abc123/app), api (abd999/app), worker (f00)");
	free(cause);
	cause = one_cause("zzz", "family=api");
	cr_assert_str_eq(cause, "no agent matches 'zzz' (the token may only touch "
	    "agents matching family=api); connected: api (abc123/app), api "
	    "(abd999/app), worker (f00)");
	free(cause);
	/* The operator's own target is printed without its control bytes. */
	cause = one_cause("z\033[2Jz", NULL);
	cr_assert(strncmp(cause, "no agent matches 'z\\x1b[2Jz';", 29) == 0, "%s", cause);
	free(cause);
	cause = one_cause("=x", NULL);
	cr_assert(strncmp(cause, "bad TARGET '=x' (", 17) == 0, "%s", cause);
	free(cause);
}

Test(selector, no_agents_connected)
{
	struct client_conf	 conf;
	json_t			*a = json_array();
	char			*cause = NULL;

	memset(&conf, 0, sizeof conf);
	conf.relay = "wss://relay.test:8443";
	cr_assert_null(client_target_one(a, "api", &conf, &cause));
	cr_assert_str_eq(cause, "no agent matches 'api': no agents are connected "
	    "to wss://relay.test:8443");
	free(cause);
	json_decref(a);
}
