/* test_selector.c - TARGET and selector resolution. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "porthole/selector.h"

static json_t *
agents(void)
{
	return json_pack("[{s:s,s:s,s:{s:s,s:s}},{s:s,s:s,s:{s:s,s:s}},"
	    "{s:s,s:s,s:{}}]",
	    "id", "abc123/app", "name", "api", "labels", "family", "api", "task", "abc123",
	    "id", "abd999/app", "name", "api", "labels", "family", "api", "task", "abd999",
	    "id", "f00", "name", "worker", "labels");
}

static size_t
count(const char *target)
{
	json_t *a = agents(), *m;
	char *cause = NULL;
	size_t n;

	m = ph_target_resolve(target, a, &cause);
	cr_assert_not_null(m, "%s", cause);
	n = json_array_size(m);
	json_decref(m);
	json_decref(a);
	return n;
}

Test(selector, rules_in_order)
{
	cr_assert_eq(count("f00"), 1);		/* exact id */
	cr_assert_eq(count("worker"), 1);	/* name */
	cr_assert_eq(count("api"), 2);		/* shared name: ambiguous */
	cr_assert_eq(count("abc123"), 1);	/* task */
	cr_assert_eq(count("ab"), 2);		/* ambiguous prefix */
	cr_assert_eq(count("abd"), 1);		/* unique prefix */
	cr_assert_eq(count("zzz"), 0);
	cr_assert_eq(count("family=api"), 2);
	cr_assert_eq(count("family=api,task=abc123"), 1);
	cr_assert_eq(count("family=web"), 0);
}

Test(selector, bad_selector)
{
	json_t *a = agents();
	char *cause = NULL;

	cr_assert_null(ph_target_resolve("=x", a, &cause));
	cr_assert_not_null(cause);
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
ids(const char *target, enum ph_target_how *how)
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
	char *got_ = ids(t, &h_);					\
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
