/*
 * cmd-ls.c - "porthole ls [SELECTOR] [--json]": the agents connected to the
 * relay, as a table (ID NAME SUB VERSION CONNECTED LABELS; SUB is the sub
 * of the token the agent came with) or as one JSON document
 * {"agents": [...]}.
 *
 * A SELECTOR (key=value[,key=value]) is sent to the relay as ?selector= and
 * applied here again, so an older relay that ignores the query still gives
 * the right answer.  An argument without '=' is taken as a TARGET (id,
 * name, task or prefix) and matched here: "porthole ls api" shows what
 * "porthole exec api ..." would choose from.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "porthole/printable.h"
#include "porthole/selector.h"
#include "porthole/util.h"

#include "client-conn.h"
#include "client-http.h"
#include "client-io.h"
#include "client-out.h"
#include "client-target.h"
#include "cmd.h"

#define LS_COLUMNS	6

static const char *ls_headers[LS_COLUMNS] = {
	"ID", "NAME", "SUB", "VERSION", "CONNECTED", "LABELS"
};

/* When an agent connected: "42s ago", "5m ago", "3h ago", else UTC time. */
static char *
ls_connected(json_t *agent, int64_t now)
{
	json_t		*v = json_object_get(agent, "connected_since");
	int64_t		 since, age;
	time_t		 t;
	struct tm	 tm;
	char		 buf[64];

	if (!json_is_number(v))
		return ph_asprintf("-");
	since = (int64_t)json_number_value(v);
	age = now - since;
	if (age < 0)
		age = 0;
	if (age < 60)
		return ph_asprintf("%llds ago", (long long)age);
	if (age < 3600)
		return ph_asprintf("%lldm ago", (long long)(age / 60));
	if (age < 86400)
		return ph_asprintf("%lldh ago", (long long)(age / 3600));
	t = (time_t)since;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return ph_asprintf("-");
	return ph_asprintf("%s", buf);
}

static int
ls_cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "k=v,k=v" sorted by key, printable. */
static char *
ls_labels(json_t *agent)
{
	json_t		*labels = json_object_get(agent, "labels"), *v;
	const char	*key, **keys;
	size_t		 n = json_object_size(labels), i = 0;
	char		*out, *next, *pk, *pv;

	if (!json_is_object(labels) || n == 0)
		return ph_asprintf("%s", "");
	if ((keys = calloc(n, sizeof *keys)) == NULL)
		abort();
	json_object_foreach(labels, key, v)
		keys[i++] = key;
	qsort(keys, n, sizeof *keys, ls_cmp_str);
	out = ph_asprintf("%s", "");
	for (i = 0; i < n; i++) {
		v = json_object_get(labels, keys[i]);
		pk = client_printable(keys[i]);
		pv = client_printable(json_is_string(v) ? json_string_value(v) : "?");
		next = ph_asprintf("%s%s%s=%s", out, i > 0 ? "," : "", pk, pv);
		free(out);
		free(pk);
		free(pv);
		out = next;
	}
	free(keys);
	return out;
}

static int
ls_cmp_agent(const void *a, const void *b)
{
	json_t	*x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int	 r;

	r = strcmp(client_agent_str(x, "name"), client_agent_str(y, "name"));
	if (r == 0)
		r = strcmp(client_agent_str(x, "id"), client_agent_str(y, "id"));
	return r;
}

static void
ls_table(json_t *agents)
{
	size_t	  n = json_array_size(agents), i, c, w[LS_COLUMNS];
	char	**cells;
	json_t	**sorted;
	int64_t	  now = ph_now();

	if ((cells = calloc((n + 1) * LS_COLUMNS, sizeof *cells)) == NULL ||
	    (sorted = calloc(n + 1, sizeof *sorted)) == NULL)
		abort();
	for (i = 0; i < n; i++)
		sorted[i] = json_array_get(agents, i);
	qsort(sorted, n, sizeof *sorted, ls_cmp_agent);

	for (c = 0; c < LS_COLUMNS; c++) {
		cells[c] = ph_asprintf("%s", ls_headers[c]);
		w[c] = strlen(cells[c]);
	}
	for (i = 0; i < n; i++) {
		char **row = cells + (i + 1) * LS_COLUMNS;

		row[0] = client_printable(client_agent_str(sorted[i], "id"));
		row[1] = client_printable(client_agent_str(sorted[i], "name"));
		row[2] = client_printable(client_agent_str(sorted[i], "sub"));
		row[3] = client_printable(client_agent_str(sorted[i], "version"));
		row[4] = ls_connected(sorted[i], now);
		row[5] = ls_labels(sorted[i]);
		for (c = 0; c < LS_COLUMNS; c++)
			if (strlen(row[c]) > w[c])
				w[c] = strlen(row[c]);
	}
	for (i = 0; i <= n; i++) {
		char **row = cells + i * LS_COLUMNS;

		for (c = 0; c < LS_COLUMNS - 1; c++)
			printf("%-*s  ", (int)w[c], row[c]);
		printf("%s\n", row[LS_COLUMNS - 1]);
	}
	for (i = 0; i < (n + 1) * LS_COLUMNS; i++)
		free(cells[i]);
	free(cells);
	free(sorted);
}

/* Keep the agents the selector (or target) names; new array or NULL. */
static json_t *
ls_filter(json_t *agents, const char *arg, int is_selector, char **cause)
{
	json_t	*out, *a;
	size_t	 i;
	char	*c = NULL;
	int	 m;

	if (arg == NULL)
		return json_incref(agents);
	if (!is_selector) {
		if ((out = ph_target_resolve(arg, agents, &c)) == NULL) {
			*cause = ph_asprintf("bad TARGET '%s' (%s)", arg,
			    c != NULL ? c : "malformed");
			free(c);
		}
		return out;
	}
	out = json_array();
	json_array_foreach(agents, i, a) {
		m = ph_selector_match(arg, a, &c);
		if (m < 0) {
			*cause = ph_asprintf("bad selector '%s' (%s): write it as "
			    "key=value[,key=value]", arg, c != NULL ? c : "malformed");
			free(c);
			json_decref(out);
			return NULL;
		}
		if (m > 0)
			json_array_append(out, a);
	}
	return out;
}

/*
 * The partial listing's line on stderr: the relay answered without the
 * fleet's directory.
 */
static void
ls_partial_note(void)
{
	fprintf(stderr, "porthole: the relay cannot reach the fleet's directory "
	    "(Redis): only the agents it holds itself are listed\n");
}

/* What ls prints last: stdout flushed and still there. */
static int
ls_done(void)
{
	int r;

	/* A reader gone ends us as a pipeline member (client-out.c). */
	if ((r = client_out_flush()) != 0)
		return r;
	if (client_io_std_closed(1))
		return cmd_failf("cannot write the agent list to stdout (%s)",
		    strerror(EBADF));
	return 0;
}

/*
 * "ls --json" with no SELECTOR or TARGET: the relay's listing checked and
 * indented as it comes, no JSON tree of every agent (a fleet's listing is
 * ~10 MB at 30,000 agents: parsing it into jansson and dumping it again
 * was most of the time `ls` took).  The same document as below.
 */
static int
ls_json_all(struct client_conn *cc)
{
	char	*agents, *doc, *text, *cause = NULL;
	int	 partial = 0;

	agents = client_http_agents_text(cc, NULL, &partial, &cause);
	client_conn_free(cc);
	if (agents == NULL)
		return cmd_fail(cause);
	if (partial)
		ls_partial_note();
	doc = ph_asprintf("{\n  \"agents\": %s%s\n}", agents,
	    partial ? ",\n  \"partial\": true" : "");
	free(agents);
	text = ph_json_printable(doc);
	free(doc);
	fputs(text, stdout);
	fputc('\n', stdout);
	free(text);
	return ls_done();
}

static int
cmd_ls_exec(struct client_conf *conf, int argc, char **argv)
{
	struct client_conn	*cc;
	json_t			*agents, *shown, *doc, *probe;
	const char		*arg = NULL;
	char			*cause = NULL, *text;
	int			 i, r, json = 0, positional = 0, is_selector = 0, partial = 0;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!positional && strcmp(a, "--") == 0) {
			positional = 1;
			continue;
		}
		if (!positional && a[0] == '-' && a[1] != '\0') {
			if (strcmp(a, "--json") == 0) {
				json = 1;
				continue;
			}
			if ((r = cmd_conf_option(&cmd_ls_entry, conf, argc, argv,
			    &i)) != 0)
				return r;
			continue;
		}
		if (arg != NULL)
			return cmd_usage_error(&cmd_ls_entry, "one SELECTOR at "
			    "most");
		arg = a;
	}

	/* A malformed selector is said before anything goes on the wire. */
	if (arg != NULL && (is_selector = ph_selector_is(arg))) {
		probe = json_pack("{s:{}}", "labels");
		r = ph_selector_match(arg, probe, &cause);
		json_decref(probe);
		if (r < 0) {
			text = ph_asprintf("bad selector '%s' (%s): write it as "
			    "key=value[,key=value]", arg,
			    cause != NULL ? cause : "malformed");
			free(cause);
			return cmd_fail(text);
		}
	}

	if (client_conf_load(conf, &cause) != 0)
		return cmd_fail(cause);
	if ((cc = client_conn_new(conf, &cause)) == NULL)
		return cmd_fail(cause);
	if (json && arg == NULL)
		return ls_json_all(cc);
	agents = client_http_agents_partial(cc, is_selector ? arg : NULL, &partial, &cause);
	client_conn_free(cc);
	if (agents == NULL)
		return cmd_fail(cause);
	shown = ls_filter(agents, arg, is_selector, &cause);
	json_decref(agents);
	if (shown == NULL)
		return cmd_fail(cause);

	if (partial)
		ls_partial_note();
	if (json) {
		doc = json_pack("{s:O}", "agents", shown);
		if (doc != NULL && partial)
			json_object_set_new(doc, "partial", json_true());
		text = ph_json_dumps(doc, JSON_INDENT(2));
		if (text != NULL)
			printf("%s\n", text);
		free(text);
		json_decref(doc);
	} else
		ls_table(shown);
	json_decref(shown);
	return ls_done();
}

const struct cmd_entry cmd_ls_entry = {
	.name = "ls",
	.alias = NULL,
	.usage = "[SELECTOR] [--json]",
	.about = "connected agents and their labels",
	.exec = cmd_ls_exec,
	.description = "The agents connected to the relay: ID NAME SUB VERSION "
	    "CONNECTED LABELS (SUB: the subject of the token the agent came "
	    "with). A SELECTOR key=value[,key=value] shows the agents whose "
	    "labels match; an argument without '=' is a TARGET (id, name, task "
	    "or a unique prefix), and ls shows what 'porthole exec' would choose "
	    "from.",
	.options = (const struct ph_help_opt[]){
		{ "--json", NULL, NULL, "one JSON document, {\"agents\": [...]}" },
		{ NULL, NULL, NULL, NULL }
	},
};
