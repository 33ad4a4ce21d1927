/*
 * client-run.c - the session plumbing exec, shell, cp, dump, ps and mem
 * share (see client-run.h): resolving the agent, running the loop, output
 * with backpressure, `exit` and `error`, bounded stops and the teardown.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/util.h"

#include "client-exit.h"
#include "client-http.h"
#include "client-io.h"
#include "client-run.h"
#include "client-signal.h"
#include "client-target.h"
#include "cmd.h"

int
client_run_option(struct client_run *r, const struct cmd_entry *ce, int argc,
    char **argv, int *i)
{
	const char	*a = argv[*i];
	char		*end;

	if (strcmp(a, "--pid") != 0 && strcmp(a, "--container") != 0)
		return -1;
	if (*i + 1 >= argc || argv[*i + 1][0] == '\0')
		return cmd_usage_error(ce, "%s needs a value", a);
	if (r->pid > 0 || r->container != NULL)
		return cmd_usage_error(ce, "--pid and --container exclude each other");
	if (a[2] == 'c') {
		r->container = argv[++*i];
		if (strlen(r->container) > 255)
			return cmd_usage_error(ce, "--container: name too long");
		return 0;
	}
	r->pid = strtoll(argv[++*i], &end, 10);
	if (*end != '\0' || r->pid <= 0 || r->pid > 2147483647LL)
		return cmd_usage_error(ce, "--pid %s: not a process id", argv[*i]);
	return 0;
}

int
client_run_parse(struct client_run *r, const struct cmd_entry *ce,
    struct client_conf *conf, int argc, char **argv, client_run_opt_cb opt,
    void *arg, const char **target, int *rargc, char ***rargv)
{
	int	i, rc;

	*target = NULL;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[0] != '-' || a[1] == '\0') {
			if (*target != NULL)
				break;	/* no "--": the command starts here */
			*target = a;
			continue;
		}
		if ((opt == NULL || (rc = opt(arg, argc, argv, &i)) < 0) &&
		    (rc = client_run_option(r, ce, argc, argv, &i)) < 0)
			rc = cmd_conf_option(ce, conf, argc, argv, &i);
		if (rc != 0)
			return rc;
	}
	if (*target == NULL)
		return cmd_usage_error(ce, "missing TARGET");
	*rargc = i < argc ? argc - i : 0;
	*rargv = argv + i;
	return 0;
}

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
	if ((agents = client_http_agents(r->cc, NULL, &cause)) == NULL)
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

static const struct client_session_ops client_run_session_ops;	/* below */

int
client_run_loop(struct client_run *r, int with_stdin,
    const struct client_run_ops *ops, void *arg, char **cause)
{
	r->ops = ops;
	r->arg = arg;
	if ((r->io = client_io_new(r->cc, with_stdin, cause)) == NULL ||
	    client_signal_start(r->cc, cause) != 0 ||
	    (r->s = client_session_open(r->cc, &client_run_session_ops, r,
	    cause)) == NULL)
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
	json_t	*o = NULL, *av;
	int	 i;

	if ((av = json_array()) != NULL)
		for (i = 0; i < argc; i++)
			json_array_append_new(av, json_string(argv[i]));
	if (av == NULL || (o = client_open_new(r->sid,
	    r->agent, op, av)) == NULL ||
	    json_object_set_new(o, "tty", json_boolean(tty)) != 0 ||
	    json_object_set_new(o, "stdin", json_boolean(with_stdin)) != 0 ||
	    (extra != NULL && json_object_update(o, extra) != 0)) {
		json_decref(o);	/* NULL-safe; av is stolen either way */
		o = NULL;
	}
	json_decref(extra);
	return o;
}

void
client_run_send_open(struct client_run *r, json_t *o)
{
	if (o != NULL && r->pid > 0)
		json_object_set_new(o, "pid", json_integer(r->pid));
	if (o != NULL && r->container != NULL)
		json_object_set_new(o, "container", json_string(r->container));
	client_session_send_open(r->s, o);
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
client_run_write(struct client_run *r, int fd, const void *p, size_t n)
{
	struct client_io_status	st;

	if (client_io_write(r->io, fd, p, n) != 0)
		return -1;
	client_io_status(r->io, &st);
	if (st.out_full && !r->rx_paused) {
		r->rx_paused = 1;
		client_session_rx(r->s, 0);
	}
	return 0;
}

static int
client_run_message(void *arg, const struct ph_frame *f)
{
	struct client_run	*r = arg;

	if (r->ops->frame != NULL && r->ops->frame(r->arg, f))
		return 0;
	switch (f->type) {
	case PH_FRAME_STDOUT:
	case PH_FRAME_STDERR:
		if (r->abort != CLIENT_RUN_RUNNING)
			return 0;
		if (client_run_write(r, f->type == PH_FRAME_STDOUT ? 1 : 2,
		    f->payload, f->len) != 0)
			client_run_abort(r, CLIENT_RUN_ABORT_OVERFLOW,
			    "client output overflow");
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

/* The writer or the stdin reader moved, or a signal came. */
static void
client_run_wake(void *arg)
{
	struct client_run	*r = arg;
	struct client_io_status	 st;
	int			 sig;

	client_io_status(r->io, &st);
	if (st.out_errno != 0 && !r->quiet_out && r->abort == CLIENT_RUN_RUNNING) {
		r->out_errno = st.out_errno;
		r->out_fd = st.out_fd;
		client_run_abort(r, st.out_errno == EPIPE ? CLIENT_RUN_ABORT_PIPE :
		    CLIENT_RUN_ABORT_WRITE, "client output closed");
		return;
	}
	if (r->rx_paused && st.out_low) {
		r->rx_paused = 0;
		client_session_rx(r->s, 1);
	}
	while ((sig = client_signal_take()) != 0)
		r->ops->signal(r->arg, sig);
	if (r->ops->pump != NULL)
		r->ops->pump(r->arg);
}

static void
client_run_established(void *arg)
{
	struct client_run	*r = arg;

	r->established = 1;
	r->ops->open(r->arg);
	if (r->ops->pump != NULL)
		r->ops->pump(r->arg);
}

static void
client_run_drained(void *arg)
{
	struct client_run	*r = arg;

	if (r->ops->pump != NULL)
		r->ops->pump(r->arg);
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

static void
client_run_closed(void *arg, int code, const char *reason, const char *cause)
{
	struct client_run	*r = arg;

	r->close_code = code;
	free(r->close_reason);
	free(r->close_cause);
	r->close_reason = strdup(reason != NULL ? reason : "");
	r->close_cause = cause != NULL ? strdup(cause) : NULL;
	client_conn_timer(r->cc, -1, NULL, NULL);
	r->done = 1;
}

static const struct client_session_ops client_run_session_ops = {
	.established = client_run_established,
	.message = client_run_message,
	.drained = client_run_drained,
	.wake = client_run_wake,
	.closed = client_run_closed,
};

char *
client_run_failure(struct client_run *r, const char *op, const char *tail)
{
	struct client_end	 e = { op, r->agent_name, r->agent_id, r->err_code,
	    r->err_message, r->close_code, r->close_reason, r->close_cause };
	int			 status;

	return client_exit_line(&e, tail, &status);
}
