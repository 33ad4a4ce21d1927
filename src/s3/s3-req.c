/*
 * s3-req.c - one S3 request on the client's curl multi handle: the URL
 * (path-style or virtual-hosted, the key and query encoded as SigV4 wants
 * them), signing by curl (CURLOPT_AWS_SIGV4) over a query that is already
 * canonical and with x-amz-content-sha256 set, since curl 7.88 signs the
 * query as it finds it and sends no payload hash; bodies go as POSTFIELDS
 * with the method set so that the payload curl hashes is the body sent.
 * The reply: its ETag, a bounded body (or a get's bytes into its ring),
 * and its error as one line.
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
	s3_report(g->o.c);
	pthread_mutex_unlock(&g->o.c->mu);
	return len;
}

/*
 * Start a request: method on the object key (NULL: the bucket), query
 * parameters, an optional body.  NULL with *cause when there are no
 * credentials.
 */
struct s3_req *
s3_req_start(struct ph_s3_client *c, struct obj *owner, const char *method,
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

	r = s3_xcalloc(1, sizeof *r);
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

void
s3_req_free(struct ph_s3_client *c, struct s3_req *r)
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
char *
s3_req_error(struct s3_req *r, CURLcode rc)
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

