/*
 * duration.c - durations as operators type them ("1m30s", "500ms", "7d")
 * and as the programs print them back.  See duration.h for the grammar.
 *
 * The parser works in nanoseconds on int64_t, as Go does, with every step
 * checked for overflow (about 292 years is the most it holds); the
 * fraction of a number is scaled in double precision and rounded to the
 * nanosecond.  The result is then whole milliseconds, or refused.
 */
#include <stdio.h>
#include <string.h>

#include "porthole/duration.h"
#include "porthole/util.h"

#define NS_PER_MS	1000000LL

static const struct {
	const char	*name;
	int64_t		 ns;
} duration_units[] = {	/* longer names first: "ms" before "m" */
	{ "ns", 1 },
	{ "us", 1000 },
	{ "\xc2\xb5s", 1000 },		/* µs, MICRO SIGN */
	{ "\xce\xbcs", 1000 },		/* μs, GREEK SMALL LETTER MU */
	{ "ms", NS_PER_MS },
	{ "s", 1000 * NS_PER_MS },
	{ "m", 60 * 1000 * NS_PER_MS },
	{ "h", 3600 * 1000 * NS_PER_MS },
	{ "d", 86400 * 1000 * NS_PER_MS },
};

#define DURATION_HINT	"like 30s, 1m30s, 1h2m3.5s, 500ms or 7d"
#define DURATION_UNITS	"ns, us, ms, s, m, h or d"

static int
duration_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* a + b into *sum, 0; -1 on overflow (both are non-negative). */
static int
duration_add(int64_t a, int64_t b, int64_t *sum)
{
	if (a > INT64_MAX - b)
		return -1;
	*sum = a + b;
	return 0;
}

int
ph_duration_parse(const char *s, int64_t *ms, char **cause)
{
	const char	*p = s, *num, *u;
	int64_t		 total = 0, whole, frac, scale, part, unit;
	size_t		 i, n;
	int		 first = 1, digits, big;
	double		 f;

	if (s == NULL || *s == '\0') {
		*cause = ph_asprintf("empty duration (" DURATION_HINT ")");
		return -1;
	}
	if (*s == '-') {
		*cause = ph_asprintf("'%s' is negative: a duration is zero or more", s);
		return -1;
	}
	while (*p != '\0') {
		/* A number: digits, an optional fraction, at least one digit. */
		num = p;
		whole = frac = 0;
		scale = 1;
		digits = big = 0;
		for (; duration_digit(*p); p++, digits++) {
			if (whole > (INT64_MAX - (*p - '0')) / 10)
				big = 1;
			else
				whole = whole * 10 + (*p - '0');
		}
		if (*p == '.') {
			for (p++; duration_digit(*p); p++, digits++) {
				if (scale <= INT64_MAX / 100) {	/* further digits count for nothing */
					frac = frac * 10 + (*p - '0');
					scale *= 10;
				}
			}
		}
		if (digits == 0) {
			*cause = ph_asprintf("'%s' is not a duration (" DURATION_HINT ")", s);
			return -1;
		}
		if (big)
			goto too_long;

		/* Its unit; a bare number alone is seconds. */
		if (*p == '\0' && first) {
			unit = 1000 * NS_PER_MS;
		} else if (*p == '\0' || duration_digit(*p) || *p == '.') {
			*cause = ph_asprintf("'%s' needs a unit after %.*s (" DURATION_UNITS
			    ")", s, (int)(p - num), num);
			return -1;
		} else {
			unit = 0;
			for (i = 0; i < sizeof duration_units / sizeof duration_units[0]; i++) {
				n = strlen(duration_units[i].name);
				if (strncmp(p, duration_units[i].name, n) == 0) {
					unit = duration_units[i].ns;
					p += n;
					break;
				}
			}
			if (unit == 0) {
				for (u = p; *u != '\0' && !duration_digit(*u) && *u != '.'; u++)
					;
				*cause = ph_asprintf("'%s' has an unknown unit '%.*s' (use "
				    DURATION_UNITS ")", s, (int)(u - p), p);
				return -1;
			}
		}
		if (whole > INT64_MAX / unit)
			goto too_long;
		part = whole * unit;
		if (frac > 0) {
			f = (double)frac * ((double)unit / (double)scale) + 0.5;
			if (f >= 9.2e18 || duration_add(part, (int64_t)f, &part) != 0)
				goto too_long;
		}
		if (duration_add(total, part, &total) != 0)
			goto too_long;
		first = 0;
	}
	if (total % NS_PER_MS != 0) {
		*cause = ph_asprintf("'%s' is finer than a millisecond, which is as fine "
		    "as porthole counts", s);
		return -1;
	}
	*ms = total / NS_PER_MS;
	return 0;

too_long:
	*cause = ph_asprintf("'%s' is too long (at most 106751d)", s);
	return -1;
}

/* Append to buf at *o, bounded; the string stays terminated. */
static void
duration_put(char *buf, size_t len, size_t *o, const char *fmt, unsigned long long v)
{
	int	n;

	if (*o >= len)
		return;
	n = snprintf(buf + *o, len - *o, fmt, v);
	if (n > 0)
		*o = *o + (size_t)n < len ? *o + (size_t)n : len - 1;
}

/* ".5", ".05", ".345" for a fraction of three digits (0 < v < 1000). */
static void
duration_frac(char *buf, size_t len, size_t *o, unsigned v)
{
	char	d[8];
	size_t	n;

	snprintf(d, sizeof d, ".%03u", v);
	for (n = strlen(d); n > 1 && d[n - 1] == '0'; n--)
		d[n - 1] = '\0';
	if (*o < len) {
		snprintf(buf + *o, len - *o, "%s", d);
		*o = *o + n < len ? *o + n : len - 1;
	}
}

const char *
ph_duration_fmt_us(int64_t us, char *buf, size_t len)
{
	static const struct {
		const char	 *fmt;
		unsigned long long us;
	} big[] = {
		{ "%llud", 86400ULL * 1000000 },
		{ "%lluh", 3600ULL * 1000000 },
		{ "%llum", 60ULL * 1000000 },
	};
	unsigned long long	 u, s;
	size_t			 o = 0, i;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	if (us < 0) {
		duration_put(buf, len, &o, "-", 0);
		u = (unsigned long long)(-(us + 1)) + 1;
	} else
		u = (unsigned long long)us;

	if (u == 0) {
		duration_put(buf, len, &o, "0s", 0);
	} else if (u < 1000) {
		duration_put(buf, len, &o, "%lluus", u);
	} else if (u < 1000000) {
		duration_put(buf, len, &o, "%llu", u / 1000);
		if (u % 1000 != 0)
			duration_frac(buf, len, &o, (unsigned)(u % 1000));
		duration_put(buf, len, &o, "ms", 0);
	} else {
		for (i = 0; i < sizeof big / sizeof big[0]; i++) {
			if (u >= big[i].us)
				duration_put(buf, len, &o, big[i].fmt, u / big[i].us);
			u %= big[i].us;
		}
		s = u / 1000000;
		u = (u % 1000000) / 1000;	/* the milliseconds left */
		if (s > 0 || u > 0) {
			duration_put(buf, len, &o, "%llu", s);
			if (u > 0)
				duration_frac(buf, len, &o, (unsigned)u);
			duration_put(buf, len, &o, "s", 0);
		}
	}
	return buf;
}

const char *
ph_duration_fmt(int64_t ms, char *buf, size_t len)
{
	if (ms > INT64_MAX / 1000)
		ms = INT64_MAX / 1000;
	else if (ms < INT64_MIN / 1000)
		ms = INT64_MIN / 1000;
	return ph_duration_fmt_us(ms * 1000, buf, len);
}

const char *
ph_duration_coarse(int64_t secs, char *buf, size_t len)
{
	long long	d = secs < 0 ? 0 : (long long)secs;

	if (d < 120)
		snprintf(buf, len, "%llds", d);
	else if (d < 7200)
		snprintf(buf, len, "%lldm", d / 60);
	else if (d < 172800)
		snprintf(buf, len, "%lldh", d / 3600);
	else
		snprintf(buf, len, "%lldd", d / 86400);
	return buf;
}
