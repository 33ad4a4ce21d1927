/*
 * wsclient.h - the client side of RFC 6455 WebSocket, as pure functions
 * over buffers (no sockets, no libwebsockets, no globals): the upgrade
 * request, the check of the server's answer, a streaming frame parser and
 * masked frames.  Any owner of a connection drives it from its own loop:
 * the CLI's sessions today (over tlsclient.h), a relay's links later.
 *
 * Why porthole frames WebSockets itself: libwebsockets 4.1.6 parses every
 * byte a ws *client* receives through its per-byte state machine (later
 * versions added a block fast path).  Measured here, that capped
 * "porthole exec ... -- head -c 1G /dev/zero" at about 100 MB/s with the
 * CLI's CPU at 100%, 78% of it in that parser, five times below ssh on the
 * same loopback.
 *
 * Bounds: the parser keeps a frame header and one control payload (125
 * bytes) and hands data payloads over in the blocks they arrived in; the
 * caller accepts a response head up to PH_WS_HEAD_MAX.  Masking is
 * wsframe.h's, the one copy.
 */
#ifndef PORTHOLE_PH_WS_H
#define PORTHOLE_PH_WS_H

#include <stddef.h>
#include <stdint.h>

#include "porthole/wsframe.h"

#define PH_WS_KEY_LEN	24	/* base64 of 16 random bytes */
#define PH_WS_HDR_MAX	PH_WSFRAME_HEAD_MAX	/* 2 + 8 length + 4 mask */
#define PH_WS_CTL_MAX	125	/* largest control frame payload */
#define PH_WS_HEAD_MAX	16384	/* largest response head we accept */

enum ph_ws_op {
	PH_WS_CONT = 0x0,
	PH_WS_TEXT = 0x1,
	PH_WS_BINARY = 0x2,
	PH_WS_CLOSE = 0x8,
	PH_WS_PING = 0x9,
	PH_WS_PONG = 0xa,
};

/*
 * The upgrade request for path on host:port with one subprotocol and a
 * bearer token.  Draws a fresh key into key (PH_WS_KEY_LEN + 1).
 * Returns a malloc'd request (the caller wipes it: it holds the token) or
 * NULL if no random bytes could be had.
 */
char	*ph_ws_request(const char *host, int port, const char *path,
	    const char *subproto, const char *token, char *key);

/*
 * Find the end of the response head in buf: the offset just past
 * "\r\n\r\n", or 0 if it is not complete yet.
 */
size_t	 ph_ws_head_end(const char *buf, size_t len);

/*
 * Check a complete response head (NUL-terminated).  Returns 0 for a good
 * 101 answer to our key and subprotocol.  Otherwise -1 with *status the
 * HTTP status (0 if unreadable), *content_length the body length (-1 if
 * not given) and *cause a static description.
 */
int	 ph_ws_response(const char *head, const char *key, const char *subproto,
	    int *status, long *content_length, const char **cause);

/* Streaming parser state for frames from the server (never masked). */
struct ph_ws_rx {
	uint8_t		 hdr[PH_WS_HDR_MAX];
	size_t		 hlen;		/* header bytes collected */
	size_t		 hneed;		/* header bytes this frame needs */
	int		 opcode;	/* current frame */
	int		 fin;
	uint64_t	 remain;	/* payload bytes left in the current frame */
	int		 in_message;	/* a fragmented data message is open */
	int		 first;		/* next data block starts a message */
	uint8_t		 ctl[PH_WS_CTL_MAX];
	size_t		 ctl_len;
};

struct ph_ws_rx_ops {
	/*
	 * Payload bytes of a data message (opcode is the message's: TEXT or
	 * BINARY); first: they start the message, last: they end it.  An
	 * empty message comes as one call with n == 0.
	 */
	int	(*data)(void *arg, int opcode, const uint8_t *p, size_t n,
		    int first, int last);
	/* A whole control frame: CLOSE, PING or PONG. */
	int	(*control)(void *arg, int opcode, const uint8_t *p, size_t n);
};

void	 ph_ws_rx_init(struct ph_ws_rx *rx);
/*
 * Feed received bytes.  Returns 0, or -1 with *cause (static) when the
 * server broke RFC 6455 (the connection must be closed with 1002), or the
 * non-zero value a hook returned (the hook's own reason).
 */
int	 ph_ws_rx_feed(struct ph_ws_rx *rx, const uint8_t *p, size_t n,
	    const struct ph_ws_rx_ops *ops, void *arg, const char **cause);

/*
 * Write one masked frame (FIN set) into out: header, mask, then the
 * payload made of an optional first byte (prefix >= 0: the porthole type
 * byte) and p[0..n).  out needs PH_WS_HDR_MAX + 1 + n bytes.  Returns
 * the frame's length.
 */
size_t	 ph_ws_frame(uint8_t *out, int opcode, int prefix, const void *p,
	    size_t n);

#endif
