/*
 * op-watch.c - the `watch` operation: the flight recorder's watches at run
 * time (porthole watch add|ls|rm, docs/operations.md, "Watches").
 *
 * The open's argv (signed by the operator) is the subcommand and its
 * words: ["add", OPTION...] parsed by the one watch parser (watch.h) that
 * also reads PORTHOLE_WATCH, ["ls"], or ["rm", ID].  The answer is one
 * JSON document on STDOUT ({"watch": {...}} for add, {"watches": [...]}
 * for ls, {"removed": ID} for rm), then `exit` 0; a refused request is one
 * line on STDERR and `exit` 2 (bad words) or 1 (no such watch, too many).
 * Nothing runs in a child and nothing waits: the work is a table change
 * on the loop (agent-watch.c), so busy() is always false.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "porthole/frame.h"
#include "porthole/log.h"
#include "porthole/ops.h"
#include "porthole/util.h"
#include "porthole/watch.h"

#include "agent.h"
#include "agent-capture.h"
#include "op.h"

#define WATCH_ARGS_MAX	64

/* The answer: doc on STDOUT (or msg on STDERR) and `exit` code. */
static void
watch_reply(struct agent_session *s, json_t *doc, const char *msg, int code)
{
	char	*text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;

	json_decref(doc);
	agent_session_send_ctl(s, ph_ctl_new(PH_CTL_READY));
	if (text != NULL) {
		agent_session_send(s, PH_FRAME_STDOUT, text, strlen(text));
		agent_session_send(s, PH_FRAME_STDOUT, "\n", 1);
	}
	if (msg != NULL) {
		agent_session_send(s, PH_FRAME_STDERR, msg, strlen(msg));
		agent_session_send(s, PH_FRAME_STDERR, "\n", 1);
	}
	free(text);
	agent_session_exit(s, json_pack("{s:s, s:i}", "type", "exit", "code", code));
}

static int
watch_start(struct agent_session *s, json_t *open)
{
	json_t		*jargv = ph_open_get(open, "argv"), *j;
	char		*argv[WATCH_ARGS_MAX], *cause = NULL, *origin, *end;
	const char	*sub;
	struct ph_watch_spec w;
	size_t		 i, n = json_array_size(jargv);
	long		 id;
	int		 r;

	if (!json_is_array(jargv) || n < 1 || n > WATCH_ARGS_MAX ||
	    (sub = json_string_value(json_array_get(jargv, 0))) == NULL) {
		watch_reply(s, NULL, "watch: add OPTION..., ls or rm ID", 2);
		return 0;
	}
	for (i = 0; i < n; i++) {
		if ((argv[i] = (char *)json_string_value(json_array_get(jargv, i))) == NULL) {
			watch_reply(s, NULL, "watch: every word must be a string", 2);
			return 0;
		}
	}
	if (strcmp(sub, "ls") == 0 && n == 1) {
		watch_reply(s, json_pack("{s:o}", "watches", agent_watch_list(s->agent)),
		    NULL, 0);
	} else if (strcmp(sub, "add") == 0) {
		if (ph_watch_parse_argv((int)n - 1, argv + 1, &w, &cause) != 0) {
			origin = ph_asprintf("watch add: %s", cause);
			watch_reply(s, NULL, origin, 2);
			free(origin);
			free(cause);
			return 0;
		}
		origin = ph_asprintf("added by %s", s->sub != NULL ? s->sub : "?");
		r = agent_watch_add(s->agent, &w, origin, &cause);
		free(origin);
		if (r < 0) {
			origin = ph_asprintf("watch add: %s", cause);
			watch_reply(s, NULL, origin, 1);
			free(origin);
			free(cause);
			return 0;
		}
		j = ph_watch_json(&w);
		if (j != NULL)
			json_object_set_new(j, "id", json_integer(r));
		watch_reply(s, json_pack("{s:o}", "watch", j), NULL, 0);
	} else if (strcmp(sub, "rm") == 0 && n == 2) {
		errno = 0;
		id = strtol(argv[1], &end, 10);
		if (errno != 0 || *end != '\0' || id < 1 || id > INT_MAX) {
			watch_reply(s, NULL, "watch rm: ID is a watch's number (watch ls)", 2);
			return 0;
		}
		if (agent_watch_rm(s->agent, (int)id) != 0) {
			origin = ph_asprintf("watch rm: no watch %ld on this agent", id);
			watch_reply(s, NULL, origin, 1);
			free(origin);
			return 0;
		}
		watch_reply(s, json_pack("{s:i}", "removed", (int)id), NULL, 0);
	} else
		watch_reply(s, NULL, "watch: add OPTION..., ls or rm ID", 2);
	return 0;
}

static void
watch_input(struct agent_session *s, const struct ph_frame *f)
{
	(void)s;
	(void)f;
}

static void
watch_nothing(struct agent_session *s)
{
	(void)s;
}

static int
watch_busy(struct agent_session *s)
{
	(void)s;
	return 0;
}

const struct op_entry op_watch_entry = {
	.name = "watch",
	.start = watch_start,
	.input = watch_input,
	.resume = watch_nothing,
	.lost = watch_nothing,
	.busy = watch_busy,
	.free = watch_nothing,
};
