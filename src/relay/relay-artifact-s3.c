/*
 * relay-artifact-s3.c - the S3 backend of the artifact store
 * (relay-artifact.h): PORTHOLE_ARTIFACT_S3=s3://BUCKET/PREFIX (or
 * --artifact-s3), on libporthole_s3 (s3.h), whose worker thread does every
 * request; this file only moves bytes in and out of its bounded buffers on
 * the relay's loop and reacts to its wake-ups (relay_artifact_poll).
 *
 * Per artifact ID, under PREFIX: ID.zst, the bytes as uploaded, streamed
 * into a multipart upload as they arrive (one PUT when shorter than a
 * part), and ID.json, its metadata, a sidecar object written once the
 * bytes are complete in S3 (S3's own metadata would have to be known when
 * the upload starts, and size and sha256 are not): only an ID.json makes
 * an artifact, so a reader never sees half of one.  An upload the relay
 * gives up (the relay stops, S3 fails it) is aborted; one cut by its
 * agent is stored incomplete, as the directory backend does.  The bucket's
 * lifecycle rule (deploy/s3-artifacts-lifecycle.json) also aborts multipart uploads
 * left by a relay that died.
 *
 * Backpressure: a write the part buffers cannot take keeps the rest (at
 * most PEND_MAX bytes, a few messages lws had already read) and returns 1:
 * the agent's connection stops being read until the buffers have room.
 *
 * A fleet's relays share the bucket: sync lists PREFIX (ListObjectsV2) and
 * fetches the ID.json of every artifact it had not seen (a few at a time;
 * metadata never changes once written, so what was fetched is kept), and
 * the store's index becomes that.  Deletes remove ID.json first (the
 * artifact is gone for every relay), then ID.zst.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "porthole/log.h"
#include "porthole/protocol.h"
#include "porthole/s3.h"
#include "porthole/util.h"
#include "relay-artifact.h"

#define PEND_MAX	(4 * PH_MAX_MESSAGE)	/* held past full part buffers */
#define META_MAX	(64 * 1024)		/* an ID.json we read */
#define SYNC_GETS	4			/* ID.json fetched at once */
#define SYNC_MAX_KEYS	400000			/* objects a listing may hold */

struct s3_store;

enum wr_state { W_WRITING, W_FINISHING, W_META };

struct relay_artifact_wr {
	struct s3_store	*s;
	char		 id[RELAY_ARTIFACT_ID_LEN + 1];
	struct ph_s3_upload *up;
	relay_artifact_ev_fn *ev;
	void		*owner;
	uint8_t		*pend;		/* what the part buffers had no room for */
	size_t		 plen;
	int		 held;		/* the producer waits for READY */
	int		 told_failed;
	enum wr_state	 st;
	int		 finished;	/* ph_s3_upload_finish called */
	char		*meta;		/* ID.json's text, from commit */
	struct ph_s3_op	*put;
	struct relay_artifact_wr *next;
};

struct relay_artifact_rd {
	struct s3_store	*s;
	struct ph_s3_get *g;
	void		(*readable)(void *arg);
	void		*arg;
	int		 waiting;
	struct relay_artifact_rd *next;
};

/* One ID.json being fetched by a sync. */
struct meta_get {
	char		 id[RELAY_ARTIFACT_ID_LEN + 1];
	struct ph_s3_get *g;
	char		 buf[META_MAX];
	size_t		 len;
};

enum job_kind { J_SYNC, J_RM };

struct s3_job {
	enum job_kind	 kind;
	struct ph_s3_op	*op;
	/* J_SYNC */
	void		(*synced)(json_t *all, const char *err, void *arg);
	json_t		*all;		/* the result, growing */
	json_t		*todo;		/* ids whose ID.json is to fetch */
	json_t		*listed;	/* ids listed (to forget the others) */
	struct meta_get	 gets[SYNC_GETS];
	/* J_RM */
	char		 id[RELAY_ARTIFACT_ID_LEN + 1];
	int		 step;		/* 0: ID.json, 1: ID.zst */
	void		(*removed)(const char *err, void *arg);
	void		*arg;
	struct s3_job	*next;
};

struct s3_store {
	struct ph_s3_client *c;
	atomic_int	 woken;
	int64_t		 polled_ms;
	json_t		*cache;		/* id -> metadata read from ID.json */
	struct relay_artifact_wr *writers;
	struct relay_artifact_rd *readers;
	struct s3_job	*jobs;
};

static char *
key_of(const char *id, const char *ext)
{
	return ph_asprintf("%s%s", id, ext);
}

/* libporthole_s3's worker: something changed. */
static void
s3_wake(void *arg)
{
	struct s3_store *s = arg;

	atomic_store(&s->woken, 1);
	relay_artifact_wake();
}

static int
s3_open(const char *where, void **state, char **cause)
{
	struct s3_store	*s;
	struct ph_s3_config cfg;

	if ((s = calloc(1, sizeof *s)) == NULL || (s->cache = json_object()) == NULL) {
		free(s);
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	memset(&cfg, 0, sizeof cfg);
	cfg.url = where;
	cfg.wake = s3_wake;
	cfg.wake_arg = s;
	if ((s->c = ph_s3_client_new(&cfg, cause)) == NULL) {
		json_decref(s->cache);
		free(s);
		return -1;
	}
	*state = s;
	return 0;
}

/* The bucket is listed by the first sync, from the loop. */
static json_t *
s3_load(void *state, char **cause)
{
	json_t	*all = json_array();

	(void)state;
	if (all == NULL)
		*cause = ph_asprintf("out of memory");
	return all;
}

static struct relay_artifact_wr *
s3_create(void *state, const char *id, relay_artifact_ev_fn *ev, void *owner,
    char **cause)
{
	struct s3_store	*s = state;
	struct relay_artifact_wr *w;
	char		*key = key_of(id, ".zst");

	if (key == NULL || (w = calloc(1, sizeof *w)) == NULL) {
		free(key);
		*cause = ph_asprintf("out of memory");
		return NULL;
	}
	if ((w->up = ph_s3_upload_new(s->c, key, cause)) == NULL) {
		free(key);
		free(w);
		return NULL;
	}
	free(key);
	w->s = s;
	snprintf(w->id, sizeof w->id, "%s", id);
	w->ev = ev;
	w->owner = owner;
	w->next = s->writers;
	s->writers = w;
	return w;
}

static void
wr_free(struct relay_artifact_wr *w)
{
	struct relay_artifact_wr **pp;

	for (pp = &w->s->writers; *pp != NULL; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	ph_s3_upload_free(w->up);	/* aborts it unless completed */
	ph_s3_op_free(w->put);
	free(w->pend);
	free(w->meta);
	free(w);
}

static int
s3_write(struct relay_artifact_wr *w, const void *p, size_t n, char **cause)
{
	const uint8_t	*b = p;
	uint8_t		*np;
	size_t		 k;
	char		*err = NULL;

	if (ph_s3_upload_state(w->up, &err) == PH_S3_FAILED) {
		*cause = err;
		return -1;
	}
	if (w->plen == 0) {
		k = ph_s3_upload_write(w->up, b, n);
		b += k;
		n -= k;
		if (n == 0)
			return 0;
	}
	if (w->plen + n > PEND_MAX) {
		*cause = ph_asprintf("S3 is behind by more than %d bytes past the "
		    "part buffers", PEND_MAX);
		return -1;
	}
	if ((np = realloc(w->pend, w->plen + n)) == NULL) {
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	w->pend = np;
	memcpy(w->pend + w->plen, b, n);
	w->plen += n;
	w->held = 1;
	return 1;
}

static int
s3_commit(struct relay_artifact_wr *w, json_t *meta, char **cause)
{
	char	*err = NULL;

	if (ph_s3_upload_state(w->up, &err) == PH_S3_FAILED) {
		*cause = err;
		wr_free(w);
		return -1;
	}
	if ((w->meta = json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		*cause = ph_asprintf("out of memory");
		wr_free(w);
		return -1;
	}
	w->st = W_FINISHING;
	atomic_store(&w->s->woken, 1);		/* the next poll goes on */
	relay_artifact_wake();
	return 1;
}

static void
s3_abort(struct relay_artifact_wr *w)
{
	wr_free(w);
}

/* One writer's step; 1 when it is gone. */
static int	s3_remove(void *, const char *, void (*)(const char *, void *), void *,
		    char **);

static int
wr_poll(struct relay_artifact_wr *w)
{
	enum ph_s3_state st;
	char		*err = NULL, *key;
	size_t		 k;

	if (w->plen > 0) {
		k = ph_s3_upload_write(w->up, w->pend, w->plen);
		memmove(w->pend, w->pend + k, w->plen - k);
		w->plen -= k;
	}
	st = ph_s3_upload_state(w->up, &err);
	switch (w->st) {
	case W_WRITING:
		if (st == PH_S3_FAILED && !w->told_failed) {
			w->told_failed = 1;
			w->held = 0;
			w->ev(w->owner, RELAY_ARTIFACT_EV_FAILED, err);
		} else if (w->plen == 0 && w->held) {
			w->held = 0;
			w->ev(w->owner, RELAY_ARTIFACT_EV_READY, NULL);
		}
		free(err);
		return 0;
	case W_FINISHING:
		if (st == PH_S3_FAILED)
			break;
		if (w->plen > 0)
			return 0;
		if (!w->finished) {
			w->finished = 1;
			ph_s3_upload_finish(w->up);
			return 0;
		}
		if (st != PH_S3_DONE)
			return 0;
		if ((key = key_of(w->id, ".json")) == NULL)
			return 0;
		w->put = ph_s3_put_new(w->s->c, key, w->meta, strlen(w->meta),
		    "application/json", &err);
		free(key);
		if (w->put == NULL) {	/* as many operations as allowed: later */
			free(err);
			return 0;
		}
		w->st = W_META;
		return 0;
	case W_META:
		st = ph_s3_op_state(w->put, &err);
		if (st == PH_S3_RUNNING)
			return 0;
		if (st == PH_S3_DONE) {
			w->ev(w->owner, RELAY_ARTIFACT_EV_COMMITTED, NULL);
			wr_free(w);
			return 1;
		}
		break;
	}
	/* Failed: the bytes without their metadata are no artifact. */
	if (w->st == W_META) {
		char	*e2 = NULL;

		if (s3_remove(w->s, w->id, NULL, NULL, &e2) < 0) {
			ph_warn("artifact %s: cannot remove its bytes: %s", w->id, e2);
			free(e2);
		}
	}
	w->ev(w->owner, RELAY_ARTIFACT_EV_FAILED, err != NULL ? err : "S3 failed");
	free(err);
	wr_free(w);
	return 1;
}

static struct relay_artifact_rd *
s3_read_open(void *state, const char *id, void (*readable)(void *arg), void *arg,
    char **cause)
{
	struct s3_store	*s = state;
	struct relay_artifact_rd *r;
	char		*key = key_of(id, ".zst");

	if (key == NULL || (r = calloc(1, sizeof *r)) == NULL) {
		free(key);
		*cause = ph_asprintf("out of memory");
		return NULL;
	}
	if ((r->g = ph_s3_get_new(s->c, key, cause)) == NULL) {
		free(key);
		free(r);
		return NULL;
	}
	free(key);
	r->s = s;
	r->readable = readable;
	r->arg = arg;
	r->next = s->readers;
	s->readers = r;
	return r;
}

static ssize_t
s3_read(struct relay_artifact_rd *r, void *buf, size_t n)
{
	ssize_t	k = ph_s3_get_read(r->g, buf, n);
	char	*err = NULL;

	if (k >= 0)
		return k;
	if (errno == EAGAIN) {
		r->waiting = 1;
		return -2;
	}
	ph_s3_get_state(r->g, &err);
	ph_warn("artifact read: %s", err != NULL ? err : "S3 failed");
	free(err);
	return -1;
}

static void
s3_read_close(struct relay_artifact_rd *r)
{
	struct relay_artifact_rd **pp;

	for (pp = &r->s->readers; *pp != NULL; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	ph_s3_get_free(r->g);
	free(r);
}

static void
job_free(struct s3_store *s, struct s3_job *j)
{
	struct s3_job	**pp;
	int		 i;

	for (pp = &s->jobs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	ph_s3_op_free(j->op);
	for (i = 0; i < SYNC_GETS; i++)
		ph_s3_get_free(j->gets[i].g);
	json_decref(j->all);
	json_decref(j->todo);
	json_decref(j->listed);
	free(j);
}

/* Start deleting the job's next key. */
static int
rm_step(struct s3_job *j, struct s3_store *s, char **cause)
{
	char	*key = key_of(j->id, j->step == 0 ? ".json" : ".zst");

	ph_s3_op_free(j->op);
	j->op = key != NULL ? ph_s3_delete_new(s->c, key, cause) : NULL;
	free(key);
	return j->op != NULL ? 0 : -1;
}

static int
s3_remove(void *state, const char *id, void (*done)(const char *err, void *arg),
    void *arg, char **cause)
{
	struct s3_store	*s = state;
	struct s3_job	*j;

	if ((j = calloc(1, sizeof *j)) == NULL) {
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	j->kind = J_RM;
	snprintf(j->id, sizeof j->id, "%s", id);
	j->removed = done;
	j->arg = arg;
	j->next = s->jobs;
	s->jobs = j;
	if (rm_step(j, s, cause) != 0) {
		job_free(s, j);
		return -1;
	}
	return 1;
}

static int
s3_sync(void *state, void (*done)(json_t *all, const char *err, void *arg), void *arg,
    char **cause)
{
	struct s3_store	*s = state;
	struct s3_job	*j;

	(void)arg;
	if ((j = calloc(1, sizeof *j)) == NULL || (j->all = json_array()) == NULL ||
	    (j->todo = json_array()) == NULL || (j->listed = json_object()) == NULL) {
		if (j != NULL) {
			json_decref(j->all);
			json_decref(j->todo);
		}
		free(j);
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	j->kind = J_SYNC;
	j->synced = done;
	j->next = s->jobs;
	s->jobs = j;
	if ((j->op = ph_s3_list_new(s->c, "", 0, SYNC_MAX_KEYS, cause)) == NULL) {
		job_free(s, j);
		return -1;
	}
	return 1;
}

/* A listing is back: what is known goes in, the rest is to fetch. */
static void
sync_listed(struct s3_store *s, struct s3_job *j)
{
	const struct ph_s3_entry *e;
	size_t		 n, i, len;
	char		 id[RELAY_ARTIFACT_ID_LEN + 1];
	json_t		*m;
	int		 pages;

	e = ph_s3_op_entries(j->op, &n, &pages);
	for (i = 0; i < n; i++) {
		len = strlen(e[i].key);
		if (len != RELAY_ARTIFACT_ID_LEN + 5 ||
		    strcmp(e[i].key + RELAY_ARTIFACT_ID_LEN, ".json") != 0)
			continue;
		memcpy(id, e[i].key, RELAY_ARTIFACT_ID_LEN);
		id[RELAY_ARTIFACT_ID_LEN] = '\0';
		if (!relay_artifact_id_valid(id))
			continue;
		json_object_set_new(j->listed, id, json_true());
		if ((m = json_object_get(s->cache, id)) != NULL)
			json_array_append(j->all, m);
		else
			json_array_append_new(j->todo, json_string(id));
	}
	ph_s3_op_free(j->op);
	j->op = NULL;
}

/* One ID.json fetch's step: 1 when it is over (kept or not). */
static int
sync_get_poll(struct s3_store *s, struct meta_get *mg, json_t *all)
{
	ssize_t		 k;
	json_t		*m;
	json_error_t	 je;

	for (;;) {
		k = ph_s3_get_read(mg->g, mg->buf + mg->len, sizeof mg->buf - 1 - mg->len);
		if (k > 0) {
			mg->len += (size_t)k;
			if (mg->len == sizeof mg->buf - 1) {
				ph_warn("artifact %s: its metadata passes %d bytes: "
				    "skipped", mg->id, META_MAX);
				break;
			}
			continue;
		}
		if (k < 0 && errno == EAGAIN)
			return 0;
		if (k < 0)
			break;	/* gone since the listing, or unreadable */
		mg->buf[mg->len] = '\0';
		m = json_loads(mg->buf, 0, &je);
		if (json_is_object(m) && strcmp(json_string_value(json_object_get(m,
		    "id")) ?: "", mg->id) == 0) {
			json_object_set(s->cache, mg->id, m);
			json_array_append(all, m);
		} else
			ph_warn("artifact %s: its metadata is not a JSON object of "
			    "that id: skipped", mg->id);
		json_decref(m);
		break;
	}
	ph_s3_get_free(mg->g);
	mg->g = NULL;
	return 1;
}

/* One job's step: 1 when it is gone. */
static int
job_poll(struct s3_store *s, struct s3_job *j)
{
	enum ph_s3_state st = PH_S3_DONE;
	char		*err = NULL, *key;
	const char	*id;
	json_t		*all, *v;
	void		*tmp;
	int		 i, busy = 0;

	if (j->op != NULL && (st = ph_s3_op_state(j->op, &err)) == PH_S3_RUNNING)
		return 0;
	if (j->kind == J_RM) {
		/* A key already gone is removed all the same (S3 says 204). */
		if (st == PH_S3_DONE && j->step == 0) {
			j->step = 1;
			if (rm_step(j, s, &err) == 0)
				return 0;
		}
		if (st == PH_S3_DONE && err == NULL)
			json_object_del(s->cache, j->id);
		if (j->removed != NULL)
			j->removed(err, j->arg);
		free(err);
		job_free(s, j);
		return 1;
	}
	if (st == PH_S3_FAILED) {
		j->synced(NULL, err, NULL);
		free(err);
		job_free(s, j);
		return 1;
	}
	if (j->op != NULL)
		sync_listed(s, j);
	for (i = 0; i < SYNC_GETS; i++) {
		if (j->gets[i].g != NULL && sync_get_poll(s, &j->gets[i], j->all) == 0) {
			busy = 1;
			continue;
		}
		if (json_array_size(j->todo) == 0)
			continue;
		id = json_string_value(json_array_get(j->todo, 0));
		if ((key = key_of(id, ".json")) == NULL)
			continue;
		j->gets[i].g = ph_s3_get_new(s->c, key, &err);
		free(key);
		if (j->gets[i].g == NULL) {	/* as many as allowed: later */
			free(err);
			err = NULL;
			busy = 1;
			continue;
		}
		snprintf(j->gets[i].id, sizeof j->gets[i].id, "%s", id);
		j->gets[i].len = 0;
		json_array_remove(j->todo, 0);
		busy = 1;
	}
	if (busy || json_array_size(j->todo) > 0)
		return 0;
	/* Forget what another relay deleted. */
	json_object_foreach_safe(s->cache, tmp, id, v) {
		(void)v;
		if (json_object_get(j->listed, id) == NULL)
			json_object_del(s->cache, id);
	}
	all = j->all;
	j->all = NULL;
	j->synced(all, NULL, NULL);
	job_free(s, j);
	return 1;
}

static void
s3_poll(void *state)
{
	struct s3_store	*s = state;
	struct relay_artifact_wr *w, *wn;
	struct relay_artifact_rd *r, *rn;
	struct s3_job	*j, *jn;
	int64_t		 now = ph_mono_ms();

	/* On a wake-up, and once a second whatever happens. */
	if (!atomic_exchange(&s->woken, 0) && now - s->polled_ms < 1000)
		return;
	s->polled_ms = now;
	for (w = s->writers; w != NULL; w = wn) {
		wn = w->next;
		wr_poll(w);
	}
	for (r = s->readers; r != NULL; r = rn) {
		rn = r->next;
		if (r->waiting) {
			r->waiting = 0;
			r->readable(r->arg);
		}
	}
	for (j = s->jobs; j != NULL; j = jn) {
		jn = j->next;
		job_poll(s, j);
	}
}

static void
s3_close(void *state)
{
	struct s3_store	*s = state;

	if (s == NULL)
		return;
	while (s->writers != NULL)
		wr_free(s->writers);
	while (s->readers != NULL)
		s3_read_close(s->readers);
	while (s->jobs != NULL)
		job_free(s, s->jobs);
	ph_s3_client_free(s->c);
	json_decref(s->cache);
	free(s);
}

const struct relay_artifact_backend relay_artifact_s3 = {
	.name = "S3",
	.open = s3_open,
	.load = s3_load,
	.create = s3_create,
	.write = s3_write,
	.commit = s3_commit,
	.abort = s3_abort,
	.read_open = s3_read_open,
	.read = s3_read,
	.read_close = s3_read_close,
	.remove = s3_remove,
	.close = s3_close,
	.sync = s3_sync,
	.poll = s3_poll,
};
