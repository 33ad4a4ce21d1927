/*
 * wsframe.c - the header and masking of the WebSocket frames porthole
 * writes itself.  See porthole/wsframe.h.
 */
#include <string.h>

#include "porthole/wsframe.h"

size_t
ph_wsframe_head_len(uint64_t plen)
{
	return 2 + (plen < 126 ? 0 : plen <= 0xffff ? 2 : 8) + 4;
}

size_t
ph_wsframe_head(uint8_t *out, int opcode, uint64_t plen, const uint8_t key[4])
{
	size_t	o = 0;
	int	i;

	out[o++] = (uint8_t)(0x80 | (opcode & 0x0f));	/* FIN */
	if (plen < 126)
		out[o++] = (uint8_t)(0x80 | plen);
	else if (plen <= 0xffff) {
		out[o++] = 0x80 | 126;
		out[o++] = (uint8_t)(plen >> 8);
		out[o++] = (uint8_t)plen;
	} else {
		out[o++] = 0x80 | 127;
		for (i = 0; i < 8; i++)
			out[o++] = (uint8_t)(plen >> (56 - 8 * i));
	}
	memcpy(out + o, key, 4);
	return o + 4;
}

void
ph_wsframe_mask(uint8_t *p, size_t n, const uint8_t key[4])
{
	uint64_t	k8, w;
	size_t		i = 0;

	memcpy(&k8, key, 4);
	memcpy((uint8_t *)&k8 + 4, key, 4);
	for (; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		w ^= k8;
		memcpy(p + i, &w, 8);
	}
	for (; i < n; i++)
		p[i] ^= key[i & 3];
}
