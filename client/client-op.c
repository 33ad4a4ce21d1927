/*
 * client-op.c - one non-interactive operation on one agent (see
 * client-op.h): the session life of cmd-exec.c without stdin, with the
 * agent's STDOUT handed to the command and its STDERR kept for the verdict.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/frame.h"
#include "porthole/protocol.h"
#include "porthole/util.h"

#include "client-conn.h"
#include "client-exit.h"
#include "client-io.h"
#include "client-op.h"
#include "client-signal.h"
#include "client-target.h"
#include "cmd.h"

#define CLIENT_OP_CLOSE_MS	2000	/* longest wait for our close to go through */

struct client_op {
	struct client_conn	*cc;
	struct client_session	*s;
	struct client_io	*io;
	json_t			*agent;
	json_t			*argv;
	const char		*opname;
	char			 sid[PH_SID_LEN + 1];
	client_op_out_cb	 out;
	void			*arg;
	struct client_op_result	*res;

	char			 err[CLIENT_OP_ERR_MAX + 1];
	size_t			 errlen;
	char			*err_code;	/* last `error` frame */
	char			*err_message;
	char			*abort_cause;	/* the command gave up */
	int			 out_errno;
	int			 rx_paused;
	int			 close_code;
	char			*close_cause;
	volatile int		 done;
};

static void
client_op_timeout(void *arg)
{
	((struct client_op *)arg)->done = 1;
}

static void
client_op_end(struct client_op *o)
{
	client_session_close(o->s, PH_CLOSE_GOING_AWAY, "client done", 0);
	client_conn_timer(o->cc, CLIENT_OP_CLOSE_MS, client_op_timeout, o);
}

void
client_op_abort(struct client_op *o, char *cause)
{
	if (o->abort_cause == NULL)
		o->abort_cause = cause;
	else
		free(cause);
	client_op_end(o);
}

int
client_op_write(struct client_op *o, const void *p, size_t n)
{
	struct client_io_status	st;

	if (client_io_write(o->io, 1, p, n) != 0)
		return -1;
	client_io_status(o->io, &st);
	if (st.out_full && !o->rx_paused) {
		o->rx_paused = 1;
		client_session_rx(o->s, 0);
	}
	return 0;
}

static void
client_op_established(void *arg)
{
	struct client_op	*o = arg;
	json_t			*m;

	if ((m = client_open_new(o->sid, client_agent_str(o->agent, "id"),
	    o->opname, json_incref(o->argv))) == NULL) {
		client_op_abort(o, strdup("out of memory"));
		return;
	}
	client_session_send_open(o->s, m);
}

static int
client_op_message(void *arg, const struct ph_frame *f)
{
	struct client_op	*o = arg;
	const char		*s;
	size_t			 n;

	switch (f->type) {
	case PH_FRAME_STDOUT:
		if (o->abort_cause == NULL && !o->res->interrupted)
			o->out(o, o->arg, f->payload, f->len);
		return 0;
	case PH_FRAME_STDERR:
		n = f->len;
		if (n > CLIENT_OP_ERR_MAX - o->errlen)
			n = CLIENT_OP_ERR_MAX - o->errlen;
		memcpy(o->err + o->errlen, f->payload, n);
		o->errlen += n;
		return 0;
	case PH_FRAME_CONTROL:
		break;
	default:
		client_session_fail(o->s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
		    "unexpected frame type on a client session");
		return -1;
	}
	switch (f->ctl) {
	case PH_CTL_READY:
	case PH_CTL_PROGRESS:
	case PH_CTL_META:
		return 0;
	case PH_CTL_EXIT:
		o->res->status = client_exit_status(f->json);
		if ((s = json_string_value(json_object_get(f->json, "message"))) != NULL &&
		    o->errlen == 0) {
			n = strlen(s) < CLIENT_OP_ERR_MAX ? strlen(s) : CLIENT_OP_ERR_MAX;
			memcpy(o->err, s, n);
			o->errlen = n;
		}
		o->res->got_exit = 1;
		client_session_close(o->s, PH_CLOSE_NORMAL, NULL, 0);
		client_conn_timer(o->cc, CLIENT_OP_CLOSE_MS, client_op_timeout, o);
		return 0;
	case PH_CTL_ERROR:
		client_error_note(f->json, &o->err_code, &o->err_message);
		return 0;
	default:
		client_session_fail(o->s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
		    "unexpected message on a client session");
		return -1;
	}
}

static void
client_op_drained(void *arg)
{
	(void)arg;
}

static void
client_op_wake(void *arg)
{
	struct client_op	*o = arg;
	struct client_io_status	 st;

	client_io_status(o->io, &st);
	if (st.out_errno != 0 && o->out_errno == 0) {
		o->out_errno = st.out_errno;
		client_op_abort(o, ph_asprintf("cannot write to stdout (%s)",
		    strerror(st.out_errno)));
		return;
	}
	if (o->rx_paused && st.out_low) {
		o->rx_paused = 0;
		client_session_rx(o->s, 1);
	}
	if (client_signal_take() != 0 && !o->res->interrupted && !o->res->got_exit) {
		o->res->interrupted = 1;
		client_op_end(o);
	}
}

static void
client_op_closed(void *arg, int code, const char *reason, const char *cause)
{
	struct client_op	*o = arg;

	(void)reason;
	o->close_code = code;
	o->close_cause = cause != NULL ? strdup(cause) : NULL;
	client_conn_timer(o->cc, -1, NULL, NULL);
	o->done = 1;
}

static const struct client_session_ops client_op_ops = {
	.established = client_op_established,
	.message = client_op_message,
	.drained = client_op_drained,
	.wake = client_op_wake,
	.closed = client_op_closed,
};

/* Why the session ended without `exit`; malloc'd. */
static char *
client_op_failure(struct client_op *o)
{
	const char	*name = o->res->agent_name, *id = o->res->agent_id;

	if (o->abort_cause != NULL)
		return strdup(o->abort_cause);
	if (o->err_code != NULL) {
		if (strcmp(o->err_code, PH_ERR_FORBIDDEN) == 0)
			return ph_asprintf("not allowed to run %s on %s (%s): %s: ask for a "
			    "token whose scope and target allow it", o->opname, name, id,
			    o->err_message);
		if (strcmp(o->err_code, PH_ERR_AGENT_LOST) == 0)
			return ph_asprintf("agent %s (%s) was lost mid-session; output may "
			    "be truncated", name, id);
		return ph_asprintf("%s on %s (%s) failed: %s (%s)", o->opname, name, id,
		    o->err_message, o->err_code);
	}
	if (o->close_cause != NULL)
		return strdup(o->close_cause);
	if (o->close_code == PH_CLOSE_AGENT_LOST)
		return ph_asprintf("agent %s (%s) was lost mid-session; output may be "
		    "truncated", name, id);
	return ph_asprintf("the session with %s (%s) ended (code %d) before %s finished; "
	    "output may be truncated", name, id, o->close_code, o->opname);
}

int
client_op_run(struct client_conf *conf, const char *target, const char *opname,
    json_t *argv, client_op_out_cb out, void *arg, struct client_op_result *res,
    char **cause)
{
	struct client_op	 o;
	json_t			*agents;
	int			 r = -1, fd;

	memset(&o, 0, sizeof o);
	memset(res, 0, sizeof *res);
	o.argv = argv;
	o.opname = opname;
	o.out = out;
	o.arg = arg;
	o.res = res;
	if (client_conf_load(conf, cause) != 0)
		goto out;
	if ((o.cc = client_conn_new(conf, cause)) == NULL)
		goto out;
	if ((agents = client_conn_get_agents(o.cc, NULL, cause)) == NULL)
		goto out;
	o.agent = client_target_one(agents, target, conf, cause);
	json_decref(agents);
	if (o.agent == NULL)
		goto out;
	res->agent_id = client_printable(client_agent_str(o.agent, "id"));
	res->agent_name = client_printable(client_agent_str(o.agent, "name"));
	if (ph_random_hex(o.sid, PH_SID_LEN) != 0) {
		*cause = strdup("cannot draw a random session id");
		goto out;
	}
	o.sid[PH_SID_LEN] = '\0';

	client_signal_block();
	if ((o.io = client_io_new(o.cc, 0, cause)) == NULL ||
	    client_signal_start(o.cc, cause) != 0)
		goto out;
	if ((o.s = client_session_open(o.cc, &client_op_ops, &o, cause)) == NULL)
		goto out;
	if (client_conn_run(o.cc, &o.done) != 0 && o.close_cause == NULL)
		o.close_cause = strdup("the event loop failed");

	client_signal_detach();
	client_io_detach(o.io);
	client_session_free(o.s);
	o.s = NULL;
	client_conn_free(o.cc);
	o.cc = NULL;

	if ((r = client_io_flush(o.io, &fd)) != 0 && o.abort_cause == NULL)
		o.abort_cause = ph_asprintf("cannot write to stdout (%s)", strerror(r));
	if (o.errlen > 0) {
		o.err[o.errlen] = '\0';
		while (o.errlen > 0 && (o.err[o.errlen - 1] == '\n' || o.err[o.errlen - 1] == ' '))
			o.err[--o.errlen] = '\0';
		res->err = client_printable(o.err);
	}
	if (o.abort_cause == NULL && (res->got_exit || res->interrupted))
		r = 0;
	else {
		*cause = client_op_failure(&o);
		r = -1;
	}
out:
	if (o.s != NULL)
		client_session_free(o.s);
	if (o.cc != NULL) {
		client_signal_detach();
		if (o.io != NULL)
			client_io_detach(o.io);
		client_conn_free(o.cc);
	}
	json_decref(o.agent);
	json_decref(argv);
	free(o.err_code);
	free(o.err_message);
	free(o.abort_cause);
	free(o.close_cause);
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
