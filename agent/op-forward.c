/*
 * op-forward.c - the `forward` operation: every connection the CLI
 * accepts (`porthole forward`, `--socks`) is one stream of this session
 * (stream.h), and here one TCP connection from the task's network to
 * the destination the stream's OPEN names.
 *
 * All of a session's sockets sit in one epoll set, which joins the
 * agent's loop as one raw file: its RAW_RX_FILE runs the ready sockets.
 * Per stream (struct fwd_stream, named states, one function per
 * transition):
 *
 *   RESOLVING   the host is a name: agent-lookup.c resolves it off the loop
 *   CONNECTING  a non-blocking connect to one address, then the next
 *   OPEN        REPLY ok went out; bytes flow both ways under credit
 *   DONE        the socket is closed, CLOSE (or a failed REPLY) went out
 *
 * Every address is checked against the token's forward claim and the
 * credential endpoints (fwdpolicy.h) before a connect, after resolution.
 * A connect (or a lookup) that takes longer than the open's timeout_ms
 * (default 10 s) fails with "timed out".  Flow control: the agent reads a
 * socket only while the client's credit for it lasts and the session's
 * queue toward the relay is under its high mark; what the client sends is
 * queued per stream up to the window the agent granted, and credit goes
 * back as it is written to the socket.  A client that sends past its
 * credit ends the session (bad_message).  Half-close: the socket's EOF
 * becomes an EOF frame, the client's EOF a shutdown(SHUT_WR) once its
 * bytes are written; with both, the stream ends with CLOSE 0.
 *
 * Each stream that was opened is reported once it ends, as a CONTROL
 * `report` {kind "forward", stream, dest, address, bytes_out (to the
 * destination), bytes_in, duration_ms, outcome, error} which the relay
 * audits (forward_stream) and does not pass on.
 *
 * --pid / --container: the sockets are made inside that process's network
 * namespace (setns(2) on the loop's thread around socket(2), then back),
 * which needs CAP_SYS_ADMIN; Fargate never grants it, and its containers
 * share one namespace anyway.  Names are resolved with the agent's
 * resolver configuration either way.
 *
 * The client's `eof` control ends the session: every stream is closed
 * and `exit` 0 follows.
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "porthole/fwdpolicy.h"
#include "porthole/log.h"
#include "porthole/ops.h"
#include "porthole/stream.h"
#include "porthole/util.h"

#include "agent.h"
#include "op.h"

#define FWD_TIMEOUT_MS		10000	/* default connect (and lookup) bound */
#define FWD_TICK_MS		250	/* how often deadlines are looked at */
#define FWD_EVENTS		64	/* epoll events per round */
#define FWD_CREDIT_STEP		(PH_STREAM_WINDOW / 4)

enum fwd_state {
	FWD_RESOLVING,
	FWD_CONNECTING,
	FWD_OPEN,
	FWD_DONE,
};

struct fwd;

struct fwd_stream {
	struct fwd_stream	*next;
	struct fwd		*f;
	uint32_t		 id;
	enum fwd_state		 state;
	int			 fd;		/* -1: none */
	uint32_t		 armed;		/* epoll events asked for */
	int			 in_set;	/* fd is in the epoll set */
	char			 host[PH_STREAM_HOST_MAX + 1];
	uint16_t		 port;
	char			 addr[INET6_ADDRSTRLEN];	/* the address tried last */
	struct agent_lookup	*lookup;	/* RESOLVING */
	struct sockaddr_storage	 addrs[AGENT_LOOKUP_ADDRS];
	socklen_t		 lens[AGENT_LOOKUP_ADDRS];
	size_t			 naddrs, next_addr;
	int			 fail_status;	/* the last attempt's, PH_STREAM_* */
	char			 fail_why[256];
	int64_t			 t0, deadline;	/* monotonic ms */
	uint64_t		 send_credit;	/* bytes the client lets us send */
	uint64_t		 recv_avail;	/* bytes the client may still send */
	uint64_t		 consumed;	/* written since the last CREDIT */
	struct ph_queue		 outq;		/* the client's bytes for the socket */
	int			 rd_eof;	/* the socket's EOF went out as EOF */
	int			 eof_in;	/* the client's EOF came */
	int			 wr_shut;	/* ... and went on as shutdown(SHUT_WR) */
	uint64_t		 bytes_out, bytes_in;
};

struct fwd {
	struct agent_session	*s;
	struct lws		*ep_wsi;	/* the epoll set in the loop; NULL once closed */
	int			 epfd;
	struct ph_fwd_policy	*policy;
	int			 ns_fd;		/* the target's netns, -1: ours */
	int			 self_ns_fd;	/* ours, to come back */
	int64_t			 timeout_ms;
	struct fwd_stream	*streams, *dead;
	unsigned		 nstreams;
	uint32_t		 last_id;
	int			 blocked;	/* the session's queue is over its high mark */
	int			 ending;	/* eof came or the session was lost */
	int			 lost;
	int			 tick_on;
	lws_sorted_usec_list_t	 sul;
};

static void fwd_stream_arm(struct fwd_stream *st);
static void fwd_try_next(struct fwd_stream *st);

/* --- sending -------------------------------------------------------------- */

static int
fwd_send(struct fwd *f, const uint8_t *p, size_t n)
{
	if (n == 0 || f->lost)
		return -1;
	if (agent_session_send(f->s, PH_FRAME_STREAM, p, n) != 0)
		return -1;
	if (!f->blocked && agent_session_over_high(f->s))
		f->blocked = 1;		/* sockets are re-armed as they come up */
	return 0;
}

static void
fwd_report(struct fwd_stream *st, const char *outcome, const char *error)
{
	struct fwd	*f = st->f;
	json_t		*r;
	char		 dest[PH_STREAM_HOST_MAX + 16];
	int		 v6 = strchr(st->host, ':') != NULL;

	snprintf(dest, sizeof dest, "%s%s%s:%u", v6 ? "[" : "", st->host, v6 ? "]" : "",
	    st->port);
	ph_info("session %.8s: forward stream %u to %s (%s): %s%s%s, %llu bytes out, "
	    "%llu in", f->s->sid, st->id, dest, st->addr[0] != '\0' ? st->addr : "-",
	    outcome, error != NULL ? ": " : "", error != NULL ? error : "",
	    (unsigned long long)st->bytes_out, (unsigned long long)st->bytes_in);
	if (f->lost)
		return;
	r = json_pack("{s:s, s:s, s:I, s:s, s:s, s:I, s:I, s:I, s:s}",
	    "type", "report", "kind", "forward", "stream", (json_int_t)st->id,
	    "dest", dest, "address", st->addr, "bytes_out", (json_int_t)st->bytes_out,
	    "bytes_in", (json_int_t)st->bytes_in, "duration_ms",
	    (json_int_t)(ph_mono_ms() - st->t0), "outcome", outcome);
	if (r != NULL && error != NULL)
		json_object_set_new(r, "error", json_string(error));
	if (r != NULL)
		agent_session_send_relay_ctl(f->s, r);
}

/* --- a stream's life -------------------------------------------------------- */

static struct fwd_stream *
fwd_find(struct fwd *f, uint32_t id)
{
	struct fwd_stream	*st;

	for (st = f->streams; st != NULL; st = st->next) {
		if (st->id == id)
			return st;
	}
	return NULL;
}

/* Any → DONE: the socket closed, the stream off the list (freed later). */
static void
fwd_stream_done(struct fwd_stream *st)
{
	struct fwd		 *f = st->f;
	struct fwd_stream	**pp;

	if (st->state == FWD_DONE)
		return;
	st->state = FWD_DONE;
	if (st->lookup != NULL) {
		agent_lookup_cancel(st->lookup);
		st->lookup = NULL;
	}
	if (st->fd >= 0) {
		close(st->fd);		/* leaves the epoll set */
		st->fd = -1;
	}
	ph_queue_free(&st->outq);
	for (pp = &f->streams; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == st) {
			*pp = st->next;
			f->nstreams--;
			break;
		}
	}
	st->next = f->dead;
	f->dead = st;
}

static void
fwd_free_dead(struct fwd *f)
{
	struct fwd_stream	*st;

	while ((st = f->dead) != NULL) {
		f->dead = st->next;
		free(st);
	}
}

/* RESOLVING/CONNECTING → DONE: REPLY with the failure, and the report. */
static void
fwd_stream_refuse(struct fwd_stream *st, int status, const char *why)
{
	uint8_t		 buf[PH_STREAM_HDR + 5 + PH_STREAM_REASON_MAX];
	static const char *outcomes[] = {
		[PH_STREAM_FAILED] = "failed", [PH_STREAM_NOT_ALLOWED] = "not_allowed",
		[PH_STREAM_NET_UNREACHABLE] = "unreachable",
		[PH_STREAM_HOST_UNREACHABLE] = "unreachable",
		[PH_STREAM_REFUSED] = "refused", [PH_STREAM_TIMEOUT] = "timeout",
		[PH_STREAM_BAD_ADDRESS] = "bad_address",
	};
	const char	*outcome = status > 0 && status <= PH_STREAM_BAD_ADDRESS &&
	    outcomes[status] != NULL ? outcomes[status] : "failed";

	fwd_send(st->f, buf, ph_stream_reply(buf, sizeof buf, st->id, (uint8_t)status, 0,
	    why));
	fwd_report(st, outcome, why);
	fwd_stream_done(st);
}

/* OPEN → DONE: CLOSE status (0: a clean end) with its reason, and the report. */
static void
fwd_stream_close(struct fwd_stream *st, int status, const char *why, const char *outcome)
{
	uint8_t		 buf[PH_STREAM_HDR + 1 + PH_STREAM_REASON_MAX];

	fwd_send(st->f, buf, ph_stream_close(buf, sizeof buf, st->id, (uint8_t)status, why));
	fwd_report(st, outcome, status == PH_STREAM_OK ? NULL : why);
	fwd_stream_done(st);
}

/* Both halves closed and everything written: the clean end. */
static void
fwd_stream_check_end(struct fwd_stream *st)
{
	if (st->state == FWD_OPEN && st->rd_eof && st->wr_shut)
		fwd_stream_close(st, PH_STREAM_OK, NULL, "closed");
}

/*
 * Ask epoll for what the stream's state needs now.  A socket that needs
 * nothing leaves the set: epoll reports a hangup or an error whatever it
 * was asked, which would spin a stream that waits for credit.
 */
static void
fwd_stream_arm(struct fwd_stream *st)
{
	struct epoll_event	ev;
	uint32_t		want = 0;

	if (st->fd < 0 || st->state == FWD_DONE)
		return;
	if (st->state == FWD_CONNECTING)
		want = EPOLLOUT;
	else if (st->state == FWD_OPEN) {
		if (!st->rd_eof && st->send_credit > 0 && !st->f->blocked)
			want |= EPOLLIN | EPOLLRDHUP;
		if (ph_queue_peek(&st->outq) != NULL)
			want |= EPOLLOUT;
	}
	if (want == st->armed && (want != 0) == st->in_set)
		return;
	if (want == 0) {
		if (st->in_set)
			epoll_ctl(st->f->epfd, EPOLL_CTL_DEL, st->fd, NULL);
		st->in_set = 0;
		st->armed = 0;
		return;
	}
	memset(&ev, 0, sizeof ev);
	ev.events = want;
	ev.data.ptr = st;
	if (epoll_ctl(st->f->epfd, st->in_set ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, st->fd,
	    &ev) == 0) {
		st->in_set = 1;
		st->armed = want;
	} else
		ph_warn("session %.8s: forward stream %u: epoll: %s", st->f->s->sid, st->id,
		    strerror(errno));
}

/* --- connecting --------------------------------------------------------------- */

/* A socket of family in the target's network namespace; -1 with errno. */
static int
fwd_socket(struct fwd *f, int family)
{
	int	fd, e;

	if (f->ns_fd >= 0 && setns(f->ns_fd, CLONE_NEWNET) != 0)
		return -1;
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	e = errno;
	if (f->ns_fd >= 0 && setns(f->self_ns_fd, CLONE_NEWNET) != 0)
		ph_err("forward: cannot return to the agent's network namespace: %s",
		    strerror(errno));
	errno = e;
	return fd;
}

/* CONNECTING → OPEN: REPLY ok with the window we grant. */
static void
fwd_stream_connected(struct fwd_stream *st)
{
	uint8_t	buf[PH_STREAM_HDR + 5];
	int	one = 1;

	setsockopt(st->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	st->state = FWD_OPEN;
	st->recv_avail = PH_STREAM_WINDOW;
	ph_queue_init(&st->outq, 0, PH_STREAM_WINDOW, PH_STREAM_WINDOW);
	fwd_send(st->f, buf, ph_stream_reply(buf, sizeof buf, st->id, PH_STREAM_OK,
	    PH_STREAM_WINDOW, NULL));
	fwd_stream_arm(st);
}

/* One attempt failed with errno err: note it, try the next address. */
static void
fwd_attempt_failed(struct fwd_stream *st, int err)
{
	int	v6 = strchr(st->addr, ':') != NULL;

	if (st->fd >= 0) {
		close(st->fd);		/* leaves the epoll set */
		st->fd = -1;
		st->armed = 0;
		st->in_set = 0;
	}
	st->fail_status = ph_stream_status_errno(err);
	snprintf(st->fail_why, sizeof st->fail_why, "%s%s%s:%u: %s", v6 ? "[" : "",
	    st->addr, v6 ? "]" : "", st->port, err == ETIMEDOUT ?
	    "connect timed out (no answer: dropped by a firewall?)" : strerror(err));
	fwd_try_next(st);
}

/* Connect to the next allowed address, or refuse with the last failure. */
static void
fwd_try_next(struct fwd_stream *st)
{
	struct fwd		*f = st->f;
	struct sockaddr_in6	*sa;
	char			*why = NULL;
	size_t			 i;

	while ((i = st->next_addr) < st->naddrs) {
		st->next_addr++;
		sa = (struct sockaddr_in6 *)&st->addrs[i];
		sa->sin6_port = htons(st->port);	/* same place in sockaddr_in */
		if (getnameinfo((struct sockaddr *)sa, st->lens[i], st->addr,
		    sizeof st->addr, NULL, 0, NI_NUMERICHOST) != 0)
			snprintf(st->addr, sizeof st->addr, "?");
		if (ph_fwd_policy_check(f->policy, st->host, st->port,
		    (struct sockaddr *)sa, &why) != 0) {
			st->fail_status = PH_STREAM_NOT_ALLOWED;
			snprintf(st->fail_why, sizeof st->fail_why, "%s", why);
			free(why);
			why = NULL;
			continue;
		}
		if ((st->fd = fwd_socket(f, sa->sin6_family)) < 0) {
			fwd_attempt_failed(st, errno);
			return;
		}
		st->state = FWD_CONNECTING;
		st->deadline = ph_mono_ms() + f->timeout_ms;
		st->armed = 0;
		st->in_set = 0;
		if (connect(st->fd, (struct sockaddr *)sa, st->lens[i]) == 0)
			fwd_stream_connected(st);
		else if (errno == EINPROGRESS)
			fwd_stream_arm(st);
		else
			fwd_attempt_failed(st, errno);
		return;
	}
	fwd_stream_refuse(st, st->fail_status != 0 ? st->fail_status : PH_STREAM_FAILED,
	    st->fail_why[0] != '\0' ? st->fail_why : "no address to connect to");
}

/* agent-lookup.c's answer (RESOLVING → CONNECTING, or refused). */
static void
fwd_lookup_done(void *arg, struct agent_lookup *l)
{
	struct fwd_stream	*st = arg;
	struct fwd		*f = st->f;
	char			 why[320];

	st->lookup = NULL;
	if (l->gai != 0 || l->naddrs == 0) {
		snprintf(why, sizeof why, "cannot resolve %s: %s", st->host,
		    agent_lookup_error(l));
		agent_lookup_free(l);
		fwd_stream_refuse(st, PH_STREAM_HOST_UNREACHABLE, why);
	} else {
		memcpy(st->addrs, l->addrs, sizeof st->addrs);
		memcpy(st->lens, l->lens, sizeof st->lens);
		st->naddrs = l->naddrs;
		agent_lookup_free(l);
		fwd_try_next(st);
	}
	fwd_free_dead(f);
}

/* A new stream from an OPEN frame. */
static void
fwd_stream_open(struct fwd *f, const struct ph_stream_msg *m)
{
	struct fwd_stream	*st;
	struct sockaddr_in	*s4;
	struct sockaddr_in6	*s6;
	char			*cause = NULL;

	if ((st = calloc(1, sizeof *st)) == NULL) {
		agent_session_fail(f->s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL, "out of memory");
		return;
	}
	st->f = f;
	st->id = m->id;
	st->fd = -1;
	st->t0 = ph_mono_ms();
	st->deadline = st->t0 + f->timeout_ms;
	st->send_credit = m->window;
	st->state = FWD_RESOLVING;
	snprintf(st->host, sizeof st->host, "%s", m->host);
	st->port = m->port;
	st->next = f->streams;
	f->streams = st;
	f->nstreams++;
	if (f->nstreams > PH_STREAM_MAX_OPEN) {
		fwd_stream_refuse(st, PH_STREAM_FAILED, "too many connections in this "
		    "forward at once");
		return;
	}
	s4 = (struct sockaddr_in *)&st->addrs[0];
	s6 = (struct sockaddr_in6 *)&st->addrs[0];
	if (inet_pton(AF_INET, st->host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		st->lens[0] = sizeof *s4;
		st->naddrs = 1;
	} else if (inet_pton(AF_INET6, st->host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		st->lens[0] = sizeof *s6;
		st->naddrs = 1;
	}
	if (st->naddrs == 1) {
		fwd_try_next(st);
		return;
	}
	if ((st->lookup = agent_lookup_start(f->s->agent, st->host, fwd_lookup_done, st,
	    &cause)) == NULL) {
		fwd_stream_refuse(st, PH_STREAM_FAILED, cause);
		free(cause);
	}
}

/* --- the socket's events -------------------------------------------------------- */

/* Read what credit allows into one DATA frame. */
static void
fwd_stream_read(struct fwd_stream *st)
{
	struct fwd	*f = st->f;
	uint8_t		 buf[PH_STREAM_HDR + PH_STREAM_DATA_MAX];
	uint8_t		 eof[PH_STREAM_HDR];
	size_t		 max = agent_session_read_max(f->s);
	ssize_t		 n;
	char		 why[300];

	max = max > PH_STREAM_HDR ? max - PH_STREAM_HDR : 1;
	if (max > PH_STREAM_DATA_MAX)
		max = PH_STREAM_DATA_MAX;
	if (max > st->send_credit)
		max = (size_t)st->send_credit;
	if (max == 0 || f->blocked) {
		fwd_stream_arm(st);	/* stop asking until credit or room comes */
		return;
	}
	n = read(st->fd, buf + PH_STREAM_HDR, max);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		snprintf(why, sizeof why, "%s:%u: %s", st->addr, st->port, strerror(errno));
		fwd_stream_close(st, errno == ECONNRESET ? PH_STREAM_REFUSED :
		    PH_STREAM_FAILED, why, "reset");
		return;
	}
	if (n == 0) {
		st->rd_eof = 1;
		fwd_send(f, eof, ph_stream_eof(eof, sizeof eof, st->id));
		fwd_stream_arm(st);
		fwd_stream_check_end(st);
		return;
	}
	ph_stream_data_hdr(buf, st->id);
	st->send_credit -= (uint64_t)n;
	st->bytes_in += (uint64_t)n;
	fwd_send(f, buf, PH_STREAM_HDR + (size_t)n);
	fwd_stream_arm(st);
}

/* Give credit back for what was written, in steps. */
static void
fwd_stream_credit(struct fwd_stream *st, int all)
{
	uint8_t	buf[PH_STREAM_HDR + 4];

	if (st->consumed == 0 || (!all && st->consumed < FWD_CREDIT_STEP))
		return;
	st->recv_avail += st->consumed;
	fwd_send(st->f, buf, ph_stream_credit(buf, sizeof buf, st->id,
	    (uint32_t)st->consumed));
	st->consumed = 0;
}

/* Write the client's bytes; then its EOF as shutdown(SHUT_WR). */
static void
fwd_stream_write(struct fwd_stream *st)
{
	struct ph_qitem	*it;
	ssize_t		 n;
	char		 why[300];

	while ((it = ph_queue_peek(&st->outq)) != NULL) {
		n = send(st->fd, it->data + PH_HEADROOM + it->off, it->len - it->off,
		    MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			snprintf(why, sizeof why, "%s:%u: %s", st->addr, st->port,
			    strerror(errno));
			fwd_stream_close(st, PH_STREAM_FAILED, why, "reset");
			return;
		}
		it->off += (size_t)n;
		st->consumed += (uint64_t)n;
		st->bytes_out += (uint64_t)n;
		if (it->off == it->len)
			ph_queue_pop(&st->outq);
	}
	fwd_stream_credit(st, ph_queue_peek(&st->outq) == NULL);
	if (ph_queue_peek(&st->outq) == NULL && st->eof_in && !st->wr_shut) {
		shutdown(st->fd, SHUT_WR);
		st->wr_shut = 1;
	}
	fwd_stream_arm(st);
	fwd_stream_check_end(st);
}

static void
fwd_stream_event(struct fwd_stream *st, uint32_t ev)
{
	int	err = 0;
	socklen_t len = sizeof err;

	if (st->state == FWD_CONNECTING) {
		if (getsockopt(st->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
		if (err == 0 && (ev & (EPOLLERR | EPOLLHUP)) != 0)
			err = ECONNREFUSED;
		if (err != 0)
			fwd_attempt_failed(st, err);
		else
			fwd_stream_connected(st);
		return;
	}
	if (st->state != FWD_OPEN)
		return;
	if ((ev & EPOLLOUT) != 0)
		fwd_stream_write(st);
	if (st->state == FWD_OPEN && (ev & (EPOLLIN | EPOLLRDHUP | EPOLLERR)) != 0)
		fwd_stream_read(st);
	if (st->state == FWD_OPEN && (ev & EPOLLHUP) != 0 && st->rd_eof) {
		/* Both ways closed by the destination: nothing more can go there. */
		fwd_stream_close(st, PH_STREAM_OK, NULL, "closed");
	}
}

/* Deadlines of lookups and connects. */
static void
fwd_tick(lws_sorted_usec_list_t *sul)
{
	struct fwd		*f = lws_container_of(sul, struct fwd, sul);
	struct fwd_stream	*st, *next;
	int64_t			 now = ph_mono_ms();
	int			 any = 0;
	char			 why[320];

	f->tick_on = 0;
	for (st = f->streams; st != NULL; st = next) {
		next = st->next;
		if (st->state != FWD_RESOLVING && st->state != FWD_CONNECTING)
			continue;
		if (now < st->deadline) {
			any = 1;
			continue;
		}
		if (st->state == FWD_RESOLVING) {
			snprintf(why, sizeof why, "cannot resolve %s: no answer in %lld ms",
			    st->host, (long long)f->timeout_ms);
			fwd_stream_refuse(st, PH_STREAM_HOST_UNREACHABLE, why);
		} else
			fwd_attempt_failed(st, ETIMEDOUT);
		if (st->state != FWD_DONE)
			any = 1;
	}
	fwd_free_dead(f);
	if (any || f->nstreams > 0) {
		f->tick_on = 1;
		lws_sul_schedule(f->s->agent->ctx, 0, &f->sul, fwd_tick,
		    (lws_usec_t)FWD_TICK_MS * 1000);
	}
}

static void
fwd_tick_start(struct fwd *f)
{
	if (f->tick_on || f->lost)
		return;
	f->tick_on = 1;
	lws_sul_schedule(f->s->agent->ctx, 0, &f->sul, fwd_tick,
	    (lws_usec_t)FWD_TICK_MS * 1000);
}

/* The epoll set is readable: run what is ready. */
static int
fwd_epoll_rx(struct fwd *f)
{
	struct epoll_event	evs[FWD_EVENTS];
	int			n, i;

	n = epoll_wait(f->epfd, evs, FWD_EVENTS, 0);
	for (i = 0; i < n && !f->lost; i++)
		fwd_stream_event(evs[i].data.ptr, evs[i].events);
	fwd_free_dead(f);
	return 0;
}

/* --- the session's side ----------------------------------------------------------- */

/* Close every stream (the client left, or said eof). */
static void
fwd_close_all(struct fwd *f, const char *why)
{
	while (f->streams != NULL) {
		if (f->streams->state == FWD_OPEN)
			fwd_stream_close(f->streams, PH_STREAM_FAILED, why, "aborted");
		else
			fwd_stream_refuse(f->streams, PH_STREAM_FAILED, why);
	}
	fwd_free_dead(f);
}

/* Let the epoll set go (RAW_CLOSE_FILE then frees what is left). */
static void
fwd_end(struct fwd *f)
{
	lws_sul_cancel(&f->sul);
	f->tick_on = 0;
	if (f->ep_wsi != NULL)
		lws_set_timeout(f->ep_wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static void
fwd_stream_frame(struct fwd *f, const struct ph_frame *fr)
{
	struct ph_stream_msg	 m;
	struct fwd_stream	*st;
	const char		*cause;

	if (ph_stream_parse(fr->payload, fr->len, &m, &cause) != 0) {
		agent_session_fail(f->s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE, "%s", cause);
		return;
	}
	if (m.kind == PH_STREAM_OPEN) {
		if (m.id <= f->last_id) {
			agent_session_fail(f->s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
			    "stream %u opened again (ids only grow)", m.id);
			return;
		}
		f->last_id = m.id;
		if (!f->ending) {
			fwd_stream_open(f, &m);
			fwd_tick_start(f);
		}
		fwd_free_dead(f);
		return;
	}
	if ((st = fwd_find(f, m.id)) == NULL) {
		if (m.id > f->last_id || m.kind == PH_STREAM_REPLY)
			agent_session_fail(f->s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
			    "stream frame for stream %u, which was never opened", m.id);
		return;		/* it ended on our side: what was in flight is dropped */
	}
	switch (m.kind) {
	case PH_STREAM_DATA:
		if (st->state != FWD_OPEN || st->eof_in || m.len > st->recv_avail) {
			agent_session_fail(f->s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
			    "stream %u: data past its credit or its end", m.id);
			return;
		}
		st->recv_avail -= m.len;
		if (ph_queue_push(&st->outq, -1, m.data, m.len) != 0) {
			agent_session_fail(f->s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL,
			    "stream %u: out of memory", m.id);
			return;
		}
		fwd_stream_write(st);
		break;
	case PH_STREAM_CREDIT:
		if (st->send_credit + m.credit > (uint64_t)PH_STREAM_WINDOW_MAX * 2) {
			agent_session_fail(f->s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
			    "stream %u: credit beyond any window", m.id);
			return;
		}
		st->send_credit += m.credit;
		fwd_stream_arm(st);
		break;
	case PH_STREAM_EOF:
		if (st->state != FWD_OPEN || st->eof_in) {
			agent_session_fail(f->s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
			    "stream %u: eof out of place", m.id);
			return;
		}
		st->eof_in = 1;
		fwd_stream_write(st);
		break;
	case PH_STREAM_CLOSE:
		/* The client let go (its connection reset or closed early). */
		fwd_report(st, "closed_by_client", NULL);
		fwd_stream_done(st);
		break;
	default:
		break;
	}
	fwd_free_dead(f);
}

static void
fwd_input(struct agent_session *s, const struct ph_frame *fr)
{
	struct fwd	*f = s->op_data;

	if (f == NULL || f->lost)
		return;
	if (fr->type == PH_FRAME_STREAM) {
		fwd_stream_frame(f, fr);
		return;
	}
	if (fr->type == PH_FRAME_CONTROL && fr->ctl == PH_CTL_EOF) {
		f->ending = 1;
		fwd_close_all(f, "the forward ended");
		agent_session_exit(s, ph_ctl_exit_code(0));
		fwd_end(f);
		return;
	}
	if (fr->type == PH_FRAME_CONTROL && fr->ctl == PH_CTL_SIGNAL)
		return;		/* nothing to signal */
	agent_session_fail(s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
	    "%s is not expected in a forward", fr->type == PH_FRAME_CONTROL ?
	    (fr->ctl_name != NULL ? fr->ctl_name : "message") : ph_frame_type_name(fr->type));
}

/* The queue toward the relay fell under its low mark: read sockets again. */
static void
fwd_resume(struct agent_session *s)
{
	struct fwd		*f = s->op_data;
	struct fwd_stream	*st;

	if (f == NULL || !f->blocked)
		return;
	f->blocked = 0;
	for (st = f->streams; st != NULL; st = st->next)
		fwd_stream_arm(st);
}

static void
fwd_lost(struct agent_session *s)
{
	struct fwd	*f = s->op_data;

	if (f == NULL)
		return;
	f->lost = 1;
	f->ending = 1;
	fwd_close_all(f, "the session was lost");
	fwd_end(f);
}

static int
fwd_busy(struct agent_session *s)
{
	struct fwd	*f = s->op_data;

	return f != NULL && f->ep_wsi != NULL;
}

static void
fwd_free(struct agent_session *s)
{
	struct fwd	*f = s->op_data;

	if (f == NULL)
		return;
	f->lost = 1;
	lws_sul_cancel(&f->sul);
	fwd_close_all(f, "freed");
	ph_fwd_policy_free(f->policy);
	if (f->ns_fd >= 0)
		close(f->ns_fd);
	if (f->self_ns_fd >= 0)
		close(f->self_ns_fd);
	if (f->ep_wsi == NULL && f->epfd >= 0)
		close(f->epfd);
	free(f);
	s->op_data = NULL;
}

int
op_forward_epoll_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct agent	*a = lws_context_user(lws_get_context(wsi));
	struct fwd	*f;

	(void)user;
	(void)in;
	(void)len;
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if ((f = lws_get_opaque_user_data(wsi)) == NULL || a->destroying)
			return -1;
		return fwd_epoll_rx(f);
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if ((f = lws_get_opaque_user_data(wsi)) == NULL || a->destroying)
			return 0;
		if (f->ep_wsi == wsi) {
			f->ep_wsi = NULL;
			f->epfd = -1;	/* closed by lws */
			if (!f->lost && !f->ending) {
				f->ending = 1;
				fwd_close_all(f, "the agent's event loop dropped the forward");
				agent_session_fail(f->s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL,
				    "the forward's socket set closed");
			}
			agent_session_check(f->s);
		}
		return 0;
	default:
		return 0;
	}
}

/* --pid/--container: the target's network namespace, or a clear refusal. */
static int
fwd_netns(struct fwd *f, json_t *req)
{
	struct agent_session	*s = f->s;
	json_t			*jpid = ph_open_get(req, "pid");
	const char		*name = json_string_value(ph_open_get(req, "container"));
	const char		*code = PH_ERR_NO_TARGET;
	char			*cause = NULL, path[64];
	struct stat		 a, b;
	pid_t			 pid;

	if (jpid == NULL && name == NULL)
		return 0;
	if (name != NULL) {
		if ((pid = agent_target_container_pid(s->agent, name, &code, &cause)) < 0) {
			agent_session_fail(s, PH_CLOSE_NORMAL, code, "%s", cause);
			free(cause);
			return -1;
		}
	} else
		pid = (pid_t)json_integer_value(jpid);
	snprintf(path, sizeof path, "/proc/%d/ns/net", (int)pid);
	if ((f->ns_fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    (f->self_ns_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) < 0) {
		agent_session_fail(s, PH_CLOSE_NORMAL, PH_ERR_NO_TARGET,
		    "cannot open the network namespace of process %d: %s", (int)pid,
		    strerror(errno));
		return -1;
	}
	if (fstat(f->ns_fd, &a) == 0 && fstat(f->self_ns_fd, &b) == 0 &&
	    a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
		ph_info("session %.8s: process %d shares the agent's network namespace",
		    s->sid, (int)pid);
		close(f->ns_fd);
		f->ns_fd = -1;
		return 0;
	}
	if (setns(f->ns_fd, CLONE_NEWNET) != 0) {
		/*
		 * spawn, not forbidden: the token allows it, the agent's
		 * capabilities do not (forbidden would send the operator for
		 * another token).
		 */
		agent_session_fail(s, PH_CLOSE_NORMAL, PH_ERR_SPAWN,
		    "cannot enter the network namespace of process %d: %s; entering "
		    "another container's network namespace needs CAP_SYS_ADMIN, which "
		    "Fargate does not grant (a Fargate task's containers share one "
		    "network namespace: forward without --pid reaches them)", (int)pid,
		    strerror(errno));
		return -1;
	}
	if (setns(f->self_ns_fd, CLONE_NEWNET) != 0) {
		ph_err("forward: cannot return to the agent's network namespace: %s",
		    strerror(errno));
		agent_shutdown(s->agent, "lost its own network namespace");
		return -1;
	}
	ph_info("session %.8s: forward inside the network namespace of process %d",
	    s->sid, (int)pid);
	return 0;
}

static int
fwd_start(struct agent_session *s, json_t *open)
{
	struct fwd		*f;
	json_t			*jt = ph_open_get(open, "timeout_ms");
	char			*cause = NULL;
	lws_adopt_desc_t	 ad;

	if ((f = calloc(1, sizeof *f)) == NULL) {
		agent_session_fail(s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL, "out of memory");
		return -1;
	}
	f->s = s;
	f->epfd = -1;
	f->ns_fd = -1;
	f->self_ns_fd = -1;
	f->timeout_ms = jt != NULL ? (int64_t)json_integer_value(jt) : FWD_TIMEOUT_MS;
	s->op_data = f;
	if ((f->policy = ph_fwd_policy_new(s->forward_claim, &cause)) == NULL) {
		agent_session_fail(s, PH_CLOSE_FORBIDDEN, PH_ERR_FORBIDDEN,
		    "the token's forward claim: %s", cause);
		free(cause);
		return -1;
	}
	if (fwd_netns(f, open) != 0)
		return -1;
	if ((f->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		agent_session_fail(s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL, "epoll: %s",
		    strerror(errno));
		return -1;
	}
	memset(&ad, 0, sizeof ad);
	ad.vh = s->agent->vh;
	ad.type = LWS_ADOPT_RAW_FILE_DESC;
	ad.fd.filefd = f->epfd;
	ad.vh_prot_name = OP_FORWARD_PROTOCOL;
	ad.opaque = f;
	if ((f->ep_wsi = lws_adopt_descriptor_vhost_via_info(&ad)) == NULL) {
		f->epfd = -1;	/* lws closed it */
		agent_session_fail(s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL,
		    "cannot watch the forward's sockets");
		return -1;
	}
	agent_session_send_ctl(s, ph_ctl_new(PH_CTL_READY));
	ph_info("session %.8s: forward ready%s", s->sid, s->forward_claim != NULL ?
	    " (destinations limited by the token's forward claim)" : "");
	return 0;
}

const struct op_entry op_forward_entry = {
	.name = "forward",
	.start = fwd_start,
	.input = fwd_input,
	.resume = fwd_resume,
	.lost = fwd_lost,
	.busy = fwd_busy,
	.free = fwd_free,
};
