/*
 * client-exit.c - the agent's `exit` and `error` messages and the relay's
 * close codes turned into what the CLI reports.  See client-exit.h.  The
 * table below is the one list: every error code and close code of
 * porthole/protocol.h has a row (tests/test_client_exit.c walks it).
 */
#include <stdlib.h>
#include <string.h>

#include "porthole/protocol.h"
#include "porthole/util.h"

#include "client-exit.h"
#include "client-target.h"
#include "cmd.h"

#define F CMD_EXIT_FAIL
#define PROTO_BROKE "the session with %A broke the protocol"
#define PROTO_TODO "check that the CLI, relay and agent are of compatible versions"

static const struct client_exit_row client_exit_table[] = {
	/* Error codes, each with the close code it comes with. */
	{ PH_ERR_UNAUTHORIZED, PH_CLOSE_UNAUTHORIZED, 0, 1,
	  "the relay refused the token",
	  "check PORTHOLE_TOKEN, or issue a new one with 'porthole token issue'", F },
	{ PH_ERR_FORBIDDEN, PH_CLOSE_FORBIDDEN, 0, 1,
	  "not allowed to run %O on %A",
	  "ask for a token whose scope and target allow it", F },
	{ PH_ERR_NO_AGENT, PH_CLOSE_NOT_FOUND, 0, 1,
	  "%A is not connected any more",
	  "'porthole ls' shows the connected agents", F },
	{ PH_ERR_SID_REUSED, PH_CLOSE_CONFLICT, 0, 1,
	  "the relay has seen this session id before", "run the command again", F },
	{ PH_ERR_CONFLICT, 0, 0, 1,
	  "another agent holds this agent's id", "give each agent its own id", F },
	{ PH_ERR_VERSION, PH_CLOSE_VERSION, 0, 1,
	  "the relay refused the session: the protocol versions do not meet",
	  "upgrade the older side", F },
	{ PH_ERR_LIMIT, PH_CLOSE_LIMIT, 0, 1,
	  "the relay refused the session: one of its limits is reached",
	  "try again once other sessions have ended", F },
	{ PH_ERR_TIMEOUT, PH_CLOSE_TIMEOUT, 0, 1,
	  "%A did not start the session in time",
	  "is it overloaded or cut off from the relay?", F },
	{ PH_ERR_AGENT_LOST, PH_CLOSE_AGENT_LOST, 1, 0,
	  "%A was lost mid-session", "'porthole ls' shows whether it is back", F },
	{ PH_ERR_NO_TARGET, 0, 0, 1,
	  "%O on %A found no such process or container",
	  "'porthole ps' shows what runs there", F },
	{ PH_ERR_SPAWN, 0, 0, 1, "%A could not start %O", NULL, F },
	{ PH_ERR_UNSUPPORTED, 0, 0, 1, "%A does not support this %O",
	  "upgrade the agent, or leave the option out", F },
	{ PH_ERR_RECORDING, 0, 1, 1, "the relay cannot record this session",
	  "ask the relay's operator", F },
	/* A sealed record did not open at the agent (client-seal.c is the CLI's side). */
	{ PH_ERR_SEAL, 0, 1, 1,
	  "the session with %A was tampered with between you and the agent",
	  "the relay or the network path altered it: run the command again, and "
	  "tell the relay's operator", F },
	/* The agent cannot resume the session (docs/protocol.md, "Resume"). */
	{ PH_ERR_RESUME, 0, 1, 1,
	  "the session with %A could not be resumed",
	  "it ended on the agent (its resume timeout passed, the agent "
	  "restarted, or porthole attach took a shell over): run the command "
	  "again", F },
	{ PH_ERR_INTERNAL, PH_CLOSE_INTERNAL, 1, 1,
	  "%O on %A failed inside porthole", "run the command again", F },
	{ PH_ERR_BAD_MESSAGE, PH_CLOSE_POLICY, 1, 1, PROTO_BROKE,
	  PROTO_TODO, F },
	{ PH_ERR_BAD_FRAME, 0, 1, 1, PROTO_BROKE, PROTO_TODO, F },
	{ PH_ERR_BAD_JSON, 0, 1, 1, PROTO_BROKE, PROTO_TODO, F },
	{ PH_ERR_TOO_BIG, PH_CLOSE_TOO_BIG, 1, 1,
	  "a message of the session with %A was too big",
	  PROTO_TODO, F },
	/* Close codes that come without an error code. */
	{ NULL, PH_CLOSE_NORMAL, 1, 0,
	  "the session with %A was closed before %O finished", NULL, F },
	{ NULL, PH_CLOSE_GOING_AWAY, 1, 1,
	  "the relay closed the session (going away) before %O on %A finished",
	  "run the command again once the relay is back", F },
	/* Sent on agents' control channels only; a session never gets it. */
	{ NULL, PH_CLOSE_MOVE, 1, 1,
	  "the relay is leaving its fleet and closed the session with %A",
	  "run the command again: another relay of the fleet serves it", F },
	{ NULL, 1005, 1, 0,
	  "the session with %A was closed without a reason before %O finished",
	  NULL, F },
	{ NULL, 1006, 1, 0, "lost the connection to the relay mid-session with %A",
	  "run the command again", F },
};

#undef F
#undef PROTO_BROKE
#undef PROTO_TODO

const struct client_exit_row *
client_exit_row_err(const char *code)
{
	size_t	i;

	for (i = 0; code != NULL && i < sizeof client_exit_table /
	    sizeof client_exit_table[0]; i++)
		if (client_exit_table[i].err != NULL &&
		    strcmp(client_exit_table[i].err, code) == 0)
			return &client_exit_table[i];
	return NULL;
}

const struct client_exit_row *
client_exit_row_close(int code)
{
	size_t	i;

	for (i = 0; i < sizeof client_exit_table / sizeof client_exit_table[0]; i++)
		if (client_exit_table[i].close == code)
			return &client_exit_table[i];
	return NULL;
}

/* row->what with %A and %O filled in; malloc'd or NULL. */
static char *
client_exit_what(const char *fmt, const struct client_end *e)
{
	char	*agent, *out = strdup(""), *next;
	const char *p, *add;

	if (e->agent_name != NULL)
		agent = ph_asprintf("agent %s (%s)", e->agent_name,
		    e->agent_id != NULL ? e->agent_id : "?");
	else
		agent = strdup("the agent");
	for (p = fmt; out != NULL && agent != NULL && *p != '\0'; p++) {
		if (p[0] == '%' && (p[1] == 'A' || p[1] == 'O')) {
			add = *++p == 'A' ? agent : e->op;
			next = ph_asprintf("%s%s", out, add);
		} else
			next = ph_asprintf("%s%c", out, *p);
		free(out);
		out = next;
	}
	if (agent == NULL) {
		free(out);
		out = NULL;
	}
	free(agent);
	return out;
}

char *
client_exit_line(const struct client_end *e, const char *tail, int *status)
{
	const struct client_exit_row *row = NULL;
	const char	*msg = NULL;
	char		*what, *line;

	*status = CMD_EXIT_FAIL;
	/*
	 * attach's refusals (no such shell, live elsewhere, not a shell) are
	 * the agent's whole sentence: the rows' hints are other operations'.
	 */
	if (e->err_code != NULL && e->op != NULL && strcmp(e->op, "attach") == 0 &&
	    e->err_message != NULL && *e->err_message != '\0' &&
	    (strcmp(e->err_code, PH_ERR_RESUME) == 0 ||
	    strcmp(e->err_code, PH_ERR_CONFLICT) == 0 ||
	    strcmp(e->err_code, PH_ERR_UNSUPPORTED) == 0))
		return ph_asprintf("cannot attach on %s (%s): %s", e->agent_name != NULL ?
		    e->agent_name : "the agent", e->agent_id != NULL ? e->agent_id : "?",
		    e->err_message);
	if (e->err_code != NULL) {
		row = client_exit_row_err(e->err_code);
		msg = e->err_message;
		if (row == NULL && e->agent_name == NULL)	/* fan-out: named already */
			return ph_asprintf("%s failed: %s (%s)", e->op,
			    msg != NULL && *msg != '\0' ? msg : e->err_code, e->err_code);
		if (row == NULL)	/* a code newer than us: say it as it came */
			return ph_asprintf("%s on %s (%s) failed: %s (%s)", e->op,
			    e->agent_name, e->agent_id != NULL ? e->agent_id : "?",
			    msg != NULL && *msg != '\0' ? msg : e->err_code, e->err_code);
	} else if (e->close_cause != NULL) {
		if (tail != NULL && strstr(e->close_cause, tail) == NULL)
			return ph_asprintf("%s; %s", e->close_cause, tail);
		return strdup(e->close_cause);
	} else {
		row = client_exit_row_close(e->close_code);
		msg = e->close_reason;
		if (row == NULL)
			return ph_asprintf("the session with %s (%s) ended (close code "
			    "%d%s%s) before %s finished%s%s", e->agent_name != NULL ?
			    e->agent_name : "the agent", e->agent_id != NULL ?
			    e->agent_id : "?", e->close_code, msg != NULL &&
			    *msg != '\0' ? ": " : "", msg != NULL ? msg : "", e->op,
			    tail != NULL ? "; " : "", tail != NULL ? tail : "");
	}
	*status = row->status;
	if ((what = client_exit_what(row->what, e)) == NULL)
		return NULL;
	if (!row->say_msg || msg == NULL || *msg == '\0')
		msg = NULL;
	line = ph_asprintf("%s%s%s%s%s%s%s", what, msg != NULL ? ": " : "",
	    msg != NULL ? msg : "", row->started && tail != NULL ? "; " : "",
	    row->started && tail != NULL ? tail : "", row->todo != NULL ? "; " : "",
	    row->todo != NULL ? row->todo : "");
	free(what);
	return line;
}

int
client_exit_status(json_t *exit_msg)
{
	json_t	*sig = json_object_get(exit_msg, "signal");
	json_t	*code = json_object_get(exit_msg, "code");
	json_int_t v;

	if (json_is_integer(sig))
		v = 128 + json_integer_value(sig);
	else if (json_is_integer(code))
		v = json_integer_value(code);
	else
		return CMD_EXIT_FAIL;
	return v < 0 || v > 255 ? CMD_EXIT_FAIL : (int)v;
}

void
client_error_note(json_t *err_msg, char **code, char **message)
{
	free(*code);
	free(*message);
	*code = client_printable(json_string_value(json_object_get(err_msg, "code")));
	*message = client_printable(json_string_value(json_object_get(err_msg, "message")));
}
