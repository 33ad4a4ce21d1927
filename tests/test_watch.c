/* test_watch.c - the flight recorder's watch options (watch.h): sizes, rates, lists, refusals. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/watch.h"

Test(watch, sizes)
{
	uint64_t b;
	char *cause = NULL;

	cr_assert_eq(ph_size_parse("800MiB", &b, &cause), 0);
	cr_assert_eq(b, 800ULL << 20);
	cr_assert_eq(ph_size_parse("1G", &b, &cause), 0);
	cr_assert_eq(b, 1000000000ULL);
	cr_assert_eq(ph_size_parse("4096", &b, &cause), 0);
	cr_assert_eq(b, 4096);
	cr_assert_eq(ph_size_parse("1.5gib", &b, &cause), 0);
	cr_assert_eq(b, 3ULL << 29);
	cr_assert_eq(ph_size_parse("12 parsecs", &b, &cause), -1);
	cr_assert_not_null(strstr(cause, "not a size"));
	free(cause);
	cause = NULL;
	cr_assert_eq(ph_size_parse("-1M", &b, &cause), -1);
	free(cause);
}

Test(watch, one_watch_with_both_triggers)
{
	struct ph_watch_spec w;
	char *argv[] = { "--rss-above", "85%", "--growth-above", "50MiB/min",
	    "--window", "30s", "--kind", "core", "--cooldown", "5m", "--max", "3",
	    "--pid", "app" };
	char *cause = NULL, *t;

	cr_assert_eq(ph_watch_parse_argv(14, argv, &w, &cause), 0, "%s", cause);
	cr_assert_float_eq(w.rss_pct, 85.0, 1e-9);
	cr_assert_eq(w.rss_bytes, 0);
	cr_assert_eq(w.growth_bytes, 50ULL << 20);
	cr_assert_eq(w.growth_per_ms, 60000);
	cr_assert_eq(w.window_ms, 30000);
	cr_assert_str_eq(w.kind, "core");
	cr_assert_eq(w.cooldown_ms, 300000);
	cr_assert_eq(w.max, 3);
	cr_assert_eq(w.which, PH_WATCH_APP);
	t = ph_watch_text(&w);
	cr_assert_str_eq(t, "--rss-above 85% --growth-above 50MiB/min --window 30s "
	    "--pid app --kind core --cooldown 5m --max 3");
	free(t);
}

Test(watch, defaults_and_list)
{
	struct ph_watch_spec w[4];
	size_t n;
	char *cause = NULL;

	cr_assert_eq(ph_watch_parse_list("--rss-above 50% --kind core ; "
	    "--rss-above 2GiB --pid 42", w, 4, &n, &cause), 0, "%s", cause);
	cr_assert_eq(n, 2);
	cr_assert_float_eq(w[0].rss_pct, 50.0, 1e-9);
	cr_assert_eq(w[0].which, PH_WATCH_DEFAULT);
	cr_assert_eq(w[0].max, 1);
	cr_assert_eq(w[0].cooldown_ms, 600000);
	cr_assert_eq(w[1].rss_bytes, 2ULL << 30);
	cr_assert_eq(w[1].which, PH_WATCH_PID);
	cr_assert_eq(w[1].pid, 42);
	cr_assert_str_eq(w[1].kind, "auto");
}

Test(watch, refusals_name_what_is_wrong)
{
	struct ph_watch_spec w[2];
	size_t n;
	char *cause = NULL;
	static const struct { const char *in, *says; } bad[] = {
		{ "--kind core", "needs --rss-above, --growth-above" },
		{ "--rss-above 150%", "at most 100%" },
		{ "--rss-above 0", "more than 0" },
		{ "--growth-above 5MiB", "SIZE/s" },
		{ "--growth-above 5MiB/fortnight", "s, min or h" },
		{ "--rss-above 1G --kind heap", "auto, core, jvm or node" },
		{ "--rss-above 1G --max 0", "1 to 1000" },
		{ "--rss-above 1G --pid -3", "a process id" },
		{ "--rss-above 1G --frobnicate 1", "unknown watch option" },
		{ "--rss-above", "needs a value" },
		{ "--rss-above 1G; --rss-above 2G; --rss-above 3G", "more than 2 watches" },
	};
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cr_assert_eq(ph_watch_parse_list(bad[i].in, w, 2, &n, &cause), -1,
		    "%s was taken", bad[i].in);
		cr_assert_not_null(strstr(cause, bad[i].says), "%s: %s", bad[i].in, cause);
		free(cause);
		cause = NULL;
	}
}
