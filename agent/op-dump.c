/*
 * op-dump.c - the `dump` operation: a core, JVM heap or Node.js heap dump
 * of a process, streamed to the client.
 *
 * Everything slow (ptrace, reading the target's memory, HotSpot attach,
 * the inspector, zstd) happens in the dump worker (dump.h), a child the
 * agent starts as `porthole-agent --op-dump ...` under the exec machinery:
 * its stdout (the file as one zstd stream) goes out as DATA frames; its
 * stderr (JSON event lines, dump.h) is read here and sent as CONTROL
 * `progress` and `meta` messages (see dump_ev_send), or, in a session of
 * protocol 2 (a CLI of 2 that knows only those), as the STDERR lines
 * themselves.  Both are paused while the session's queue is above its
 * high mark (agent-fd.c), so a slow operator's disk blocks the worker in
 * write(2) instead of growing the agent.  The worker's exit status comes
 * back as `exit`.
 *
 * This file only checks the `open` and builds the worker's argv from its
 * members (pid, kind, freeze, tmpdir); the client's argv is never looked
 * at, let alone run, so `dump` scope cannot become `exec`.  There is no
 * timeout: a dump ends when it is written or when the session goes.  A
 * lost session ends the worker like any exec child (pipes closed,
 * SIGTERM, SIGKILL after AGENT_KILL_GRACE_MS); on SIGTERM or EPIPE the
 * worker leaves the target running as it found it.  Client `signal`
 * frames are ignored: the worker is stopped only by losing its session,
 * the one way its contract handles.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "porthole/frame.h"
#include "porthole/log.h"
#include "porthole/ops.h"

#include "agent.h"
#include "dump.h"
#include "op.h"

static const char *const dump_kinds[] = { "auto", "core", "jvm", "node" };

/*
 * The worker's event lines as the protocol's own messages, for a session
 * of protocol PH_PROTOCOL_DUMP_CONTROL or later (docs/protocol.md, "dump"):
 *   start    → meta {phase "start", kind, method, reason, pause_us,
 *              threads, estimate}  (the event's "mode" is "method": cp's
 *              `meta` has an integer "mode")
 *   progress → progress {done, total: the estimate, or -1}
 *   done     → progress {done, total: done}, then meta {phase "done",
 *              size, pause_us}
 *   error    → meta {phase "error", code, message}
 * A line that is not one of these (a crash report) goes on as STDERR.
 * Only members of the type the protocol names are copied, so nothing the
 * relay's schema refuses is ever sent.
 */
#define DUMP_EVENT_LINE_MAX	(16 * 1024)

struct dump_events {
	struct agent_session *s;
	char		 line[DUMP_EVENT_LINE_MAX + 1];
	size_t		 len;
	int		 skip;		/* inside an overlong line: passed on as is */
	json_int_t	 estimate;	/* from "start"; -1: not known */
};

/* Copy member name of ev to m as to, if it is a string (lo..hi bytes), an
 * integer >= 0, or null, as type says ('s' or 'i'). */
static void
dump_ev_copy(json_t *m, const char *to, json_t *ev, const char *name, int type,
    size_t hi)
{
	json_t	*v = json_object_get(ev, name);

	if (json_is_null(v) || (type == 'i' && json_is_integer(v) &&
	    json_integer_value(v) >= 0) || (type == 's' && json_is_string(v) &&
	    json_string_length(v) >= 1 && json_string_length(v) <= hi &&
	    strlen(json_string_value(v)) == json_string_length(v)))
		json_object_set(m, to, v);
}

static json_t *
dump_ev_meta(const char *phase)
{
	json_t	*m = ph_ctl_new(PH_CTL_META);

	if (m != NULL)
		json_object_set_new(m, "phase", json_string(phase));
	return m;
}

static void
dump_ev_progress(struct dump_events *e, json_int_t done, json_int_t total)
{
	json_t	*m = ph_ctl_new(PH_CTL_PROGRESS);

	if (m != NULL && done >= 0) {
		json_object_set_new(m, "done", json_integer(done));
		json_object_set_new(m, "total", json_integer(total >= 0 ? total : -1));
		agent_session_send_ctl(e->s, m);
	} else
		json_decref(m);
}

/* One event as CONTROL messages; -1 if it is none the protocol knows. */
static int
dump_ev_send(struct dump_events *e, json_t *ev, const char *what)
{
	json_t		*bytes = json_object_get(ev, "bytes"), *m = NULL;
	json_int_t	 n = json_is_integer(bytes) ? json_integer_value(bytes) : -1;

	if (strcmp(what, "start") == 0 && (m = dump_ev_meta("start")) != NULL) {
		dump_ev_copy(m, "kind", ev, "kind", 's', 16);
		dump_ev_copy(m, "method", ev, "mode", 's', 64);
		dump_ev_copy(m, "reason", ev, "reason", 's', 4096);
		dump_ev_copy(m, "pause_us", ev, "pause_us", 'i', 0);
		dump_ev_copy(m, "threads", ev, "threads", 'i', 0);
		dump_ev_copy(m, "estimate", ev, "estimate", 'i', 0);
		if (json_is_integer(json_object_get(m, "estimate")))
			e->estimate = json_integer_value(json_object_get(m, "estimate"));
		/* Stop-the-world (asked, or a snapshot's fallback): never held. */
		if (json_is_string(json_object_get(ev, "mode")) &&
		    strcmp(json_string_value(json_object_get(ev, "mode")), "freeze") == 0)
			e->s->no_hold = 1;
	} else if (strcmp(what, "progress") == 0) {
		dump_ev_progress(e, n, e->estimate);
		return 0;
	} else if (strcmp(what, "done") == 0 && n >= 0) {
		dump_ev_progress(e, n, n);
		if ((m = dump_ev_meta("done")) != NULL) {
			json_object_set_new(m, "size", json_integer(n));
			dump_ev_copy(m, "pause_us", ev, "pause_us", 'i', 0);
		}
	} else if (strcmp(what, "error") == 0 && (m = dump_ev_meta("error")) != NULL) {
		dump_ev_copy(m, "code", ev, "code", 's', 64);
		dump_ev_copy(m, "message", ev, "message", 's', 4096);
	} else
		return -1;
	agent_session_send_ctl(e->s, m);
	return 0;
}

/* One whole line of the worker's stderr (without its newline). */
static void
dump_ev_line(struct dump_events *e, const char *line, size_t len)
{
	json_t		*ev;
	const char	*what;
	int		 r = -1;

	if (len == 0)
		return;
	ev = json_loadb(line, len, 0, NULL);
	what = json_string_value(json_object_get(ev, "event"));
	if (what != NULL)
		r = dump_ev_send(e, ev, what);
	json_decref(ev);
	if (r != 0) {
		/* Not an event: the line as it came, for the operator. */
		agent_session_send(e->s, PH_FRAME_STDERR, line, len);
		agent_session_send(e->s, PH_FRAME_STDERR, "\n", 1);
	}
}

/* agent_fd_sink of the worker's stderr: split into lines (p NULL: EOF). */
static void
dump_ev_sink(void *arg, const uint8_t *p, size_t n)
{
	struct dump_events	*e = arg;
	const uint8_t		*nl;
	size_t			 k;

	if (p == NULL) {
		if (!e->skip)
			dump_ev_line(e, e->line, e->len);
		e->len = 0;
		return;
	}
	while (n > 0) {
		nl = memchr(p, '\n', n);
		k = nl != NULL ? (size_t)(nl - p) + 1 : n;
		if (!e->skip && k - (nl != NULL) > DUMP_EVENT_LINE_MAX - e->len) {
			/* Too long to be an event: what is held, then the rest as is. */
			e->skip = 1;
			agent_session_send(e->s, PH_FRAME_STDERR, e->line, e->len);
			e->len = 0;
		}
		if (e->skip)
			agent_session_send(e->s, PH_FRAME_STDERR, p, k);
		else {
			memcpy(e->line + e->len, p, k - (nl != NULL));
			e->len += k - (nl != NULL);
			if (nl != NULL)
				dump_ev_line(e, e->line, e->len);
		}
		if (nl != NULL)
			e->len = e->skip = 0;
		p += k;
		n -= k;
	}
}

/*
 * How the worker's events travel in session s of open: CONTROL messages
 * (out's stderr sink, a new struct dump_events), or, for a session of an
 * earlier protocol, the event lines themselves as STDERR.  -1: no memory.
 */
static int
dump_ev_out(struct agent_session *s, json_t *open, struct op_exec_out *out)
{
	struct dump_events	*e;
	json_t			*proto = ph_open_get(open, "proto");

	out->out_type = PH_FRAME_DATA;
	if (!json_is_integer(proto) ||
	    json_integer_value(proto) < PH_PROTOCOL_DUMP_CONTROL)
		return 0;
	if ((e = calloc(1, sizeof *e)) == NULL)
		return -1;
	e->s = s;
	e->estimate = -1;
	out->err_sink = dump_ev_sink;
	out->err_arg = e;
	out->err_free = free;
	return 0;
}

static int
dump_start(struct agent_session *s, json_t *open)
{
	json_t		*jpid = ph_open_get(open, "pid");
	json_t		*jkind = ph_open_get(open, "kind");
	json_t		*jtmp = ph_open_get(open, "tmpdir");
	struct op_exec_out out = { .out_type = PH_FRAME_DATA };
	json_t		*argv, *req = NULL;
	const char	*kind = "auto", *tmpdir = NULL;
	char		 pidbuf[16];
	json_int_t	 pid;
	size_t		 i;
	int		 r;

	if (!json_is_integer(jpid) || (pid = json_integer_value(jpid)) < 1 ||
	    pid > INT_MAX) {
		agent_session_fail(s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
		    "dump needs pid: the process to dump");
		return -1;
	}
	if (ph_open_get(open, "container") != NULL) {
		agent_session_fail(s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
		    "dump takes a pid, not a container");
		return -1;
	}
	if (jkind != NULL) {
		kind = json_string_value(jkind);
		for (i = 0; i < sizeof dump_kinds / sizeof dump_kinds[0]; i++) {
			if (kind != NULL && strcmp(kind, dump_kinds[i]) == 0)
				break;
		}
		if (i == sizeof dump_kinds / sizeof dump_kinds[0]) {
			agent_session_fail(s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
			    "dump kind must be auto, core, jvm or node");
			return -1;
		}
	}
	if (jtmp != NULL) {
		tmpdir = json_string_value(jtmp);
		if (tmpdir == NULL || tmpdir[0] != '/') {
			agent_session_fail(s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
			    "dump tmpdir must be an absolute path");
			return -1;
		}
	}
	if (ph_open_get(open, "freeze") != NULL &&
	    !json_is_boolean(ph_open_get(open, "freeze"))) {
		agent_session_fail(s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
		    "dump freeze must be true or false");
		return -1;
	}
	/*
	 * Dumping the agent itself would stop the process that must read the
	 * worker's output: with --freeze, a deadlock.
	 */
	if ((pid_t)pid == getpid()) {
		agent_session_fail(s, PH_CLOSE_NORMAL, PH_ERR_UNSUPPORTED,
		    "process %d is porthole-agent itself: it cannot dump itself",
		    (int)pid);
		return -1;
	}

	snprintf(pidbuf, sizeof pidbuf, "%d", (int)pid);
	argv = json_pack("[s, s, s, s, s]", OP_DUMP_FLAG, "--kind", kind, "--pid", pidbuf);
	if (argv != NULL && json_is_true(ph_open_get(open, "freeze")))
		json_array_append_new(argv, json_string("--freeze"));
	if (argv != NULL && tmpdir != NULL) {
		json_array_append_new(argv, json_string("--tmpdir"));
		json_array_append_new(argv, json_string(tmpdir));
	}
	/* A fresh request: nothing of the client's (timeout_ms, argv) reaches exec. */
	if (argv == NULL || (req = json_object()) == NULL ||
	    dump_ev_out(s, open, &out) != 0) {
		json_decref(argv);
		json_decref(req);
		agent_session_fail(s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL, "out of memory");
		return -1;
	}
	ph_info("session %.8s: dump of pid %d (%s%s), events as %s", s->sid, (int)pid,
	    kind, json_is_true(ph_open_get(open, "freeze")) ? ", freeze" : "",
	    out.err_sink != NULL ? "CONTROL progress/meta" : "STDERR lines (protocol 2)");
	r = op_helper_start_as(s, req, argv, &out);
	json_decref(req);
	return r;
}

/* Nothing goes to the worker: no stdin, and a signal would bypass its cleanup. */
static void
dump_input(struct agent_session *s, const struct ph_frame *f)
{
	(void)s;
	(void)f;
}

/* A stop-the-world dump is never held: its app would stay stopped meanwhile. */
static int
dump_holds(json_t *open)
{
	return !json_is_true(ph_open_get(open, "freeze"));
}

const struct op_entry op_dump_entry = {
	.name = "dump", .start = dump_start, .input = dump_input,
	.resume = op_exec_resume, .lost = op_exec_lost, .busy = op_exec_busy,
	.free = op_exec_free, .holds = dump_holds,
};
