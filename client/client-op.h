/*
 * client-op.h - run one non-interactive operation (ps, mem) on one agent:
 * resolve TARGET, open the session with argv, hand every STDOUT payload to
 * a callback on the loop, keep what comes on STDERR, and report how it
 * ended.  Commands that render what the agent sends (cmd-ps.c, cmd-mem.c)
 * use it; the session itself is client-run.c's.
 *
 * SIGINT/SIGTERM close the session (the agent kills its helper) and end
 * the run with interrupted set.  Output written with client_op_write goes
 * through the writer thread of client-io.h, so a slow terminal never
 * blocks the loop.
 */
#ifndef PORTHOLE_CLIENT_OP_H
#define PORTHOLE_CLIENT_OP_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct client_conf;
struct client_op;

#define CLIENT_OP_ERR_MAX	(16 * 1024)	/* STDERR kept, bytes */

struct client_op_result {
	int	 got_exit;
	int	 status;	/* remote exit status (valid with got_exit) */
	int	 interrupted;	/* SIGINT/SIGTERM ended it */
	char	*err;		/* what came on STDERR, printable, or NULL */
	char	*agent_name;	/* printable */
	char	*agent_id;	/* printable */
};

/*
 * Called on the loop for each STDOUT payload; return 0, or -1 to end the
 * session (the run then fails with the cause set by client_op_abort).
 */
typedef int (*client_op_out_cb)(struct client_op *op, void *arg, const uint8_t *p,
	    size_t n);

/*
 * Run op with argv (stolen) on the agent target names, on client-run.c.
 * Returns 0 with *res filled when the session ended with `exit` or was
 * interrupted, else the exit status after printing why.  Free res with
 * client_op_result_free either way.
 */
int	client_op_run(struct client_conf *conf, const char *target, const char *opname,
	    json_t *argv, client_op_out_cb out, void *arg, struct client_op_result *res);
/*
 * client_op_run with the operation's own members of the open (an object,
 * stolen; NULL: none): net's pid, probe's dest (the registry, ops.h).
 */
int	client_op_run_with(struct client_conf *conf, const char *target,
	    const char *opname, json_t *argv, json_t *members, client_op_out_cb out,
	    void *arg, struct client_op_result *res);
void	client_op_result_free(struct client_op_result *res);

/* From the callback: queue bytes for our stdout (-1 on overflow). */
int	client_op_write(struct client_op *op, const void *p, size_t n);
/* From the callback: end the session, the run fails with cause (stolen). */
void	client_op_abort(struct client_op *op, char *cause);

#endif
