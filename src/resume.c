/*
 * resume.c - offsets, acknowledgements and the bounded buffer of what was
 * sent and not yet acknowledged (resume.h says what each call promises).
 *
 * The messages held are a FIFO from the oldest unacknowledged one (at
 * `acked`) to the newest (ending at `sent`); `next` marks the first not yet
 * transmitted on the current connection.  An acknowledgement frees from
 * the head; a rewind after a reconnect frees up to the peer's offset and
 * points `next` back at the head.  Every offset handed in is checked to
 * fall on a message boundary inside what is held before anything changes,
 * so a refused call leaves the buffer as it was.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/duration.h"
#include "porthole/resume.h"
#include "porthole/util.h"

static size_t
msg_cost(size_t len)
{
	return len + PH_RESUME_MSG_OVERHEAD;
}

int
ph_resume_init(struct ph_resume *r, size_t limit, char **cause)
{
	memset(r, 0, sizeof *r);
	if (limit == 0)
		limit = PH_RESUME_BUF_DEFAULT;
	if (limit > PH_RESUME_BUF_MAX) {
		*cause = ph_asprintf("a resume buffer of %zu bytes is over the "
		    "maximum of %zu (64 MiB)", limit, PH_RESUME_BUF_MAX);
		return -1;
	}
	if (limit < PH_RESUME_BUF_MIN) {
		*cause = ph_asprintf("a resume buffer of %zu bytes is under the "
		    "minimum of %zu (two largest messages)", limit,
		    (size_t)PH_RESUME_BUF_MIN);
		return -1;
	}
	r->limit = limit;
	return 0;
}

void
ph_resume_clear(struct ph_resume *r)
{
	struct ph_resume_msg	*m, *n;

	for (m = r->head; m != NULL; m = n) {
		n = m->link;
		free(m);
	}
	r->head = r->tail = r->next = NULL;
	r->held = 0;
	r->count = 0;
}

size_t
ph_resume_room(const struct ph_resume *r)
{
	size_t	free_bytes;

	if (r->held + PH_RESUME_MSG_OVERHEAD >= r->limit)
		return 0;
	free_bytes = r->limit - r->held - PH_RESUME_MSG_OVERHEAD;
	return free_bytes > PH_RESUME_MSG_MAX ? PH_RESUME_MSG_MAX : free_bytes;
}

int
ph_resume_full(const struct ph_resume *r)
{
	return ph_resume_room(r) < PH_RESUME_MSG_MAX;
}

struct ph_resume_msg *
ph_resume_reserve(const struct ph_resume *r, size_t len, char **cause)
{
	struct ph_resume_msg	*m;

	if (len == 0 || len > PH_RESUME_MSG_MAX) {
		*cause = ph_asprintf("a message of %zu bytes cannot be kept for "
		    "resume (1 to %d)", len, PH_RESUME_MSG_MAX);
		return NULL;
	}
	if (len > ph_resume_room(r)) {
		*cause = ph_asprintf("the resume buffer is full (%zu of %zu "
		    "bytes unacknowledged): stop reading until the peer "
		    "acknowledges", r->held, r->limit);
		return NULL;
	}
	if ((m = malloc(sizeof *m + len)) == NULL) {
		*cause = ph_asprintf("out of memory");
		return NULL;
	}
	m->link = NULL;
	m->len = len;
	return m;
}

void
ph_resume_keep(struct ph_resume *r, struct ph_resume_msg *m, uint64_t *off)
{
	m->link = NULL;
	m->off = r->sent;
	if (r->tail != NULL)
		r->tail->link = m;
	else
		r->head = m;
	r->tail = m;
	if (r->next == NULL)
		r->next = m;
	r->held += msg_cost(m->len);
	r->count++;
	if (off != NULL)
		*off = r->sent;
	r->sent += m->len;
}

int
ph_resume_push(struct ph_resume *r, const void *msg, size_t len, uint64_t *off,
    char **cause)
{
	struct ph_resume_msg	*m;

	if ((m = ph_resume_reserve(r, len, cause)) == NULL)
		return -1;
	memcpy(m->data, msg, len);
	ph_resume_keep(r, m, off);
	return 0;
}

int
ph_resume_next(struct ph_resume *r, const uint8_t **msg, size_t *len,
    uint64_t *off)
{
	struct ph_resume_msg	*m = r->next;

	if (m == NULL)
		return 0;
	*msg = m->data;
	*len = m->len;
	*off = m->off;
	r->next = m->link;
	r->cursor = m->off + m->len;
	if (r->cursor > r->high)
		r->high = r->cursor;
	return 1;
}

/* Is off the start of a held message, or the end of the last one? */
static int
resume_boundary(const struct ph_resume *r, uint64_t off)
{
	const struct ph_resume_msg	*m;

	if (off == r->sent)
		return 1;
	for (m = r->head; m != NULL && m->off <= off; m = m->link) {
		if (m->off == off)
			return 1;
	}
	return 0;
}

/* Free the messages before off (a checked boundary). */
static void
resume_drop(struct ph_resume *r, uint64_t off)
{
	struct ph_resume_msg	*m;

	while ((m = r->head) != NULL && m->off + m->len <= off) {
		r->head = m->link;
		if (r->next == m)
			r->next = m->link;
		r->held -= msg_cost(m->len);
		r->count--;
		free(m);
	}
	if (r->head == NULL)
		r->tail = NULL;
	r->acked = off;
}

int
ph_resume_ack(struct ph_resume *r, uint64_t ack, char **cause)
{
	if (ack < r->acked) {
		*cause = ph_asprintf("the peer acknowledges %llu bytes after "
		    "acknowledging %llu: acknowledgements never go back",
		    (unsigned long long)ack, (unsigned long long)r->acked);
		return -1;
	}
	if (ack > r->cursor) {
		*cause = ph_asprintf("the peer acknowledges %llu bytes, but only "
		    "%llu were transmitted", (unsigned long long)ack,
		    (unsigned long long)r->cursor);
		return -1;
	}
	if (!resume_boundary(r, ack)) {
		*cause = ph_asprintf("the peer acknowledges %llu bytes, which "
		    "ends inside a message", (unsigned long long)ack);
		return -1;
	}
	resume_drop(r, ack);
	return 0;
}

int
ph_resume_rewind(struct ph_resume *r, uint64_t received, char **cause)
{
	if (received < r->acked) {
		*cause = ph_asprintf("the session cannot resume: the peer has "
		    "%llu bytes, but it acknowledged %llu before and those are "
		    "no longer held", (unsigned long long)received,
		    (unsigned long long)r->acked);
		return -1;
	}
	if (received > r->high) {
		*cause = ph_asprintf("the session cannot resume: the peer says "
		    "it has %llu bytes, but only %llu were sent",
		    (unsigned long long)received, (unsigned long long)r->high);
		return -1;
	}
	if (!resume_boundary(r, received)) {
		*cause = ph_asprintf("the session cannot resume: the peer's "
		    "offset %llu falls inside a message",
		    (unsigned long long)received);
		return -1;
	}
	resume_drop(r, received);
	r->next = r->head;
	r->cursor = received;
	return 0;
}

int
ph_resume_receive(struct ph_resume *r, uint64_t off, size_t len, char **cause)
{
	if (off != r->received) {
		*cause = ph_asprintf("a message at byte %llu came where byte "
		    "%llu was expected: %s", (unsigned long long)off,
		    (unsigned long long)r->received, off < r->received ?
		    "it was received before" : "bytes are missing before it");
		return -1;
	}
	if (len == 0 || len > PH_RESUME_MSG_MAX) {
		*cause = ph_asprintf("a message of %zu bytes is out of bounds",
		    len);
		return -1;
	}
	r->received += len;
	return 0;
}

uint64_t
ph_resume_unacked(const struct ph_resume *r)
{
	return r->received - r->ack_sent;
}

uint64_t
ph_resume_ack_take(struct ph_resume *r)
{
	r->ack_sent = r->received;
	return r->received;
}

int
ph_resume_settings(const char *flag, int64_t *timeout_ms, size_t *soft,
    size_t *hard, char **cause)
{
	const char		*t = flag;
	const char		*b = getenv("PORTHOLE_RESUME_BUFFER");
	char			*end, *why = NULL;
	unsigned long long	 v;

	if (t == NULL)
		t = getenv("PORTHOLE_RESUME_TIMEOUT");
	*timeout_ms = PH_RESUME_TIMEOUT_DEFAULT_MS;
	*soft = PH_RESUME_BUF_DEFAULT;
	if (t != NULL && *t != '\0') {
		if (strcmp(t, "0") == 0)
			*timeout_ms = 0;
		else if (ph_duration_parse(t, timeout_ms, &why) != 0 ||
		    *timeout_ms <= 0 || *timeout_ms > PH_RESUME_TIMEOUT_MAX_MS) {
			if (flag != NULL)
				*cause = ph_asprintf("--resume %s: a duration from 1s to "
				    "24h, or 0 for none (%s)", flag, why != NULL ? why :
				    "out of range");
			else
				*cause = ph_asprintf("PORTHOLE_RESUME_TIMEOUT wants a "
				    "duration from 1s to 24h, or 0 for none (%s)",
				    why != NULL ? why : "out of range");
			free(why);
			return -1;
		}
	}
	if (b != NULL && *b != '\0') {
		errno = 0;
		v = strtoull(b, &end, 10);
		if (*end == 'K' || *end == 'k')
			v <<= 10, end++;
		else if (*end == 'M' || *end == 'm')
			v <<= 20, end++;
		else if (*end == 'G' || *end == 'g')
			v <<= 30, end++;
		if (*end == 'i' && end[1] == 'B')
			end += 2;
		if (errno != 0 || *end != '\0' || end == b ||
		    v < PH_RESUME_SETTING_MIN || v > PH_RESUME_BUF_MAX) {
			*cause = ph_asprintf("PORTHOLE_RESUME_BUFFER wants a size from "
			    "1M to 64M (bytes, or with K, M or G)");
			return -1;
		}
		*soft = (size_t)v;
	}
	/* Room past the stop for what still arrives, within the maximum. */
	if (*soft > PH_RESUME_BUF_MAX - PH_RESUME_SLACK)
		*soft = PH_RESUME_BUF_MAX - PH_RESUME_SLACK;
	*hard = *soft + PH_RESUME_SLACK;
	return 0;
}
