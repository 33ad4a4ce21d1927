/*
 * s3-client.c - the S3 client's worker thread and its objects: streaming
 * multipart uploads, streamed gets, listings, deletes and small puts, all
 * driven by one curl multi handle on one thread (see s3.h for why and for
 * the bounds).
 *
 * Sharing.  The caller's thread and the worker share each object's
 * caller-side fields (marked "mu") under the client's mutex; the worker
 * alone touches the rest, and alone frees objects: a _free from the caller
 * marks the object and wakes the worker, which cancels its transfer (and
 * aborts an unfinished multipart upload) before freeing it.
 *
 * Every request is signed by curl (CURLOPT_AWS_SIGV4) over a URL whose
 * query is already canonical and with x-amz-content-sha256 set: curl 7.88
 * signs the query as it finds it and sends no payload hash.  Bodies go as
 * POSTFIELDS (with the method set) so that the payload curl hashes is the
 * body sent.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "porthole/printable.h"
#include "porthole/util.h"
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

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void
curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (p == NULL)
		abort();
	return p;
}

/* Tell the caller something changed (mu held). */
static void
report(struct ph_s3_client *c)
{
	c->gen++;
	c->wake_pending = 1;
	pthread_cond_broadcast(&c->cv);
}

/* Fail an object with a cause (mu held); the first cause wins. */
static void
fail_obj(struct obj *o, char *cause)
{
	if (o->state == PH_S3_RUNNING) {
		o->state = PH_S3_FAILED;
		o->cause = cause;
	} else
		free(cause);
	report(o->c);
}

/* ---- requests ---- */

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct s3_req	*r = arg;
	size_t		 len = size * n;

	if (len > 5 && strncasecmp(p, "ETag:", 5) == 0 && r->etag == NULL) {
		const char *v = p + 5, *e = p + len;

		while (v < e && (*v == ' ' || *v == '\t'))
			v++;
		while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '))
			e--;
		if (e - v < 200)
			r->etag = ph_asprintf("%.*s", (int)(e - v), v);
	}
	return len;
}

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct s3_req		*r = arg;
	struct ph_s3_get	*g;
	size_t			 len = size * n, off, first;
	long			 status = 0;

	if (!r->to_ring)
		return s3_reply_add(&r->reply, p, len);
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299)
		return s3_reply_add(&r->reply, p, len);
	g = (struct ph_s3_get *)r->owner;
	pthread_mutex_lock(&g->o.c->mu);
	if (g->o.freed || PH_S3_GET_RING - g->len < len) {
		int freed = g->o.freed;

		if (!freed)
			g->paused = 1;
		pthread_mutex_unlock(&g->o.c->mu);
		return freed ? 0 : CURL_WRITEFUNC_PAUSE;
	}
	off = (g->head + g->len) % PH_S3_GET_RING;
	first = PH_S3_GET_RING - off < len ? PH_S3_GET_RING - off : len;
	memcpy(g->ring + off, p, first);
	memcpy(g->ring, p + first, len - first);
	g->len += len;
	r->delivered = 1;
	report(g->o.c);
	pthread_mutex_unlock(&g->o.c->mu);
	return len;
}

/*
 * Start a request: method on the object key (NULL: the bucket), query
 * parameters, an optional body.  NULL with *cause when there are no
 * credentials.
 */
static struct s3_req *
req_start(struct ph_s3_client *c, struct obj *owner, const char *method,
    const char *key, const struct ph_s3_qparam *q, size_t nq,
    const void *body, size_t len, const char *ctype, const char *what,
    char **cause)
{
	const struct ph_s3_location *l = &c->loc;
	const struct s3_creds	*cr;
	struct s3_req		*r;
	char			 sha[65], *path, *query, *h, *sigv4;
	const char		*hostpart;
	size_t			 i;

	if ((cr = s3_creds_current(&c->creds, cause)) == NULL)
		return NULL;
	pthread_mutex_lock(&c->mu);
	c->fetches = c->creds.fetches;
	pthread_mutex_unlock(&c->mu);

	r = xcalloc(1, sizeof *r);
	r->owner = owner;
	{
		/* The key in errors: the relay chose it, but it may carry names. */
		char *pk = ph_printable(key != NULL ? key : c->loc.bucket);

		r->what = ph_asprintf("%s %s", what, pk);
		free(pk);
	}
	r->reply.max = c->cfg.max_reply;
	path = key != NULL ? ph_s3_uri_encode(key, strlen(key), 1) : NULL;
	if (c->cfg.curl_query_signing) {
		/* As a caller of curl would write it; curl 7.88 signs it so. */
		query = ph_asprintf("%s", "");
		for (i = 0; i < nq; i++) {
			char *v = q[i].value != NULL ?
			    ph_s3_uri_encode(q[i].value, strlen(q[i].value), 0) : NULL;
			char *n = ph_asprintf("%s%s%s%s%s", query, i > 0 ? "&" : "",
			    q[i].key, v != NULL ? "=" : "", v != NULL ? v : "");

			free(v);
			free(query);
			query = n;
		}
	} else
		query = ph_s3_query_canon(q, nq);
	hostpart = strstr(l->endpoint, "://") + 3;
	if (l->path_style)
		r->url = ph_asprintf("%s/%s%s%s%s%s", l->endpoint, l->bucket,
		    path != NULL ? "/" : "", path != NULL ? path : "",
		    *query != '\0' ? "?" : "", query);
	else
		r->url = ph_asprintf("%.*s%s.%s/%s%s%s",
		    (int)(hostpart - l->endpoint), l->endpoint, l->bucket, hostpart,
		    path != NULL ? path : "", *query != '\0' ? "?" : "", query);
	free(path);
	free(query);

	ph_s3_sha256_hex(body != NULL ? body : "", len, sha);
	h = ph_asprintf("x-amz-content-sha256: %s", sha);
	r->hdrs = curl_slist_append(r->hdrs, h);
	free(h);
	if (cr->token != NULL) {
		h = ph_asprintf("x-amz-security-token: %s", cr->token);
		r->hdrs = curl_slist_append(r->hdrs, h);
		explicit_bzero(h, strlen(h));
		free(h);
	}
	/*
	 * curl 7.88 signs every header given here, even "Name:" (which it
	 * then does not send): no removals.  A body always has a type (curl
	 * would add a form's, unsigned).
	 */
	if (ctype == NULL && strcmp(method, "GET") != 0)
		ctype = "application/octet-stream";
	if (ctype != NULL) {
		h = ph_asprintf("Content-Type: %s", ctype);
		r->hdrs = curl_slist_append(r->hdrs, h);
		free(h);
	}

	if ((r->easy = curl_easy_init()) == NULL)
		abort();
	curl_easy_setopt(r->easy, CURLOPT_URL, r->url);
	curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
	curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	/* A stalled transfer: under 1 KiB/s for a minute. */
	curl_easy_setopt(r->easy, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(r->easy, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_BUFFERSIZE, 16384L);
	sigv4 = ph_asprintf("aws:amz:%s:s3", l->region);
	curl_easy_setopt(r->easy, CURLOPT_AWS_SIGV4, sigv4);
	free(sigv4);
	curl_easy_setopt(r->easy, CURLOPT_USERNAME, cr->akid);
	curl_easy_setopt(r->easy, CURLOPT_PASSWORD, cr->secret);
	if (strcmp(method, "GET") != 0) {
		/* The body curl hashes for the signature is the one sent. */
		curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, body != NULL ? body : "");
		curl_easy_setopt(r->easy, CURLOPT_CUSTOMREQUEST, method);
	}
	curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->hdrs);
	owner->req = r;
	curl_multi_add_handle(c->multi, r->easy);
	return r;
}

static void
req_free(struct ph_s3_client *c, struct s3_req *r)
{
	if (r == NULL)
		return;
	if (r->owner != NULL && r->owner->req == r)
		r->owner->req = NULL;
	curl_multi_remove_handle(c->multi, r->easy);
	curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->hdrs);
	free(r->url);
	free(r->what);
	free(r->etag);
	s3_reply_clear(&r->reply);
	free(r);
}

/* The error of a finished request, or NULL if it succeeded (2xx). */
static char *
req_error(struct s3_req *r, CURLcode rc)
{
	char *e, *out;

	if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && r->reply.too_big))
		return ph_asprintf("s3: %s: %s", r->what,
		    r->errbuf[0] != '\0' ? r->errbuf : curl_easy_strerror(rc));
	if (r->status >= 200 && r->status <= 299 && !r->reply.too_big)
		return NULL;
	e = s3_error_text(r->status, &r->reply);
	out = ph_asprintf("s3: %s: %s", r->what, e);
	free(e);
	return out;
}

/* ---- uploads ---- */

static void
upload_step(struct ph_s3_client *c, struct ph_s3_upload *u)
{
	char		*cause = NULL, what[96], num[16], *body;
	size_t		 i, len;

	if (u->o.req != NULL)
		return;
	pthread_mutex_lock(&c->mu);
	if (u->o.state == PH_S3_RUNNING && !u->o.freed && u->o.retry_at > ph_mono_ms()) {
		pthread_mutex_unlock(&c->mu);
		return;
	}
	if (u->o.state != PH_S3_RUNNING || u->o.freed) {
		pthread_mutex_unlock(&c->mu);
		if (u->upload_id != NULL && !u->aborting &&
		    (u->o.state == PH_S3_FAILED || u->o.freed) &&
		    u->o.state != PH_S3_DONE) {
			struct ph_s3_qparam q[] = { { "uploadId", u->upload_id } };

			u->aborting = 1;
			if (req_start(c, &u->o, "DELETE", u->o.key, q, 1, NULL, 0,
			    NULL, "abort upload", &cause) == NULL)
				free(cause);
		}
		return;
	}
	if (!u->send_ready && u->finished && !u->last_taken &&
	    u->fill_len == 0 && u->nparts > 0) {
		/* The stream ended on a part's edge: nothing more to send. */
		u->last_taken = 1;
	} else if (!u->send_ready && (u->fill_len == c->cfg.part_size ||
	    (u->finished && !u->last_taken))) {
		unsigned char *t = u->send;

		u->send = u->fill;
		u->send_len = u->fill_len;
		u->fill = t;
		u->fill_len = 0;
		u->send_ready = 1;
		if (u->finished) {
			u->last_taken = 1;
			u->send_last = 1;
		}
		report(c);	/* room to write again */
	}
	pthread_mutex_unlock(&c->mu);

	if (u->send_ready && u->send_last && u->nparts == 0 && u->upload_id == NULL) {
		snprintf(what, sizeof what, "PUT (single, %zu bytes)", u->send_len);
		if (req_start(c, &u->o, "PUT", u->o.key, NULL, 0, u->send,
		    u->send_len, "application/octet-stream", what, &cause) == NULL)
			goto fail;
		return;
	}
	if (u->send_ready && u->upload_id == NULL) {
		struct ph_s3_qparam q[] = { { "uploads", NULL } };

		if (req_start(c, &u->o, "POST", u->o.key, q, 1, NULL, 0,
		    "application/octet-stream", "create multipart upload", &cause) == NULL)
			goto fail;
		return;
	}
	if (u->send_ready) {
		if (u->nparts >= PH_S3_MAX_PARTS) {
			cause = ph_asprintf("s3: more than %d parts: the stream is "
			    "longer than %d x %zu bytes", PH_S3_MAX_PARTS,
			    PH_S3_MAX_PARTS, c->cfg.part_size);
			goto fail;
		}
		snprintf(num, sizeof num, "%d", u->nparts + 1);
		struct ph_s3_qparam q[] = { { "partNumber", num },
		    { "uploadId", u->upload_id } };
		snprintf(what, sizeof what, "PUT part %d (%zu bytes)", u->nparts + 1,
		    u->send_len);
		if (req_start(c, &u->o, "PUT", u->o.key, q, 2, u->send, u->send_len,
		    NULL, what, &cause) == NULL)
			goto fail;
		return;
	}
	if (u->last_taken && u->upload_id != NULL && !u->completing) {
		struct ph_s3_qparam q[] = { { "uploadId", u->upload_id } };

		len = 64;
		for (i = 0; i < (size_t)u->nparts; i++)
			len += strlen(u->etags[i]) * 6 + 80;
		body = xcalloc(1, len);
		strcpy(body, "<CompleteMultipartUpload>");
		for (i = 0; i < (size_t)u->nparts; i++) {
			char *e = u->etags[i], part[400];
			size_t n = strlen(body);

			/* ETags are quoted hex: nothing to escape but the quotes. */
			snprintf(part, sizeof part, "<Part><PartNumber>%zu</PartNumber>"
			    "<ETag>%s</ETag></Part>", i + 1, e);
			memcpy(body + n, part, strlen(part) + 1);
		}
		strcat(body, "</CompleteMultipartUpload>");
		u->completing = 1;
		/* The body must outlive the request: keep it in send. */
		free(u->send);
		u->send = (unsigned char *)body;
		u->send_len = strlen(body);
		if (req_start(c, &u->o, "POST", u->o.key, q, 1, u->send, u->send_len,
		    "application/xml", "complete multipart upload", &cause) == NULL)
			goto fail;
	}
	return;
fail:
	pthread_mutex_lock(&c->mu);
	fail_obj(&u->o, cause);
	pthread_mutex_unlock(&c->mu);
}

static void
upload_done(struct ph_s3_client *c, struct ph_s3_upload *u, struct s3_req *r,
    char *err)
{
	char *id;

	if (u->aborting) {	/* nothing more to do; an abort's failure is moot */
		free(err);
		return;
	}
	if (err != NULL)
		goto fail;
	if (u->completing) {
		/* S3 may answer 200 with an <Error> inside. */
		if (r->reply.buf != NULL && strstr(r->reply.buf, "<Error>") != NULL) {
			char *e = s3_error_text(r->status, &r->reply);

			err = ph_asprintf("s3: complete multipart upload: %s", e);
			free(e);
			goto fail;
		}
		pthread_mutex_lock(&c->mu);
		u->o.state = PH_S3_DONE;
		report(c);
		pthread_mutex_unlock(&c->mu);
		return;
	}
	if (u->upload_id == NULL && !(u->send_last && u->nparts == 0)) {
		id = s3_xml_tag(r->reply.buf, r->reply.len, "UploadId", NULL);
		if (id == NULL || *id == '\0' || strlen(id) > 1024) {
			free(id);
			err = ph_asprintf("s3: create multipart upload: no UploadId in the reply");
			goto fail;
		}
		u->upload_id = id;
		return;
	}
	if (u->upload_id == NULL) {	/* the single PUT */
		pthread_mutex_lock(&c->mu);
		u->o.state = PH_S3_DONE;
		report(c);
		pthread_mutex_unlock(&c->mu);
		return;
	}
	if (r->etag == NULL) {
		err = ph_asprintf("s3: %s: no ETag in the reply", r->what);
		goto fail;
	}
	if (u->etags == NULL)
		u->etags = xcalloc(PH_S3_MAX_PARTS, sizeof *u->etags);
	if (strchr(r->etag, '<') != NULL || strchr(r->etag, '&') != NULL) {
		err = ph_asprintf("s3: %s: a malformed ETag", r->what);
		goto fail;
	}
	u->etags[u->nparts++] = r->etag;
	r->etag = NULL;
	u->send_ready = 0;
	u->send_len = 0;
	return;
fail:
	pthread_mutex_lock(&c->mu);
	fail_obj(&u->o, err);
	pthread_mutex_unlock(&c->mu);
}

/* ---- gets ---- */

static void
get_step(struct ph_s3_client *c, struct ph_s3_get *g)
{
	char *cause = NULL;
	int resume = 0;

	if (g->started) {
		pthread_mutex_lock(&c->mu);
		if (g->paused && g->o.req != NULL &&
		    PH_S3_GET_RING - g->len >= PH_S3_GET_RING / 2) {
			g->paused = 0;
			resume = 1;
		}
		pthread_mutex_unlock(&c->mu);
		/* Unlocked: curl may deliver the held data right away. */
		if (resume)
			curl_easy_pause(g->o.req->easy, CURLPAUSE_CONT);
		return;
	}
	if (g->o.retry_at > ph_mono_ms())
		return;
	g->started = 1;
	if (req_start(c, &g->o, "GET", g->o.key, NULL, 0, NULL, 0, NULL, "GET",
	    &cause) == NULL) {
		pthread_mutex_lock(&c->mu);
		fail_obj(&g->o, cause);
		pthread_mutex_unlock(&c->mu);
		return;
	}
	g->o.req->to_ring = 1;
}

static void
get_done(struct ph_s3_client *c, struct ph_s3_get *g, struct s3_req *r, char *err)
{
	pthread_mutex_lock(&c->mu);
	if (err != NULL)
		fail_obj(&g->o, err);
	else {
		g->eof = 1;
		g->o.state = PH_S3_DONE;
		report(c);
	}
	pthread_mutex_unlock(&c->mu);
}

/* ---- listings, deletes, puts ---- */

static void
op_step(struct ph_s3_client *c, struct ph_s3_op *o)
{
	char	*cause = NULL, keys[16];

	if (o->o.req != NULL || o->started || o->o.retry_at > ph_mono_ms())
		return;
	o->started = 1;
	if (o->op == OP_LIST) {
		struct ph_s3_qparam q[4];
		size_t n = 0;

		q[n++] = (struct ph_s3_qparam){ "list-type", "2" };
		q[n++] = (struct ph_s3_qparam){ "prefix", o->o.key };
		if (o->page_keys > 0) {
			snprintf(keys, sizeof keys, "%d", o->page_keys);
			q[n++] = (struct ph_s3_qparam){ "max-keys", keys };
		}
		if (o->token != NULL)
			q[n++] = (struct ph_s3_qparam){ "continuation-token", o->token };
		if (req_start(c, &o->o, "GET", NULL, q, n, NULL, 0, NULL,
		    "list objects", &cause) != NULL)
			return;
	} else if (o->op == OP_DELETE) {
		if (req_start(c, &o->o, "DELETE", o->o.key, NULL, 0, NULL, 0, NULL,
		    "DELETE", &cause) != NULL)
			return;
	} else {
		if (req_start(c, &o->o, "PUT", o->o.key, NULL, 0, o->body, o->body_len,
		    o->ctype, "PUT", &cause) != NULL)
			return;
	}
	pthread_mutex_lock(&c->mu);
	fail_obj(&o->o, cause);
	pthread_mutex_unlock(&c->mu);
}

/* Parse one page of ListObjectsV2 into o; -1 with *err. */
static int
list_page(struct ph_s3_client *c, struct ph_s3_op *o, struct s3_req *r, char **err)
{
	char *cause;

	o->pages++;
	free(o->token);
	o->token = NULL;
	if (s3_list_page(r->reply.buf, r->reply.len, c->loc.prefix, o->max_entries,
	    &o->ents, &o->nents, &o->token, &cause) != 0) {
		*err = ph_asprintf("s3: list objects: %s", cause);
		free(cause);
		return -1;
	}
	return 0;
}

static void
op_done(struct ph_s3_client *c, struct ph_s3_op *o, struct s3_req *r, char *err)
{
	if (err == NULL && o->op == OP_LIST) {
		if (list_page(c, o, r, &err) == 0 && o->token != NULL) {
			o->started = 0;	/* the next page */
			return;
		}
	}
	pthread_mutex_lock(&c->mu);
	if (err != NULL)
		fail_obj(&o->o, err);
	else {
		o->o.state = PH_S3_DONE;
		report(c);
	}
	pthread_mutex_unlock(&c->mu);
}

/* ---- the worker ---- */

static void
obj_destroy(struct ph_s3_client *c, struct obj *o)
{
	size_t i;

	req_free(c, o->req);
	free(o->key);
	free(o->cause);
	if (o->kind == OBJ_UPLOAD) {
		struct ph_s3_upload *u = (struct ph_s3_upload *)o;

		free(u->fill);
		free(u->send);
		free(u->upload_id);
		for (i = 0; i < (size_t)u->nparts; i++)
			free(u->etags[i]);
		free(u->etags);
	} else if (o->kind == OBJ_GET) {
		free(((struct ph_s3_get *)o)->ring);
	} else {
		struct ph_s3_op *p = (struct ph_s3_op *)o;

		s3_entries_free(p->ents, p->nents);
		free(p->body);
		free(p->ctype);
		free(p->token);
	}
	free(o);
}

/* Free what the caller let go of and whose last request is over. */
static void
reap(struct ph_s3_client *c)
{
	struct obj **pp, *o;

	pthread_mutex_lock(&c->mu);
	for (pp = &c->objs; (o = *pp) != NULL;) {
		int busy;

		if (!o->freed) {
			pp = &o->next;
			continue;
		}
		if (o->kind == OBJ_UPLOAD) {
			struct ph_s3_upload *u = (struct ph_s3_upload *)o;

			/* An unfinished multipart upload is aborted first. */
			busy = (u->o.req != NULL && u->aborting) ||
			    (u->upload_id != NULL && !u->aborting &&
			    o->state != PH_S3_DONE);
			if (u->o.req != NULL && !u->aborting) {
				pthread_mutex_unlock(&c->mu);
				req_free(c, u->o.req);
				pthread_mutex_lock(&c->mu);
			}
		} else {
			busy = 0;
		}
		if (busy) {
			pp = &o->next;
			continue;
		}
		*pp = o->next;
		if (o->kind == OBJ_UPLOAD)
			c->nuploads--;
		else
			c->nops--;
		pthread_mutex_unlock(&c->mu);
		obj_destroy(c, o);
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
}

static void
step_all(struct ph_s3_client *c)
{
	struct obj *o, **list;
	size_t n = 0, i;

	/* A snapshot: only this thread removes objects. */
	pthread_mutex_lock(&c->mu);
	for (o = c->objs; o != NULL; o = o->next)
		n++;
	list = xcalloc(n + 1, sizeof *list);
	n = 0;
	for (o = c->objs; o != NULL; o = o->next)
		list[n++] = o;
	pthread_mutex_unlock(&c->mu);
	for (i = 0; i < n; i++) {
		o = list[i];
		if (o->kind == OBJ_UPLOAD)
			upload_step(c, (struct ph_s3_upload *)o);
		else if (o->kind == OBJ_GET)
			get_step(c, (struct ph_s3_get *)o);
		else
			op_step(c, (struct ph_s3_op *)o);
	}
	free(list);
}

/*
 * Worth trying again: S3's "try again" answers (500, 503 SlowDown, and
 * 502/504 from what stands before it) and a connection that broke.
 */
static int
retryable(struct s3_req *r, CURLcode rc)
{
	switch (rc) {
	case CURLE_OK:
	case CURLE_WRITE_ERROR:	/* a reply over the bound */
		return !r->reply.too_big && (r->status == 500 || r->status == 502 ||
		    r->status == 503 || r->status == 504);
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_OPERATION_TIMEDOUT:
		return 1;
	default:
		return 0;
	}
}

static void
finished(struct ph_s3_client *c, CURLMsg *m)
{
	struct s3_req	*r = NULL;
	struct obj	*o;
	char		*err;

	curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
	o = r->owner;
	err = req_error(r, m->data.result);
	if (err == NULL)
		o->attempts = 0;
	else if (retryable(r, m->data.result) && o->attempts + 1 < S3_TRIES &&
	    !r->delivered && !(o->kind == OBJ_UPLOAD &&
	    ((struct ph_s3_upload *)o)->aborting)) {
		/* The same request again, after 0.5, 1, 2 s. */
		o->retry_at = ph_mono_ms() + (500 << o->attempts);
		o->attempts++;
		if (o->kind == OBJ_UPLOAD)
			((struct ph_s3_upload *)o)->completing = 0;
		else if (o->kind == OBJ_GET)
			((struct ph_s3_get *)o)->started = 0;
		else
			((struct ph_s3_op *)o)->started = 0;
		free(err);
		req_free(c, r);
		return;
	}
	if (o->kind == OBJ_GET && err == NULL) {
		curl_off_t cl = -1;

		curl_easy_getinfo(r->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
		pthread_mutex_lock(&c->mu);
		((struct ph_s3_get *)o)->size = cl;
		pthread_mutex_unlock(&c->mu);
	}
	curl_multi_remove_handle(c->multi, r->easy);
	if (o->kind == OBJ_UPLOAD)
		upload_done(c, (struct ph_s3_upload *)o, r, err);
	else if (o->kind == OBJ_GET)
		get_done(c, (struct ph_s3_get *)o, r, err);
	else
		op_done(c, (struct ph_s3_op *)o, r, err);
	req_free(c, r);
}

static void *
worker(void *arg)
{
	struct ph_s3_client	*c = arg;
	CURLMsg			*m;
	int			 running, left, stop, wake;

	for (;;) {
		pthread_mutex_lock(&c->mu);
		stop = c->stop;
		pthread_mutex_unlock(&c->mu);
		if (stop)
			break;
		reap(c);
		step_all(c);
		curl_multi_perform(c->multi, &running);
		while ((m = curl_multi_info_read(c->multi, &left)) != NULL)
			if (m->msg == CURLMSG_DONE)
				finished(c, m);
		pthread_mutex_lock(&c->mu);
		wake = c->wake_pending;
		c->wake_pending = 0;
		pthread_mutex_unlock(&c->mu);
		if (wake) {
			if (c->cfg.wake != NULL)
				c->cfg.wake(c->cfg.wake_arg);
			continue;	/* a step may be due now */
		}
		curl_multi_poll(c->multi, NULL, 0, 1000, NULL);
	}
	return NULL;
}

static void
kick(struct ph_s3_client *c)
{
	curl_multi_wakeup(c->multi);
}

/* ---- the caller's side ---- */

struct ph_s3_client *
ph_s3_client_new(const struct ph_s3_config *cfg, char **cause)
{
	struct ph_s3_client *c;

	pthread_once(&curl_once, curl_init_once);
	c = xcalloc(1, sizeof *c);
	c->cfg = *cfg;
	c->cfg.url = NULL;
	c->cfg.region = NULL;
	c->cfg.endpoint = NULL;
	if (c->cfg.part_size == 0)
		c->cfg.part_size = PH_S3_DEFAULT_PART;
	if (c->cfg.max_reply == 0)
		c->cfg.max_reply = PH_S3_DEFAULT_REPLY;
	if (c->cfg.max_uploads <= 0)
		c->cfg.max_uploads = 4;
	if (c->cfg.max_ops <= 0)
		c->cfg.max_ops = 16;
	if (c->cfg.refresh_margin <= 0)
		c->cfg.refresh_margin = PH_S3_REFRESH_MARGIN;
	if (c->cfg.part_size < PH_S3_MIN_PART) {
		*cause = ph_asprintf("s3: a part size under %u bytes (S3's least)",
		    PH_S3_MIN_PART);
		free(c);
		return NULL;
	}
	if (ph_s3_location_parse(cfg->url, cfg->region, cfg->endpoint, &c->loc,
	    cause) != 0) {
		free(c);
		return NULL;
	}
	if (s3_credsrc_init(&c->creds, c->cfg.refresh_margin, 65536, cause) != 0) {
		ph_s3_location_clear(&c->loc);
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	if ((c->multi = curl_multi_init()) == NULL)
		abort();
	if (pthread_create(&c->thr, NULL, worker, c) != 0) {
		*cause = ph_asprintf("s3: cannot start the worker thread");
		curl_multi_cleanup(c->multi);
		s3_credsrc_clear(&c->creds);
		ph_s3_location_clear(&c->loc);
		free(c);
		return NULL;
	}
	return c;
}

/* Abort an unfinished multipart upload at shutdown (blocking, bounded). */
static void
abort_now(struct ph_s3_client *c, struct ph_s3_upload *u)
{
	struct ph_s3_qparam	 q[] = { { "uploadId", u->upload_id } };
	struct s3_req		*r;
	char			*cause = NULL;
	int			 running = 1, left;

	req_free(c, u->o.req);
	u->aborting = 1;
	if ((r = req_start(c, &u->o, "DELETE", u->o.key, q, 1, NULL, 0, NULL,
	    "abort upload", &cause)) == NULL) {
		free(cause);
		return;
	}
	curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, 10000L);
	while (running > 0) {
		curl_multi_perform(c->multi, &running);
		if (running > 0)
			curl_multi_poll(c->multi, NULL, 0, 1000, NULL);
	}
	while (curl_multi_info_read(c->multi, &left) != NULL)
		;
	req_free(c, r);
}

void
ph_s3_client_free(struct ph_s3_client *c)
{
	struct obj *o, *next;

	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = 1;
	pthread_mutex_unlock(&c->mu);
	kick(c);
	pthread_join(c->thr, NULL);
	for (o = c->objs; o != NULL; o = o->next)
		if (o->req != NULL)
			req_free(c, o->req);
	for (o = c->objs; o != NULL; o = next) {
		next = o->next;
		if (o->kind == OBJ_UPLOAD) {
			struct ph_s3_upload *u = (struct ph_s3_upload *)o;

			if (u->upload_id != NULL && o->state != PH_S3_DONE && !u->aborting)
				abort_now(c, u);
		}
		obj_destroy(c, o);
	}
	curl_multi_cleanup(c->multi);
	s3_credsrc_clear(&c->creds);
	ph_s3_location_clear(&c->loc);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c);
}

const struct ph_s3_location *
ph_s3_client_location(struct ph_s3_client *c)
{
	return &c->loc;
}

void
ph_s3_client_wait(struct ph_s3_client *c, int timeout_ms)
{
	struct timespec	ts;
	unsigned long	gen;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&c->mu);
	gen = c->gen;
	while (gen == c->gen)
		if (pthread_cond_timedwait(&c->cv, &c->mu, &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&c->mu);
}

int
ph_s3_client_cred_fetches(struct ph_s3_client *c)
{
	int n;

	pthread_mutex_lock(&c->mu);
	n = c->fetches;
	pthread_mutex_unlock(&c->mu);
	return n;
}

/* A key under the prefix: no empty key, no NUL games, bounded. */
static char *
full_key(struct ph_s3_client *c, const char *key, int allow_empty, char **cause)
{
	if (key == NULL || (!allow_empty && *key == '\0') || strlen(key) > 900) {
		*cause = ph_asprintf("s3: an empty or over-long key");
		return NULL;
	}
	return ph_asprintf("%s%s", c->loc.prefix, key);
}

/* Register an object (counts checked); -1 with *cause when at the bound. */
static int
attach(struct ph_s3_client *c, struct obj *o, enum obj_kind kind, char **cause)
{
	o->kind = kind;
	o->c = c;
	o->state = PH_S3_RUNNING;
	pthread_mutex_lock(&c->mu);
	if (kind == OBJ_UPLOAD ? c->nuploads >= c->cfg.max_uploads :
	    c->nops >= c->cfg.max_ops) {
		pthread_mutex_unlock(&c->mu);
		*cause = ph_asprintf("s3: %d %s already running", kind == OBJ_UPLOAD ?
		    c->cfg.max_uploads : c->cfg.max_ops,
		    kind == OBJ_UPLOAD ? "uploads" : "operations");
		return -1;
	}
	if (kind == OBJ_UPLOAD)
		c->nuploads++;
	else
		c->nops++;
	o->next = c->objs;
	c->objs = o;
	pthread_mutex_unlock(&c->mu);
	kick(c);
	return 0;
}

static void
release(struct obj *o)
{
	if (o == NULL)
		return;
	pthread_mutex_lock(&o->c->mu);
	o->freed = 1;
	pthread_mutex_unlock(&o->c->mu);
	kick(o->c);
}

static enum ph_s3_state
state_of(struct obj *o, char **cause)
{
	enum ph_s3_state s;

	pthread_mutex_lock(&o->c->mu);
	s = o->state;
	if (s == PH_S3_FAILED && cause != NULL)
		*cause = ph_asprintf("%s", o->cause);
	pthread_mutex_unlock(&o->c->mu);
	return s;
}

struct ph_s3_upload *
ph_s3_upload_new(struct ph_s3_client *c, const char *key, char **cause)
{
	struct ph_s3_upload	*u;
	char			*k;

	if ((k = full_key(c, key, 0, cause)) == NULL)
		return NULL;
	u = xcalloc(1, sizeof *u);
	u->o.key = k;
	if ((u->fill = malloc(c->cfg.part_size)) == NULL ||
	    (u->send = malloc(c->cfg.part_size)) == NULL)
		abort();
	if (attach(c, &u->o, OBJ_UPLOAD, cause) != 0) {
		free(u->fill);
		free(u->send);
		free(k);
		free(u);
		return NULL;
	}
	return u;
}

size_t
ph_s3_upload_write(struct ph_s3_upload *u, const void *p, size_t n)
{
	struct ph_s3_client	*c = u->o.c;
	size_t			 room, take = 0;

	pthread_mutex_lock(&c->mu);
	if (u->o.state == PH_S3_RUNNING && !u->finished) {
		room = c->cfg.part_size - u->fill_len;
		take = n < room ? n : room;
		memcpy(u->fill + u->fill_len, p, take);
		u->fill_len += take;
		u->bytes += take;
	}
	room = c->cfg.part_size - u->fill_len;
	pthread_mutex_unlock(&c->mu);
	if (room == 0)
		kick(c);
	return take;
}

void
ph_s3_upload_finish(struct ph_s3_upload *u)
{
	pthread_mutex_lock(&u->o.c->mu);
	u->finished = 1;
	pthread_mutex_unlock(&u->o.c->mu);
	kick(u->o.c);
}

enum ph_s3_state
ph_s3_upload_state(struct ph_s3_upload *u, char **cause)
{
	return state_of(&u->o, cause);
}

uint64_t
ph_s3_upload_bytes(struct ph_s3_upload *u)
{
	uint64_t b;

	pthread_mutex_lock(&u->o.c->mu);
	b = u->bytes;
	pthread_mutex_unlock(&u->o.c->mu);
	return b;
}

void
ph_s3_upload_free(struct ph_s3_upload *u)
{
	release(u != NULL ? &u->o : NULL);
}

struct ph_s3_get *
ph_s3_get_new(struct ph_s3_client *c, const char *key, char **cause)
{
	struct ph_s3_get	*g;
	char			*k;

	if ((k = full_key(c, key, 0, cause)) == NULL)
		return NULL;
	g = xcalloc(1, sizeof *g);
	g->o.key = k;
	g->size = -1;
	g->ring = xcalloc(1, PH_S3_GET_RING);
	if (attach(c, &g->o, OBJ_GET, cause) != 0) {
		free(g->ring);
		free(k);
		free(g);
		return NULL;
	}
	return g;
}

ssize_t
ph_s3_get_read(struct ph_s3_get *g, void *p, size_t n)
{
	struct ph_s3_client	*c = g->o.c;
	size_t			 take, first;
	int			 kickit = 0;

	pthread_mutex_lock(&c->mu);
	if (g->len == 0) {
		enum ph_s3_state s = g->o.state;

		pthread_mutex_unlock(&c->mu);
		if (s == PH_S3_DONE)
			return 0;
		errno = s == PH_S3_FAILED ? EIO : EAGAIN;
		return -1;
	}
	take = n < g->len ? n : g->len;
	first = PH_S3_GET_RING - g->head < take ? PH_S3_GET_RING - g->head : take;
	memcpy(p, g->ring + g->head, first);
	memcpy((char *)p + first, g->ring, take - first);
	g->head = (g->head + take) % PH_S3_GET_RING;
	g->len -= take;
	kickit = g->paused;
	pthread_mutex_unlock(&c->mu);
	if (kickit)
		kick(c);
	return (ssize_t)take;
}

enum ph_s3_state
ph_s3_get_state(struct ph_s3_get *g, char **cause)
{
	return state_of(&g->o, cause);
}

int64_t
ph_s3_get_size(struct ph_s3_get *g)
{
	int64_t s;

	pthread_mutex_lock(&g->o.c->mu);
	s = g->size;
	pthread_mutex_unlock(&g->o.c->mu);
	return s;
}

void
ph_s3_get_free(struct ph_s3_get *g)
{
	release(g != NULL ? &g->o : NULL);
}

static struct ph_s3_op *
op_new(struct ph_s3_client *c, enum op_kind kind, char *key, char **cause)
{
	struct ph_s3_op *o = xcalloc(1, sizeof *o);

	o->op = kind;
	o->o.key = key;
	return o;
}

static struct ph_s3_op *
op_attach(struct ph_s3_client *c, struct ph_s3_op *o, char **cause)
{
	if (attach(c, &o->o, OBJ_OP, cause) != 0) {
		free(o->o.key);
		free(o->body);
		free(o->ctype);
		free(o);
		return NULL;
	}
	return o;
}

struct ph_s3_op *
ph_s3_list_new(struct ph_s3_client *c, const char *sub, int page_keys,
    size_t max_entries, char **cause)
{
	struct ph_s3_op	*o;
	char		*k;

	if ((k = full_key(c, sub != NULL ? sub : "", 1, cause)) == NULL)
		return NULL;
	o = op_new(c, OP_LIST, k, cause);
	o->page_keys = page_keys > 0 && page_keys <= 1000 ? page_keys : 0;
	o->max_entries = max_entries > 0 ? max_entries : 100000;
	return op_attach(c, o, cause);
}

struct ph_s3_op *
ph_s3_delete_new(struct ph_s3_client *c, const char *key, char **cause)
{
	char *k;

	if ((k = full_key(c, key, 0, cause)) == NULL)
		return NULL;
	return op_attach(c, op_new(c, OP_DELETE, k, cause), cause);
}

struct ph_s3_op *
ph_s3_put_new(struct ph_s3_client *c, const char *key, const void *body,
    size_t len, const char *content_type, char **cause)
{
	struct ph_s3_op	*o;
	char		*k;

	if (len > c->cfg.max_reply) {
		*cause = ph_asprintf("s3: a put of %zu bytes: more than %zu", len,
		    c->cfg.max_reply);
		return NULL;
	}
	if ((k = full_key(c, key, 0, cause)) == NULL)
		return NULL;
	o = op_new(c, OP_PUT, k, cause);
	o->body = xcalloc(1, len + 1);
	memcpy(o->body, body, len);
	o->body_len = len;
	o->ctype = ph_asprintf("%s", content_type != NULL ? content_type :
	    "application/octet-stream");
	return op_attach(c, o, cause);
}

enum ph_s3_state
ph_s3_op_state(struct ph_s3_op *o, char **cause)
{
	return state_of(&o->o, cause);
}

const struct ph_s3_entry *
ph_s3_op_entries(struct ph_s3_op *o, size_t *n, int *pages)
{
	if (state_of(&o->o, NULL) != PH_S3_DONE) {
		*n = 0;
		return NULL;
	}
	*n = o->nents;
	if (pages != NULL)
		*pages = o->pages;
	return o->ents;
}

void
ph_s3_op_free(struct ph_s3_op *o)
{
	release(o != NULL ? &o->o : NULL);
}
