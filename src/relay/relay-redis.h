/*
 * relay-redis.h - the relay's one connection to Redis (relay-redis.c):
 * commands queued with a callback each, answered in order, on the relay's
 * own event loop.  The loop never waits on Redis: a command is refused at
 * once when the connection is down, and a connection that stops answering
 * is dropped (its callbacks get NULL) and dialed again with backoff.
 */
#ifndef PORTHOLE_RELAY_REDIS_H
#define PORTHOLE_RELAY_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "porthole/buf.h"
#include "relay-redisurl.h"
#include "relay-resp.h"

#define RELAY_REDIS_PROTOCOL	"porthole-redis"	/* the lws protocol of the socket */
#define RELAY_REDIS_ANSWER_MS	5000	/* a command unanswered this long drops the link */
#define RELAY_REDIS_QUEUE	(16u * 1024 * 1024)	/* commands not yet sent */
#define RELAY_REDIS_BACKOFF_MAX	5000	/* ms between dials, at most */

/* A reply (NULL: the connection was lost, or never answered); rp is freed after. */
typedef void (*relay_redis_cb)(struct relay_reply *rp, void *arg);

struct relay_redis_wait;	/* a command sent, its callback waiting */
struct gaicb;
struct ph_tls;
struct ph_tls_ctx;

enum relay_redis_state {
	RELAY_REDIS_OFF,	/* no --redis */
	RELAY_REDIS_IDLE,	/* waiting to dial again */
	RELAY_REDIS_RESOLVING,
	RELAY_REDIS_CONNECTING,	/* TCP, then TLS for rediss:// */
	RELAY_REDIS_HELLO,	/* AUTH, SELECT, PING sent */
	RELAY_REDIS_UP,
};

/* struct relay's `redis`. */
struct relay_redis {
	enum relay_redis_state	 state;
	struct relay_redis_url	 url;
	struct ph_tls_ctx	*tlsctx;	/* rediss:// */
	struct ph_tls		*tls;
	struct lws		*wsi;
	struct gaicb		*gai;
	struct relay_resp	*resp;
	struct ph_queue		 out;		/* bytes for the socket */
	struct relay_redis_wait	*head, *tail;	/* sent, in order */
	size_t			 nwait;
	int64_t			 state_ms;	/* when state was entered */
	int			 backoff_ms;
	int64_t			 ping_ms;	/* a PING out since then, or 0 */
	int64_t			 answer_ms;	/* the last bytes from Redis came then */
	int64_t			 tick_ms;	/* the last relay_redis_tick */
	lws_sorted_usec_list_t	 sul;		/* dial again; DNS poll */
	void			(*up)(void);	/* the link is up (again): republish */
	char			 last_error[160];
	/* /metrics */
	int64_t			 rtt_us;
	uint64_t		 errors, connects, commands;
	uint64_t		 reply_errors;	/* commands answered -ERR */
};

/* Before the context: the URL (taken) and TLS trust.  -1 with *cause. */
int	relay_redis_init(struct relay_redis_url *u, char **cause);
/* With the context: dial. */
void	relay_redis_start(void (*up)(void));
void	relay_redis_stop(void);
/* Once a second: answer deadlines, the PING that measures the round trip. */
void	relay_redis_tick(int64_t now_ms);
int	relay_redis_on(void);		/* --redis given */
int	relay_redis_up(void);		/* connected, authenticated */
/*
 * Queue a command; cb (may be NULL) gets the reply.  -1 when the link is
 * down or its queue full: cb is not called.
 */
int	relay_redis_cmd(relay_redis_cb cb, void *arg, int argc, const char **argv,
	    const size_t *lens);
/* Same, arguments as NUL-terminated strings ending with NULL. */
int	relay_redis_cmdv(relay_redis_cb cb, void *arg, ...) __attribute__((sentinel));

int	relay_redis_callback(struct lws *wsi, enum lws_callback_reasons reason,
	    void *user, void *in, size_t len);

#endif
