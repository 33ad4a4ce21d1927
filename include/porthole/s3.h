/*
 * s3.h - an S3 client for the relay's artifact store: multipart uploads of
 * streams of unknown length, listing, streamed reads, deletes and small
 * puts, on libcurl, off the caller's event loop.
 *
 * Linked into libporthole_s3 (meson: porthole_s3_dep), never into the
 * static agent: only the relay stores artifacts.
 *
 * Threading.  A client owns one worker thread that drives every transfer
 * through curl's multi interface (many transfers, one thread).  The calls
 * below are made from the caller's thread (the relay's event loop); none of
 * them blocks on the network (except ph_s3_client_wait, for tools): they
 * copy into or out of bounded buffers under the client's lock and wake the
 * worker.  Whenever an object changes state (room in a part buffer, bytes to
 * read, done, failed), the worker calls the config's wake(arg) *on the
 * worker thread*: it must only do something thread-safe, such as
 * lws_cancel_service(), after which the loop polls its objects.
 * Why a thread rather than curl's multi on the caller's loop: the relay's
 * loop is libwebsockets', whose socket and timer plumbing curl's
 * socket-action interface would have to be married to; a thread with
 * bounded buffers keeps that out and keeps signing, hashing (sha256 of every
 * part) and credential fetches off the loop.
 *
 * Bounds.  Each upload holds at most two part buffers (one filling, one in
 * flight), part_size bytes each; at most max_uploads uploads and max_ops
 * other operations at once; each get a ring of PH_S3_GET_RING bytes; every
 * reply body that is parsed (XML, errors, credentials) is capped at
 * max_reply bytes and a longer one fails the operation.
 *
 * Signing.  curl's CURLOPT_AWS_SIGV4 signs, with two gaps of curl 7.88
 * filled here: the query string is put in the URL already canonical
 * (sorted, "k=" for empty values, AWS's percent-encoding: curl signs it as
 * it finds it), and x-amz-content-sha256 is set (the body's sha256) and
 * signed.  A session token goes in x-amz-security-token.
 *
 * Failures.  A request answered 500/502/503/504 (S3's SlowDown) or cut
 * off is tried again, 4 tries in all, 0.5, 1 and 2 s apart (a get only
 * before any of its bytes went out); any other failure fails the object.
 * Errors are one line, malloc'd, with S3's <Code> and <Message> made
 * printable.  Ownership: every object returned is freed by its _free (at
 * any time, from the caller's thread); the strings an accessor returns
 * belong to the object.  Free every object before its client.
 */
#ifndef PORTHOLE_S3_H
#define PORTHOLE_S3_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* S3's smallest part but the last, and the default part size. */
#define PH_S3_MIN_PART		(5u * 1024 * 1024)
#define PH_S3_DEFAULT_PART	(8u * 1024 * 1024)
/* S3's most parts in one upload. */
#define PH_S3_MAX_PARTS		10000
/* The default cap on a parsed reply body. */
#define PH_S3_DEFAULT_REPLY	(1024 * 1024)
/* A get's ring buffer. */
#define PH_S3_GET_RING		(256 * 1024)
/* Credentials are refreshed this long before they expire (seconds). */
#define PH_S3_REFRESH_MARGIN	300

/* ---- pure helpers (s3-query.c) ---- */

/* One query parameter, raw (not encoded); value NULL means empty ("k="). */
struct ph_s3_qparam {
	const char	*key;
	const char	*value;
};

/*
 * AWS's URI encoding of n bytes of s: A-Z a-z 0-9 - . _ ~ kept, every other
 * byte %XX in upper case; '/' kept when keep_slash (an object key's path).
 * malloc'd.
 */
char	*ph_s3_uri_encode(const char *s, size_t n, int keep_slash);

/*
 * The canonical query string of SigV4 for n raw parameters: each name and
 * value encoded, sorted by name then value, "name=value" joined by '&'
 * (empty values give "name=").  "" for none.  malloc'd.
 */
char	*ph_s3_query_canon(const struct ph_s3_qparam *p, size_t n);

/*
 * The same for a query as it appears in a URL (after '?'): split on '&' and
 * the first '=', each part percent-decoded, then encoded and sorted as
 * above.  NULL with *cause on a malformed %-escape.
 */
char	*ph_s3_query_canon_raw(const char *raw, char **cause);

/* Lower-case hex sha256 of n bytes of p into out (65 bytes). */
void	 ph_s3_sha256_hex(const void *p, size_t n, char out[65]);

/* ---- where: s3://BUCKET/PREFIX, region, endpoint (s3-url.c) ---- */

struct ph_s3_location {
	char	*bucket;
	char	*prefix;	/* "" or ending in '/' */
	char	*region;
	char	*endpoint;	/* scheme://host[:port], no trailing '/' */
	int	 path_style;	/* 1: ENDPOINT/BUCKET/KEY; 0: BUCKET.host/KEY */
};

/*
 * Parse url (s3://BUCKET[/PREFIX]) with region (NULL: $AWS_REGION,
 * $AWS_DEFAULT_REGION, else us-east-1) and endpoint (NULL:
 * $AWS_ENDPOINT_URL_S3, else https://s3.REGION.amazonaws.com with
 * virtual-hosted addressing; a given endpoint is addressed path-style).
 */
int	 ph_s3_location_parse(const char *url, const char *region,
	    const char *endpoint, struct ph_s3_location *loc, char **cause);
void	 ph_s3_location_clear(struct ph_s3_location *loc);

/* ---- the client ---- */

struct ph_s3_config {
	const char	*url;		/* s3://BUCKET/PREFIX */
	const char	*region;	/* NULL: see ph_s3_location_parse */
	const char	*endpoint;	/* NULL: see ph_s3_location_parse */
	size_t		 part_size;	/* 0: PH_S3_DEFAULT_PART; >= PH_S3_MIN_PART */
	size_t		 max_reply;	/* 0: PH_S3_DEFAULT_REPLY */
	int		 max_uploads;	/* 0: 4 */
	int		 max_ops;	/* 0: 16 (gets, lists, deletes, puts) */
	int		 refresh_margin; /* 0: PH_S3_REFRESH_MARGIN seconds */
	void		(*wake)(void *arg);	/* on the worker thread */
	void		*wake_arg;
	/*
	 * Tests only: leave the query as written and let curl sign it, as
	 * curl 7.88 does wrongly (the verifying front must refuse it).
	 */
	int		 curl_query_signing;
};

struct ph_s3_client;

/*
 * Credentials come from the environment when AWS_ACCESS_KEY_ID and
 * AWS_SECRET_ACCESS_KEY are set (AWS_SESSION_TOKEN optional), else from the
 * ECS container credentials endpoint: http://169.254.170.2 +
 * AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, or AWS_CONTAINER_CREDENTIALS_FULL_URI
 * with AWS_CONTAINER_AUTHORIZATION_TOKEN (or _TOKEN_FILE) as its
 * Authorization header; those are fetched by the worker, and again
 * refresh_margin seconds before their Expiration.  Neither: an error here.
 */
struct ph_s3_client *ph_s3_client_new(const struct ph_s3_config *cfg, char **cause);
/*
 * Stops the worker, cancels what is still running and aborts unfinished
 * multipart uploads (blocking, 10 s at most each).  Objects not yet freed
 * are destroyed with it: free them first.
 */
void	 ph_s3_client_free(struct ph_s3_client *c);
const struct ph_s3_location *ph_s3_client_location(struct ph_s3_client *c);
/*
 * Tools only (blocks): wait until the worker next reports a change, or
 * timeout_ms passes.
 */
void	 ph_s3_client_wait(struct ph_s3_client *c, int timeout_ms);
/* How many credential fetches the client made (tests). */
int	 ph_s3_client_cred_fetches(struct ph_s3_client *c);

enum ph_s3_state {
	PH_S3_RUNNING,
	PH_S3_DONE,
	PH_S3_FAILED,
};

/*
 * A streaming upload of PREFIX+key.  Bytes written fill a part buffer; a
 * full one is sent as the next part while the other fills.  A stream that
 * ends before its first part is full is sent as one PUT.
 */
struct ph_s3_upload;
/* NULL with *cause when max_uploads are running. */
struct ph_s3_upload *ph_s3_upload_new(struct ph_s3_client *c, const char *key,
	    char **cause);
/*
 * Take up to n bytes: returns how many were taken; 0 when both part buffers
 * are full (wait for wake) or the upload has failed.  Not after _finish.
 */
size_t	 ph_s3_upload_write(struct ph_s3_upload *u, const void *p, size_t n);
/* The stream has ended: send the last part and complete. */
void	 ph_s3_upload_finish(struct ph_s3_upload *u);
/* The state; with PH_S3_FAILED, *cause (if cause) gets a copy of why. */
enum ph_s3_state ph_s3_upload_state(struct ph_s3_upload *u, char **cause);
/* Bytes taken so far. */
uint64_t ph_s3_upload_bytes(struct ph_s3_upload *u);
/* Frees; a multipart upload not completed is aborted (DELETE ?uploadId=). */
void	 ph_s3_upload_free(struct ph_s3_upload *u);

/*
 * A streamed read of PREFIX+key through a ring of PH_S3_GET_RING bytes; the
 * transfer pauses while the ring is full.
 */
struct ph_s3_get;
struct ph_s3_get *ph_s3_get_new(struct ph_s3_client *c, const char *key,
	    char **cause);
/*
 * Copy up to n bytes out: > 0 bytes copied; 0 at the end of the object
 * (state DONE); -1 with errno EAGAIN when nothing is there yet (wait for
 * wake), -1 with errno EIO when failed (see _state).
 */
ssize_t	 ph_s3_get_read(struct ph_s3_get *g, void *p, size_t n);
enum ph_s3_state ph_s3_get_state(struct ph_s3_get *g, char **cause);
/* The object's Content-Length when known, else -1. */
int64_t	 ph_s3_get_size(struct ph_s3_get *g);
void	 ph_s3_get_free(struct ph_s3_get *g);

/*
 * One object of a listing; key relative to the client's prefix, as the
 * bucket holds it (anyone who can write there chose it: make it printable
 * before showing it).
 */
struct ph_s3_entry {
	char		*key;
	uint64_t	 size;
	char		*etag;
	char		*modified;	/* as S3 gives it: 2026-12-06T01:02:03.000Z */
};

/*
 * Other operations: ListObjectsV2 under PREFIX+sub (every page, page_keys
 * at a time: 0 for S3's default of 1000; at most max_entries kept, more
 * fails), DeleteObject, PutObject of a small body (at most max_reply
 * bytes, copied).
 */
struct ph_s3_op;
struct ph_s3_op *ph_s3_list_new(struct ph_s3_client *c, const char *sub,
	    int page_keys, size_t max_entries, char **cause);
struct ph_s3_op *ph_s3_delete_new(struct ph_s3_client *c, const char *key,
	    char **cause);
struct ph_s3_op *ph_s3_put_new(struct ph_s3_client *c, const char *key,
	    const void *body, size_t len, const char *content_type, char **cause);
enum ph_s3_state ph_s3_op_state(struct ph_s3_op *o, char **cause);
/* A done listing's entries (owned by the op), and how many pages it took. */
const struct ph_s3_entry *ph_s3_op_entries(struct ph_s3_op *o, size_t *n,
	    int *pages);
void	 ph_s3_op_free(struct ph_s3_op *o);

#endif
