/*
 * relay-resp.c - Redis replies within a bound, over hiredis's reader
 * (relay-resp.h).
 *
 * hiredis builds replies through a table of functions; ours build struct
 * relay_reply and count what they allocated.  Three bounds hold:
 *   - input not yet parsed (hiredis waits for a whole bulk string before
 *     it allocates it, so a `$2000000000` header costs nothing until the
 *     bytes come; those bytes are counted here, and passing the bound
 *     fails the feed);
 *   - an array's element count (hiredis calloc's the array as soon as it
 *     reads `*N`: refused over RELAY_RESP_MAX_ELEMENTS, or when N pointers
 *     would pass the bound);
 *   - the reply being built (strings and arrays already made).
 * Nesting is bounded by hiredis itself (nine levels).
 */
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "porthole/util.h"
#include "relay-resp.h"

struct relay_resp {
	redisReader	*rd;
	size_t		 max;
	size_t		 built;		/* bytes of the reply being built */
	int		 over;		/* a create function refused for the bound */
};

static struct relay_reply *
resp_obj(const redisReadTask *task, enum relay_reply_type type, size_t extra)
{
	struct relay_resp *r = task->privdata;
	struct relay_reply *rp, *parent;

	if (r->built + sizeof *rp + extra > r->max) {
		r->over = 1;
		return NULL;
	}
	if ((rp = calloc(1, sizeof *rp)) == NULL)
		return NULL;
	rp->type = type;
	r->built += sizeof *rp + extra;
	if (task->parent != NULL) {
		parent = task->parent->obj;
		if (parent != NULL && parent->type == RELAY_REPLY_ARRAY &&
		    task->idx >= 0 && (size_t)task->idx < parent->n)
			parent->elem[task->idx] = rp;
	}
	return rp;
}

static void *
resp_string(const redisReadTask *task, char *s, size_t len)
{
	struct relay_reply *rp;
	enum relay_reply_type t = task->type == REDIS_REPLY_ERROR ? RELAY_REPLY_ERROR :
	    task->type == REDIS_REPLY_STATUS ? RELAY_REPLY_STATUS : RELAY_REPLY_STRING;

	if ((rp = resp_obj(task, t, len + 1)) == NULL)
		return NULL;
	if ((rp->str = malloc(len + 1)) == NULL) {
		/* linked into its parent already: freed with it */
		return NULL;
	}
	memcpy(rp->str, s, len);
	rp->str[len] = '\0';
	rp->len = len;
	return rp;
}

static void *
resp_array(const redisReadTask *task, int n)
{
	struct relay_resp *r = task->privdata;
	struct relay_reply *rp;
	size_t bytes;

	if (n < 0 || n > RELAY_RESP_MAX_ELEMENTS) {
		r->over = 1;
		return NULL;
	}
	bytes = (size_t)n * sizeof(struct relay_reply *);
	if ((rp = resp_obj(task, RELAY_REPLY_ARRAY, bytes)) == NULL)
		return NULL;
	if (n > 0 && (rp->elem = calloc((size_t)n, sizeof *rp->elem)) == NULL)
		return NULL;
	rp->n = (size_t)n;
	return rp;
}

static void *
resp_integer(const redisReadTask *task, long long v)
{
	struct relay_reply *rp;

	if ((rp = resp_obj(task, RELAY_REPLY_INTEGER, 0)) == NULL)
		return NULL;
	rp->integer = v;
	return rp;
}

static void *
resp_nil(const redisReadTask *task)
{
	return resp_obj(task, RELAY_REPLY_NIL, 0);
}

void
relay_reply_free(struct relay_reply *rp)
{
	size_t i;

	if (rp == NULL)
		return;
	for (i = 0; i < rp->n; i++)
		relay_reply_free(rp->elem[i]);
	free(rp->elem);
	free(rp->str);
	free(rp);
}

static void
resp_free_obj(void *p)
{
	relay_reply_free(p);
}

static redisReplyObjectFunctions resp_functions = {
	resp_string, resp_array, resp_integer, resp_nil, resp_free_obj,
};

struct relay_resp *
relay_resp_new(size_t max)
{
	struct relay_resp *r;

	if ((r = calloc(1, sizeof *r)) == NULL)
		return NULL;
	r->max = max;
	if ((r->rd = redisReaderCreateWithFunctions(&resp_functions)) == NULL) {
		free(r);
		return NULL;
	}
	r->rd->privdata = r;
	return r;
}

void
relay_resp_free(struct relay_resp *r)
{
	if (r == NULL)
		return;
	redisReaderFree(r->rd);
	free(r);
}

size_t
relay_resp_held(const struct relay_resp *r)
{
	return (r->rd->len - r->rd->pos) + r->built;
}

int
relay_resp_feed(struct relay_resp *r, const void *p, size_t n, char **cause)
{
	if (relay_resp_held(r) + n > r->max) {
		*cause = ph_asprintf("Redis sent a reply larger than %zu bytes", r->max);
		return -1;
	}
	if (redisReaderFeed(r->rd, p, n) != REDIS_OK) {
		*cause = ph_asprintf("Redis reply: %s", r->rd->errstr);
		return -1;
	}
	return 0;
}

int
relay_resp_next(struct relay_resp *r, struct relay_reply **out, char **cause)
{
	void *reply = NULL;

	*out = NULL;
	if (redisReaderGetReply(r->rd, &reply) != REDIS_OK) {
		if (r->over)
			*cause = ph_asprintf("Redis sent a reply larger than %zu bytes "
			    "(or an array of more than %d elements)", r->max,
			    RELAY_RESP_MAX_ELEMENTS);
		else
			*cause = ph_asprintf("Redis reply: %s", r->rd->errstr);
		return -1;
	}
	if (reply == NULL)
		return 0;
	r->built = 0;
	*out = reply;
	return 1;
}

long long
relay_resp_format(char **out, int argc, const char **argv, const size_t *lens)
{
	char *cmd = NULL, *copy;
	long long n;

	*out = NULL;
	n = redisFormatCommandArgv(&cmd, argc, argv, lens);
	if (n < 0 || cmd == NULL)
		return -1;
	/* hiredis's buffer is freed with its own function: hand out ours. */
	if ((copy = malloc((size_t)n)) == NULL) {
		redisFreeCommand(cmd);
		return -1;
	}
	memcpy(copy, cmd, (size_t)n);
	redisFreeCommand(cmd);
	*out = copy;
	return n;
}
