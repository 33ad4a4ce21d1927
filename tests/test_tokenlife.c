/*
 * test_tokenlife.c - unit tests of the relay's token lifetime policy
 * (src/tokenlife.c): the defaults, parsing --max-token-lifetime specs
 * (partial specs keep the other kinds, relay follows client unless set,
 * bad specs change nothing), and the check of exp - iat per kind.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/tokenlife.h"

#define DAY	86400

Test(tokenlife, defaults)
{
	struct ph_lifetime lt;

	ph_lifetime_defaults(&lt);
	cr_assert_eq(ph_lifetime_max(&lt, "client"), 30 * DAY);
	cr_assert_eq(ph_lifetime_max(&lt, "agent"), 0);
	cr_assert_eq(ph_lifetime_max(&lt, "relay"), 30 * DAY);
	cr_assert_eq(ph_lifetime_max(&lt, "something-else"), 0);
	/* The documented default spec gives the defaults. */
	{
		struct ph_lifetime p;
		char *cause = NULL;

		memset(&p, 0x55, sizeof p);
		p.relay = -1;
		cr_assert_eq(ph_lifetime_parse(&p, PH_LIFETIME_DEFAULT, &cause), 0);
		cr_assert_eq(p.client, lt.client);
		cr_assert_eq(p.agent, lt.agent);
	}
}

Test(tokenlife, parse)
{
	struct ph_lifetime lt;
	char *cause = NULL;

	ph_lifetime_defaults(&lt);
	cr_assert_eq(ph_lifetime_parse(&lt, "agent=90d", &cause), 0, "%s", cause);
	cr_assert_eq(lt.agent, 90 * DAY);
	cr_assert_eq(lt.client, 30 * DAY, "a kind not named keeps its limit");
	cr_assert_eq(ph_lifetime_parse(&lt, "client=12h,relay=0", &cause), 0, "%s", cause);
	cr_assert_eq(ph_lifetime_max(&lt, "client"), 12 * 3600);
	cr_assert_eq(ph_lifetime_max(&lt, "relay"), 0, "relay set: no longer as client");
	cr_assert_eq(ph_lifetime_parse(&lt, "client=0,agent=1.5d,client=7d", &cause), 0);
	cr_assert_eq(lt.client, 7 * DAY, "the last one of a kind wins");
	cr_assert_eq(lt.agent, 36 * 3600);
	cr_assert_eq(ph_lifetime_parse(&lt, "client=90", &cause), 0);
	cr_assert_eq(lt.client, 90, "a bare number is seconds");

	ph_lifetime_defaults(&lt);
	cr_assert_eq(ph_lifetime_parse(&lt, "client=1d", &cause), 0);
	cr_assert_eq(ph_lifetime_max(&lt, "relay"), DAY, "relay follows client");
}

Test(tokenlife, parse_refusals_change_nothing)
{
	static const char *const bad[] = {
		"", "client", "=30d", "client=", "client=30x", "client=-1d",
		"client=1500ms", "client=30d,", ",client=30d", "clients=30d",
		"client=30d,bogus=1d", "client=30d,,agent=0", "client=30d;agent=0",
		"client=99999999999999d",
	};
	struct ph_lifetime lt, before;
	char *cause;
	size_t i;

	ph_lifetime_defaults(&lt);
	cr_assert_eq(ph_lifetime_parse(&lt, "agent=5d", &cause), 0);
	before = lt;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cause = NULL;
		cr_assert_eq(ph_lifetime_parse(&lt, bad[i], &cause), -1, "'%s' accepted",
		    bad[i]);
		cr_assert_not_null(cause);
		free(cause);
		cr_assert(memcmp(&lt, &before, sizeof lt) == 0, "'%s' changed the policy",
		    bad[i]);
	}
	cause = NULL;
	cr_assert_eq(ph_lifetime_parse(&lt, "client=30d,bogus=1d", &cause), -1);
	cr_assert(strstr(cause, "bogus") != NULL, "%s", cause);
	free(cause);
}

static struct ph_claims
claims(enum ph_token_kind kind, int64_t iat, int64_t exp)
{
	struct ph_claims c;

	memset(&c, 0, sizeof c);
	c.sub = "alice";
	c.kind = kind;
	c.iat = iat;
	c.exp = exp;
	return c;
}

Test(tokenlife, check)
{
	struct ph_lifetime lt;
	struct ph_claims c;
	char *cause = NULL;
	const int64_t t = 1700000000;

	ph_lifetime_defaults(&lt);
	c = claims(PH_TOKEN_CLIENT, t, t + 30 * DAY);
	cr_assert_eq(ph_lifetime_check(&lt, &c, &cause), 0, "30 d is the limit itself");
	c = claims(PH_TOKEN_CLIENT, t, t + 30 * DAY + 1);
	cr_assert_eq(ph_lifetime_check(&lt, &c, &cause), -1);
	cr_assert(strstr(cause, "30d1s") != NULL && strstr(cause, "(30d)") != NULL &&
	    strstr(cause, "alice") != NULL, "%s", cause);
	free(cause);
	/* The life as issued counts, not what is left of it. */
	c = claims(PH_TOKEN_CLIENT, t - 364 * DAY, t + DAY);
	cause = NULL;
	cr_assert_eq(ph_lifetime_check(&lt, &c, &cause), -1);
	free(cause);
	/* No iat: refused where the kind has a limit, fine where it has none. */
	c = claims(PH_TOKEN_CLIENT, 0, t + DAY);
	cause = NULL;
	cr_assert_eq(ph_lifetime_check(&lt, &c, &cause), -1);
	cr_assert(strstr(cause, "iat") != NULL, "%s", cause);
	free(cause);
	c = claims(PH_TOKEN_AGENT, 0, t + 3650 * DAY);
	cr_assert_eq(ph_lifetime_check(&lt, &c, &cause), 0);
	/* Agent tokens: no limit unless set. */
	c = claims(PH_TOKEN_AGENT, t, t + 3650 * DAY);
	cr_assert_eq(ph_lifetime_check(&lt, &c, &cause), 0);
	cr_assert_eq(ph_lifetime_parse(&lt, "agent=365d,client=0", &cause), 0);
	cause = NULL;
	cr_assert_eq(ph_lifetime_check(&lt, &c, &cause), -1);
	cr_assert(strstr(cause, "agent token") != NULL, "%s", cause);
	free(cause);
	c = claims(PH_TOKEN_CLIENT, t, t + 3650 * DAY);
	cr_assert_eq(ph_lifetime_check(&lt, &c, &cause), 0, "client=0: no limit");
}

Test(tokenlife, fmt)
{
	char b[32];

	cr_assert_str_eq(ph_lifetime_fmt(0, b, sizeof b), "none");
	cr_assert_str_eq(ph_lifetime_fmt(30 * DAY, b, sizeof b), "30d");
	cr_assert_str_eq(ph_lifetime_fmt(DAY + 12 * 3600, b, sizeof b), "1d12h");
	cr_assert_str_eq(ph_lifetime_fmt(90, b, sizeof b), "1m30s");
}
