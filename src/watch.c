/*
 * watch.c - the flight recorder's watch options (watch.h): SIZE and RATE
 * as operators type them, one watch from its words, PORTHOLE_WATCH's list,
 * and a watch back as text and JSON.  The agent (PORTHOLE_WATCH, the
 * `watch` operation) and the CLI (`porthole watch add`) both parse here,
 * so they refuse the same things with the same sentences.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "porthole/duration.h"
#include "porthole/util.h"
#include "porthole/watch.h"

#define WATCH_WORDS_MAX	32

static const struct {
	const char	*suffix;
	double		 mult;
} size_units[] = {
	{ "KiB", 1024.0 }, { "MiB", 1048576.0 }, { "GiB", 1073741824.0 },
	{ "TiB", 1099511627776.0 },
	{ "K", 1e3 }, { "M", 1e6 }, { "G", 1e9 }, { "T", 1e12 },
	{ "KB", 1e3 }, { "MB", 1e6 }, { "GB", 1e9 }, { "TB", 1e12 },
	{ "B", 1.0 }, { "", 1.0 },
};

int
ph_size_parse(const char *s, uint64_t *bytes, char **cause)
{
	char	*end;
	double	 v;
	size_t	 i;

	if (s == NULL || !isdigit((unsigned char)s[0])) {
		*cause = ph_asprintf("'%s' is not a size (a number of bytes, or "
		    "with K, M, G, KiB, MiB, GiB...)", s != NULL ? s : "");
		return -1;
	}
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || !isfinite(v) || v < 0)
		goto bad;
	for (i = 0; i < sizeof size_units / sizeof size_units[0]; i++) {
		if (strcasecmp(end, size_units[i].suffix) == 0) {
			v *= size_units[i].mult;
			if (v >= 18446744073709551615.0)
				goto bad;
			*bytes = (uint64_t)v;
			return 0;
		}
	}
bad:
	*cause = ph_asprintf("'%s' is not a size (a number of bytes, or with "
	    "K, M, G, KiB, MiB, GiB...)", s);
	return -1;
}

const char *
ph_size_fmt(uint64_t bytes, char *buf, size_t len)
{
	static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double	v = (double)bytes;
	size_t	i = 0;

	while (v >= 1024.0 && i < 4) {
		v /= 1024.0;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%lluB", (unsigned long long)bytes);
	else
		snprintf(buf, len, "%.*f%s", v >= 100 || v == (double)(long long)v ? 0 : 1,
		    v, u[i]);
	return buf;
}

void
ph_watch_init(struct ph_watch_spec *w)
{
	memset(w, 0, sizeof *w);
	snprintf(w->kind, sizeof w->kind, "auto");
	w->window_ms = 60 * 1000;
	w->cooldown_ms = 10 * 60 * 1000;
	w->max = 1;
}

/* --growth-above RATE: SIZE/s, SIZE/min, SIZE/h. */
static int
watch_rate(const char *s, struct ph_watch_spec *w, char **cause)
{
	const char	*slash = strrchr(s, '/');
	char		*size;
	int		 r;

	if (slash == NULL) {
		*cause = ph_asprintf("--growth-above '%s': a rate is SIZE/s, "
		    "SIZE/min or SIZE/h (50MiB/min)", s);
		return -1;
	}
	if (strcmp(slash + 1, "s") == 0 || strcmp(slash + 1, "sec") == 0)
		w->growth_per_ms = 1000;
	else if (strcmp(slash + 1, "min") == 0 || strcmp(slash + 1, "m") == 0)
		w->growth_per_ms = 60 * 1000;
	else if (strcmp(slash + 1, "h") == 0)
		w->growth_per_ms = 3600 * 1000;
	else {
		*cause = ph_asprintf("--growth-above '%s': the unit of time is "
		    "s, min or h", s);
		return -1;
	}
	if ((size = strndup(s, (size_t)(slash - s))) == NULL) {
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	r = ph_size_parse(size, &w->growth_bytes, cause);
	free(size);
	if (r == 0 && w->growth_bytes == 0) {
		*cause = ph_asprintf("--growth-above '%s' must be more than 0", s);
		return -1;
	}
	return r;
}

static int
watch_duration(const char *opt, const char *s, int64_t *ms, int64_t min, char **cause)
{
	char	*c = NULL;

	if (ph_duration_parse(s, ms, &c) != 0) {
		*cause = ph_asprintf("%s: %s", opt, c);
		free(c);
		return -1;
	}
	if (*ms < min) {
		*cause = ph_asprintf("%s '%s' is shorter than %lld ms", opt, s,
		    (long long)min);
		return -1;
	}
	return 0;
}

/* One option and its value; returns how many words it took, or -1. */
static int
watch_option(struct ph_watch_spec *w, const char *opt, const char *val, char **cause)
{
	char	*end;
	long	 v;
	double	 d;
	size_t	 n;

	if (val == NULL) {
		*cause = ph_asprintf("%s needs a value", opt);
		return -1;
	}
	if (strcmp(opt, "--rss-above") == 0) {
		n = strlen(val);
		if (n > 1 && val[n - 1] == '%') {
			errno = 0;
			d = strtod(val, &end);
			if (errno != 0 || end != val + n - 1 || !(d > 0 && d <= 100)) {
				*cause = ph_asprintf("--rss-above '%s': a share is "
				    "more than 0%% and at most 100%%", val);
				return -1;
			}
			w->rss_pct = d;
			w->rss_bytes = 0;
			return 2;
		}
		if (ph_size_parse(val, &w->rss_bytes, cause) != 0)
			return -1;
		if (w->rss_bytes == 0) {
			*cause = ph_asprintf("--rss-above must be more than 0");
			return -1;
		}
		w->rss_pct = 0;
		return 2;
	}
	if (strcmp(opt, "--growth-above") == 0)
		return watch_rate(val, w, cause) == 0 ? 2 : -1;
	if (strcmp(opt, "--window") == 0)
		return watch_duration(opt, val, &w->window_ms, 2000, cause) == 0 ? 2 : -1;
	if (strcmp(opt, "--cooldown") == 0)
		return watch_duration(opt, val, &w->cooldown_ms, 0, cause) == 0 ? 2 : -1;
	if (strcmp(opt, "--kind") == 0) {
		if (strcmp(val, "auto") != 0 && strcmp(val, "core") != 0 &&
		    strcmp(val, "jvm") != 0 && strcmp(val, "node") != 0) {
			*cause = ph_asprintf("--kind '%s': auto, core, jvm or node", val);
			return -1;
		}
		snprintf(w->kind, sizeof w->kind, "%s", val);
		return 2;
	}
	if (strcmp(opt, "--max") == 0) {
		errno = 0;
		v = strtol(val, &end, 10);
		if (errno != 0 || *end != '\0' || end == val || v < 1 || v > 1000) {
			*cause = ph_asprintf("--max '%s': a number from 1 to 1000", val);
			return -1;
		}
		w->max = (int)v;
		return 2;
	}
	if (strcmp(opt, "--pid") == 0) {
		if (strcmp(val, "app") == 0)
			w->which = PH_WATCH_APP;
		else if (strcmp(val, "largest") == 0)
			w->which = PH_WATCH_LARGEST;
		else {
			errno = 0;
			v = strtol(val, &end, 10);
			if (errno != 0 || *end != '\0' || end == val || v < 1 ||
			    v > 0x7fffffff) {
				*cause = ph_asprintf("--pid '%s': a process id, app "
				    "or largest", val);
				return -1;
			}
			w->which = PH_WATCH_PID;
			w->pid = (pid_t)v;
		}
		return 2;
	}
	*cause = ph_asprintf("unknown watch option '%s' (--rss-above, "
	    "--growth-above, --window, --pid, --kind, --cooldown, --max)", opt);
	return -1;
}

int
ph_watch_parse_argv(int argc, char **argv, struct ph_watch_spec *w, char **cause)
{
	int	i, k;

	ph_watch_init(w);
	for (i = 0; i < argc; i += k) {
		if ((k = watch_option(w, argv[i], i + 1 < argc ? argv[i + 1] : NULL,
		    cause)) < 0)
			return -1;
	}
	if (w->rss_bytes == 0 && w->rss_pct == 0 && w->growth_per_ms == 0) {
		*cause = ph_asprintf("a watch needs --rss-above, --growth-above "
		    "or both");
		return -1;
	}
	return 0;
}

int
ph_watch_parse_list(const char *s, struct ph_watch_spec *w, size_t max, size_t *n,
    char **cause)
{
	char	*copy, *one, *save = NULL, *word, *wsave, *words[WATCH_WORDS_MAX];
	char	*c = NULL;
	int	 nw;

	*n = 0;
	if ((copy = strdup(s)) == NULL) {
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	for (one = strtok_r(copy, ";", &save); one != NULL;
	    one = strtok_r(NULL, ";", &save)) {
		nw = 0;
		for (word = strtok_r(one, " \t\n", &wsave); word != NULL;
		    word = strtok_r(NULL, " \t\n", &wsave)) {
			if (nw == WATCH_WORDS_MAX) {
				*cause = ph_asprintf("watch %zu has more than %d "
				    "words", *n + 1, WATCH_WORDS_MAX);
				goto fail;
			}
			words[nw++] = word;
		}
		if (nw == 0)
			continue;
		if (*n == max) {
			*cause = ph_asprintf("more than %zu watches", max);
			goto fail;
		}
		if (ph_watch_parse_argv(nw, words, &w[*n], &c) != 0) {
			*cause = ph_asprintf("watch %zu: %s", *n + 1, c);
			free(c);
			goto fail;
		}
		(*n)++;
	}
	free(copy);
	return 0;
fail:
	free(copy);
	return -1;
}

char *
ph_watch_text(const struct ph_watch_spec *w)
{
	char	out[PH_WATCH_TEXT_MAX], sz[32], d[PH_DURATION_FMT_MAX];
	size_t	o = 0;

#define PUT(...) do { \
	if (o < sizeof out) \
		o += (size_t)snprintf(out + o, sizeof out - o, __VA_ARGS__); \
} while (0)
	if (w->rss_pct > 0)
		PUT("--rss-above %g%%", w->rss_pct);
	else if (w->rss_bytes > 0)
		PUT("--rss-above %s", ph_size_fmt(w->rss_bytes, sz, sizeof sz));
	if (w->growth_per_ms > 0) {
		PUT("%s--growth-above %s/%s --window %s", o > 0 ? " " : "",
		    ph_size_fmt(w->growth_bytes, sz, sizeof sz),
		    w->growth_per_ms == 1000 ? "s" : w->growth_per_ms == 60000 ?
		    "min" : "h", ph_duration_fmt(w->window_ms, d, sizeof d));
	}
	if (w->which == PH_WATCH_PID)
		PUT(" --pid %d", (int)w->pid);
	else if (w->which == PH_WATCH_APP)
		PUT(" --pid app");
	else if (w->which == PH_WATCH_LARGEST)
		PUT(" --pid largest");
	PUT(" --kind %s --cooldown %s --max %d", w->kind,
	    ph_duration_fmt(w->cooldown_ms, d, sizeof d), w->max);
#undef PUT
	return strdup(out);
}

json_t *
ph_watch_json(const struct ph_watch_spec *w)
{
	json_t	*j = json_object();
	char	*t = ph_watch_text(w);

	if (j == NULL || t == NULL) {
		json_decref(j);
		free(t);
		return NULL;
	}
	json_object_set_new(j, "spec", json_string(t));
	free(t);
	if (w->rss_pct > 0)
		json_object_set_new(j, "rss_above_pct", json_real(w->rss_pct));
	if (w->rss_bytes > 0)
		json_object_set_new(j, "rss_above_bytes", json_integer((json_int_t)w->rss_bytes));
	if (w->growth_per_ms > 0)
		json_object_set_new(j, "growth_above_bytes_per_min", json_integer(
		    (json_int_t)(w->growth_bytes * 60000.0 / (double)w->growth_per_ms)));
	json_object_set_new(j, "kind", json_string(w->kind));
	json_object_set_new(j, "max", json_integer(w->max));
	json_object_set_new(j, "cooldown_ms", json_integer(w->cooldown_ms));
	return j;
}
