/*
 * op-ps.c - the `ps` operation: every process of the container read from
 * /proc (no ps binary), with %cpu sampled over OP_PS_SAMPLE_MS, and the
 * container's cgroup memory use and limit.
 *
 * Reading /proc for every process, and waiting between the two CPU
 * samples, is slow work for an event loop.  So the agent runs it in a
 * helper child: porthole-agent re-executes itself (/proc/self/exe) as
 * `porthole-agent --op-ps`, under the exec operation's machinery (pipes in
 * the loop, flow control, kill on a lost session, reaping).  The helper
 * writes one JSON document on stdout and exits 0; the client renders it.
 * The client's argv is never executed: ps_start builds the helper's argv
 * (op-helper.c runs it), so `ps` scope cannot be turned into `exec`.
 *
 * The document (docs/protocol.md, "ps"):
 *   {"time": unix, "interval_ms": N, "cgroup": {version, usage, limit, path}
 *    or null, "processes": [{pid, ppid, uid, user, state, cpu, rss_kib,
 *    threads, fds, start, comm, command, kernel}, ...]}
 * The helper leaves itself out.  A process that vanishes between the
 * samples is left out; one that appears during the interval has no first
 * sample and shows cpu 0.  Names, argv, users and the cgroup path are
 * bytes the container chose: what is not valid UTF-8 goes as the text
 * \xHH (ph_utf8_repair), so that one process cannot make the document
 * unwritable for all.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "porthole/frame.h"
#include "porthole/printable.h"
#include "porthole/proc.h"
#include "porthole/util.h"

#include "agent.h"
#include "op.h"

#define OP_PS_SAMPLE_MS	500

static int
ps_start(struct agent_session *s, json_t *open)
{
	return op_helper_start(s, open, json_pack("[s]", OP_PS_FLAG));
}

const struct op_entry op_ps_entry = OP_HELPER_ENTRY("ps", ps_start, op_exec_input);

/* The helper side, in the child: no event loop here. */

struct ps_sample {
	pid_t		 pid;
	uint64_t	 ticks;
	int64_t		 start;
};

static int
ps_sample_cmp(const void *a, const void *b)
{
	pid_t	x = ((const struct ps_sample *)a)->pid, y = ((const struct ps_sample *)b)->pid;

	return x < y ? -1 : x > y;
}

static double
ps_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
op_ps_main(int argc, char **argv)
{
	struct ps_sample *first = NULL, key, *hit;
	struct ph_proc	 p;
	struct ph_cgmem	 cg;
	pid_t		*pids = NULL;
	size_t		 n = 0, nfirst = 0, i;
	int		 r;
	char		*user, *comm, *cmd, *cgpath;
	char		*cause = NULL;
	json_t		*doc, *procs, *o;
	double		 t0, t1, hz = (double)sysconf(_SC_CLK_TCK);
	struct timespec	 nap = { OP_PS_SAMPLE_MS / 1000, (OP_PS_SAMPLE_MS % 1000) * 1000000L };

	(void)argc;
	(void)argv;
	if (hz <= 0)
		hz = 100;
	/* First sample: CPU ticks of every process. */
	t0 = ps_now();
	if (ph_proc_pids("/", &pids, &n, &cause) != 0)
		goto fail;
	if ((first = calloc(n + 1, sizeof *first)) == NULL)
		goto oom;
	for (i = 0; i < n; i++) {
		memset(&p, 0, sizeof p);
		if (ph_proc_read("/", pids[i], &p, &cause) != 0) {
			free(cause);	/* vanished or unreadable: no first sample */
			cause = NULL;
			continue;
		}
		first[nfirst].pid = p.pid;
		first[nfirst].ticks = p.cpu_ticks;
		first[nfirst].start = p.start;
		nfirst++;
		ph_proc_clear(&p);
	}
	free(pids);
	pids = NULL;
	while (nanosleep(&nap, &nap) != 0 && errno == EINTR)
		;
	t1 = ps_now();

	/* Second sample: everything, %cpu from the difference. */
	if (ph_proc_pids("/", &pids, &n, &cause) != 0)
		goto fail;
	if ((doc = json_object()) == NULL || (procs = json_array()) == NULL)
		goto oom;
	for (i = 0; i < n; i++) {
		double	cpu;

		if (pids[i] == getpid())
			continue;	/* this helper is not the container's */
		memset(&p, 0, sizeof p);
		if (ph_proc_read("/", pids[i], &p, &cause) != 0) {
			free(cause);	/* vanished between the listing and the read */
			cause = NULL;
			continue;
		}
		key.pid = p.pid;
		hit = bsearch(&key, first, nfirst, sizeof *first, ps_sample_cmp);
		if (hit != NULL && hit->start == p.start && p.cpu_ticks >= hit->ticks)
			cpu = (double)(p.cpu_ticks - hit->ticks) / hz / (t1 - t0) * 100.0;
		else
			cpu = 0;
		user = ph_utf8_repair(p.user);
		comm = ph_utf8_repair(p.comm);
		cmd = ph_utf8_repair(p.cmdline != NULL ? p.cmdline : "");
		o = json_pack("{s:i, s:i, s:i, s:s, s:s#, s:f, s:I, s:i, s:i, s:I, s:s, s:s, s:b}",
		    "pid", (int)p.pid, "ppid", (int)p.ppid, "uid", (int)p.uid,
		    "user", user, "state", &p.state, 1,
		    "cpu", (double)(long)(cpu * 10 + 0.5) / 10,
		    "rss_kib", (json_int_t)p.rss_kib, "threads", p.threads, "fds", p.fds,
		    "start", (json_int_t)p.start, "comm", comm, "command", cmd,
		    "kernel", p.kernel);
		free(user);
		free(comm);
		free(cmd);
		ph_proc_clear(&p);
		if (o == NULL || json_array_append_new(procs, o) != 0)
			goto oom;
	}
	json_object_set_new(doc, "time", json_integer(ph_now()));
	json_object_set_new(doc, "interval_ms", json_integer((json_int_t)((t1 - t0) * 1000)));
	if (ph_cgmem_read("/", "/sys/fs/cgroup", getpid(), &cg, &cause) == 0 &&
	    cg.version != 0) {
		cgpath = ph_utf8_repair(cg.path);
		json_object_set_new(doc, "cgroup", json_pack("{s:i, s:I, s:I, s:s}",
		    "version", cg.version, "usage", (json_int_t)cg.usage,
		    "limit", (json_int_t)cg.limit, "path", cgpath));
		free(cgpath);
	} else {
		free(cause);
		cause = NULL;
		json_object_set_new(doc, "cgroup", json_null());
	}
	json_object_set_new(doc, "processes", procs);
	if ((r = op_helper_print("ps", doc)) != 0)
		return r;
	json_decref(doc);
	free(first);
	free(pids);
	return 0;
oom:
	cause = strdup("out of memory");
fail:
	fprintf(stderr, "ps: %s\n", cause != NULL ? cause : "failed");
	return 255;
}
