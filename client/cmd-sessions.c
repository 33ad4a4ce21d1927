/*
 * cmd-sessions.c - "porthole sessions [TARGET] [--json]": the caller's
 * sessions on the agents TARGET matches (every agent that serves
 * `sessions` without one), live, held (a dropped connection waiting for its
 * resume) and detached (a shell left with ~d, which `porthole attach`
 * takes up again).
 *
 * The agents are the source of truth (op-sessions.c): each lists only the
 * sessions of the token subject that asks, in a signed open, so a relay
 * restarted since, or another subject, changes nothing.  The list goes out
 * to every agent at once through the fan-out (client-fanout.c) and is
 * printed as one table
 *   ID  AGENT  OP  STATE  STARTED  IDLE
 * (ID's first 12 hex digits: attach takes a prefix), or with --json as
 * {"sessions": [{id, agent: {id, name}, op, state, started, idle_since,
 * pid?}]}.  An agent that failed is one line on stderr, and the status 255.
 * cmd_sessions_fetch is the list `attach` resolves its SID|PREFIX against.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "porthole/duration.h"
#include "porthole/frame.h"
#include "porthole/printable.h"
#include "porthole/util.h"

#include "client-fanout.h"
#include "client-out.h"
#include "client-target.h"
#include "cmd.h"

#define SESSIONS_DOC_MAX	(1024 * 1024)
#define SESSIONS_ID_SHOWN	12

/* The sessions of one agent's answer into list, each with its agent. */
static int
sessions_add(json_t *list, json_t *res)
{
	json_t		*doc, *v;
	const char	*txt = json_string_value(json_object_get(res, "stdout"));
	size_t		 i;

	if ((doc = json_loads(txt != NULL ? txt : "", 0, NULL)) == NULL ||
	    !json_is_array(json_object_get(doc, "sessions"))) {
		json_decref(doc);
		return -1;
	}
	json_array_foreach(json_object_get(doc, "sessions"), i, v) {
		if (!json_is_object(v) || !ph_sid_valid(json_string_value(
		    json_object_get(v, "id"))))
			continue;
		json_object_set(v, "agent", json_object_get(res, "agent"));
		json_array_append(list, v);
	}
	json_decref(doc);
	return 0;
}

json_t *
cmd_sessions_fetch(struct client_conf *conf, const char *target, int quiet,
    int *status)
{
	struct client_fanout_opts fo;
	json_t		*results = NULL, *res, *list;
	const char	*err;
	char		*name, *text;
	size_t		 i;
	int		 r;

	*status = 0;
	memset(&fo, 0, sizeof fo);
	fo.op = "sessions";
	fo.grace_ms = -1;
	fo.collect = &results;
	fo.keep = SESSIONS_DOC_MAX;
	fo.only_serving = 1;
	if ((r = client_fanout_run(conf, target, &fo)) != 0 || results == NULL) {
		*status = r != 0 ? r : cmd_failf("sessions: no results");
		json_decref(results);
		return NULL;
	}
	if ((list = json_array()) == NULL) {
		json_decref(results);
		*status = cmd_failf("out of memory");
		return NULL;
	}
	json_array_foreach(results, i, res) {
		err = json_string_value(json_object_get(res, "error"));
		if (err == NULL && json_integer_value(json_object_get(res, "exit")) == 0 &&
		    sessions_add(list, res) == 0)
			continue;
		*status = CMD_EXIT_FAIL;
		if (quiet)
			continue;
		name = client_printable(client_agent_str(json_object_get(res, "agent"),
		    "name"));
		text = client_printable(err != NULL ? err : "the agent sent no readable "
		    "list of sessions");
		fprintf(stderr, "porthole: %s: %s\n", name, text);
		free(name);
		free(text);
	}
	json_decref(results);
	return list;
}

static void
sessions_print(json_t *list)
{
	json_t		*v;
	size_t		 i;
	char		*agent, *op, *state, started[32], idle[32];
	time_t		 t;
	struct tm	 tm;

	if (json_array_size(list) == 0) {
		printf("no sessions\n");
		return;
	}
	printf("%-*s  %-20s %-8s %-9s %-20s %s\n", SESSIONS_ID_SHOWN, "ID", "AGENT", "OP",
	    "STATE", "STARTED", "IDLE");
	json_array_foreach(list, i, v) {
		agent = client_printable(client_agent_str(json_object_get(v, "agent"),
		    "name"));
		op = client_printable(json_string_value(json_object_get(v, "op")));
		state = client_printable(json_string_value(json_object_get(v, "state")));
		t = (time_t)json_integer_value(json_object_get(v, "started"));
		if (gmtime_r(&t, &tm) == NULL ||
		    strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
			snprintf(started, sizeof started, "?");
		ph_duration_coarse((int64_t)time(NULL) - json_integer_value(
		    json_object_get(v, "idle_since")), idle, sizeof idle);
		printf("%-*.*s  %-20s %-8s %-9s %-20s %s\n", SESSIONS_ID_SHOWN,
		    SESSIONS_ID_SHOWN, json_string_value(json_object_get(v, "id")),
		    agent != NULL ? agent : "?", op != NULL ? op : "?",
		    state != NULL ? state : "?", started, idle);
		free(agent);
		free(op);
		free(state);
	}
}

static int
cmd_sessions_exec(struct client_conf *conf, int argc, char **argv)
{
	const char	*target = NULL;
	json_t		*list, *doc;
	char		*text;
	int		 i, r, status, json = 0;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--json") == 0)
			json = 1;
		else if (a[0] == '-' && a[1] != '\0') {
			if ((r = cmd_conf_option(&cmd_sessions_entry, conf, argc, argv,
			    &i)) != 0)
				return r;
		} else if (target == NULL)
			target = a;
		else
			return cmd_usage_error(&cmd_sessions_entry,
			    "unexpected argument '%s'", a);
	}
	if ((list = cmd_sessions_fetch(conf, target, json, &status)) == NULL)
		return status;
	if (json) {
		doc = json_pack("{s:o}", "sessions", list);
		text = doc != NULL ? ph_json_dumps(doc, JSON_COMPACT) : NULL;
		if (text == NULL)
			status = cmd_failf("out of memory");
		else
			printf("%s\n", text);
		free(text);
		json_decref(doc);
	} else {
		sessions_print(list);
		json_decref(list);
	}
	if ((r = client_out_flush()) != 0)
		return r;
	return status;
}

const struct cmd_entry cmd_sessions_entry = {
	.name = "sessions",
	.alias = NULL,
	.usage = "[TARGET] [--json]",
	.about = "your live, held and detached sessions (porthole attach takes one up)",
	.exec = cmd_sessions_exec,
	.flags = 0,
	.description = "Your sessions on the agents TARGET matches (without "
	    "TARGET, on every agent that serves the listing), as the agents "
	    "know them: ID (a prefix is enough for porthole attach), AGENT, OP, "
	    "STATE (live: a client is there; held: its connection dropped and "
	    "the agent waits for it to resume, and porthole attach takes a held "
	    "shell over when that CLI died; detached: a shell left with ~d), "
	    "STARTED (UTC) and IDLE (since the last input or output). Only sessions "
	    "opened with your token's subject are listed.",
	.options = (const struct ph_help_opt[]){
		{ "--json", NULL, NULL, "{\"sessions\": [{id, agent: {id, name}, op, "
		    "state, started, idle_since, pid}]} (Unix seconds)" },
		{ NULL, NULL, NULL, NULL }
	},
};
