/* test_selector.c - TARGET and selector resolution. */
#include <stdlib.h>

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
