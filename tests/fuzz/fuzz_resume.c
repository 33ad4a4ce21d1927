/*
 * fuzz_resume.c - libFuzzer target for the resume bookkeeping
 * (src/resume.c) driven with offsets a peer chooses: acknowledgements and
 * reconnect offsets come from the network, so any value may arrive.
 *
 * The input is a list of operations on one buffer of the smallest size
 * (so "full" is reached quickly), each one byte and its arguments: push a
 * message of a given length, transmit the next one, acknowledge or rewind
 * to an offset (a raw 64-bit value, or a boundary pushed earlier plus a
 * small delta), receive a message at an offset.  Every byte pushed at
 * offset o is a function of o, so whatever comes out again can be checked.
 * Aborts (a finding) when, after any operation:
 *  - a message handed out for transmission is not the bytes pushed at its
 *    offset, or not at the cursor;
 *  - the buffer holds more than its limit, its messages are not contiguous
 *    from `acked` to `sent`, or its counts disagree with them;
 *  - acked went back, or acked/cursor/sent are out of order;
 *  - a refused call changed anything, or a push was refused while there
 *    was room for it (loss), or accepted beyond it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/resume.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BOUNDS	64
#define PERIOD	65521	/* a prime: the bytes at o and o + k differ unless PERIOD | k */

static uint8_t	table[PERIOD + PH_RESUME_MSG_MAX];

/* The bytes pushed at offset off: table + off % PERIOD. */
static const uint8_t *
pattern(uint64_t off)
{
	size_t	i;

	if (table[1] == 0) {
		for (i = 0; i < sizeof table; i++)
			table[i] = (uint8_t)(((i % PERIOD) * 131) ^ ((i % PERIOD) >> 8) ^ 1);
	}
	return table + off % PERIOD;
}

static void
check(const struct ph_resume *r, uint64_t acked_before)
{
	const struct ph_resume_msg	*m;
	uint64_t			 at = r->acked;
	size_t				 held = 0, count = 0;
	int				 next_seen = r->next == NULL;

	if (r->held > r->limit || r->acked < acked_before ||
	    r->acked > r->cursor || r->cursor > r->high || r->high > r->sent)
		abort();
	for (m = r->head; m != NULL; m = m->link) {
		if (m->off != at || m->len == 0)
			abort();
		if (m == r->next) {
			if (m->off != r->cursor)
				abort();
			next_seen = 1;
		}
		at += m->len;
		held += m->len + PH_RESUME_MSG_OVERHEAD;
		count++;
		if (m->link == NULL && m != r->tail)
			abort();
	}
	if (at != r->sent || held != r->held || count != r->count || !next_seen)
		abort();
	if (r->next == NULL && r->cursor != r->sent)
		abort();
}

/* The scalar state, to show a refused call changed nothing. */
struct snap {
	size_t		held, count;
	uint64_t	sent, acked, cursor, high, received;
	const void	*head, *next;
};

static void
snap_take(const struct ph_resume *r, struct snap *s)
{
	memset(s, 0, sizeof *s);
	s->held = r->held;
	s->count = r->count;
	s->sent = r->sent;
	s->acked = r->acked;
	s->cursor = r->cursor;
	s->high = r->high;
	s->received = r->received;
	s->head = r->head;
	s->next = r->next;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ph_resume	 r;
	struct snap		 before, after;
	uint64_t		 bounds[BOUNDS], v, off;
	const uint8_t		*msg;
	size_t			 nb = 0, pos = 0, len, room;
	char			*cause = NULL;
	int			 rc;

	if (ph_resume_init(&r, PH_RESUME_BUF_MIN, &cause) != 0)
		abort();
	bounds[nb++] = 0;
	while (pos < size) {
		uint8_t op = data[pos++];
		uint64_t acked = r.acked;

		snap_take(&r, &before);
		rc = 0;
		switch (op % 5) {
		case 0:	/* push: 2 bytes of length (the top bit: scaled up) */
			if (size - pos < 2)
				goto out;
			len = ((size_t)data[pos] << 8 | data[pos + 1]);
			len = len & 0x8000 ? (len & 0x7fff) * 3 % (PH_RESUME_MSG_MAX + 1) :
			    len % 700;
			pos += 2;
			room = ph_resume_room(&r);
			rc = ph_resume_push(&r, pattern(r.sent), len, &off, &cause);
			if ((rc == 0) != (len > 0 && len <= room))
				abort();
			if (rc == 0 && nb < BOUNDS)
				bounds[nb++] = r.sent;
			break;
		case 1:	/* transmit the next message */
			off = r.cursor;
			if (ph_resume_next(&r, &msg, &len, &v) == 1) {
				if (v != off)
					abort();
				if (memcmp(msg, pattern(v), len) != 0)
					abort();
			}
			break;
		case 2:	/* ack */
		case 3:	/* rewind */
			if (size - pos < 9)
				goto out;
			if (data[pos] & 1) {
				memcpy(&v, data + pos + 1, 8);
			} else {
				v = bounds[data[pos + 1] % nb];
				if (data[pos + 2] % 3 == 0)	/* near a boundary */
					v += (uint64_t)(int64_t)(int8_t)data[pos + 3];
			}
			pos += 9;
			rc = op % 5 == 2 ? ph_resume_ack(&r, v, &cause) :
			    ph_resume_rewind(&r, v, &cause);
			if (rc == 0 && (r.acked != v || (op % 5 == 3 && r.cursor != v)))
				abort();
			break;
		case 4:	/* receive */
			if (size - pos < 3)
				goto out;
			v = r.received + (data[pos] & 1 ? data[pos + 1] : 0);
			len = data[pos + 2] * 300u;
			pos += 3;
			rc = ph_resume_receive(&r, v, len, &cause);
			if (rc == 0 && r.received != before.received + len)
				abort();
			break;
		}
		if (rc != 0) {
			if (cause == NULL)
				abort();
			free(cause);
			cause = NULL;
			snap_take(&r, &after);
			if (memcmp(&before, &after, sizeof before) != 0)
				abort();
		}
		check(&r, acked);
	}
out:
	ph_resume_clear(&r);
	return 0;
}
