/*
 * test_resume.c - unit tests of the resume bookkeeping (src/resume.c): the
 * buffer's bounds (4 MiB by default, up to 64 MiB, refused outside), a full
 * buffer that refuses a push and says "stop reading" until an
 * acknowledgement makes room (backpressure: nothing pushed is ever lost),
 * acknowledgements that go back, run ahead of what was transmitted or end
 * inside a message refused, a reconnect at every offset the buffer holds
 * giving back exactly the messages after it, byte for byte, and an offset
 * it no longer holds (or never had, or inside a message) refused with "the
 * session cannot resume"; a message written in place (reserve, keep) held
 * as a pushed one; the receiving half's order check.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/resume.h"

static void
assert_cause(char *cause, const char *part)
{
	cr_assert_not_null(cause);
	cr_assert_not_null(strstr(cause, part), "cause \"%s\" lacks \"%s\"",
	    cause, part);
	free(cause);
}

/* Message i: its length and its bytes (i in the first, a pattern after). */
static size_t
msg_len(int i)
{
	return 1 + (size_t)(i * 7919 % 3001);
}

static void
msg_fill(int i, uint8_t *p)
{
	size_t	n = msg_len(i), k;

	for (k = 0; k < n; k++)
		p[k] = (uint8_t)(i + k * 31);
}

#define NMSG	40

/* A buffer with NMSG messages pushed, all transmitted, the first `acked` acked. */
static void
build(struct ph_resume *r, int acked, uint64_t *offs)
{
	uint8_t		 buf[4096];
	const uint8_t	*m;
	size_t		 len;
	uint64_t	 off;
	char		*cause = NULL;
	int		 i;

	cr_assert_eq(ph_resume_init(r, 0, &cause), 0, "%s", cause);
	for (i = 0; i < NMSG; i++) {
		msg_fill(i, buf);
		cr_assert_eq(ph_resume_push(r, buf, msg_len(i), &off, &cause), 0,
		    "%s", cause);
		if (offs != NULL)
			offs[i] = off;
	}
	if (offs != NULL)
		offs[NMSG] = r->sent;
	while (ph_resume_next(r, &m, &len, &off) == 1)
		;
	if (acked > 0 && offs != NULL)
		cr_assert_eq(ph_resume_ack(r, offs[acked], &cause), 0, "%s", cause);
}

Test(resume, limits)
{
	struct ph_resume	r;
	char			*cause = NULL;

	cr_assert_eq(ph_resume_init(&r, 0, &cause), 0);
	cr_assert_eq(r.limit, (size_t)4 << 20);
	cr_assert_eq(ph_resume_init(&r, (size_t)64 << 20, &cause), 0);
	cr_assert_eq(r.limit, (size_t)64 << 20);
	cr_assert_eq(ph_resume_init(&r, ((size_t)64 << 20) + 1, &cause), -1);
	assert_cause(cause, "over the maximum");
	cr_assert_eq(ph_resume_init(&r, PH_RESUME_BUF_MIN - 1, &cause), -1);
	assert_cause(cause, "under the minimum");
	cr_assert_eq(ph_resume_init(&r, PH_RESUME_BUF_MIN, &cause), 0);
	cr_assert_eq(ph_resume_full(&r), 0);
}

Test(resume, push_next_ack)
{
	struct ph_resume	 r;
	uint64_t		 offs[NMSG + 1], off;
	const uint8_t		*m;
	uint8_t			 buf[4096];
	size_t			 len, total = 0;
	char			*cause = NULL;
	int			 i;

	build(&r, 0, offs);
	for (i = 0; i < NMSG; i++) {
		cr_assert_eq(offs[i], total);
		total += msg_len(i);
	}
	cr_assert_eq(r.sent, total);
	cr_assert_eq(r.count, NMSG);
	cr_assert_eq(r.held, total + NMSG * PH_RESUME_MSG_OVERHEAD);
	cr_assert_eq(ph_resume_next(&r, &m, &len, &off), 0, "all transmitted");
	cr_assert_eq(ph_resume_ack(&r, offs[10], &cause), 0);
	cr_assert_eq(r.count, NMSG - 10);
	cr_assert_eq(r.acked, offs[10]);
	cr_assert_eq(ph_resume_ack(&r, offs[10], &cause), 0, "the same ack again");
	/* A push after that goes out next. */
	msg_fill(99, buf);
	cr_assert_eq(ph_resume_push(&r, buf, msg_len(99), &off, &cause), 0);
	cr_assert_eq(off, total);
	cr_assert_eq(ph_resume_next(&r, &m, &len, &off), 1);
	cr_assert_eq(len, msg_len(99));
	cr_assert_arr_eq(m, buf, len);
	cr_assert_eq(ph_resume_ack(&r, total + len, &cause), 0);
	cr_assert_eq(r.count, 0);
	cr_assert_eq(r.held, 0);
	cr_assert_null(r.head);
	cr_assert_null(r.tail);
	ph_resume_clear(&r);
}

Test(resume, ack_refused)
{
	struct ph_resume	r;
	uint64_t		offs[NMSG + 1];
	uint8_t			buf[8] = "abc";
	char			*cause = NULL;
	size_t			held;

	build(&r, 5, offs);
	held = r.held;
	cr_assert_eq(ph_resume_ack(&r, offs[4], &cause), -1);
	assert_cause(cause, "acknowledgements never go back");
	cr_assert_eq(ph_resume_ack(&r, offs[6] + 1, &cause), -1);
	assert_cause(cause, "ends inside a message");
	/* Pushed but not transmitted: the peer cannot have it. */
	cr_assert_eq(ph_resume_push(&r, buf, 3, NULL, &cause), 0);
	cr_assert_eq(ph_resume_ack(&r, offs[NMSG] + 3, &cause), -1);
	assert_cause(cause, "only");
	cr_assert_eq(ph_resume_ack(&r, offs[NMSG] + 4000, &cause), -1);
	assert_cause(cause, "were transmitted");
	cr_assert_eq(r.acked, offs[5], "nothing changed");
	cr_assert_eq(r.held, held + 3 + PH_RESUME_MSG_OVERHEAD);
	ph_resume_clear(&r);
}

/* Fill a buffer of limit bytes with largest messages until it says full. */
static int
fill(struct ph_resume *r, uint8_t *big)
{
	char	*cause = NULL;
	int	 n = 0;

	while (!ph_resume_full(r)) {
		big[0] = (uint8_t)n;
		cr_assert_eq(ph_resume_push(r, big, PH_RESUME_MSG_MAX, NULL, &cause),
		    0, "%s", cause);
		n++;
	}
	return n;
}

Test(resume, full_is_backpressure_never_loss)
{
	struct ph_resume	 r;
	uint8_t			*big = calloc(1, PH_RESUME_MSG_MAX);
	const uint8_t		*m;
	size_t			 len, room;
	uint64_t		 off, sent;
	char			*cause = NULL;
	int			 n, i;

	cr_assert_eq(ph_resume_init(&r, 0, &cause), 0);
	n = fill(&r, big);
	/* 4 MiB of 64 KiB messages with their overhead. */
	cr_assert_eq(n, (int)((4 << 20) / (PH_RESUME_MSG_MAX + PH_RESUME_MSG_OVERHEAD)));
	cr_assert_leq(r.held, r.limit);
	cr_assert(ph_resume_full(&r));
	room = ph_resume_room(&r);
	cr_assert_lt(room, PH_RESUME_MSG_MAX);
	/* A push that does not fit is refused and leaves everything as it was. */
	sent = r.sent;
	cr_assert_eq(ph_resume_push(&r, big, room + 1, NULL, &cause), -1);
	assert_cause(cause, "the resume buffer is full");
	cr_assert_eq(r.sent, sent);
	cr_assert_eq(r.count, (size_t)n);
	/* One that fits the room left still goes in. */
	if (room > 0)
		cr_assert_eq(ph_resume_push(&r, big, room, NULL, &cause), 0);
	cr_assert_eq(ph_resume_room(&r), 0);
	/* Transmitted and acknowledged one: room for one again, reading resumes. */
	for (i = 0; i < 2; i++)
		cr_assert_eq(ph_resume_next(&r, &m, &len, &off), 1);
	cr_assert_eq(ph_resume_ack(&r, PH_RESUME_MSG_MAX, &cause), 0);
	cr_assert_not(ph_resume_full(&r));
	cr_assert_eq(ph_resume_push(&r, big, PH_RESUME_MSG_MAX, NULL, &cause), 0);
	cr_assert(ph_resume_full(&r));
	/* Every message pushed is still there, in order, nothing skipped. */
	cr_assert_eq(ph_resume_rewind(&r, PH_RESUME_MSG_MAX, &cause), 0, "%s",
	    cause);
	for (i = 1; ph_resume_next(&r, &m, &len, &off) == 1; i++) {
		if (i < n) {
			cr_assert_eq(len, PH_RESUME_MSG_MAX);
			cr_assert_eq(off, (uint64_t)i * PH_RESUME_MSG_MAX);
			cr_assert_eq(m[0], (uint8_t)i);
		}
	}
	cr_assert_eq(i - 1, n - 1 + (room > 0) + 1);
	ph_resume_clear(&r);

	/* The largest buffer takes 64 MiB and no more. */
	cr_assert_eq(ph_resume_init(&r, PH_RESUME_BUF_MAX, &cause), 0);
	n = fill(&r, big);
	cr_assert_eq(n, (int)(PH_RESUME_BUF_MAX / (PH_RESUME_MSG_MAX +
	    PH_RESUME_MSG_OVERHEAD)));
	cr_assert_leq(r.held, PH_RESUME_BUF_MAX);
	cr_assert_eq(ph_resume_push(&r, big, PH_RESUME_MSG_MAX, NULL, &cause), -1);
	assert_cause(cause, "full");
	ph_resume_clear(&r);
	free(big);
}

/*
 * A message written in place (reserve, then keep) is held as a pushed one
 * is; a reservation refused or not kept leaves the buffer as it was.
 */
Test(resume, reserve_then_keep)
{
	struct ph_resume	 r;
	struct ph_resume_msg	*m;
	uint8_t			*big = calloc(1, PH_RESUME_MSG_MAX);
	const uint8_t		*out;
	size_t			 len, held;
	uint64_t		 off;
	char			*cause = NULL;

	cr_assert_eq(ph_resume_init(&r, 0, &cause), 0);
	cr_assert_eq(ph_resume_push(&r, "ab", 2, NULL, &cause), 0);
	cr_assert_null(ph_resume_reserve(&r, 0, &cause));
	assert_cause(cause, "cannot be kept");
	cr_assert_null(ph_resume_reserve(&r, PH_RESUME_MSG_MAX + 1, &cause));
	assert_cause(cause, "cannot be kept");
	/* Reserved and freed, not kept: nothing held, no offset taken. */
	held = r.held;
	cr_assert_not_null(m = ph_resume_reserve(&r, 3, &cause));
	free(m);
	cr_assert_eq(r.held, held);
	cr_assert_eq(r.sent, 2);
	cr_assert_not_null(m = ph_resume_reserve(&r, 3, &cause));
	memcpy(m->data, "xyz", 3);
	ph_resume_keep(&r, m, &off);
	cr_assert_eq(off, 2);
	cr_assert_eq(r.sent, 5);
	cr_assert_eq(r.held, held + 3 + PH_RESUME_MSG_OVERHEAD);
	cr_assert_eq(ph_resume_next(&r, &out, &len, &off), 1);
	cr_assert_eq(ph_resume_next(&r, &out, &len, &off), 1);
	cr_assert_eq(len, 3);
	cr_assert_eq(off, 2);
	cr_assert_eq(memcmp(out, "xyz", 3), 0);
	/* Full: a reservation is refused as a push is. */
	fill(&r, big);
	cr_assert_null(ph_resume_reserve(&r, ph_resume_room(&r) + 1, &cause));
	assert_cause(cause, "the resume buffer is full");
	ph_resume_clear(&r);
	free(big);
}

Test(resume, reconnect_at_every_offset)
{
	struct ph_resume	 r;
	uint64_t		 offs[NMSG + 1], off, x;
	const uint8_t		*m;
	uint8_t			 want[4096];
	size_t			 len;
	char			*cause = NULL;
	int			 acked, at, i;

	for (acked = 0; acked <= NMSG; acked += 13) {
		/* Every message boundary from the acknowledged one to the end. */
		for (at = acked; at <= NMSG; at++) {
			build(&r, acked, offs);
			cr_assert_eq(ph_resume_rewind(&r, offs[at], &cause), 0,
			    "rewind to message %d: %s", at, cause);
			cr_assert_eq(r.acked, offs[at]);
			for (i = at; i < NMSG; i++) {
				cr_assert_eq(ph_resume_next(&r, &m, &len, &off), 1);
				cr_assert_eq(off, offs[i]);
				msg_fill(i, want);
				cr_assert_eq(len, msg_len(i));
				cr_assert_arr_eq(m, want, len, "message %d resent "
				    "byte for byte", i);
			}
			cr_assert_eq(ph_resume_next(&r, &m, &len, &off), 0);
			/* A second drop at once: the same again. */
			if (at < NMSG) {
				cr_assert_eq(ph_resume_rewind(&r, offs[at], &cause), 0);
				cr_assert_eq(ph_resume_next(&r, &m, &len, &off), 1);
				cr_assert_eq(off, offs[at]);
			}
			ph_resume_clear(&r);
		}
		/* Every offset inside a message is refused, nothing changed. */
		build(&r, acked, offs);
		for (at = acked; at < NMSG; at++) {
			for (x = offs[at] + 1; x < offs[at + 1]; x += 97) {
				cr_assert_eq(ph_resume_rewind(&r, x, &cause), -1);
				assert_cause(cause, "falls inside a message");
			}
		}
		cr_assert_eq(r.acked, offs[acked]);
		cr_assert_eq(r.count, (size_t)(NMSG - acked));
		ph_resume_clear(&r);
	}
}

Test(resume, offset_too_old_or_never_sent)
{
	struct ph_resume	r;
	uint64_t		offs[NMSG + 1];
	uint8_t			buf[8] = "xyz";
	char			*cause = NULL;
	int			at;

	build(&r, 20, offs);
	for (at = 0; at < 20; at++) {
		cr_assert_eq(ph_resume_rewind(&r, offs[at], &cause), -1);
		assert_cause(cause, "the session cannot resume: the peer has");
	}
	cr_assert_eq(ph_resume_rewind(&r, offs[19] + 1, &cause), -1);
	assert_cause(cause, "no longer held");
	cr_assert_eq(ph_resume_rewind(&r, offs[NMSG] + 1, &cause), -1);
	assert_cause(cause, "only");
	/* Pushed, never transmitted: the peer cannot have it either. */
	cr_assert_eq(ph_resume_push(&r, buf, 3, NULL, &cause), 0);
	cr_assert_eq(ph_resume_rewind(&r, offs[NMSG] + 3, &cause), -1);
	assert_cause(cause, "cannot resume");
	cr_assert_eq(r.acked, offs[20], "nothing changed");
	cr_assert_eq(r.count, (size_t)(NMSG - 20 + 1));
	ph_resume_clear(&r);
}

Test(resume, receiving_half)
{
	struct ph_resume	r;
	char			*cause = NULL;

	cr_assert_eq(ph_resume_init(&r, 0, &cause), 0);
	cr_assert_eq(ph_resume_receive(&r, 0, 100, &cause), 0);
	cr_assert_eq(ph_resume_receive(&r, 100, 50, &cause), 0);
	cr_assert_eq(ph_resume_unacked(&r), 150);
	cr_assert_eq(ph_resume_ack_take(&r), 150);
	cr_assert_eq(ph_resume_unacked(&r), 0);
	cr_assert_eq(ph_resume_receive(&r, 100, 50, &cause), -1);
	assert_cause(cause, "received before");
	cr_assert_eq(ph_resume_receive(&r, 151, 50, &cause), -1);
	assert_cause(cause, "bytes are missing before it");
	cr_assert_eq(ph_resume_receive(&r, 150, 0, &cause), -1);
	assert_cause(cause, "out of bounds");
	cr_assert_eq(r.received, 150);
}
