/*
 * fuzz_socks.c - libFuzzer target for the SOCKS5 greeting and CONNECT
 * request (ph_socks_parse, src/socks.c), which `porthole forward --socks`
 * reads from any local client.  The input is fed as the CLI receives it:
 * the first byte picks how many bytes each read brings (1 to 16, or all),
 * and the bytes collect in a buffer of PH_SOCKS_MAX as the CLI's does.
 * Aborts when a step consumes more than it was given or nothing at all, a
 * CONNECT's host is empty, unterminated or holds a NUL, or its port is 0.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/socks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ph_socks_req	 r;
	enum ph_socks_step	 step;
	uint8_t			 buf[PH_SOCKS_MAX], reply[10];
	size_t			 len = 0, chunk, k;
	int			 greeted = 0;

	if (size < 1)
		return 0;
	chunk = data[0] % 17;
	data++;
	size--;
	while (size > 0 && len < sizeof buf) {
		k = chunk == 0 ? size : chunk;
		if (k > size)
			k = size;
		if (k > sizeof buf - len)
			k = sizeof buf - len;
		memcpy(buf + len, data, k);
		len += k;
		data += k;
		size -= k;
		for (;;) {
			step = ph_socks_parse(buf, len, greeted, &r);
			if (step == PH_SOCKS_MORE)
				break;
			if (step == PH_SOCKS_DROP || step == PH_SOCKS_NO_METHOD)
				return 0;
			if (step == PH_SOCKS_REFUSE) {
				ph_socks_reply(reply, r.rep);
				if (reply[0] != 5 || r.rep == 0)
					abort();
				return 0;
			}
			if (r.used == 0 || r.used > len)
				abort();
			if (step == PH_SOCKS_CONNECT) {
				if (r.port == 0 || r.host[0] == '\0' ||
				    memchr(r.host, '\0', sizeof r.host) == NULL)
					abort();
				return 0;	/* the rest is early data */
			}
			if (step != PH_SOCKS_GREETED || greeted)
				abort();
			greeted = 1;
			memmove(buf, buf + r.used, len - r.used);
			len -= r.used;
		}
	}
	return 0;
}
