/*
 * cmd-dump.c - `porthole dump TARGET PID [--kind auto|core|jvm|node]
 * [--freeze] [--tmpdir DIR] [-o FILE] [--force]`: a core, JVM heap or
 * Node.js heap dump of a process on an agent, written to a local file that
 * gdb, Eclipse MAT or Chrome DevTools opens.
 *
 * The agent's dump worker (agent/dump.h) sends the file as one zstd stream
 * in DATA frames and its events: "start" (kind, mode, fallback reason,
 * pause, size estimate), "progress", "done" (size of the file; an older
 * worker adds its sha256) or "error" (a message for the operator).  An
 * agent of protocol 3 sends them as CONTROL `meta` {phase ...} and
 * `progress` messages (dump_ctl), one of protocol 2 as JSON lines on
 * STDERR (dump_event); both are read, whichever comes.
 *
 * The file: decompressed on the loop (libzstd, streaming; the frame's
 * content checksum, XXH64, is checked by the decompressor), then hashed
 * (SHA-256, the figure the summary prints) and written, unnamed, into the
 * destination directory (O_TMPFILE) by the writer thread of dump-sink.c,
 * so that decompression overlaps hashing and writing.  Whole 4 KiB blocks
 * of zeros (memory never written) are not written but skipped over, as
 * the kernel's own core dumps do: the file is sparse, reads the same, and
 * costs the disk only what it holds.  The disk's writeback starts as the
 * file grows, so the fsync at the end finds little left to write.  Only once the worker said "done",
 * its exit status is 0, the zstd stream ended cleanly (checksum
 * included) and our byte count equals its own (and our sha256 its, if it
 * sent one), the file is fsync'd, linked as FILE.partial (failing if that
 * exists, like O_EXCL), renamed to FILE and the directory fsync'd.  So a
 * failure of any kind, even SIGKILL of the CLI, leaves neither FILE nor
 * FILE.partial behind.  On a filesystem without O_TMPFILE, FILE.partial
 * is created with O_EXCL at the start and unlinked on every failure the
 * CLI lives to see.  The file is mode 0600: a core holds the process's
 * secrets.
 *
 * FILE: -o FILE, or by the kind the worker names in "start":
 * core.NAME.PID, NAME.PID.hprof, NAME.PID.heapsnapshot (NAME: the agent's
 * name) in the current directory, or in -o DIR when DIR is a directory.
 * An existing FILE is never replaced unless --force is given (then it is,
 * atomically, by rename).
 *
 * Flow control: the loop decompresses into the sink's buffers (a few of
 * 1 MiB); while all of them wait for the writer (a slow disk) the loop
 * waits for one and reads nothing from the relay, so TCP pushes back
 * through the relay and the agent to the worker, which blocks in
 * write(2).  Memory stays at one frame and those buffers whatever the
 * disk's speed.
 *
 * Progress (bytes, rate, ETA when "start" gave an estimate) goes to
 * stderr, through the writer thread, at most 4 times a second, and only
 * when stderr is a terminal.  The end: one summary line on stderr (file,
 * size, sha256, kind, mode with the fallback reason, how long the app was
 * paused), exit 0.  Any failure: one "porthole: dump: ..." line, the
 * partial file removed, exit 255.  SIGINT/SIGTERM: the session is closed
 * (the agent stops the worker, which leaves the app running), the partial
 * removed, exit 255 -- as cp, and as exec once it stops waiting for the
 * remote program.
 *
 * The session itself (agent, loop, `exit`, `error`, bounded stops) is
 * client-run.c's; this file keeps the file, the events and the verdict.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "porthole/duration.h"
#include "porthole/frame.h"
#include "porthole/printable.h"
#include "porthole/protocol.h"
#include "porthole/util.h"

#include "client-exit.h"
#include "client-conn.h"
#include "client-io.h"
#include "client-progress.h"
#include "client-run.h"
#include "client-signal.h"
#include "client-target.h"
#include "client-units.h"
#include "cmd.h"
#include "dump-sink.h"

#define DUMP_LINE_MAX		(16 * 1024)	/* one event line from the worker */

struct dump {
	struct client_run	 run;		/* agent, session, outcome */
	/* The run's, named for the file's side. */
	struct client_io	*io;		/* set once the session is up */
	const char		*name;		/* the agent's, printable */
	const char		*id;
	const char		*sid;

	/* What was asked. */
	long			 pid;
	const char		*kind;		/* auto|core|jvm|node */
	int			 freeze;
	const char		*tmpdir;
	int			 force;

	/* The file. */
	char			*dir;		/* destination directory, as given */
	int			 dirfd;
	char			*base;		/* FILE's name in dir; NULL until known */
	char			*partial;	/* FILE.partial's name in dir (named) */
	int			 fd;		/* the file being written, or -1 */
	int			 unnamed;	/* fd is O_TMPFILE: no name yet */
	int			 named;		/* partial exists under its name */
	ZSTD_DCtx		*z;
	size_t			 zret;		/* last ZSTD_decompressStream: 0 = frame ended */
	struct dump_sink	*sink;		/* hashes and writes (dump-sink.h) */
	uint8_t			*obuf;		/* the sink's buffer being filled */
	size_t			 olen;
	uint64_t		 written;	/* decompressed so far */

	/* The worker's events. */
	char			 line[DUMP_LINE_MAX + 1];
	size_t			 linelen;
	int			 line_skip;	/* inside an overlong line */
	int			 got_start;
	char			*ev_kind, *ev_mode, *ev_reason;
	int64_t			 pause_us;	/* -1: not known */
	int64_t			 estimate;	/* -1: not known */
	int			 got_done;
	uint64_t		 done_bytes;
	char			 done_sha[65];
	char			*werr;		/* "error" event message */
	char			*wcode;
	char			*noise;		/* first line that was not an event */

	/* Ours. */
	char			*cause;		/* our own failure */
	int			 interrupted;

	struct client_progress	 prog;		/* on when stderr is a terminal */
	int64_t			 t0;
};

static const char *
dump_display(struct dump *d, const char *leaf)
{
	static char	buf[4096 + 256];

	if (strcmp(d->dir, ".") == 0)
		snprintf(buf, sizeof buf, "%s", leaf);
	else
		snprintf(buf, sizeof buf, "%s%s%s", d->dir,
		    d->dir[strlen(d->dir) - 1] == '/' ? "" : "/", leaf);
	return buf;
}

/* Give up: keep the first cause (stolen), close the session now. */
static void
dump_abort(struct dump *d, char *cause)
{
	if (d->cause == NULL)
		d->cause = cause != NULL ? cause : strdup("out of memory");
	else
		free(cause);
	client_run_abort(&d->run, CLIENT_RUN_ABORT_COMMAND, "client done");
}

/* Sizes for people: the CLI's one human size (client-units.c). */
static void
dump_human(char *buf, size_t len, double v)
{
	client_units_size(v, buf, len);
}

/* The progress line (client-progress.c, shared with cp). */
static void
dump_progress(struct dump *d)
{
	d->prog.io = d->io;
	client_progress_update(&d->prog, d->written, d->estimate);
}

/* The default name for kind, in dir; malloc'd. */
static char *
dump_default_name(struct dump *d, const char *kind)
{
	char	*n, *p;

	if ((n = strdup(d->name[0] != '\0' ? d->name : "agent")) == NULL)
		return NULL;
	for (p = n; *p != '\0'; p++) {
		if (*p == '/' || *p == '?' || *p == ' ' || *p == '\\')
			*p = '_';
	}
	if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
		n[0] = '_';
	if (strcmp(kind, "jvm") == 0)
		p = ph_asprintf("%s.%ld.hprof", n, d->pid);
	else if (strcmp(kind, "node") == 0)
		p = ph_asprintf("%s.%ld.heapsnapshot", n, d->pid);
	else
		p = ph_asprintf("core.%s.%ld", n, d->pid);
	free(n);
	return p;
}

/* FILE is decided: refuse an existing one (unless --force). */
static int
dump_name_file(struct dump *d, char *base, char **cause)
{
	struct stat	st;
	char		*partial;

	if (!d->force && fstatat(d->dirfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		*cause = ph_asprintf("dump: %s exists; remove it, name another "
		    "file with -o, or replace it with --force", dump_display(d, base));
		free(base);
		return -1;
	}
	if ((partial = ph_asprintf("%s.partial", base)) == NULL) {
		free(base);
		*cause = strdup("out of memory");
		return -1;
	}
	/* Without O_TMPFILE the file already has a provisional name: move it. */
	if (d->named && renameat2(d->dirfd, d->partial, d->dirfd, partial,
	    RENAME_NOREPLACE) != 0) {
		*cause = ph_asprintf("dump: cannot create %s: %s",
		    dump_display(d, partial), strerror(errno));
		free(partial);
		free(base);
		return -1;
	}
	d->base = base;
	if (d->partial != NULL) {
		free(d->partial);
		d->partial = NULL;
	}
	d->partial = partial;
	return 0;
}

/*
 * Open the file: unnamed (O_TMPFILE) in the destination directory, else
 * FILE.partial (or, while FILE is not known yet, a provisional name) with
 * O_EXCL.
 */
static int
dump_open_file(struct dump *d, char **cause)
{
	char	*prov;

	d->fd = openat(d->dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	if (d->fd >= 0) {
		d->unnamed = 1;
		return 0;
	}
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL && errno != ENOENT) {
		*cause = ph_asprintf("dump: cannot create a file in %s: %s", d->dir,
		    strerror(errno));
		return -1;
	}
	if (d->partial != NULL)
		prov = strdup(d->partial);
	else
		prov = ph_asprintf(".porthole-dump.%ld.%s.partial", d->pid, d->sid);
	if (prov == NULL) {
		*cause = strdup("out of memory");
		return -1;
	}
	d->fd = openat(d->dirfd, prov, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (d->fd < 0) {
		*cause = ph_asprintf("dump: cannot create %s: %s%s", dump_display(d, prov),
		    strerror(errno), errno == EEXIST ? " (another dump writing it, or "
		    "one that was killed: remove it)" : "");
		free(prov);
		return -1;
	}
	free(d->partial);
	d->partial = prov;
	d->named = 1;
	return 0;
}

/* Why the sink failed, for the operator; malloc'd. */
static char *
dump_sink_cause(struct dump *d)
{
	int	err = dump_sink_errno(d->sink);

	if (dump_sink_hash_failed(d->sink))
		return strdup("dump: sha256 failed");
	return ph_asprintf("dump: cannot write %s: %s%s; the partial file was "
	    "removed", dump_display(d, d->named ? d->partial : d->base != NULL ?
	    d->base : "the dump"), strerror(err), err == ENOSPC || err == EDQUOT ?
	    " (the disk is full)" : "");
}

/*
 * One DATA payload: part of the zstd stream, decompressed straight into
 * the sink's buffer, which goes to the writer thread once full.  Waiting
 * for a free buffer blocks the loop: that is the flow control.
 */
static void
dump_data(struct dump *d, const uint8_t *p, size_t n)
{
	ZSTD_inBuffer	in = { p, n, 0 };
	ZSTD_outBuffer	out;
	size_t		r;

	do {
		if (d->obuf == NULL && (d->obuf = dump_sink_get(d->sink)) == NULL) {
			dump_abort(d, dump_sink_cause(d));
			return;
		}
		out.dst = d->obuf;
		out.size = DUMP_SINK_BUF;
		out.pos = d->olen;
		r = ZSTD_decompressStream(d->z, &out, &in);
		if (ZSTD_isError(r)) {
			dump_abort(d, ph_asprintf("dump: the stream from %s is corrupt "
			    "(zstd: %s)", d->name, ZSTD_getErrorName(r)));
			return;
		}
		d->zret = r;
		d->written += out.pos - d->olen;
		d->olen = out.pos;
		if (out.pos == out.size) {
			d->obuf = NULL;
			d->olen = 0;
			if (dump_sink_put(d->sink, DUMP_SINK_BUF) != 0) {
				dump_abort(d, dump_sink_cause(d));
				return;
			}
		}
	} while (in.pos < in.size || out.pos == out.size);
	dump_progress(d);
}

static char *
dump_jstr(json_t *o, const char *key)
{
	const char	*s = json_string_value(json_object_get(o, key));

	return s != NULL ? client_printable(s) : NULL;
}

static int64_t
dump_jint(json_t *o, const char *key)
{
	json_t	*v = json_object_get(o, key);

	return json_is_integer(v) && json_integer_value(v) >= 0 ? json_integer_value(v) : -1;
}

/*
 * "start": the kind is known, so is the default FILE.  mode_key: where the
 * mode is ("mode" in an event line, "method" in a `meta`).
 */
static void
dump_ev_start(struct dump *d, json_t *ev, const char *mode_key)
{
	char	*cause = NULL, *base;

	if (d->got_start++)
		return;
	d->ev_kind = dump_jstr(ev, "kind");
	d->ev_mode = dump_jstr(ev, mode_key);
	d->ev_reason = dump_jstr(ev, "reason");
	d->pause_us = dump_jint(ev, "pause_us");
	d->estimate = dump_jint(ev, "estimate");
	if (d->base != NULL)
		return;
	if (d->ev_kind == NULL || (strcmp(d->ev_kind, "core") != 0 &&
	    strcmp(d->ev_kind, "jvm") != 0 && strcmp(d->ev_kind, "node") != 0)) {
		dump_abort(d, ph_asprintf("dump: the agent's worker named no known kind "
		    "(%s): use -o FILE", d->ev_kind != NULL ? d->ev_kind : "none"));
		return;
	}
	if ((base = dump_default_name(d, d->ev_kind)) == NULL ||
	    dump_name_file(d, base, &cause) != 0)
		dump_abort(d, cause);
}

/* "done": the size of the file (bytes_key: "bytes" in a line, "size" in a `meta`). */
static void
dump_ev_done(struct dump *d, json_t *ev, const char *bytes_key)
{
	const char	*sha;
	int64_t		 v;

	d->got_done = 1;
	d->done_bytes = (v = dump_jint(ev, bytes_key)) >= 0 ? (uint64_t)v : 0;
	/* Sent by workers before the zstd checksum took its place. */
	sha = json_string_value(json_object_get(ev, "sha256"));
	/* Kept escaped: a hex digest is its own escape; anything else is quoted. */
	ph_printable_buf(d->done_sha, sizeof d->done_sha, sha != NULL ? sha : "",
	    sha != NULL ? strlen(sha) : 0);
	if ((v = dump_jint(ev, "pause_us")) >= 0)
		d->pause_us = v;
}

static void
dump_ev_error(struct dump *d, json_t *ev)
{
	if (d->werr == NULL) {
		d->werr = dump_jstr(ev, "message");
		d->wcode = dump_jstr(ev, "code");
	}
}

/* One line of the worker's stderr (an agent of protocol 2's events). */
static void
dump_event(struct dump *d, char *line, size_t len)
{
	json_t		*ev;
	const char	*what;

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
		line[--len] = '\0';
	if (len == 0)
		return;
	ev = json_loadb(line, len, 0, NULL);
	what = json_string_value(json_object_get(ev, "event"));
	if (what == NULL) {
		/* Not an event (a crash report?): kept for the verdict. */
		if (d->noise == NULL)
			d->noise = client_printable(line);
		json_decref(ev);
		return;
	}
	if (strcmp(what, "start") == 0)
		dump_ev_start(d, ev, "mode");
	else if (strcmp(what, "done") == 0)
		dump_ev_done(d, ev, "bytes");
	else if (strcmp(what, "error") == 0)
		dump_ev_error(d, ev);
	/* "progress": our own count is closer to the disk. */
	json_decref(ev);
}

/*
 * A CONTROL `meta` of the dump (an agent of protocol 3): its phase says
 * which event it is (docs/protocol.md, "dump").  `progress`: only its
 * total, for an ETA when "start" gave no estimate; our own count is
 * closer to the disk.
 */
static void
dump_ctl(struct dump *d, const struct ph_frame *f)
{
	const char	*phase = json_string_value(json_object_get(f->json, "phase"));
	int64_t		 total;

	if (f->ctl == PH_CTL_PROGRESS) {
		if (d->estimate < 0 && (total = dump_jint(f->json, "total")) > 0)
			d->estimate = total;
		return;
	}
	if (f->ctl != PH_CTL_META || phase == NULL)
		return;
	if (strcmp(phase, "start") == 0)
		dump_ev_start(d, f->json, "method");
	else if (strcmp(phase, "done") == 0)
		dump_ev_done(d, f->json, "size");
	else if (strcmp(phase, "error") == 0)
		dump_ev_error(d, f->json);
}

/* A STDERR payload: split into lines, each at most DUMP_LINE_MAX. */
static void
dump_stderr(struct dump *d, const uint8_t *p, size_t n)
{
	const uint8_t	*nl;
	size_t		 k;

	while (n > 0) {
		nl = memchr(p, '\n', n);
		k = nl != NULL ? (size_t)(nl - p) : n;
		if (!d->line_skip) {
			if (k > DUMP_LINE_MAX - d->linelen) {
				d->line_skip = 1;	/* too long to be an event */
				if (d->noise == NULL)
					d->noise = strdup("an overlong line");
			} else {
				memcpy(d->line + d->linelen, p, k);
				d->linelen += k;
			}
		}
		if (nl == NULL)
			return;
		if (!d->line_skip) {
			d->line[d->linelen] = '\0';
			dump_event(d, d->line, d->linelen);
		}
		d->linelen = 0;
		d->line_skip = 0;
		p += k + 1;
		n -= k + 1;
	}
}

/*
 * Test only: PORTHOLE_TEST_PROTOCOL=N (1 to PH_PROTOCOL_VERSION) makes the
 * open state protocol N when that is lower than the session's, as a CLI
 * of N would: tests/e2e/dump_proto.sh checks an agent of 3 still sends a
 * CLI of 2 its events as STDERR lines.  Nothing else of the CLI changes.
 */
static void
dump_test_protocol(json_t *open)
{
	const char	*env = getenv("PORTHOLE_TEST_PROTOCOL");
	json_int_t	 p = json_integer_value(json_object_get(open, "proto"));
	char		*end;
	long		 n;

	if (env == NULL || *env == '\0')
		return;
	n = strtol(env, &end, 10);
	if (*end == '\0' && n >= 1 && n < p)
		json_object_set_new(open, "proto", json_integer(n));
}

static void
dump_open(void *arg)
{
	struct dump	*d = arg;
	json_t		*m;

	d->io = d->run.io;
	if ((m = client_open_new(d->sid, d->run.agent, "dump",
	    NULL)) == NULL || json_object_update_new(m, json_pack("{s:I, s:s, s:b}",
	    "pid", (json_int_t)d->pid, "kind", d->kind, "freeze", d->freeze)) != 0) {
		json_decref(m);
		dump_abort(d, strdup("out of memory"));
		return;
	}
	if (d->tmpdir != NULL)
		json_object_set_new(m, "tmpdir", json_string(d->tmpdir));
	dump_test_protocol(m);
	client_run_send_open(&d->run, m);
}

/* The file and the worker's events; `exit` and `error` are the run's. */
static int
dump_frame(void *arg, const struct ph_frame *f)
{
	struct dump	*d = arg;

	if (d->cause != NULL || d->interrupted)
		return 1;	/* given up: nothing more counts */
	switch (f->type) {
	case PH_FRAME_DATA:
		if (d->run.got_exit) {
			dump_abort(d, strdup("dump: the agent sent data after the worker's exit"));
			return 1;
		}
		dump_data(d, f->payload, f->len);
		return 1;
	case PH_FRAME_STDERR:
		dump_stderr(d, f->payload, f->len);
		return 1;
	case PH_FRAME_STDOUT:
		dump_abort(d, ph_asprintf("dump: agent %s sent output where a dump "
		    "stream was expected: is it older than this CLI?", d->name));
		return 1;
	case PH_FRAME_CONTROL:
		break;
	default:
		return 1;
	}
	dump_ctl(d, f);
	if (f->ctl == PH_CTL_EXIT && d->linelen > 0 && !d->line_skip) {
		/* The worker's last line, if it did not end it. */
		d->line[d->linelen] = '\0';
		dump_event(d, d->line, d->linelen);
		d->linelen = 0;
	}
	return f->ctl == PH_CTL_EXIT || f->ctl == PH_CTL_ERROR ? 0 : 1;
}

/* Any signal: close the session; the agent stops the worker. */
static void
dump_signal(void *arg, int sig)
{
	struct dump	*d = arg;

	(void)sig;
	if (!d->interrupted && !d->run.got_exit) {
		d->interrupted = 1;
		client_run_abort(&d->run, CLIENT_RUN_ABORT_SIGNAL, "client interrupted");
	}
}

static const struct client_run_ops dump_ops = {
	.open = dump_open,
	.signal = dump_signal,
	.frame = dump_frame,
};

/* After the loop: is the file whole and exactly what the worker wrote? */
static char *
dump_verdict(struct dump *d)
{
	struct client_run	*r = &d->run;
	uint8_t			 md[32];
	uint64_t		 sunk;
	unsigned int		 i;
	char			 hex[65];

	if (d->interrupted)
		return ph_asprintf("dump interrupted: closed the session (the agent stops "
		    "the worker and leaves process %ld running); no file was written",
		    d->pid);
	if (d->cause != NULL)
		return strdup(d->cause);
	if (d->werr != NULL)
		return ph_asprintf("dump: %s", d->werr);
	if (r->err_code != NULL || !r->got_exit) {
		/* Every line of dump's says "dump: " first, as the worker's do. */
		char *why = client_run_failure(r, "dump", "no file was written");
		char *line = why != NULL ? ph_asprintf("dump: %s", why) : NULL;

		free(why);
		return line;
	}
	if (r->status != 0)
		return ph_asprintf("dump: the dump worker on %s %s %d%s%s; no file was "
		    "written", d->name, r->status > 128 ? "died of signal" : "exited",
		    r->status > 128 ? r->status - 128 : r->status,
		    d->noise != NULL || r->exit_message != NULL ? ": " : "",
		    d->noise != NULL ? d->noise : r->exit_message != NULL ?
		    r->exit_message : "");
	if (!d->got_done)
		return ph_asprintf("dump: the dump worker on %s ended without saying "
		    "\"done\"; no file was written", d->name);
	if (d->base == NULL)
		return strdup("dump: the worker never said what it dumped; no file was "
		    "written");
	if (d->zret != 0)
		return ph_asprintf("dump: the stream ended early (truncated zstd stream) "
		    "after %llu bytes; no file was written",
		    (unsigned long long)d->written);
	/* The last, partial buffer; then wait for the writer. */
	if (dump_sink_put(d->sink, d->olen) != 0 ||
	    dump_sink_finish(d->sink, md, &sunk) != 0)
		return dump_sink_cause(d);
	d->obuf = NULL;
	if (sunk != d->written)
		return ph_asprintf("dump: wrote %llu of %llu bytes; no file was written",
		    (unsigned long long)sunk, (unsigned long long)d->written);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (d->written != d->done_bytes)
		return ph_asprintf("dump: what arrived (%llu bytes) is not what the "
		    "worker sent (%llu bytes); no file was written",
		    (unsigned long long)d->written, (unsigned long long)d->done_bytes);
	if (d->done_sha[0] != '\0' && strcmp(hex, d->done_sha) != 0)
		return ph_asprintf("dump: what arrived (sha256 %s) is not what the "
		    "worker sent (sha256 %s); no file was written", hex, d->done_sha);
	memcpy(d->done_sha, hex, sizeof hex);
	return NULL;
}

/* Make the verified file durable under its final name. */
static char *
dump_commit(struct dump *d)
{
	char	 proc[64];

	if (ftruncate(d->fd, (off_t)d->written) != 0 || fsync(d->fd) != 0)
		return ph_asprintf("dump: cannot write %s: %s%s", dump_display(d,
		    d->partial != NULL ? d->partial : d->base), strerror(errno),
		    errno == ENOSPC ? " (the disk is full)" : "");
	if (d->unnamed) {
		snprintf(proc, sizeof proc, "/proc/self/fd/%d", d->fd);
		if (linkat(AT_FDCWD, proc, d->dirfd, d->partial, AT_SYMLINK_FOLLOW) != 0)
			return ph_asprintf("dump: cannot create %s: %s",
			    dump_display(d, d->partial), strerror(errno));
		d->named = 1;
	}
	if (renameat2(d->dirfd, d->partial, d->dirfd, d->base,
	    d->force ? 0 : RENAME_NOREPLACE) != 0)
		return ph_asprintf("dump: cannot rename %s to %s: %s", d->partial,
		    dump_display(d, d->base), strerror(errno));
	d->named = 0;
	(void)fsync(d->dirfd);
	return NULL;
}

static void
dump_summary(struct dump *d)
{
	char	size[32], pause[48], mode[256], took[PH_DURATION_FMT_MAX];
	char	paused[PH_DURATION_FMT_MAX];
	int64_t	el = ph_mono_ms() - d->t0;

	dump_human(size, sizeof size, (double)d->written);
	if (d->pause_us >= 0)
		snprintf(pause, sizeof pause, "app paused %s",
		    ph_duration_fmt_us(d->pause_us, paused, sizeof paused));
	else
		snprintf(pause, sizeof pause, "app pause not measured");
	snprintf(mode, sizeof mode, "%s%s%s%s", d->ev_mode != NULL ? d->ev_mode : "?",
	    d->ev_reason != NULL ? " (" : "", d->ev_reason != NULL ? d->ev_reason : "",
	    d->ev_reason != NULL ? ")" : "");
	fprintf(stderr, "dump: wrote %s: %llu bytes (%s), sha256 %s, kind %s, mode %s, "
	    "%s, %s in all\n", dump_display(d, d->base),
	    (unsigned long long)d->written, size, d->done_sha,
	    d->ev_kind != NULL ? d->ev_kind : "?", mode, pause,
	    ph_duration_fmt(el, took, sizeof took));
}

/* -o: split into directory and name; a directory means "the default name in it". */
static int
dump_output(struct dump *d, const char *out, char **cause)
{
	struct stat	 st;
	const char	*slash;

	if (out == NULL || (stat(out, &st) == 0 && S_ISDIR(st.st_mode))) {
		d->dir = strdup(out != NULL ? out : ".");
		return d->dir != NULL ? 0 : -1;
	}
	if ((slash = strrchr(out, '/')) == NULL) {
		d->dir = strdup(".");
		d->base = strdup(out);
	} else {
		d->dir = slash == out ? strdup("/") : strndup(out, (size_t)(slash - out));
		d->base = strdup(slash + 1);
	}
	if (d->dir == NULL || d->base == NULL)
		return -1;
	if (d->base[0] == '\0' || strcmp(d->base, ".") == 0 || strcmp(d->base, "..") == 0) {
		*cause = ph_asprintf("dump: -o %s: not a file name", out);
		return -1;
	}
	return 0;
}

/*
 * The command line into d (the target in *target): 0, or the exit status
 * after a usage error.
 */
static int
dump_args(struct dump *d, struct client_conf *conf, int argc, char **argv,
    const char **target, const char **out)
{
	const char	*pos[2] = { NULL, NULL }, *a;
	char		*end;
	int		 i, r, np = 0;

	for (i = 1; i < argc; i++) {
		a = argv[i];
		if (strcmp(a, "--kind") == 0 || strncmp(a, "--kind=", 7) == 0) {
			if (a[6] == '=')
				d->kind = a + 7;
			else if (i + 1 < argc)
				d->kind = argv[++i];
			else
				return cmd_usage_error(&cmd_dump_entry, "--kind needs a kind");
			if (strcmp(d->kind, "auto") != 0 && strcmp(d->kind, "core") != 0 &&
			    strcmp(d->kind, "jvm") != 0 && strcmp(d->kind, "node") != 0)
				return cmd_usage_error(&cmd_dump_entry, "--kind is auto, core, "
				    "jvm or node, not '%s'", d->kind);
		} else if (strcmp(a, "--freeze") == 0)
			d->freeze = 1;
		else if (strcmp(a, "--force") == 0 || strcmp(a, "-f") == 0)
			d->force = 1;
		else if (strcmp(a, "--tmpdir") == 0 || strncmp(a, "--tmpdir=", 9) == 0) {
			if (a[8] == '=')
				d->tmpdir = a + 9;
			else if (i + 1 < argc)
				d->tmpdir = argv[++i];
			else
				return cmd_usage_error(&cmd_dump_entry, "--tmpdir needs a directory");
			if (d->tmpdir[0] != '/')
				return cmd_usage_error(&cmd_dump_entry, "--tmpdir wants an "
				    "absolute path inside the task, not '%s'", d->tmpdir);
		} else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
			if (i + 1 >= argc || argv[i + 1][0] == '\0')
				return cmd_usage_error(&cmd_dump_entry, "%s needs a file", a);
			*out = argv[++i];
		} else if (a[0] == '-' && a[1] != '\0') {
			if ((r = cmd_conf_option(&cmd_dump_entry, conf, argc, argv, &i)) != 0)
				return r;
		} else if (np < 2)
			pos[np++] = a;
		else
			return cmd_usage_error(&cmd_dump_entry, "unexpected argument '%s'", a);
	}
	if (np != 2)
		return cmd_usage_error(&cmd_dump_entry, "want a target and a process id");
	errno = 0;
	d->pid = strtol(pos[1], &end, 10);
	if (pos[1][0] < '1' || pos[1][0] > '9' || *end != '\0' || errno != 0 ||
	    d->pid > 0x7fffffff)
		return cmd_usage_error(&cmd_dump_entry, "PID wants a process id, not '%s'",
		    pos[1]);
	*target = pos[0];
	return 0;
}

static int
cmd_dump_exec(struct client_conf *conf, int argc, char **argv)
{
	struct dump	 d;
	const char	*target = NULL, *out = NULL;
	char		*cause = NULL, *base;
	int		 r, fd;

	memset(&d, 0, sizeof d);
	d.fd = d.dirfd = -1;
	d.kind = "auto";
	d.pause_us = d.estimate = -1;
	d.zret = 1;
	if ((r = dump_args(&d, conf, argc, argv, &target, &out)) != 0)
		return r;

	if (dump_output(&d, out, &cause) != 0)
		goto fail;
	if ((d.dirfd = open(d.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		cause = ph_asprintf("dump: %s: %s", d.dir, strerror(errno));
		goto fail;
	}
	if ((r = client_run_resolve(&d.run, conf, target)) != 0)
		goto out;
	d.name = d.run.agent_name;
	d.id = d.run.agent_id;
	d.sid = d.run.sid;

	/* FILE known now (-o, or --kind): refuse an existing one before dumping. */
	base = d.base;
	d.base = NULL;
	if (base == NULL && strcmp(d.kind, "auto") != 0 &&
	    (base = dump_default_name(&d, d.kind)) == NULL) {
		cause = strdup("out of memory");
		goto fail;
	}
	if (base != NULL && dump_name_file(&d, base, &cause) != 0)
		goto fail;
	if (dump_open_file(&d, &cause) != 0)
		goto fail;
	if ((d.z = ZSTD_createDCtx()) == NULL) {
		cause = strdup("out of memory");
		goto fail;
	}
	if ((d.sink = dump_sink_new(d.fd, &cause)) == NULL)
		goto fail;
	client_progress_init(&d.prog, NULL, isatty(2));
	d.t0 = ph_mono_ms();
	d.run.quiet_out = 1;	/* a lost progress line does not stop the dump */

	client_signal_block();
	if (client_run_loop(&d.run, 0, &dump_ops, &d, &cause) != 0)
		goto fail;
	client_progress_clear(&d.prog);
	(void)client_io_flush(d.run.io, &fd);

	if ((cause = dump_verdict(&d)) == NULL && (cause = dump_commit(&d)) == NULL) {
		dump_summary(&d);
		r = 0;
		goto out;
	}
fail:
	r = cmd_fail(cause);
out:
	client_run_free(&d.run);
	if (d.fd != -1)
		close(d.fd);
	if (d.named)
		unlinkat(d.dirfd, d.partial, 0);
	if (d.dirfd != -1)
		close(d.dirfd);
	ZSTD_freeDCtx(d.z);
	dump_sink_free(d.sink);
	free(d.dir);
	free(d.base);
	free(d.partial);
	free(d.ev_kind);
	free(d.ev_mode);
	free(d.ev_reason);
	free(d.werr);
	free(d.wcode);
	free(d.noise);
	free(d.cause);
	return r;
}

const struct cmd_entry cmd_dump_entry = {
	.name = "dump",
	.alias = NULL,
	.usage = "TARGET PID [--kind auto|core|jvm|node] [--freeze] [--tmpdir DIR] "
	    "[-o FILE|DIR] [--force]",
	.about = "core or heap dump of a process, to a local file (sha256-checked)",
	.exec = cmd_dump_exec,
	.flags = CMD_TARGET | CMD_PID,
	.description = "Bring a dump of process PID on the agent to a local file "
	    "that the usual tool opens: a core for gdb, an .hprof for Eclipse "
	    "MAT or VisualVM, a .heapsnapshot for Chrome DevTools. Nothing needs "
	    "to be installed in the image. The file is compressed on the way, "
	    "checked (sha256) and appears only once complete, mode 0600: a core "
	    "holds the process's secrets. The default name is core.NAME.PID, "
	    "NAME.PID.hprof or NAME.PID.heapsnapshot (NAME: the agent's name) in "
	    "the current directory; an existing file is never replaced unless "
	    "--force. The agent needs to be allowed to ptrace the process (its "
	    "user, or SYS_PTRACE).",
	.options = (const struct ph_help_opt[]){
		{ "--kind", NULL, "auto|core|jvm|node", "what to dump: a core, a "
		    "JVM heap (HotSpot attach, live objects), a Node.js heap "
		    "snapshot (the inspector, closed again afterwards); auto "
		    "(default) picks by the process" },
		{ "--freeze", NULL, NULL, "for a core: keep the app stopped for the "
		    "whole dump (as gcore) instead of the default copy-on-write "
		    "snapshot, which stops it only for about as long as a fork" },
		{ "--tmpdir", NULL, "DIR", "for a JVM heap: the directory inside the "
		    "task (a path as the JVM sees it) where the JVM writes the "
		    "file before it is streamed and removed; default: the first of "
		    "its $TMPDIR, /tmp, /var/tmp with room, a disk before a tmpfs" },
		{ "--output", "-o", "FILE|DIR", "the local file, or an existing "
		    "directory to put the default name in" },
		{ "--force", "-f", NULL, "replace an existing file (atomically)" },
		{ NULL, NULL, NULL, NULL }
	},
};
