/*
 * fuzz_frame.c - libFuzzer target for the frame decoder and the control
 * message schemas: ph_frame_decode over arbitrary bytes, then the message
 * reassembly buffer fed the same bytes in uneven fragments.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/buf.h"
#include "porthole/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ph_msgbuf mb;
	struct ph_frame f;
	const char *cause;
	uint8_t *enc;
	size_t off, n, len;
	int code;

	if (ph_frame_decode(data, size, &f, &code, &cause) == 0) {
		if (f.json != NULL && ph_ctl_encode(f.json, &enc, &len) == 0) {
			/* What we accept, we must re-encode to something we accept. */
			struct ph_frame g;
			if (ph_frame_decode(enc + PH_HEADROOM, len, &g, &code, &cause) != 0)
				abort();
			ph_frame_clear(&g);
			free(enc);
		}
		ph_frame_clear(&f);
	}

	ph_msgbuf_init(&mb, 4096);
	for (off = 0; off < size; off += n) {
		n = (size_t)(data[off] % 61) + 1;
		if (n > size - off)
			n = size - off;
		if (ph_msgbuf_add(&mb, data + off, n) != 0)
			break;
	}
	if (mb.len > mb.cap)
		abort();
	ph_msgbuf_free(&mb);
	return 0;
}
