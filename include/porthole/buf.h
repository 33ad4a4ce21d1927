/*
 * buf.h - the two bounded buffers every data path in porthole goes through.
 *
 * struct ph_msgbuf reassembles one WebSocket message from the fragments
 * libwebsockets delivers, up to a hard cap (PH_MAX_MESSAGE); a peer that
 * overruns the cap gets PH_CLOSE_TOO_BIG, never more memory.
 *
 * struct ph_queue is an outgoing queue of whole messages, each allocated with
 * PH_HEADROOM bytes in front for lws_write().  It counts queued bytes and
 * reports when they pass its high mark (stop reading the source) and fall
 * below its low mark (read again).  A push beyond the hard limit fails: the
 * caller has a flow-control bug and must close the channel.
 */
#ifndef PORTHOLE_BUF_H
#define PORTHOLE_BUF_H

#include <stddef.h>
#include <stdint.h>

struct ph_msgbuf {
	uint8_t	*data;		/* PH_HEADROOM bytes, then the message */
	size_t	 len;
	size_t	 cap;		/* hard cap on len */
};

void	ph_msgbuf_init(struct ph_msgbuf *mb, size_t cap);
/* Append a fragment; -1 if the message would pass the cap (nothing appended). */
int	ph_msgbuf_add(struct ph_msgbuf *mb, const void *p, size_t n);
const uint8_t *ph_msgbuf_msg(const struct ph_msgbuf *mb);
void	ph_msgbuf_reset(struct ph_msgbuf *mb);	/* keep memory, forget data */
void	ph_msgbuf_free(struct ph_msgbuf *mb);

struct ph_qitem {
	struct ph_qitem	*next;
	size_t		 len;		/* bytes of message after the headroom */
	int		 binary;	/* always 1 for ws messages; 0 for raw fds */
	size_t		 off;		/* for raw fds: bytes already written */
	uint8_t		 data[];	/* PH_HEADROOM + len */
};

struct ph_queue {
	struct ph_qitem	*head, *tail;
	size_t		 bytes;		/* sum of len of queued items */
	size_t		 count;
	size_t		 high, low, limit;
	size_t		 peak;		/* high-water mark of bytes */
};

void	ph_queue_init(struct ph_queue *q, size_t low, size_t high, size_t limit);
/* Copy a message (type byte prepended when type >= 0) to the tail; -1 past limit or ENOMEM. */
int	ph_queue_push(struct ph_queue *q, int type, const void *p, size_t n);
/* Take ownership of an item allocated by ph_qitem_new (headroom included). */
int	ph_queue_push_item(struct ph_queue *q, struct ph_qitem *it);
struct ph_qitem *ph_qitem_new(size_t len);
struct ph_qitem *ph_queue_peek(const struct ph_queue *q);
/* Unlink and free the head. */
void	ph_queue_pop(struct ph_queue *q);
int	ph_queue_over_high(const struct ph_queue *q);
int	ph_queue_under_low(const struct ph_queue *q);
void	ph_queue_free(struct ph_queue *q);

#endif
