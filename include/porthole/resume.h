/*
 * resume.h - the bookkeeping that lets one direction of a session go on
 * after its connection drops: byte offsets and acknowledgements, and a
 * bounded buffer of what was sent and not yet acknowledged, from which the
 * sender retransmits after a reconnect.  Pure: no sockets, no clock, no
 * keys.  The protocol is docs/protocol.md, "Resume"; the CLI
 * (client-session.c) and the agent (agent-seal.c) keep their records here.
 *
 * Offsets count the bytes of whole messages (sealed records, seal.h): the
 * first message of a direction starts at 0, each next one where the one
 * before ended, so every acknowledgement and every resume point falls on a
 * message boundary.  One struct ph_resume serves one end of a session for
 * both directions: the sending half holds what this end sent, the receiving
 * half counts what it received.
 *
 * Sending: ph_resume_push() keeps a copy of each message before it goes
 * out; ph_resume_next() hands out the next message to transmit;
 * ph_resume_ack() drops what the peer acknowledged.  The buffer holds at
 * most `limit` bytes (each message counted with PH_RESUME_MSG_OVERHEAD of
 * bookkeeping): ph_resume_full() says when one more largest message would
 * not fit, and the caller must stop reading its source (pty, pipe, file)
 * until an acknowledgement makes room.  A push that does not fit is
 * refused, never dropped: backpressure, never loss.
 * After a reconnect, ph_resume_rewind() takes the offset the peer says it
 * has received and transmission starts again from there; an offset the
 * buffer no longer holds (already acknowledged, so dropped), one past what
 * was sent, or one inside a message is refused: the session cannot resume.
 *
 * Receiving: ph_resume_receive() checks each message arrives at the offset
 * expected and counts it; ph_resume_ack_take() is the offset to
 * acknowledge.
 *
 * The settings both ends read (ph_resume_settings): how long a session
 * waits for its peer to come back (PORTHOLE_RESUME_TIMEOUT; 0: sessions
 * do not resume; unset: PH_RESUME_TIMEOUT_DEFAULT_MS) and how much a
 * sender keeps unacknowledged before it stops reading its source
 * (PORTHOLE_RESUME_BUFFER, default 4 MiB, 1 to 64 MiB).  The buffer itself
 * is made PH_RESUME_SLACK larger (up to PH_RESUME_BUF_MAX) for what
 * arrives after the stop: a closing pipe's last bytes, a few control
 * messages.
 *
 * Errors: -1 with *cause (malloc'd).
 */
#ifndef PORTHOLE_RESUME_H
#define PORTHOLE_RESUME_H

#include <stddef.h>
#include <stdint.h>

#include "porthole/protocol.h"

#define PH_RESUME_BUF_DEFAULT	((size_t)4 << 20)	/* per session */
#define PH_RESUME_BUF_MAX	((size_t)64 << 20)
/* Each message held counts this much beyond its bytes (its bookkeeping). */
#define PH_RESUME_MSG_OVERHEAD	64
/* The largest message, and the smallest buffer: room for two of them. */
#define PH_RESUME_MSG_MAX	PH_MAX_MESSAGE
#define PH_RESUME_BUF_MIN	(2 * (PH_RESUME_MSG_MAX + PH_RESUME_MSG_OVERHEAD))

/*
 * On by default, on the agent and the CLI both (docs/operations.md,
 * "Resume"): 5 minutes; PORTHOLE_RESUME_TIMEOUT=0 (or the CLI's
 * --resume 0) turns it off.
 */
#define PH_RESUME_TIMEOUT_DEFAULT_MS	(5 * 60 * 1000LL)
#define PH_RESUME_TIMEOUT_MAX_MS	(24 * 60 * 60 * 1000LL)
#define PH_RESUME_SETTING_MIN		((size_t)1 << 20)
#define PH_RESUME_SLACK			((size_t)4 << 20)

/* One message held: a FIFO from the oldest (at acked) to the newest. */
struct ph_resume_msg {
	struct ph_resume_msg	*link;		/* the next newer message */
	uint64_t		 off;		/* where it starts */
	size_t			 len;
	uint8_t			 data[];
};

struct ph_resume {
	/* Sending half. */
	size_t			 limit;		/* most bytes held, overhead included */
	size_t			 held;		/* bytes held now, overhead included */
	size_t			 count;		/* messages held */
	uint64_t		 sent;		/* offset after the last message pushed */
	uint64_t		 acked;		/* the peer has every byte before this */
	uint64_t		 cursor;	/* offset of the next message to transmit */
	uint64_t		 high;		/* the most ever transmitted */
	struct ph_resume_msg	*head;		/* oldest held: starts at acked */
	struct ph_resume_msg	*tail;		/* newest held: ends at sent */
	struct ph_resume_msg	*next;		/* the one at cursor; NULL: all out */
	/* Receiving half. */
	uint64_t		 received;	/* offset after the last message received */
	uint64_t		 ack_sent;	/* the last acknowledgement taken */
};

/*
 * Start empty with a buffer of limit bytes (0: PH_RESUME_BUF_DEFAULT);
 * a limit under PH_RESUME_BUF_MIN or over PH_RESUME_BUF_MAX is refused.
 */
int		 ph_resume_init(struct ph_resume *r, size_t limit, char **cause);
/* Free every message held; the struct may be initialised again. */
void		 ph_resume_clear(struct ph_resume *r);

/* 1 when a message of PH_RESUME_MSG_MAX bytes would not fit: stop reading. */
int		 ph_resume_full(const struct ph_resume *r);
/* The longest message that fits now (0 when none does). */
size_t		 ph_resume_room(const struct ph_resume *r);
/*
 * Keep a copy of a message (1 to PH_RESUME_MSG_MAX bytes) about to be sent,
 * at offset *off (may be NULL): the sent offset before it.  -1 when it does
 * not fit (nothing is kept: the caller still has it) or is of no length.
 */
int		 ph_resume_push(struct ph_resume *r, const void *msg, size_t len,
		    uint64_t *off, char **cause);
/*
 * ph_resume_push() without the copy: room for a message of len bytes, which
 * the caller writes into m->data and then keeps with ph_resume_keep() before
 * anything else changes r (or frees with free(), and nothing was kept).
 * NULL with *cause when ph_resume_push() would refuse it.
 */
struct ph_resume_msg *ph_resume_reserve(const struct ph_resume *r, size_t len,
		    char **cause);
void		 ph_resume_keep(struct ph_resume *r, struct ph_resume_msg *m,
		    uint64_t *off);
/*
 * The next message to transmit: 1 with *msg, *len and *off (msg stays valid
 * until the message is acknowledged, the buffer rewound or cleared), and
 * the cursor moved past it; 0 when everything pushed is out.
 */
int		 ph_resume_next(struct ph_resume *r, const uint8_t **msg, size_t *len,
		    uint64_t *off);
/*
 * The peer acknowledges every byte before ack: the messages before it are
 * dropped.  Refused: an ack lower than one before, past what was
 * transmitted, or inside a message.
 */
int		 ph_resume_ack(struct ph_resume *r, uint64_t ack, char **cause);
/*
 * After a reconnect: the peer has received every byte before `received`
 * (and no more).  It counts as an acknowledgement, and transmission goes on
 * from there (ph_resume_next gives the messages after it again).  Refused,
 * with the session unable to resume: an offset before what was already
 * acknowledged (no longer held), past what was ever transmitted, or inside a message.
 */
int		 ph_resume_rewind(struct ph_resume *r, uint64_t received, char **cause);

/*
 * A message of len bytes from the peer, at offset off, passed every check
 * of its own (seal.h): it must start where the last one ended.
 */
int		 ph_resume_receive(struct ph_resume *r, uint64_t off, size_t len,
		    char **cause);
/* Bytes received since the last acknowledgement taken. */
uint64_t	 ph_resume_unacked(const struct ph_resume *r);
/* The offset to acknowledge now (the bytes received), noted as sent. */
uint64_t	 ph_resume_ack_take(struct ph_resume *r);

/*
 * PORTHOLE_RESUME_TIMEOUT (a duration, "0" for none; flag, the CLI's
 * --resume, in its place when not NULL) and
 * PORTHOLE_RESUME_BUFFER (bytes, with an optional K, M or G suffix of
 * 1024s) from the environment, or their defaults: *timeout_ms, *soft (stop
 * reading past it) and *hard (the buffer's limit for ph_resume_init).
 */
int		 ph_resume_settings(const char *flag, int64_t *timeout_ms, size_t *soft,
		    size_t *hard, char **cause);

#endif
