/*
 * client-exit.c - the agent's `exit` and `error` messages turned into what
 * the CLI reports.  See client-exit.h.
 */
#include <stdlib.h>

#include "client-exit.h"
#include "client-target.h"
#include "cmd.h"

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
