/*
 * fuzz_stream.c - libFuzzer target for STREAM frame payloads
 * (ph_stream_parse, src/stream.c): what `porthole forward` and the
 * agent's forward operation read from each other.  Beside not crashing,
 * a payload that parses must come out of the builders byte for byte as it
 * went in (OPEN, REPLY, CREDIT, EOF, CLOSE; DATA's header), and what it
 * parsed must be within the bounds stream.h promises.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Payload text at m->data as a string, for the builders. */
static void
text(const struct ph_stream_msg *m, char *out)
{
	memcpy(out, m->data, m->len);
	out[m->len] = '\0';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ph_stream_msg	 m;
	const char		*cause = NULL;
	uint8_t			 out[PH_STREAM_HDR + 7 + PH_STREAM_HOST_MAX +
	    PH_STREAM_REASON_MAX];
	char			 reason[PH_STREAM_REASON_MAX + 1];
	size_t			 n = 0;

	if (size > PH_STREAM_HDR + PH_STREAM_DATA_MAX + 16)
		return 0;
	if (ph_stream_parse(data, size, &m, &cause) != 0) {
		if (cause == NULL || *cause == '\0')
			abort();
		return 0;
	}
	if (m.id == 0)
		abort();
	switch (m.kind) {
	case PH_STREAM_OPEN:
		if (m.port == 0 || m.window == 0 || m.window > PH_STREAM_WINDOW_MAX ||
		    memchr(m.host, '\0', sizeof m.host) == NULL || m.host[0] == '\0')
			abort();
		n = ph_stream_open(out, sizeof out, m.id, m.window, m.host, m.port);
		break;
	case PH_STREAM_REPLY:
		/* A reason with a NUL does not survive a C string: compare less. */
		if (m.len > PH_STREAM_REASON_MAX || m.window > PH_STREAM_WINDOW_MAX ||
		    (m.status == PH_STREAM_OK && m.window == 0))
			abort();
		if (memchr(m.data, '\0', m.len) != NULL)
			return 0;
		text(&m, reason);
		n = ph_stream_reply(out, sizeof out, m.id, m.status, m.window, reason);
		break;
	case PH_STREAM_CLOSE:
		if (m.len > PH_STREAM_REASON_MAX)
			abort();
		if (memchr(m.data, '\0', m.len) != NULL)
			return 0;
		text(&m, reason);
		n = ph_stream_close(out, sizeof out, m.id, m.status, reason);
		break;
	case PH_STREAM_CREDIT:
		if (m.credit == 0 || m.credit > PH_STREAM_WINDOW_MAX)
			abort();
		n = ph_stream_credit(out, sizeof out, m.id, m.credit);
		break;
	case PH_STREAM_EOF:
		n = ph_stream_eof(out, sizeof out, m.id);
		break;
	case PH_STREAM_DATA:
		if (m.len == 0 || m.len > PH_STREAM_DATA_MAX || m.data != data + PH_STREAM_HDR ||
		    m.len != size - PH_STREAM_HDR)
			abort();
		ph_stream_data_hdr(out, m.id);
		if (memcmp(out, data, PH_STREAM_HDR) != 0)
			abort();
		return 0;
	default:
		abort();	/* parsed a kind it does not know */
	}
	if (n != size || memcmp(out, data, size) != 0)
		abort();
	(void)ph_stream_status_text(m.status);
	return 0;
}
