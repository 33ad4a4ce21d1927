/*
 * relay-resp.h - Redis replies read within a bound (relay-resp.c), and
 * commands formatted: hiredis 0.14 is only the codec here (its redisReader
 * parses, redisFormatCommandArgv formats); the bytes travel on the relay's
 * own loop (relay-redis.c).  hiredis's reader has no size cap of its own:
 * this one counts what it holds and what it built and fails past the
 * bound, so a Redis (or anything posing as one) answering a huge reply
 * costs the relay at most the bound before the connection is dropped.
 * Pure: no libwebsockets, no sockets (unit/redis and fuzz_resp drive it).
 */
#ifndef PORTHOLE_RELAY_RESP_H
#define PORTHOLE_RELAY_RESP_H

#include <stddef.h>
#include <stdint.h>

/* Replies larger than this drop the connection (a fleet listing of 30,000 agents is ~10 MB). */
#define RELAY_RESP_MAX		(32u * 1024 * 1024)
#define RELAY_RESP_MAX_ELEMENTS	(1024 * 1024)	/* elements of one array */

enum relay_reply_type {
	RELAY_REPLY_STRING = 1,	/* bulk string */
	RELAY_REPLY_ARRAY,
	RELAY_REPLY_INTEGER,
	RELAY_REPLY_NIL,
	RELAY_REPLY_STATUS,	/* +OK */
	RELAY_REPLY_ERROR,	/* -ERR ... */
};

struct relay_reply {
	enum relay_reply_type	 type;
	long long		 integer;
	size_t			 len;		/* string, status, error: bytes */
	char			*str;		/* ... NUL-terminated */
	size_t			 n;		/* array: elements */
	struct relay_reply	**elem;
};

struct relay_resp;

struct relay_resp *relay_resp_new(size_t max);
void	relay_resp_free(struct relay_resp *r);

/* Bytes from the connection.  -1 (*cause) when the bound is passed: drop the connection. */
int	relay_resp_feed(struct relay_resp *r, const void *p, size_t n, char **cause);

/*
 * The next whole reply: 1 with *out (the caller's, relay_reply_free), 0
 * when none is complete yet, -1 (*cause) on a protocol error or the bound.
 */
int	relay_resp_next(struct relay_resp *r, struct relay_reply **out, char **cause);

/* Bytes held now (buffered input, and a reply being built). */
size_t	relay_resp_held(const struct relay_resp *r);

void	relay_reply_free(struct relay_reply *rp);

/* One command in RESP: a malloc'd buffer in *out, its length, or -1. */
long long relay_resp_format(char **out, int argc, const char **argv, const size_t *lens);

#endif
