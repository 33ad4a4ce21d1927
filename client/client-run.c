/*
 * client-run.c - the session plumbing exec and shell share (see
 * client-run.h): resolving the agent, running the loop, output with
 * backpressure, `exit` and `error`, bounded stops and the teardown.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/util.h"

#include "client-exit.h"
#include "client-io.h"
#include "client-run.h"
#include "client-signal.h"
#include "client-target.h"
#include "cmd.h"

int
client_run_resolve(struct client_run *r, struct client_conf *conf,
    const char *target)
{
	json_t	*agents;
	char	*cause = NULL;

	if (client_conf_load(conf, &cause) != 0)
		return cmd_fail(cause);
	if ((r->cc = client_conn_new(conf, &cause)) == NULL)
		return cmd_fail(cause);
	if ((agents = client_conn_get_agents(r->cc, NULL, &cause)) == NULL)
		return cmd_fail(cause);
	r->agent = client_target_one(agents, target, conf, &cause);
	json_decref(agents);
	if (r->agent == NULL)
		return cmd_fail(cause);
	r->agent_id = client_printable(client_agent_str(r->agent, "id"));
	r->agent_name = client_printable(client_agent_str(r->agent, "name"));
	if (ph_random_hex(r->sid, PH_SID_LEN) != 0)
		return cmd_failf("cannot draw a random session id");
	r->sid[PH_SID_LEN] = '\0';
	return 0;
}

int
client_run_loop(struct client_run *r, int with_stdin,
    const struct client_session_ops *ops, void *arg, char **cause)
{
	if ((r->io = client_io_new(r->cc, with_stdin, cause)) == NULL ||
	    client_signal_start(r->cc, cause) != 0 ||
	    (r->s = client_session_open(r->cc, ops, arg, cause)) == NULL)
		return -1;
	if (client_conn_run(r->cc, &r->done) != 0 && r->close_cause == NULL)
		r->close_cause = strdup("the event loop failed");

	/* From here the loop is gone: threads must not wake it. */
	client_signal_detach();
	client_io_detach(r->io);
	client_session_free(r->s);
	r->s = NULL;
	client_conn_free(r->cc);
	r->cc = NULL;
	return 0;
}

void
client_run_free(struct client_run *r)
{
	if (r->s != NULL)
		client_session_free(r->s);
	if (r->cc != NULL) {
		client_signal_detach();
		if (r->io != NULL)
			client_io_detach(r->io);
		client_conn_free(r->cc);
	}
	json_decref(r->agent);
	free(r->agent_id);
	free(r->agent_name);
	free(r->exit_message);
	free(r->err_code);
	free(r->err_message);
	free(r->close_reason);
	free(r->close_cause);
	memset(r, 0, sizeof *r);
}

json_t *
client_run_open(struct client_run *r, const char *op, int argc, char **argv,
    int tty, json_t *extra, int with_stdin)
{
	json_t	*o, *av, *m;
	int	 i;

	av = json_array();
	for (i = 0; i < argc; i++)
		json_array_append_new(av, json_string(argv[i]));
	o = ph_ctl_new(PH_CTL_OPEN);
	m = json_pack("{s:s, s:s, s:s, s:o, s:b}", "sid", r->sid, "agent",
	    client_agent_str(r->agent, "id"), "op", op, "argv", av, "tty", tty);
	if (o == NULL || m == NULL || json_object_update(o, m) != 0 ||
	    (extra != NULL && json_object_update(o, extra) != 0) ||
	    json_object_set_new(o, "stdin", json_boolean(with_stdin)) != 0 ||
	    json_object_set_new(o, "ts", json_integer(ph_now())) != 0 ||
	    json_object_set_new(o, "proto", json_integer(PH_PROTOCOL_VERSION)) != 0 ||
	    json_object_set_new(o, "sig", json_null()) != 0) {
		json_decref(o);
		o = NULL;
	}
	json_decref(m);
	json_decref(extra);
	return o;
}

static void
client_run_abort_timeout(void *arg)
{
	struct client_run	*r = arg;

	r->done = 1;	/* the close did not go through in time: leave anyway */
}

void
client_run_abort(struct client_run *r, enum client_run_abort why,
    const char *reason)
{
	if (r->abort != CLIENT_RUN_RUNNING)
		return;
	r->abort = why;
	if (r->s != NULL)
		client_session_close(r->s, PH_CLOSE_GOING_AWAY, reason, 0);
	client_conn_timer(r->cc, CLIENT_RUN_ABORT_MS, client_run_abort_timeout, r);
}

static void
client_run_ctl(struct client_run *r, const struct ph_frame *f)
{
	const char	*s;

	switch (f->ctl) {
	case PH_CTL_READY:
	case PH_CTL_PROGRESS:
	case PH_CTL_META:
		return;
	case PH_CTL_EXIT:
		r->status = client_exit_status(f->json);
		r->timed_out = json_is_true(json_object_get(f->json, "timeout"));
		if ((s = json_string_value(json_object_get(f->json,
		    "message"))) != NULL && *s != '\0') {
			free(r->exit_message);
			r->exit_message = client_printable(s);
		}
		r->got_exit = 1;
		/* Nothing more to say or hear: close now, within a bound. */
		client_session_close(r->s, PH_CLOSE_NORMAL, NULL, 0);
		client_conn_timer(r->cc, CLIENT_RUN_ABORT_MS,
		    client_run_abort_timeout, r);
		return;
	case PH_CTL_ERROR:
		client_error_note(f->json, &r->err_code, &r->err_message);
		return;
	default:
		client_session_fail(r->s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
		    "unexpected message on a client session");
		return;
	}
}

int
client_run_message(struct client_run *r, const struct ph_frame *f)
{
	struct client_io_status	 st;

	switch (f->type) {
	case PH_FRAME_STDOUT:
	case PH_FRAME_STDERR:
		if (r->abort != CLIENT_RUN_RUNNING)
			return 0;
		if (client_io_write(r->io, f->type == PH_FRAME_STDOUT ? 1 : 2,
		    f->payload, f->len) != 0) {
			client_run_abort(r, CLIENT_RUN_ABORT_OVERFLOW,
			    "client output overflow");
			return 0;
		}
		client_io_status(r->io, &st);
		if (st.out_full && !r->rx_paused) {
			r->rx_paused = 1;
			client_session_rx(r->s, 0);
		}
		return 0;
	case PH_FRAME_CONTROL:
		client_run_ctl(r, f);
		return 0;
	default:
		client_session_fail(r->s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
		    "unexpected frame type on a client session");
		return -1;
	}
}

int
client_run_wake(struct client_run *r)
{
	struct client_io_status	 st;

	client_io_status(r->io, &st);
	if (st.out_errno != 0 && r->abort == CLIENT_RUN_RUNNING) {
		r->out_errno = st.out_errno;
		r->out_fd = st.out_fd;
		client_run_abort(r, st.out_errno == EPIPE ? CLIENT_RUN_ABORT_PIPE :
		    CLIENT_RUN_ABORT_WRITE, "client output closed");
		return -1;
	}
	if (r->rx_paused && st.out_low) {
		r->rx_paused = 0;
		client_session_rx(r->s, 1);
	}
	return 0;
}

int
client_run_forward(struct client_run *r, const char *name)
{
	json_t	*o;

	if (r->forwarded != 0 || !r->established || r->got_exit ||
	    r->abort != CLIENT_RUN_RUNNING)
		return 0;
	if ((o = ph_ctl_new(PH_CTL_SIGNAL)) != NULL)
		json_object_set_new(o, "name", json_string(name));
	client_session_send_ctl(r->s, o);
	r->forwarded++;
	return 1;
}

void
client_run_closed(struct client_run *r, int code, const char *reason,
    const char *cause)
{
	r->close_code = code;
	free(r->close_reason);
	free(r->close_cause);
	r->close_reason = strdup(reason != NULL ? reason : "");
	r->close_cause = cause != NULL ? strdup(cause) : NULL;
	client_conn_timer(r->cc, -1, NULL, NULL);
	r->done = 1;
}
