/*
 * stream.c - build and parse STREAM frames (stream.h): the framing of
 * forwarded connections inside one session.  Parsing trusts nothing: every
 * length is checked against its kind before a byte is read, and what is
 * left over is an error.
 */
#include <errno.h>
#include <string.h>

#include "porthole/stream.h"

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void
put_hdr(uint8_t *out, enum ph_stream_kind kind, uint32_t id)
{
	out[0] = (uint8_t)kind;
	put_u32(out + 1, id);
}

int
ph_stream_parse(const uint8_t *p, size_t len, struct ph_stream_msg *m,
    const char **cause)
{
	size_t	hl;

	memset(m, 0, sizeof *m);
	if (len < PH_STREAM_HDR) {
		*cause = "stream frame shorter than its header";
		return -1;
	}
	m->kind = (enum ph_stream_kind)p[0];
	m->id = get_u32(p + 1);
	p += PH_STREAM_HDR;
	len -= PH_STREAM_HDR;
	if (m->id == 0) {
		*cause = "stream id 0";
		return -1;
	}
	switch (m->kind) {
	case PH_STREAM_OPEN:
		if (len < 7) {
			*cause = "stream open too short";
			return -1;
		}
		m->window = get_u32(p);
		m->port = (uint16_t)(p[4] << 8 | p[5]);
		hl = p[6];
		if (len != 7 + hl || hl == 0) {
			*cause = "stream open: host length does not match";
			return -1;
		}
		if (memchr(p + 7, '\0', hl) != NULL) {
			*cause = "stream open: host holds a NUL";
			return -1;
		}
		memcpy(m->host, p + 7, hl);
		m->host[hl] = '\0';
		if (m->port == 0) {
			*cause = "stream open: port 0";
			return -1;
		}
		break;
	case PH_STREAM_REPLY:
		if (len < 5 || len - 5 > PH_STREAM_REASON_MAX) {
			*cause = "stream reply: bad length";
			return -1;
		}
		m->status = p[0];
		m->window = get_u32(p + 1);
		m->data = p + 5;
		m->len = len - 5;
		if (m->status == PH_STREAM_OK && m->window == 0) {
			*cause = "stream reply: window 0";
			return -1;
		}
		return m->window > PH_STREAM_WINDOW_MAX ? (*cause =
		    "stream reply: window too large", -1) : 0;
	case PH_STREAM_DATA:
		if (len == 0 || len > PH_STREAM_DATA_MAX) {
			*cause = "stream data: empty or too long";
			return -1;
		}
		m->data = p;
		m->len = len;
		return 0;
	case PH_STREAM_CREDIT:
		if (len != 4) {
			*cause = "stream credit: not 4 bytes";
			return -1;
		}
		m->credit = get_u32(p);
		if (m->credit == 0 || m->credit > PH_STREAM_WINDOW_MAX) {
			*cause = "stream credit out of bounds";
			return -1;
		}
		return 0;
	case PH_STREAM_EOF:
		if (len != 0) {
			*cause = "stream eof with a payload";
			return -1;
		}
		return 0;
	case PH_STREAM_CLOSE:
		if (len < 1 || len - 1 > PH_STREAM_REASON_MAX) {
			*cause = "stream close: bad length";
			return -1;
		}
		m->status = p[0];
		m->data = p + 1;
		m->len = len - 1;
		return 0;
	default:
		*cause = "unknown stream frame kind";
		return -1;
	}
	if (m->window == 0 || m->window > PH_STREAM_WINDOW_MAX) {
		*cause = "stream open: window out of bounds";
		return -1;
	}
	return 0;
}

size_t
ph_stream_open(uint8_t *out, size_t cap, uint32_t id, uint32_t window,
    const char *host, uint16_t port)
{
	size_t	hl = host != NULL ? strlen(host) : 0;

	if (id == 0 || hl == 0 || hl > PH_STREAM_HOST_MAX || port == 0 ||
	    window == 0 || window > PH_STREAM_WINDOW_MAX || cap < PH_STREAM_HDR + 7 + hl)
		return 0;
	put_hdr(out, PH_STREAM_OPEN, id);
	put_u32(out + PH_STREAM_HDR, window);
	out[PH_STREAM_HDR + 4] = (uint8_t)(port >> 8);
	out[PH_STREAM_HDR + 5] = (uint8_t)port;
	out[PH_STREAM_HDR + 6] = (uint8_t)hl;
	memcpy(out + PH_STREAM_HDR + 7, host, hl);
	return PH_STREAM_HDR + 7 + hl;
}

/* Reason text, cut at PH_STREAM_REASON_MAX; its length. */
static size_t
reason_len(const char *reason)
{
	size_t	n = reason != NULL ? strlen(reason) : 0;

	return n > PH_STREAM_REASON_MAX ? PH_STREAM_REASON_MAX : n;
}

size_t
ph_stream_reply(uint8_t *out, size_t cap, uint32_t id, uint8_t status,
    uint32_t window, const char *reason)
{
	size_t	rl = reason_len(reason);

	if (id == 0 || cap < PH_STREAM_HDR + 5 + rl || window > PH_STREAM_WINDOW_MAX ||
	    (status == PH_STREAM_OK && window == 0))
		return 0;
	put_hdr(out, PH_STREAM_REPLY, id);
	out[PH_STREAM_HDR] = status;
	put_u32(out + PH_STREAM_HDR + 1, window);
	if (rl > 0)
		memcpy(out + PH_STREAM_HDR + 5, reason, rl);
	return PH_STREAM_HDR + 5 + rl;
}

size_t
ph_stream_credit(uint8_t *out, size_t cap, uint32_t id, uint32_t credit)
{
	if (id == 0 || cap < PH_STREAM_HDR + 4 || credit == 0 ||
	    credit > PH_STREAM_WINDOW_MAX)
		return 0;
	put_hdr(out, PH_STREAM_CREDIT, id);
	put_u32(out + PH_STREAM_HDR, credit);
	return PH_STREAM_HDR + 4;
}

size_t
ph_stream_eof(uint8_t *out, size_t cap, uint32_t id)
{
	if (id == 0 || cap < PH_STREAM_HDR)
		return 0;
	put_hdr(out, PH_STREAM_EOF, id);
	return PH_STREAM_HDR;
}

size_t
ph_stream_close(uint8_t *out, size_t cap, uint32_t id, uint8_t status,
    const char *reason)
{
	size_t	rl = reason_len(reason);

	if (id == 0 || cap < PH_STREAM_HDR + 1 + rl)
		return 0;
	put_hdr(out, PH_STREAM_CLOSE, id);
	out[PH_STREAM_HDR] = status;
	if (rl > 0)
		memcpy(out + PH_STREAM_HDR + 1, reason, rl);
	return PH_STREAM_HDR + 1 + rl;
}

void
ph_stream_data_hdr(uint8_t *out, uint32_t id)
{
	put_hdr(out, PH_STREAM_DATA, id);
}

const char *
ph_stream_status_text(int status)
{
	switch (status) {
	case PH_STREAM_OK:
		return "ok";
	case PH_STREAM_NOT_ALLOWED:
		return "not allowed";
	case PH_STREAM_NET_UNREACHABLE:
		return "network unreachable";
	case PH_STREAM_HOST_UNREACHABLE:
		return "host unreachable";
	case PH_STREAM_REFUSED:
		return "connection refused";
	case PH_STREAM_TIMEOUT:
		return "timed out";
	case PH_STREAM_BAD_ADDRESS:
		return "address not supported";
	default:
		return "failed";
	}
}

int
ph_stream_status_errno(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return PH_STREAM_REFUSED;
	case ENETUNREACH:
	case ENETDOWN:
		return PH_STREAM_NET_UNREACHABLE;
	case EHOSTUNREACH:
	case EHOSTDOWN:
		return PH_STREAM_HOST_UNREACHABLE;
	case ETIMEDOUT:
		return PH_STREAM_TIMEOUT;
	case EACCES:
	case EPERM:
		return PH_STREAM_NOT_ALLOWED;
	case EAFNOSUPPORT:
		return PH_STREAM_BAD_ADDRESS;
	default:
		return PH_STREAM_FAILED;
	}
}
