/*
 * relay-record.c - session recordings: sessions of the operations the
 * registry marks recorded (ops.h: shell and exec) written by
 * the relay as asciicast v2 files (playable by `asciinema play`, printable
 * by `asciinema cat`), one per session, in PORTHOLE_RECORD_DIR.
 *
 * A file is named YYYYMMDDTHHMMSSZ-<sid>.cast, created 0600 with O_EXCL
 * (never following a symlink) and holds
 *   {"version": 2, "width": COLS, "height": ROWS, "timestamp": ..., ...}
 *   [SECONDS, "o", "TEXT"]       STDOUT and STDERR output, as it passed
 *   [SECONDS, "r", "COLSxROWS"]  a resize from the client
 * and never what the client typed (STDIN): keystrokes include passwords.
 *
 * Output is raw bytes; the file holds JSON strings, so it is decoded as
 * UTF-8 (relay-utf8.c): a sequence split between two frames is carried
 * (per stream) to the next one, bytes that are not UTF-8 become U+FFFD
 * (one per maximal invalid subpart, as Unicode recommends), and a sequence
 * still incomplete when the session ends becomes U+FFFD too.  Nothing is
 * dropped unsaid.
 *
 * Writes are bounded: events are encoded into a buffer of RELAY_RECORD_BUF
 * bytes that is written when full, once a second by a timer, and at the
 * end; every write is a plain write(2) of at most that much to a local
 * file.  A write that fails (ENOSPC, EIO, a read-only file system) ends
 * the recording: the caller audits it, and the session goes on unless
 * PORTHOLE_RECORD_REQUIRED is set (then it is closed; and a recording
 * that cannot even start refuses the session before it opens).
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "porthole/log.h"
#include "porthole/ops.h"
#include "porthole/util.h"
#include "relay.h"
#include "relay-metrics.h"
#include "relay-record.h"
#include "relay-utf8.h"

#define RELAY_RECORD_BUF	(64 * 1024)
#define RELAY_RECORD_FLUSH_MS	1000

struct relay_record {
	int			 fd;
	char			*path;
	char			*buf;		/* RELAY_RECORD_BUF bytes */
	size_t			 len;
	int64_t			 t0;		/* monotonic ms of the header */
	uint8_t			 carry[2][4];	/* incomplete UTF-8, per stream */
	size_t			 ncarry[2];
	int			 failed;
	int			 reported;	/* the caller was told of the failure */
	char			*error;		/* why it failed */
	struct relay_record	*prev, *next;
};


/* dir: NULL for no recordings. */
int
relay_record_init(const char *dir, int required, char **cause)
{
	struct stat st;

	relay.record.record_required = required;
	if (dir == NULL || *dir == '\0') {
		if (required) {
			*cause = strdup("PORTHOLE_RECORD_REQUIRED needs PORTHOLE_RECORD_DIR");
			return -1;
		}
		return 0;
	}
	if ((relay.record.record_dir = strdup(dir)) == NULL ||
	    (relay.record.record_scratch = malloc(PH_MAX_PAYLOAD + 8)) == NULL) {
		*cause = strdup("out of memory");
		return -1;
	}
	/* Not fatal: the directory may be mounted later; sessions say so. */
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || access(dir, W_OK) != 0)
		ph_warn("recording directory %s is not a writable directory: %s "
		    "sessions will be %s", dir, required ? "shell and exec" : "",
		    required ? "refused" : "unrecorded (and audited)");
	ph_info("recording shell and exec sessions in %s%s", dir,
	    required ? " (required)" : "");
	return 0;
}

int
relay_record_required(void)
{
	return relay.record.record_required;
}

/* Is a session of op to be recorded? */
int
relay_record_wanted(const char *op)
{
	const struct ph_op *o = ph_ops_find(op);

	return relay.record.record_dir != NULL && o != NULL && (o->flags & PH_OPF_RECORDED) != 0;
}

const char *
relay_record_path(const struct relay_record *r)
{
	return r != NULL ? r->path : NULL;
}

const char *
relay_record_error(const struct relay_record *r)
{
	return r != NULL ? r->error : NULL;
}

static void
relay_record_fail(struct relay_record *r, const char *what, int err)
{
	if (r->failed)
		return;
	r->failed = 1;
	r->error = ph_asprintf("%s %s: %s", what, r->path, strerror(err));
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	r->len = 0;
	relay_metrics_recording(1);
}

/* Write the buffer out.  -1: the recording failed (now or before). */
static int
relay_record_flush(struct relay_record *r)
{
	size_t off = 0;
	ssize_t n;

	if (r->failed)
		return -1;
	while (off < r->len) {
		n = write(r->fd, r->buf + off, r->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			relay_record_fail(r, "write", n < 0 ? errno : ENOSPC);
			return -1;
		}
		off += (size_t)n;
	}
	r->len = 0;
	return 0;
}

/* Make room for need more bytes.  -1: failed. */
static int
relay_record_room(struct relay_record *r, size_t need)
{
	if (r->failed)
		return -1;
	if (RELAY_RECORD_BUF - r->len < need)
		return relay_record_flush(r);
	return 0;
}

static int
relay_record_puts(struct relay_record *r, const char *s, size_t n)
{
	if (n > RELAY_RECORD_BUF)
		return -1;
	if (relay_record_room(r, n) != 0)
		return -1;
	memcpy(r->buf + r->len, s, n);
	r->len += n;
	return 0;
}

static void
relay_record_timer(lws_sorted_usec_list_t *sul)
{
	struct relay_record *r;

	(void)sul;
	relay.record.record_sul_on = 0;
	for (r = relay.record.records; r != NULL; r = r->next) {
		if (r->len > 0)
			(void)relay_record_flush(r);	/* the next output reports it */
	}
	if (relay.record.records != NULL && relay.ctx != NULL && !relay.dying) {
		relay.record.record_sul_on = 1;
		lws_sul_schedule(relay.ctx, 0, &relay.record.record_sul, relay_record_timer,
		    (lws_usec_t)RELAY_RECORD_FLUSH_MS * LWS_US_PER_MS);
	}
}

/* "[12.345678, \"o\", \"" -- the start of an event at now. */
static int
relay_record_event(struct relay_record *r, const char *code)
{
	char head[64];
	int64_t t = ph_mono_ms() - r->t0;
	int n;

	n = snprintf(head, sizeof head, "[%lld.%03lld, \"%s\", \"", (long long)(t / 1000),
	    (long long)(t % 1000), code);
	return relay_record_puts(r, head, (size_t)n);
}

/*
 * Append p[0..n) as JSON string text (relay-utf8.c).  Returns how many
 * bytes it took: all of them, except an incomplete sequence at the end
 * when !final.  -1: the recording failed.
 */
static ssize_t
relay_record_text(struct relay_record *r, const uint8_t *p, size_t n, int final)
{
	size_t off = 0, used, wrote;
	enum relay_utf8_stop stop;

	for (;;) {
		if (relay_record_room(r, RELAY_UTF8_ROOM) != 0)
			return -1;
		stop = relay_utf8_json(p + off, n - off, final, r->buf + r->len,
		    RELAY_RECORD_BUF - r->len, &used, &wrote);
		r->len += wrote;
		off += used;
		if (stop != RELAY_UTF8_FULL)
			return (ssize_t)off;
		if (relay_record_flush(r) != 0)
			return -1;
	}
}

/*
 * Start the recording of session sid, as req (the client's `open`)
 * describes it.  NULL with *cause when the file cannot be made or its
 * header not written.
 */
struct relay_record *
relay_record_start(const char *sid, json_t *req, const char *agent_name,
    const char *sub, char **cause)
{
	struct relay_record *r;
	struct tm tm;
	time_t now = time(NULL);
	char stamp[32], *line = NULL, *cmd = NULL;
	json_t *hdr, *argv, *v;
	json_int_t cols, rows;
	const char *term;
	size_t i, n;
	int err;

	if ((r = calloc(1, sizeof *r)) == NULL ||
	    (r->buf = malloc(RELAY_RECORD_BUF)) == NULL) {
		free(r);
		*cause = strdup("out of memory");
		return NULL;
	}
	r->fd = -1;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	r->path = ph_asprintf("%s/%s-%s.cast", relay.record.record_dir, stamp, sid);
	r->fd = open(r->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (r->fd < 0) {
		err = errno;
		*cause = ph_asprintf("cannot create %s: %s", r->path, strerror(err));
		goto fail;
	}
	r->t0 = ph_mono_ms();

	cols = json_integer_value(json_object_get(req, "cols"));
	rows = json_integer_value(json_object_get(req, "rows"));
	if (cols < 1 || cols > 65535 || rows < 1 || rows > 65535) {
		cols = 80;
		rows = 24;
	}
	term = json_string_value(json_object_get(req, "term"));
	argv = json_object_get(req, "argv");
	if (json_is_array(argv) && json_array_size(argv) > 0) {
		n = 0;
		for (i = 0; i < json_array_size(argv); i++) {
			if ((v = json_array_get(argv, i)) != NULL && json_is_string(v))
				n += strlen(json_string_value(v)) + 1;
		}
		if ((cmd = calloc(1, n + 1)) != NULL) {
			for (i = 0; i < json_array_size(argv); i++) {
				if ((v = json_array_get(argv, i)) == NULL || !json_is_string(v))
					continue;
				if (*cmd != '\0')
					strcat(cmd, " ");
				strcat(cmd, json_string_value(v));
			}
		}
	}
	hdr = json_pack("{s:i,s:I,s:I,s:I,s:{s:s}}", "version", 2, "width", cols,
	    "height", rows, "timestamp", (json_int_t)now,
	    "env", "TERM", term != NULL ? term : "");
	if (hdr != NULL) {
		line = ph_asprintf("porthole %s on %s by %s",
		    json_string_value(json_object_get(req, "op")),
		    agent_name != NULL ? agent_name : "?", sub != NULL ? sub : "?");
		json_object_set_new(hdr, "title", json_string(line));
		free(line);
		if (cmd != NULL && *cmd != '\0')
			json_object_set_new(hdr, "command", json_string(cmd));
		line = json_dumps(hdr, JSON_COMPACT | JSON_ENSURE_ASCII);
		json_decref(hdr);
	}
	free(cmd);
	if (line == NULL || relay_record_puts(r, line, strlen(line)) != 0 ||
	    relay_record_puts(r, "\n", 1) != 0 || relay_record_flush(r) != 0) {
		free(line);
		*cause = r->error != NULL ? strdup(r->error) :
		    ph_asprintf("cannot write %s", r->path);
		unlink(r->path);
		goto fail;
	}
	free(line);
	relay_metrics_recording(0);

	r->next = relay.record.records;
	if (relay.record.records != NULL)
		relay.record.records->prev = r;
	relay.record.records = r;
	if (!relay.record.record_sul_on && relay.ctx != NULL && !relay.dying) {
		relay.record.record_sul_on = 1;
		lws_sul_schedule(relay.ctx, 0, &relay.record.record_sul, relay_record_timer,
		    (lws_usec_t)RELAY_RECORD_FLUSH_MS * LWS_US_PER_MS);
	}
	return r;
fail:
	if (!r->failed)
		relay_metrics_recording(1);
	if (r->fd >= 0)
		close(r->fd);
	free(r->error);
	free(r->path);
	free(r->buf);
	free(r);
	return NULL;
}

/*
 * A failed recording: -1 the first time the caller hears of it (also when
 * the flush timer hit the failure), 1 after that.
 */
static int
relay_record_failed(struct relay_record *r)
{
	if (r->reported)
		return 1;
	r->reported = 1;
	return -1;
}

/*
 * Output of the session: stream 0 STDOUT, 1 STDERR.  0: recorded; -1: the
 * recording failed (relay_record_error says why), reported once; later
 * calls on a failed recording do nothing and return 1.
 */
int
relay_record_output(struct relay_record *r, int stream, const uint8_t *p, size_t n)
{
	uint8_t *s = relay.record.record_scratch;
	size_t nc, len;
	ssize_t took;

	if (r == NULL)
		return 0;
	if (r->failed)
		return relay_record_failed(r);
	if (n == 0)
		return 0;
	stream = stream != 0;
	nc = r->ncarry[stream];
	if (n > PH_MAX_PAYLOAD)
		n = PH_MAX_PAYLOAD;	/* frames are never larger */
	memcpy(s, r->carry[stream], nc);
	memcpy(s + nc, p, n);
	len = nc + n;
	if (relay_record_event(r, "o") != 0 ||
	    (took = relay_record_text(r, s, len, 0)) < 0 ||
	    relay_record_puts(r, "\"]\n", 3) != 0)
		return relay_record_failed(r);
	r->ncarry[stream] = len - (size_t)took;		/* at most 3 */
	memcpy(r->carry[stream], s + took, r->ncarry[stream]);
	return 0;
}

/* A resize from the client.  Return as relay_record_output. */
int
relay_record_resize(struct relay_record *r, json_t *resize)
{
	char ev[32];
	json_int_t cols, rows;
	int n;

	if (r == NULL)
		return 0;
	if (r->failed)
		return relay_record_failed(r);
	cols = json_integer_value(json_object_get(resize, "cols"));
	rows = json_integer_value(json_object_get(resize, "rows"));
	if (cols < 1 || cols > 65535 || rows < 1 || rows > 65535)
		return 0;
	n = snprintf(ev, sizeof ev, "%lldx%lld\"]\n", (long long)cols, (long long)rows);
	if (relay_record_event(r, "r") != 0 || relay_record_puts(r, ev, (size_t)n) != 0)
		return relay_record_failed(r);
	return 0;
}

/*
 * End the recording: what is carried becomes U+FFFD, the buffer is
 * written, the file closed and r freed.  Returns -1 if the recording
 * failed and the caller was not told yet, with *cause (malloc'd).
 */
int
relay_record_finish(struct relay_record *r, char **cause)
{
	int stream, fd, rc = 0;

	*cause = NULL;
	if (r == NULL)
		return 0;
	for (stream = 0; stream < 2 && !r->failed; stream++) {
		if (r->ncarry[stream] == 0)
			continue;
		if (relay_record_event(r, "o") != 0 ||
		    relay_record_text(r, r->carry[stream], r->ncarry[stream], 1) < 0 ||
		    relay_record_puts(r, "\"]\n", 3) != 0)
			break;
	}
	if (!r->failed && relay_record_flush(r) == 0) {
		fd = r->fd;
		r->fd = -1;
		if (close(fd) != 0)
			relay_record_fail(r, "close", errno);
	}
	if (r->failed && !r->reported) {
		*cause = strdup(r->error);
		rc = -1;
	}
	r->fd = -1;
	if (r->prev != NULL)
		r->prev->next = r->next;
	else if (relay.record.records == r)
		relay.record.records = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	free(r->error);
	free(r->path);
	free(r->buf);
	free(r);
	return rc;
}

/* At exit, after every session ended. */
void
relay_record_cleanup(void)
{
	if (relay.record.record_sul_on && relay.ctx != NULL)
		lws_sul_cancel(&relay.record.record_sul);
	relay.record.record_sul_on = 0;
	free(relay.record.record_dir);
	relay.record.record_dir = NULL;
	free(relay.record.record_scratch);
	relay.record.record_scratch = NULL;
}
