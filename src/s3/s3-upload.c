/*
 * s3-upload.c - streaming uploads of unknown length (s3.h): two part
 * buffers, one filled by the caller while the worker sends the other as
 * the next part of a multipart upload; a stream shorter than a part is one
 * PUT; the upload is completed after the last part, aborted on failure or
 * when freed unfinished.
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

void
s3_upload_step(struct ph_s3_client *c, struct ph_s3_upload *u)
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
			if (s3_req_start(c, &u->o, "DELETE", u->o.key, q, 1, NULL, 0,
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
		s3_report(c);	/* room to write again */
	}
	pthread_mutex_unlock(&c->mu);

	if (u->send_ready && u->send_last && u->nparts == 0 && u->upload_id == NULL) {
		snprintf(what, sizeof what, "PUT (single, %zu bytes)", u->send_len);
		if (s3_req_start(c, &u->o, "PUT", u->o.key, NULL, 0, u->send,
		    u->send_len, "application/octet-stream", what, &cause) == NULL)
			goto fail;
		return;
	}
	if (u->send_ready && u->upload_id == NULL) {
		struct ph_s3_qparam q[] = { { "uploads", NULL } };

		if (s3_req_start(c, &u->o, "POST", u->o.key, q, 1, NULL, 0,
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
		if (s3_req_start(c, &u->o, "PUT", u->o.key, q, 2, u->send, u->send_len,
		    NULL, what, &cause) == NULL)
			goto fail;
		return;
	}
	if (u->last_taken && u->upload_id != NULL && !u->completing) {
		struct ph_s3_qparam q[] = { { "uploadId", u->upload_id } };

		len = 64;
		for (i = 0; i < (size_t)u->nparts; i++)
			len += strlen(u->etags[i]) * 6 + 80;
		body = s3_xcalloc(1, len);
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
		if (s3_req_start(c, &u->o, "POST", u->o.key, q, 1, u->send, u->send_len,
		    "application/xml", "complete multipart upload", &cause) == NULL)
			goto fail;
	}
	return;
fail:
	pthread_mutex_lock(&c->mu);
	s3_fail_obj(&u->o, cause);
	pthread_mutex_unlock(&c->mu);
}

void
s3_upload_done(struct ph_s3_client *c, struct ph_s3_upload *u, struct s3_req *r,
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
		s3_report(c);
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
		s3_report(c);
		pthread_mutex_unlock(&c->mu);
		return;
	}
	if (r->etag == NULL) {
		err = ph_asprintf("s3: %s: no ETag in the reply", r->what);
		goto fail;
	}
	if (u->etags == NULL)
		u->etags = s3_xcalloc(PH_S3_MAX_PARTS, sizeof *u->etags);
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
	s3_fail_obj(&u->o, err);
	pthread_mutex_unlock(&c->mu);
}

struct ph_s3_upload *
ph_s3_upload_new(struct ph_s3_client *c, const char *key, char **cause)
{
	struct ph_s3_upload	*u;
	char			*k;

	if ((k = s3_full_key(c, key, 0, cause)) == NULL)
		return NULL;
	u = s3_xcalloc(1, sizeof *u);
	u->o.key = k;
	if ((u->fill = malloc(c->cfg.part_size)) == NULL ||
	    (u->send = malloc(c->cfg.part_size)) == NULL)
		abort();
	if (s3_attach(c, &u->o, OBJ_UPLOAD, cause) != 0) {
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
		s3_kick(c);
	return take;
}

void
ph_s3_upload_finish(struct ph_s3_upload *u)
{
	pthread_mutex_lock(&u->o.c->mu);
	u->finished = 1;
	pthread_mutex_unlock(&u->o.c->mu);
	s3_kick(u->o.c);
}

enum ph_s3_state
ph_s3_upload_state(struct ph_s3_upload *u, char **cause)
{
	return s3_state_of(&u->o, cause);
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
	s3_release(u != NULL ? &u->o : NULL);
}

