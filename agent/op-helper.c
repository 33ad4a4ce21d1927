/*
 * op-helper.c - what the operations that run a helper child share: ps,
 * mem and dump (op-ps.c, op-mem.c, op-dump.c).
 *
 * A helper is porthole-agent itself, re-executed from /proc/self/exe with
 * an operation's flag (--op-ps, --op-mem, --op-dump) and an argv the
 * operation builds from the `open`; the client's argv is never run, so
 * none of those scopes can be turned into `exec`.  The helper runs under
 * the exec machinery (op-exec.c): pipes in the loop, flow control, kill on
 * a lost session, reaping, `exit`.  Apart from start (and dump's input),
 * a helper operation's entry points are exec's: OP_HELPER_ENTRY in op.h.
 */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "porthole/frame.h"

#include "agent.h"
#include "op.h"

int
op_helper_start(struct agent_session *s, json_t *open, json_t *helper_argv)
{
	static const struct op_exec_out out = { .out_type = PH_FRAME_STDOUT };

	return op_helper_start_as(s, open, helper_argv, &out);
}

int
op_helper_start_as(struct agent_session *s, json_t *open, json_t *helper_argv,
    const struct op_exec_out *out)
{
	json_t	*req;
	int	 r;

	if ((req = json_deep_copy(open)) == NULL ||
	    json_array_insert_new(helper_argv, 0, json_string("/proc/self/exe")) != 0 ||
	    json_object_set(req, "argv", helper_argv) != 0 ||
	    json_object_set_new(req, "stdin", json_false()) != 0 ||
	    json_object_set_new(req, "tty", json_false()) != 0) {
		json_decref(req);
		json_decref(helper_argv);
		if (out->err_free != NULL)
			out->err_free(out->err_arg);
		agent_session_fail(s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL, "out of memory");
		return -1;
	}
	json_decref(helper_argv);
	/* Helpers run as the agent, never inside another process (sidecar mode). */
	json_object_del(req, "pid");
	json_object_del(req, "container");
	/* An operation's own timeout_ms (probe's, per step) is not exec's kill. */
	json_object_del(req, "timeout_ms");
	json_object_del(req, "grace_ms");
	r = op_exec_start_as(s, req, out);
	json_decref(req);
	return r;
}

int
op_helper_print(const char *op, const json_t *doc)
{
	char	*out;
	int	 r = 0;

	if ((out = json_dumps(doc, JSON_COMPACT)) == NULL) {
		fprintf(stderr, "%s: out of memory\n", op);
		return 255;
	}
	/* A failed write: the reader is gone, nobody to tell. */
	if (fputs(out, stdout) == EOF || fputc('\n', stdout) == EOF || fflush(stdout) != 0)
		r = 255;
	free(out);
	return r;
}
