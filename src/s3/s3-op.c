/*
 * s3-op.c - the other operations (s3.h): a listing (ListObjectsV2, page
 * after page, parsed by s3-xml.c), a delete, a put of a small body.
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
s3_op_step(struct ph_s3_client *c, struct ph_s3_op *o)
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
		if (s3_req_start(c, &o->o, "GET", NULL, q, n, NULL, 0, NULL,
		    "list objects", &cause) != NULL)
			return;
	} else if (o->op == OP_DELETE) {
		if (s3_req_start(c, &o->o, "DELETE", o->o.key, NULL, 0, NULL, 0, NULL,
		    "DELETE", &cause) != NULL)
			return;
	} else {
		if (s3_req_start(c, &o->o, "PUT", o->o.key, NULL, 0, o->body, o->body_len,
		    o->ctype, "PUT", &cause) != NULL)
			return;
	}
	pthread_mutex_lock(&c->mu);
	s3_fail_obj(&o->o, cause);
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

void
s3_op_done(struct ph_s3_client *c, struct ph_s3_op *o, struct s3_req *r, char *err)
{
	if (err == NULL && o->op == OP_LIST) {
		if (list_page(c, o, r, &err) == 0 && o->token != NULL) {
			o->started = 0;	/* the next page */
			return;
		}
	}
	pthread_mutex_lock(&c->mu);
	if (err != NULL)
		s3_fail_obj(&o->o, err);
	else {
		o->o.state = PH_S3_DONE;
		s3_report(c);
	}
	pthread_mutex_unlock(&c->mu);
}

static struct ph_s3_op *
op_new(struct ph_s3_client *c, enum op_kind kind, char *key, char **cause)
{
	struct ph_s3_op *o = s3_xcalloc(1, sizeof *o);

	o->op = kind;
	o->o.key = key;
	return o;
}

static struct ph_s3_op *
op_attach(struct ph_s3_client *c, struct ph_s3_op *o, char **cause)
{
	if (s3_attach(c, &o->o, OBJ_OP, cause) != 0) {
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

	if ((k = s3_full_key(c, sub != NULL ? sub : "", 1, cause)) == NULL)
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

	if ((k = s3_full_key(c, key, 0, cause)) == NULL)
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
	if ((k = s3_full_key(c, key, 0, cause)) == NULL)
		return NULL;
	o = op_new(c, OP_PUT, k, cause);
	o->body = s3_xcalloc(1, len + 1);
	memcpy(o->body, body, len);
	o->body_len = len;
	o->ctype = ph_asprintf("%s", content_type != NULL ? content_type :
	    "application/octet-stream");
	return op_attach(c, o, cause);
}

enum ph_s3_state
ph_s3_op_state(struct ph_s3_op *o, char **cause)
{
	return s3_state_of(&o->o, cause);
}

const struct ph_s3_entry *
ph_s3_op_entries(struct ph_s3_op *o, size_t *n, int *pages)
{
	if (s3_state_of(&o->o, NULL) != PH_S3_DONE) {
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
	s3_release(o != NULL ? &o->o : NULL);
}

