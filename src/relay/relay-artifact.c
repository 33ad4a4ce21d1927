/*
 * relay-artifact.c - the artifact store (relay-artifact.h): the index of
 * every artifact's metadata in memory, the bounds, and the life of one
 * upload, over a backend that keeps the bytes (relay-artifact-dir.c).
 *
 * An upload's bytes go to the backend as they arrive; on the way they are
 * decompressed (zstd, streaming, into a small buffer that is thrown away)
 * only to count the capture's size and compute its sha256, which the
 * operator's `artifacts get` checks: what the relay lists is what it saw,
 * not what the agent claims.  A frame that does not end, an upload cut
 * before its `end`, or an agent that says so, make it incomplete; it is
 * stored all the same (a partial core still has the threads' stacks).
 *
 * A capture sealed by the agent to an operator's key (begin says `sealed`,
 * artseal.h) cannot be decompressed here: its size and sha256 are those of
 * the sealed bytes as stored, and only its framing is checked (a header,
 * records of lawful kinds and lengths, the final record last and nothing
 * after it); the sha256 of what is inside is checked by whoever opens it.
 *
 * Bounds: --artifact-max-bytes over everything stored, and a per-agent
 * quota (--artifact-agent-quota, by full agent id); an upload that would
 * pass either is refused at its start, or cut where it passes it (stored
 * incomplete, its error says which bound).
 *
 * A backend that is not local (S3) answers later: a write may ask to hold
 * the producer (backpressure, relay-upload.c pauses the agent's
 * connection), a commit and a remove complete from relay_artifact_poll,
 * and the index is brought up to what the bucket holds (other relays of
 * the fleet store and delete there too) by relay_artifact_refresh before
 * every listing, read and delete (relay-http.c waits for it).  An upload
 * whose commit is pending is kept in store.committing, off its connection.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <zstd.h>

#include "porthole/artseal.h"
#include "porthole/log.h"
#include "porthole/selector.h"
#include "porthole/util.h"
#include "relay-artifact.h"
#include "relay-auth.h"

struct relay_artifact_up {
	char			 id[RELAY_ARTIFACT_ID_LEN + 1];
	json_t			*meta;		/* attribution + description, grows */
	const char		*agent;		/* inside meta */
	struct relay_artifact_wr *w;
	ZSTD_DCtx		*dz;
	uint8_t			*dbuf;
	size_t			 dlen;
	size_t			 last;		/* ZSTD_decompressStream's last hint: 0 = frame ended */
	int			 bad_frame;	/* the stream did not decompress */
	struct ph_artseal_rd	*sealed;	/* a sealed stream's framing, or NULL */
	char			*seal_error;	/* why that framing is wrong */
	EVP_MD_CTX		*md;
	uint64_t		 size;		/* decompressed */
	uint64_t		 stored;	/* compressed, as kept */
	char			*cut;		/* why the stream stopped being stored */
	relay_artifact_up_fn	*fn;		/* the producer, while it listens */
	void			*arg;
	int			 committing;	/* commit pending: in store.committing */
	struct relay_artifact_up *next;
};

/* Someone waiting for a refresh. */
struct refresh_wait {
	void			(*done)(void *arg);
	void			*arg;
	struct refresh_wait	*next;
};

/* A pending remove. */
struct rm_job {
	char			 id[RELAY_ARTIFACT_ID_LEN + 1];
	void			(*done)(const char *err, void *arg);
	void			*arg;
};

static struct {
	const struct relay_artifact_backend *be;
	void		*state;
	json_t		*index;		/* id -> metadata */
	uint64_t	 max_bytes, quota;
	uint64_t	 used;		/* stored bytes, committed and in flight */
	json_t		*per_agent;	/* agent id -> bytes (integer) */
	struct relay_artifact_stats st;
	struct relay_artifact_up *committing;	/* commits the backend finishes later */
	int		 syncing;	/* a listing runs: serves store.served */
	struct refresh_wait *served, *waiting;	/* ... and who waits for the next */
	json_t		*since_added;	/* id -> meta: stored while a listing ran */
	json_t		*since_removed;	/* id -> true: removed while it ran */
} store;

static void	(*wake_fn)(void);

void
relay_artifact_set_wake(void (*fn)(void))
{
	wake_fn = fn;
}

void
relay_artifact_wake(void)
{
	if (wake_fn != NULL)
		wake_fn();
}

void
relay_artifact_poll(void)
{
	if (store.be != NULL && store.be->poll != NULL)
		store.be->poll(store.state);
}

int
relay_artifact_enabled(void)
{
	return store.be != NULL;
}

int
relay_artifact_id_valid(const char *s)
{
	size_t	i;

	if (s == NULL || strlen(s) != RELAY_ARTIFACT_ID_LEN)
		return 0;
	for (i = 0; i < RELAY_ARTIFACT_ID_LEN; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return 1;
}

static uint64_t
agent_used(const char *agent)
{
	return (uint64_t)json_integer_value(json_object_get(store.per_agent, agent));
}

static void
account(const char *agent, int64_t delta)
{
	int64_t	now = (int64_t)agent_used(agent) + delta;

	store.used = (uint64_t)((int64_t)store.used + delta);
	json_object_set_new(store.per_agent, agent, json_integer(now > 0 ? now : 0));
}

int
relay_artifact_init(const char *where, uint64_t max_bytes, uint64_t agent_quota,
    char **cause)
{
	json_t		*all, *m;
	const char	*id;
	size_t		 i;

	memset(&store, 0, sizeof store);
	store.max_bytes = max_bytes;
	store.quota = agent_quota;
	if ((store.index = json_object()) == NULL ||
	    (store.per_agent = json_object()) == NULL ||
	    (store.since_added = json_object()) == NULL ||
	    (store.since_removed = json_object()) == NULL) {
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	if (where == NULL || *where == '\0')
		return 0;
	store.be = strncmp(where, "s3://", 5) == 0 ? &relay_artifact_s3 :
	    &relay_artifact_dir;
	if (store.be->open(where, &store.state, cause) != 0) {
		store.be = NULL;
		return -1;
	}
	if ((all = store.be->load(store.state, cause)) == NULL) {
		store.be->close(store.state);
		store.be = NULL;
		return -1;
	}
	json_array_foreach(all, i, m) {
		id = json_string_value(json_object_get(m, "id"));
		if (!relay_artifact_id_valid(id))
			continue;
		json_object_set(store.index, id, m);
		account(json_string_value(json_object_get(m, "agent")) ?: "?",
		    json_integer_value(json_object_get(m, "stored_bytes")));
		store.st.count++;
	}
	json_decref(all);
	ph_info("artifact store: %s (%s), %llu artifact(s), %llu bytes", where,
	    store.be->name, (unsigned long long)store.st.count,
	    (unsigned long long)store.used);
	if (store.be->sync != NULL)
		relay_artifact_refresh(NULL, NULL);	/* the bucket's, from the loop */
	return 0;
}

static void	up_free(struct relay_artifact_up *);

static void
waits_free(struct refresh_wait *w)
{
	struct refresh_wait *next;

	for (; w != NULL; w = next) {
		next = w->next;
		free(w);
	}
}

void
relay_artifact_cleanup(void)
{
	struct relay_artifact_up *u, *next;

	/* The backend drops what it still does (S3: unfinished uploads aborted). */
	if (store.be != NULL)
		store.be->close(store.state);
	for (u = store.committing; u != NULL; u = next) {
		next = u->next;
		ph_warn("artifact %s: the relay stops before its store finished "
		    "storing it", u->id);
		up_free(u);
	}
	waits_free(store.served);
	waits_free(store.waiting);
	json_decref(store.index);
	json_decref(store.per_agent);
	json_decref(store.since_added);
	json_decref(store.since_removed);
	memset(&store, 0, sizeof store);
}

static void
up_free(struct relay_artifact_up *u)
{
	if (u == NULL)
		return;
	if (u->w != NULL)
		store.be->abort(u->w);
	json_decref(u->meta);
	ZSTD_freeDCtx(u->dz);
	free(u->dbuf);
	ph_artseal_rd_free(u->sealed);
	free(u->seal_error);
	EVP_MD_CTX_free(u->md);
	free(u->cut);
	free(u);
}

/* Copy member name of from to to when it has the type t ('s', 'i', 'o', 'b'). */
static void
copy_member(json_t *to, json_t *from, const char *name, int t)
{
	json_t	*v = json_object_get(from, name);

	if ((t == 's' && json_is_string(v)) || (t == 'i' && json_is_integer(v)) ||
	    (t == 'o' && json_is_object(v)) || (t == 'b' && json_is_boolean(v)))
		json_object_set(to, name, v);
}

static void	up_event(void *owner, enum relay_artifact_ev ev, const char *err);

struct relay_artifact_up *
relay_artifact_begin(json_t *attribution, json_t *desc, char **cause)
{
	struct relay_artifact_up *u;
	uint8_t		 rnd[RELAY_ARTIFACT_ID_LEN / 2], rcpt[PH_SEAL_SHARE_LEN];
	const char	*agent = json_string_value(json_object_get(attribution, "agent"));
	size_t		 i;

	if (store.be == NULL) {
		*cause = ph_asprintf("this relay keeps no artifacts (no "
		    "PORTHOLE_ARTIFACT_DIR or PORTHOLE_ARTIFACT_S3)");
		return NULL;
	}
	if (agent == NULL) {
		*cause = ph_asprintf("no agent to attribute the upload to");
		return NULL;
	}
	if (store.used >= store.max_bytes) {
		*cause = ph_asprintf("the artifact store is full (%llu bytes, "
		    "--artifact-max-bytes)", (unsigned long long)store.max_bytes);
		store.st.refused++;
		return NULL;
	}
	if (agent_used(agent) >= store.quota) {
		*cause = ph_asprintf("agent %s has used its artifact quota (%llu "
		    "bytes, --artifact-agent-quota)", agent,
		    (unsigned long long)store.quota);
		store.st.refused++;
		return NULL;
	}
	if ((u = calloc(1, sizeof *u)) == NULL ||
	    (u->meta = json_deep_copy(attribution)) == NULL ||
	    (u->dz = ZSTD_createDCtx()) == NULL ||
	    (u->dbuf = malloc(u->dlen = ZSTD_DStreamOutSize())) == NULL ||
	    (u->md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(u->md, EVP_sha256(), NULL) != 1 ||
	    RAND_bytes(rnd, sizeof rnd) != 1) {
		up_free(u);
		*cause = ph_asprintf("out of memory");
		return NULL;
	}
	for (i = 0; i < sizeof rnd; i++)
		snprintf(u->id + 2 * i, 3, "%02x", rnd[i]);
	u->last = 1;
	copy_member(u->meta, desc, "kind", 's');
	copy_member(u->meta, desc, "pid", 'i');
	copy_member(u->meta, desc, "process", 's');
	copy_member(u->meta, desc, "trigger", 's');
	copy_member(u->meta, desc, "reading", 'o');
	copy_member(u->meta, desc, "watch", 'i');
	copy_member(u->meta, desc, "captured_at", 'i');
	copy_member(u->meta, desc, "spooled", 'b');
	if (json_is_string(json_object_get(desc, "sealed"))) {
		if (ph_seal_share_decode(json_string_value(json_object_get(desc,
		    "sealed")), rcpt, cause) != 0 ||
		    (u->sealed = ph_artseal_rd_new(NULL, cause)) == NULL) {
			up_free(u);
			return NULL;
		}
		copy_member(u->meta, desc, "sealed", 's');
	}
	json_object_set_new(u->meta, "id", json_string(u->id));
	u->agent = json_string_value(json_object_get(u->meta, "agent"));
	if ((u->w = store.be->create(store.state, u->id, up_event, u, cause)) == NULL) {
		up_free(u);
		return NULL;
	}
	return u;
}

const char *
relay_artifact_up_id(const struct relay_artifact_up *u)
{
	return u->id;
}

void
relay_artifact_listen(struct relay_artifact_up *u, relay_artifact_up_fn *fn, void *arg)
{
	u->fn = fn;
	u->arg = arg;
}

/*
 * Decompress p only to hash and count what it holds; a sealed stream is
 * hashed and counted as it is, and its framing checked.
 */
static void
up_measure(struct relay_artifact_up *u, const void *p, size_t n)
{
	ZSTD_inBuffer	in = { p, n, 0 };
	ZSTD_outBuffer	out;
	size_t		r;

	if (u->sealed != NULL) {
		EVP_DigestUpdate(u->md, p, n);
		u->size += n;
		if (u->seal_error == NULL && ph_artseal_rd_feed(u->sealed, p, n, NULL,
		    NULL, &u->seal_error) != 0 && u->seal_error == NULL)
			u->seal_error = ph_asprintf("the sealed stream is malformed");
		return;
	}

	while (!u->bad_frame && in.pos < in.size) {
		out.dst = u->dbuf;
		out.size = u->dlen;
		out.pos = 0;
		r = ZSTD_decompressStream(u->dz, &out, &in);
		if (ZSTD_isError(r)) {
			u->bad_frame = 1;
			return;
		}
		u->last = r;
		EVP_DigestUpdate(u->md, u->dbuf, out.pos);
		u->size += out.pos;
		if (r == 0 && in.pos < in.size) {
			u->bad_frame = 1;	/* bytes after the one frame */
			return;
		}
	}
}

int
relay_artifact_data(struct relay_artifact_up *u, const void *p, size_t n, char **cause)
{
	int	r;

	if (u->cut != NULL) {
		*cause = strdup(u->cut);
		return -1;
	}
	if (store.used + n > store.max_bytes || agent_used(u->agent) + n > store.quota) {
		u->cut = ph_asprintf("cut at %llu bytes: %s", (unsigned long long)u->stored,
		    store.used + n > store.max_bytes ? "the artifact store is full "
		    "(--artifact-max-bytes)" : "the agent's artifact quota "
		    "(--artifact-agent-quota) is used up");
		*cause = strdup(u->cut);
		return -1;
	}
	if ((r = store.be->write(u->w, p, n, cause)) < 0) {
		u->cut = ph_asprintf("cut at %llu bytes: %s", (unsigned long long)u->stored,
		    *cause);
		return -1;
	}
	account(u->agent, (int64_t)n);
	u->stored += n;
	store.st.bytes_in += n;
	up_measure(u, p, n);
	return r == 1 ? 1 : 0;
}

static void	up_stored(struct relay_artifact_up *);

/*
 * Commit u with its measures; the metadata (new reference), or NULL with
 * *cause, or NULL with *cause NULL when the backend finishes later (u is
 * then in store.committing).
 */
static json_t *
up_commit(struct relay_artifact_up *u, int agent_complete, const char *error,
    char **cause)
{
	uint8_t		 md[EVP_MAX_MD_SIZE];
	unsigned	 mdlen = 0, i;
	char		 hex[2 * EVP_MAX_MD_SIZE + 1];
	int		 complete;
	const char	*why = error;
	json_t		*m = u->meta;
	int		 r;

	if (u->sealed != NULL && u->seal_error == NULL &&
	    ph_artseal_rd_end(u->sealed, NULL, &u->seal_error) != 0 &&
	    u->seal_error == NULL)
		u->seal_error = ph_asprintf("the sealed stream is malformed");
	complete = agent_complete && u->cut == NULL && (u->sealed != NULL ?
	    u->seal_error == NULL : !u->bad_frame && u->last == 0);

	EVP_DigestFinal_ex(u->md, md, &mdlen);
	for (i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (why == NULL && u->cut != NULL)
		why = u->cut;
	if (why == NULL && u->seal_error != NULL)
		why = u->seal_error;
	if (why == NULL && u->bad_frame)
		why = "the stream is not one zstd frame";
	if (why == NULL && !complete)
		why = "the stream ended before its zstd frame did";
	json_object_set_new(m, "size", json_integer((json_int_t)u->size));
	json_object_set_new(m, "sha256", json_string(hex));
	json_object_set_new(m, "stored_bytes", json_integer((json_int_t)u->stored));
	json_object_set_new(m, "complete", json_boolean(complete));
	if (why != NULL)
		json_object_set_new(m, "error", json_string(why));
	json_object_set_new(m, "stored_at", json_integer(ph_now()));
	*cause = NULL;
	r = store.be->commit(u->w, m, cause);
	u->w = NULL;		/* the backend's either way */
	if (r < 0) {
		account(u->agent, -(int64_t)u->stored);
		return NULL;
	}
	if (r == 1) {		/* up_event says how it went */
		u->committing = 1;
		u->next = store.committing;
		store.committing = u;
		return NULL;
	}
	up_stored(u);
	return json_incref(m);
}

/* u's commit is done: in the index. */
static void
up_stored(struct relay_artifact_up *u)
{
	json_object_set(store.index, u->id, u->meta);
	if (store.syncing)
		json_object_set(store.since_added, u->id, u->meta);
	store.st.count++;
	store.st.uploads++;
	if (!json_is_true(json_object_get(u->meta, "complete")))
		store.st.incomplete++;
}

/* What the backend says later about u's writer (relay_artifact_ev_fn). */
static void
up_event(void *owner, enum relay_artifact_ev ev, const char *err)
{
	struct relay_artifact_up *u = owner, **pp;

	if (!u->committing) {
		/* Still being written: a failure cuts it; READY lets it go on. */
		if (ev == RELAY_ARTIFACT_EV_FAILED && u->cut == NULL)
			u->cut = ph_asprintf("cut at %llu bytes: %s",
			    (unsigned long long)u->stored, err != NULL ? err : "?");
		if (u->fn != NULL)
			u->fn(u->arg, RELAY_ARTIFACT_EV_READY, NULL, NULL);
		return;
	}
	if (ev == RELAY_ARTIFACT_EV_READY)
		return;
	for (pp = &store.committing; *pp != NULL; pp = &(*pp)->next)
		if (*pp == u) {
			*pp = u->next;
			break;
		}
	if (ev == RELAY_ARTIFACT_EV_COMMITTED) {
		up_stored(u);
		if (u->fn == NULL)	/* else its producer says so */
				ph_info("artifact %s stored: %lld bytes, %s", u->id,
			    (long long)json_integer_value(json_object_get(u->meta,
			    "size")), json_is_true(json_object_get(u->meta,
			    "complete")) ? "complete" : "incomplete");
	} else {
		account(u->agent, -(int64_t)u->stored);
		ph_warn("artifact %s: storing it failed: %s", u->id, err != NULL ? err : "?");
	}
	if (u->fn != NULL)
		u->fn(u->arg, ev, u->meta, err);
	up_free(u);
}

json_t *
relay_artifact_end(struct relay_artifact_up *u, json_t *end, char **cause)
{
	json_t	*m;

	copy_member(u->meta, end, "mode", 's');
	copy_member(u->meta, end, "reason", 's');
	copy_member(u->meta, end, "pause_us", 'i');
	m = up_commit(u, json_is_true(json_object_get(end, "complete")),
	    json_string_value(json_object_get(end, "error")), cause);
	if (m == NULL && *cause == NULL)
		return NULL;	/* pending: u is in store.committing */
	up_free(u);
	return m;
}

void
relay_artifact_cut(struct relay_artifact_up *u, const char *why)
{
	char	*cause = NULL;
	json_t	*m;

	if (u == NULL)
		return;
	u->fn = NULL;		/* the producer is gone or going */
	if ((m = up_commit(u, 0, why, &cause)) == NULL) {
		if (cause == NULL)
			return;	/* pending: u is in store.committing */
		ph_warn("artifact %s: cannot store what came: %s", u->id, cause);
		free(cause);
	}
	json_decref(m);
	up_free(u);
}

/*
 * The index becomes what the backend listed, plus what this relay stored
 * while the listing ran and less what it removed; the bytes each agent
 * holds are counted again.
 */
static void
index_replace(json_t *all)
{
	json_t		*idx = json_object(), *m;
	const char	*id;
	size_t		 i;

	if (idx == NULL)
		return;
	json_array_foreach(all, i, m) {
		id = json_string_value(json_object_get(m, "id"));
		if (relay_artifact_id_valid(id))
			json_object_set(idx, id, m);
	}
	json_object_update(idx, store.since_added);
	json_object_foreach(store.since_removed, id, m)
		json_object_del(idx, id);
	json_object_foreach(store.index, id, m)
		account(json_string_value(json_object_get(m, "agent")) ?: "?",
		    -json_integer_value(json_object_get(m, "stored_bytes")));
	json_object_foreach(idx, id, m)
		account(json_string_value(json_object_get(m, "agent")) ?: "?",
		    json_integer_value(json_object_get(m, "stored_bytes")));
	json_decref(store.index);
	store.index = idx;
	store.st.count = json_object_size(idx);
}

static int	sync_start(void);

/* A listing is back (all NULL: it failed, err says why). */
static void
synced(json_t *all, const char *err, void *arg)
{
	struct refresh_wait *w, *next;

	(void)arg;
	if (all != NULL)
		index_replace(all);
	else
		ph_warn("artifact store: listing failed: %s (serving what was "
		    "known)", err != NULL ? err : "?");
	json_decref(all);
	store.syncing = 0;
	json_object_clear(store.since_added);
	json_object_clear(store.since_removed);
	w = store.served;
	store.served = NULL;
	/* Who came while it ran needs a listing that began after it came. */
	if (store.waiting != NULL && sync_start() != 0) {
		struct refresh_wait **pp = &w;

		while (*pp != NULL)
			pp = &(*pp)->next;
		*pp = store.served;
		store.served = NULL;
	}
	for (; w != NULL; w = next) {
		next = w->next;
		if (w->done != NULL)
			w->done(w->arg);
		free(w);
	}
}

/* Start a listing for everyone waiting; -1: it did not start (they are in store.served). */
static int
sync_start(void)
{
	char	*cause = NULL;

	store.served = store.waiting;
	store.waiting = NULL;
	store.syncing = 1;
	if (store.be->sync(store.state, synced, NULL, &cause) == 1)
		return 0;
	ph_warn("artifact store: cannot list it: %s", cause != NULL ? cause : "?");
	free(cause);
	store.syncing = 0;
	return -1;
}

int
relay_artifact_refresh(void (*done)(void *arg), void *arg)
{
	struct refresh_wait *w;

	if (store.be == NULL || store.be->sync == NULL ||
	    (w = calloc(1, sizeof *w)) == NULL)
		return 0;
	w->done = done;
	w->arg = arg;
	w->next = store.waiting;
	store.waiting = w;
	if (store.syncing)
		return 1;
	if (sync_start() != 0) {
		waits_free(store.served);	/* only w: served as things are */
		store.served = NULL;
		return 0;
	}
	return 1;
}

json_t *
relay_artifact_list(const struct ph_claims *cl, const char *selector, char **cause)
{
	json_t		*out = json_array(), *m;
	const char	*id;
	int		 r;

	if (out == NULL) {
		*cause = ph_asprintf("out of memory");
		return NULL;
	}
	json_object_foreach(store.index, id, m) {
		if (!relay_auth_may_touch(cl, m))
			continue;
		if (selector != NULL && *selector != '\0') {
			if (ph_selector_is(selector))
				r = ph_selector_match(selector, m, cause);
			else	/* an agent id, name or task prefix */
				r = strncmp(json_string_value(json_object_get(m,
				    "agent")) ?: "", selector, strlen(selector)) == 0 ||
				    strncmp(json_string_value(json_object_get(m,
				    "name")) ?: "", selector, strlen(selector)) == 0 ||
				    strncmp(json_string_value(json_object_get(m,
				    "task")) ?: "", selector, strlen(selector)) == 0;
			if (r < 0) {
				json_decref(out);
				return NULL;
			}
			if (!r)
				continue;
		}
		json_array_append(out, m);
	}
	return out;
}

json_t *
relay_artifact_get(const struct ph_claims *cl, const char *id)
{
	json_t	*m = relay_artifact_id_valid(id) ? json_object_get(store.index, id) : NULL;

	return m != NULL && relay_auth_may_touch(cl, m) ? m : NULL;
}

struct relay_artifact_rd *
relay_artifact_open(const char *id, void (*readable)(void *arg), void *arg,
    char **cause)
{
	if (store.be == NULL) {
		*cause = ph_asprintf("no artifact store");
		return NULL;
	}
	return store.be->read_open(store.state, id, readable, arg, cause);
}

ssize_t
relay_artifact_read(struct relay_artifact_rd *r, void *buf, size_t n)
{
	return store.be->read(r, buf, n);
}

void
relay_artifact_close(struct relay_artifact_rd *r)
{
	if (r != NULL)
		store.be->read_close(r);
}

/* id is gone from the store: from the index too. */
static void
rm_forget(const char *id)
{
	json_t	*m = json_object_get(store.index, id);

	if (store.syncing)
		json_object_set_new(store.since_removed, id, json_true());
	if (m == NULL)
		return;
	account(json_string_value(json_object_get(m, "agent")) ?: "?",
	    -json_integer_value(json_object_get(m, "stored_bytes")));
	json_object_del(store.index, id);
	store.st.count--;
}

static void
rm_done(const char *err, void *arg)
{
	struct rm_job	*j = arg;

	if (err == NULL)
		rm_forget(j->id);
	if (j->done != NULL)
		j->done(err, j->arg);
	free(j);
}

int
relay_artifact_rm(const char *id, void (*done)(const char *err, void *arg), void *arg,
    char **cause)
{
	json_t		*m = json_object_get(store.index, id);
	struct rm_job	*j;
	int		 r;

	if (m == NULL || store.be == NULL) {
		*cause = ph_asprintf("no artifact %s", id);
		return -1;
	}
	if ((j = calloc(1, sizeof *j)) == NULL) {
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	snprintf(j->id, sizeof j->id, "%s", id);
	j->done = done;
	j->arg = arg;
	if ((r = store.be->remove(store.state, id, rm_done, j, cause)) == 1)
		return 1;
	free(j);
	if (r != 0)
		return -1;
	rm_forget(id);
	return 0;
}

void
relay_artifact_stats(struct relay_artifact_stats *st)
{
	*st = store.st;
	st->bytes = store.used;
}

void
relay_artifact_served(uint64_t bytes)
{
	store.st.bytes_out += bytes;
}
