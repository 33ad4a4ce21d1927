/*
 * duration.h - the one way the three programs read a duration an operator
 * typed and the one way they print one.
 *
 * Reading follows Go's time.ParseDuration (and so kubectl's flags): a
 * sequence of decimal numbers, each with an optional fraction and a unit,
 * "1m30s", "1h2m3.5s", "500ms", "1.5h"; units ns, us (or µs), ms, s, m, h,
 * and d (24 h) besides.  A bare number alone is seconds ("30").  Signs,
 * spaces, exponents, "nan" and "inf" are not durations.  porthole counts in
 * whole milliseconds: a total with a part of a millisecond left ("1500us")
 * is refused rather than rounded.
 *
 * Printing is the reverse, so that what an operator typed comes back the
 * way it was meant: days, hours and minutes that are not zero, then seconds
 * with at most three decimals ("1m30s", "1h2m3.5s", "2h", "7d"); under a
 * second, milliseconds ("500ms", "12.345ms"); under one, microseconds.
 */
#ifndef PORTHOLE_DURATION_H
#define PORTHOLE_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Room for any duration ph_duration_fmt prints. */
#define PH_DURATION_FMT_MAX	40

/*
 * s as a number of milliseconds (0 or more) into *ms.  -1 with *cause
 * (malloc'd, naming s and what is wrong with it) otherwise.
 */
int	 ph_duration_parse(const char *s, int64_t *ms, char **cause);

/* A duration of us microseconds as text into buf (len bytes); returns buf. */
const char *ph_duration_fmt_us(int64_t us, char *buf, size_t len);

/* The same for milliseconds: ph_duration_fmt_us(ms * 1000). */
const char *ph_duration_fmt(int64_t ms, char *buf, size_t len);

/*
 * secs seconds in one coarse unit, for a table column or an "ago": under
 * 2 minutes in seconds ("75s"), under 2 hours in minutes ("90m"), under 2
 * days in hours ("47h"), else in days ("3d"), rounded down; a negative
 * secs counts as 0.  Returns buf.
 */
const char *ph_duration_coarse(int64_t secs, char *buf, size_t len);

#endif
