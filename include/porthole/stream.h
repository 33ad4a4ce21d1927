/*
 * stream.h - many TCP connections inside one session: the STREAM frame
 * (type 0x07) that `porthole forward` and the agent's forward operation
 * exchange, built and parsed here so both ends agree on every byte.
 *
 * A STREAM frame's payload is a kind byte, a stream id (u32, big endian,
 * chosen by the client: increasing, never reused in a session, never 0),
 * then what the kind carries (docs/protocol.md, "forward streams"):
 *
 *   OPEN   client → agent  window u32, port u16, host length u8, host
 *   REPLY  agent → client  status u8, window u32, reason (text)
 *   DATA   both            bytes (1 .. PH_STREAM_DATA_MAX)
 *   CREDIT both            u32: that many more bytes may be sent
 *   EOF    both            the sender shut down its writing side
 *   CLOSE  both            status u8, reason (text): the stream is over
 *
 * Flow control is per stream and by credit: a sender may have at most the
 * window the receiver granted (OPEN's for agent → client, REPLY's for
 * client → agent) plus what CREDIT frames added in flight; a receiver that
 * gets more ends the session.  So a stalled connection holds only its own
 * window and never the session.
 *
 * STREAM frames are frames like any other: end-to-end sealing (seal.h)
 * wraps them whole, type byte included.
 */
#ifndef PORTHOLE_STREAM_H
#define PORTHOLE_STREAM_H

#include <stddef.h>
#include <stdint.h>

enum ph_stream_kind {
	PH_STREAM_OPEN = 1,
	PH_STREAM_REPLY = 2,
	PH_STREAM_DATA = 3,
	PH_STREAM_CREDIT = 4,
	PH_STREAM_EOF = 5,
	PH_STREAM_CLOSE = 6,
};

/*
 * REPLY and CLOSE status: 0 is success (a CLOSE 0 is a clean end); the
 * others are SOCKS5's reply codes (RFC 1928), which `--socks` passes on.
 */
enum ph_stream_status {
	PH_STREAM_OK = 0,
	PH_STREAM_FAILED = 1,		/* general failure, reset, limit */
	PH_STREAM_NOT_ALLOWED = 2,	/* the token's forward claim, a credential endpoint */
	PH_STREAM_NET_UNREACHABLE = 3,
	PH_STREAM_HOST_UNREACHABLE = 4,	/* also: the name does not resolve */
	PH_STREAM_REFUSED = 5,
	PH_STREAM_TIMEOUT = 6,		/* the connect timed out (SOCKS: TTL expired) */
	PH_STREAM_BAD_ADDRESS = 8,	/* SOCKS: address type not supported */
};

#define PH_STREAM_HDR		5	/* kind + id */
/* Largest DATA payload: room for the frame header and a seal's overhead. */
#define PH_STREAM_DATA_MAX	(60 * 1024)
#define PH_STREAM_HOST_MAX	255
#define PH_STREAM_REASON_MAX	200
/* The window each side grants a stream (docs/protocol.md). */
#define PH_STREAM_WINDOW	(256 * 1024)
#define PH_STREAM_WINDOW_MAX	(16 * 1024 * 1024)
/* Streams one session may hold open at once (the agent refuses more). */
#define PH_STREAM_MAX_OPEN	512

/* One parsed STREAM payload; pointers go into the frame. */
struct ph_stream_msg {
	enum ph_stream_kind kind;
	uint32_t	 id;
	uint32_t	 window;	/* OPEN, REPLY */
	uint32_t	 credit;	/* CREDIT */
	uint16_t	 port;		/* OPEN */
	char		 host[PH_STREAM_HOST_MAX + 1];	/* OPEN, NUL-terminated */
	uint8_t		 status;	/* REPLY, CLOSE */
	const uint8_t	*data;		/* DATA: bytes; REPLY, CLOSE: reason */
	size_t		 len;
};

/*
 * Parse the payload of a STREAM frame (after its type byte).  0, or -1
 * with *cause (static) for anything malformed: an unknown kind, id 0, a
 * length that does not fit the kind, a host with a NUL or out of bounds,
 * port 0, a window of 0 or above PH_STREAM_WINDOW_MAX, an empty DATA.
 */
int	ph_stream_parse(const uint8_t *p, size_t len, struct ph_stream_msg *m,
	    const char **cause);

/*
 * Build one STREAM frame's payload (without the type byte) into out, of
 * at least cap bytes; returns its length, or 0 when it does not fit or a
 * value is out of bounds.  Text (reasons) is cut at PH_STREAM_REASON_MAX.
 */
size_t	ph_stream_open(uint8_t *out, size_t cap, uint32_t id, uint32_t window,
	    const char *host, uint16_t port);
size_t	ph_stream_reply(uint8_t *out, size_t cap, uint32_t id, uint8_t status,
	    uint32_t window, const char *reason);
size_t	ph_stream_credit(uint8_t *out, size_t cap, uint32_t id, uint32_t credit);
size_t	ph_stream_eof(uint8_t *out, size_t cap, uint32_t id);
size_t	ph_stream_close(uint8_t *out, size_t cap, uint32_t id, uint8_t status,
	    const char *reason);
/* The header of a DATA frame (PH_STREAM_HDR bytes); the bytes follow it. */
void	ph_stream_data_hdr(uint8_t *out, uint32_t id);

/* A short phrase for a status ("connection refused"); never NULL. */
const char *ph_stream_status_text(int status);
/* The status an errno from connect(2) or getsockopt(SO_ERROR) maps to. */
int	ph_stream_status_errno(int err);

#endif
