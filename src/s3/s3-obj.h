/*
 * s3-obj.h - the S3 client's objects, requests and worker, shared by the
 * files that make the client (not installed):
 *   s3-client.c   the client, its worker thread and what all objects share
 *   s3-req.c      one signed HTTP request on the client's curl multi handle
 *   s3-upload.c   streaming multipart uploads
 *   s3-get.c      streamed gets
 *   s3-op.c       listings, deletes and small puts
 *
 * Sharing.  The caller's thread and the worker share each object's
 * caller-side fields (marked "mu") under the client's mutex; the worker
 * alone touches the rest, and alone frees objects: a _free from the caller
 * marks the object and wakes the worker, which cancels its transfer (and
 * aborts an unfinished multipart upload) before freeing it.  Functions
 * named *_step and *_done, and the s3_req_* ones, run on the worker.
 */
#ifndef PORTHOLE_S3_OBJ_H
#define PORTHOLE_S3_OBJ_H

#include <pthread.h>

#include "s3-int.h"

enum obj_kind { OBJ_UPLOAD, OBJ_GET, OBJ_OP };
enum op_kind { OP_LIST, OP_DELETE, OP_PUT };

struct s3_req;

/* What every object starts with. */
struct obj {
	enum obj_kind	 kind;
	struct obj	*next;		/* the client's list (mu) */
	struct ph_s3_client *c;
	char		*key;		/* the full key, prefix included */
	enum ph_s3_state state;		/* mu */
	char		*cause;		/* mu */
	int		 freed;		/* mu: the caller let go */
	struct s3_req	*req;		/* the request in flight */
	int		 attempts;	/* failed tries of the current request */
	int64_t		 retry_at;	/* not before (ph_mono_ms) */
};

/* Tries of one request that failed in a way worth trying again. */
#define S3_TRIES	4

struct ph_s3_upload {
	struct obj	 o;
	unsigned char	*fill;		/* mu: the part being filled */
	size_t		 fill_len;	/* mu */
	int		 finished;	/* mu: no more bytes */
	uint64_t	 bytes;		/* mu */
	unsigned char	*send;		/* the part being sent */
	size_t		 send_len;
	int		 send_ready;	/* send holds a part not yet sent */
	int		 send_last;	/* ...and it is the last */
	int		 last_taken;	/* mu: the last part moved to send */
	char		*upload_id;
	char		**etags;
	int		 nparts;
	int		 completing;	/* the complete request was sent */
	int		 aborting;
};

struct ph_s3_get {
	struct obj	 o;
	unsigned char	*ring;		/* mu */
	size_t		 head, len;	/* mu */
	int		 eof;		/* mu */
	int		 paused;	/* mu: the transfer waits for room */
	int		 started;
	int64_t		 size;		/* mu */
};

struct ph_s3_op {
	struct obj		 o;
	enum op_kind		 op;
	unsigned char		*body;	/* a put's body */
	size_t			 body_len;
	char			*ctype;
	int			 page_keys;
	size_t			 max_entries;
	char			*token;	/* the next page's continuation token */
	int			 pages;
	int			 started;
	struct ph_s3_entry	*ents;	/* mu after DONE */
	size_t			 nents;
};

/* One HTTP request in flight. */
struct s3_req {
	CURL			*easy;
	struct curl_slist	*hdrs;
	char			*url;
	char			*what;	/* "PUT part 3 (N bytes) KEY", for errors */
	struct obj		*owner;
	struct s3_reply		 reply;
	char			*etag;
	long			 status;
	int			 to_ring;	/* a get's 2xx body */
	int			 delivered;	/* ...of which some went out */
	char			 errbuf[CURL_ERROR_SIZE];
};

struct ph_s3_client {
	struct ph_s3_location	 loc;
	struct ph_s3_config	 cfg;
	struct s3_credsrc	 creds;
	pthread_t		 thr;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	unsigned long		 gen;		/* mu: bumped at each report */
	int			 wake_pending;	/* mu */
	int			 stop;		/* mu */
	struct obj		*objs;		/* mu */
	int			 nuploads;	/* mu */
	int			 nops;		/* mu */
	int			 fetches;	/* mu: copy of creds.fetches */
	CURLM			*multi;
};

/* s3-client.c */
void	*s3_xcalloc(size_t n, size_t size);
/* Tell the caller something changed (mu held). */
void	 s3_report(struct ph_s3_client *c);
/* Fail an object with a cause, taken (mu held); the first cause wins. */
void	 s3_fail_obj(struct obj *o, char *cause);
/* Wake the worker (any thread). */
void	 s3_kick(struct ph_s3_client *c);
/* PREFIX+key, checked; NULL with *cause. */
char	*s3_full_key(struct ph_s3_client *c, const char *key, int allow_empty,
	    char **cause);
/* Register an object (the bounds checked); -1 with *cause. */
int	 s3_attach(struct ph_s3_client *c, struct obj *o, enum obj_kind kind,
	    char **cause);
/* The caller lets go of an object. */
void	 s3_release(struct obj *o);
enum ph_s3_state s3_state_of(struct obj *o, char **cause);

/* s3-req.c */
/*
 * Start a request: method on the object key (NULL: the bucket), query
 * parameters, an optional body (which must outlive the request).  NULL
 * with *cause when there are no credentials.
 */
struct s3_req *s3_req_start(struct ph_s3_client *c, struct obj *owner,
	    const char *method, const char *key, const struct ph_s3_qparam *q,
	    size_t nq, const void *body, size_t len, const char *ctype,
	    const char *what, char **cause);
void	 s3_req_free(struct ph_s3_client *c, struct s3_req *r);
/* The error of a finished request, or NULL if it succeeded (2xx). */
char	*s3_req_error(struct s3_req *r, CURLcode rc);

/* s3-upload.c, s3-get.c, s3-op.c: start what is due; take a finished request. */
void	 s3_upload_step(struct ph_s3_client *c, struct ph_s3_upload *u);
void	 s3_upload_done(struct ph_s3_client *c, struct ph_s3_upload *u,
	    struct s3_req *r, char *err);
void	 s3_get_step(struct ph_s3_client *c, struct ph_s3_get *g);
void	 s3_get_done(struct ph_s3_client *c, struct ph_s3_get *g, struct s3_req *r,
	    char *err);
void	 s3_op_step(struct ph_s3_client *c, struct ph_s3_op *o);
void	 s3_op_done(struct ph_s3_client *c, struct ph_s3_op *o, struct s3_req *r,
	    char *err);

#endif
