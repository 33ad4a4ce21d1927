/*
 * client-op.c - one non-interactive operation on one agent (see
 * client-op.h): a client_run without stdin whose STDOUT goes to the
 * command and whose STDERR is kept for the verdict.  The session itself
 * (agent, loop, backpressure, `exit`, `error`, bounded stops) is
 * client-run.c's.
 */
#include <stdlib.h>
#include <string.h>

#include "porthole/frame.h"
#include "porthole/printable.h"
#include "porthole/protocol.h"
#include "porthole/util.h"

#include "client-exit.h"
#include "client-conn.h"
#include "client-io.h"
#include "client-op.h"
#include "client-out.h"
#include "client-run.h"
#include "client-signal.h"
#include "client-target.h"
#include "cmd.h"

struct client_op {
	struct client_run	 run;		/* agent, session, outcome */
	json_t			*argv;
	json_t			*members;	/* the operation's own, or NULL */
	const char		*opname;
	client_op_out_cb	 out;
	void			*arg;

	char			 err[CLIENT_OP_ERR_MAX + 1];
	size_t			 errlen;
	char			*cause;		/* the command gave up */
	int			 interrupted;
};

void
client_op_abort(struct client_op *o, char *cause)
{
	if (o->cause == NULL)
		o->cause = cause;
	else
		free(cause);
	client_run_abort(&o->run, CLIENT_RUN_ABORT_COMMAND, "client done");
}

int
client_op_write(struct client_op *o, const void *p, size_t n)
{
	return client_run_write(&o->run, 1, p, n);
}

static void
client_op_open(void *arg)
{
	struct client_op	*o = arg;
	json_t			*m;

	if ((m = client_open_new(o->run.sid, o->run.agent,
	    o->opname, json_incref(o->argv))) == NULL ||
	    (o->members != NULL && json_object_update(m, o->members) != 0)) {
		json_decref(m);
		client_op_abort(o, strdup("out of memory"));
		return;
	}
	client_run_send_open(&o->run, m);
}

/* Keep at most CLIENT_OP_ERR_MAX bytes of what explains a failure. */
static void
client_op_keep(struct client_op *o, const void *p, size_t n)
{
	if (n > CLIENT_OP_ERR_MAX - o->errlen)
		n = CLIENT_OP_ERR_MAX - o->errlen;
	memcpy(o->err + o->errlen, p, n);
	o->errlen += n;
}

/* STDOUT to the command, STDERR kept; `exit` and the rest are the run's. */
static int
client_op_frame(void *arg, const struct ph_frame *f)
{
	struct client_op	*o = arg;
	const char		*s;

	switch (f->type) {
	case PH_FRAME_STDOUT:
		if (o->run.abort == CLIENT_RUN_RUNNING)
			o->out(o, o->arg, f->payload, f->len);
		return 1;
	case PH_FRAME_STDERR:
		client_op_keep(o, f->payload, f->len);
		return 1;
	case PH_FRAME_CONTROL:
		/* Without STDERR, `exit`'s message is the verdict's text. */
		if (f->ctl == PH_CTL_EXIT && o->errlen == 0 && (s = json_string_value(
		    json_object_get(f->json, "message"))) != NULL)
			client_op_keep(o, s, strlen(s));
		return 0;
	default:
		return 0;
	}
}

/* Any signal: close the session (the agent stops its helper). */
static void
client_op_signal(void *arg, int sig)
{
	struct client_op	*o = arg;

	(void)sig;
	if (!o->interrupted && !o->run.got_exit) {
		o->interrupted = 1;
		client_run_abort(&o->run, CLIENT_RUN_ABORT_SIGNAL, "client done");
	}
}

static const struct client_run_ops client_op_ops = {
	.open = client_op_open,
	.signal = client_op_signal,
	.frame = client_op_frame,
};

/* Why the session ended without `exit`; malloc'd. */
static char *
client_op_failure(struct client_op *o, const char *name, const char *id)
{
	struct client_run	*r = &o->run;
	struct client_end	 e = { o->opname, name, id, r->err_code, r->err_message,
	    r->close_code, r->close_reason, r->close_cause };
	int			 status;

	/* The agent's name and id are the result's now, not the run's. */
	if (o->cause != NULL)
		return strdup(o->cause);
	return client_exit_line(&e, "output may be truncated", &status);
}

int
client_op_run(struct client_conf *conf, const char *target, const char *opname,
    json_t *argv, client_op_out_cb out, void *arg, struct client_op_result *res)
{
	return client_op_run_with(conf, target, opname, argv, NULL, out, arg, res);
}

int
client_op_run_with(struct client_conf *conf, const char *target, const char *opname,
    json_t *argv, json_t *members, client_op_out_cb out, void *arg,
    struct client_op_result *res)
{
	struct client_op	 o;
	char			*cause = NULL;
	int			 r, e, fd;

	memset(&o, 0, sizeof o);
	memset(res, 0, sizeof *res);
	o.argv = argv;
	o.members = members;
	o.opname = opname;
	o.out = out;
	o.arg = arg;
	if ((r = client_run_resolve(&o.run, conf, target)) != 0)
		goto out;
	res->agent_id = o.run.agent_id;		/* ours now */
	res->agent_name = o.run.agent_name;
	o.run.agent_id = o.run.agent_name = NULL;

	client_signal_block();
	if (client_run_loop(&o.run, 0, &client_op_ops, &o, &cause) != 0) {
		r = cmd_fail(cause);
		goto out;
	}
	/* Our reader went away: end as a pipeline member (client-out.c). */
	if (o.cause == NULL && (o.run.abort == CLIENT_RUN_ABORT_PIPE ||
	    o.run.abort == CLIENT_RUN_ABORT_WRITE)) {
		r = client_out_failed(o.run.out_fd, o.run.out_errno, NULL);
		goto out;
	}
	if ((e = client_io_flush(o.run.io, &fd)) != 0 && o.cause == NULL) {
		r = client_out_failed(fd, e, NULL);
		goto out;
	}
	if (o.errlen > 0) {
		o.err[o.errlen] = '\0';
		while (o.errlen > 0 && (o.err[o.errlen - 1] == '\n' || o.err[o.errlen - 1] == ' '))
			o.err[--o.errlen] = '\0';
		res->err = ph_printable_n(o.err, o.errlen);	/* NULs too */
	}
	res->got_exit = o.run.got_exit;
	res->status = o.run.status;
	res->interrupted = o.interrupted;
	if (o.cause == NULL && (res->got_exit || res->interrupted))
		r = 0;
	else
		r = cmd_fail(client_op_failure(&o, res->agent_name, res->agent_id));
out:
	client_run_free(&o.run);
	json_decref(argv);
	json_decref(members);
	free(o.cause);
	return r;
}

void
client_op_result_free(struct client_op_result *res)
{
	free(res->err);
	free(res->agent_name);
	free(res->agent_id);
	memset(res, 0, sizeof *res);
}
