/*
 * op-child.c - the part of a child's life that exec (pipes) and shell (a
 * pty) share, so each operation file keeps only what is its own.
 *
 * An operation embeds struct op_child (op.h) and names the wsi its STDIN
 * goes to (the stdin pipe, the pty master).  Here: watching the child
 * (a watch that cannot be set up counts as reaped, after SIGKILL), the
 * bounded queue of STDIN bytes and its writer (re-armed from a timer, see
 * op_child_write), `signal` names, draining a closing fd into the session,
 * `exit` once the child is reaped and its output closed, `ready`, what
 * busy() and free() need, and the first step of a lost session.  What the
 * operations keep: how they start the child, read its output, signal it,
 * and end it when the session is lost (exec: SIGTERM then SIGKILL to the
 * group; shell: the terminal hangs up).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "porthole/frame.h"
#include "porthole/log.h"
#include "porthole/util.h"

#include "agent.h"
#include "op.h"

void
op_child_init(struct op_child *c, struct agent_session *s, struct lws **in,
    size_t low, size_t high, size_t limit, lws_usec_t rearm_us)
{
	c->s = s;
	c->in = in;
	c->rearm_us = rearm_us;
	ph_queue_init(&c->inq, low, high, limit);
}

int
op_child_watch(struct op_child *c, pid_t pid, agent_proc_cb cb, void *arg)
{
	c->pid = pid;
	if (agent_proc_watch(c->s->agent, pid, cb, arg) == 0)
		return 0;
	/* Reaped unwatched: count it as reaped now. */
	kill(-pid, SIGKILL);
	c->reaped = 1;
	c->status = SIGKILL;
	return -1;
}

struct lws *
op_child_adopt(struct op_child *c, int fd, const char *protocol, void *opaque)
{
	lws_adopt_desc_t	ad;

	memset(&ad, 0, sizeof ad);
	ad.vh = c->s->agent->vh;
	ad.type = LWS_ADOPT_RAW_FILE_DESC;
	ad.fd.filefd = fd;
	ad.vh_prot_name = protocol;
	ad.opaque = opaque;
	return lws_adopt_descriptor_vhost_via_info(&ad);
}

void
op_child_ready(struct op_child *c)
{
	json_t	*ready;

	if ((ready = ph_ctl_new(PH_CTL_READY)) != NULL)
		json_object_set_new(ready, "pid", json_integer(c->pid));
	agent_session_send_ctl(c->s, ready);
}

int
op_child_argv_ok(struct agent_session *s, json_t *jargv)
{
	const char	*v;
	size_t		 i;

	for (i = 0; json_is_array(jargv) && i < json_array_size(jargv); i++) {
		v = json_string_value(json_array_get(jargv, i));
		if (v == NULL || (i == 0 && *v == '\0')) {
			agent_session_fail(s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
			    "argv[%zu] is not a usable string", i);
			return 0;
		}
	}
	return 1;
}

int
op_child_input(struct op_child *c, const struct ph_frame *f, const char *queue)
{
	struct lws	*in = *c->in;

	if (c->lost)
		return 1;	/* nothing reaches the child any more */
	if (f->type != PH_FRAME_STDIN)
		return 0;
	if (in == NULL || c->in_eof || f->len == 0)
		return 1;	/* no input, or it is closed: dropped */
	if (ph_queue_push(&c->inq, -1, f->payload, f->len) != 0) {
		agent_session_fail(c->s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL,
		    "%s overflow", queue);
		return 1;
	}
	lws_callback_on_writable(in);
	if (ph_queue_over_high(&c->inq))
		agent_session_rx_pause(c->s, 1);
	return 1;
}

int
op_child_signal(struct agent_session *s, const struct ph_frame *f,
    const char **name)
{
	int	signo;

	*name = json_string_value(json_object_get(f->json, "name"));
	if ((signo = ph_signal_number(*name)) < 0)
		agent_session_fail(s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
		    "unknown signal '%s'", *name != NULL ? *name : "");
	return signo;
}

static void
op_child_rearm(lws_sorted_usec_list_t *sul)
{
	struct op_child	*c = lws_container_of(sul, struct op_child, sul_in);

	if (*c->in != NULL)
		lws_callback_on_writable(*c->in);
}

/*
 * libwebsockets 4.1.6 clears POLLOUT of a raw file *after* the
 * RAW_WRITEABLE_FILE callback returns, so lws_callback_on_writable() from
 * in there is lost (the program then waits for input that never comes);
 * the next WRITEABLE is asked for from a timer instead.
 */
int
op_child_write(struct op_child *c, struct lws *wsi)
{
	struct ph_qitem	*it;
	ssize_t		 n;

	while ((it = ph_queue_peek(&c->inq)) != NULL) {
		n = write(lws_get_socket_fd(wsi), it->data + PH_HEADROOM + it->off,
		    it->len - it->off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -1;
		}
		it->off += (size_t)n;
		if (it->off < it->len)
			break;		/* full */
		ph_queue_pop(&c->inq);
	}
	/*
	 * Resuming first: in a session that resumes it hands the operation
	 * the records kept meanwhile at once, refilling inq from in here,
	 * where a WRITEABLE asked for is lost (above); the timer then asks.
	 */
	if (ph_queue_under_low(&c->inq))
		agent_session_rx_pause(c->s, 0);
	if (ph_queue_peek(&c->inq) != NULL)
		lws_sul_schedule(c->s->agent->ctx, 0, &c->sul_in, op_child_rearm,
		    c->rearm_us);
	return 0;
}

void
op_child_input_closed(struct op_child *c)
{
	while (ph_queue_peek(&c->inq) != NULL)
		ph_queue_pop(&c->inq);
	agent_session_rx_pause(c->s, 0);
}

void
op_child_drain(struct op_child *c, int fd, int type, size_t max,
    const char *from)
{
	struct agent	*a = c->s->agent;
	size_t		 total = 0;
	ssize_t		 n;

	while (total < max) {
		n = read(fd, a->iobuf, agent_session_read_max(c->s));
		if (n <= 0)
			break;
		total += (size_t)n;
		if (agent_session_send(c->s, type, a->iobuf, (size_t)n) != 0)
			break;
	}
	if (total > 0)
		ph_debug("session %.8s: %zu bytes drained from %s", c->s->sid, total,
		    from);
}

int
op_child_exit_due(struct op_child *c, int output_open)
{
	if (c->lost || c->exit_sent || !c->reaped || output_open)
		return 0;
	c->exit_sent = 1;
	return 1;
}

int
op_child_lose(struct op_child *c)
{
	if (c->lost)
		return 0;
	c->lost = 1;
	while (ph_queue_peek(&c->inq) != NULL)
		ph_queue_pop(&c->inq);
	return 1;
}

int
op_child_busy(struct op_child *c, int open)
{
	return (c->pid > 0 && !c->reaped) || open;
}

void
op_child_free(struct op_child *c)
{
	if (c->pid > 0 && !c->reaped)
		agent_proc_unwatch(c->s->agent, c->pid);
	if (!c->s->agent->destroying)
		lws_sul_cancel(&c->sul_in);
	ph_queue_free(&c->inq);
}
