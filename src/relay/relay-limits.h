/*
 * relay-limits.h - limits before and after admission (relay-limits.c:
 * pending handshakes, connections, sessions per agent and per subject).
 */
#ifndef PORTHOLE_RELAY_LIMITS_H
#define PORTHOLE_RELAY_LIMITS_H

#include <stddef.h>
#include <stdio.h>

#include <netinet/in.h>

#include <libwebsockets.h>

#include "relay-map.h"

struct relay_limits_conn;

/* What the limits keep count of (struct relay's `limits`). */
struct relay_limits_state {
	struct relay_map	 conns;		/* wsi hex -> relay_limits_conn */
	struct relay_map	 addrs;		/* address -> relay_limits_addr */
	struct relay_map	 agents;	/* agent id -> relay_limits_agent */
	struct relay_map	 subs;		/* (agent id, sub) -> relay_limits_agent */
	struct relay_limits_conn *pend_head, *pend_tail;	/* pending, oldest first */
	size_t			 npending;
	size_t			 nsockets;	/* accepted TCP connections, WebSocket or not */
	char			 accepted[INET6_ADDRSTRLEN + 3];	/* FILTER -> WSI_CREATE */
	int			 have_accepted;
	lws_sorted_usec_list_t	 sul_tick;
	uint64_t		 refused_logged;
};

#define RELAY_LIMITS_FD_RESERVE	64	/* fds kept for files, logs, recordings */

struct relay_limits {
	int	handshake_secs;		/* --handshake-timeout */
	int	max_pending;		/* --max-pending */
	int	max_pending_per_addr;	/* --max-pending-per-addr */
	int	max_conns;		/* --max-conns (0: from the fd limit) */
	int	max_sessions_per_agent;	/* --max-sessions-per-agent */
	int	max_sessions_per_sub;	/* --max-sessions-per-sub (0 until init: half) */
};
extern struct relay_limits relay_limits;

/* An option of relay_limits_usage, by its long name (without "--"); -1: bad value. */
int	relay_limits_option(const char *name, const char *arg);
void	relay_limits_usage(FILE *f);
int	relay_limits_init(void);
void	relay_limits_start(void);
int	relay_limits_accept(int fd);
void	relay_limits_created(struct lws *wsi);
void	relay_limits_admit(struct lws *wsi);
void	relay_limits_touch(struct lws *wsi);
void	relay_limits_destroyed(struct lws *wsi);
int	relay_limits_session_add(const char *agent_id, const char *sub, char **cause);
void	relay_limits_session_del(const char *agent_id, const char *sub);
size_t	relay_limits_pending(void);
void	relay_limits_stop(void);
void	relay_limits_cleanup(void);

#endif
