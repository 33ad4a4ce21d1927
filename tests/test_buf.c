/* test_buf.c - bounded reassembly and bounded queues. */
#include <string.h>

#include <criterion/criterion.h>

#include "porthole/buf.h"
#include "porthole/frame.h"

Test(buf, msgbuf_caps_and_reassembles)
{
	struct ph_msgbuf mb;

	ph_msgbuf_init(&mb, 10);
	cr_assert_eq(ph_msgbuf_add(&mb, "hello", 5), 0);
	cr_assert_eq(ph_msgbuf_add(&mb, "world", 5), 0);
	cr_assert_eq(mb.len, 10);
	cr_assert_eq(memcmp(ph_msgbuf_msg(&mb), "helloworld", 10), 0);
	/* One more byte passes the cap: refused, nothing appended. */
	cr_assert_eq(ph_msgbuf_add(&mb, "!", 1), -1);
	cr_assert_eq(mb.len, 10);
	ph_msgbuf_reset(&mb);
	cr_assert_eq(mb.len, 0);
	cr_assert_eq(ph_msgbuf_add(&mb, "abcdefghijk", 11), -1);
	ph_msgbuf_free(&mb);
	ph_msgbuf_free(&mb);	/* safe twice */
}

Test(buf, queue_marks_limit_and_order)
{
	struct ph_queue q;
	struct ph_qitem *it;

	ph_queue_init(&q, 4, 8, 12);
	cr_assert(ph_queue_under_low(&q));
	cr_assert_eq(ph_queue_push(&q, PH_FRAME_STDOUT, "abc", 3), 0);	/* 4 bytes */
	cr_assert(ph_queue_under_low(&q));
	cr_assert_eq(ph_queue_push(&q, -1, "defg", 4), 0);		/* 8 bytes */
	cr_assert(ph_queue_over_high(&q));
	cr_assert_eq(ph_queue_push(&q, -1, "hijkl", 5), -1, "limit must hold");
	cr_assert_eq(q.bytes, 8);
	cr_assert_eq(q.peak, 8);
	it = ph_queue_peek(&q);
	cr_assert_eq(it->len, 4);
	cr_assert_eq(it->data[PH_HEADROOM], PH_FRAME_STDOUT);
	cr_assert_eq(memcmp(it->data + PH_HEADROOM + 1, "abc", 3), 0);
	ph_queue_pop(&q);
	it = ph_queue_peek(&q);
	cr_assert_eq(memcmp(it->data + PH_HEADROOM, "defg", 4), 0);
	cr_assert(ph_queue_under_low(&q));
	ph_queue_pop(&q);
	cr_assert_null(ph_queue_peek(&q));
	cr_assert_eq(q.count, 0);
	ph_queue_pop(&q);	/* popping empty is harmless */
	ph_queue_free(&q);
}
