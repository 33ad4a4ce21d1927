/*
 * cmd-ps.c - "porthole ps TARGET [--json] [--sort cpu|rss|pid] [--tree]":
 * the processes of a container, read by the agent from /proc (op-ps.c),
 * with the container's cgroup memory use and limit on top.
 *
 * The agent sends one JSON document on STDOUT (docs/protocol.md, "ps");
 * we keep it (at most PS_DOC_MAX bytes), rename its sizes to the CLI's
 * naming of units (client-units.c: `rss_bytes`, `cgroup.usage_bytes`) and
 * print it after the session: --json as one document, else a table (sizes
 * in KiB, MiB, GiB)
 *   PID PPID USER STATE %CPU RSS THR FDS START COMMAND
 * sorted by pid (default), cpu or rss (largest first), or --tree: each
 * process under its parent, children by pid.  On a terminal the command
 * column is cut at the terminal's width.  Every string of the document is
 * the container's (names, argv, users, the cgroup path): escaped for the
 * terminal in the table (client_printable), and in --json as JSON
 * (ph_json_dumps: DEL and C1 too).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "porthole/printable.h"
#include "porthole/util.h"

#include "client-conn.h"
#include "client-fanout.h"
#include "client-op.h"
#include "client-out.h"
#include "client-target.h"
#include "client-units.h"
#include "cmd.h"

#define PS_DOC_MAX	(32 * 1024 * 1024)

enum ps_sort { PS_SORT_PID, PS_SORT_CPU, PS_SORT_RSS };

struct ps {
	char		*doc;
	size_t		 len;
	int		 overflow;
	enum ps_sort	 sort;
};

static int
ps_out(struct client_op *op, void *arg, const uint8_t *p, size_t n)
{
	struct ps	*ps = arg;
	char		*nd;

	if (ps->len + n > PS_DOC_MAX) {
		if (!ps->overflow)
			client_op_abort(op, ph_asprintf("the process list is larger than "
			    "%d MiB: refused", PS_DOC_MAX >> 20));
		ps->overflow = 1;
		return -1;
	}
	if ((nd = realloc(ps->doc, ps->len + n + 1)) == NULL) {
		client_op_abort(op, strdup("out of memory"));
		return -1;
	}
	ps->doc = nd;
	memcpy(ps->doc + ps->len, p, n);
	ps->len += n;
	ps->doc[ps->len] = '\0';
	return 0;
}

/* Where the table goes: stdout, or a buffer while ps --all prefixes it. */
static FILE *ps_out_fp;

static FILE *
ps_fp(void)
{
	return ps_out_fp != NULL ? ps_out_fp : stdout;
}

static json_int_t
ps_int(json_t *p, const char *k)
{
	return json_integer_value(json_object_get(p, k));
}

static enum ps_sort ps_sort_key;

static int
ps_cmp(const void *a, const void *b)
{
	json_t	*x = *(json_t *const *)a, *y = *(json_t *const *)b;
	double	 dx, dy;

	switch (ps_sort_key) {
	case PS_SORT_CPU:
		dx = json_number_value(json_object_get(x, "cpu"));
		dy = json_number_value(json_object_get(y, "cpu"));
		if (dx != dy)
			return dx > dy ? -1 : 1;
		break;
	case PS_SORT_RSS:
		if (ps_int(x, "rss_bytes") != ps_int(y, "rss_bytes"))
			return ps_int(x, "rss_bytes") > ps_int(y, "rss_bytes") ? -1 : 1;
		break;
	case PS_SORT_PID:
		break;
	}
	return ps_int(x, "pid") < ps_int(y, "pid") ? -1 : ps_int(x, "pid") > ps_int(y, "pid");
}

static void
ps_row(json_t *p, int depth, int width)
{
	char		 rss[CLIENT_UNITS_SIZE_MAX], start[16], fds[16], *user, *state, *cmd;
	char		*line;
	const char	*c;
	time_t		 st = (time_t)ps_int(p, "start"), now = time(NULL);
	struct tm	 tm, tn;
	int		 n;

	client_units_size((double)ps_int(p, "rss_bytes"), rss, sizeof rss);
	localtime_r(&st, &tm);
	localtime_r(&now, &tn);
	if (tm.tm_year == tn.tm_year && tm.tm_yday == tn.tm_yday)
		strftime(start, sizeof start, "%H:%M", &tm);
	else
		strftime(start, sizeof start, "%b%d", &tm);
	user = client_printable(client_agent_str(p, "user"));
	user[ph_utf8_cut(user, 10)] = '\0';	/* the column's width */
	state = client_printable(client_agent_str(p, "state"));
	c = client_agent_str(p, "command");
	cmd = client_printable(*c != '\0' ? c : client_agent_str(p, "comm"));
	n = (int)ps_int(p, "fds");
	if (n < 0)
		snprintf(fds, sizeof fds, "-");
	else
		snprintf(fds, sizeof fds, "%d", n);
	line = ph_asprintf("%7lld %7lld %-10s %-5s %5.1f %10s %4lld %4s %-5s %*s%s%s",
	    (long long)ps_int(p, "pid"), (long long)ps_int(p, "ppid"), user,
	    state, json_number_value(json_object_get(p, "cpu")), rss,
	    (long long)ps_int(p, "threads"), fds, start, depth * 2, "",
	    depth > 0 ? "\\_ " : "", cmd);
	if (width > 0)
		line[ph_utf8_cut(line, (size_t)width)] = '\0';
	fprintf(ps_fp(), "%s\n", line);
	free(line);
	free(user);
	free(state);
	free(cmd);
}

static void
ps_tree(json_t **v, size_t n, json_int_t parent, int depth, int width, char *done)
{
	size_t	i;

	if (depth > 64)
		return;
	for (i = 0; i < n; i++) {
		if (done[i] || ps_int(v[i], "ppid") != parent || ps_int(v[i], "pid") == parent)
			continue;
		done[i] = 1;
		ps_row(v[i], depth, width);
		ps_tree(v, n, ps_int(v[i], "pid"), depth + 1, width, done);
	}
}

static int
ps_print(json_t *doc, enum ps_sort sort, int tree)
{
	json_t		*procs = json_object_get(doc, "processes"), *cg, **v;
	size_t		 n, i, j;
	struct winsize	 ws;
	int		 width = 0, found;
	char		 used[CLIENT_UNITS_SIZE_MAX], lim[CLIENT_UNITS_SIZE_MAX];
	char		*done, *path;

	if (!json_is_array(procs))
		return cmd_failf("the agent sent a process list without processes");
	if (isatty(1) && ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		width = ws.ws_col;
	cg = json_object_get(doc, "cgroup");
	if (json_is_object(cg)) {
		double u = (double)ps_int(cg, "usage_bytes"), l = (double)ps_int(cg, "limit_bytes");

		client_units_size(u, used, sizeof used);
		path = client_printable(client_agent_str(cg, "path"));
		if (l > 0) {
			client_units_size(l, lim, sizeof lim);
			fprintf(ps_fp(), "memory: %s of %s (%.0f%%), cgroup v%lld %s\n", used, lim,
			    u * 100 / l, (long long)ps_int(cg, "version"), path);
		} else
			fprintf(ps_fp(), "memory: %s, no limit, cgroup v%lld %s\n", used,
			    (long long)ps_int(cg, "version"), path);
		free(path);
	} else
		fprintf(ps_fp(), "memory: no memory cgroup found\n");
	fprintf(ps_fp(), "%7s %7s %-10s %-5s %5s %10s %4s %4s %-5s %s\n", "PID", "PPID", "USER",
	    "STATE", "%CPU", "RSS", "THR", "FDS", "START", "COMMAND");
	n = json_array_size(procs);
	if ((v = calloc(n + 1, sizeof *v)) == NULL || (done = calloc(n + 1, 1)) == NULL) {
		free(v);
		return cmd_failf("out of memory");
	}
	for (i = 0; i < n; i++)
		v[i] = json_array_get(procs, i);
	ps_sort_key = tree ? PS_SORT_PID : sort;
	qsort(v, n, sizeof *v, ps_cmp);
	if (!tree) {
		for (i = 0; i < n; i++)
			ps_row(v[i], 0, width);
	} else {
		/* Roots: processes whose parent is not in the list. */
		for (i = 0; i < n; i++) {
			if (done[i])
				continue;
			for (found = 0, j = 0; j < n && !found; j++)
				found = j != i && ps_int(v[j], "pid") == ps_int(v[i], "ppid");
			if (found)
				continue;
			done[i] = 1;
			ps_row(v[i], 0, width);
			ps_tree(v, n, ps_int(v[i], "pid"), 1, width, done);
		}
		for (i = 0; i < n; i++)	/* cycles, if /proc ever shows one */
			if (!done[i])
				ps_row(v[i], 0, width);
	}
	free(done);
	free(v);
	if (ps_fp() == stdout)
		return client_out_flush();
	return 0;
}

/*
 * ps --all: the same operation on every agent TARGET matches, through the
 * fan-out module; each agent's table is printed with every line prefixed
 * by the agent's name, or, with --json, one document
 * {"results": [{"agent": {id, name}, "exit": N, "ps": {...}, "error"?}]}.
 * The status is the highest of the agents' (255 for any that failed).
 */
static int
ps_all(struct client_conf *conf, const char *target, enum ps_sort sort, int tree,
    int json)
{
	struct client_fanout_opts fo;
	json_t		*results = NULL, *res, *doc, *out;
	const char	*err;
	char		*buf, *line, *save, *name, *text;
	size_t		 i, len;
	FILE		*mem;
	int		 r, status = 0, code;

	memset(&fo, 0, sizeof fo);
	fo.op = "ps";
	fo.grace_ms = -1;
	fo.collect = &results;
	fo.keep = PS_DOC_MAX;
	if ((r = client_fanout_run(conf, target, &fo)) != 0 || results == NULL)
		return r != 0 ? r : cmd_failf("ps --all: no results");
	out = json_array();
	json_array_foreach(results, i, res) {
		name = client_printable(client_agent_str(json_object_get(res, "agent"),
		    "name"));
		code = (int)json_integer_value(json_object_get(res, "exit"));
		err = json_string_value(json_object_get(res, "error"));
		doc = NULL;
		if (code == 0 && err == NULL && !json_is_true(json_object_get(res, "truncated")) &&
		    json_object_get(res, "encoding") == NULL) {
			const char *txt = json_string_value(json_object_get(res, "stdout"));
			doc = json_loads(txt != NULL ? txt : "", 0, NULL);
			client_units_ps(doc);
		}
		if (doc == NULL) {
			if (code == 0)
				code = CMD_EXIT_FAIL;
			if (err == NULL)
				err = "the agent sent no readable process list";
			if (!json) {
				text = client_printable(err);
				fprintf(stderr, "porthole: %s: %s\n", name, text);
				free(text);
			}
		}
		if (code > status)
			status = code;
		if (json) {
			json_t *o = json_pack("{s:O,s:i}", "agent", json_object_get(res, "agent"),
			    "exit", code);
			if (doc != NULL)
				json_object_set(o, "ps", doc);
			if (err != NULL)
				json_object_set_new(o, "error", json_string(err));
			json_array_append_new(out, o);
		} else if (doc != NULL) {
			buf = NULL;
			len = 0;
			if ((mem = open_memstream(&buf, &len)) == NULL) {
				json_decref(doc);
				free(name);
				status = cmd_failf("out of memory");
				break;
			}
			ps_out_fp = mem;
			r = ps_print(doc, sort, tree);
			ps_out_fp = NULL;
			fclose(mem);
			for (line = strtok_r(buf, "\n", &save); line != NULL;
			    line = strtok_r(NULL, "\n", &save))
				printf("%s: %s\n", name, line);
			free(buf);
			if (r > status)
				status = r;
		}
		json_decref(doc);
		free(name);
	}
	if (json) {
		doc = json_pack("{s:o}", "results", out);
		text = ph_json_dumps(doc, JSON_COMPACT);
		if (text == NULL)
			status = cmd_failf("out of memory");
		else
			printf("%s\n", text);
		free(text);
		json_decref(doc);
	} else
		json_decref(out);
	json_decref(results);
	if ((r = client_out_flush()) != 0)
		return r;
	return status;
}

static int
cmd_ps_exec(struct client_conf *conf, int argc, char **argv)
{
	struct client_op_result	 res;
	struct ps		 ps;
	json_t			*doc;
	json_error_t		 jerr;
	const char		*target = NULL;
	char			*text;
	int			 i, r, json = 0, tree = 0, all = 0;

	memset(&ps, 0, sizeof ps);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--json") == 0)
			json = 1;
		else if (strcmp(a, "--all") == 0)
			all = 1;
		else if (strcmp(a, "--tree") == 0)
			tree = 1;
		else if (strcmp(a, "--sort") == 0 || strncmp(a, "--sort=", 7) == 0) {
			const char *k = a[6] == '=' ? a + 7 : (i + 1 < argc ? argv[++i] : "");

			if (strcmp(k, "pid") == 0)
				ps.sort = PS_SORT_PID;
			else if (strcmp(k, "cpu") == 0)
				ps.sort = PS_SORT_CPU;
			else if (strcmp(k, "rss") == 0)
				ps.sort = PS_SORT_RSS;
			else
				return cmd_usage_error(&cmd_ps_entry, "--sort takes cpu, rss "
				    "or pid, not '%s'", k);
		} else if (a[0] == '-' && a[1] != '\0') {
			if ((r = cmd_conf_option(&cmd_ps_entry, conf, argc, argv, &i)) != 0)
				return r;
		} else if (target == NULL)
			target = a;
		else
			return cmd_usage_error(&cmd_ps_entry, "unexpected argument '%s'", a);
	}
	if (target == NULL)
		return cmd_usage_error(&cmd_ps_entry, "missing TARGET");
	if (all)
		return ps_all(conf, target, ps.sort, tree, json);

	if ((r = client_op_run(conf, target, "ps", json_array(), ps_out, &ps, &res)) != 0) {
		client_op_result_free(&res);
		free(ps.doc);
		return r;
	}
	if (res.interrupted) {
		r = cmd_failf("interrupted");
		goto out;
	}
	if (res.status != 0) {
		r = cmd_failf("ps on %s (%s) failed: %s", res.agent_name, res.agent_id,
		    res.err != NULL ? res.err : "no reason given");
		goto out;
	}
	if ((doc = json_loadb(ps.doc != NULL ? ps.doc : "", ps.len, 0, &jerr)) == NULL) {
		r = cmd_failf("the agent %s (%s) sent a process list that is not JSON (%s)",
		    res.agent_name, res.agent_id, jerr.text);
		goto out;
	}
	client_units_ps(doc);
	if (json) {
		text = ph_json_dumps(doc, JSON_COMPACT);
		if (text == NULL)
			r = cmd_failf("out of memory");
		else {
			printf("%s\n", text);
			r = client_out_flush();
		}
		free(text);
	} else
		r = ps_print(doc, ps.sort, tree);
	json_decref(doc);
out:
	client_op_result_free(&res);
	free(ps.doc);
	return r;
}

const struct cmd_entry cmd_ps_entry = {
	.name = "ps",
	.alias = NULL,
	.usage = "[--all] TARGET [--json] [--sort cpu|rss|pid] [--tree]",
	.about = "processes of a container, with its cgroup memory",
	.exec = cmd_ps_exec,
	.flags = CMD_TARGET,
	.description = "The processes of the agent's container, read from /proc "
	    "by the agent (no ps needed in the image), under a line with the "
	    "container's cgroup memory use and limit: PID PPID USER STATE %CPU "
	    "RSS THR FDS START COMMAND, %CPU measured over half a second, sizes "
	    "in KiB, MiB, GiB.",
	.options = (const struct ph_help_opt[]){
		{ "--all", NULL, NULL, "every agent TARGET matches, at once: each "
		    "table line prefixed with 'NAME: '" },
		{ "--json", NULL, NULL, "the agent's document as JSON, sizes in "
		    "bytes (rss_bytes, usage_bytes, limit_bytes)" },
		{ "--sort", NULL, "cpu|rss|pid", "order of the table: by pid "
		    "(default), or largest %CPU or RSS first" },
		{ "--tree", NULL, NULL, "each process under its parent" },
		{ NULL, NULL, NULL, NULL }
	},
};
