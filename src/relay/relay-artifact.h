/*
 * relay-artifact.h - the relay's artifact store (relay-artifact.c): the
 * flight recorder's captures, uploaded by agents (relay-upload.c) and read
 * by operators (relay-http.c), kept by a backend behind struct
 * relay_artifact_backend: a directory (relay-artifact-dir.c) or an S3
 * bucket (relay-artifact-s3.c).
 *
 * What is stored per artifact: its bytes as the agent sent them (one zstd
 * stream of the capture) and its metadata, a JSON object:
 *   id, agent, name, sub, labels, task    attribution: the uploading
 *                                         connection's token and the agent's
 *                                         registration, never the stream
 *   pid, process, kind, trigger, reading, watch, captured_at, spooled
 *                                         what the agent says it captured
 *   mode, reason, pause_us                snapshot or freeze, and why
 *   size, sha256                          of the capture itself (the
 *                                         decompressed bytes, as `artifacts
 *                                         get` writes them), computed here
 *   stored_bytes                          what the backend holds
 *   complete, error                       false when the agent said so, the
 *                                         stream was cut, or its zstd frame
 *                                         did not end
 *   stored_at
 *   sealed                                the recipient's key, when the agent
 *                                         sealed the capture (artseal.h): size
 *                                         and sha256 are then the stored bytes'
 */
#ifndef PORTHOLE_RELAY_ARTIFACT_H
#define PORTHOLE_RELAY_ARTIFACT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "porthole/token.h"

#define RELAY_ARTIFACT_ID_LEN		24	/* hex digits */
#define RELAY_ARTIFACT_MAX_DEFAULT	(20ULL << 30)	/* --artifact-max-bytes */
#define RELAY_ARTIFACT_QUOTA_DEFAULT	(4ULL << 30)	/* --artifact-agent-quota */

/*
 * A backend.  Every call runs on the relay's loop and must not block
 * there for long: the directory backend's local writes and reads of at
 * most one message (64 KiB) do not; the S3 backend keeps its requests on
 * libporthole_s3's worker thread and uses the asynchronous returns below.
 * Ownership: what open returns is the backend's until close; a writer
 * until commit or abort; a reader until read_close.
 *
 *   open     where (a directory, s3://BUCKET/PREFIX): *state, or -1 *cause
 *   load     the metadata of every stored artifact: a new JSON array
 *   create   a writer for artifact id (bytes come in order); ev(owner, ...)
 *            reports what happens to it later (see relay_artifact_ev)
 *   write    append n bytes: 0 taken; 1 taken but hold the producer until
 *            ev READY (the part buffers are full); -1 *cause
 *   commit   the bytes are all there: store meta with them, atomically
 *            visible (a reader never sees half an artifact): 0 done, 1
 *            later (ev COMMITTED or FAILED), -1 *cause; the writer is the
 *            backend's from then on either way
 *   abort    forget what was written
 *   read_open, read, read_close   the bytes of id, in order; read returns
 *            n > 0, 0 at the end, -1 on error, or -2 "nothing yet": the
 *            backend calls readable(arg) (given to read_open) later
 *   remove   bytes and metadata of id: 0 done, 1 later (done(err, arg),
 *            err NULL when removed), -1 *cause
 *   close    the backend's state (writers and readers it still holds too)
 * Optional (NULL in the directory backend, whose load is always current):
 *   sync     list what the store holds now, for a fleet whose other relays
 *            write and delete there too: 1, then done(all, err, arg) later
 *            with a new JSON array like load's (NULL and err on failure)
 *   poll     drive what the backend's thread finished (on the loop, after
 *            the wake-up set with relay_artifact_set_wake)
 */
struct relay_artifact_wr;
struct relay_artifact_rd;

enum relay_artifact_ev {
	RELAY_ARTIFACT_EV_READY,	/* room again: let the producer go on */
	RELAY_ARTIFACT_EV_COMMITTED,	/* a pending commit is stored */
	RELAY_ARTIFACT_EV_FAILED,	/* the writer failed (err says why) */
};
typedef void relay_artifact_ev_fn(void *owner, enum relay_artifact_ev ev,
	    const char *err);

struct relay_artifact_backend {
	const char	*name;
	int		(*open)(const char *where, void **state, char **cause);
	json_t		*(*load)(void *state, char **cause);
	struct relay_artifact_wr *(*create)(void *state, const char *id,
			    relay_artifact_ev_fn *ev, void *owner, char **cause);
	int		(*write)(struct relay_artifact_wr *w, const void *p, size_t n,
			    char **cause);
	int		(*commit)(struct relay_artifact_wr *w, json_t *meta, char **cause);
	void		(*abort)(struct relay_artifact_wr *w);
	struct relay_artifact_rd *(*read_open)(void *state, const char *id,
			    void (*readable)(void *arg), void *arg, char **cause);
	ssize_t		(*read)(struct relay_artifact_rd *r, void *buf, size_t n);
	void		(*read_close)(struct relay_artifact_rd *r);
	int		(*remove)(void *state, const char *id,
			    void (*done)(const char *err, void *arg), void *arg,
			    char **cause);
	void		(*close)(void *state);
	int		(*sync)(void *state, void (*done)(json_t *all, const char *err,
			    void *arg), void *arg, char **cause);
	void		(*poll)(void *state);
};

extern const struct relay_artifact_backend relay_artifact_dir;	/* relay-artifact-dir.c */
extern const struct relay_artifact_backend relay_artifact_s3;	/* relay-artifact-s3.c */

/*
 * The S3 backend's thread calls fn (thread-safe: lws_cancel_service) when
 * it has something for relay_artifact_poll, which the loop then calls.
 */
void	 relay_artifact_set_wake(void (*fn)(void));
void	 relay_artifact_wake(void);		/* any thread */
void	 relay_artifact_poll(void);		/* the loop */

/* Open the store (where NULL: none, uploads refused); -1 with *cause. */
int	 relay_artifact_init(const char *where, uint64_t max_bytes, uint64_t agent_quota,
	    char **cause);
void	 relay_artifact_cleanup(void);
int	 relay_artifact_enabled(void);

/* One upload in progress (relay-upload.c). */
struct relay_artifact_up;
/*
 * Begin an upload: attribution (agent, name, sub, labels) from the
 * caller, what was captured from desc (the agent's begin message).  NULL
 * with *cause (no store, over a bound).
 */
struct relay_artifact_up *relay_artifact_begin(json_t *attribution, json_t *desc,
	    char **cause);
/*
 * What the producer hears later (from the loop): READY after data
 * returned 1; COMMITTED (meta, a borrowed reference) or FAILED (err)
 * after end returned NULL with no cause.  fn NULL: nobody listens (the
 * producer went away).
 */
typedef void relay_artifact_up_fn(void *arg, enum relay_artifact_ev ev,
	    json_t *meta, const char *err);
void	 relay_artifact_listen(struct relay_artifact_up *u, relay_artifact_up_fn *fn,
	    void *arg);
/*
 * Bytes of the stream: 0; 1 taken, but stop reading the producer until
 * READY (the store is behind: backpressure); -1 with *cause (a bound, the
 * backend).
 */
int	 relay_artifact_data(struct relay_artifact_up *u, const void *p, size_t n,
	    char **cause);
/*
 * The agent's end: commit, return the stored metadata (new reference)
 * or NULL with *cause; NULL with *cause NULL: the backend commits later
 * and the listener hears COMMITTED or FAILED.  u is the store's from now
 * on either way (freed when done).
 */
json_t	*relay_artifact_end(struct relay_artifact_up *u, json_t *end, char **cause);
/*
 * The upload stopped before its end: store what came as incomplete (now
 * or later; nobody listens any more); u is the store's.
 */
void	 relay_artifact_cut(struct relay_artifact_up *u, const char *why);
/* The id of an upload. */
const char *relay_artifact_up_id(const struct relay_artifact_up *u);

/*
 * Bring the index up to what the store holds (S3: what every relay of the
 * fleet stored or deleted): 0 it is (no call), 1 done(arg) is called from
 * the loop once it is (or the listing failed: the index stays as it was).
 */
int	 relay_artifact_refresh(void (*done)(void *arg), void *arg);

/* The artifacts a client with claims cl may see, matching selector (may be NULL). */
json_t	*relay_artifact_list(const struct ph_claims *cl, const char *selector,
	    char **cause);
/* The metadata of id if cl may see it (borrowed), else NULL. */
json_t	*relay_artifact_get(const struct ph_claims *cl, const char *id);
/*
 * Read id's stored bytes; relay_artifact_read returns -2 when nothing is
 * there yet, and readable(arg) is called from the loop when there is (may
 * be NULL with a backend that never waits: the directory).
 */
struct relay_artifact_rd *relay_artifact_open(const char *id, void (*readable)(void *arg),
	    void *arg, char **cause);
ssize_t	 relay_artifact_read(struct relay_artifact_rd *r, void *buf, size_t n);
void	 relay_artifact_close(struct relay_artifact_rd *r);
/*
 * Remove id: 0 done, -1 *cause, or 1 with done(err, arg) called from the
 * loop later (err NULL: removed).
 */
int	 relay_artifact_rm(const char *id, void (*done)(const char *err, void *arg),
	    void *arg, char **cause);
/* Is s an artifact id (24 hex digits)? */
int	 relay_artifact_id_valid(const char *s);

/* For /metrics. */
struct relay_artifact_stats {
	uint64_t	 count, bytes;		/* stored now */
	uint64_t	 uploads, incomplete;	/* since start */
	uint64_t	 bytes_in, bytes_out;	/* uploaded, served */
	uint64_t	 refused;
};
void	 relay_artifact_stats(struct relay_artifact_stats *st);
void	 relay_artifact_served(uint64_t bytes);

#endif
