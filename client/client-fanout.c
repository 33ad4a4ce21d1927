/*
 * client-fanout.c - run one operation on every agent a TARGET matches,
 * concurrently (`exec --all`, `ps --all` with its own op and argv): which
 * agents, and their output merged.
 *
 * Each matching agent is a run (client-run.h) of one run-set, which
 * drives their sessions on the CLI's one loop, notes each `exit` and
 * `error`, pauses every session while the writer is full and bounds the
 * closes; the programs get no stdin.  What is the fan-out's own is the
 * output:
 *
 *   lines   every STDOUT/STDERR byte goes through a per-agent, per-stream
 *           line buffer; each complete line is written as "name: line" to
 *           our stdout or stderr through client-io's writer thread.  A line
 *           longer than CLIENT_FANOUT_LINE is written in pieces; a partial
 *           last line gets a newline when the session ends.  When the
 *           writer's queue is above its high mark every session stops
 *           reading the relay, and all resume below the low mark.
 *   --json  up to CLIENT_FANOUT_KEEP bytes of each stream are kept per
 *           agent (the rest is read and counted: "truncated": true).  At
 *           the end one document is printed:
 *           {"results": [{"agent": {"id", "name"}, "exit": N, "signal"?: N,
 *             "timeout"?: true, "stdout": "...", "stderr": "...",
 *             "encoding"?: "base64", "truncated"?: true, "error"?: "..."}]}
 *           "error" is what `exec` alone would say on stderr: the `exit`'s
 *           message (a program not found: "PROG: not found", 127) or why the
 *           session ended without `exit`.  Without --json each such agent
 *           gets that as one "porthole: NAME: ..." line on stderr.
 *           Streams that are not valid UTF-8 are both given as base64 and
 *           the result says "encoding": "base64".
 *
 * Status: each agent's is computed like `exec` (code, 128+signal, 124 for
 * a timeout, 255 when the session ended without `exit`: the agent was
 * lost, refused, ...).  We exit with the highest.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "porthole/duration.h"
#include "porthole/frame.h"
#include "porthole/printable.h"
#include "porthole/protocol.h"
#include "porthole/selector.h"
#include "porthole/util.h"

#include "client-conn.h"
#include "client-run.h"
#include "client-signal.h"
#include "client-session.h"
#include "client-exit.h"
#include "client-http.h"
#include "client-fanout.h"
#include "client-io.h"
#include "client-out.h"
#include "client-target.h"
#include "cmd.h"

struct fanout;

/* One stream (stdout or stderr) of one agent. */
struct fo_stream {
	char	*buf;		/* --json: what is kept; else: the partial line */
	size_t	 len, cap;
	int	 truncated;	/* --json: more came than was kept */
	size_t	 off;		/* pend: bytes of buf already handed to the writer */
};

struct fo_member {
	struct client_run	 run;		/* its session, exit and error */
	struct fanout		*f;
	char			*name;		/* printable */
	struct fo_stream	 out[2];	/* [0] stdout, [1] stderr */
	/*
	 * Prefixed lines not yet taken by the writer (whose queue was full).
	 * Bounded: nothing more is read while any is left, so it holds at
	 * most what one read of the relay carries, times the prefix growth.
	 */
	struct fo_stream	 pend[2];
	int			 status;
	char			*error;		/* `exit`'s message, or why it
						   ended without one */
};

struct fanout {
	const struct client_fanout_opts *o;
	struct client_runset	 set;
	struct client_io	*io;
	struct fo_member	*m;
	size_t			 n;
	int			 overflow;	/* our output queue overflowed */
	int			 out_errno;
};

/* Append to a stream, keeping at most max bytes; 1 if something was cut. */
static int
fo_append(struct fo_stream *st, const void *p, size_t n, size_t max)
{
	size_t	 want, cap;
	char	*b;

	want = n;
	if (st->len + want > max)
		want = max - st->len;
	if (st->len + want > st->cap) {
		cap = st->cap != 0 ? st->cap : 4096;
		while (cap < st->len + want)
			cap *= 2;
		if (cap > max)
			cap = max;
		if ((b = realloc(st->buf, cap)) == NULL)
			return -1;
		st->buf = b;
		st->cap = cap;
	}
	memcpy(st->buf + st->len, p, want);
	st->len += want;
	return want < n;
}

/* Queue "name: " + p[0..n) (+ "\n" if nl) for fd (1 or 2); -1: out of memory. */
static int
fo_line(struct fo_member *m, int fd, const char *p, size_t n, int nl)
{
	struct fo_stream	*st = &m->pend[fd - 1];

	if (fo_append(st, m->name, strlen(m->name), SIZE_MAX) != 0 ||
	    fo_append(st, ": ", 2, SIZE_MAX) != 0 ||
	    fo_append(st, p, n, SIZE_MAX) != 0 ||
	    (nl && fo_append(st, "\n", 1, SIZE_MAX) != 0))
		return -1;
	return 0;
}

/*
 * Hand m's pending lines to the writer, a chunk at a time, while its queue
 * is under the high mark.  Returns 1 if everything went, 0 if not.
 */
static int
fo_push(struct fo_member *m)
{
	struct client_io_status	 st;
	struct fo_stream	*p;
	size_t			 k;
	int			 which;

	for (which = 0; which < 2; which++) {
		p = &m->pend[which];
		while (p->off < p->len) {
			client_io_status(m->f->io, &st);
			if (st.out_full || st.out_errno != 0)
				return 0;
			k = p->len - p->off;
			if (k > PH_MAX_PAYLOAD)
				k = PH_MAX_PAYLOAD;
			if (client_io_write(m->f->io, which + 1, p->buf + p->off, k) != 0)
				return 0;
			p->off += k;
		}
		p->off = p->len = 0;
	}
	return 1;
}

/* Lines mode: complete lines out, the rest kept (split past the bound). */
static int
fo_lines(struct fo_member *m, int which, const uint8_t *p, size_t n)
{
	struct fo_stream	*st = &m->out[which];
	const uint8_t		*nl;
	size_t			 k;

	while (n > 0) {
		nl = memchr(p, '\n', n);
		k = nl != NULL ? (size_t)(nl - p) + 1 : n;
		if (st->len + k > CLIENT_FANOUT_LINE && st->len > 0) {
			if (fo_line(m, which + 1, st->buf, st->len, 1) != 0)
				return -1;
			st->len = 0;
		}
		if (nl != NULL && st->len == 0) {
			if (fo_line(m, which + 1, (const char *)p, k, 0) != 0)
				return -1;
		} else if (fo_append(st, p, k, CLIENT_FANOUT_LINE) != 0) {
			return -1;
		} else if (nl != NULL || st->len == CLIENT_FANOUT_LINE) {
			if (fo_line(m, which + 1, st->buf, st->len, nl == NULL) != 0)
				return -1;
			st->len = 0;
		}
		p += k;
		n -= k;
	}
	return 0;
}

static void
fo_overflow(struct fanout *f)
{
	size_t	i;

	if (f->overflow)
		return;
	f->overflow = 1;
	for (i = 0; i < f->n; i++)
		client_run_abort(&f->m[i].run, CLIENT_RUN_ABORT_OVERFLOW,
		    "client output overflow");
}

/* The session is up: the same `open` for every agent. */
static void
fo_open(void *arg)
{
	struct fo_member		*m = arg;
	const struct client_fanout_opts	*o = m->f->o;
	json_t				*extra, *msg;

	extra = json_object();
	if (extra != NULL && o->timeout_ms > 0)
		json_object_set_new(extra, "timeout_ms", json_integer(o->timeout_ms));
	if (extra != NULL && o->timeout_ms > 0 && o->grace_ms >= 0)
		json_object_set_new(extra, "grace_ms", json_integer(o->grace_ms));
	if (extra == NULL || (msg = client_run_open(&m->run, o->op, o->argc,
	    o->argv, 0, extra, 0)) == NULL) {
		client_session_fail(m->run.s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL,
		    "out of memory");
		return;
	}
	client_run_send_open(&m->run, msg);
}

/* STDOUT and STDERR are ours: kept (--json) or merged by line. */
static int
fo_frame(void *arg, const struct ph_frame *fr)
{
	struct fo_member	*m = arg;
	struct fanout		*f = m->f;
	int			 which, r;

	if (fr->type != PH_FRAME_STDOUT && fr->type != PH_FRAME_STDERR)
		return 0;	/* the run's: exit, error, the unexpected */
	if (f->overflow || m->run.got_exit || m->run.abort != CLIENT_RUN_RUNNING)
		return 1;
	which = fr->type == PH_FRAME_STDOUT ? 0 : 1;
	if (f->o->json) {
		r = fo_append(&m->out[which], fr->payload, fr->len, f->o->keep);
		if (r < 0)
			fo_overflow(f);
		else if (r > 0)
			m->out[which].truncated = 1;
		return 1;
	}
	if (fo_lines(m, which, fr->payload, fr->len) != 0) {
		fo_overflow(f);
		return 1;
	}
	if (!fo_push(m) && !f->set.rx_paused)
		client_runset_rx(&f->set, 0);
	return 1;
}

/* The session is over: a partial last line is ended with a newline. */
static void
fo_closed(void *arg)
{
	struct fo_member	*m = arg;
	struct fanout		*f = m->f;
	int			 which;

	if (f->o->json || f->overflow)
		return;
	for (which = 0; which < 2; which++) {
		if (m->out[which].len > 0 && fo_line(m, which + 1,
		    m->out[which].buf, m->out[which].len, 1) != 0)
			fo_overflow(f);
		m->out[which].len = 0;
	}
	fo_push(m);	/* the rest goes after the loop, if need be */
}

/* The writer has room again: the pending lines first, then read on. */
static int
fo_room(void *arg)
{
	struct fanout	*f = arg;
	size_t		 i;

	for (i = 0; i < f->n; i++)
		if (!fo_push(&f->m[i]))
			return 0;	/* still full: wait for the next wake */
	return 1;
}

static const struct client_run_ops fo_run_ops = {
	.open = fo_open,
	.frame = fo_frame,
	.closed = fo_closed,
};

static const struct client_runset_ops fo_set_ops = {
	.room = fo_room,
};

/* After the loop: m's status and the line that says how it ended. */
static void
fo_outcome(struct fanout *f, struct fo_member *m)
{
	struct client_run	*r = &m->run;
	char			*why;

	if (m->error != NULL)
		return;		/* its session never started */
	if (r->got_exit) {
		m->status = r->timed_out ? CLIENT_EXIT_TIMEOUT : r->status;
		/* What a single exec says ("nosuchprog: not found"). */
		if (r->exit_message != NULL)
			m->error = strdup(r->exit_message);
		return;
	}
	why = r->close_cause != NULL ? client_printable(r->close_cause) : NULL;
	m->error = client_exit_line(&(struct client_end){ f->o->op, NULL, NULL,
	    r->err_code, r->err_message, r->close_code, r->close_reason, why },
	    "output may be truncated", &m->status);
	free(why);
}

/* The length of buf without an incomplete UTF-8 sequence at its end. */
static size_t
fo_utf8_trim(const char *buf, size_t len)
{
	size_t	i, need;

	for (i = 1; i <= 3 && i <= len; i++) {
		unsigned char c = (unsigned char)buf[len - i];

		if ((c & 0xc0) == 0x80)
			continue;	/* a continuation byte: look further back */
		need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
		return need > i ? len - i : len;
	}
	return len;
}

static json_t *
fo_base64(const char *p, size_t n)
{
	unsigned char	*b;
	json_t		*j;
	int		 k;

	if ((b = malloc(4 * ((n + 2) / 3) + 1)) == NULL)
		return NULL;
	k = EVP_EncodeBlock(b, (const unsigned char *)p, (int)n);
	j = json_stringn((const char *)b, (size_t)k);
	free(b);
	return j;
}

static json_t *
fo_result(struct fo_member *m)
{
	json_t	*r, *txt[2];
	size_t	 len[2];
	int	 i, b64 = 0;

	r = json_pack("{s:{s:s, s:s}}", "agent", "id",
	    client_agent_str(m->run.agent, "id"), "name",
	    client_agent_str(m->run.agent, "name"));
	if (r == NULL)
		return NULL;
	json_object_set_new(r, "exit", json_integer(m->status));
	if (m->run.signal != 0)
		json_object_set_new(r, "signal", json_integer(m->run.signal));
	if (m->run.timed_out)
		json_object_set_new(r, "timeout", json_true());
	for (i = 0; i < 2; i++) {
		len[i] = m->out[i].len;
		if (m->out[i].truncated)
			len[i] = fo_utf8_trim(m->out[i].buf, len[i]);
		txt[i] = json_stringn(len[i] > 0 ? m->out[i].buf : "", len[i]);
		if (txt[i] == NULL)
			b64 = 1;	/* not UTF-8 */
	}
	for (i = 0; i < 2 && b64; i++) {
		json_decref(txt[i]);
		txt[i] = fo_base64(m->out[i].len > 0 ? m->out[i].buf : "", m->out[i].len);
	}
	json_object_set_new(r, "stdout", txt[0] != NULL ? txt[0] : json_string(""));
	json_object_set_new(r, "stderr", txt[1] != NULL ? txt[1] : json_string(""));
	if (b64)
		json_object_set_new(r, "encoding", json_string("base64"));
	if (m->out[0].truncated || m->out[1].truncated)
		json_object_set_new(r, "truncated", json_true());
	if (m->error != NULL)
		json_object_set_new(r, "error", json_string(m->error));
	return r;
}

/* Keep only the agents of found whose caps list op (no caps listed: kept). */
static void
fo_serving(json_t *found, const char *op)
{
	json_t	*a;
	size_t	 i;

	for (i = json_array_size(found); i-- > 0;) {
		a = json_array_get(found, i);
		if (json_is_array(json_object_get(a, "caps")) &&
		    !client_agent_has_cap(a, op))
			json_array_remove(found, i);
	}
}

/*
 * The agents target matches, for a fan-out: a JSON array (new reference),
 * or NULL after printing why (*status set).
 */
static json_t *
fo_agents(struct client_conf *conf, struct client_conn *cc, const char *target,
    int only_serving, const char *op, int *status)
{
	json_t			*agents, *found = NULL;
	enum ph_target_how	 how;
	char			*cause = NULL, *t, *list, *sub, *lim;
	size_t			 n;

	if ((agents = client_http_agents(cc, NULL, &cause)) == NULL) {
		*status = cmd_fail(cause);
		return NULL;
	}
	if (target == NULL) {
		/* Every agent the token sees (sessions), whatever their subs. */
		fo_serving(agents, op);
		if (json_array_size(agents) == 0) {
			*status = cmd_failf("no agent serves %s (older agents do not)", op);
			json_decref(agents);
			return NULL;
		}
		if (json_array_size(agents) > CLIENT_FANOUT_MAX) {
			*status = cmd_failf("%zu agents serve %s: at most %d at once; "
			    "name a TARGET", json_array_size(agents), op,
			    CLIENT_FANOUT_MAX);
			json_decref(agents);
			return NULL;
		}
		return agents;
	}
	t = client_printable(target);
	if ((found = ph_target_resolve_how(target, agents, &how, &cause)) != NULL &&
	    only_serving)
		fo_serving(found, op);
	if (found == NULL) {
		*status = cmd_failf("bad TARGET '%s' (%s)", t, cause != NULL ?
		    cause : "malformed");
		free(cause);
	} else if ((n = json_array_size(found)) == 0) {
		lim = client_target_limit(conf);
		*status = cmd_failf("no agent matches '%s'%s", t, lim);
		free(lim);
	} else if (how != PH_TARGET_SELECTOR && how != PH_TARGET_ID &&
	    !ph_target_one_sub(found)) {
		/*
		 * Names are not unique, and every token may claim any name: a
		 * name (or task, or prefix) shared by agents of several token
		 * subs is ambiguous even for --all.  Selectors and ids are not
		 * (labels are bound to tokens).
		 */
		list = client_target_list(found, 10);
		*status = cmd_failf("'%s' matches agents of different token subs: "
		    "%s; write NAME@SUB to pick one sub, or use a selector", t,
		    list);
		free(list);
	} else if (n > CLIENT_FANOUT_MAX)
		*status = cmd_failf("%zu agents match: at most %d at once", n,
		    CLIENT_FANOUT_MAX);
	else {
		if (how != PH_TARGET_SELECTOR && how != PH_TARGET_ID &&
		    isatty(STDERR_FILENO)) {
			sub = client_printable(client_agent_str(json_array_get(found,
			    0), "sub"));
			fprintf(stderr, "porthole: '%s' is %zu agent%s of sub %s\n",
			    t, n, n == 1 ? "" : "s", *sub != '\0' ? sub : "unknown");
			free(sub);
		}
		free(t);
		json_decref(agents);
		return found;
	}
	free(t);
	json_decref(found);
	json_decref(agents);
	return NULL;
}

/* One run per agent of found, their sessions opened; -1 after printing. */
static int
fo_start(struct fanout *f, json_t *found)
{
	struct fo_member	*m;
	char			*cause = NULL;
	size_t			 i;

	f->n = json_array_size(found);
	if ((f->m = calloc(f->n, sizeof *f->m)) == NULL)
		return cmd_failf("out of memory");
	for (i = 0; i < f->n; i++) {
		m = &f->m[i];
		m->f = f;
		m->run.agent = json_incref(json_array_get(found, i));
		m->name = client_printable(client_agent_str(m->run.agent, "name"));
		if (m->name == NULL || ph_random_hex(m->run.sid, PH_SID_LEN) != 0)
			return cmd_failf("cannot set up session %zu", i);
	}
	if (client_runset_start(&f->set, 0, 0, &cause) != 0)
		return cmd_fail(cause);
	f->io = f->set.io;
	for (i = 0; i < f->n; i++) {
		m = &f->m[i];
		if (client_runset_add(&f->set, &m->run, &fo_run_ops, m,
		    &cause) != 0) {
			m->status = CMD_EXIT_FAIL;
			m->error = cause;
			cause = NULL;
		}
	}
	return 0;
}

/* After the loop: lines the writer had no room for, in order. */
static void
fo_flush_pending(struct fanout *f)
{
	struct fo_stream	*p;
	size_t			 i, k;
	int			 which, fd;

	for (i = 0; i < f->n && !f->overflow; i++) {
		for (which = 0; which < 2; which++) {
			p = &f->m[i].pend[which];
			while (p->off < p->len) {
				k = p->len - p->off > PH_MAX_PAYLOAD ? PH_MAX_PAYLOAD :
				    p->len - p->off;
				if (client_io_write(f->io, which + 1, p->buf + p->off,
				    k) == 0)
					p->off += k;
				else if (client_io_flush(f->io, &fd) != 0) {
					f->out_errno = f->out_errno != 0 ?
					    f->out_errno : EIO;
					break;
				}
			}
		}
	}
}

/* --json: the one document at the end (or the results to collect). */
static int
fo_document(struct fanout *f)
{
	json_t	*doc, *results;
	char	*out;
	size_t	 i;
	int	 fd = 1;

	results = json_array();
	for (i = 0; i < f->n; i++)
		json_array_append_new(results, fo_result(&f->m[i]));
	if (f->o->collect != NULL) {
		*f->o->collect = results;
		return 0;
	}
	doc = json_pack("{s:o}", "results", results);
	out = doc != NULL ? ph_json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (out == NULL)
		return cmd_failf("out of memory");
	/* The loop is gone: a plain blocking write (it may pass 1 MiB). */
	if (client_io_flush(f->io, &fd) == 0 && (fputs(out, stdout) == EOF ||
	    putchar('\n') == EOF || fflush(stdout) == EOF))
		f->out_errno = errno;
	free(out);
	return 0;
}

/* Everything is over: the output, the lines, the status. */
static int
fo_finish(struct fanout *f)
{
	char	 tbuf[PH_DURATION_FMT_MAX];
	size_t	 i;
	int	 r = 0, fd;

	for (i = 0; i < f->n; i++) {
		fo_outcome(f, &f->m[i]);
		if (f->out_errno == 0)
			f->out_errno = f->m[i].run.out_errno;
	}
	fo_flush_pending(f);
	if (f->overflow && f->out_errno == 0)
		return cmd_failf("internal error: the output queue overflowed; the "
		    "sessions were closed and output is truncated");
	if (f->o->json && f->out_errno == 0 && (r = fo_document(f)) != 0)
		return r;
	if ((r = client_io_flush(f->io, &fd)) != 0 || f->out_errno != 0)
		/* A reader gone ends us as a pipeline member (client-out.c). */
		return client_out_failed(fd, r != 0 ? r : f->out_errno, "the "
		    "output is truncated");
	for (i = 0; f->o->collect == NULL && i < f->n; i++) {
		if (f->m[i].status > r)
			r = f->m[i].status;
		if (!f->o->json && f->m[i].error != NULL)
			fprintf(stderr, "porthole: %s: %s\n", f->m[i].name,
			    f->m[i].error);
		if (!f->o->json && f->m[i].run.timed_out)
			fprintf(stderr, "porthole: %s: timed out after %s\n",
			    f->m[i].name, ph_duration_fmt(f->o->timeout_ms, tbuf,
			    sizeof tbuf));
	}
	return r;
}

int
client_fanout_run(struct client_conf *conf, const char *target,
    const struct client_fanout_opts *opts)
{
	struct client_fanout_opts oc = *opts;
	struct client_conn	*cc;
	struct fanout		 f;
	json_t			*found;
	char			*cause = NULL;
	size_t			 i;
	int			 r;

	memset(&f, 0, sizeof f);
	if (oc.collect != NULL) {
		*oc.collect = NULL;
		oc.json = 1;
	}
	if (oc.keep == 0)
		oc.keep = CLIENT_FANOUT_KEEP;
	f.o = &oc;
	if (client_conf_load(conf, &cause) != 0)
		return cmd_fail(cause);
	client_signal_block_pipe();	/* before any thread */
	if ((cc = client_conn_new(conf, &cause)) == NULL)
		return cmd_fail(cause);
	client_runset_init(&f.set, cc, &fo_set_ops, &f);
	if ((found = fo_agents(conf, cc, target, oc.only_serving, oc.op, &r)) != NULL &&
	    (r = fo_start(&f, found)) == 0 && client_runset_run(&f.set) != 0)
		r = cmd_failf("the event loop failed");
	client_runset_end(&f.set);
	client_conn_free(cc);
	if (found != NULL && r == 0)
		r = fo_finish(&f);
	for (i = 0; f.m != NULL && i < f.n; i++) {
		client_run_free(&f.m[i].run);
		free(f.m[i].name);
		free(f.m[i].out[0].buf);
		free(f.m[i].out[1].buf);
		free(f.m[i].pend[0].buf);
		free(f.m[i].pend[1].buf);
		free(f.m[i].error);
	}
	free(f.m);
	json_decref(found);
	return r;
}
