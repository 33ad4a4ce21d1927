/*
 * cmd-forward.c - "porthole forward TARGET [BIND:]LPORT:HOST:RPORT...
 * [--socks [BIND:]PORT]": local ports that reach HOST:RPORT from inside
 * the task's network, as `ssh -L` does, or a SOCKS5 proxy whose names are
 * resolved on the agent's side.
 *
 * One forward is one session (op `forward`); every connection accepted
 * here is one stream of it (stream.h, docs/protocol.md "forward"), with
 * its own credit both ways: a connection whose reader stalls holds only
 * its window (PH_STREAM_WINDOW) and never the others.  Per connection
 * (struct fwd_conn, named states):
 *
 *   SOCKS       --socks: the greeting and the CONNECT request are read
 *   OPENING     OPEN went out; nothing is read until the agent's REPLY
 *   OPEN        bytes both ways under credit; EOF either way is a
 *               shutdown(SHUT_WR) on the other side
 *   CLOSING     the agent's CLOSE 0 came: what is queued is written, then
 *               the socket is closed
 *
 * A connection the agent cannot make (refused, unreachable, timed out,
 * not allowed by the token's forward claim) is closed with one line on
 * stderr naming it and the agent's reason (made printable); the others go
 * on.  The listening ports open before the session, so a port in use
 * fails at once; with LPORT 0 the kernel picks one, and each listener is
 * printed on stdout ("forwarding 127.0.0.1:PORT -> HOST:RPORT") once the
 * agent is ready, before any connection is accepted.
 *
 * The first SIGINT/SIGTERM ends the forward cleanly (`eof`: the agent
 * closes every connection and exits 0); a second stops waiting.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "porthole/buf.h"
#include "porthole/duration.h"
#include "porthole/socks.h"
#include "porthole/stream.h"
#include "porthole/util.h"

#include "client-conn.h"
#include "client-io.h"
#include "client-out.h"
#include "client-run.h"
#include "client-signal.h"
#include "client-target.h"
#include "cmd.h"

#define FWD_LISTEN_MAX		32	/* specs in one command */
#define FWD_ACCEPT_BURST	64	/* accepts per readiness */
#define FWD_CREDIT_STEP		(PH_STREAM_WINDOW / 4)

enum fwd_conn_state {
	FC_SOCKS,
	FC_OPENING,
	FC_OPEN,
	FC_CLOSING,
};

struct fwd_cli;

struct fwd_listener {
	struct client_loop_fd	 lfd;
	struct fwd_cli		*c;
	int			 socks;		/* a SOCKS5 port, not a fixed destination */
	char			 bind[64];	/* as shown: 127.0.0.1:PORT, [::1]:PORT */
	char			 host[PH_STREAM_HOST_MAX + 1];	/* the destination */
	uint16_t		 port;
};

struct fwd_conn {
	struct fwd_conn		*next;
	struct fwd_cli		*c;
	struct fwd_listener	*l;
	struct client_loop_fd	 cfd;
	uint32_t		 id;		/* 0 until OPEN went out */
	enum fwd_conn_state	 state;
	char			 dest[PH_STREAM_HOST_MAX + 16];	/* for messages */
	uint8_t			 sbuf[PH_SOCKS_MAX];	/* SOCKS bytes, then early data */
	size_t			 slen;
	uint64_t		 send_credit;	/* bytes the agent lets us send */
	uint64_t		 recv_avail;	/* bytes the agent may still send */
	uint64_t		 consumed;	/* written locally since the last CREDIT */
	struct ph_queue		 outq;		/* the agent's bytes for the socket */
	int			 rd_eof, eof_in, wr_shut;
	int			 greeted;	/* SOCKS: the method was chosen */
};

struct fwd_cli {
	struct client_run	 run;
	struct fwd_listener	 ls[FWD_LISTEN_MAX];
	size_t			 nls;
	struct fwd_conn		*conns;
	uint32_t		 next_id;
	int64_t			 timeout_ms;	/* --connect-timeout; 0: the agent's */
	int			 ready;
	int			 eof_sent;
	int			 blocked;	/* the session's queue is full */
};

static void fwd_conn_arm(struct fwd_conn *fc);

/* One line on stderr (escaped) through the run's writer. */
static void
fwd_say(struct fwd_cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
fwd_say(struct fwd_cli *c, const char *fmt, ...)
{
	va_list	 ap;
	char	*text = NULL, *p, *line;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	p = client_printable(text != NULL ? text : "?");
	if ((line = ph_asprintf("porthole: %s\n", p != NULL ? p : "?")) != NULL)
		client_run_write(&c->run, 2, line, strlen(line));
	free(line);
	free(p);
	free(text);
}

static int
fwd_send(struct fwd_cli *c, const uint8_t *p, size_t n)
{
	if (n == 0 || c->run.s == NULL || client_session_send(c->run.s, PH_FRAME_STREAM,
	    p, n) != 0)
		return -1;
	if (client_session_full(c->run.s))
		c->blocked = 1;
	return 0;
}

/* --- a connection's life ------------------------------------------------------ */

static void
fwd_conn_free(struct fwd_conn *fc)
{
	struct fwd_cli	 *c = fc->c;
	struct fwd_conn	**pp;

	for (pp = &c->conns; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == fc) {
			*pp = fc->next;
			break;
		}
	}
	client_runset_unwatch(c->run.set, &fc->cfd);
	close(fc->cfd.fd);
	ph_queue_free(&fc->outq);
	free(fc);
}

/* We let go of a connection the agent still holds: CLOSE, then free. */
static void
fwd_conn_abort(struct fwd_conn *fc, const char *why)
{
	uint8_t	buf[PH_STREAM_HDR + 1 + PH_STREAM_REASON_MAX];

	if (fc->id != 0 && fc->state != FC_CLOSING)
		fwd_send(fc->c, buf, ph_stream_close(buf, sizeof buf, fc->id,
		    PH_STREAM_FAILED, why));
	fwd_conn_free(fc);
}

static struct fwd_conn *
fwd_conn_find(struct fwd_cli *c, uint32_t id)
{
	struct fwd_conn	*fc;

	for (fc = c->conns; fc != NULL; fc = fc->next) {
		if (fc->id == id)
			return fc;
	}
	return NULL;
}

static void
fwd_conn_arm(struct fwd_conn *fc)
{
	short	ev = 0;

	switch (fc->state) {
	case FC_SOCKS:
		ev = POLLIN;
		break;
	case FC_OPENING:
		break;
	case FC_OPEN:
		if (!fc->rd_eof && fc->send_credit > 0 && !fc->c->blocked)
			ev |= POLLIN;
		/* FALLTHROUGH */
	case FC_CLOSING:
		if (ph_queue_peek(&fc->outq) != NULL)
			ev |= POLLOUT;
		break;
	}
	if (ev != fc->cfd.events)
		client_loop_events(fc->c->run.cc->loop, &fc->cfd, ev);
}

/* Send OPEN for host:port (SOCKS or the listener's destination). */
static void
fwd_conn_open(struct fwd_conn *fc, const char *host, uint16_t port)
{
	struct fwd_cli	*c = fc->c;
	uint8_t		 buf[PH_STREAM_HDR + 7 + PH_STREAM_HOST_MAX];
	int		 v6 = strchr(host, ':') != NULL;

	snprintf(fc->dest, sizeof fc->dest, "%s%s%s:%u", v6 ? "[" : "", host,
	    v6 ? "]" : "", port);
	fc->id = ++c->next_id;
	fc->state = FC_OPENING;
	if (fwd_send(c, buf, ph_stream_open(buf, sizeof buf, fc->id, PH_STREAM_WINDOW,
	    host, port)) != 0) {
		fwd_say(c, "forward %s -> %s: the session cannot take another "
		    "connection now", fc->l->bind, fc->dest);
		fc->id = 0;
		fwd_conn_free(fc);
		return;
	}
	fc->recv_avail = PH_STREAM_WINDOW;
	fwd_conn_arm(fc);
}

/* --- SOCKS5 (RFC 1928: no authentication, CONNECT) --------------------------------- */

/* A SOCKS reply with code rep (and a zero bound address) straight to the socket. */
static void
fwd_socks_reply(struct fwd_conn *fc, int rep)
{
	uint8_t	r[10];

	ph_socks_reply(r, rep);
	(void)!write(fc->cfd.fd, r, sizeof r);	/* 10 bytes into an empty socket */
}

/*
 * Parse what the client sent so far (socks.h): 0 wait for more, 1 done
 * (OPEN sent or the connection refused and freed).
 */
static int
fwd_socks_parse(struct fwd_conn *fc)
{
	struct ph_socks_req	 r;
	enum ph_socks_step	 step;
	static const uint8_t	 ok[2] = { 5, 0 }, noauth[2] = { 5, 0xff };

	for (;;) {
		switch ((step = ph_socks_parse(fc->sbuf, fc->slen, fc->greeted, &r))) {
		case PH_SOCKS_MORE:
			return 0;
		case PH_SOCKS_DROP:
			fwd_conn_free(fc);
			return 1;
		case PH_SOCKS_NO_METHOD:
			(void)!write(fc->cfd.fd, noauth, 2);
			fwd_conn_free(fc);
			return 1;
		case PH_SOCKS_GREETED:
			/* The client waits for our choice before it sends its request. */
			(void)!write(fc->cfd.fd, ok, 2);
			fc->greeted = 1;
			break;
		case PH_SOCKS_REFUSE:
			fwd_socks_reply(fc, r.rep);
			fwd_conn_free(fc);
			return 1;
		case PH_SOCKS_CONNECT:
			break;
		}
		/* Whatever followed is the request, or early data kept for after REPLY. */
		memmove(fc->sbuf, fc->sbuf + r.used, fc->slen - r.used);
		fc->slen -= r.used;
		if (step == PH_SOCKS_CONNECT) {
			fwd_conn_open(fc, r.host, r.port);
			return 1;
		}
	}
}

static void
fwd_socks_read(struct fwd_conn *fc)
{
	ssize_t	n;

	n = read(fc->cfd.fd, fc->sbuf + fc->slen, sizeof fc->sbuf - fc->slen);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		fwd_conn_free(fc);
		return;
	}
	fc->slen += (size_t)n;
	if (fwd_socks_parse(fc) == 0 && fc->slen == sizeof fc->sbuf)
		fwd_conn_free(fc);	/* no sane greeting is this long */
}

/* --- bytes both ways ------------------------------------------------------------- */

static void
fwd_conn_credit(struct fwd_conn *fc, int all)
{
	uint8_t	buf[PH_STREAM_HDR + 4];

	if (fc->consumed == 0 || (!all && fc->consumed < FWD_CREDIT_STEP))
		return;
	fc->recv_avail += fc->consumed;
	fwd_send(fc->c, buf, ph_stream_credit(buf, sizeof buf, fc->id,
	    (uint32_t)fc->consumed));
	fc->consumed = 0;
}

/* Send n bytes at p as DATA frames (n within credit). */
static int
fwd_conn_data(struct fwd_conn *fc, const uint8_t *p, size_t n)
{
	uint8_t	buf[PH_STREAM_HDR + PH_STREAM_DATA_MAX];
	size_t	k;

	while (n > 0) {
		k = n > PH_STREAM_DATA_MAX ? PH_STREAM_DATA_MAX : n;
		ph_stream_data_hdr(buf, fc->id);
		memcpy(buf + PH_STREAM_HDR, p, k);
		if (fwd_send(fc->c, buf, PH_STREAM_HDR + k) != 0)
			return -1;
		fc->send_credit -= k;
		p += k;
		n -= k;
	}
	return 0;
}

static void
fwd_conn_read(struct fwd_conn *fc)
{
	uint8_t	buf[PH_STREAM_HDR + PH_STREAM_DATA_MAX], eof[PH_STREAM_HDR];
	size_t	max = PH_STREAM_DATA_MAX;
	ssize_t	n;

	if (fc->c->blocked || fc->send_credit == 0) {
		fwd_conn_arm(fc);
		return;
	}
	if (max > fc->send_credit)
		max = (size_t)fc->send_credit;
	n = read(fc->cfd.fd, buf + PH_STREAM_HDR, max);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		fwd_conn_abort(fc, "the local connection was reset");
		return;
	}
	if (n == 0) {
		fc->rd_eof = 1;
		fwd_send(fc->c, eof, ph_stream_eof(eof, sizeof eof, fc->id));
		fwd_conn_arm(fc);
		return;
	}
	ph_stream_data_hdr(buf, fc->id);
	if (fwd_send(fc->c, buf, PH_STREAM_HDR + (size_t)n) != 0) {
		fwd_conn_abort(fc, "the session's queue is full");
		return;
	}
	fc->send_credit -= (uint64_t)n;
	fwd_conn_arm(fc);
}

/* Write what the agent sent; then its EOF or CLOSE. */
static void
fwd_conn_write(struct fwd_conn *fc)
{
	struct ph_qitem	*it;
	ssize_t		 n;

	while ((it = ph_queue_peek(&fc->outq)) != NULL) {
		n = send(fc->cfd.fd, it->data + PH_HEADROOM + it->off, it->len - it->off,
		    MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			fwd_conn_abort(fc, "the local connection was closed");
			return;
		}
		it->off += (size_t)n;
		fc->consumed += (uint64_t)n;
		if (it->off == it->len)
			ph_queue_pop(&fc->outq);
	}
	if (fc->state == FC_OPEN)
		fwd_conn_credit(fc, ph_queue_peek(&fc->outq) == NULL);
	if (ph_queue_peek(&fc->outq) == NULL) {
		if (fc->state == FC_CLOSING) {
			fwd_conn_free(fc);
			return;
		}
		if (fc->eof_in && !fc->wr_shut) {
			shutdown(fc->cfd.fd, SHUT_WR);
			fc->wr_shut = 1;
		}
	}
	fwd_conn_arm(fc);
}

static void
fwd_conn_event(void *arg, short rev)
{
	struct fwd_conn	*fc = arg;

	if (fc->state == FC_SOCKS) {
		fwd_socks_read(fc);
		return;
	}
	if ((rev & POLLOUT) != 0 || ((rev & (POLLERR | POLLHUP)) != 0 &&
	    ph_queue_peek(&fc->outq) != NULL)) {
		fwd_conn_write(fc);
		return;		/* fc may be gone; the next round reads */
	}
	if (fc->state == FC_OPEN && (fc->cfd.events & POLLIN) != 0 &&
	    (rev & (POLLIN | POLLHUP | POLLERR)) != 0)
		fwd_conn_read(fc);
}

/* --- accepting ------------------------------------------------------------------ */

static void
fwd_accept(void *arg, short rev)
{
	struct fwd_listener	*l = arg;
	struct fwd_cli		*c = l->c;
	struct fwd_conn		*fc;
	int			 fd, i, one = 1;

	(void)rev;
	for (i = 0; i < FWD_ACCEPT_BURST; i++) {
		fd = accept4(l->lfd.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (c->run.abort != CLIENT_RUN_RUNNING || c->eof_sent || c->run.got_exit ||
		    (fc = calloc(1, sizeof *fc)) == NULL) {
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		fc->c = c;
		fc->l = l;
		fc->cfd.fd = fd;
		fc->cfd.fn = fwd_conn_event;
		fc->cfd.arg = fc;
		ph_queue_init(&fc->outq, 0, PH_STREAM_WINDOW, PH_STREAM_WINDOW);
		fc->next = c->conns;
		c->conns = fc;
		client_runset_watch(c->run.set, &fc->cfd);
		if (l->socks) {
			fc->state = FC_SOCKS;
			fwd_conn_arm(fc);
		} else
			fwd_conn_open(fc, l->host, l->port);
	}
}

/* --- the agent's frames ------------------------------------------------------------ */

static void
fwd_reply(struct fwd_conn *fc, const struct ph_stream_msg *m)
{
	char	*why;

	if (m->status != PH_STREAM_OK) {
		why = strndup((const char *)m->data, m->len);
		fwd_say(fc->c, "forward %s -> %s: %s", fc->l->bind, fc->dest,
		    why != NULL && *why != '\0' ? why : ph_stream_status_text(m->status));
		free(why);
		if (fc->l->socks)
			fwd_socks_reply(fc, m->status);
		fc->state = FC_CLOSING;		/* the agent forgot it */
		fwd_conn_free(fc);
		return;
	}
	if (fc->l->socks)
		fwd_socks_reply(fc, 0);
	fc->state = FC_OPEN;
	fc->send_credit = m->window;
	if (fc->slen > 0) {
		size_t k = fc->slen > fc->send_credit ? (size_t)fc->send_credit : fc->slen;

		fwd_conn_data(fc, fc->sbuf, k);	/* SOCKS early data */
		fc->slen = 0;
	}
	fwd_conn_arm(fc);
}

static int
fwd_stream_frame(struct fwd_cli *c, const struct ph_frame *f)
{
	struct ph_stream_msg	 m;
	struct fwd_conn		*fc;
	const char		*cause;
	char			*why;

	if (ph_stream_parse(f->payload, f->len, &m, &cause) != 0) {
		client_session_fail(c->run.s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE, cause);
		return 1;
	}
	if (m.kind == PH_STREAM_OPEN || m.id > c->next_id) {
		client_session_fail(c->run.s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
		    "stream frame the agent may not send");
		return 1;
	}
	if ((fc = fwd_conn_find(c, m.id)) == NULL || fc->state == FC_CLOSING)
		return 1;	/* we let go of it already */
	if (fc->state == FC_OPENING && m.kind != PH_STREAM_REPLY) {
		client_session_fail(c->run.s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
		    "stream frame before the stream's reply");
		return 1;
	}
	switch (m.kind) {
	case PH_STREAM_REPLY:
		if (fc->state != FC_OPENING) {
			client_session_fail(c->run.s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
			    "a second reply for one stream");
			return 1;
		}
		fwd_reply(fc, &m);
		break;
	case PH_STREAM_DATA:
		if (fc->eof_in || m.len > fc->recv_avail) {
			client_session_fail(c->run.s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
			    "the agent sent past a stream's credit or its end");
			return 1;
		}
		fc->recv_avail -= m.len;
		if (ph_queue_push(&fc->outq, -1, m.data, m.len) != 0) {
			fwd_conn_abort(fc, "out of memory");
			break;
		}
		fwd_conn_write(fc);
		break;
	case PH_STREAM_CREDIT:
		fc->send_credit += m.credit;
		if (fc->send_credit > (uint64_t)PH_STREAM_WINDOW_MAX * 2) {
			client_session_fail(c->run.s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
			    "credit beyond any window");
			return 1;
		}
		fwd_conn_arm(fc);
		break;
	case PH_STREAM_EOF:
		fc->eof_in = 1;
		fwd_conn_write(fc);
		break;
	case PH_STREAM_CLOSE:
		if (m.status != PH_STREAM_OK) {
			why = strndup((const char *)m.data, m.len);
			fwd_say(c, "forward %s -> %s: closed: %s", fc->l->bind, fc->dest,
			    why != NULL && *why != '\0' ? why :
			    ph_stream_status_text(m.status));
			free(why);
			fwd_conn_free(fc);
			break;
		}
		fc->state = FC_CLOSING;
		fwd_conn_write(fc);
		break;
	default:
		break;
	}
	return 1;
}

/* The agent is ready: print the listeners, start accepting. */
static void
fwd_ready(struct fwd_cli *c)
{
	char	*line;
	size_t	 i;

	c->ready = 1;
	for (i = 0; i < c->nls; i++) {
		struct fwd_listener *l = &c->ls[i];

		if (l->socks)
			line = ph_asprintf("forwarding %s -> SOCKS5 through %s\n", l->bind,
			    c->run.agent_name);
		else
			line = ph_asprintf("forwarding %s -> %s%s%s:%u\n", l->bind,
			    strchr(l->host, ':') != NULL ? "[" : "", l->host,
			    strchr(l->host, ':') != NULL ? "]" : "", l->port);
		if (line != NULL)
			client_run_write(&c->run, 1, line, strlen(line));
		free(line);
		l->lfd.fn = fwd_accept;
		l->lfd.arg = l;
		l->lfd.events = POLLIN;
		client_runset_watch(c->run.set, &l->lfd);
	}
}

static int
fwd_frame(void *arg, const struct ph_frame *f)
{
	struct fwd_cli	*c = arg;

	if (f->type == PH_FRAME_STREAM)
		return fwd_stream_frame(c, f);
	if (f->type == PH_FRAME_CONTROL && f->ctl == PH_CTL_READY && !c->ready) {
		fwd_ready(c);
		return 1;
	}
	return 0;
}

static void
fwd_open(void *arg)
{
	struct fwd_cli	*c = arg;
	json_t		*o, *extra = NULL;

	if (c->timeout_ms > 0)
		extra = json_pack("{s:I}", "timeout_ms", (json_int_t)c->timeout_ms);
	if ((o = client_run_open(&c->run, "forward", 0, NULL, 0, extra, 0)) == NULL) {
		client_run_abort(&c->run, CLIENT_RUN_ABORT_OVERFLOW, "internal error");
		return;
	}
	client_run_send_open(&c->run, o);
}

/* Room in the session again: read the connections that wait for it. */
static void
fwd_pump(void *arg)
{
	struct fwd_cli	*c = arg;
	struct fwd_conn	*fc;

	if (!c->blocked || c->run.s == NULL || client_session_full(c->run.s))
		return;
	c->blocked = 0;
	for (fc = c->conns; fc != NULL; fc = fc->next)
		fwd_conn_arm(fc);
}

static void
fwd_stop_listening(struct fwd_cli *c)
{
	size_t	i;

	for (i = 0; i < c->nls; i++) {
		if (c->ls[i].lfd.fd >= 0) {
			client_runset_unwatch(c->run.set, &c->ls[i].lfd);
			close(c->ls[i].lfd.fd);
			c->ls[i].lfd.fd = -1;
		}
	}
}

/* The first SIGINT/SIGTERM: `eof`, the agent ends it; a second: leave. */
static void
fwd_signal(void *arg, int sig)
{
	struct fwd_cli	*c = arg;

	(void)sig;
	if (c->eof_sent || !c->run.established || c->run.got_exit) {
		client_run_abort(&c->run, CLIENT_RUN_ABORT_SIGNAL, "interrupted");
		return;
	}
	fwd_stop_listening(c);
	if (client_session_send_ctl(c->run.s, ph_ctl_new(PH_CTL_EOF)) == 0)
		c->eof_sent = 1;
	else
		client_run_abort(&c->run, CLIENT_RUN_ABORT_SIGNAL, "interrupted");
}

static void
fwd_closed(void *arg)
{
	struct fwd_cli	*c = arg;

	fwd_stop_listening(c);
	while (c->conns != NULL)
		fwd_conn_free(c->conns);
}

static const struct client_run_ops fwd_ops = {
	.open = fwd_open,
	.pump = fwd_pump,
	.signal = fwd_signal,
	.frame = fwd_frame,
	.closed = fwd_closed,
};

/* --- the command line ---------------------------------------------------------- */

/*
 * Split s at the colons outside brackets into at most max parts (copies
 * in buf, brackets kept); the count, or -1.
 */
static int
fwd_split(const char *s, char *buf, size_t len, char **parts, int max)
{
	int	n = 0, depth = 0;
	char	*p;

	if (strlen(s) >= len)
		return -1;
	strcpy(buf, s);
	parts[n++] = buf;
	for (p = buf; *p != '\0'; p++) {
		if (*p == '[')
			depth++;
		else if (*p == ']')
			depth--;
		else if (*p == ':' && depth == 0) {
			if (n == max)
				return -1;
			*p = '\0';
			parts[n++] = p + 1;
		}
	}
	return depth == 0 ? n : -1;
}

/* "[v6]" → "v6" in place; other text as it is. */
static char *
fwd_unbracket(char *s)
{
	size_t	n = strlen(s);

	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s[n - 1] = '\0';
		return s + 1;
	}
	return s;
}

static int
fwd_port(const char *s, int zero_ok, uint16_t *out)
{
	char		*end;
	unsigned long	 v;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtoul(s, &end, 10);
	if (*end != '\0' || v > 65535 || (v == 0 && !zero_ok))
		return -1;
	*out = (uint16_t)v;
	return 0;
}

/* Listen on bind:port for l; 0, or -1 with *cause. */
static int
fwd_listen(struct fwd_listener *l, const char *bind_addr, uint16_t port, char **cause)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)&ss;
	socklen_t		 sl;
	char			 a[INET6_ADDRSTRLEN];
	int			 fd, one = 1;

	memset(&ss, 0, sizeof ss);
	if (*bind_addr == '\0' || strcmp(bind_addr, "localhost") == 0)
		bind_addr = "127.0.0.1";
	else if (strcmp(bind_addr, "*") == 0)
		bind_addr = "0.0.0.0";
	if (inet_pton(AF_INET, bind_addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		sl = sizeof *s4;
	} else if (inet_pton(AF_INET6, bind_addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		sl = sizeof *s6;
	} else {
		*cause = ph_asprintf("%s: not an address to listen on (an IPv4 or "
		    "[IPv6] address, localhost or *)", bind_addr);
		return -1;
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 512) != 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
		*cause = ph_asprintf("cannot listen on %s port %u: %s", bind_addr, port,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	l->lfd.fd = fd;
	if (ss.ss_family == AF_INET) {
		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof a);
		snprintf(l->bind, sizeof l->bind, "%s:%u", a, ntohs(s4->sin_port));
	} else {
		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof a);
		snprintf(l->bind, sizeof l->bind, "[%s]:%u", a, ntohs(s6->sin6_port));
	}
	return 0;
}

/* One spec: [BIND:]LPORT:HOST:RPORT, or (socks) [BIND:]PORT. */
static int
fwd_spec(struct fwd_cli *c, const char *spec, int socks)
{
	struct fwd_listener	*l;
	char			 buf[600], *parts[4], *cause = NULL, *host;
	const char		*bind_addr = "127.0.0.1";
	uint16_t		 lport;
	int			 n, r;

	if (c->nls == FWD_LISTEN_MAX)
		return cmd_usage_error(&cmd_forward_entry, "at most %d forwards in one "
		    "command", FWD_LISTEN_MAX);
	l = &c->ls[c->nls];
	l->c = c;
	l->socks = socks;
	l->lfd.fd = -1;
	n = fwd_split(spec, buf, sizeof buf, parts, socks ? 2 : 4);
	if (socks ? (n != 1 && n != 2) : (n != 3 && n != 4))
		return cmd_usage_error(&cmd_forward_entry, "%s: not %s", spec, socks ?
		    "[BIND:]PORT" : "[BIND:]LPORT:HOST:RPORT");
	if ((socks && n == 2) || (!socks && n == 4)) {
		bind_addr = fwd_unbracket(parts[0]);
		memmove(parts, parts + 1, 3 * sizeof parts[0]);
	}
	if (fwd_port(parts[0], 1, &lport) != 0)
		return cmd_usage_error(&cmd_forward_entry, "%s: '%s' is not a local port "
		    "(0 to 65535; 0 picks a free one)", spec, parts[0]);
	if (!socks) {
		host = fwd_unbracket(parts[1]);
		if (*host == '\0' || strlen(host) > PH_STREAM_HOST_MAX)
			return cmd_usage_error(&cmd_forward_entry, "%s: no HOST, or longer "
			    "than %d bytes", spec, PH_STREAM_HOST_MAX);
		if (fwd_port(parts[2], 0, &l->port) != 0)
			return cmd_usage_error(&cmd_forward_entry, "%s: '%s' is not a port "
			    "(1 to 65535)", spec, parts[2]);
		snprintf(l->host, sizeof l->host, "%s", host);
	}
	if (fwd_listen(l, bind_addr, lport, &cause) != 0) {
		r = cmd_fail(cause);
		return r;
	}
	c->nls++;
	return 0;
}

static int
fwd_parse(struct fwd_cli *c, struct client_conf *conf, int argc, char **argv,
    const char **target)
{
	char	*cause = NULL;
	int	 i, r, nspecs = 0;

	*target = NULL;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--socks") == 0) {
			if (i + 1 >= argc)
				return cmd_usage_error(&cmd_forward_entry, "--socks needs "
				    "[BIND:]PORT");
			if ((r = fwd_spec(c, argv[++i], 1)) != 0)
				return r;
			nspecs++;
		} else if (strcmp(a, "--connect-timeout") == 0) {
			if (i + 1 >= argc)
				return cmd_usage_error(&cmd_forward_entry, "--connect-timeout "
				    "needs a duration");
			if (ph_duration_parse(argv[++i], &c->timeout_ms, &cause) != 0 ||
			    c->timeout_ms < 100 || c->timeout_ms > 600000) {
				r = cmd_usage_error(&cmd_forward_entry, "--connect-timeout %s: %s",
				    argv[i], cause != NULL ? cause : "must be between 100ms "
				    "and 10m");
				free(cause);
				return r;
			}
		} else if (a[0] == '-' && a[1] != '\0') {
			if ((r = client_run_option(&c->run, &cmd_forward_entry, argc, argv,
			    &i)) < 0 && (r = cmd_conf_option(&cmd_forward_entry, conf, argc,
			    argv, &i)) != 0)
				return r;
			if (r > 0)
				return r;
		} else if (*target == NULL)
			*target = a;
		else {
			if ((r = fwd_spec(c, a, 0)) != 0)
				return r;
			nspecs++;
		}
	}
	if (*target == NULL)
		return cmd_usage_error(&cmd_forward_entry, "missing TARGET");
	if (nspecs == 0)
		return cmd_usage_error(&cmd_forward_entry, "missing [BIND:]LPORT:HOST:RPORT "
		    "or --socks [BIND:]PORT");
	return 0;
}

/* Does the agent serve forward (hello.caps)? */
static int
fwd_agent_serves(json_t *agent)
{
	if (!json_is_array(json_object_get(agent, "caps")))
		return 1;	/* a relay that does not list caps: let the agent say */
	return client_agent_has_cap(agent, "forward");
}

static int
cmd_forward_exec(struct client_conf *conf, int argc, char **argv)
{
	struct fwd_cli	*c;
	const char	*target;
	char		*cause = NULL;
	size_t		 i;
	int		 r;

	if ((c = calloc(1, sizeof *c)) == NULL)
		return cmd_failf("out of memory");
	for (i = 0; i < FWD_LISTEN_MAX; i++)
		c->ls[i].lfd.fd = -1;
	if ((r = fwd_parse(c, conf, argc, argv, &target)) != 0)
		goto out;
	if ((r = client_run_resolve(&c->run, conf, target)) != 0)
		goto out;
	if (!fwd_agent_serves(c->run.agent)) {
		r = cmd_failf("agent %s (%s) does not serve forward: upgrade the agent",
		    c->run.agent_name, c->run.agent_id);
		goto out;
	}
	client_signal_block();
	if (client_run_loop(&c->run, 0, &fwd_ops, c, &cause) != 0) {
		r = cmd_fail(cause);
		goto out;
	}
	{
		int fd;

		client_io_flush(c->run.io, &fd);
	}
	if (c->run.abort == CLIENT_RUN_ABORT_SIGNAL) {
		r = cmd_failf("interrupted: the forward to %s (%s) was closed",
		    c->run.agent_name, c->run.agent_id);
		goto out;
	}
	if (c->run.got_exit && c->eof_sent) {
		r = 0;
		goto out;
	}
	r = cmd_fail(client_run_failure(&c->run, "forward", "its connections were "
	    "closed"));
out:
	for (i = 0; i < FWD_LISTEN_MAX; i++) {
		if (c->ls[i].lfd.fd >= 0)
			close(c->ls[i].lfd.fd);
	}
	while (c->conns != NULL) {
		struct fwd_conn *fc = c->conns;

		c->conns = fc->next;
		close(fc->cfd.fd);
		ph_queue_free(&fc->outq);
		free(fc);
	}
	client_run_free(&c->run);
	free(c);
	return r;
}

const struct cmd_entry cmd_forward_entry = {
	.name = "forward",
	.alias = NULL,
	.usage = "TARGET [BIND:]LPORT:HOST:RPORT... [--socks [BIND:]PORT] "
	    "[--connect-timeout DUR]",
	.about = "forward local ports to HOST:RPORT inside the task's network (ssh -L), "
	    "or a SOCKS5 proxy",
	.exec = cmd_forward_exec,
	.flags = CMD_TARGET | CMD_NO_CONSOLE,
	.description = "Listen on local ports and carry every connection to "
	    "HOST:RPORT from inside the task's network, as ssh -L does: a "
	    "database, an admin endpoint, a JVM's JMX port. BIND defaults to "
	    "127.0.0.1 (* listens on every interface); LPORT 0 picks a free "
	    "port. Each listener is printed once the agent is ready "
	    "('forwarding 127.0.0.1:PORT -> HOST:RPORT'). One forward is one "
	    "session whatever the number of connections; each connection has "
	    "its own flow control, so a stalled one never holds up the others. "
	    "A connection the agent cannot make (refused, unreachable, timed "
	    "out, not allowed) is closed with one line on stderr, and the "
	    "others go on. Names are resolved on the agent's side. The token "
	    "needs scope forward; its forward claim, when it has one, limits "
	    "the destinations (porthole token issue --forward), and the task's "
	    "credential endpoints (169.254.170.2, 169.254.169.254) are refused "
	    "unless the claim names them. Ctrl-C ends the forward.",
	.options = (const struct ph_help_opt[]){
		{ "--socks", NULL, "[BIND:]PORT", "serve SOCKS5 there (no "
		    "authentication, CONNECT; IPv4, IPv6 and names, resolved by the "
		    "agent): curl --socks5-hostname, ssh -o ProxyCommand='nc -X 5 "
		    "-x ...'; may go with or instead of the fixed forwards" },
		{ "--connect-timeout", NULL, "DUR", "how long the agent waits for "
		    "a destination to answer (and for its name to resolve) before "
		    "closing that connection (default 10s, 100ms to 10m)" },
		{ "--pid", NULL, "PID", "connect from the network namespace of "
		    "process PID on the agent's host: needs CAP_SYS_ADMIN, which "
		    "Fargate does not grant (a Fargate task's containers share one "
		    "namespace, so forward without --pid reaches them)" },
		{ "--container", NULL, "NAME", "the same for the task's container "
		    "NAME (ECS task metadata)" },
		{ NULL, NULL, NULL, NULL }
	},
};
