/*
 * test_duration.c - durations as operators type them (Go's and kubectl's
 * compound forms, a bare number of seconds, days) and as the programs print
 * them; what is refused and that the refusal says why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "porthole/duration.h"

static int64_t
ms_of(const char *s)
{
	int64_t	 ms = -42;
	char	*cause = NULL;

	cr_assert_eq(ph_duration_parse(s, &ms, &cause), 0, "'%s': %s", s,
	    cause != NULL ? cause : "");
	return ms;
}

/* s is refused with a cause that contains want. */
static void
refused(const char *s, const char *want)
{
	int64_t	 ms = -42;
	char	*cause = NULL;

	cr_assert_eq(ph_duration_parse(s, &ms, &cause), -1, "'%s' was taken as %lld ms",
	    s, (long long)ms);
	cr_assert_not_null(cause);
	cr_assert(strstr(cause, want) != NULL, "'%s': cause '%s' lacks '%s'", s, cause, want);
	cr_assert_eq(ms, -42, "'%s' changed *ms on failure", s);
	free(cause);
}

Test(duration, single_units)
{
	cr_assert_eq(ms_of("500ms"), 500);
	cr_assert_eq(ms_of("30s"), 30000);
	cr_assert_eq(ms_of("5m"), 300000);
	cr_assert_eq(ms_of("2h"), 7200000);
	cr_assert_eq(ms_of("30d"), 30LL * 86400 * 1000);
	cr_assert_eq(ms_of("2000us"), 2);
	cr_assert_eq(ms_of("3000000ns"), 3);
	cr_assert_eq(ms_of("1000\xc2\xb5s"), 1);	/* µs */
	cr_assert_eq(ms_of("1000\xce\xbcs"), 1);	/* μs */
	cr_assert_eq(ms_of("0"), 0);
	cr_assert_eq(ms_of("0s"), 0);
}

Test(duration, bare_number_is_seconds)
{
	cr_assert_eq(ms_of("30"), 30000);
	cr_assert_eq(ms_of("1.5"), 1500);
	cr_assert_eq(ms_of("0.25"), 250);
}

Test(duration, fractions_are_exact)
{
	cr_assert_eq(ms_of("1.5m"), 90000);
	cr_assert_eq(ms_of("0.001s"), 1);
	cr_assert_eq(ms_of("1.001s"), 1001);
	cr_assert_eq(ms_of(".5s"), 500);
	cr_assert_eq(ms_of("5.s"), 5000);
	cr_assert_eq(ms_of("0.1h"), 360000);
	cr_assert_eq(ms_of("1.25d"), 108000000);
}

Test(duration, compound_forms)
{
	cr_assert_eq(ms_of("1m30s"), 90000);
	cr_assert_eq(ms_of("1h2m3.5s"), 3723500);
	cr_assert_eq(ms_of("1h30m"), 5400000);
	cr_assert_eq(ms_of("2h45m30s500ms"), 9930500);
	cr_assert_eq(ms_of("1d12h"), 129600000);
	cr_assert_eq(ms_of("1s500ms"), 1500);
	cr_assert_eq(ms_of("1m1m"), 120000);		/* Go adds repeats up */
	cr_assert_eq(ms_of("1500ms1000000ns"), 1501);
}

Test(duration, refusals_say_why)
{
	refused("", "empty duration");
	refused("-1s", "negative");
	refused("-0", "negative");
	refused("+1s", "not a duration");
	refused("nan", "not a duration");
	refused("NaN", "not a duration");
	refused("inf", "not a duration");
	refused("infinity", "not a duration");
	refused("1e3s", "unknown unit 'e'");
	refused("5x", "unknown unit 'x'");
	refused("5 s", "unknown unit ' s'");
	refused(" 5s", "not a duration");
	refused("1m30", "needs a unit after 30");
	refused("1h2", "needs a unit after 2");
	refused(".", "not a duration");
	refused("s", "not a duration");
	refused("1.5.5s", "needs a unit after 1.5");
	refused("1500us", "finer than a millisecond");
	refused("2us", "finer than a millisecond");
	refused("1ns", "finer than a millisecond");
	refused("2.5ms", "finer than a millisecond");
}

Test(duration, overflow_is_refused)
{
	refused("106752d", "too long");
	refused("9999999999999999999999s", "too long");
	refused("2562048h", "too long");
	refused("100000d100000d", "too long");
	refused("99999999999999999999.5ms", "too long");
	cr_assert_eq(ms_of("106751d"), 106751LL * 86400 * 1000);
	/* Long fractions do not overflow: digits past the 18th count for nothing. */
	cr_assert_eq(ms_of("1.0000000000000000000000000001s"), 1000);
}

static const char *
fmt(int64_t ms)
{
	static char	buf[PH_DURATION_FMT_MAX];

	return ph_duration_fmt(ms, buf, sizeof buf);
}

static const char *
fmt_us(int64_t us)
{
	static char	buf[PH_DURATION_FMT_MAX];

	return ph_duration_fmt_us(us, buf, sizeof buf);
}

Test(duration, printed_as_typed)
{
	cr_assert_str_eq(fmt(0), "0s");
	cr_assert_str_eq(fmt(1000), "1s");
	cr_assert_str_eq(fmt(500), "500ms");
	cr_assert_str_eq(fmt(1), "1ms");
	cr_assert_str_eq(fmt(90000), "1m30s");
	cr_assert_str_eq(fmt(3723500), "1h2m3.5s");
	cr_assert_str_eq(fmt(7200000), "2h");
	cr_assert_str_eq(fmt(7LL * 86400 * 1000), "7d");
	cr_assert_str_eq(fmt(129600000), "1d12h");
	cr_assert_str_eq(fmt(3600000 + 5000), "1h5s");
	cr_assert_str_eq(fmt(1050), "1.05s");
	cr_assert_str_eq(fmt(60001), "1m0.001s");
	cr_assert_str_eq(fmt(-1500), "-1.5s");
}

Test(duration, printed_measurements)
{
	cr_assert_str_eq(fmt_us(400), "400us");
	cr_assert_str_eq(fmt_us(12345), "12.345ms");
	cr_assert_str_eq(fmt_us(12300), "12.3ms");
	cr_assert_str_eq(fmt_us(3412999), "3.412s");	/* past a second: to the ms */
	cr_assert_str_eq(fmt_us(INT64_MIN), "-106751991d4h54.775s");
	cr_assert_str_eq(fmt_us(INT64_MAX), "106751991d4h54.775s");
}

Test(duration, bounded_buffer)
{
	char	buf[6];

	memset(buf, 'x', sizeof buf);
	ph_duration_fmt(3723500, buf, sizeof buf);
	cr_assert_eq(strlen(buf), 5);
	cr_assert_eq(strncmp(buf, "1h2m3", 5), 0);
	ph_duration_fmt(3723500, buf, 1);
	cr_assert_str_eq(buf, "");
}

/* Whatever is printed for a whole number of ms reads back as the same. */
Test(duration, round_trip)
{
	static const int64_t v[] = { 0, 1, 999, 1000, 1001, 59999, 60000, 90500,
	    3599999, 3600000, 86399999, 86400000, 604800000, 31536000000LL,
	    9223372036854LL };
	char	buf[PH_DURATION_FMT_MAX];
	size_t	i;

	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		ph_duration_fmt(v[i], buf, sizeof buf);
		cr_assert_eq(ms_of(buf), v[i], "%lld printed as '%s'", (long long)v[i], buf);
	}
}

Test(duration, coarse_units)
{
	char	buf[16];

	cr_assert_str_eq(ph_duration_coarse(-5, buf, sizeof buf), "0s");
	cr_assert_str_eq(ph_duration_coarse(119, buf, sizeof buf), "119s");
	cr_assert_str_eq(ph_duration_coarse(120, buf, sizeof buf), "2m");
	cr_assert_str_eq(ph_duration_coarse(7199, buf, sizeof buf), "119m");
	cr_assert_str_eq(ph_duration_coarse(7200, buf, sizeof buf), "2h");
	cr_assert_str_eq(ph_duration_coarse(172799, buf, sizeof buf), "47h");
	cr_assert_str_eq(ph_duration_coarse(172800, buf, sizeof buf), "2d");
}
