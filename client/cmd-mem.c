/*
 * cmd-mem.c - "porthole mem TARGET PID [--every DUR] [--for DUR] [--json]":
 * watch one process's memory (op-mem.c samples it on the agent), until
 * --for is over, Ctrl-C, or the process exits.
 *
 * The agent sends one JSON line per sample on STDOUT; each is renamed to
 * the CLI's naming of units first (client-units.c: sizes in bytes,
 * `rss_bytes`, `cgroup_limit_bytes`...), and the growth rate of RSS is
 * added (`growth_bytes_per_min`: least squares over the samples of the
 * window, at most MEM_WINDOW of them).  Then:
 *   --json          JSON Lines, one object per sample;
 *   a terminal      a header, then one row per sample in human units (KiB,
 *                   MiB, GiB), the growth with its unit ("+120.3 MiB/min")
 *                   and a sparkline of the last MEM_SPARK samples: is it
 *                   leaking?
 *   otherwise       one "HH:MM:SS key=value ..." line per sample, for logs
 *                   and grep, with the JSON's names and values (bytes).
 *
 * Exit: 0 when --for is over or on Ctrl-C; 255 when the process exits
 * ("process N has exited") or cannot be read (the agent's message says
 * what access it needs), like any failure of porthole.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "porthole/duration.h"
#include "porthole/printable.h"
#include "porthole/util.h"

#include "client-conn.h"
#include "client-op.h"
#include "client-target.h"
#include "client-units.h"
#include "cmd.h"

#define MEM_LINE_MAX	(64 * 1024)
#define MEM_WINDOW	600	/* samples in the growth-rate window */
#define MEM_SPARK	30	/* samples in the sparkline */

enum mem_mode { MEM_PLAIN, MEM_JSON, MEM_LIVE };

struct mem {
	enum mem_mode	 mode;
	char		 line[MEM_LINE_MAX + 1];
	size_t		 len;
	int		 overlong;
	double		 t[MEM_WINDOW];	/* ring of (time, rss bytes) */
	double		 rss[MEM_WINDOW];
	size_t		 head, count;
	unsigned long	 samples;
};

/* Bytes per minute: the least-squares slope of rss over t; 0 under 2 samples. */
static double
mem_slope(const struct mem *m)
{
	double	sx = 0, sy = 0, sxx = 0, sxy = 0, n = (double)m->count, x, y, d, t0;
	size_t	i, k;

	if (m->count < 2)
		return 0;
	t0 = m->t[(m->head + MEM_WINDOW - m->count) % MEM_WINDOW];
	for (i = 0; i < m->count; i++) {
		k = (m->head + MEM_WINDOW - m->count + i) % MEM_WINDOW;
		x = (m->t[k] - t0) / 60;
		y = m->rss[k];
		sx += x;
		sy += y;
		sxx += x * x;
		sxy += x * y;
	}
	d = n * sxx - sx * sx;
	return d > 0 ? (n * sxy - sx * sy) / d : 0;
}

static void
mem_spark(const struct mem *m, char *buf, size_t len)
{
	static const char *const bars[] = { "\u2581", "\u2582", "\u2583", "\u2584",
	    "\u2585", "\u2586", "\u2587", "\u2588" };
	size_t	n = m->count < MEM_SPARK ? m->count : MEM_SPARK, i, k;
	double	lo = 0, hi = 0, v;
	int	b;

	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		v = m->rss[(m->head + MEM_WINDOW - n + i) % MEM_WINDOW];
		if (i == 0 || v < lo)
			lo = v;
		if (i == 0 || v > hi)
			hi = v;
	}
	for (i = 0; i < n; i++) {
		k = (m->head + MEM_WINDOW - n + i) % MEM_WINDOW;
		b = hi > lo ? (int)((m->rss[k] - lo) / (hi - lo) * 7 + 0.5) : 0;
		if (strlen(buf) + 4 < len)
			strcat(buf, bars[b]);
	}
}

static json_int_t
mem_int(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* A size member of a renamed sample, human, into buf; "-" when not a number. */
static const char *
mem_size(json_t *o, const char *k, char *buf, size_t len)
{
	json_t	*v = json_object_get(o, k);

	if (!json_is_integer(v))
		snprintf(buf, len, "-");
	else
		client_units_size((double)json_integer_value(v), buf, len);
	return buf;
}

/* An integer member for the key=value line; "-" when not one (pss). */
static const char *
mem_num(json_t *o, const char *k, char *buf, size_t len)
{
	json_t	*v = json_object_get(o, k);

	if (json_is_integer(v))
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	else
		snprintf(buf, len, "-");
	return buf;
}

static void
mem_sample(struct client_op *op, struct mem *m, const char *line, size_t len)
{
	json_t		*o;
	json_error_t	 jerr;
	char		*out, tbuf[16], spark[MEM_SPARK * 4 + 1];
	char		 h[6][CLIENT_UNITS_SIZE_MAX], g[CLIENT_UNITS_SIZE_MAX + 8];
	char		 n[9][24];
	time_t		 t;
	struct tm	 tm;
	double		 slope;

	if ((o = json_loadb(line, len, 0, &jerr)) == NULL || !json_is_object(o)) {
		json_decref(o);
		client_op_abort(op, ph_asprintf("the agent sent a sample that is not a JSON "
		    "object (%s)", jerr.text));
		return;
	}
	client_units_mem(o);
	m->t[m->head] = json_number_value(json_object_get(o, "t"));
	m->rss[m->head] = (double)mem_int(o, "rss_bytes");
	m->head = (m->head + 1) % MEM_WINDOW;
	if (m->count < MEM_WINDOW)
		m->count++;
	slope = mem_slope(m);
	slope = slope < 0 ? -(double)(long long)(-slope + 0.5) : (double)(long long)(slope + 0.5);
	json_object_set_new(o, "growth_bytes_per_min", json_integer((json_int_t)slope));
	t = (time_t)json_number_value(json_object_get(o, "t"));
	localtime_r(&t, &tm);
	strftime(tbuf, sizeof tbuf, "%H:%M:%S", &tm);
	if (m->mode == MEM_JSON) {
		out = ph_json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(13));
	} else if (m->mode == MEM_PLAIN) {
		out = ph_asprintf("%s pid=%lld rss_bytes=%s pss_bytes=%s anon_bytes=%s "
		    "file_bytes=%s shmem_bytes=%s swap_bytes=%s peak_bytes=%s threads=%lld "
		    "cgroup_usage_bytes=%s cgroup_limit_bytes=%s growth_bytes_per_min=%lld\n",
		    tbuf, (long long)mem_int(o, "pid"),
		    mem_num(o, "rss_bytes", n[0], sizeof n[0]),
		    mem_num(o, "pss_bytes", n[1], sizeof n[1]),
		    mem_num(o, "anon_bytes", n[2], sizeof n[2]),
		    mem_num(o, "file_bytes", n[3], sizeof n[3]),
		    mem_num(o, "shmem_bytes", n[4], sizeof n[4]),
		    mem_num(o, "swap_bytes", n[5], sizeof n[5]),
		    mem_num(o, "peak_bytes", n[6], sizeof n[6]),
		    (long long)mem_int(o, "threads"),
		    mem_num(o, "cgroup_usage_bytes", n[7], sizeof n[7]),
		    mem_num(o, "cgroup_limit_bytes", n[8], sizeof n[8]),
		    (long long)mem_int(o, "growth_bytes_per_min"));
	} else {
		mem_spark(m, spark, sizeof spark);
		client_units_size(slope, h[5], sizeof h[5]);
		snprintf(g, sizeof g, "%s%s/min", slope < 0 ? "" : "+", h[5]);
		out = ph_asprintf("%s%8s %10s %10s %10s %10s %10s %4lld %15s  %s\n",
		    m->samples == 0 ? "    TIME        RSS        PSS       ANON       SWAP"
		    "       PEAK  THR          GROWTH  RSS\n" : "", tbuf,
		    mem_size(o, "rss_bytes", h[0], sizeof h[0]),
		    mem_size(o, "pss_bytes", h[1], sizeof h[1]),
		    mem_size(o, "anon_bytes", h[2], sizeof h[2]),
		    mem_size(o, "swap_bytes", h[3], sizeof h[3]),
		    mem_size(o, "peak_bytes", h[4], sizeof h[4]),
		    (long long)mem_int(o, "threads"), g, spark);
	}
	m->samples++;
	if (out == NULL || client_op_write(op, out, strlen(out)) != 0 ||
	    (m->mode == MEM_JSON && client_op_write(op, "\n", 1) != 0))
		client_op_abort(op, strdup("cannot queue the output (out of memory)"));
	free(out);
	json_decref(o);
}

static int
mem_out(struct client_op *op, void *arg, const uint8_t *p, size_t n)
{
	struct mem	*m = arg;
	size_t		 i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\n') {
			if (!m->overlong && m->len > 0)
				mem_sample(op, m, m->line, m->len);
			m->len = 0;
			m->overlong = 0;
		} else if (m->len < MEM_LINE_MAX)
			m->line[m->len++] = (char)p[i];
		else
			m->overlong = 1;	/* dropped: no sample is this long */
	}
	return 0;
}

static int
cmd_mem_exec(struct client_conf *conf, int argc, char **argv)
{
	struct client_op_result	 res;
	struct mem		*m;
	const char		*target = NULL, *pid = NULL, *v;
	char			*cause = NULL, *end, be[24], bd[24];
	int64_t			 every = 1000, dur = 0;
	int			 i, r, json = 0;
	long			 n;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--json") == 0)
			json = 1;
		else if (strcmp(a, "--every") == 0 || strcmp(a, "--for") == 0) {
			if (i + 1 >= argc)
				return cmd_usage_error(&cmd_mem_entry, "%s needs a duration", a);
			v = argv[++i];
			if (ph_duration_parse(v, a[2] == 'e' ? &every : &dur, &cause) != 0) {
				r = cmd_usage_error(&cmd_mem_entry, "%s: %s", a, cause);
				free(cause);
				return r;
			}
		} else if (a[0] == '-' && a[1] != '\0') {
			if ((r = cmd_conf_option(&cmd_mem_entry, conf, argc, argv, &i)) != 0)
				return r;
		} else if (target == NULL)
			target = a;
		else if (pid == NULL)
			pid = a;
		else
			return cmd_usage_error(&cmd_mem_entry, "unexpected argument '%s'", a);
	}
	if (target == NULL || pid == NULL)
		return cmd_usage_error(&cmd_mem_entry, "missing %s", target == NULL ?
		    "TARGET" : "PID");
	n = strtol(pid, &end, 10);
	if (*pid < '0' || *pid > '9' || *end != '\0' || n < 1 || n > 0x7fffffff)
		return cmd_usage_error(&cmd_mem_entry, "PID must be a process id, not '%s'",
		    pid);
	if (every < 50 || every > 3600000)
		return cmd_usage_error(&cmd_mem_entry, "--every must be between 50ms and 1h");
	if ((m = calloc(1, sizeof *m)) == NULL)
		return cmd_failf("out of memory");
	m->mode = json ? MEM_JSON : isatty(1) ? MEM_LIVE : MEM_PLAIN;

	snprintf(be, sizeof be, "%lld", (long long)every);
	snprintf(bd, sizeof bd, "%lld", (long long)dur);
	if ((r = client_op_run(conf, target, "mem", json_pack("[s, s, s]", pid, be, bd),
	    mem_out, m, &res)) != 0) {
		client_op_result_free(&res);
		free(m);
		return r;
	}
	free(m);
	if (res.interrupted || (res.got_exit && res.status == 0))
		r = 0;
	else
		r = cmd_failf("%s on %s (%s)", res.err != NULL ? res.err :
		    "the sampler failed", res.agent_name, res.agent_id);
	client_op_result_free(&res);
	return r;
}

const struct cmd_entry cmd_mem_entry = {
	.name = "mem",
	.alias = NULL,
	.usage = "TARGET PID [--every DUR] [--for DUR] [--json]",
	.about = "a process's memory and growth: live on a terminal, key=value piped, "
	    "JSON Lines with --json",
	.exec = cmd_mem_exec,
	.flags = CMD_TARGET | CMD_PID,
	.description = "Sample the memory of process PID on the agent (Rss, Pss, "
	    "anonymous, file, shmem, swap, peak, threads, the cgroup's use and "
	    "limit) until --for is over, Ctrl-C (status 0) or the process "
	    "exits (255). On a terminal: a row per sample in KiB, MiB, GiB with "
	    "the growth of RSS per minute and a sparkline; piped: one "
	    "'HH:MM:SS key=value ...' line per sample, in bytes.",
	.options = (const struct ph_help_opt[]){
		{ "--every", NULL, "DUR", "time between samples (default 1s, from "
		    "50ms to 1h; DUR as 500ms, 2s, 1m30s)" },
		{ "--for", NULL, "DUR", "stop after DUR (default: until Ctrl-C)" },
		{ "--json", NULL, NULL, "JSON Lines, one object per sample, sizes in "
		    "bytes (rss_bytes, growth_bytes_per_min, ...)" },
		{ NULL, NULL, NULL, NULL }
	},
};
