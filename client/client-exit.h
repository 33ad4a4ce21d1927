/*
 * client-exit.h - what the CLI makes of the agent's `exit` and `error`
 * control messages, in one place for every command that runs a session
 * (exec, shell, cp and dump through client-run, ps/mem through client-op on
 * it, fan-out).
 */
#ifndef PORTHOLE_CLIENT_EXIT_H
#define PORTHOLE_CLIENT_EXIT_H

#include <jansson.h>

/*
 * The CLI's exit status for an `exit` message: `code` as it is, `signal` N
 * as 128+N, anything out of 0..255 as 255.
 */
int	client_exit_status(json_t *exit_msg);

/*
 * Remember an `error` message: replaces *code and *message (freed first)
 * with printable copies of its members.
 */
void	client_error_note(json_t *err_msg, char **code, char **message);

#endif
