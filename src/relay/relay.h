/*
 * relay.h - the relay's context: the one struct relay of the process,
 * holding the libwebsockets context, the keys, the live WebSockets and the
 * state every module keeps (agents, sessions, session ids, limits, the
 * audit stream, recordings, metrics): no module keeps state of its own.
 *
 * The relay runs one libwebsockets event loop on one thread.  Its modules,
 * each with its own header:
 *   relay.c           options, the context, signals, the loop, the tick
 *   relay-conn.c      the one lws callback; a connection's life (relay-conn.h)
 *   relay-endpoint.c  the table of endpoints by connection kind
 *   relay-http.c      plain HTTP: /healthz, /metrics, /v1/agents
 *   relay-agent.c     control channels and the registry of agents
 *   relay-client.c    client channels: a session's open; the sessions' io
 *   relay-data.c      the agents' data channels: attach
 *   relay-session.c   a session's state machine (no libwebsockets)
 *   relay-route.c     paths and the Authorization header (pure)
 *   relay-auth.c      tokens, the open's signature, what a token may touch
 *   relay-limits.c    limits before and after admission
 *   relay-sids.c      session ids already used
 *   relay-audit.c     the audit stream; relay-xff.c: X-Forwarded-For
 *   relay-record.c    recordings; relay-utf8.c: their text
 *   relay-metrics.c   the counters behind GET /metrics
 *   relay-map.c       the string-keyed table the registries use
 *   relay-fleet.c     the fleet's directory in Redis: claims, heartbeats, ls
 *   relay-cross.c     sessions across relays: opens to the agent's relay, data
 *                     channels carried to the session's relay
 *   relay-link.c      links this relay dials to others (/v1/peer); relay-peer.c:
 *                     the links others dial to it
 *   relay-revoke.c    token revoke: in Redis or PORTHOLE_REVOKED, pushed to agents
 *   relay-redis.c     the connection to Redis (--redis); relay-resp.c: its
 *                     replies within a bound; relay-redisurl.c: its URL
 *   relay-dev.c       --dev's state directory
 * docs/architecture.md, "The relay", draws them.
 */
#ifndef PORTHOLE_RELAY_H
#define PORTHOLE_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "porthole/keywatch.h"
#include "porthole/revoked.h"
#include "porthole/token.h"
#include "porthole/tokenlife.h"
#include "relay-agent.h"
#include "relay-audit.h"
#include "relay-limits.h"
#include "relay-metrics.h"
#include "relay-fleet.h"
#include "relay-record.h"
#include "relay-redis.h"
#include "relay-revoke.h"
#include "relay-session.h"
#include "relay-sids.h"

#define RELAY_SHUTDOWN_SECS	25	/* SIGTERM: exit within this (--shutdown-secs) */
#define RELAY_SHUTDOWN_HURRY	2	/* ... the last seconds stop waiting for queues */

struct relay_conn;

/* The process. */
struct relay {
	struct lws_context	*ctx;
	struct lws_vhost	*vh;
	struct ph_keyset	 keys;
	struct ph_keywatch	 keywatch;	/* re-reads keys when PORTHOLE_PUBKEY changes */
	struct ph_revoked	 revoked;	/* PORTHOLE_REVOKED */
	struct ph_lifetime	 lifetime;	/* --max-token-lifetime */
	struct relay_conn	*conns;		/* every live WebSocket */
	size_t			 nwebsockets;	/* ... and how many */
	int			 shutting_down;
	int			 done;		/* leave the loop */
	int			 dying;		/* lws_context_destroy is running */
	int			 shutdown_secs;	/* --shutdown-secs */
	int			 shutdown_hurried;	/* queues no longer waited for */
	lws_sorted_usec_list_t	 sul_shutdown;
	lws_sorted_usec_list_t	 sul_keepalive;	/* relay_conn_keepalive */
	lws_sorted_usec_list_t	 sul_tick;	/* relay_tick: attach deadlines */
	int			 ping_secs, hangup_secs;
	uint64_t		 refusals;	/* for /metrics */
	uint64_t		 peers;		/* /v1/peer links open (relay-peer.c) */
	struct relay_agents	 agents;	/* relay-agent.c */
	struct relay_sessions	 sessions;	/* relay-session.c */
	struct relay_sids	 sids;		/* relay-sids.c */
	struct relay_limits_state limits;	/* relay-limits.c */
	struct relay_audit	 audit;		/* relay-audit.c */
	struct relay_records	 record;	/* relay-record.c */
	struct relay_metrics	 metrics;	/* relay-metrics.c */
	struct relay_redis	 redis;		/* relay-redis.c: --redis */
	struct relay_fleet	 fleet;		/* relay-fleet.c: the directory in it */
	struct relay_revoke	 revoke;	/* relay-revoke.c: token revoke, pushed to agents */
};

extern struct relay relay;

/* relay-help.c: --help and the man page porthole-relay(8), one table. */
void	relay_help(FILE *f);
void	relay_man(FILE *f);

#endif
