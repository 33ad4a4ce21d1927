/*
 * dump-worker.c - `porthole-agent --op-dump ...`: the dump worker's main,
 * and its output (struct dump_out) and events.
 *
 * The worker is a child of the agent so that ptrace, /proc reads and
 * compression never run in the agent's event loop (dump.h has the whole
 * contract).  Its stdout carries the dump file as one zstd stream: every
 * byte a kind writes goes through dump_out_write, which compresses it
 * and writes the compressed bytes with full-write loops.  Nothing is
 * hashed here: the zstd frame carries its own checksum of the content
 * (XXH64, checked by every decompressor) and "done" the byte count, and
 * the CLI computes the sha256 of the file it writes -- a second SHA-256
 * of the same bytes in the worker cost a fifth of its CPU.
 *
 * Level: zstd's fast negative levels.  On a core's typical contents
 * (half low-entropy bytes, pointers, zero pages) level 1 compressed at
 * 140-180 MB/s on a loaded machine of two cores, --fast=4 at 1.3 GB/s for
 * an output 1.5 times larger (x1.9 instead of x3.9); the wire (TLS at
 * GB/s) takes the difference far more cheaply than the CPU (bench/dump-vs-gcore).  A slow reader blocks those
 * writes, and so the reading of memory: nothing is staged.  Its stderr
 * carries one JSON event per line; progress at most every 250 ms.
 *
 * SIGTERM, SIGHUP and SIGPIPE set a flag (dump_cancelled) and interrupt
 * the blocking call in progress (no SA_RESTART); SIGPIPE is also seen as
 * EPIPE on stdout.  Each kind checks the flag, undoes what it did to the
 * target and returns; the worker exits 1.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <zstd.h>

#include "dump.h"

#define DUMP_PROGRESS_NS	(250ULL * 1000 * 1000)
#define DUMP_LEVEL_DEFAULT	(-4)
#define DUMP_ZSTD_WORKERS	1
#define DUMP_PIPE_SZ		(1024 * 1024)	/* stdout's pipe, if it lets us */

struct dump_out {
	ZSTD_CCtx	*zc;
	uint8_t		*zbuf;		/* compressed output, ZSTD_CStreamOutSize() */
	size_t		 zlen;
	uint64_t	 bytes;		/* uncompressed bytes so far */
	uint64_t	 last;		/* when the last progress event went */
	uint64_t	 pause_us;
	int		 have_pause;
	int		 dead;		/* stdout gone: every write fails */
};

static volatile sig_atomic_t dump_stop;

static void
dump_on_signal(int sig)
{
	(void)sig;
	dump_stop = 1;
}

int
dump_cancelled(void)
{
	return dump_stop != 0;
}

uint64_t
dump_now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Write all of p on fd; -1 with errno (EPIPE; EINTR on a stop signal,
 * if stoppable: events still go out after one). */
static int
dump_full_write(int fd, const void *p, size_t n, int stoppable)
{
	const uint8_t	*b = p;
	ssize_t		 w;

	while (n > 0) {
		if (stoppable && dump_stop) {
			errno = EINTR;
			return -1;
		}
		if ((w = write(fd, b, n)) < 0) {
			if (errno == EINTR)
				continue;	/* dump_stop decides, if stoppable */
			return -1;
		}
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

void
dump_event(json_t *ev)
{
	char	*s;
	size_t	 n;

	if (ev == NULL)
		return;
	s = json_dumps(ev, JSON_COMPACT);
	json_decref(ev);
	if (s == NULL)
		return;
	n = strlen(s);
	s[n] = '\n';	/* json_dumps' terminator becomes the newline */
	(void)dump_full_write(2, s, n + 1, 0);
	free(s);
}

int
dump_error(const char *code, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	msg[strcspn(msg, "\n")] = '\0';
	dump_event(json_pack("{s:s, s:s, s:s}", "event", "error", "code", code,
	    "message", msg));
	return 1;
}

static int
dump_out_init(struct dump_out *o, int level)
{
	memset(o, 0, sizeof *o);
	o->zlen = ZSTD_CStreamOutSize();
	if ((o->zc = ZSTD_createCCtx()) == NULL ||
	    (o->zbuf = malloc(o->zlen)) == NULL)
		return -1;
	if (ZSTD_isError(ZSTD_CCtx_setParameter(o->zc, ZSTD_c_compressionLevel,
	    level != 0 ? level : DUMP_LEVEL_DEFAULT)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(o->zc, ZSTD_c_checksumFlag, 1)))
		return -1;
	/* Compress on a second thread while this one reads and hashes: the
	 * two halves of the work overlap.  A libzstd without threads says
	 * no, and everything runs here. */
	(void)ZSTD_CCtx_setParameter(o->zc, ZSTD_c_nbWorkers, DUMP_ZSTD_WORKERS);
	o->last = dump_now_ns();
	return 0;
}

static void
dump_out_free(struct dump_out *o)
{
	ZSTD_freeCCtx(o->zc);
	free(o->zbuf);
}

/* Feed in (possibly empty) to zstd with op, writing all it makes. */
static int
dump_out_push(struct dump_out *o, const void *p, size_t n, ZSTD_EndDirective op)
{
	ZSTD_inBuffer	 in = { p, n, 0 };
	ZSTD_outBuffer	 out;
	size_t		 left;

	for (;;) {
		out.dst = o->zbuf;
		out.size = o->zlen;
		out.pos = 0;
		left = ZSTD_compressStream2(o->zc, &out, &in, op);
		if (ZSTD_isError(left)) {
			errno = EIO;
			return -1;
		}
		if (out.pos > 0 && dump_full_write(1, o->zbuf, out.pos, 1) != 0) {
			o->dead = 1;
			return -1;
		}
		if (op == ZSTD_e_continue ? in.pos == in.size : left == 0)
			return 0;
	}
}

int
dump_out_write(struct dump_out *o, const void *p, size_t n)
{
	uint64_t	now;

	if (o->dead || dump_stop) {
		errno = o->dead ? EPIPE : EINTR;
		return -1;
	}
	if (n == 0)
		return 0;
	if (dump_out_push(o, p, n, ZSTD_e_continue) != 0)
		return -1;
	o->bytes += n;
	now = dump_now_ns();
	if (now - o->last >= DUMP_PROGRESS_NS) {
		o->last = now;
		dump_event(json_pack("{s:s, s:I}", "event", "progress",
		    "bytes", (json_int_t)o->bytes));
	}
	return 0;
}

uint64_t
dump_out_bytes(const struct dump_out *o)
{
	return o->bytes;
}

void
dump_out_set_pause(struct dump_out *o, uint64_t us)
{
	o->pause_us = us;
	o->have_pause = 1;
}

/* End the zstd frame and emit "done"; -1 if stdout is gone. */
static int
dump_out_finish(struct dump_out *o)
{
	if (o->dead || dump_stop || dump_out_push(o, NULL, 0, ZSTD_e_end) != 0)
		return -1;
	dump_event(json_pack("{s:s, s:I, s:o}", "event", "done",
	    "bytes", (json_int_t)o->bytes,
	    "pause_us", o->have_pause ? json_integer((json_int_t)o->pause_us) :
	    json_null()));
	return 0;
}

/* auto: jvm if the executable is java or libjvm.so is mapped, node if it
 * is node or nodejs, else core. */
static enum dump_kind
dump_guess(pid_t pid)
{
	char	 path[64], exe[PATH_MAX], *base, *line = NULL;
	ssize_t	 n;
	size_t	 cap = 0;
	FILE	*f;
	enum dump_kind kind = DUMP_CORE;

	snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
	if ((n = readlink(path, exe, sizeof exe - 1)) > 0) {
		exe[n] = '\0';
		if ((base = strrchr(exe, '/')) != NULL)
			base++;
		else
			base = exe;
		if (strcmp(base, "java") == 0)
			return DUMP_JVM;
		if (strcmp(base, "node") == 0 || strcmp(base, "nodejs") == 0)
			return DUMP_NODE;
	}
	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return DUMP_CORE;
	while (getline(&line, &cap, f) > 0) {
		if (strstr(line, "/libjvm.so") != NULL) {
			kind = DUMP_JVM;
			break;
		}
	}
	free(line);
	fclose(f);
	return kind;
}

static int
dump_usage(void)
{
	return dump_error("internal", "usage: porthole-agent %s --kind "
	    "auto|core|jvm|node --pid PID [--freeze] [--tmpdir DIR] [--level N]",
	    OP_DUMP_FLAG);
}

int
op_dump_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "kind", required_argument, NULL, 'k' },
		{ "pid", required_argument, NULL, 'p' },
		{ "freeze", no_argument, NULL, 'f' },
		{ "tmpdir", required_argument, NULL, 't' },
		{ "level", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 }
	};
	struct dump_req		r;
	struct dump_out		o;
	struct sigaction	sa;
	char			*end;
	long			 v;
	int			 c, rc;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = dump_on_signal;	/* no SA_RESTART: interrupt and stop */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* The agent blocks signals in its threads: undo that here. */
	{
		sigset_t	ss;

		sigemptyset(&ss);
		sigprocmask(SIG_SETMASK, &ss, NULL);
	}

	memset(&r, 0, sizeof r);
	r.kind = DUMP_AUTO;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'k':
			if (strcmp(optarg, "auto") == 0)
				r.kind = DUMP_AUTO;
			else if (strcmp(optarg, "core") == 0)
				r.kind = DUMP_CORE;
			else if (strcmp(optarg, "jvm") == 0)
				r.kind = DUMP_JVM;
			else if (strcmp(optarg, "node") == 0)
				r.kind = DUMP_NODE;
			else
				return dump_usage();
			break;
		case 'p':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || v <= 0 || v > INT_MAX)
				return dump_error("no_such_process",
				    "no such process: %s", optarg);
			r.pid = (pid_t)v;
			break;
		case 'f':
			r.freeze = 1;
			break;
		case 't':
			r.tmpdir = optarg;
			break;
		case 'l':
			v = strtol(optarg, &end, 10);
			if (*end != '\0' || v == 0 || v < ZSTD_minCLevel() ||
			    v > ZSTD_maxCLevel())
				return dump_usage();
			r.level = (int)v;
			break;
		default:
			return dump_usage();
		}
	}
	if (optind != argc || r.pid == 0)
		return dump_usage();
	if (r.kind == DUMP_AUTO)
		r.kind = dump_guess(r.pid);

	/* A pipe of 1 MiB (the unprivileged limit) rather than 64 KiB: the
	 * worker and the agent take turns on it far less often (one
	 * compressed block of up to 128 KiB no longer fills it twice).
	 * Still bounded; on a pipe that cannot grow (or not a pipe) as is. */
	(void)fcntl(1, F_SETPIPE_SZ, DUMP_PIPE_SZ);
	if (dump_out_init(&o, r.level) != 0) {
		dump_out_free(&o);
		return dump_error("internal", "out of memory");
	}
	switch (r.kind) {
	case DUMP_CORE:
		rc = dump_core(&r, &o);
		break;
	case DUMP_JVM:
		rc = dump_jvm(&r, &o);
		break;
	case DUMP_NODE:
		rc = dump_node(&r, &o);
		break;
	default:
		rc = dump_error("internal", "unknown dump kind");
		break;
	}
	if (rc == 0 && dump_out_finish(&o) != 0)
		rc = dump_error("cancelled", "dump stopped: %s", dump_stop ?
		    "asked to stop" : "the output was closed");
	dump_out_free(&o);
	return rc == 0 ? 0 : 1;
}

/*
 * The crash tracer's worker (agent-tracer.c): a child of the tracer, with
 * s held stopped by it; the same output and events as op_dump_main's.
 */
int
dump_worker_held(struct dump_snap *s)
{
	struct dump_req		r;
	struct dump_out		o;
	struct sigaction	sa;
	int			rc;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = dump_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	memset(&r, 0, sizeof r);
	r.kind = DUMP_CORE;
	r.pid = s->pid;
	r.freeze = 1;		/* the stop is the crash's: no fallback to explain */
	(void)fcntl(1, F_SETPIPE_SZ, DUMP_PIPE_SZ);
	if (dump_out_init(&o, 0) != 0) {
		dump_out_free(&o);
		return dump_error("internal", "out of memory");
	}
	rc = dump_core_held(&r, &o, s);
	if (rc == 0 && dump_out_finish(&o) != 0)
		rc = dump_error("cancelled", "dump stopped: %s", dump_stop ?
		    "asked to stop" : "the output was closed");
	dump_out_free(&o);
	return rc == 0 ? 0 : 1;
}
