/*
 * s3-client.c - the S3 client (s3.h): its worker thread, which drives
 * every transfer through one curl multi handle and alone frees objects,
 * and what every kind of object shares (registration within the bounds,
 * state, release).  The objects themselves: s3-upload.c, s3-get.c,
 * s3-op.c; one request: s3-req.c; the sharing rules: s3-obj.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "porthole/printable.h"
#include "porthole/util.h"
#include "s3-obj.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void
curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void *
s3_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (p == NULL)
		abort();
	return p;
}

/* Tell the caller something changed (mu held). */
void
s3_report(struct ph_s3_client *c)
{
	c->gen++;
	c->wake_pending = 1;
	pthread_cond_broadcast(&c->cv);
}

/* Fail an object with a cause (mu held); the first cause wins. */
void
s3_fail_obj(struct obj *o, char *cause)
{
	if (o->state == PH_S3_RUNNING) {
		o->state = PH_S3_FAILED;
		o->cause = cause;
	} else
		free(cause);
	s3_report(o->c);
}

static void
obj_destroy(struct ph_s3_client *c, struct obj *o)
{
	size_t i;

	s3_req_free(c, o->req);
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
				s3_req_free(c, u->o.req);
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
	list = s3_xcalloc(n + 1, sizeof *list);
	n = 0;
	for (o = c->objs; o != NULL; o = o->next)
		list[n++] = o;
	pthread_mutex_unlock(&c->mu);
	for (i = 0; i < n; i++) {
		o = list[i];
		if (o->kind == OBJ_UPLOAD)
			s3_upload_step(c, (struct ph_s3_upload *)o);
		else if (o->kind == OBJ_GET)
			s3_get_step(c, (struct ph_s3_get *)o);
		else
			s3_op_step(c, (struct ph_s3_op *)o);
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
	err = s3_req_error(r, m->data.result);
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
		s3_req_free(c, r);
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
		s3_upload_done(c, (struct ph_s3_upload *)o, r, err);
	else if (o->kind == OBJ_GET)
		s3_get_done(c, (struct ph_s3_get *)o, r, err);
	else
		s3_op_done(c, (struct ph_s3_op *)o, r, err);
	s3_req_free(c, r);
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

void
s3_kick(struct ph_s3_client *c)
{
	curl_multi_wakeup(c->multi);
}

struct ph_s3_client *
ph_s3_client_new(const struct ph_s3_config *cfg, char **cause)
{
	struct ph_s3_client *c;

	pthread_once(&curl_once, curl_init_once);
	c = s3_xcalloc(1, sizeof *c);
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

	s3_req_free(c, u->o.req);
	u->aborting = 1;
	if ((r = s3_req_start(c, &u->o, "DELETE", u->o.key, q, 1, NULL, 0, NULL,
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
	s3_req_free(c, r);
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
	s3_kick(c);
	pthread_join(c->thr, NULL);
	for (o = c->objs; o != NULL; o = o->next)
		if (o->req != NULL)
			s3_req_free(c, o->req);
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
char *
s3_full_key(struct ph_s3_client *c, const char *key, int allow_empty, char **cause)
{
	if (key == NULL || (!allow_empty && *key == '\0') || strlen(key) > 900) {
		*cause = ph_asprintf("s3: an empty or over-long key");
		return NULL;
	}
	return ph_asprintf("%s%s", c->loc.prefix, key);
}

/* Register an object (counts checked); -1 with *cause when at the bound. */
int
s3_attach(struct ph_s3_client *c, struct obj *o, enum obj_kind kind, char **cause)
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
	s3_kick(c);
	return 0;
}

void
s3_release(struct obj *o)
{
	if (o == NULL)
		return;
	pthread_mutex_lock(&o->c->mu);
	o->freed = 1;
	pthread_mutex_unlock(&o->c->mu);
	s3_kick(o->c);
}

enum ph_s3_state
s3_state_of(struct obj *o, char **cause)
{
	enum ph_s3_state s;

	pthread_mutex_lock(&o->c->mu);
	s = o->state;
	if (s == PH_S3_FAILED && cause != NULL)
		*cause = ph_asprintf("%s", o->cause);
	pthread_mutex_unlock(&o->c->mu);
	return s;
}

