/*
 * op-attach.c - the `attach` operation: a detached shell taken up again
 * (porthole attach, docs/protocol.md, "Detach and attach").
 *
 * The open is a new signed one with a fresh key share (a new CLI process
 * has no keys of the detached session's): by the time it starts, the
 * session is sealed with new keys.  It names the shell by `session` (the
 * id `sessions` lists); the agent gives it only to the token subject that
 * detached it (another one hears there is no such session), and only
 * while it is detached or held for a client that is gone (agent-detach.c
 * takes a held one over; a live one is refused: conflict).  The
 * session then is the shell's (op-shell.c serves the rest): `ready` with
 * its pid, the output kept while detached, and the pty sized for the new
 * terminal so that the program redraws.
 */
#include <stdlib.h>

#include <jansson.h>

#include "porthole/frame.h"
#include "porthole/log.h"
#include "porthole/ops.h"
#include "porthole/util.h"

#include "agent.h"
#include "op.h"

static int
attach_start(struct agent_session *s, json_t *open)
{
	struct agent_session	*h;
	const char		*id = json_string_value(ph_open_get(open, "session"));
	const char		*code = PH_ERR_BAD_MESSAGE;
	char			*cause = NULL;
	int			 close_code = PH_CLOSE_POLICY;
	json_t			*ready;

	if (id == NULL || !ph_sid_valid(id)) {
		agent_session_fail(s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
		    "attach names no session id (%d hex digits)", PH_SID_LEN);
		return -1;
	}
	if (!json_is_true(ph_open_get(open, "tty"))) {
		agent_session_fail(s, PH_CLOSE_NORMAL, PH_ERR_UNSUPPORTED,
		    "attach needs a terminal (tty)");
		return -1;
	}
	if ((h = agent_detach_take(s->agent, id, s->sub, &code, &close_code,
	    &cause)) == NULL) {
		ph_info("session %.8s: attach %.8s refused: %s", s->sid, id, cause);
		agent_session_fail(s, close_code, code, "%s", cause);
		free(cause);
		return -1;
	}
	if ((ready = ph_ctl_new(PH_CTL_READY)) != NULL) {
		json_object_set_new(ready, "pid", json_integer(op_shell_pid(h)));
		/* Taken over from a CLI that is gone: the new one says so. */
		if (agent_detach_taken_ms(h) >= 0)
			json_object_set_new(ready, "held_ms",
			    json_integer(agent_detach_taken_ms(h)));
	}
	agent_session_send_ctl(s, ready);
	agent_detach_attach(h, s);	/* s->op is shell's from here */
	op_shell_redraw(s, (int)json_integer_value(ph_open_get(open, "cols")),
	    (int)json_integer_value(ph_open_get(open, "rows")));
	return 0;
}

/*
 * Only start: it hands the session to the shell's operation (op-shell.c)
 * or fails it, so nothing else of this entry is ever asked (the session
 * calls an operation's other functions only when they are there).
 */
const struct op_entry op_attach_entry = {
	.name = "attach",
	.start = attach_start,
};
