/*
 * op-sessions.c - the `sessions` operation: the caller's sessions on this
 * agent (porthole sessions, docs/protocol.md, "Detach and attach").
 *
 * The agent is the one that knows them (a relay restarted knows none), so
 * the answer is read from its table: every running session of the token
 * subject that asked (the open is signed with its key and its token
 * verified: another subject's sessions are never named), this one aside,
 * as one JSON document on STDOUT
 *   {"sessions": [{"id", "op", "state", "started", "idle_since", "pid"?}]}
 * then `exit` 0.  state: live (a client is there), held (its connection
 * dropped, waiting for a resume), detached (porthole attach takes it).
 * A shell's id is the sid it was started with, kept across attaches.
 * Nothing runs in a child: busy() is always false.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "porthole/frame.h"
#include "porthole/log.h"
#include "porthole/util.h"

#include "agent.h"
#include "op.h"

/* One session as the listing shows it, or NULL when it is not listed. */
static json_t *
sessions_one(const struct agent_session *me, const struct agent_session *t)
{
	const char	*id, *state;
	json_t		*o;

	if (t == me || t->refuse_code != NULL || t->state != AGENT_SESSION_RUNNING ||
	    t->op == NULL || t->op == &op_sessions_entry || t->sub == NULL ||
	    strcmp(t->sub, me->sub) != 0)
		return NULL;
	id = t->detach != NULL ? t->sid : op_shell_id(t);
	if (id == NULL)
		id = t->sid;
	state = t->detach != NULL ? "detached" : t->held || t->resuming ? "held" : "live";
	o = json_pack("{s:s,s:s,s:s,s:I,s:I}", "id", id, "op", t->op->name, "state",
	    state, "started", (json_int_t)t->started, "idle_since",
	    (json_int_t)t->active);
	if (o != NULL && op_shell_pid(t) > 0)
		json_object_set_new(o, "pid", json_integer(op_shell_pid(t)));
	return o;
}

static int
sessions_start(struct agent_session *s, json_t *open)
{
	struct agent_session	*t;
	json_t			*list = json_array(), *doc;
	char			*text = NULL;
	size_t			 len, off, k, max = agent_session_read_max(s);

	(void)open;
	for (t = s->agent->sessions; list != NULL && t != NULL; t = t->next)
		json_array_append_new(list, sessions_one(s, t));
	doc = list != NULL ? json_pack("{s:o}", "sessions", list) : NULL;
	if (doc == NULL || (text = json_dumps(doc, JSON_COMPACT)) == NULL) {
		json_decref(doc);
		agent_session_fail(s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL, "out of memory");
		return -1;
	}
	json_decref(doc);
	agent_session_send_ctl(s, ph_ctl_new(PH_CTL_READY));
	len = strlen(text);
	text[len++] = '\n';	/* json_dumps left its NUL there: a line */
	for (off = 0; off < len; off += k) {
		k = len - off < max ? len - off : max;
		if (agent_session_send(s, PH_FRAME_STDOUT, text + off, k) != 0)
			break;
	}
	free(text);
	ph_info("session %.8s: listed the sessions of %s", s->sid, s->sub);
	agent_session_exit(s, ph_ctl_exit_code(0));
	return 0;
}

const struct op_entry op_sessions_entry = {
	.name = "sessions",
	.start = sessions_start,	/* answers and exits at once: nothing else */
};
