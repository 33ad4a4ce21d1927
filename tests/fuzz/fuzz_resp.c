/*
 * fuzz_resp.c - libFuzzer target for the relay's Redis reply reader
 * (relay-resp.c over hiredis's redisReader): any bytes, fed in pieces cut
 * where the first input bytes say, parse into replies or fail cleanly, and
 * the reader never holds more than its bound.
 */
#include <stdint.h>
#include <stdlib.h>

#include "relay-resp.h"

#define FUZZ_BOUND	(64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
walk(const struct relay_reply *rp, int depth)
{
	size_t i;

	if (depth > 16)
		abort();
	if (rp->type == RELAY_REPLY_ARRAY) {
		for (i = 0; i < rp->n; i++)
			if (rp->elem[i] != NULL)
				walk(rp->elem[i], depth + 1);
	} else if (rp->str != NULL && rp->str[rp->len] != '\0')
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct relay_resp *r = relay_resp_new(FUZZ_BOUND);
	struct relay_reply *rp;
	size_t off = 0, step = size > 0 ? (size_t)data[0] % 17 + 1 : 1, n;
	char *cause = NULL;
	int rc;

	while (off < size) {
		n = size - off < step ? size - off : step;
		if (relay_resp_feed(r, data + off, n, &cause) != 0)
			break;
		off += n;
		while ((rc = relay_resp_next(r, &rp, &cause)) == 1) {
			walk(rp, 0);
			relay_reply_free(rp);
		}
		if (relay_resp_held(r) > FUZZ_BOUND)
			abort();
		if (rc < 0)
			break;
	}
	free(cause);
	relay_resp_free(r);
	return 0;
}
