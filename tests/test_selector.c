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

/*
 * Names match by prefix like ids (issue 16 item 2): with api-1 and api-2
 * connected, "api" is both (a list for ls, an ambiguity for exec), "api-2"
 * and "wor" one each, and an exact name beats a longer name it prefixes.
 */
static json_t *
named_agents(void)
{
	return json_pack("[{s:s,s:s,s:{}},{s:s,s:s,s:{}},{s:s,s:s,s:{}}]",
	    "id", "a1/app", "name", "api-1", "labels",
	    "id", "a2/app", "name", "api-2", "labels",
	    "id", "w7/app", "name", "worker", "labels");
}

Test(selector, names_match_by_prefix)
{
	json_t			*a = named_agents(), *m;
	enum ph_target_how	 how;
	char			*cause = NULL;

	cr_assert_str_eq(ids_in(a, "api"), "a1/app,a2/app");
	cr_assert_str_eq(ids_in(a, "api-"), "a1/app,a2/app");
	cr_assert_str_eq(ids_in(a, "api-2"), "a2/app");
	cr_assert_str_eq(ids_in(a, "wor"), "w7/app");
	cr_assert_str_eq(ids_in(a, "workers"), "");
	cr_assert_str_eq(ids_in(a, "pi"), "");		/* a prefix, not a substring */
	m = ph_target_resolve_how("wor", a, &how, &cause);
	cr_assert_eq(how, PH_TARGET_PREFIX);
	json_decref(m);
	/* The exact name "api" wins over the names it prefixes. */
	json_array_append_new(a, json_pack("{s:s,s:s,s:{}}", "id", "zz/app",
	    "name", "api", "labels"));
	cr_assert_str_eq(ids_in(a, "api"), "zz/app");
	m = ph_target_resolve_how("api", a, &how, &cause);
	cr_assert_eq(how, PH_TARGET_NAME);
	json_decref(m);
	json_decref(a);
}

Test(selector, name_prefix_one_or_the_candidates)
{
	struct client_conf	 conf;
	json_t			*a = named_agents(), *one;
	char			*cause = NULL, name[16], id[16];
	int			 i;

	memset(&conf, 0, sizeof conf);
	conf.relay = "wss://relay.test:8443";
	one = client_target_one(a, "wor", &conf, &cause);
	cr_assert_not_null(one, "%s", cause);
	cr_assert_str_eq(json_string_value(json_object_get(one, "id")), "w7/app");
	json_decref(one);
	cr_assert_null(client_target_one(a, "api", &conf, &cause));
	cr_assert_str_eq(cause, "'api' matches 2 agents: api-1 (a1/app), api-2 "
	    "(a2/app); give more of the name, or name one by id");
	free(cause);
	json_decref(a);

	/* Past ten candidates the line says how many more. */
	a = json_array();
	for (i = 0; i < 13; i++) {
		snprintf(name, sizeof name, "n%02d", i);
		snprintf(id, sizeof id, "i%02d", i);
		json_array_append_new(a, json_pack("{s:s,s:s,s:{}}", "id", id,
		    "name", name, "labels"));
	}
	cause = NULL;
	cr_assert_null(client_target_one(a, "n", &conf, &cause));
	cr_assert(strncmp(cause, "'n' matches 13 agents: n00 (i00), ", 34) == 0,
	    "%s", cause);
	cr_assert(strstr(cause, "n09 (i09) and 3 more; give more of the name") != NULL,
	    "%s", cause);
	cr_assert(strstr(cause, "n10") == NULL, "%s", cause);
	free(cause);
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

/*
 * Agent ids qualified with their token's sub: a real agent and an impostor
 * claiming the same task under two subs, plus a second real replica.
 */
static json_t *
subs_agents(void)
{
	return json_pack("[{s:s,s:s,s:s,s:i,s:{s:s}},{s:s,s:s,s:s,s:i,s:{s:s}},"
	    "{s:s,s:s,s:s,s:i,s:{s:s}}]",
	    "id", "cd18/app@prod-tasks", "name", "api", "sub", "prod-tasks", "proto", 2,
	    "labels", "task", "cd18",
	    "id", "cd18/app@staging-tasks", "name", "api", "sub", "staging-tasks",
	    "proto", 2, "labels", "task", "cd18",
	    "id", "ee99/app@prod-tasks", "name", "api", "sub", "prod-tasks", "proto", 2,
	    "labels", "task", "ee99");
}

/* The ids target resolves to, comma-separated, and how. */
static char *
sub_ids(const char *target, enum ph_target_how *how)
{
	json_t *a = subs_agents(), *m, *x;
	char *cause = NULL, *out = calloc(1, 512);
	size_t i;

	m = ph_target_resolve_how(target, a, how, &cause);
	cr_assert_not_null(m, "%s", cause);
	json_array_foreach(m, i, x) {
		if (i > 0)
			strcat(out, ",");
		strcat(out, json_string_value(json_object_get(x, "id")));
	}
	json_decref(m);
	json_decref(a);
	return out;
}

#define RESOLVES(t, want, wanthow) do {					\
	enum ph_target_how h_;						\
	char *got_ = sub_ids(t, &h_);					\
	cr_assert_str_eq(got_, want, "%s", t);				\
	cr_assert_eq(h_, wanthow, "%s: how %d", t, h_);			\
	free(got_);							\
} while (0)

Test(selector, ids_qualified_by_sub)
{
	/* Full ids are exact. */
	RESOLVES("cd18/app@prod-tasks", "cd18/app@prod-tasks", PH_TARGET_ID);
	RESOLVES("cd18/app@staging-tasks", "cd18/app@staging-tasks", PH_TARGET_ID);
	/* The claimed id alone, a task, a name: every sub that has it. */
	RESOLVES("cd18/app", "cd18/app@prod-tasks,cd18/app@staging-tasks", PH_TARGET_PREFIX);
	RESOLVES("cd18", "cd18/app@prod-tasks,cd18/app@staging-tasks", PH_TARGET_TASK);
	RESOLVES("api", "cd18/app@prod-tasks,cd18/app@staging-tasks,ee99/app@prod-tasks",
	    PH_TARGET_NAME);
	/* T@SUB: within that sub only. */
	RESOLVES("cd18@prod-tasks", "cd18/app@prod-tasks", PH_TARGET_TASK);
	RESOLVES("cd@prod-tasks", "cd18/app@prod-tasks", PH_TARGET_PREFIX);
	RESOLVES("api@prod-tasks", "cd18/app@prod-tasks,ee99/app@prod-tasks", PH_TARGET_NAME);
	RESOLVES("api@staging-tasks", "cd18/app@staging-tasks", PH_TARGET_NAME);
	RESOLVES("api@nobody", "", PH_TARGET_NONE);
	/* A prefix of a full id across the '@' still works. */
	RESOLVES("cd18/app@prod", "cd18/app@prod-tasks", PH_TARGET_PREFIX);
	/* A name prefix: across subs, or within one. */
	RESOLVES("ap", "cd18/app@prod-tasks,cd18/app@staging-tasks,ee99/app@prod-tasks",
	    PH_TARGET_PREFIX);
	RESOLVES("ap@staging-tasks", "cd18/app@staging-tasks", PH_TARGET_PREFIX);
	RESOLVES("family=x", "", PH_TARGET_NONE);
}

Test(selector, subs_counted)
{
	json_t *a = subs_agents(), *m;
	char *cause = NULL;

	cr_assert_eq(ph_target_one_sub(a), 0);
	m = ph_target_resolve("api@prod-tasks", a, &cause);
	cr_assert_eq(ph_target_one_sub(m), 1);
	json_decref(m);
	m = ph_target_resolve("api", a, &cause);
	cr_assert_eq(ph_target_one_sub(m), 0);
	json_decref(m);
	json_decref(a);
	/* Agents listed by an older relay (no sub) count as one sub. */
	a = agents();
	cr_assert_eq(ph_target_one_sub(a), 1);
	json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "id", "x@s", "name", "x",
	    "sub", "s"));
	cr_assert_eq(ph_target_one_sub(a), 0);
	json_decref(a);
}
