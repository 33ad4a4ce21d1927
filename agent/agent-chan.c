/*
 * agent-chan.c - what the control channel (agent-control.c) and the data
 * channels (agent-session.c) share: one WebSocket to the relay with a
 * bounded queue of messages toward it, written one per WRITEABLE callback,
 * a close code sent once that queue is out, and the relay's messages
 * reassembled up to PH_MAX_MESSAGE and decoded before they are handed on.
 *
 * The owners keep what differs, through struct agent_chan_ops: what a
 * frame means, how a failure is said and logged, how a message is written
 * (lws_write, or the masked fast path of agent-wsframe.c for bulk output),
 * who reads more when the queue falls under its low mark, and what
 * happens when the channel is gone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "porthole/frame.h"
#include "porthole/log.h"

#include "agent.h"

/* How long a channel whose close went out waits for the relay's. */
#define AGENT_CLOSE_WAIT_SECS	5

void
agent_chan_init(struct agent_chan *ch, const struct agent_chan_ops *ops, void *arg,
    size_t low, size_t high, size_t limit)
{
	ch->ops = ops;
	ch->arg = arg;
	ch->wsi = NULL;
	ch->state = AGENT_CHAN_OPEN;
	ch->close_code = 0;
	ch->label[0] = '\0';
	ph_queue_init(&ch->out, low, high, limit);
	ph_msgbuf_init(&ch->in, PH_MAX_MESSAGE);
}

void
agent_chan_free(struct agent_chan *ch)
{
	ph_queue_free(&ch->out);
	ph_msgbuf_free(&ch->in);
}

/*
 * Dial the relay at the address the control channel resolved: path with
 * subprotocol subproto, handled by the local protocol named proto.  -1
 * when no connection could be started.
 */
int
agent_chan_connect(struct agent_chan *ch, struct agent *a, const char *path,
    const char *subproto, const char *proto)
{
	struct lws_client_connect_info	i;

	memset(&i, 0, sizeof i);
	i.context = a->ctx;
	i.vhost = a->vh;
	i.address = a->relay_addr;
	i.port = a->cfg.port;
	i.host = a->cfg.host;
	i.origin = a->cfg.host;
	i.path = path;
	i.protocol = subproto;
	i.local_protocol_name = proto;
	i.ssl_connection = LCCSCF_USE_SSL;
	i.retry_and_idle_policy = &agent_retry_policy;
	i.opaque_user_data = ch->arg;
	i.pwsi = &ch->wsi;
	if (lws_client_connect_via_info(&i) == NULL) {
		ch->wsi = NULL;
		return -1;
	}
	return 0;
}

/* A new connection: → OPEN, nothing to close yet. */
void
agent_chan_reset(struct agent_chan *ch)
{
	ch->state = AGENT_CHAN_OPEN;
	ch->close_code = 0;
}

/* The connection is gone: forget its wsi, what was queued and half-read. */
void
agent_chan_gone(struct agent_chan *ch)
{
	ch->wsi = NULL;		/* lws never clears *pwsi (research §4) */
	while (ph_queue_peek(&ch->out) != NULL)
		ph_queue_pop(&ch->out);
	ph_msgbuf_reset(&ch->in);
}

int
agent_chan_push(struct agent_chan *ch, int type, const void *p, size_t n)
{
	if (ph_queue_push(&ch->out, type, p, n) != 0)
		return -1;
	if (ch->wsi != NULL)
		lws_callback_on_writable(ch->wsi);
	return 0;
}

int
agent_chan_push_ctl(struct agent_chan *ch, json_t *msg)
{
	uint8_t	*out = NULL;
	size_t	 len;
	int	 rc = -1;

	if (msg != NULL && ph_ctl_encode(msg, &out, &len) == 0) {
		rc = agent_chan_push(ch, -1, out + PH_HEADROOM, len);
		explicit_bzero(out, PH_HEADROOM + len);	/* an attach's secret */
	}
	free(out);
	json_decref(msg);
	return rc;
}

void
agent_chan_close(struct agent_chan *ch, int close_code)
{
	if (ch->state != AGENT_CHAN_OPEN)
		return;
	ch->state = AGENT_CHAN_CLOSING;
	ch->close_code = close_code;
	if (ch->wsi != NULL)
		lws_callback_on_writable(ch->wsi);
}

/*
 * CLOSING → CLOSED: the queue is out, say the close code (in WRITEABLE)
 * and wait for the relay's close.
 *
 * Not lws_close_reason and -1: libwebsockets 4.1.6 takes -1 from
 * WRITEABLE as a failed write and closes the socket at once, with no
 * close frame.  When the relay is still sending (a client's stdin after
 * its program exited), its bytes are unread in our socket and the close
 * is a reset, which can overtake what we sent and the relay has not read
 * yet: the session's last output and exit were lost ("agent ... was lost
 * mid-session").  So the close frame is ours (agent-wsframe.c), after
 * the last message; reading goes on, what arrives is dropped, and the
 * relay's close, once it has read everything, ends the connection (lws
 * answers it); AGENT_CLOSE_WAIT_SECS bounds the wait.
 */
static void
agent_chan_closed(struct agent_chan *ch, struct lws *wsi)
{
	const char	*reason = ch->close_code == PH_CLOSE_GOING_AWAY ?
			    "agent shutting down" : "";

	ch->state = AGENT_CHAN_CLOSED;
	if (agent_wsframe_close(wsi, ch->close_code, reason) != 0) {
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		return;
	}
	lws_rx_flow_control(wsi, 1);
	lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_ACK, AGENT_CLOSE_WAIT_SECS);
}

int
agent_chan_open(const struct agent_chan *ch)
{
	return ch->wsi != NULL && ch->state == AGENT_CHAN_OPEN;
}

/* One whole message from the relay: decode it and hand it on. */
static void
agent_chan_message(struct agent_chan *ch, struct lws *wsi)
{
	struct ph_frame	 f;
	const char	*why = NULL;
	int		 close_code = PH_CLOSE_POLICY, ctl;

	if (!lws_frame_is_binary(wsi)) {
		ch->ops->fail(ch->arg, PH_CLOSE_POLICY, PH_ERR_BAD_FRAME,
		    "text message");
		return;
	}
	memset(&f, 0, sizeof f);
	if (ph_frame_decode(ph_msgbuf_msg(&ch->in), ch->in.len, &f, &close_code,
	    &why) != 0) {
		ch->ops->fail(ch->arg, close_code, f.err, why != NULL ? why :
		    "bad frame");
		return;
	}
	ctl = f.type == PH_FRAME_CONTROL;
	ch->ops->frame(ch->arg, &f);
	ph_frame_clear(&f);
	/* An open's client token and secret: not left in the buffer (agent-secret.c). */
	if (ctl)
		explicit_bzero((void *)ph_msgbuf_msg(&ch->in), ch->in.len);
}

void
agent_chan_receive(struct agent_chan *ch, struct lws *wsi, const void *in, size_t len)
{
	char	msg[64];

	if (ch->state != AGENT_CHAN_OPEN)
		return;		/* closing: what comes now is not read */
	if (ph_msgbuf_add(&ch->in, in, len) != 0) {
		ph_msgbuf_reset(&ch->in);
		snprintf(msg, sizeof msg, "message larger than %d bytes",
		    PH_MAX_MESSAGE);
		ch->ops->fail(ch->arg, PH_CLOSE_TOO_BIG, PH_ERR_TOO_BIG, msg);
		return;
	}
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0)
		return;
	agent_chan_message(ch, wsi);
	ph_msgbuf_reset(&ch->in);
}

int
agent_chan_writeable(struct agent_chan *ch, struct lws *wsi)
{
	struct ph_qitem	*it;

	if (ch->state == AGENT_CHAN_CLOSED)
		return 0;	/* our close is out: the relay's ends it */
	if ((it = ph_queue_peek(&ch->out)) != NULL) {
		if (ch->ops->write(wsi, it->data + PH_HEADROOM, it->len) != 0) {
			ph_warn("%swrite to the relay failed", ch->label);
			return -1;
		}
		ph_queue_pop(&ch->out);
		if (ch->ops->low != NULL && ph_queue_under_low(&ch->out))
			ch->ops->low(ch->arg);
		if (ph_queue_peek(&ch->out) != NULL || ch->state == AGENT_CHAN_CLOSING)
			lws_callback_on_writable(wsi);
		return 0;
	}
	if (ch->state == AGENT_CHAN_CLOSING)
		agent_chan_closed(ch, wsi);
	return 0;
}
