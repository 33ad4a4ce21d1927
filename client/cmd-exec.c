/*
 * cmd-exec.c - "porthole exec [-n|--no-stdin] TARGET -- CMD [ARG...]": run
 * a program on one agent with its stdout and stderr kept apart, stdin
 * streamed, and the remote exit status as ours.
 *
 * The life of one exec: GET /v1/agents and resolve TARGET to one agent;
 * open /v1/session and send `open`; then, on the loop, STDIN frames from
 * the stdin thread (at most PH_MAX_PAYLOAD each, `eof` at the end),
 * STDOUT/STDERR payloads to the writer thread (rx paused while its queue is
 * above the high mark), until `exit` arrives and the session closes.
 * After the loop the remaining output is flushed, then we exit with the
 * remote status: `code` as is, `signal` N as 128+N.
 *
 * Everything else ends with 255 and one line: the relay's `error` message
 * (agent_lost: "agent NAME (ID) was lost mid-session ..."), or what the
 * close code says.
 *
 * Local stdout closed (EPIPE, e.g. "| head"): we close the session at once
 * (the relay closes the agent's side, which ends the remote program), wait
 * at most CLIENT_RUN_ABORT_MS for that, and die of SIGPIPE like any member of a
 * pipeline (client-out.c, as every command does).
 *
 * SIGINT/SIGTERM (this is not a tty session: the terminal's Ctrl-C reaches
 * us, not the remote program): the first one is forwarded as `signal`
 * {name: INT|TERM}, so a remote program that handles it can finish
 * properly and its exit status still comes back.  A second one means
 * "stop waiting": we close the session (ending the remote program) and
 * exit 255.  Once the loop is over (flushing the last output), a signal
 * ends us by its default action.  Before the session is up, any signal
 * ends the command with 255.
 *
 * --timeout DUR [--grace DUR]: the agent keeps the clock (open.timeout_ms,
 * grace_ms): SIGTERM to the program's process group when DUR is over,
 * SIGKILL after the grace (default 5 s).  Its `exit` then says
 * "timeout": true and we exit 124 with one line saying so.
 * --all SELECTOR: every matching agent at once (client-fanout.c).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/duration.h"
#include "porthole/frame.h"
#include "porthole/protocol.h"
#include "porthole/util.h"

#include "client-conn.h"
#include "client-exit.h"
#include "client-fanout.h"
#include "client-io.h"
#include "client-out.h"
#include "client-run.h"
#include "client-signal.h"
#include "client-target.h"
#include "cmd.h"

struct exec {
	struct client_run	 run;		/* agent, session, outcome */
	int			 argc;		/* the remote argv */
	char			**argv;
	int			 no_stdin;
	int64_t			 timeout_ms;	/* --timeout; 0: none */
	int64_t			 grace_ms;	/* --grace; -1: the agent's */
	int			 all;		/* --all */
	int			 json;		/* --json (with --all) */
	int			 eof_sent;
};

/* Move stdin chunks to the session while it has room; then `eof`. */
static void
exec_pump(void *arg)
{
	struct exec		*e = arg;
	struct client_run	*r = &e->run;
	struct client_io_status	 st;
	const uint8_t		*p;
	size_t			 n;

	if (!r->established || r->abort != CLIENT_RUN_RUNNING || r->got_exit ||
	    e->no_stdin || e->eof_sent)
		return;
	while (!client_session_full(r->s) && client_io_peek(r->io, &p, &n)) {
		if (client_session_send(r->s, PH_FRAME_STDIN, p, n) != 0)
			return;
		client_io_pop(r->io);
	}
	client_io_status(r->io, &st);
	if (st.in_eof && client_session_send_ctl(r->s,
	    ph_ctl_new(PH_CTL_EOF)) == 0)
		e->eof_sent = 1;
}

static void
exec_open(void *arg)
{
	struct exec	*e = arg;
	json_t		*o;

	o = client_run_open(&e->run, "exec", e->argc, e->argv, 0, NULL,
	    !e->no_stdin);
	if (o == NULL) {
		client_run_abort(&e->run, CLIENT_RUN_ABORT_OVERFLOW,
		    "internal error");
		return;
	}
	if (e->timeout_ms > 0)
		json_object_set_new(o, "timeout_ms", json_integer(e->timeout_ms));
	if (e->timeout_ms > 0 && e->grace_ms >= 0)
		json_object_set_new(o, "grace_ms", json_integer(e->grace_ms));
	client_run_send_open(&e->run, o);
}

/* The first SIGINT/SIGTERM is forwarded, any other stops waiting. */
static void
exec_signal(void *arg, int sig)
{
	struct exec	*e = arg;

	if (!client_run_forward(&e->run, sig == SIGINT ? "INT" : "TERM"))
		client_run_abort(&e->run, CLIENT_RUN_ABORT_SIGNAL, "interrupted");
}

static const struct client_run_ops exec_ops = {
	.open = exec_open,
	.pump = exec_pump,
	.signal = exec_signal,
};

/* The one line for a session that ended without `exit`; malloc'd. */
static char *
exec_failure(struct client_run *r)
{
	return client_run_failure(r, "exec", "output may be truncated");
}

/* exec's own options (client_run_opt_cb). */
static int
exec_option(void *arg, int argc, char **argv, int *i)
{
	struct exec	*e = arg;
	const char	*a = argv[*i];
	char		*cause = NULL;
	int64_t		*ms;
	int		 r;

	if (strcmp(a, "-n") == 0 || strcmp(a, "--no-stdin") == 0) {
		e->no_stdin = 1;
		return 0;
	}
	if (strcmp(a, "--all") == 0 || strcmp(a, "--json") == 0) {
		*(a[2] == 'a' ? &e->all : &e->json) = 1;
		return 0;
	}
	if (strcmp(a, "--timeout") != 0 && strcmp(a, "--grace") != 0)
		return -1;
	ms = a[2] == 't' ? &e->timeout_ms : &e->grace_ms;
	if (*i + 1 >= argc)
		return cmd_usage_error(&cmd_exec_entry,
		    "%s needs a duration (like 30s)", a);
	if (ph_duration_parse(argv[++*i], ms, &cause) != 0 ||
	    (a[2] == 't' && *ms <= 0) || *ms > (a[2] == 't' ?
	    7LL * 86400 * 1000 : 3600 * 1000)) {
		r = cmd_usage_error(&cmd_exec_entry, "%s %s: %s", a, argv[*i],
		    cause != NULL ? cause : a[2] == 't' ? "must be more than "
		    "zero and at most 7d" : "must be at most 1h");
		free(cause);
		return r;
	}
	return 0;
}

/* Parse "[-n] TARGET [--] CMD [ARG...]"; returns 0 or an exit status. */
static int
exec_parse(struct exec *e, struct client_conf *conf, int argc, char **argv,
    const char **target)
{
	int	r;

	if ((r = client_run_parse(&e->run, &cmd_exec_entry, conf, argc, argv,
	    exec_option, e, target, &e->argc, &e->argv)) != 0)
		return r;
	if (e->json && !e->all)
		return cmd_usage_error(&cmd_exec_entry, "--json goes with --all");
	if (e->all && (e->run.pid > 0 || e->run.container != NULL))
		return cmd_usage_error(&cmd_exec_entry, "--pid and --container do not go "
		    "with --all");
	if (e->grace_ms >= 0 && e->timeout_ms == 0)
		return cmd_usage_error(&cmd_exec_entry, "--grace goes with --timeout");
	if (e->argc == 0)
		return cmd_usage_error(&cmd_exec_entry, "missing the command to "
		    "run after '--'");
	return 0;
}

static int
cmd_exec_exec(struct client_conf *conf, int argc, char **argv)
{
	struct exec		 e;
	struct client_run	*run = &e.run;
	const char		*target;
	char			*cause = NULL;
	int			 r, fd;

	memset(&e, 0, sizeof e);
	e.grace_ms = -1;
	if ((r = exec_parse(&e, conf, argc, argv, &target)) != 0)
		return r;
	if (e.all)
		return client_fanout_run(conf, target, &(struct client_fanout_opts){
		    .op = "exec", .argc = e.argc, .argv = e.argv, .json = e.json,
		    .timeout_ms = e.timeout_ms, .grace_ms = e.grace_ms });
	if ((r = client_run_resolve(run, conf, target)) != 0)
		goto out;

	/* Signals are blocked before any thread exists, then sigwait'ed. */
	client_signal_block();
	if (client_run_loop(run, !e.no_stdin, &exec_ops, &e, &cause) != 0) {
		r = cmd_fail(cause);
		goto out;
	}

	switch (run->abort) {
	case CLIENT_RUN_ABORT_PIPE:	/* dies of SIGPIPE */
	case CLIENT_RUN_ABORT_WRITE:
		r = client_out_failed(run->out_fd, run->out_errno, "closed the "
		    "session; the output is truncated");
		goto out;
	case CLIENT_RUN_ABORT_SIGNAL:
	case CLIENT_RUN_ABORT_ESCAPE:
		r = cmd_failf("interrupted: closed the session, which ends the "
		    "program on %s (%s)", run->agent_name, run->agent_id);
		goto out;
	case CLIENT_RUN_ABORT_OVERFLOW:
	case CLIENT_RUN_ABORT_COMMAND:	/* not used here */
		r = cmd_failf("internal error: the output queue overflowed; the "
		    "session was closed and output is truncated");
		goto out;
	case CLIENT_RUN_RUNNING:
		break;
	}

	/* Whatever arrived is written before the verdict. */
	if ((r = client_io_flush(run->io, &fd)) != 0) {
		r = client_out_failed(fd, r, "the output is truncated");
		goto out;
	}
	if (run->got_exit) {
		if (run->exit_message != NULL)
			fprintf(stderr, "porthole: %s\n", run->exit_message);
		r = run->status;
		if (run->timed_out) {
			char	t[PH_DURATION_FMT_MAX];

			fprintf(stderr, "porthole: timed out after %s: the program on "
			    "%s (%s) was stopped (it ended with status %d)\n",
			    ph_duration_fmt(e.timeout_ms, t, sizeof t), run->agent_name,
			    run->agent_id, run->status);
			r = CLIENT_EXIT_TIMEOUT;
		}
		goto out;
	}
	r = cmd_fail(exec_failure(run));
out:
	client_run_free(run);
	return r;
}

static const struct ph_help_opt exec_options[] = {
	{ "--no-stdin", "-n", NULL, "do not send stdin: the program reads an "
	    "empty input at once (for scripts and loops that keep their own "
	    "stdin)" },
	{ "--timeout", NULL, "DUR", "stop the program when DUR is over: SIGTERM "
	    "to its process group, SIGKILL after the grace; porthole then exits "
	    "124 and says so. DUR is written as Go and kubectl write durations: "
	    "30s, 1m30s, 1h2m3.5s, 500ms, 2h, 7d (d is 24h; a bare number is "
	    "seconds); more than zero, at most 7d" },
	{ "--grace", NULL, "DUR", "with --timeout: how long the program has "
	    "between SIGTERM and SIGKILL (default 5s, at most 1h)" },
	{ "--all", NULL, NULL, "run on every agent TARGET matches (a label "
	    "selector, usually), all at once, without stdin: each output line "
	    "comes as 'NAME: line', an agent whose program could not run gets "
	    "one line saying why; the status is the highest of the agents'" },
	{ "--json", NULL, NULL, "with --all: one JSON document at the end, "
	    "{\"results\": [...]}, with each agent's exit status, stdout, stderr "
	    "and error" },
	CLIENT_RUN_HELP_OPTIONS,
	{ NULL, NULL, NULL, NULL }
};

const struct cmd_entry cmd_exec_entry = {
	.name = "exec",
	.alias = NULL,
	.usage = "[-n|--no-stdin] [--timeout DUR [--grace DUR]] [--all [--json]] "
	    "[--pid PID|--container NAME] TARGET -- CMD [ARG...]",
	.about = "run a program on an agent: its stdout, stderr and exit status",
	.exec = cmd_exec_exec,
	.flags = CMD_TARGET,
	.description = "Run CMD with its ARGs on the agent TARGET names, as ssh "
	    "HOST CMD would: stdin is streamed to it, its stdout and stderr come "
	    "back apart, and its exit status is porthole's (a signal N as "
	    "128+N). No terminal is made (see shell). The first Ctrl-C or "
	    "SIGTERM is passed on to the program; a second one stops waiting, "
	    "which ends it. Without \"--\", CMD is the second word that is not "
	    "an option.",
	.options = exec_options,
};
