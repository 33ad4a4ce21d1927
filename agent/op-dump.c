/*
 * op-dump.c - the `dump` operation: a core, JVM heap or Node.js heap dump
 * of a process, streamed to the client.
 *
 * Everything slow (ptrace, reading the target's memory, HotSpot attach,
 * the inspector, zstd) happens in the dump worker (dump.h), a child the
 * agent starts as `porthole-agent --op-dump ...` under the exec machinery:
 * its stdout (the file as one zstd stream) goes out as DATA frames, its
 * stderr (JSON event lines) as STDERR frames, both paused while the
 * session's queue is above its high mark, so a slow operator's disk
 * blocks the worker in write(2) instead of growing the agent.  The
 * worker's exit status comes back as `exit`.
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

static int
dump_start(struct agent_session *s, json_t *open)
{
	json_t		*jpid = ph_open_get(open, "pid");
	json_t		*jkind = ph_open_get(open, "kind");
	json_t		*jtmp = ph_open_get(open, "tmpdir");
	static const struct op_exec_out out = { .out_type = PH_FRAME_DATA };
	json_t		*argv, *req;
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
	if (argv == NULL || (req = json_object()) == NULL) {
		json_decref(argv);
		agent_session_fail(s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL, "out of memory");
		return -1;
	}
	ph_info("session %.8s: dump of pid %d (%s%s)", s->sid, (int)pid, kind,
	    json_is_true(ph_open_get(open, "freeze")) ? ", freeze" : "");
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
