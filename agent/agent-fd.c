/*
 * agent-fd.c - an operation's output fds (a child's pipes) read into a
 * session's data channel under flow control (agent-fd.h).
 *
 * Each fd fills a frame (max_payload - 1 bytes) of its own: RAW_RX_FILE
 * reads until the frame is full (then sends it, and goes on for up to
 * AGENT_FD_RX_FRAMES frames, so one busy fd cannot hold the loop) or the
 * fd is empty.  A partial frame goes out at once when the session's queue
 * is empty and the fd is not streaming (an interactive program's output
 * is not held back); when output is already queued (the bytes would wait
 * anyway) or the fd brought bytes within AGENT_FD_HOT_US before (a bulk
 * writer), the frame waits up to AGENT_FD_HOLD_US to grow (on agent-timer.c's
 * timerfd: a libwebsockets timer this close spins the loop).  A writer such
 * as `head -c 1G` writes 4 KiB at a time: read as it comes, that was a
 * 4 KiB frame each, and the relay and both TLS ends pay per frame.
 *
 * While the session's queue is above its high mark every fd of the set is
 * paused, so a slow client blocks the program in write(2) instead of
 * growing the agent.  An fd that hangs up while paused is closed by
 * libwebsockets at once with data still in it, so RAW_CLOSE_FILE drains
 * it (bounded by the pipe's capacity: AGENT_OUT_LIMIT counts on that).
 *
 * An fd with a sink hands its bytes to the operation instead of sending
 * them, under the same reads, holds and pauses: the sink sends what it
 * makes of them (op-dump.c turns the worker's event lines into CONTROL
 * messages) on the same queue.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "porthole/log.h"

#include "agent.h"
#include "agent-fd.h"

/* Most full frames one RAW_RX_FILE sends. */
#define AGENT_FD_RX_FRAMES	4
/* Longest a partial frame waits to grow (see above). */
#define AGENT_FD_HOLD_US	500
/* Bytes again within this of the last ones: the fd is streaming. */
#define AGENT_FD_HOT_US		2000
/* What a closing fd that is no pipe may still give. */
#define AGENT_FD_DRAIN_DEFAULT	65536

void
agent_fd_set_init(struct agent_fd_set *set, struct agent_session *s)
{
	memset(set, 0, sizeof *set);
	set->s = s;
}

int
agent_fd_add(struct agent_fd_set *set, struct agent_fd *f, int type,
    agent_fd_sink sink, void *sink_arg)
{
	if (set->n == AGENT_FD_SET_MAX || (f->hold = malloc(PH_MAX_PAYLOAD)) == NULL)
		return -1;
	f->set = set;
	f->type = type;
	f->sink = sink;
	f->sink_arg = sink_arg;
	f->held = 0;
	set->fds[set->n++] = f;
	return 0;
}

static void
agent_fd_set_pause(struct agent_fd_set *set)
{
	size_t	i;

	if (set->paused)
		return;
	set->paused = 1;
	for (i = 0; i < set->n; i++) {
		if (set->fds[i]->wsi != NULL)
			lws_rx_flow_control(set->fds[i]->wsi, 0);
	}
}

void
agent_fd_set_resume(struct agent_fd_set *set)
{
	size_t	i;

	if (!set->paused)
		return;
	set->paused = 0;
	for (i = 0; i < set->n; i++) {
		if (set->fds[i]->wsi != NULL)
			lws_rx_flow_control(set->fds[i]->wsi,
			    1 | LWS_RXFLOW_REASON_FLAG_PROCESS_NOW);
	}
}

/* Pause the set if the session's queue is over its high mark: 1 if so. */
static int
agent_fd_set_full(struct agent_fd_set *set)
{
	if (set->lost || !agent_session_over_high(set->s))
		return 0;
	agent_fd_set_pause(set);
	return 1;
}

/* Bytes of f out: as frames, or to its sink; nothing once lost.  -1: the
 * session failed. */
static int
agent_fd_out(struct agent_fd *f, const uint8_t *p, size_t n)
{
	if (f->set->lost || n == 0)
		return 0;
	if (f->sink == NULL)
		return agent_session_send(f->set->s, f->type, p, n);
	f->sink(f->sink_arg, p, n);
	return 0;
}

/* Send what f holds as one frame. */
static void
agent_fd_flush(struct agent_fd *f)
{
	(void)agent_fd_out(f, f->hold, f->held);
	f->held = 0;
}

/* A partial frame waited AGENT_FD_HOLD_US behind queued output: send it. */
static void
agent_fd_hold_over(struct agent_timer *t)
{
	struct agent_fd_set	*set = lws_container_of(t, struct agent_fd_set, hold);
	size_t			 i;

	for (i = 0; i < set->n; i++)
		agent_fd_flush(set->fds[i]);
	agent_fd_set_full(set);
}

/* After a read: send a partial frame now, or let it wait to grow. */
static void
agent_fd_hold(struct agent_fd *f)
{
	struct agent_fd_set	*set = f->set;
	lws_usec_t		 now = lws_now_usecs();
	int			 hot = now - f->last_rx < AGENT_FD_HOT_US;

	if (f->held == 0)
		return;
	f->last_rx = now;
	if (set->lost || (!agent_session_queued(set->s) && !hot))
		agent_fd_flush(f);
	else if (!set->hold.armed)
		agent_timer_schedule(set->s->agent, &set->hold, agent_fd_hold_over,
		    AGENT_FD_HOLD_US);
}

int
agent_fd_rx(struct agent_fd *f, struct lws *wsi)
{
	struct agent_fd_set	*set = f->set;
	int			 fd = lws_get_socket_fd(wsi), frames;
	size_t			 max, want;
	ssize_t			 n;

	max = agent_session_read_max(set->s);
	for (frames = 0; frames < AGENT_FD_RX_FRAMES; frames++) {
		want = max - f->held;
		n = read(fd, f->hold + f->held, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || (n < 0 && errno != EAGAIN)) {
			agent_fd_flush(f);
			return -1;
		}
		if (n < 0)
			break;			/* empty */
		f->held += (size_t)n;
		if (f->held == max) {
			agent_fd_flush(f);
			if (agent_fd_set_full(set))
				return 0;
			continue;
		}
		if ((size_t)n < want)
			break;			/* a short read: it is empty */
	}
	agent_fd_hold(f);
	agent_fd_set_full(set);
	return 0;
}

void
agent_fd_closed(struct agent_fd *f, int fd)
{
	struct agent_fd_set	*set = f->set;
	struct agent		*a = set->s->agent;
	size_t			 total = 0, max;
	ssize_t			 n;
	int			 sz;

	f->wsi = NULL;
	if (set->lost) {
		f->held = 0;
		return;
	}
	agent_fd_flush(f);
	sz = fcntl(fd, F_GETPIPE_SZ);
	max = sz > 0 ? (size_t)sz : AGENT_FD_DRAIN_DEFAULT;
	while (total < max) {
		n = read(fd, a->iobuf, agent_session_read_max(set->s));
		if (n <= 0)
			break;
		total += (size_t)n;
		if (agent_fd_out(f, a->iobuf, (size_t)n) != 0)
			break;
	}
	if (total > 0)
		ph_debug("session %.8s: %zu bytes drained from a closing pipe",
		    set->s->sid, total);
	if (f->sink != NULL)
		f->sink(f->sink_arg, NULL, 0);
}

void
agent_fd_set_lose(struct agent_fd_set *set)
{
	set->lost = 1;
}

int
agent_fd_set_open(const struct agent_fd_set *set)
{
	size_t	i;

	for (i = 0; i < set->n; i++) {
		if (set->fds[i]->wsi != NULL)
			return 1;
	}
	return 0;
}

void
agent_fd_set_free(struct agent_fd_set *set)
{
	size_t	i;

	if (set->s != NULL)
		agent_timer_cancel(set->s->agent, &set->hold);
	for (i = 0; i < set->n; i++) {
		free(set->fds[i]->hold);
		set->fds[i]->hold = NULL;
	}
	set->n = 0;
}
