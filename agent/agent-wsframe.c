/*
 * agent-wsframe.c - WebSocket framing of the agent's bulk output, done
 * here instead of in libwebsockets.
 *
 * The agent is the WebSocket *client* of its data channels, and a client
 * must mask every payload byte (RFC 6455 §5.3).  libwebsockets 4.1.6 masks
 * one byte at a time through its wsi struct (rops_write_role_protocol_ws):
 * measured with perf, that loop was half of the agent's CPU time on bulk
 * output (~2.5 s per GiB).  So the data channel builds each frame itself —
 * header in the 16 bytes of headroom every queued message has, a fresh
 * 32-bit masking key, the payload masked eight bytes at a time — and hands
 * the finished frame (header and masking: libporthole's wsframe.c, which
 * the CLI's sessions use too) to lws_write() as LWS_WRITE_HTTP, which the ws role
 * passes to the socket (and to its partial-write buffer) untouched.
 * Frames stay whole, so libwebsockets' own PING and close frames still go
 * out between them.  No extension is ever negotiated, so no RSV bit is used.
 *
 * The masking key is drawn from a xorshift generator seeded by getrandom():
 * masking only keeps intermediaries from reading the payload as something
 * else, and the channel is TLS anyway.
 */
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <libwebsockets.h>

#include "porthole/frame.h"
#include "porthole/wsframe.h"

#include "agent.h"

_Static_assert(PH_HEADROOM >= PH_WSFRAME_HEAD_MAX, "a frame header needs 14 bytes of headroom");

static uint64_t agent_wsframe_state;

static uint32_t
agent_wsframe_key(void)
{
	uint64_t	x = agent_wsframe_state;

	if (x == 0) {
		if (getrandom(&x, sizeof x, 0) != (ssize_t)sizeof x || x == 0)
			x = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL | 1;
	}
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	agent_wsframe_state = x;
	return (uint32_t)((x * 0x2545f4914f6cdd1dULL) >> 32);
}

/*
 * msg (len bytes, with at least PH_WSFRAME_HEAD_MAX writable bytes in
 * front of it) as one masked, final frame of opcode op, masked in place.
 */
static int
agent_wsframe_send(struct lws *wsi, uint8_t op, uint8_t *msg, size_t len)
{
	uint8_t		 key[4], *h;
	size_t		 hlen;
	uint32_t	 k = agent_wsframe_key();

	hlen = ph_wsframe_head_len(len);
	h = msg - hlen;		/* hlen <= PH_WSFRAME_HEAD_MAX */
	memcpy(key, &k, 4);
	ph_wsframe_head(h, op, len, key);
	ph_wsframe_mask(msg, len, key);

	return lws_write(wsi, h, hlen + len, LWS_WRITE_HTTP) == (int)(hlen + len) ? 0 : -1;
}

/*
 * Send msg (len bytes, with PH_HEADROOM writable bytes in front of it) as
 * one masked, final, binary WebSocket frame.  msg is masked in place: it
 * cannot be sent again.  Returns 0, or -1 if the connection failed.
 */
int
agent_wsframe_write(struct lws *wsi, uint8_t *msg, size_t len)
{
	return agent_wsframe_send(wsi, 0x02, msg, len);	/* binary */
}

/*
 * Send a close frame {code, reason} the same way (masked, after every
 * frame queued before it), so that the channel can end with the close
 * handshake instead of a socket closed under the relay (agent-chan.c).
 * reason is cut to the 123 bytes a close frame holds.  Returns 0, or -1
 * if the connection failed.
 */
int
agent_wsframe_close(struct lws *wsi, int code, const char *reason)
{
	uint8_t		 buf[LWS_PRE + PH_WSFRAME_HEAD_MAX + 125], *p;
	size_t		 n = strlen(reason);

	if (n > 123)
		n = 123;
	p = buf + LWS_PRE + PH_WSFRAME_HEAD_MAX;
	p[0] = (uint8_t)(code >> 8);
	p[1] = (uint8_t)code;
	memcpy(p + 2, reason, n);
	return agent_wsframe_send(wsi, 0x08, p, 2 + n);	/* close */
}
