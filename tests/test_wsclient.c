/*
 * test_wsclient.c - libporthole's WebSocket client (src/wsclient.c), the
 * part a relay will reuse for its links: the check of the server's answer
 * (RFC 6455's sample key), the streaming parser fed one byte at a time
 * (a fragmented message with a ping between its frames, a masked server
 * frame refused), and a masked frame that unmasks to its prefix and
 * payload.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "porthole/wsclient.h"
#include "porthole/wsframe.h"

#define SAMPLE_KEY	"dGhlIHNhbXBsZSBub25jZQ=="
#define SAMPLE_ACCEPT	"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

Test(wsclient, response_check)
{
	const char	*why = NULL;
	int		 status;
	long		 clen;
	const char	*good = "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: " SAMPLE_ACCEPT "\r\n"
	    "Sec-WebSocket-Protocol: p.v1\r\n\r\n";
	const char	*wrong = "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n"
	    "Sec-WebSocket-Protocol: p.v1\r\n\r\n";
	const char	*refused = "HTTP/1.1 401 Unauthorized\r\n"
	    "Content-Length: 42\r\n\r\n";

	cr_expect_eq(ph_ws_head_end(good, strlen(good)), strlen(good));
	cr_expect_eq(ph_ws_head_end(good, strlen(good) - 1), 0);
	cr_expect_eq(ph_ws_response(good, SAMPLE_KEY, "p.v1", &status, &clen,
	    &why), 0);
	cr_expect_eq(status, 101);
	cr_expect_eq(ph_ws_response(good, SAMPLE_KEY, "other.v1", &status,
	    &clen, &why), -1, "a subprotocol we did not ask for");
	cr_expect_eq(ph_ws_response(wrong, SAMPLE_KEY, "p.v1", &status, &clen,
	    &why), -1, "a wrong Sec-WebSocket-Accept");
	cr_expect_eq(ph_ws_response(refused, SAMPLE_KEY, "p.v1", &status, &clen,
	    &why), -1);
	cr_expect_eq(status, 401);
	cr_expect_eq(clen, 42);
}

struct seen {
	uint8_t	 data[64];
	size_t	 len;
	int	 messages;
	int	 pings;
	uint8_t	 ping[8];
	size_t	 ping_len;
};

static int
on_data(void *arg, int opcode, const uint8_t *p, size_t n, int first, int last)
{
	struct seen *s = arg;

	cr_assert_eq(opcode, PH_WS_BINARY);
	if (first)
		s->len = 0;
	cr_assert_leq(s->len + n, sizeof s->data);
	memcpy(s->data + s->len, p, n);
	s->len += n;
	if (last)
		s->messages++;
	return 0;
}

static int
on_control(void *arg, int opcode, const uint8_t *p, size_t n)
{
	struct seen *s = arg;

	if (opcode == PH_WS_PING) {
		s->pings++;
		memcpy(s->ping, p, n);
		s->ping_len = n;
	}
	return 0;
}

static const struct ph_ws_rx_ops ops = { on_data, on_control };

Test(wsclient, parser_byte_at_a_time)
{
	/* "abc" (BINARY, no FIN), PING "hi", "de" (CONT, FIN). */
	const uint8_t	 in[] = { 0x02, 3, 'a', 'b', 'c', 0x89, 2, 'h', 'i',
	    0x80, 2, 'd', 'e' };
	struct ph_ws_rx	 rx;
	struct seen	 s;
	const char	*why = NULL;
	size_t		 i;

	memset(&s, 0, sizeof s);
	ph_ws_rx_init(&rx);
	for (i = 0; i < sizeof in; i++)
		cr_assert_eq(ph_ws_rx_feed(&rx, in + i, 1, &ops, &s, &why), 0,
		    "byte %zu: %s", i, why != NULL ? why : "");
	cr_expect_eq(s.messages, 1);
	cr_expect_eq(s.len, 5);
	cr_expect_arr_eq(s.data, "abcde", 5);
	cr_expect_eq(s.pings, 1);
	cr_expect_eq(s.ping_len, 2);
	cr_expect_arr_eq(s.ping, "hi", 2);
}

Test(wsclient, parser_refuses_masked_server_frames)
{
	const uint8_t	 in[] = { 0x82, 0x81, 1, 2, 3, 4, 'x' };
	struct ph_ws_rx	 rx;
	struct seen	 s;
	const char	*why = NULL;

	memset(&s, 0, sizeof s);
	ph_ws_rx_init(&rx);
	cr_expect_eq(ph_ws_rx_feed(&rx, in, sizeof in, &ops, &s, &why), -1);
	cr_expect_not_null(why);
	cr_expect_eq(s.messages, 0);
}

Test(wsclient, masked_frame_unmasks_to_payload)
{
	uint8_t		 out[PH_WS_HDR_MAX + 1 + 300], key[4];
	uint8_t		 payload[300];
	size_t		 len, hl, i;

	for (i = 0; i < sizeof payload; i++)
		payload[i] = (uint8_t)i;
	len = ph_ws_frame(out, PH_WS_BINARY, 7, payload, sizeof payload);
	hl = ph_wsframe_head_len(sizeof payload + 1);
	cr_assert_eq(len, hl + 1 + sizeof payload);
	cr_expect_eq(out[0], 0x82);
	cr_expect_eq(out[1], 0x80 | 126);
	cr_expect_eq((out[2] << 8) | out[3], 301);
	memcpy(key, out + hl - 4, 4);
	ph_wsframe_mask(out + hl, len - hl, key);
	cr_expect_eq(out[hl], 7);
	cr_expect_arr_eq(out + hl + 1, payload, sizeof payload);
}
