/*
 * relay-artifact.h - the relay's artifact store (relay-artifact.c): the
 * flight recorder's captures, uploaded by agents (relay-upload.c) and read
 * by operators (relay-http.c), kept by a backend behind struct
 * relay_artifact_backend: a directory (relay-artifact-dir.c) today, S3 as
 * one more file.
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
 * most one message (64 KiB) do not; a network backend (S3) keeps its
 * requests off the loop (curl's multi interface on it, or a thread) and
 * uses the asynchronous returns below.  Ownership: what open returns is
 * the backend's until close; a writer until commit or abort; a reader
 * until read_close.
 *
 *   open     where (a directory, s3://BUCKET/PREFIX): *state, or -1 *cause
 *   load     the metadata of every stored artifact: a new JSON array
 *   create   a writer for artifact id (bytes come in order)
 *   write    append n bytes: 0 taken; 1 taken but hold the producer until
 *            relay_artifact_ready(w) (a part is in flight); -1 *cause
 *   commit   the bytes are all there: store meta with them, atomically
 *            visible (a reader never sees half an artifact); -1 *cause;
 *            the writer is gone either way
 *   abort    forget what was written
 *   read_open, read, read_close   the bytes of id, in order; read returns
 *            n > 0, 0 at the end, -1 on error, or -2 "nothing yet, the
 *            backend calls relay_artifact_readable(r) later"
 *   remove   bytes and metadata of id
 *   close    the backend's state
 *
 * The asynchronous returns (write 1, read -2) and their wake-ups
 * (relay_artifact_ready, relay_artifact_readable) come with the first
 * backend that needs them (S3): the directory backend never returns them,
 * and today's callers would take them as "taken" and as an error.
 */
struct relay_artifact_wr;
struct relay_artifact_rd;

struct relay_artifact_backend {
	const char	*name;
	int		(*open)(const char *where, void **state, char **cause);
	json_t		*(*load)(void *state, char **cause);
	struct relay_artifact_wr *(*create)(void *state, const char *id, char **cause);
	int		(*write)(struct relay_artifact_wr *w, const void *p, size_t n,
			    char **cause);
	int		(*commit)(struct relay_artifact_wr *w, json_t *meta, char **cause);
	void		(*abort)(struct relay_artifact_wr *w);
	struct relay_artifact_rd *(*read_open)(void *state, const char *id,
			    char **cause);
	ssize_t		(*read)(struct relay_artifact_rd *r, void *buf, size_t n);
	void		(*read_close)(struct relay_artifact_rd *r);
	int		(*remove)(void *state, const char *id, char **cause);
	void		(*close)(void *state);
};

extern const struct relay_artifact_backend relay_artifact_dir;	/* relay-artifact-dir.c */

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
/* Bytes of the stream; -1 with *cause (a bound, the backend). */
int	 relay_artifact_data(struct relay_artifact_up *u, const void *p, size_t n,
	    char **cause);
/*
 * The agent's end: commit, return the stored metadata (new reference)
 * or NULL with *cause.  u is freed either way.
 */
json_t	*relay_artifact_end(struct relay_artifact_up *u, json_t *end, char **cause);
/* The upload stopped before its end: store what came as incomplete; u freed. */
void	 relay_artifact_cut(struct relay_artifact_up *u, const char *why);
/* The id of an upload. */
const char *relay_artifact_up_id(const struct relay_artifact_up *u);

/* The artifacts a client with claims cl may see, matching selector (may be NULL). */
json_t	*relay_artifact_list(const struct ph_claims *cl, const char *selector,
	    char **cause);
/* The metadata of id if cl may see it (borrowed), else NULL. */
json_t	*relay_artifact_get(const struct ph_claims *cl, const char *id);
struct relay_artifact_rd *relay_artifact_open(const char *id, char **cause);
ssize_t	 relay_artifact_read(struct relay_artifact_rd *r, void *buf, size_t n);
void	 relay_artifact_close(struct relay_artifact_rd *r);
int	 relay_artifact_rm(const char *id, char **cause);
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
