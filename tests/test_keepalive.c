/*
 * test_keepalive.c - ph_keepalive_secs: the hangup time from a flag, the
 * environment or the default, and the ping interval that goes with it.
 */
#include <stdlib.h>

#include <criterion/criterion.h>

#include "porthole/keepalive.h"
#include "porthole/protocol.h"

Test(keepalive, default_pings_every_16_hangs_up_at_50)
{
	int ping = 0, hangup = 0;

	unsetenv("PORTHOLE_HANGUP_SECS");
	cr_assert_eq(ph_keepalive_secs(NULL, &ping, &hangup), 0);
	cr_assert_eq(hangup, PH_HANGUP_SECS);
	cr_assert_eq(ping, PH_HANGUP_SECS / 3);
	cr_assert_leq(ping, 20, "pings every 20 s or less (ALB idle timeout 60 s)");
	cr_assert_lt(hangup + 5, 60, "a dead peer must be found within a minute");
}

Test(keepalive, environment_sets_both)
{
	int ping = 0, hangup = 0;

	setenv("PORTHOLE_HANGUP_SECS", "6", 1);
	cr_assert_eq(ph_keepalive_secs(NULL, &ping, &hangup), 0);
	cr_assert_eq(hangup, 6);
	cr_assert_eq(ping, 2);
	setenv("PORTHOLE_HANGUP_SECS", "600", 1);
	cr_assert_eq(ph_keepalive_secs(NULL, &ping, &hangup), 0);
	cr_assert_eq(ping, PH_PING_SECS, "pings stay within the ALB's idle timeout");
}

Test(keepalive, flag_wins_over_environment)
{
	int ping = 0, hangup = 0;

	setenv("PORTHOLE_HANGUP_SECS", "6", 1);
	cr_assert_eq(ph_keepalive_secs("9", &ping, &hangup), 0);
	cr_assert_eq(hangup, 9);
	cr_assert_eq(ping, 3);
}

Test(keepalive, refuses_nonsense)
{
	int ping = 0, hangup = 0;

	unsetenv("PORTHOLE_HANGUP_SECS");
	cr_assert_eq(ph_keepalive_secs("2", &ping, &hangup), -1);
	cr_assert_eq(ph_keepalive_secs("3601", &ping, &hangup), -1);
	cr_assert_eq(ph_keepalive_secs("10s", &ping, &hangup), -1);
	cr_assert_eq(ph_keepalive_secs("-5", &ping, &hangup), -1);
	setenv("PORTHOLE_HANGUP_SECS", "x", 1);
	cr_assert_eq(ph_keepalive_secs(NULL, &ping, &hangup), -1);
}
