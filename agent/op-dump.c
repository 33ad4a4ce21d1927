/*
 * op-dump.c - the `dump` operation: a core, JVM heap or Node.js heap dump
 * of a process, streamed to the client.
 *
 * Everything slow (ptrace, reading the target's memory, HotSpot attach,
 * the inspector, zstd) happens in the dump worker (dump.h), a child the
 * agent starts as `porthole-agent --op-dump ...` under the exec machinery:
 * its stdout (the file as one zstd stream) goes out as DATA frames, its
 * stderr (JSON event lines, dump.h) is read here, both paused while the
 * session's queue is above its high mark, so a slow operator's disk
 * blocks the worker in write(2) instead of growing the agent.  The
 * worker's exit status comes back as `exit`.
 *
 * The worker's events reach the client as the protocol's own CONTROL
 * messages on a session of protocol 2 or later: "progress" as `progress`
 * {done: bytes, total: the start's estimate or -1}, "start", "done" and
 * "error" as `meta` {event, and the event's members, null ones left out}.
 * A line that is not one of those events (a crash report) goes on as a
 * STDERR frame, as does an overlong one.  A session of protocol 1 (its
 * open's `proto`) gets the worker's stderr as STDERR frames, as that
 * protocol's clients expect.
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
#include "porthole/opensig.h"

#include "agent.h"
#include "dump.h"
#include "op.h"

static const char *const dump_kinds[] = { "auto", "core", "jvm", "node" };

/* Longest event line turned into a message; longer ones pass as STDERR. */
#define DUMP_EVLINE_MAX	(16 * 1024)

/* The worker's stderr on its way to CONTROL messages. */
struct dump_events {
	int		 proto;		/* the session's protocol version */
	json_int_t	 estimate;	/* the start's, -1: not known */
	size_t		 len;		/* bytes in line */
	int		 skip;		/* the line is overlong: passed on raw */
	char		 line[DUMP_EVLINE_MAX + 1];
};

/* The worker's event ev (stolen) as a CONTROL message; NULL: not an event. */
static json_t *
dump_event_ctl(struct dump_events *e, json_t *ev)
{
	const char	*what = json_string_value(json_object_get(ev, "event"));
	json_t		*m = NULL, *v;
	const char	*k;
	void		*tmp;

	if (what == NULL || !json_is_object(ev)) {
		json_decref(ev);
		return NULL;
	}
	if (strcmp(what, "progress") == 0) {
		v = json_object_get(ev, "bytes");
		if (json_is_integer(v) && json_integer_value(v) >= 0 &&
		    (m = ph_ctl_new(PH_CTL_PROGRESS)) != NULL) {
			json_object_set(m, "done", v);
			json_object_set_new(m, "total", json_integer(e->estimate));
		}
	} else if (strcmp(what, "start") == 0 || strcmp(what, "done") == 0 ||
	    strcmp(what, "error") == 0) {
		v = json_object_get(ev, "estimate");
		if (strcmp(what, "start") == 0 && json_is_integer(v) &&
		    json_integer_value(v) >= 0)
			e->estimate = json_integer_value(v);
		if ((m = ph_ctl_new(PH_CTL_META)) != NULL) {
			json_object_foreach_safe(ev, tmp, k, v) {
				if (!json_is_null(v) && strcmp(k, "type") != 0)
					json_object_set(m, k, v);
			}
		}
	}
	json_decref(ev);
	return m;
}

/* One whole line of the worker's stderr (without its newline). */
static void
dump_event_line(struct dump_events *e, struct agent_session *s)
{
	json_t	*m;

	m = dump_event_ctl(e, json_loadb(e->line, e->len, 0, NULL));
	if (m != NULL) {
		agent_session_send_ctl(s, m);
		return;
	}
	e->line[e->len] = '\n';	/* not an event: passed on as it came */
	agent_session_send(s, PH_FRAME_STDERR, e->line, e->len + 1);
}

/* err_sink (op.h): the worker's stderr, as read. */
static void
dump_stderr(void *arg, struct agent_session *s, const uint8_t *p, size_t n)
{
	struct dump_events *e = arg;
	const uint8_t	*nl;
	size_t		 k;

	if (n == 0) {
		/* The end: a last line the worker did not end is still one. */
		if (e->proto >= 2 && e->len > 0 && !e->skip)
			dump_event_line(e, s);
		e->len = 0;
		return;
	}
	if (e->proto < 2) {
		agent_session_send(s, PH_FRAME_STDERR, p, n);
		return;
	}
	while (n > 0) {
		nl = memchr(p, '\n', n);
		k = nl != NULL ? (size_t)(nl - p) + 1 : n;
		if (!e->skip && e->len + k > DUMP_EVLINE_MAX) {
			/* Overlong: not an event; what is held goes first. */
			e->skip = 1;
			agent_session_send(s, PH_FRAME_STDERR, e->line, e->len);
			e->len = 0;
		}
		if (e->skip)
			agent_session_send(s, PH_FRAME_STDERR, p, k);
		else {
			memcpy(e->line + e->len, p, nl != NULL ? k - 1 : k);
			e->len += nl != NULL ? k - 1 : k;
			if (nl != NULL)
				dump_event_line(e, s);
		}
		if (nl != NULL) {
			e->len = 0;
			e->skip = 0;
		}
		p += k;
		n -= k;
	}
}

/* err_free */
static void
dump_events_free(void *arg)
{
	free(arg);
}

static int
dump_start(struct agent_session *s, json_t *open)
{
	json_t		*jpid = json_object_get(open, "pid");
	json_t		*jkind = json_object_get(open, "kind");
	json_t		*jtmp = json_object_get(open, "tmpdir");
	json_t		*argv, *req = NULL;
	struct op_exec_out out = { PH_FRAME_DATA, dump_stderr, dump_events_free, NULL };
	struct dump_events *ev;
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
	if (json_object_get(open, "container") != NULL) {
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
	if (json_object_get(open, "freeze") != NULL &&
	    !json_is_boolean(json_object_get(open, "freeze"))) {
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
	if (argv != NULL && json_is_true(json_object_get(open, "freeze")))
		json_array_append_new(argv, json_string("--freeze"));
	if (argv != NULL && tmpdir != NULL) {
		json_array_append_new(argv, json_string("--tmpdir"));
		json_array_append_new(argv, json_string(tmpdir));
	}
	/* A fresh request: nothing of the client's (timeout_ms, argv) reaches exec. */
	if (argv == NULL || (req = json_object()) == NULL ||
	    (ev = calloc(1, sizeof *ev)) == NULL) {
		json_decref(argv);
		json_decref(req);
		agent_session_fail(s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL, "out of memory");
		return -1;
	}
	ev->proto = ph_opensig_proto(open);
	ev->estimate = -1;
	out.arg = ev;
	ph_info("session %.8s: dump of pid %d (%s%s)", s->sid, (int)pid, kind,
	    json_is_true(json_object_get(open, "freeze")) ? ", freeze" : "");
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

const struct op_entry op_dump_entry = OP_HELPER_ENTRY("dump", dump_start, dump_input);
