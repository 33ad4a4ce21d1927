/*
 * relay-limits.c - what keeps clients the relay has not admitted from
 * exhausting it, and the limits that apply after admission.
 *
 * A connection is "pending" from accept (before TLS) until it is admitted:
 * a WebSocket whose token verified at the upgrade.  Plain HTTP requests
 * (/healthz, /metrics, /v1/agents) are never admitted: their connection
 * stays pending, and each complete request restarts its deadline.
 *
 *   --handshake-timeout  a pending connection older than this is shut down
 *                        (TLS, upgrade and token must be done by then)
 *   --max-pending-per-addr  pending connections from one source address
 *                        (an IPv6 /64); the next one is refused at accept
 *   --max-pending        pending connections in all; past it the oldest
 *                        pending one is shut down to make room, so a flood
 *                        of idle half-open connections cannot keep a real
 *                        client (whose handshake takes milliseconds) out
 *   --max-conns          every connection, admitted or not, bounded by the
 *                        file descriptors the process may open (the soft
 *                        RLIMIT_NOFILE is raised to the hard one at start)
 *   --max-sessions-per-agent  sessions open on one agent at once
 *   --max-sessions-per-sub  sessions one token subject (`sub`) may hold on
 *                        one agent at once (PORTHOLE_MAX_SESSIONS_PER_SUB;
 *                        default half the per-agent limit): a viewer's, or
 *                        a stolen token's, sessions cannot fill the agent
 *                        and lock its operators out
 *
 * Only pending connections count per address: behind a NAT gateway a whole
 * fleet of agents shares one address, and admitted connections are bounded
 * by their tokens (one control channel per agent id, sessions per agent).
 *
 * A refusal is cheap: libwebsockets' FILTER_NETWORK_CONNECTION runs right
 * after accept(), before any TLS or memory for the connection, and a
 * non-zero answer closes the socket.  Evicting or timing out a connection
 * is shutdown(2) of its socket: libwebsockets sees the hangup and closes
 * the connection itself, whatever state it is in.
 *
 * Bookkeeping: the accepted fd's address is noted at FILTER and claimed at
 * the WSI_CREATE that follows it in the same call chain (the only server
 * wsi lws creates there; stream wsis of HTTP/2 are created elsewhere and
 * are not tracked).  Tracked connections are in a map by wsi and, while
 * pending, on a list in accept order that the 1 s deadline tick walks from
 * the oldest.
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/log.h"
#include "porthole/util.h"
#include "relay.h"
#include "relay-limits.h"
#include "relay-map.h"
#include "relay-metrics.h"

#define RELAY_LIMITS_TICK_MS	1000

struct relay_limits relay_limits = {
	.handshake_secs = 10,
	.max_pending = 1024,
	.max_pending_per_addr = 32,
	.max_conns = 0,			/* from RLIMIT_NOFILE */
	.max_sessions_per_agent = 32,
	.max_sessions_per_sub = 0,	/* half the per-agent limit */
};

/* A source address with pending connections. */
struct relay_limits_addr {
	char			 key[INET6_ADDRSTRLEN + 3];	/* address, or IPv6 prefix/64 */
	int			 pending;
};

/* One accepted connection. */
struct relay_limits_conn {
	char			 key[2 * sizeof(void *) + 4];	/* the wsi, in hex */
	struct lws		*wsi;
	struct relay_limits_addr *addr;		/* pending: where from */
	int64_t			 t0;		/* accept, or last HTTP request */
	int			 pending;
	struct relay_limits_conn *prev, *next;	/* pending list, oldest first */
};

/* An agent with sessions, or one token subject's sessions on an agent. */
struct relay_limits_agent {
	char			*key;		/* agent id; or "LEN:AGENT_ID" then sub */
	int			 sessions;
};


/* Parse a setting's number: lo..hi ("--flag", or a variable's name). */
static int
relay_limits_num(const char *flag, const char *s, long lo, long hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < lo || v > hi) {
		fprintf(stderr, "porthole-relay: %s%s wants a number from %ld to %ld, "
		    "not '%s'\n", *flag == 'P' ? "" : "--", flag, lo, hi, s);
		return -1;
	}
	*out = (int)v;
	return 0;
}

int
relay_limits_option(const char *name, const char *arg)
{
	static const struct {
		const char	*name;
		long		 min, max;
		int		*out;
	} opts[] = {
		{ "handshake-timeout", 1, 3600, &relay_limits.handshake_secs },
		{ "max-pending", 1, 1000000, &relay_limits.max_pending },
		{ "max-pending-per-addr", 1, 1000000, &relay_limits.max_pending_per_addr },
		{ "max-conns", 1, 10000000, &relay_limits.max_conns },
		{ "max-sessions-per-agent", 1, 100000, &relay_limits.max_sessions_per_agent },
		{ "max-sessions-per-sub", 1, 100000, &relay_limits.max_sessions_per_sub },
	};
	size_t i;

	for (i = 0; i < sizeof opts / sizeof opts[0]; i++)
		if (strcmp(name, opts[i].name) == 0)
			return relay_limits_num(opts[i].name, arg, opts[i].min, opts[i].max,
			    opts[i].out);
	return -1;
}

/*
 * Before the lws context exists (lws sizes its tables from the fd limit):
 * raise the soft fd limit to the hard one and fit --max-conns under it.
 */
int
relay_limits_init(void)
{
	struct rlimit rl;
	const char *env;
	long room;

	/* The flag wins over the variable; neither: half the per-agent limit. */
	if (relay_limits.max_sessions_per_sub == 0 &&
	    (env = getenv("PORTHOLE_MAX_SESSIONS_PER_SUB")) != NULL && *env != '\0' &&
	    relay_limits_num("PORTHOLE_MAX_SESSIONS_PER_SUB", env, 1, 100000,
	    &relay_limits.max_sessions_per_sub) != 0)
		return -1;
	if (relay_limits.max_sessions_per_sub == 0)
		relay_limits.max_sessions_per_sub = relay_limits.max_sessions_per_agent > 1 ?
		    relay_limits.max_sessions_per_agent / 2 : 1;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		fprintf(stderr, "porthole-relay: getrlimit: %s\n", strerror(errno));
		return -1;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t want = rl.rlim_max;

		if (want == RLIM_INFINITY || want > 1048576)
			want = 1048576;
		if (want > rl.rlim_cur) {
			rl.rlim_cur = want;
			if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
				getrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	room = (long)rl.rlim_cur - RELAY_LIMITS_FD_RESERVE;
	if (room < 16) {
		fprintf(stderr, "porthole-relay: the file descriptor limit (%ld) is too "
		    "low: raise it (ulimit -n)\n", (long)rl.rlim_cur);
		return -1;
	}
	if (relay_limits.max_conns == 0)
		relay_limits.max_conns = (int)(room > 10000000 ? 10000000 : room);
	else if (relay_limits.max_conns > room) {
		ph_warn("--max-conns %d does not fit the file descriptor limit %ld: "
		    "serving at most %ld connections", relay_limits.max_conns,
		    (long)rl.rlim_cur, room);
		relay_limits.max_conns = (int)room;
	}
	ph_info("limits: %d connections, %d pending (%d per address), handshake "
	    "%d s, %d sessions per agent, %d per token subject on one agent",
	    relay_limits.max_conns, relay_limits.max_pending,
	    relay_limits.max_pending_per_addr, relay_limits.handshake_secs,
	    relay_limits.max_sessions_per_agent, relay_limits.max_sessions_per_sub);
	return 0;
}

static void
relay_limits_unpend(struct relay_limits_conn *lc)
{
	if (!lc->pending)
		return;
	lc->pending = 0;
	if (lc->prev != NULL)
		lc->prev->next = lc->next;
	else
		relay.limits.pend_head = lc->next;
	if (lc->next != NULL)
		lc->next->prev = lc->prev;
	else
		relay.limits.pend_tail = lc->prev;
	lc->prev = lc->next = NULL;
	relay.limits.npending--;
	if (lc->addr != NULL && --lc->addr->pending == 0) {
		relay_map_del(&relay.limits.addrs, lc->addr->key);
		free(lc->addr);
	}
	lc->addr = NULL;
}

static void
relay_limits_pend(struct relay_limits_conn *lc)
{
	lc->pending = 1;
	lc->next = NULL;
	lc->prev = relay.limits.pend_tail;
	if (relay.limits.pend_tail != NULL)
		relay.limits.pend_tail->next = lc;
	else
		relay.limits.pend_head = lc;
	relay.limits.pend_tail = lc;
	relay.limits.npending++;
}

/* End a pending connection: lws sees the hangup and closes it. */
static void
relay_limits_kill(struct relay_limits_conn *lc, const char *why)
{
	int fd = (int)lws_get_socket_fd(lc->wsi);

	ph_debug("closing a connection from %s: %s", lc->addr != NULL ?
	    lc->addr->key : "?", why);
	relay_limits_unpend(lc);
	relay_metrics_refusal(PH_ERR_LIMIT);
	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
	lws_set_timeout(lc->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static void
relay_limits_tick(lws_sorted_usec_list_t *sul)
{
	int64_t now = ph_mono_ms(), limit = (int64_t)relay_limits.handshake_secs * 1000;
	struct relay_limits_conn *lc;
	int n = 0;

	(void)sul;
	while ((lc = relay.limits.pend_head) != NULL && now - lc->t0 >= limit) {
		relay_limits_kill(lc, "handshake timeout");
		n++;
	}
	if (n > 0)
		ph_info("closed %d connection%s that did not authenticate within %d s",
		    n, n == 1 ? "" : "s", relay_limits.handshake_secs);
	lws_sul_schedule(relay.ctx, 0, &relay.limits.sul_tick, relay_limits_tick,
	    (lws_usec_t)RELAY_LIMITS_TICK_MS * LWS_US_PER_MS);
}

void
relay_limits_start(void)
{
	lws_sul_schedule(relay.ctx, 0, &relay.limits.sul_tick, relay_limits_tick,
	    (lws_usec_t)RELAY_LIMITS_TICK_MS * LWS_US_PER_MS);
}

/*
 * The source an accepted socket counts against: its IPv4 address
 * ("::ffff:" dropped), or for IPv6 its /64 (one subscriber's prefix: an
 * address each would let one host escape the limit).
 */
static int
relay_limits_peer(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	struct in6_addr a6;
	const void *a;
	int v6 = 0;

	if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0)
		return -1;
	if (ss.ss_family == AF_INET)
		a = &((struct sockaddr_in *)&ss)->sin_addr;
	else if (ss.ss_family == AF_INET6) {
		a6 = ((struct sockaddr_in6 *)&ss)->sin6_addr;
		if (!IN6_IS_ADDR_V4MAPPED(&a6)) {
			memset(a6.s6_addr + 8, 0, 8);
			v6 = 1;
		}
		a = &a6;
	} else
		return -1;
	if (inet_ntop(ss.ss_family, a, buf, (socklen_t)len - 3) == NULL)
		return -1;
	if (strncmp(buf, "::ffff:", 7) == 0 && strchr(buf + 7, '.') != NULL)
		memmove(buf, buf + 7, strlen(buf + 7) + 1);
	if (v6)
		strcat(buf, "/64");
	return 0;
}

/* Refusals are logged at info once per power of two, at debug otherwise. */
static void
relay_limits_refused(const char *addr, const char *why)
{
	relay_metrics_refusal(PH_ERR_LIMIT);
	relay.limits.refused_logged++;
	if ((relay.limits.refused_logged & (relay.limits.refused_logged - 1)) == 0)
		ph_info("refused a connection from %s: %s (%llu refused so far)", addr,
		    why, (unsigned long long)relay.limits.refused_logged);
	else
		ph_debug("refused a connection from %s: %s", addr, why);
}

/* FILTER_NETWORK_CONNECTION: 0 accepts the socket, -1 closes it. */
int
relay_limits_accept(int fd)
{
	struct relay_limits_addr *ad;
	char addr[INET6_ADDRSTRLEN + 3];

	relay.limits.have_accepted = 0;
	if (relay.shutting_down)
		return -1;
	if (relay_limits_peer(fd, addr, sizeof addr) != 0)
		snprintf(addr, sizeof addr, "?");
	ad = relay_map_get(&relay.limits.addrs, addr);
	if (ad != NULL && ad->pending >= relay_limits.max_pending_per_addr) {
		relay_limits_refused(addr, "too many connections from this address "
		    "are not authenticated yet (--max-pending-per-addr)");
		return -1;
	}
	if (relay.limits.nsockets >= (size_t)relay_limits.max_conns) {
		/*
		 * An evicted connection holds its fd until lws has closed it:
		 * past half the reserve, a burst of accepts is refused instead.
		 */
		if (relay.limits.pend_head == NULL || relay.limits.nsockets >=
		    (size_t)relay_limits.max_conns + RELAY_LIMITS_FD_RESERVE / 2) {
			relay_limits_refused(addr, "connection limit reached (--max-conns)");
			return -1;
		}
		relay_limits_kill(relay.limits.pend_head, "room for a newer connection (--max-conns)");
	} else if (relay.limits.npending >= (size_t)relay_limits.max_pending)
		relay_limits_kill(relay.limits.pend_head, "room for a newer connection (--max-pending)");
	memcpy(relay.limits.accepted, addr, sizeof relay.limits.accepted);
	relay.limits.have_accepted = 1;
	return 0;
}

/* WSI_CREATE: the wsi of the socket relay_limits_accept just let in. */
void
relay_limits_created(struct lws *wsi)
{
	struct relay_limits_conn *lc;
	struct relay_limits_addr *ad;

	if (!relay.limits.have_accepted)
		return;
	relay.limits.have_accepted = 0;
	if ((lc = calloc(1, sizeof *lc)) == NULL)
		goto fail;
	snprintf(lc->key, sizeof lc->key, "%p", (void *)wsi);
	lc->wsi = wsi;
	lc->t0 = ph_mono_ms();
	if ((ad = relay_map_get(&relay.limits.addrs, relay.limits.accepted)) == NULL) {
		if ((ad = calloc(1, sizeof *ad)) == NULL)
			goto fail;
		memcpy(ad->key, relay.limits.accepted, sizeof ad->key);
		if (relay_map_put(&relay.limits.addrs, ad->key, ad) != 0) {
			free(ad);
			goto fail;
		}
	}
	if (relay_map_put(&relay.limits.conns, lc->key, lc) != 0) {
		if (ad->pending == 0) {
			relay_map_del(&relay.limits.addrs, ad->key);
			free(ad);
		}
		goto fail;
	}
	ad->pending++;
	lc->addr = ad;
	relay_limits_pend(lc);
	relay.limits.nsockets++;
	return;
fail:
	free(lc);
	ph_warn("out of memory tracking a new connection: closing it");
	lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static struct relay_limits_conn *
relay_limits_find(struct lws *wsi)
{
	char key[2 * sizeof(void *) + 4];

	if (wsi == NULL || relay.limits.conns.n == 0)
		return NULL;
	wsi = lws_get_network_wsi(wsi);
	snprintf(key, sizeof key, "%p", (void *)wsi);
	return relay_map_get(&relay.limits.conns, key);
}

/* The connection's token verified: it no longer counts as pending. */
void
relay_limits_admit(struct lws *wsi)
{
	struct relay_limits_conn *lc = relay_limits_find(wsi);

	if (lc != NULL)
		relay_limits_unpend(lc);
}

/* A complete HTTP request: its connection's deadline starts again. */
void
relay_limits_touch(struct lws *wsi)
{
	struct relay_limits_conn *lc = relay_limits_find(wsi);

	if (lc == NULL || !lc->pending)
		return;
	lc->t0 = ph_mono_ms();
	if (lc != relay.limits.pend_tail) {
		struct relay_limits_addr *ad = lc->addr;

		ad->pending++;		/* unpend must not free it */
		relay_limits_unpend(lc);
		lc->addr = ad;
		relay_limits_pend(lc);
	}
}

/* WSI_DESTROY: forget the connection. */
void
relay_limits_destroyed(struct lws *wsi)
{
	struct relay_limits_conn *lc;
	char key[2 * sizeof(void *) + 4];

	if (relay.limits.conns.n == 0)
		return;
	snprintf(key, sizeof key, "%p", (void *)wsi);
	if ((lc = relay_map_del(&relay.limits.conns, key)) == NULL)
		return;
	relay_limits_unpend(lc);
	relay.limits.nsockets--;
	free(lc);
}

/* The count under key in map, created at 0 when absent; NULL when out of memory. */
static struct relay_limits_agent *
relay_limits_count(struct relay_map *map, const char *key)
{
	struct relay_limits_agent *la = relay_map_get(map, key);

	if (la != NULL)
		return la;
	if ((la = calloc(1, sizeof *la)) == NULL ||
	    (la->key = strdup(key)) == NULL ||
	    relay_map_put(map, la->key, la) != 0) {
		if (la != NULL)
			free(la->key);
		free(la);
		return NULL;
	}
	return la;
}

/* One session fewer under key; the count goes when it reaches 0. */
static void
relay_limits_uncount(struct relay_map *map, const char *key)
{
	struct relay_limits_agent *la = relay_map_get(map, key);

	if (la == NULL || --la->sessions > 0)
		return;
	relay_map_del(map, la->key);
	free(la->key);
	free(la);
}

/* The key of (agent_id, sub): the id's length first, so no two pairs share one. */
static char *
relay_limits_subkey(const char *agent_id, const char *sub)
{
	return ph_asprintf("%zu:%s%s", strlen(agent_id), agent_id, sub);
}

/*
 * A session of token subject sub is about to open on agent_id: 0 and
 * counted, or -1 and *cause (malloc'd) when sub already holds
 * --max-sessions-per-sub there, or the agent --max-sessions-per-agent.
 */
int
relay_limits_session_add(const char *agent_id, const char *sub, char **cause)
{
	struct relay_limits_agent *la = relay_map_get(&relay.limits.agents, agent_id), *ls;
	char *key;

	if ((key = relay_limits_subkey(agent_id, sub)) == NULL) {
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	/* Set at or above the agent's limit, the subject's never binds first. */
	ls = relay_map_get(&relay.limits.subs, key);
	if (ls != NULL && ls->sessions >= relay_limits.max_sessions_per_sub &&
	    relay_limits.max_sessions_per_sub < relay_limits.max_sessions_per_agent) {
		*cause = ph_asprintf("%s already has %d open session%s on agent %s, this "
		    "relay's limit per token subject (--max-sessions-per-sub), which keeps "
		    "room on the agent for others: end one of them first", sub,
		    ls->sessions, ls->sessions == 1 ? "" : "s", agent_id);
		free(key);
		return -1;
	}
	if (la != NULL && la->sessions >= relay_limits.max_sessions_per_agent) {
		*cause = ph_asprintf("agent %s already has %d open session%s, this "
		    "relay's limit (--max-sessions-per-agent): try again when one "
		    "has ended", agent_id, la->sessions, la->sessions == 1 ? "" : "s");
		free(key);
		return -1;
	}
	if ((la = relay_limits_count(&relay.limits.agents, agent_id)) == NULL) {
		free(key);
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	la->sessions++;
	if ((ls = relay_limits_count(&relay.limits.subs, key)) == NULL) {
		relay_limits_uncount(&relay.limits.agents, agent_id);
		free(key);
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	ls->sessions++;
	free(key);
	return 0;
}

void
relay_limits_session_del(const char *agent_id, const char *sub)
{
	char *key = relay_limits_subkey(agent_id, sub);

	relay_limits_uncount(&relay.limits.agents, agent_id);
	if (key != NULL)
		relay_limits_uncount(&relay.limits.subs, key);
	free(key);
}

size_t
relay_limits_pending(void)
{
	return relay.limits.npending;
}

/* Before lws_context_destroy: the timer lives in the context. */
void
relay_limits_stop(void)
{
	lws_sul_cancel(&relay.limits.sul_tick);
}

/* After lws_context_destroy (which ran WSI_DESTROY for every connection). */
void
relay_limits_cleanup(void)
{
	struct relay_limits_conn *lc;

	while ((lc = relay.limits.pend_head) != NULL)
		relay_limits_unpend(lc);
	relay_map_free(&relay.limits.conns);
	relay_map_free(&relay.limits.addrs);
	relay_map_free(&relay.limits.agents);
	relay_map_free(&relay.limits.subs);
}
