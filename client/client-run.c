/*
 * client-run.c - the session plumbing the commands share (see
 * client-run.h): resolving the agent, the `open` builder, the run-set
 * that drives one or N sessions on the loop (threads, wakes, output with
 * backpressure, `exit` and `error`, bounded stops) and the teardown.
 *
 * Dependencies, one way: commands -> client-run.c -> client-session.c ->
 * client-transport.c -> client-conn.c -> client-loop.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/agentid.h"
#include "porthole/util.h"

#include "client-exit.h"
#include "client-http.h"
#include "client-io.h"
#include "client-run.h"
#include "client-session.h"
#include "client-signal.h"
#include "client-target.h"
#include "cmd.h"

static void	runset_bound(struct client_runset *set);
static void	runset_exited(struct client_runset *set);
static void	runset_closed(struct client_runset *set);

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
	struct client_runset	 set;
	int			 rc = 0;

	client_runset_init(&set, r->cc, NULL, NULL);
	if (client_runset_start(&set, with_stdin, 1, cause) != 0 ||
	    client_runset_add(&set, r, ops, arg, cause) != 0)
		rc = -1;
	else if (client_runset_run(&set) != 0 && r->close_cause == NULL)
		r->close_cause = strdup("the event loop failed");
	/* From here the loop is gone: threads must not wake it. */
	client_runset_end(&set);
	client_conn_free(set.cc);
	r->cc = NULL;
	return rc;
}

void
client_run_free(struct client_run *r)
{
	client_session_free(r->s);
	client_conn_free(r->cc);
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
client_open_new(const char *sid, json_t *agent, const char *op, json_t *argv)
{
	json_t		*m, *members;
	json_int_t	 proto;
	const char	*id, *sub;
	char		*claimed = NULL;

	/*
	 * An agent that speaks protocol 1 checks only form-1 signatures (the
	 * weaker one: opensig.h).  A relay that lies about a newer agent gains
	 * nothing: such an agent refuses form 1.
	 */
	proto = json_integer_value(json_object_get(agent, "proto"));
	if (proto < 1)
		proto = 1;
	if (proto > PH_PROTOCOL_VERSION)
		proto = PH_PROTOCOL_VERSION;
	/*
	 * An agent of protocol 1 knows only its claimed id and checks that the
	 * open (and its signature) names it: send that, and its sub for the
	 * relay to find it (docs/protocol.md, "Agent identity").
	 */
	id = json_string_value(json_object_get(agent, "id"));
	sub = json_string_value(json_object_get(agent, "sub"));
	if (id != NULL && sub != NULL && proto < PH_PROTOCOL_QUALIFIED_IDS &&
	    (claimed = strndup(id, ph_agent_claim_len(id, sub))) == NULL)
		return NULL;
	m = ph_ctl_new(PH_CTL_OPEN);
	members = json_pack("{s:s, s:s, s:s, s:o, s:b, s:b, s:I, s:I, s:n}",
	    "sid", sid, "agent", claimed != NULL ? claimed : id != NULL ? id : "",
	    "op", op, "argv", argv != NULL ? argv : json_array(), "tty", 0, "stdin", 0,
	    "ts", (json_int_t)ph_now(), "proto", proto, "sig");
	if (members != NULL && claimed != NULL &&
	    json_object_set_new(members, "agent_sub", json_string(sub)) != 0) {
		json_decref(members);
		members = NULL;
	}
	if (m == NULL || members == NULL || json_object_update(m, members) != 0) {
		json_decref(m);
		m = NULL;
	}
	json_decref(members);
	free(claimed);
	return m;
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
	client_session_send_open(r->s, o, (long)json_integer_value(json_object_get(r->agent,
	    "proto")));
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
	runset_bound(r->set);
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
		if (json_is_integer(json_object_get(f->json, "signal")))
			r->signal = (int)json_integer_value(json_object_get(f->json,
			    "signal"));
		r->timed_out = json_is_true(json_object_get(f->json, "timeout"));
		if ((s = json_string_value(json_object_get(f->json,
		    "message"))) != NULL && *s != '\0') {
			free(r->exit_message);
			r->exit_message = client_printable(s);
		}
		r->got_exit = 1;
		/* Nothing more to say or hear: close now, within a bound. */
		client_session_close(r->s, PH_CLOSE_NORMAL, NULL, 0);
		runset_exited(r->set);
		return;
	case PH_CTL_ERROR:
		/* The agent's sealed word that the stream was tampered with stays. */
		if (r->err_code != NULL && strcmp(r->err_code, PH_ERR_SEAL) == 0)
			return;
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
	if (st.out_full && !r->set->rx_paused)
		client_runset_rx(r->set, 0);
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

/* The writer moved: a failed local write stops the run (1: now). */
static int
client_run_out_failed(struct client_run *r, const struct client_io_status *st)
{
	if (st->out_errno == 0 || r->quiet_out || r->abort != CLIENT_RUN_RUNNING)
		return 0;
	r->out_errno = st->out_errno;
	r->out_fd = st->out_fd;
	client_run_abort(r, st->out_errno == EPIPE ? CLIENT_RUN_ABORT_PIPE :
	    CLIENT_RUN_ABORT_WRITE, "client output closed");
	return 1;
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
	r->closed = 1;
	if (r->ops->closed != NULL)
		r->ops->closed(r->arg);
	runset_closed(r->set);
}

static const struct client_session_ops client_run_session_ops = {
	.established = client_run_established,
	.message = client_run_message,
	.drained = client_run_drained,
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

/* --- the run-set ------------------------------------------------------------ */

void
client_runset_init(struct client_runset *set, struct client_conn *cc,
    const struct client_runset_ops *ops, void *arg)
{
	memset(set, 0, sizeof *set);
	set->cc = cc;
	set->ops = ops;
	set->arg = arg;
}

static void
runset_stop(void *arg)
{
	struct client_runset	*set = arg;

	set->done = 1;	/* the closes did not go through in time: leave anyway */
}

/* Leave within CLIENT_RUN_ABORT_MS, whatever is still open. */
static void
runset_bound(struct client_runset *set)
{
	if (set != NULL && !set->stop.armed)
		client_loop_timer(set->cc->loop, &set->stop, CLIENT_RUN_ABORT_MS,
		    runset_stop, set);
}

/* A run has its `exit`: once all have (or are over), the stop is bounded. */
static void
runset_exited(struct client_runset *set)
{
	size_t	 i;

	if (set == NULL)
		return;
	for (i = 0; i < set->n; i++)
		if (!set->runs[i]->got_exit && !set->runs[i]->closed)
			return;
	runset_bound(set);
}

/* A run's session is over: the set is done with the last. */
static void
runset_closed(struct client_runset *set)
{
	if (set == NULL || --set->open > 0)
		return;
	client_loop_timer(set->cc->loop, &set->stop, -1, NULL, NULL);
	set->done = 1;
}

/* The writer or the stdin reader moved, or a signal came. */
static void
runset_wake(void *arg)
{
	struct client_runset	*set = arg;
	struct client_io_status	 st;
	size_t			 i;
	int			 sig, stopped = 0;

	client_io_status(set->io, &st);
	for (i = 0; i < set->n; i++)
		stopped |= client_run_out_failed(set->runs[i], &st);
	if (stopped)
		return;
	if (set->rx_paused && st.out_low && (set->ops == NULL ||
	    set->ops->room == NULL || set->ops->room(set->arg)))
		client_runset_rx(set, 1);
	while ((sig = client_signal_take()) != 0)
		for (i = 0; i < set->n; i++)
			if (set->runs[i]->ops->signal != NULL)
				set->runs[i]->ops->signal(set->runs[i]->arg, sig);
	for (i = 0; i < set->n; i++)
		if (set->runs[i]->ops->pump != NULL)
			set->runs[i]->ops->pump(set->runs[i]->arg);
}

int
client_runset_start(struct client_runset *set, int with_stdin,
    int with_signals, char **cause)
{
	client_loop_on_wake(set->cc->loop, runset_wake, set);
	if ((set->io = client_io_new(set->cc, with_stdin, cause)) == NULL)
		return -1;
	if (with_signals && client_signal_start(set->cc, cause) != 0)
		return -1;
	return 0;
}

int
client_runset_add(struct client_runset *set, struct client_run *r,
    const struct client_run_ops *ops, void *arg, char **cause)
{
	struct client_run	**nr;

	if ((nr = reallocarray(set->runs, set->n + 1, sizeof *nr)) == NULL) {
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	set->runs = nr;
	r->ops = ops;
	r->arg = arg;
	r->set = set;
	r->cc = set->cc;
	r->io = set->io;
	if ((r->s = client_session_open(set->cc, &client_run_session_ops, r,
	    cause)) == NULL) {
		r->set = NULL;
		r->cc = NULL;	/* the set's owner frees it */
		return -1;
	}
	set->runs[set->n++] = r;
	set->open++;
	if (set->rx_paused)
		client_session_rx(r->s, 0);
	return 0;
}

void
client_runset_watch(struct client_runset *set, struct client_loop_fd *f)
{
	client_loop_add(set->cc->loop, f);
}

void
client_runset_unwatch(struct client_runset *set, struct client_loop_fd *f)
{
	client_loop_del(set->cc->loop, f);
}

void
client_runset_rx(struct client_runset *set, int on)
{
	size_t	 i;

	set->rx_paused = !on;
	for (i = 0; i < set->n; i++)
		if (!set->runs[i]->closed)
			client_session_rx(set->runs[i]->s, on);
}

int
client_runset_run(struct client_runset *set)
{
	if (set->open == 0)
		return 0;
	return client_conn_run(set->cc, &set->done);
}

void
client_runset_end(struct client_runset *set)
{
	size_t	 i;

	client_signal_detach();
	if (set->io != NULL)
		client_io_detach(set->io);
	client_loop_on_wake(set->cc->loop, NULL, NULL);
	client_loop_timer(set->cc->loop, &set->stop, -1, NULL, NULL);
	for (i = 0; i < set->n; i++) {
		client_session_free(set->runs[i]->s);
		set->runs[i]->s = NULL;
		set->runs[i]->set = NULL;
		set->runs[i]->cc = NULL;	/* the set's owner frees it */
	}
	free(set->runs);
	set->runs = NULL;
	set->n = 0;
}
