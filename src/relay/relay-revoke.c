/*
 * relay-revoke.c - revocation for the fleet (relay-revoke.h).
 *
 * Where an entry lives:
 *   --redis   the sorted set ph:revoked (member the jti, score the Unix
 *             time the entry stops mattering) and the counter
 *             ph:revoked:gen, bumped by every change.  Every relay reads the
 *             counter once a second (RELAY_REVOKE_POLL_MS) and, when it
 *             moved, the set's live entries (at most PH_REVLIST_MAX); so a
 *             token revoked through one relay is refused by every relay
 *             within about a second, two when Redis is slow.  Polling, not
 *             pub/sub: a subscribed connection can send nothing else, and
 *             one GET a second per relay costs Redis nothing.
 *   without   a line "JTI EXP" appended to PORTHOLE_REVOKED (revoked.h),
 *             which the relay re-reads when it changes.
 * In both cases the entry also goes into this relay's own set at once.
 *
 * The set in memory is the union of everything this relay recorded or
 * read, each entry until its time: Redis is soft state here too.  When a
 * fetch lacks entries this relay holds (Redis restarted empty, or it
 * never got a revocation made while it was down), the relay writes them
 * back (ZADD GT) and bumps the counter, so a revocation outlives Redis as
 * long as one relay of the fleet does.  Nothing ever removes an entry
 * before its time: a revocation cannot be taken back, only outlived.
 *
 * An entry's time is when the token would have expired (`token revoke
 * TOKEN` sends its exp), and never further than the longest lifetime this
 * relay lets a token have (relay_revoke_bound; a kind without a limit
 * counts as RELAY_REVOKE_CAP_SECS), so the set cannot grow without bound:
 * it holds at most PH_REVLIST_MAX live entries, and a revocation beyond
 * that is refused (507) rather than any entry forgotten.
 *
 * Agents that announce PH_CAP_REVOKED get the whole list after `welcome`
 * and every new entry as it comes, in `revoked` control messages of at
 * most RELAY_REVOKE_CHUNK bytes of entries; entries of PORTHOLE_REVOKED
 * without a time go with relay_revoke_bound from now.  An agent only adds
 * what it is pushed (docs/protocol.md, "revoked").
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "porthole/frame.h"
#include "porthole/log.h"
#include "porthole/ops.h"
#include "porthole/util.h"
#include "relay.h"
#include "relay-agent.h"
#include "relay-redis.h"
#include "relay-revoke.h"

#define R (&relay.revoke)

#define REVOKE_KEY	"ph:revoked"
#define REVOKE_GEN_KEY	"ph:revoked:gen"
#define REVOKE_WRITEBACK_BATCH	256	/* entries per ZADD written back */

void
relay_revoke_init(void)
{
	ph_revlist_init(&R->list, PH_REVLIST_MAX);
	R->gen = -1;
}

void
relay_revoke_free(void)
{
	ph_revlist_free(&R->list);
}

int
relay_revoke_has(const char *jti)
{
	return ph_revlist_has(&R->list, jti, ph_now());
}

int64_t
relay_revoke_bound(void)
{
	static const char *kinds[] = { "client", "agent", "relay" };
	int64_t	max = 0, l;
	size_t	i;

	for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		l = ph_lifetime_max(&relay.lifetime, kinds[i]);
		if (l <= 0 || l > RELAY_REVOKE_CAP_SECS)
			return RELAY_REVOKE_CAP_SECS;
		if (l > max)
			max = l;
	}
	return max;
}

/* ---- pushing to agents ------------------------------------------------ */

/* `revoked` messages being built: entries up to RELAY_REVOKE_CHUNK bytes each. */
struct revoke_batch {
	struct relay_agent	*to;		/* NULL: every agent that takes them */
	json_t			*entries;
	size_t			 bytes;
	size_t			 sent;		/* entries */
};

static int
revoke_takes(const struct relay_agent *a)
{
	return relay_agent_ready(a) && relay_agent_has_cap(a, PH_CAP_REVOKED);
}

static void
revoke_send_one(struct relay_agent *a, void *arg)
{
	json_t *msg = arg;

	if (!revoke_takes(a))
		return;
	if (relay_agent_send(a, msg) != 0)
		ph_warn("revocation: no room to push %zu entries to agent %s",
		    json_object_size(json_object_get(msg, "entries")), relay_agent_id(a));
	else
		R->pushed++;
}

static void
revoke_batch_flush(struct revoke_batch *b)
{
	json_t *msg;

	if (b->entries == NULL || json_object_size(b->entries) == 0)
		return;
	msg = ph_ctl_new(PH_CTL_REVOKED);
	if (msg != NULL && json_object_set_new(msg, "entries", b->entries) == 0) {
		b->sent += json_object_size(b->entries);
		if (b->to != NULL)
			revoke_send_one(b->to, msg);
		else
			relay_agents_each(revoke_send_one, msg);
	} else
		json_decref(b->entries);
	json_decref(msg);
	b->entries = NULL;
	b->bytes = 0;
}

static void
revoke_batch_add(struct revoke_batch *b, const char *jti, int64_t exp)
{
	size_t need = strlen(jti) + 24;

	if (b->entries != NULL && b->bytes + need > RELAY_REVOKE_CHUNK)
		revoke_batch_flush(b);
	if (b->entries == NULL && (b->entries = json_object()) == NULL)
		return;
	if (json_object_set_new(b->entries, jti, json_integer(exp)) == 0)
		b->bytes += need;
}

/* Every entry held (and PORTHOLE_REVOKED's) into b, flushed. */
static void
revoke_push_all(struct revoke_batch *b)
{
	const struct ph_revlist *f = &relay.revoked.list;
	int64_t now = ph_now(), far = now + relay_revoke_bound();
	size_t i;

	for (i = 0; i < R->list.n; i++) {
		if (R->list.v[i].exp > now)
			revoke_batch_add(b, R->list.v[i].jti, R->list.v[i].exp);
	}
	for (i = 0; i < f->n; i++) {
		if (f->v[i].exp == 0 || f->v[i].exp > now)
			revoke_batch_add(b, f->v[i].jti, f->v[i].exp == 0 ? far :
			    f->v[i].exp);
	}
	revoke_batch_flush(b);
}

void
relay_revoke_welcome(struct relay_agent *a)
{
	struct revoke_batch b = { .to = a };

	if (!revoke_takes(a))
		return;
	revoke_push_all(&b);
	if (b.sent > 0)
		ph_debug("revocation: %zu entries pushed to agent %s", b.sent,
		    relay_agent_id(a));
}

/* ---- recording ---------------------------------------------------------- */

/* Append "JTI EXP" to PORTHOLE_REVOKED (a small write: O_APPEND, one call). */
static int
revoke_file_append(const char *jti, int64_t exp, char **cause)
{
	char *line;
	ssize_t n;
	int fd;

	if ((fd = open(relay.revoked.path, O_WRONLY | O_APPEND | O_CLOEXEC)) < 0) {
		*cause = ph_asprintf("cannot open the revocation list %s: %s",
		    relay.revoked.path, strerror(errno));
		return -1;
	}
	line = ph_asprintf("%s %lld\n", jti, (long long)exp);
	n = line != NULL ? write(fd, line, strlen(line)) : -1;
	if (line == NULL || n != (ssize_t)strlen(line)) {
		*cause = ph_asprintf("cannot append to the revocation list %s: %s",
		    relay.revoked.path, n < 0 ? strerror(errno) : "short write");
		free(line);
		close(fd);
		return -1;
	}
	free(line);
	if (close(fd) != 0) {
		*cause = ph_asprintf("cannot write the revocation list %s: %s",
		    relay.revoked.path, strerror(errno));
		return -1;
	}
	return 0;
}

/* ZADD GT of one entry, and the counter bumped (the other relays fetch). */
static int
revoke_redis_write(const char *jti, int64_t exp)
{
	char score[24];

	snprintf(score, sizeof score, "%lld", (long long)exp);
	if (relay_redis_cmdv(NULL, NULL, "ZADD", REVOKE_KEY, "GT", score, jti, NULL) != 0)
		return -1;
	return relay_redis_cmdv(NULL, NULL, "INCR", REVOKE_GEN_KEY, NULL);
}

int
relay_revoke_record(const char *jti, int64_t until, int64_t *at, const char **where,
    int *status, char **cause)
{
	struct revoke_batch b = { 0 };
	int64_t now = ph_now(), bound = now + relay_revoke_bound();
	char *why = NULL;
	int r;

	*status = 500;
	if (!relay_redis_on() && relay.revoked.path == NULL) {
		*status = 409;
		*cause = ph_asprintf("this relay keeps no revocation list: start it "
		    "with --redis (a fleet) or PORTHOLE_REVOKED=FILE");
		return -1;
	}
	if (until <= 0 || until > bound)
		until = bound;
	if (until <= now) {
		*status = 400;
		*cause = ph_asprintf("the token has expired already (until %lld): "
		    "nothing to revoke", (long long)until);
		return -1;
	}
	if ((r = ph_revlist_add(&R->list, jti, until, now, &why)) < 0) {
		*status = 507;
		*cause = why;
		return -1;
	}
	if (relay_redis_on()) {
		*where = "redis";
		/*
		 * Redis down: this relay refuses the token now, and writes the
		 * entry back (with the rest) once the link is up and a fetch
		 * shows Redis lacks it.
		 */
		if (revoke_redis_write(jti, until) != 0)
			ph_warn("revocation of %s: Redis is not there now; written when "
			    "it is back", jti);
	} else {
		*where = "file";
		if (revoke_file_append(jti, until, cause) != 0)
			return -1;
	}
	R->recorded++;
	*at = until;
	if (r > 0) {
		revoke_batch_add(&b, jti, until);
		revoke_batch_flush(&b);
	}
	return 0;
}

/* ---- the poll ------------------------------------------------------------ */

/* Entries this relay holds that the fetched set lacks: written back. */
static void
revoke_writeback(const struct ph_revlist *fetched)
{
	const char *argv[3 + 2 * REVOKE_WRITEBACK_BATCH];
	char scores[REVOKE_WRITEBACK_BATCH][24];
	int64_t now = ph_now();
	size_t i, k = 0, total = 0;
	int argc;

	for (i = 0; i <= R->list.n; i++) {
		if (i < R->list.n) {
			if (R->list.v[i].exp <= now ||
			    ph_revlist_has(fetched, R->list.v[i].jti, now))
				continue;
			snprintf(scores[k], sizeof scores[k], "%lld",
			    (long long)R->list.v[i].exp);
			argv[3 + 2 * k] = scores[k];
			argv[4 + 2 * k] = R->list.v[i].jti;
			k++;
			if (k < REVOKE_WRITEBACK_BATCH)
				continue;
		}
		if (k == 0)
			break;
		argv[0] = "ZADD";
		argv[1] = REVOKE_KEY;
		argv[2] = "GT";
		argc = 3 + 2 * (int)k;
		if (relay_redis_cmd(NULL, NULL, argc, argv, NULL) != 0)
			return;
		total += k;
		k = 0;
	}
	if (total == 0)
		return;
	ph_info("revocation: Redis lacked %zu entries this relay holds: written again",
	    total);
	R->writebacks += total;
	relay_redis_cmdv(NULL, NULL, "INCR", REVOKE_GEN_KEY, NULL);
}

/* The set's live entries: merged in, new ones pushed, missing ones written back. */
static void
revoke_fetched(struct relay_reply *rp, void *arg)
{
	struct revoke_batch b = { 0 };
	struct ph_revlist fetched;
	struct relay_reply *m, *s;
	int64_t now = ph_now(), bound = now + relay_revoke_bound(), exp;
	char *why = NULL;
	size_t i;
	int r, full = 0;

	(void)arg;
	R->polling = 0;
	if (rp == NULL || rp->type != RELAY_REPLY_ARRAY) {
		if (rp != NULL && rp->type == RELAY_REPLY_ERROR)
			ph_warn("revocation: reading %s failed: %.200s", REVOKE_KEY, rp->str);
		R->gen = -1;	/* read again next time */
		return;
	}
	ph_revlist_init(&fetched, SIZE_MAX);
	for (i = 0; i + 1 < rp->n; i += 2) {
		m = rp->elem[i];
		s = rp->elem[i + 1];
		if (m == NULL || s == NULL || m->type != RELAY_REPLY_STRING ||
		    s->type != RELAY_REPLY_STRING || strlen(m->str) != m->len)
			continue;
		exp = strtoll(s->str, NULL, 10);
		if (exp > bound)
			exp = bound;	/* never further than this relay would write */
		if (ph_revlist_add(&fetched, m->str, exp, now, &why) < 0) {
			free(why);
			why = NULL;
			continue;
		}
		r = ph_revlist_add(&R->list, m->str, exp, now, &why);
		if (r < 0) {
			if (!full)
				ph_warn("revocation: %s: the rest of %s is not taken", why,
				    REVOKE_KEY);
			full = 1;
			free(why);
			why = NULL;
		} else if (r > 0)
			revoke_batch_add(&b, m->str, exp);
	}
	revoke_batch_flush(&b);
	if (b.sent > 0)
		ph_info("revocation: %zu new entries from Redis (%zu held)", b.sent,
		    R->list.n);
	revoke_writeback(&fetched);
	ph_revlist_free(&fetched);
}

/* ph:revoked:gen: when it moved (or is gone), fetch the set. */
static void
revoke_gen(struct relay_reply *rp, void *arg)
{
	char now[24], lim[24];
	long long gen;

	(void)arg;
	if (rp == NULL || (rp->type != RELAY_REPLY_STRING && rp->type != RELAY_REPLY_NIL)) {
		R->polling = 0;
		return;
	}
	gen = rp->type == RELAY_REPLY_NIL ? 0 : strtoll(rp->str, NULL, 10);
	/* gone (0) while we hold entries: Redis restarted empty, fetch and write back */
	if (gen == R->gen && !(gen == 0 && R->list.n > 0)) {
		R->polling = 0;
		return;
	}
	R->gen = gen;
	snprintf(now, sizeof now, "(%lld", (long long)ph_now());
	snprintf(lim, sizeof lim, "%d", PH_REVLIST_MAX);
	relay_redis_cmdv(NULL, NULL, "ZREMRANGEBYSCORE", REVOKE_KEY, "-inf", now + 1, NULL);
	if (relay_redis_cmdv(revoke_fetched, NULL, "ZRANGEBYSCORE", REVOKE_KEY, now, "+inf",
	    "WITHSCORES", "LIMIT", "0", lim, NULL) != 0) {
		R->polling = 0;
		R->gen = -1;
	}
}

/* PORTHOLE_REVOKED changed: its entries to the agents (they add; dupes cost nothing). */
static void
revoke_file_refresh(void)
{
	struct revoke_batch b = { 0 };
	const struct ph_revlist *f = &relay.revoked.list;
	int64_t now = ph_now(), far = now + relay_revoke_bound();
	char *note = NULL;
	size_t i;
	int r;

	r = ph_revoked_refresh(&relay.revoked, &note);
	if (r < 0) {
		ph_warn("%s", note);
		free(note);
	}
	if (r <= 0)
		return;
	ph_info("revocation list %s re-read: %zu token ids", relay.revoked.path,
	    relay.revoked.n);
	for (i = 0; i < f->n; i++) {
		if (f->v[i].exp == 0 || f->v[i].exp > now)
			revoke_batch_add(&b, f->v[i].jti, f->v[i].exp == 0 ? far :
			    f->v[i].exp);
	}
	revoke_batch_flush(&b);
}

void
relay_revoke_tick(int64_t now_ms)
{
	if (now_ms - R->poll_ms < RELAY_REVOKE_POLL_MS)
		return;
	R->poll_ms = now_ms;
	revoke_file_refresh();
	ph_revlist_prune(&R->list, ph_now());
	if (!relay_redis_up()) {
		R->polling = 0;
		R->gen = -1;	/* read everything once it is back */
		return;
	}
	if (R->polling)
		return;
	R->polling = 1;
	if (relay_redis_cmdv(revoke_gen, NULL, "GET", REVOKE_GEN_KEY, NULL) != 0)
		R->polling = 0;
}
