/* test_agentid.c - the characters an agent may claim, and its full id. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "porthole/agentid.h"

static int
ok(enum ph_ident k, const char *s)
{
	return ph_ident_ok(k, s, strlen(s));
}

Test(agentid, id_and_name_rule)
{
	static const char *good[] = { "cd189a933e5849daa93386466019ab50/app",
	    "0123456789abcdef", "api", "web-1", "a_b.c+d", "A/B" };
	static const char *bad[] = { "", "a b", "a@b", "a=b", "a,b", "a:b", "a\x1b[31m",
	    "a\x7f", "caf\xc3\xa9", "a\tb", "a\"b", "a\\b", "a*b" };
	char big[PH_AGENT_CLAIM_MAX + 2];
	size_t i;

	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		cr_assert(ok(PH_IDENT_ID, good[i]), "%s", good[i]);
		cr_assert(ok(PH_IDENT_NAME, good[i]), "%s", good[i]);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cr_assert(!ok(PH_IDENT_ID, bad[i]), "%s", bad[i]);
		cr_assert(!ok(PH_IDENT_NAME, bad[i]), "%s", bad[i]);
	}
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	cr_assert(!ok(PH_IDENT_NAME, big));
	big[PH_AGENT_CLAIM_MAX] = '\0';
	cr_assert(ok(PH_IDENT_NAME, big));
	/* A NUL inside the length is a character like any other: refused. */
	cr_assert(!ph_ident_ok(PH_IDENT_NAME, "a\0b", 3));
}

Test(agentid, labels_and_sub)
{
	cr_assert(ok(PH_IDENT_LABEL_VALUE, ""));
	cr_assert(ok(PH_IDENT_LABEL_VALUE, "arn:aws:ecs:us-west-2:1:cluster/prod"));
	cr_assert(ok(PH_IDENT_LABEL_VALUE, "ops@example.com"));
	cr_assert(!ok(PH_IDENT_LABEL_VALUE, "a b"));
	cr_assert(!ok(PH_IDENT_LABEL_VALUE, "a=b"));
	cr_assert(!ok(PH_IDENT_LABEL_VALUE, "a,b"));
	cr_assert(!ok(PH_IDENT_LABEL_VALUE, "\xc2\x9b" "31m"));	/* C1 CSI */
	cr_assert(ok(PH_IDENT_LABEL_KEY, "com.example/team"));
	cr_assert(!ok(PH_IDENT_LABEL_KEY, ""));
	cr_assert(!ok(PH_IDENT_LABEL_KEY, "a:b"));
	cr_assert(ok(PH_IDENT_SUB, "prod-tasks"));
	cr_assert(ok(PH_IDENT_SUB, "svc@example.com"));
	cr_assert(!ok(PH_IDENT_SUB, ""));
	cr_assert(!ok(PH_IDENT_SUB, "prod tasks"));
	cr_assert(!ok(PH_IDENT_SUB, "prod:tasks"));
}

Test(agentid, full_id)
{
	char *cause = NULL, *id;

	id = ph_agent_full_id("cd18/app", "prod-tasks", &cause);
	cr_assert_str_eq(id, "cd18/app@prod-tasks");
	cr_assert_eq(ph_agent_claim_len(id, "prod-tasks"), strlen("cd18/app"));
	/* Another sub does not strip: the claim is the whole id. */
	cr_assert_eq(ph_agent_claim_len(id, "staging-tasks"), strlen(id));
	cr_assert_eq(ph_agent_claim_len(id, NULL), strlen(id));
	/* A sub holding '@' splits at the claim's end, never inside the sub. */
	free(id);
	id = ph_agent_full_id("a1", "svc@example.com", &cause);
	cr_assert_str_eq(id, "a1@svc@example.com");
	cr_assert_eq(ph_agent_claim_len(id, "svc@example.com"), 2);
	free(id);

	/* The same claim with two subs: two ids, never one key. */
	id = ph_agent_full_id("cd18/app", "staging-tasks", &cause);
	cr_assert_str_neq(id, "cd18/app@prod-tasks");
	free(id);

	cr_assert_null(ph_agent_full_id("cd18/app@prod-tasks", "staging-tasks", &cause));
	cr_assert_not_null(strstr(cause, "agent id"), "%s", cause);
	free(cause);
	cause = NULL;
	cr_assert_null(ph_agent_full_id("cd18/app", "has space", &cause));
	cr_assert_not_null(strstr(cause, "sub"), "%s", cause);
	free(cause);
	cause = NULL;
	cr_assert_null(ph_agent_full_id("cd18/app", NULL, &cause));
	free(cause);
}

Test(agentid, hello_check)
{
	json_t *h;
	char *cause = NULL;

	h = json_pack("{s:s,s:s,s:{s:s,s:s}}", "id", "t1/app", "name", "api",
	    "labels", "cluster", "prod", "az", "us-west-2a");
	cr_assert_eq(ph_ident_hello_check(h, &cause), 0, "%s", cause);
	json_decref(h);

	h = json_pack("{s:s,s:s}", "id", "t1/app", "name", "api\x1b]0;pwned\x07");
	cr_assert_eq(ph_ident_hello_check(h, &cause), -1);
	/* The cause names it, with the escape shown, not sent. */
	cr_assert_not_null(strstr(cause, "agent name \"api\\x1b]0;pwned\\x07\""), "%s", cause);
	cr_assert_null(strchr(cause, '\x1b'));
	free(cause);
	json_decref(h);

	h = json_pack("{s:s,s:s,s:{s:s}}", "id", "t1/app", "name", "api",
	    "labels", "team", "a b");
	cr_assert_eq(ph_ident_hello_check(h, &cause), -1);
	cr_assert_not_null(strstr(cause, "label value of label team \"a b\""), "%s", cause);
	free(cause);
	json_decref(h);

	h = json_pack("{s:s,s:s}", "id", "t1@app", "name", "api");
	cr_assert_eq(ph_ident_hello_check(h, &cause), -1);
	cr_assert_not_null(strstr(cause, "agent id"), "%s", cause);
	free(cause);
	json_decref(h);

	h = json_pack("{s:s}", "name", "api");		/* no id */
	cr_assert_eq(ph_ident_hello_check(h, &cause), -1);
	free(cause);
	json_decref(h);
}

Test(agentid, quote_is_bounded)
{
	char big[300], *q;

	memset(big, '\x01', sizeof big);
	q = ph_ident_quote(big, sizeof big);
	cr_assert_eq(strlen(q), 64 * 4 + 3);
	free(q);
}
