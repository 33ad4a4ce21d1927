/*
 * cmd-watch.c - "porthole watch add|ls|rm": the flight recorder's watches
 * on running agents (docs/operations.md, "Watches"), the run-time twin of
 * the agent's PORTHOLE_WATCH.
 *
 *   add TARGET [PID] OPTION...   arm a watch on the agent TARGET names
 *                                (PID: --pid PID); the options are checked
 *                                here by the agent's own parser (watch.h)
 *                                before anything is sent, and again there
 *   ls [TARGET] [--json]         the watches of TARGET, or of every agent
 *                                this token sees that serves `watch`
 *   rm AGENT:ID                  remove one (AGENT:ID as ls prints it; a
 *                                watch's number is its agent's)
 *
 * Each is one `watch` session (client-op.c) with the words as its argv,
 * signed like every open; the agent answers one JSON document.  Scope
 * `watch`.  What the agent sends is made printable before it is shown.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "porthole/printable.h"
#include "porthole/util.h"
#include "porthole/watch.h"

#include "client-conf.h"
#include "client-conn.h"
#include "client-http.h"
#include "client-op.h"
#include "client-target.h"
#include "cmd.h"

#define WATCH_WORDS_MAX	60

struct watch_out {
	char	*doc;
	size_t	 len;
};

static int
watch_collect(struct client_op *op, void *arg, const uint8_t *p, size_t n)
{
	struct watch_out	*o = arg;
	char			*nd;

	if (o->len + n > 1024 * 1024 || (nd = realloc(o->doc, o->len + n + 1)) == NULL) {
		client_op_abort(op, ph_asprintf("the agent's answer is too long"));
		return -1;
	}
	memcpy(nd + o->len, p, n);
	o->len += n;
	nd[o->len] = '\0';
	o->doc = nd;
	return 0;
}

/*
 * The settings as given (flags), unloaded: each session loads its own copy,
 * since `ls` without TARGET runs one per agent and a load is not repeatable.
 */
static void
watch_conf_copy(const struct client_conf *c, struct client_conf *out)
{
	memset(out, 0, sizeof *out);
	out->flag_relay = c->flag_relay != NULL ? strdup(c->flag_relay) : NULL;
	out->flag_token = c->flag_token != NULL ? strdup(c->flag_token) : NULL;
	out->flag_key = c->flag_key != NULL ? strdup(c->flag_key) : NULL;
	out->flag_ca = c->flag_ca != NULL ? strdup(c->flag_ca) : NULL;
	out->insecure = c->insecure;
}

/* One `watch` session on target with words; its answer, or NULL after printing why. */
static json_t *
watch_session(struct client_conf *given, const char *target, json_t *words, int *rc,
    char **agent_name)
{
	struct client_op_result	 res;
	struct watch_out	 o = { NULL, 0 };
	struct client_conf	 c, *conf = &c;
	json_t			*doc = NULL;

	memset(&res, 0, sizeof res);
	watch_conf_copy(given, &c);
	if ((*rc = client_op_run(conf, target, "watch", words, watch_collect, &o,
	    &res)) != 0)
		goto out;
	if (res.interrupted)
		*rc = cmd_failf("interrupted");
	else if (res.status != 0)
		*rc = cmd_failf("watch on %s (%s): %s", res.agent_name, res.agent_id,
		    res.err != NULL ? res.err : "failed (does the agent serve watch?)");
	else if ((doc = json_loadb(o.doc != NULL ? o.doc : "", o.len, 0, NULL)) == NULL)
		*rc = cmd_failf("the agent %s sent an answer that is not JSON",
		    res.agent_name);
	if (doc != NULL && agent_name != NULL)
		*agent_name = strdup(res.agent_name != NULL ? res.agent_name : "?");
out:
	client_op_result_free(&res);
	client_conf_free(&c);
	free(o.doc);
	return doc;
}

static const char *
watch_str(json_t *w, const char *k)
{
	const char *v = json_string_value(json_object_get(w, k));

	return v != NULL ? v : "-";
}

static void
watch_print(const char *agent, json_t *list)
{
	size_t	 i;
	json_t	*w;
	char	*a = ph_printable(agent), *spec, *last, *trig;

	json_array_foreach(list, i, w) {
		spec = ph_printable(watch_str(w, "spec"));
		last = ph_printable(watch_str(w, "last_reading"));
		trig = ph_printable(watch_str(w, "last_trigger"));
		printf("%s:%lld  %s  captures %lld%s  origin: %s\n    last reading: %s\n",
		    a, (long long)json_integer_value(json_object_get(w, "id")), spec,
		    (long long)json_integer_value(json_object_get(w, "captures")),
		    json_is_true(json_object_get(w, "capturing")) ? " (capturing)" : "",
		    watch_str(w, "origin"), last);
		if (strcmp(trig, "-") != 0)
			printf("    last fired: %s\n", trig);
		free(spec);
		free(last);
		free(trig);
	}
	free(a);
}

static int
watch_ls(struct client_conf *conf, const char *target, int json)
{
	struct client_conn	*cc;
	json_t			*agents = NULL, *a, *doc, *all = json_array();
	char			*cause = NULL, *name = NULL, *text;
	const char		*id;
	size_t			 i;
	int			 rc = 0;

	if (target != NULL) {
		if ((doc = watch_session(conf, target, json_pack("[s]", "ls"), &rc,
		    &name)) == NULL) {
			json_decref(all);
			return rc;
		}
		json_array_append_new(all, json_pack("{s:s, s:O}", "agent", name,
		    "watches", json_object_get(doc, "watches")));
		json_decref(doc);
		free(name);
	} else {
		struct client_conf c;

		watch_conf_copy(conf, &c);
		if (client_conf_load(&c, &cause) != 0 ||
		    (cc = client_conn_new(&c, &cause)) == NULL) {
			client_conf_free(&c);
			json_decref(all);
			return cmd_fail(cause);
		}
		agents = client_http_agents(cc, NULL, &cause);
		client_conn_free(cc);
		client_conf_free(&c);
		if (agents == NULL) {
			json_decref(all);
			return cmd_fail(cause);
		}
		json_array_foreach(agents, i, a) {
			if (!client_agent_has_cap(a, "watch") || (id = json_string_value(json_object_get(a,
			    "id"))) == NULL)
				continue;
			if ((doc = watch_session(conf, id, json_pack("[s]", "ls"), &rc,
			    &name)) == NULL)
				break;
			json_array_append_new(all, json_pack("{s:s, s:O}", "agent", id,
			    "watches", json_object_get(doc, "watches")));
			json_decref(doc);
			free(name);
		}
		json_decref(agents);
	}
	if (json) {
		doc = json_pack("{s:O}", "agents", all);
		text = ph_json_dumps(doc, JSON_INDENT(2));
		if (text != NULL)
			printf("%s\n", text);
		free(text);
		json_decref(doc);
	} else {
		json_array_foreach(all, i, a)
			watch_print(watch_str(a, "agent"), json_object_get(a, "watches"));
	}
	json_decref(all);
	return rc;
}

static int
cmd_watch_exec(struct client_conf *conf, int argc, char **argv)
{
	struct ph_watch_spec	 w;
	char			*words[WATCH_WORDS_MAX], *cause = NULL, *colon, *name = NULL;
	const char		*sub = NULL, *target = NULL, *pid = NULL;
	json_t			*jw, *doc;
	int			 i, r, n = 0, json = 0, nextra = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			cmd_help(&cmd_watch_entry);
			return CMD_EXIT_HELP;
		}
		if ((r = client_conf_option(conf, argc, argv, &i, &cause)) < 0) {
			r = cmd_usage_error(&cmd_watch_entry, "%s", cause);
			free(cause);
			return r;
		}
		if (r > 0)
			continue;
		if (sub == NULL && argv[i][0] == '-')
			return cmd_usage_error(&cmd_watch_entry, "unknown option '%s'",
			    argv[i]);
		if (sub == NULL)
			sub = argv[i];
		else if (strcmp(sub, "ls") == 0 && strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (target == NULL && argv[i][0] != '-')
			target = argv[i];
		else if (strcmp(sub, "add") == 0 && pid == NULL && n == 0 &&
		    strspn(argv[i], "0123456789") == strlen(argv[i]))
			pid = argv[i];
		else if (n < WATCH_WORDS_MAX - 3)
			words[n++] = argv[i];
		else
			return cmd_usage_error(&cmd_watch_entry, "too many words");
	}
	nextra = sub != NULL && strcmp(sub, "add") != 0 ? n : 0;
	if (sub == NULL || (strcmp(sub, "add") != 0 && strcmp(sub, "ls") != 0 &&
	    strcmp(sub, "rm") != 0))
		return cmd_usage_error(&cmd_watch_entry, "add, ls or rm");
	if (strcmp(sub, "ls") == 0) {
		if (nextra > 0)
			return cmd_usage_error(&cmd_watch_entry, "ls takes [TARGET] [--json]");
		return watch_ls(conf, target, json);
	}
	if (target == NULL)
		return cmd_usage_error(&cmd_watch_entry, "%s needs %s", sub,
		    strcmp(sub, "rm") == 0 ? "AGENT:ID (as watch ls prints it)" :
		    "a TARGET");
	if (strcmp(sub, "rm") == 0) {
		if (nextra > 0 || (colon = strrchr(target, ':')) == NULL ||
		    colon[1] == '\0' || strspn(colon + 1, "0123456789") != strlen(colon + 1))
			return cmd_usage_error(&cmd_watch_entry, "rm takes AGENT:ID, as "
			    "watch ls prints it");
		name = strndup(target, (size_t)(colon - target));
		doc = watch_session(conf, name, json_pack("[s, s]", "rm", colon + 1),
		    &r, NULL);
		if (doc != NULL)
			printf("watch %s removed\n", target);
		free(name);
		json_decref(doc);
		return doc != NULL ? 0 : r;
	}
	/* add: the agent's parser, here first, for a clear error before the network. */
	if (pid != NULL) {
		memmove(words + 2, words, (size_t)n * sizeof *words);
		words[0] = "--pid";
		words[1] = (char *)pid;
		n += 2;
	}
	if (ph_watch_parse_argv(n, words, &w, &cause) != 0) {
		r = cmd_usage_error(&cmd_watch_entry, "%s", cause);
		free(cause);
		return r;
	}
	jw = json_pack("[s]", "add");
	for (i = 0; i < n; i++)
		json_array_append_new(jw, json_string(words[i]));
	if ((doc = watch_session(conf, target, jw, &r, &name)) == NULL)
		return r;
	jw = json_object_get(doc, "watch");
	{
		char *a = ph_printable(name), *s = ph_printable(watch_str(jw, "spec"));

		printf("watch %s:%lld armed: %s\n", a,
		    (long long)json_integer_value(json_object_get(jw, "id")), s);
		free(a);
		free(s);
	}
	free(name);
	json_decref(doc);
	return 0;
}

static const struct ph_help_opt watch_add_options[] = {
	{ "--rss-above", NULL, "SIZE|PCT%", "the process's resident memory above "
	    "SIZE, or the cgroup's working set above PCT of its limit" },
	{ "--growth-above", NULL, "RATE", "resident memory growing faster than "
	    "RATE (50MiB/min) over --window" },
	{ "--window", NULL, "DUR", "for --growth-above (default 1m)" },
	{ "--pid", NULL, "PID|app|largest", "the process (default: app in "
	    "launcher mode, else the largest)" },
	{ "--kind", NULL, "auto|core|jvm|node", "the capture, as dump's" },
	{ "--cooldown", NULL, "DUR", "between two captures (default 10m)" },
	{ "--max", NULL, "N", "captures at most (default 1)" },
	{ NULL, NULL, NULL, NULL }
};

static const struct ph_help_opt watch_ls_options[] = {
	{ "--json", NULL, NULL, "one JSON document {\"agents\": [{agent, watches}]}" },
	{ NULL, NULL, NULL, NULL }
};

static const struct cmd_sub watch_subs[] = {
	{ "add", "TARGET [PID] OPTION...", "arm a watch on the agent, as "
	    "PORTHOLE_WATCH does at start", watch_add_options },
	{ "ls", "[TARGET] [--json]", "the watches of TARGET, or of every agent: "
	    "spec, captures, last reading and trigger", watch_ls_options },
	{ "rm", "AGENT:ID", "remove a watch (AGENT:ID as ls prints it)", NULL },
	{ NULL, NULL, NULL, NULL }
};

const struct cmd_entry cmd_watch_entry = {
	.name = "watch",
	.alias = NULL,
	.usage = "add TARGET [PID] OPTION... | ls [TARGET] [--json] | rm AGENT:ID",
	.about = "the flight recorder's watches on running agents: add, list, remove",
	.exec = cmd_watch_exec,
	.description = "A watch captures a process with nobody attached when its "
	    "memory passes a bound or grows too fast, and ships the capture to "
	    "the relay ('porthole artifacts'). These arm and remove watches at "
	    "run time; PORTHOLE_WATCH arms them when the agent starts, with the "
	    "same options. Scope watch.",
	.subs = watch_subs,
};
