/*
 * op-mem.c - the `mem` operation: sample one process's memory
 * (smaps_rollup and status) and its cgroup's every interval, as JSON Lines.
 *
 * argv from the client: PID, then optionally EVERY_MS (default 1000,
 * 50..3600000) and FOR_MS (0 or absent: until the client goes away).  Like
 * `ps` (op-ps.c) the sampling runs in a helper child, `porthole-agent
 * --op-mem PID EVERY_MS FOR_MS`, under the exec machinery: the waiting
 * between samples never touches the agent's loop, and a client that leaves
 * gets the helper killed.
 *
 * Each sample is one line on stdout:
 *   {"t": unix seconds (real), "pid": N, "rss": KiB, "pss": KiB or null,
 *    "anon", "file", "shmem", "swap", "peak": KiB, "threads": N,
 *    "cg_usage": bytes, "cg_limit": bytes (0: none)}
 * The helper exits 0 when FOR_MS is over.  A process that exits ends it
 * with one line on stderr ("process N has exited") and status 255; a
 * permission error says what access is needed (same user or SYS_PTRACE),
 * also 255.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "porthole/frame.h"
#include "porthole/ops.h"
#include "porthole/proc.h"
#include "porthole/util.h"

#include "agent.h"
#include "op.h"

#define MEM_EVERY_MIN	50
#define MEM_EVERY_MAX	3600000
#define MEM_EVERY_DEF	1000

/* A decimal in [lo, hi], or -1. */
static long long
mem_number(const char *s, long long lo, long long hi)
{
	char		*end;
	long long	 v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return -1;
	return v;
}

static int
mem_start(struct agent_session *s, json_t *open)
{
	json_t		*argv = ph_open_get(open, "argv");
	const char	*a[3] = { NULL, NULL, NULL };
	long long	 pid, every = MEM_EVERY_DEF, dur = 0;
	size_t		 i, n = json_is_array(argv) ? json_array_size(argv) : 0;
	char		 bp[24], be[24], bd[24];

	for (i = 0; i < n && i < 3; i++)
		a[i] = json_string_value(json_array_get(argv, i));
	if (n < 1 || n > 3 || (pid = mem_number(a[0], 1, 0x7fffffff)) < 0 ||
	    (n >= 2 && (every = mem_number(a[1], MEM_EVERY_MIN, MEM_EVERY_MAX)) < 0) ||
	    (n >= 3 && (dur = mem_number(a[2], 0, 365LL * 86400 * 1000)) < 0)) {
		agent_session_fail(s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
		    "mem needs argv [PID, EVERY_MS (%d..%d), FOR_MS]", MEM_EVERY_MIN,
		    MEM_EVERY_MAX);
		return -1;
	}
	snprintf(bp, sizeof bp, "%lld", pid);
	snprintf(be, sizeof be, "%lld", every);
	snprintf(bd, sizeof bd, "%lld", dur);
	return op_helper_start(s, open, json_pack("[s, s, s, s]", OP_MEM_FLAG, bp, be, bd));
}

const struct op_entry op_mem_entry = OP_HELPER_ENTRY("mem", mem_start, op_exec_input);

/* The helper side, in the child. */

static double
mem_mono(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
op_mem_main(int argc, char **argv)
{
	struct ph_memstat m;
	struct ph_cgmem	 cg;
	struct timespec	 rt, nap;
	long long	 pid, every, dur;
	double		 t0, next, left;
	char		*cause = NULL, *line;
	json_t		*o;
	unsigned long	 samples = 0;

	if (argc != 4 || (pid = mem_number(argv[1], 1, 0x7fffffff)) < 0 ||
	    (every = mem_number(argv[2], MEM_EVERY_MIN, MEM_EVERY_MAX)) < 0 ||
	    (dur = mem_number(argv[3], 0, 365LL * 86400 * 1000)) < 0) {
		fprintf(stderr, "usage: porthole-agent %s PID EVERY_MS FOR_MS\n", OP_MEM_FLAG);
		return 255;
	}
	t0 = next = mem_mono();
	for (;;) {
		if (ph_memstat_read("/", (pid_t)pid, &m, &cause) != 0) {
			if (cause != NULL)
				fprintf(stderr, "%s\n", cause);
			else if (samples == 0)
				fprintf(stderr, "no process %lld\n", pid);
			else
				fprintf(stderr, "process %lld has exited\n", pid);
			return 255;
		}
		memset(&cg, 0, sizeof cg);
		if (ph_cgmem_read("/", "/sys/fs/cgroup", (pid_t)pid, &cg, &cause) != 0) {
			free(cause);
			cause = NULL;
		}
		clock_gettime(CLOCK_REALTIME, &rt);
		o = json_pack("{s:f, s:I, s:I, s:o, s:I, s:I, s:I, s:I, s:I, s:i, s:I, s:I}",
		    "t", (double)rt.tv_sec + (double)(rt.tv_nsec / 1000000) / 1e3,
		    "pid", (json_int_t)pid, "rss", (json_int_t)m.rss,
		    "pss", m.have_pss ? json_integer((json_int_t)m.pss) : json_null(),
		    "anon", (json_int_t)m.anon, "file", (json_int_t)m.file,
		    "shmem", (json_int_t)m.shmem, "swap", (json_int_t)m.swap,
		    "peak", (json_int_t)m.peak, "threads", m.threads,
		    "cg_usage", (json_int_t)cg.usage, "cg_limit", (json_int_t)cg.limit);
		if (o == NULL || (line = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(13))) == NULL) {
			fprintf(stderr, "out of memory\n");
			return 255;
		}
		json_decref(o);
		samples++;
		if (printf("%s\n", line) < 0 || fflush(stdout) != 0)
			return 255;	/* the session is gone */
		free(line);
		next += (double)every / 1000;
		if (dur > 0 && next - t0 > (double)dur / 1000 + 1e-6)
			return 0;
		left = next - mem_mono();
		if (left > 0) {
			nap.tv_sec = (time_t)left;
			nap.tv_nsec = (long)((left - (double)nap.tv_sec) * 1e9);
			while (nanosleep(&nap, &nap) != 0 && errno == EINTR)
				;
		}
	}
}
