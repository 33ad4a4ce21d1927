/*
 * fuzz_clientws.c - libFuzzer target for the CLI's WebSocket client side
 * (src/wsclient.c): the streaming frame parser fed arbitrary server
 * bytes in uneven pieces, and the upgrade response check.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/wsclient.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t data_bytes;

static int
on_data(void *arg, int opcode, const uint8_t *p, size_t n, int first, int last)
{
	volatile uint8_t sink = 0;
	size_t i;

	for (i = 0; i < n; i++)	/* touch every byte: ASan checks the bounds */
		sink ^= p[i];
	data_bytes += n;
	(void)sink;
	return 0;
}

static int
on_control(void *arg, int opcode, const uint8_t *p, size_t n)
{
	if (n > PH_WS_CTL_MAX)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct ph_ws_rx_ops ops = { on_data, on_control };
	struct ph_ws_rx rx;
	const char *cause;
	char *head;
	size_t off, n;
	long clen;
	int status;

	ph_ws_rx_init(&rx);
	data_bytes = 0;
	for (off = 0; off < size; off += n) {
		n = (size_t)(data[off] % 97) + 1;
		if (n > size - off)
			n = size - off;
		if (ph_ws_rx_feed(&rx, data + off, n, &ops, NULL, &cause) != 0)
			break;
	}
	if (data_bytes > size)
		abort();

	head = malloc(size + 1);
	memcpy(head, data, size);
	head[size] = '\0';
	if (ph_ws_head_end(head, size) <= size)
		ph_ws_response(head, "dGhlIHNhbXBsZSBub25jZQ==", "porthole.session.v1",
		    &status, &clen, &cause);
	free(head);
	return 0;
}
