/*
 * fuzz_printable.c - libFuzzer target for the escaping of network text
 * (src/printable.c): whatever the bytes, the result holds no C0, DEL or C1
 * (raw or as UTF-8), is valid UTF-8 that escapes to itself, and the
 * bounded form, at any size, gives a prefix of the whole that never ends
 * inside an escape.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/printable.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *all, *again, buf[64];
	size_t i, n, used, room;

	all = ph_printable_n(data, size);
	n = strlen(all);
	for (i = 0; i < n; i++) {
		uint8_t b = (uint8_t)all[i];

		if (b < 0x20 || b == 0x7f)
			abort();
		if (b == 0xc2 && i + 1 < n && (uint8_t)all[i + 1] <= 0x9f)
			abort();
	}
	if (!ph_is_printable(all, n))
		abort();
	again = ph_printable(all);
	if (strcmp(again, all) != 0)
		abort();
	free(again);

	room = size > 0 ? 1 + data[0] % sizeof buf : sizeof buf;
	used = ph_printable_buf(buf, room, data, size);
	if (used > size || strlen(buf) >= room || strncmp(buf, all, strlen(buf)) != 0)
		abort();
	/* What was consumed escapes to exactly what was written. */
	again = ph_printable_n(data, used);
	if (strcmp(again, buf) != 0)
		abort();
	free(again);
	free(all);
	return 0;
}
