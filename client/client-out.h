/*
 * client-out.h - the CLI as a member of a pipeline: what every command
 * does when writing its stdout (or stderr) fails.
 *
 * A reader that goes away (`porthole ps api | head -1`) is the ordinary
 * end of a pipeline, not a failure to report: the command ends quietly,
 * by SIGPIPE, as cat or grep would (status 141 in the shell), and a
 * session still open was closed first (which ends the remote program).
 * A command with a session blocks SIGPIPE (client_signal_block), so a
 * write to a closed pipe fails with EPIPE instead of killing us before
 * the session is closed; every command hands such a failure here
 * rather than printing its own line.  Any other write error (a full disk,
 * a closed descriptor) is one "porthole: cannot write to stdout (...)"
 * line and 255.
 */
#ifndef PORTHOLE_CLIENT_OUT_H
#define PORTHOLE_CLIENT_OUT_H

/*
 * Writing to fd (1 or 2) failed with err.  EPIPE (or a pipe or socket
 * whose reader is gone, whatever err says): dies of SIGPIPE and does not
 * return.  Else prints "porthole: cannot write to stdout (ERR)[: after]"
 * and returns 255; after may be NULL.
 */
int	client_out_failed(int fd, int err, const char *after);

/*
 * Flush stdout and check that nothing written to it through stdio was
 * lost: 0, or what client_out_failed says.  main() calls it after every
 * command, so a command that prints with stdio and returns is covered.
 */
int	client_out_flush(void);

#endif
