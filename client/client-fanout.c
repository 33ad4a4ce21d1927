/*
 * client-fanout.c - run one operation on every agent a TARGET matches,
 * concurrently, in the CLI's single event loop (`exec --all`; `ps --all`
 * can reuse it by passing its own op and argv).
 *
 * Each matching agent gets its own session (its own WebSocket to the
 * relay), opened at once; the programs get no stdin.  Output:
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
#include "client-exit.h"
#include "client-http.h"
#include "client-fanout.h"
#include "client-io.h"
#include "client-out.h"
#include "client-target.h"
#include "cmd.h"

#define FANOUT_CLOSE_MS	2000	/* longest wait for closes once all said `exit` */

struct fanout;

/* One stream (stdout or stderr) of one agent. */
struct fo_stream {
	char	*buf;		/* --json: what is kept; else: the partial line */
	size_t	 len, cap;
	int	 truncated;	/* --json: more came than was kept */
	size_t	 off;		/* pend: bytes of buf already handed to the writer */
};

struct fo_member {
	struct fanout		*f;
	struct client_session	*s;
	json_t			*agent;		/* from /v1/agents */
	char			*name;		/* printable */
	char			 sid[PH_SID_LEN + 1];
	struct fo_stream	 out[2];	/* [0] stdout, [1] stderr */
	/*
	 * Prefixed lines not yet taken by the writer (whose queue was full).
	 * Bounded: nothing more is read while any is left, so it holds at
	 * most what one read of the relay carries, times the prefix growth.
	 */
	struct fo_stream	 pend[2];
	int			 got_exit;
	int			 status;
	int			 signal;	/* 0: none */
	int			 timed_out;
	char			*error;		/* `exit`'s message, or why it
						   ended without one */
	char			*err_code;	/* the last `error` frame */
	char			*err_message;
	int			 closed;
};

struct fanout {
	const struct client_fanout_opts *o;
	struct client_conn	*cc;
	struct client_io	*io;
	struct fo_member	*m;
	size_t			 n;
	size_t			 open;		/* sessions not closed yet */
	int			 rx_paused;
	int			 overflow;	/* our output queue overflowed */
	int			 out_errno;
	volatile int		 done;
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
		if (!f->m[i].closed)
			client_session_close(f->m[i].s, PH_CLOSE_GOING_AWAY,
			    "client output overflow", 0);
}

static void
fo_rx_all(struct fanout *f, int on)
{
	size_t	i;

	f->rx_paused = !on;
	for (i = 0; i < f->n; i++)
		if (!f->m[i].closed)
			client_session_rx(f->m[i].s, on);
}

static void
fo_close_timeout(void *arg)
{
	((struct fanout *)arg)->done = 1;
}

static void
fo_established(void *arg)
{
	struct fo_member		*m = arg;
	const struct client_fanout_opts	*o = m->f->o;
	json_t				*msg, *av;
	int				 i;

	av = json_array();
	for (i = 0; i < o->argc; i++)
		json_array_append_new(av, json_string(o->argv[i]));
	if (av == NULL || (msg = client_open_new(m->sid,
	    m->agent, o->op, av)) == NULL) {
		client_session_fail(m->s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL,
		    "out of memory");
		return;
	}
	if (o->timeout_ms > 0)
		json_object_set_new(msg, "timeout_ms", json_integer(o->timeout_ms));
	if (o->timeout_ms > 0 && o->grace_ms >= 0)
		json_object_set_new(msg, "grace_ms", json_integer(o->grace_ms));
	client_session_send_open(m->s, msg);
}

static void
fo_exit(struct fo_member *m, const struct ph_frame *fr)
{
	json_t		*sig = json_object_get(fr->json, "signal");
	const char	*msg = json_string_value(json_object_get(fr->json, "message"));
	size_t		 i;

	m->got_exit = 1;
	if (json_is_integer(sig))
		m->signal = (int)json_integer_value(sig);
	m->status = client_exit_status(fr->json);
	/* What a single exec says ("nosuchprog: not found"), said for this agent. */
	if (msg != NULL && *msg != '\0') {
		free(m->error);
		m->error = client_printable(msg);
	}
	if (json_is_true(json_object_get(fr->json, "timeout"))) {
		m->timed_out = 1;
		m->status = CLIENT_EXIT_TIMEOUT;
	}
	client_session_close(m->s, PH_CLOSE_NORMAL, NULL, 0);
	for (i = 0; i < m->f->n; i++)
		if (!m->f->m[i].got_exit && !m->f->m[i].closed)
			return;
	/* Everyone is done: the closes get a bounded time to go through. */
	client_conn_timer(m->f->cc, FANOUT_CLOSE_MS, fo_close_timeout, m->f);
}

static int
fo_message(void *arg, const struct ph_frame *fr)
{
	struct fo_member	*m = arg;
	struct fanout		*f = m->f;
	int			 which, r;

	switch (fr->type) {
	case PH_FRAME_STDOUT:
	case PH_FRAME_STDERR:
		if (f->overflow || m->got_exit)
			return 0;
		which = fr->type == PH_FRAME_STDOUT ? 0 : 1;
		if (f->o->json) {
			r = fo_append(&m->out[which], fr->payload, fr->len,
			    f->o->keep);
			if (r < 0)
				fo_overflow(f);
			else if (r > 0)
				m->out[which].truncated = 1;
			return 0;
		}
		if (fo_lines(m, which, fr->payload, fr->len) != 0) {
			fo_overflow(f);
			return 0;
		}
		if (!fo_push(m) && !f->rx_paused)
			fo_rx_all(f, 0);
		return 0;
	case PH_FRAME_CONTROL:
		switch (fr->ctl) {
		case PH_CTL_READY:
		case PH_CTL_PROGRESS:
		case PH_CTL_META:
			return 0;
		case PH_CTL_EXIT:
			fo_exit(m, fr);
			return 0;
		case PH_CTL_ERROR:
			client_error_note(fr->json, &m->err_code, &m->err_message);
			return 0;
		default:
			break;
		}
		/* FALLTHROUGH */
	default:
		client_session_fail(m->s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
		    "unexpected message on a client session");
		return -1;
	}
}

static void
fo_wake(void *arg)
{
	struct fo_member	*m = arg;
	struct fanout		*f = m->f;
	struct client_io_status	 st;
	size_t			 i;

	client_io_status(f->io, &st);
	if (st.out_errno != 0 && f->out_errno == 0) {
		f->out_errno = st.out_errno;
		fo_overflow(f);	/* our output is gone: stop everything */
		return;
	}
	if (f->rx_paused && st.out_low) {
		for (i = 0; i < f->n; i++)
			if (!fo_push(&f->m[i]))
				return;	/* still full: wait for the next wake */
		fo_rx_all(f, 1);
	}
}

static void
fo_closed(void *arg, int code, const char *reason, const char *cause)
{
	struct fo_member	*m = arg;
	struct fanout		*f = m->f;
	int			 which;

	m->closed = 1;
	if (!m->got_exit) {
		char *why = cause != NULL ? client_printable(cause) : NULL;
		struct client_end e = { f->o->op, NULL, NULL, m->err_code,
		    m->err_message, code, reason, why };

		free(m->error);
		m->error = client_exit_line(&e, "output may be truncated", &m->status);
		free(why);
	}
	if (!f->o->json && !f->overflow) {
		for (which = 0; which < 2; which++) {
			if (m->out[which].len > 0 && fo_line(m, which + 1,
			    m->out[which].buf, m->out[which].len, 1) != 0)
				fo_overflow(f);
			m->out[which].len = 0;
		}
		fo_push(m);	/* the rest goes after the loop, if need be */
	}
	if (--f->open == 0) {
		client_conn_timer(f->cc, -1, NULL, NULL);
		f->done = 1;
	}
}

/* Nothing to feed: the programs get no stdin. */
static void
fo_drained(void *arg)
{
	(void)arg;
}

static const struct client_session_ops fo_ops = {
	.established = fo_established,
	.message = fo_message,
	.drained = fo_drained,
	.wake = fo_wake,
	.closed = fo_closed,
};

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

	r = json_pack("{s:{s:s, s:s}}", "agent", "id", client_agent_str(m->agent, "id"),
	    "name", client_agent_str(m->agent, "name"));
	if (r == NULL)
		return NULL;
	json_object_set_new(r, "exit", json_integer(m->status));
	if (m->signal != 0)
		json_object_set_new(r, "signal", json_integer(m->signal));
	if (m->timed_out)
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

int
client_fanout_run(struct client_conf *conf, const char *target,
    const struct client_fanout_opts *opts)
{
	struct client_fanout_opts oc = *opts, *o = &oc;
	struct fanout	 f;
	json_t		*agents = NULL, *found = NULL, *doc, *results;
	char		*cause = NULL, *t, *out;
	enum ph_target_how how;
	char		 tbuf[PH_DURATION_FMT_MAX];
	size_t		 i;
	int		 r = 0, fd;

	memset(&f, 0, sizeof f);
	if (oc.collect != NULL) {
		*oc.collect = NULL;
		oc.json = 1;
	}
	if (oc.keep == 0)
		oc.keep = CLIENT_FANOUT_KEEP;
	f.o = o;
	if (client_conf_load(conf, &cause) != 0)
		return cmd_fail(cause);
	if ((f.cc = client_conn_new(conf, &cause)) == NULL)
		return cmd_fail(cause);
	if ((agents = client_http_agents(f.cc, NULL, &cause)) == NULL) {
		r = cmd_fail(cause);
		goto out;
	}
	if ((found = ph_target_resolve_how(target, agents, &how, &cause)) == NULL) {
		t = client_printable(target);
		r = cmd_failf("bad TARGET '%s' (%s)", t, cause != NULL ? cause :
		    "malformed");
		free(t);
		free(cause);
		goto out;
	}
	if ((f.n = json_array_size(found)) == 0) {
		char *lim = client_target_limit(conf);

		t = client_printable(target);
		r = cmd_failf("no agent matches '%s'%s", t, lim);
		free(lim);
		free(t);
		goto out;
	}
	/*
	 * Names are not unique, and every token may claim any name: a name (or
	 * task, or prefix) shared by agents of several token subs is ambiguous
	 * even for --all.  Selectors and ids are not (labels are bound to tokens).
	 */
	if (how != PH_TARGET_SELECTOR && how != PH_TARGET_ID &&
	    !ph_target_one_sub(found)) {
		char *list = client_target_list(found, 10);

		t = client_printable(target);
		r = cmd_failf("'%s' matches agents of different token subs: %s; "
		    "write NAME@SUB to pick one sub, or use a selector", t, list);
		free(list);
		free(t);
		goto out;
	}
	if (how != PH_TARGET_SELECTOR && how != PH_TARGET_ID && isatty(STDERR_FILENO)) {
		char *sub = client_printable(client_agent_str(json_array_get(found, 0),
		    "sub"));

		t = client_printable(target);
		fprintf(stderr, "porthole: '%s' is %zu agent%s of sub %s\n", t, f.n,
		    f.n == 1 ? "" : "s", *sub != '\0' ? sub : "unknown");
		free(t);
		free(sub);
	}
	if (f.n > CLIENT_FANOUT_MAX) {
		r = cmd_failf("%zu agents match: at most %d at once", f.n,
		    CLIENT_FANOUT_MAX);
		goto out;
	}
	if ((f.m = calloc(f.n, sizeof *f.m)) == NULL) {
		r = cmd_failf("out of memory");
		goto out;
	}
	for (i = 0; i < f.n; i++) {
		f.m[i].f = &f;
		f.m[i].agent = json_incref(json_array_get(found, i));
		f.m[i].name = client_printable(client_agent_str(f.m[i].agent, "name"));
		if (f.m[i].name == NULL || ph_random_hex(f.m[i].sid, PH_SID_LEN) != 0) {
			r = cmd_failf("cannot set up session %zu", i);
			goto out;
		}
	}
	if ((f.io = client_io_new(f.cc, 0, &cause)) == NULL) {
		r = cmd_fail(cause);
		goto out;
	}
	for (i = 0; i < f.n; i++) {
		if ((f.m[i].s = client_session_open(f.cc, &fo_ops, &f.m[i],
		    &cause)) == NULL) {
			f.m[i].closed = 1;
			f.m[i].status = CMD_EXIT_FAIL;
			f.m[i].error = cause;
			cause = NULL;
			continue;
		}
		f.open++;
	}
	if (f.open > 0 && client_conn_run(f.cc, &f.done) != 0) {
		r = cmd_failf("the event loop failed");
		goto out;
	}
	client_io_detach(f.io);
	for (i = 0; i < f.n; i++) {
		client_session_free(f.m[i].s);
		f.m[i].s = NULL;
	}
	client_conn_free(f.cc);
	f.cc = NULL;

	/* Lines the writer had no room for yet: wait for room, in order. */
	for (i = 0; i < f.n && !f.overflow; i++) {
		struct fo_stream	*p;
		size_t			 k;
		int			 which;

		for (which = 0; which < 2; which++) {
			p = &f.m[i].pend[which];
			while (p->off < p->len) {
				k = p->len - p->off > PH_MAX_PAYLOAD ? PH_MAX_PAYLOAD :
				    p->len - p->off;
				if (client_io_write(f.io, which + 1, p->buf + p->off, k) == 0)
					p->off += k;
				else if (client_io_flush(f.io, &fd) != 0) {
					f.out_errno = f.out_errno != 0 ? f.out_errno : EIO;
					break;
				}
			}
		}
	}

	if (f.overflow && f.out_errno == 0) {
		r = cmd_failf("internal error: the output queue overflowed; the "
		    "sessions were closed and output is truncated");
		goto out;
	}
	if (o->collect != NULL && f.out_errno == 0) {
		results = json_array();
		for (i = 0; i < f.n; i++)
			json_array_append_new(results, fo_result(&f.m[i]));
		*o->collect = results;
	} else if (o->json && f.out_errno == 0) {
		results = json_array();
		for (i = 0; i < f.n; i++)
			json_array_append_new(results, fo_result(&f.m[i]));
		doc = json_pack("{s:o}", "results", results);
		out = doc != NULL ? ph_json_dumps(doc, JSON_COMPACT) : NULL;
		json_decref(doc);
		if (out == NULL) {
			r = cmd_failf("out of memory");
			goto out;
		}
		/* The loop is gone: a plain blocking write (it may pass 1 MiB). */
		fd = 1;
		if (client_io_flush(f.io, &fd) == 0 && (fputs(out, stdout) == EOF ||
		    putchar('\n') == EOF || fflush(stdout) == EOF))
			f.out_errno = errno;
		free(out);
	}
	if ((r = client_io_flush(f.io, &fd)) != 0 || f.out_errno != 0) {
		/* A reader gone ends us as a pipeline member (client-out.c). */
		r = client_out_failed(fd, r != 0 ? r : f.out_errno, "the output is "
		    "truncated");
		goto out;
	}
	for (i = 0; o->collect == NULL && i < f.n; i++) {
		if (f.m[i].status > r)
			r = f.m[i].status;
		if (!o->json && f.m[i].error != NULL)
			fprintf(stderr, "porthole: %s: %s\n", f.m[i].name, f.m[i].error);
		if (!o->json && f.m[i].timed_out)
			fprintf(stderr, "porthole: %s: timed out after %s\n", f.m[i].name,
			    ph_duration_fmt(o->timeout_ms, tbuf, sizeof tbuf));
	}
out:
	for (i = 0; f.m != NULL && i < f.n; i++)
		if (f.m[i].s != NULL)
			client_session_free(f.m[i].s);
	if (f.cc != NULL) {
		if (f.io != NULL)
			client_io_detach(f.io);
		client_conn_free(f.cc);
	}
	for (i = 0; f.m != NULL && i < f.n; i++) {
		json_decref(f.m[i].agent);
		free(f.m[i].name);
		free(f.m[i].out[0].buf);
		free(f.m[i].out[1].buf);
		free(f.m[i].pend[0].buf);
		free(f.m[i].pend[1].buf);
		free(f.m[i].error);
		free(f.m[i].err_code);
		free(f.m[i].err_message);
	}
	free(f.m);
	json_decref(found);
	json_decref(agents);
	return r;
}
