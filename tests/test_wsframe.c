/*
 * test_wsframe.c - the frames porthole masks itself (src/wsframe.c): header
 * lengths at the 126 and 65536 boundaries, the header bytes, and masking
 * equal to RFC 6455's byte-at-a-time definition at every length and offset.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "porthole/wsframe.h"

static const uint8_t key[4] = { 0xa1, 0x02, 0xf3, 0x44 };

Test(wsframe, header_lengths)
{
	cr_expect_eq(ph_wsframe_head_len(0), 6);
	cr_expect_eq(ph_wsframe_head_len(125), 6);
	cr_expect_eq(ph_wsframe_head_len(126), 8);
	cr_expect_eq(ph_wsframe_head_len(65535), 8);
	cr_expect_eq(ph_wsframe_head_len(65536), 14);
	cr_expect_eq(ph_wsframe_head_len(1ULL << 40), PH_WSFRAME_HEAD_MAX);
}

Test(wsframe, header_bytes)
{
	uint8_t	h[PH_WSFRAME_HEAD_MAX];
	const uint8_t want16[] = { 0x82, 0xfe, 0x01, 0x00, 0xa1, 0x02, 0xf3, 0x44 };
	const uint8_t want64[] = { 0x89, 0xff, 0, 0, 0, 0, 0, 1, 0, 0,
	    0xa1, 0x02, 0xf3, 0x44 };

	cr_assert_eq(ph_wsframe_head(h, 0x2, 256, key), sizeof want16);
	cr_expect_arr_eq(h, want16, sizeof want16);
	cr_assert_eq(ph_wsframe_head(h, 0x9, 65536, key), sizeof want64);
	cr_expect_arr_eq(h, want64, sizeof want64);
	cr_assert_eq(ph_wsframe_head(h, 0x8, 5, key), 6);
	cr_expect_eq(h[0], 0x88);
	cr_expect_eq(h[1], 0x85);
}

Test(wsframe, mask_is_rfc6455)
{
	uint8_t	buf[64], ref[64];
	size_t	off, n, i;

	for (off = 0; off < 8; off++)
		for (n = 0; n + off <= 40; n++) {
			for (i = 0; i < sizeof buf; i++)
				buf[i] = ref[i] = (uint8_t)(i * 37 + 11);
			ph_wsframe_mask(buf + off, n, key);
			for (i = 0; i < n; i++)
				ref[off + i] ^= key[i % 4];
			cr_assert_arr_eq(buf, ref, sizeof buf, "off %zu n %zu", off, n);
		}
}
