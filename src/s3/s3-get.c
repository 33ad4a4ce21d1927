/*
 * s3-get.c - streamed gets (s3.h): the worker writes the object's bytes
 * into a ring the caller reads; the transfer pauses while the ring is full
 * and resumes when the caller has made room.
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
s3_get_step(struct ph_s3_client *c, struct ph_s3_get *g)
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
	if (s3_req_start(c, &g->o, "GET", g->o.key, NULL, 0, NULL, 0, NULL, "GET",
	    &cause) == NULL) {
		pthread_mutex_lock(&c->mu);
		s3_fail_obj(&g->o, cause);
		pthread_mutex_unlock(&c->mu);
		return;
	}
	g->o.req->to_ring = 1;
}

void
s3_get_done(struct ph_s3_client *c, struct ph_s3_get *g, struct s3_req *r, char *err)
{
	pthread_mutex_lock(&c->mu);
	if (err != NULL)
		s3_fail_obj(&g->o, err);
	else {
		g->eof = 1;
		g->o.state = PH_S3_DONE;
		s3_report(c);
	}
	pthread_mutex_unlock(&c->mu);
}

struct ph_s3_get *
ph_s3_get_new(struct ph_s3_client *c, const char *key, char **cause)
{
	struct ph_s3_get	*g;
	char			*k;

	if ((k = s3_full_key(c, key, 0, cause)) == NULL)
		return NULL;
	g = s3_xcalloc(1, sizeof *g);
	g->o.key = k;
	g->size = -1;
	g->ring = s3_xcalloc(1, PH_S3_GET_RING);
	if (s3_attach(c, &g->o, OBJ_GET, cause) != 0) {
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
		s3_kick(c);
	return (ssize_t)take;
}

enum ph_s3_state
ph_s3_get_state(struct ph_s3_get *g, char **cause)
{
	return s3_state_of(&g->o, cause);
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
	s3_release(g != NULL ? &g->o : NULL);
}

