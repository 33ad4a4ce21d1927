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
 * Bounds: --artifact-max-bytes over everything stored, and a per-agent
 * quota (--artifact-agent-quota, by full agent id); an upload that would
 * pass either is refused at its start, or cut where it passes it (stored
 * incomplete, its error says which bound).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <zstd.h>

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
	EVP_MD_CTX		*md;
	uint64_t		 size;		/* decompressed */
	uint64_t		 stored;	/* compressed, as kept */
	char			*cut;		/* why the stream stopped being stored */
};

static struct {
	const struct relay_artifact_backend *be;
	void		*state;
	json_t		*index;		/* id -> metadata */
	uint64_t	 max_bytes, quota;
	uint64_t	 used;		/* stored bytes, committed and in flight */
	json_t		*per_agent;	/* agent id -> bytes (integer) */
	struct relay_artifact_stats st;
} store;

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
	    (store.per_agent = json_object()) == NULL) {
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	if (where == NULL || *where == '\0')
		return 0;
	if (strncmp(where, "s3://", 5) == 0) {
		*cause = ph_asprintf("S3 artifact stores are not in this build yet: "
		    "set PORTHOLE_ARTIFACT_DIR to a directory");
		return -1;
	}
	store.be = &relay_artifact_dir;
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
	return 0;
}

void
relay_artifact_cleanup(void)
{
	if (store.be != NULL)
		store.be->close(store.state);
	json_decref(store.index);
	json_decref(store.per_agent);
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

struct relay_artifact_up *
relay_artifact_begin(json_t *attribution, json_t *desc, char **cause)
{
	struct relay_artifact_up *u;
	uint8_t		 rnd[RELAY_ARTIFACT_ID_LEN / 2];
	const char	*agent = json_string_value(json_object_get(attribution, "agent"));
	size_t		 i;

	if (store.be == NULL) {
		*cause = ph_asprintf("this relay keeps no artifacts (no "
		    "PORTHOLE_ARTIFACT_DIR)");
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
	json_object_set_new(u->meta, "id", json_string(u->id));
	u->agent = json_string_value(json_object_get(u->meta, "agent"));
	if ((u->w = store.be->create(store.state, u->id, cause)) == NULL) {
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

/* Decompress p only to hash and count what it holds. */
static void
up_measure(struct relay_artifact_up *u, const void *p, size_t n)
{
	ZSTD_inBuffer	in = { p, n, 0 };
	ZSTD_outBuffer	out;
	size_t		r;

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
	if (store.be->write(u->w, p, n, cause) < 0) {
		u->cut = ph_asprintf("cut at %llu bytes: %s", (unsigned long long)u->stored,
		    *cause);
		return -1;
	}
	account(u->agent, (int64_t)n);
	u->stored += n;
	store.st.bytes_in += n;
	up_measure(u, p, n);
	return 0;
}

/* Commit u with its measures; the metadata (new reference) or NULL. */
static json_t *
up_commit(struct relay_artifact_up *u, int agent_complete, const char *error,
    char **cause)
{
	uint8_t		 md[EVP_MAX_MD_SIZE];
	unsigned	 mdlen = 0, i;
	char		 hex[2 * EVP_MAX_MD_SIZE + 1];
	int		 complete = agent_complete && u->cut == NULL && !u->bad_frame &&
	    u->last == 0;
	const char	*why = error;
	json_t		*m = u->meta;
	int		 r;

	EVP_DigestFinal_ex(u->md, md, &mdlen);
	for (i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (why == NULL && u->cut != NULL)
		why = u->cut;
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
	r = store.be->commit(u->w, m, cause);
	u->w = NULL;		/* the backend's either way */
	if (r != 0) {
		account(u->agent, -(int64_t)u->stored);
		return NULL;
	}
	json_object_set(store.index, u->id, m);
	store.st.count++;
	store.st.uploads++;
	if (!complete)
		store.st.incomplete++;
	return json_incref(m);
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
	if ((m = up_commit(u, 0, why, &cause)) == NULL) {
		ph_warn("artifact %s: cannot store what came: %s", u->id, cause);
		free(cause);
	}
	json_decref(m);
	up_free(u);
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
relay_artifact_open(const char *id, char **cause)
{
	if (store.be == NULL) {
		*cause = ph_asprintf("no artifact store");
		return NULL;
	}
	return store.be->read_open(store.state, id, cause);
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

int
relay_artifact_rm(const char *id, char **cause)
{
	json_t	*m = json_object_get(store.index, id);

	if (m == NULL || store.be == NULL) {
		*cause = ph_asprintf("no artifact %s", id);
		return -1;
	}
	if (store.be->remove(store.state, id, cause) != 0)
		return -1;
	account(json_string_value(json_object_get(m, "agent")) ?: "?",
	    -json_integer_value(json_object_get(m, "stored_bytes")));
	json_object_del(store.index, id);
	store.st.count--;
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
