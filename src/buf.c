/*
 * buf.c - bounded message reassembly (ph_msgbuf) and bounded outgoing
 * queues (ph_queue).  See buf.h for the contract.  Nothing here grows past
 * the caps the caller set: a push or add that would is refused with -1 and
 * the caller closes the channel.
 */
#include <stdlib.h>
#include <string.h>

#include "porthole/buf.h"
#include "porthole/frame.h"

void
ph_msgbuf_init(struct ph_msgbuf *mb, size_t cap)
{
	mb->data = NULL;
	mb->len = 0;
	mb->cap = cap;
}

int
ph_msgbuf_add(struct ph_msgbuf *mb, const void *p, size_t n)
{
	if (n > mb->cap || mb->len > mb->cap - n)
		return -1;
	if (mb->data == NULL) {
		/* Allocate the cap once: reassembly never reallocates. */
		mb->data = malloc(PH_HEADROOM + mb->cap);
		if (mb->data == NULL)
			return -1;
	}
	if (n > 0)
		memcpy(mb->data + PH_HEADROOM + mb->len, p, n);
	mb->len += n;
	return 0;
}

const uint8_t *
ph_msgbuf_msg(const struct ph_msgbuf *mb)
{
	return mb->data == NULL ? (const uint8_t *)"" : mb->data + PH_HEADROOM;
}

void
ph_msgbuf_reset(struct ph_msgbuf *mb)
{
	mb->len = 0;
}

void
ph_msgbuf_free(struct ph_msgbuf *mb)
{
	free(mb->data);
	mb->data = NULL;
	mb->len = 0;
}

void
ph_queue_init(struct ph_queue *q, size_t low, size_t high, size_t limit)
{
	memset(q, 0, sizeof *q);
	q->low = low;
	q->high = high;
	q->limit = limit;
}

struct ph_qitem *
ph_qitem_new(size_t len)
{
	struct ph_qitem *it;

	it = malloc(sizeof *it + PH_HEADROOM + len);
	if (it == NULL)
		return NULL;
	it->next = NULL;
	it->len = len;
	it->binary = 1;
	it->off = 0;
	return it;
}

int
ph_queue_push_item(struct ph_queue *q, struct ph_qitem *it)
{
	if (q->bytes + it->len > q->limit) {
		free(it);
		return -1;
	}
	it->next = NULL;
	if (q->tail != NULL)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	q->bytes += it->len;
	q->count++;
	if (q->bytes > q->peak)
		q->peak = q->bytes;
	return 0;
}

int
ph_queue_push(struct ph_queue *q, int type, const void *p, size_t n)
{
	struct ph_qitem *it;
	size_t hdr = type >= 0 ? 1 : 0;

	if (n > q->limit || q->bytes + n + hdr > q->limit)
		return -1;
	if ((it = ph_qitem_new(n + hdr)) == NULL)
		return -1;
	if (hdr)
		it->data[PH_HEADROOM] = (uint8_t)type;
	if (n > 0)
		memcpy(it->data + PH_HEADROOM + hdr, p, n);
	return ph_queue_push_item(q, it);
}

struct ph_qitem *
ph_queue_peek(const struct ph_queue *q)
{
	return q->head;
}

void
ph_queue_pop(struct ph_queue *q)
{
	struct ph_qitem *it = q->head;

	if (it == NULL)
		return;
	q->head = it->next;
	if (q->head == NULL)
		q->tail = NULL;
	q->bytes -= it->len;
	q->count--;
	free(it);
}

int
ph_queue_over_high(const struct ph_queue *q)
{
	return q->bytes >= q->high;
}

int
ph_queue_under_low(const struct ph_queue *q)
{
	return q->bytes <= q->low;
}

void
ph_queue_free(struct ph_queue *q)
{
	while (q->head != NULL)
		ph_queue_pop(q);
}
