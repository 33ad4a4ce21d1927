/*
 * relay.h - the state porthole-relay's modules share, and their entry points.
 *
 * The relay runs one libwebsockets event loop on one thread.  Every
 * connection carries a struct relay_conn (the lws per-session data, zeroed
 * and freed by lws); relay-conn.c owns its life (reassembly, the outgoing
 * queue, closing), relay-http.c answers plain HTTP requests, relay-auth.c
 * turns the Authorization header into verified claims, relay-agent.c keeps
 * the registry of connected agents (control channels), relay-session.c
 * pairs client channels with the agents' data channels and splices them,
 * relay-sids.c remembers the session ids already used, relay-limits.c
 * keeps connections it has not admitted (and sessions per agent) within
 * bounds, relay-route.c reads paths and the Authorization header,
 * relay-map.c is the string-keyed table the registries are built on.  relay-audit.c writes
 * the audit stream (JSON lines on stdout) and decides where a client came
 * from (relay-xff.c: X-Forwarded-For of trusted proxies), relay-record.c
 * writes session recordings (asciicast v2; relay-utf8.c makes their text),
 * relay-metrics.c keeps the counters behind GET /metrics.  The process-wide state
 * lives in the one struct relay of relay.c.
 */
#ifndef PORTHOLE_RELAY_H
#define PORTHOLE_RELAY_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include <libwebsockets.h>
#include <jansson.h>

#include "porthole/buf.h"
#include "porthole/frame.h"
#include "porthole/keywatch.h"
#include "porthole/protocol.h"
#include "porthole/revoked.h"
#include "porthole/token.h"
#include "porthole/tokenlife.h"

/*
 * Receive buffers: control channels carry small JSON, sessions bulk data.
 * A whole session message fits one RECEIVE, so it is forwarded uncopied.
 */
#define RELAY_RX_CONTROL	4096
#define RELAY_RX_SESSION	(PH_MAX_MESSAGE + 64)
/* Largest socket write: one whole message plus its WebSocket header. */
#define RELAY_TX_PACKET		(PH_MAX_MESSAGE + 64)

/*
 * Outgoing queues.  A session queue past its high mark stops reads of the
 * connection feeding it; below the low mark they resume.  The hard limit
 * leaves room for what arrives between the mark and the pause taking hold.
 */
#define RELAY_Q_LOW		(64 * 1024)
#define RELAY_Q_HIGH		(256 * 1024)
#define RELAY_Q_LIMIT		(1024 * 1024 + 4 * PH_MAX_MESSAGE)
/* Control channels: open requests and errors only; nothing is paused. */
#define RELAY_CTLQ_LIMIT	(1024 * 1024)

#define RELAY_ATTACH_SECS	10	/* agent must attach a session in this */
#define RELAY_FIRST_MSG_SECS	10	/* hello / open / attach must come in this */
#define RELAY_SHUTDOWN_SECS	25	/* SIGTERM: exit within this (--shutdown-secs) */
#define RELAY_LIMITS_FD_RESERVE	64	/* fds kept for files, logs, recordings */

/* relay-help.c: --help and the man page porthole-relay(8), one table. */
void	relay_help(FILE *f);
void	relay_man(FILE *f);
#define RELAY_SHUTDOWN_HURRY	2	/* ... the last seconds stop waiting for queues */

enum relay_conn_kind {
	RELAY_CONN_HTTP = 0,	/* plain request: /healthz, /v1/agents ... */
	RELAY_CONN_CONTROL,	/* /v1/agent: an agent's control channel */
	RELAY_CONN_CLIENT,	/* /v1/session: a client's session */
	RELAY_CONN_DATA,	/* /v1/agent/session/<sid>: an agent's side of it */
	RELAY_CONN_OTHER,	/* a WebSocket on no endpoint; being refused */
};

/* Reasons rx is off on a connection; reads resume when none is left. */
#define RELAY_PAUSE_ATTACH	0x1	/* client waits for the agent to attach */
#define RELAY_PAUSE_PEER	0x2	/* the other side's queue is over its high mark */

struct relay_agent;
struct relay_session;

/* Per-connection state: the lws per-session data of every protocol. */
struct relay_conn {
	enum relay_conn_kind	 kind;
	struct lws		*wsi;
	char			 peer[64];	/* peer address, for logs */
	char			 from[64];	/* the client: peer, or X-Forwarded-For (audit) */
	int			 established;	/* ESTABLISHED seen, CLOSED not yet */
	int			 authed;	/* claims hold a verified token */
	struct ph_claims	 claims;
	char			*bearer;	/* CLIENT: its token, until the open (wiped) */

	struct ph_msgbuf	 rx;		/* message being reassembled */
	int			 rx_text;	/* current message is text: refuse */
	struct ph_queue		 tx;		/* whole messages waiting for WRITEABLE */
	unsigned		 pause;		/* RELAY_PAUSE_* bits */

	/* Closing: once close_code is set nothing more is read or queued. */
	int			 close_code;
	char			 close_reason[64];
	int			 close_now;	/* don't wait for tx to drain */
	int			 close_sent;	/* returned -1: ignore later WRITEABLEs */
	int			 peer_close;	/* code of a close the peer started */

	struct relay_agent	*agent;		/* CONTROL: the registration it holds */
	struct relay_session	*sess;		/* CLIENT / DATA: its session */
	char			 path_sid[PH_SID_LEN + 1];	/* DATA: sid in the path */
	int64_t			 bytes_in;	/* message bytes read */
	int64_t			 rx_ms;		/* ph_mono_ms() the peer last sent anything */
	int64_t			 ping_ms;	/* ... and the relay last pinged it */
	int			 ping_due;	/* send a ping at the next WRITEABLE */
	int			 hung_up;	/* silent too long: being killed */

	/* HTTP: the response body, LWS_PRE bytes of headroom in front. */
	uint8_t			*http_body;
	size_t			 http_len, http_off;

	struct relay_conn	*prev, *next;	/* relay.conns: live WebSockets */
};

/* Counters for /metrics. */
struct relay_stats {
	uint64_t	 agents_total;
	uint64_t	 sessions_total;
	uint64_t	 sessions_active;
	uint64_t	 refusals;
	uint64_t	 bytes_to_agent;
	uint64_t	 bytes_to_client;
};

/* The process. */
struct relay {
	struct lws_context	*ctx;
	struct lws_vhost	*vh;
	struct ph_keyset	 keys;
	struct ph_keywatch	 keywatch;	/* re-reads keys when PORTHOLE_PUBKEY changes */
	struct ph_revoked	 revoked;	/* PORTHOLE_REVOKED */
	struct ph_lifetime	 lifetime;	/* --max-token-lifetime */
	struct relay_conn	*conns;		/* every live WebSocket */
	size_t			 nconns;
	int			 shutting_down;
	int			 done;		/* leave the loop */
	int			 dying;		/* lws_context_destroy is running */
	lws_sorted_usec_list_t	 sul_shutdown;
	lws_sorted_usec_list_t	 sul_keepalive;	/* relay_conn_keepalive */
	int			 ping_secs, hangup_secs;
	struct relay_stats	 stats;
};

extern struct relay relay;

/* relay-conn.c: the one lws callback and connection plumbing. */
int	relay_conn_callback(struct lws *wsi, enum lws_callback_reasons reason,
	    void *user, void *in, size_t len);
int	relay_conn_send(struct relay_conn *c, const void *msg, size_t len);
int	relay_conn_send_ctl(struct relay_conn *c, json_t *obj);
void	relay_conn_fail(struct relay_conn *c, const char *err, int code,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void	relay_conn_close(struct relay_conn *c, int code, const char *reason, int now);
int	relay_conn_closing(const struct relay_conn *c);
void	relay_conn_pause(struct relay_conn *c, unsigned why);
void	relay_conn_resume(struct relay_conn *c, unsigned why);
void	relay_conn_shutdown_all(int now);
void	relay_conn_keepalive_start(int ping_secs, int hangup_secs);

/* relay-http.c: plain HTTP requests. */
int	relay_http_request(struct relay_conn *c, struct lws *wsi, const char *path);
int	relay_http_writeable(struct relay_conn *c, struct lws *wsi);
void	relay_http_closed(struct relay_conn *c);

/* relay-route.c: the endpoint a path names; the token in a header. */
enum relay_conn_kind relay_route(const char *path, const char **subproto, const char **sid);
char	*relay_route_bearer(const char *hdr, char **cause);

/* relay-auth.c: tokens on requests and upgrades. */
int	relay_auth_check(struct lws *wsi, enum ph_token_kind want,
	    struct ph_claims *out, int *refusal, char **cause);
int	relay_auth_check_keep(struct lws *wsi, enum ph_token_kind want,
	    struct ph_claims *out, char **keep, int *refusal, char **cause);
int	relay_auth_may_touch(const struct ph_claims *cl, json_t *agent);
int	relay_auth_open(const struct ph_claims *cl, const json_t *open, char **cause);
int	relay_auth_revoked(const char *jti);
void	relay_auth_wipe(char **tok);

/* relay-agent.c: the registry of connected agents. */
void	relay_agent_rx(struct relay_conn *c, struct ph_frame *f);
void	relay_agent_closed(struct relay_conn *c);
struct relay_agent *relay_agent_find(const char *id);
json_t	*relay_agent_json(const struct relay_agent *a);
json_t	*relay_agent_list(const struct ph_claims *cl, const char *selector, char **cause);
int	relay_agent_send(struct relay_agent *a, json_t *obj);
const char *relay_agent_id(const struct relay_agent *a);
int	relay_agent_proto(const struct relay_agent *a);
size_t	relay_agent_count(void);
void	relay_agent_cleanup(void);

/* relay-session.c: client and data channels, splicing. */
void	relay_session_client_rx(struct relay_conn *c, struct ph_frame *f,
	    const uint8_t *msg, size_t len);
void	relay_session_data_rx(struct relay_conn *c, struct ph_frame *f,
	    const uint8_t *msg, size_t len);
void	relay_session_client_closed(struct relay_conn *c);
void	relay_session_data_closed(struct relay_conn *c);
void	relay_session_drained(struct relay_conn *c);
void	relay_session_agent_gone(const char *agent_id);
void	relay_session_cleanup(void);

/* relay-audit.c: the audit stream on stdout; where a request comes from. */
int	relay_audit_init(const char *trusted_proxies, char **cause);
int	relay_audit_trusts_proxies(void);
void	relay_audit_from(struct lws *wsi, const char *peer, char *from, size_t len);
void	relay_audit(const char *event, json_t *fields);
void	relay_audit_origin(json_t *obj, const struct relay_conn *c);
void	relay_audit_refusal(const struct relay_conn *c, const char *what,
	    const char *code, const char *reason);
void	relay_audit_refusal_with(const struct relay_conn *c, const char *what,
	    const char *code, const char *reason, json_t *extra);
uint64_t relay_audit_dropped(void);
void	relay_audit_cleanup(void);

/* relay-xff.c: trusted proxy networks and the X-Forwarded-For rule. */
#define RELAY_CIDRS_MAX		64
struct relay_cidr {
	int	 v6;
	uint8_t	 addr[16];
	int	 bits;
};
struct relay_cidrs {
	int			 n;
	struct relay_cidr	 v[RELAY_CIDRS_MAX];
};
int	relay_cidrs_parse(struct relay_cidrs *set, const char *list, char **cause);
int	relay_cidrs_has(const struct relay_cidrs *set, const char *addr);
void	relay_xff_client(const struct relay_cidrs *trusted, const char *peer,
	    char *xff, char *from, size_t len);

/* relay-utf8.c: bytes to the text of a JSON string, for recordings. */
#define RELAY_UTF8_ROOM		8	/* output room one step may need */
enum relay_utf8_stop { RELAY_UTF8_DONE, RELAY_UTF8_FULL, RELAY_UTF8_PARTIAL };
enum relay_utf8_stop relay_utf8_json(const uint8_t *in, size_t n, int final,
	    char *out, size_t outsize, size_t *used, size_t *wrote);

/* relay-record.c: asciicast v2 recordings of shell and exec sessions. */
#define RELAY_ERR_RECORDING	PH_ERR_RECORDING	/* error code to the client */
struct relay_record;
int	relay_record_init(const char *dir, int required, char **cause);
int	relay_record_required(void);
int	relay_record_wanted(const char *op);
struct relay_record *relay_record_start(const char *sid, json_t *open,
	    const char *agent_name, const char *sub, char **cause);
int	relay_record_output(struct relay_record *r, int stream, const uint8_t *p,
	    size_t n);
int	relay_record_resize(struct relay_record *r, json_t *resize);
const char *relay_record_path(const struct relay_record *r);
const char *relay_record_error(const struct relay_record *r);
int	relay_record_finish(struct relay_record *r, char **cause);
void	relay_record_cleanup(void);

/* relay-metrics.c: counters and the GET /metrics body. */
void	relay_metrics_init(void);
void	relay_metrics_session(const char *op, int delta);
void	relay_metrics_refusal(const char *code);
void	relay_metrics_queue(enum relay_conn_kind kind, size_t bytes);
void	relay_metrics_recording(int failed);
int	relay_metrics_render(char **out, size_t *len);

/* relay-sids.c: session ids already used (bounded, oldest forgotten). */
int	relay_sids_seen(const char *sid);
int	relay_sids_add(const char *sid);
void	relay_sids_free(void);

/* relay-limits.c: limits before and after admission (see its comment). */
struct relay_limits {
	int	handshake_secs;		/* --handshake-timeout */
	int	max_pending;		/* --max-pending */
	int	max_pending_per_addr;	/* --max-pending-per-addr */
	int	max_conns;		/* --max-conns (0: from the fd limit) */
	int	max_sessions_per_agent;	/* --max-sessions-per-agent */
	int	max_sessions_per_sub;	/* --max-sessions-per-sub (0 until init: half) */
};
extern struct relay_limits relay_limits;
enum relay_opt {	/* getopt values of the long-only options */
	RELAY_OPT_HANDSHAKE_TIMEOUT = 0x100,
	RELAY_OPT_MAX_PENDING,
	RELAY_OPT_MAX_PENDING_PER_ADDR,
	RELAY_OPT_MAX_CONNS,
	RELAY_OPT_MAX_SESSIONS_PER_AGENT,
	RELAY_OPT_MAX_SESSIONS_PER_SUB,
	RELAY_OPT_LIMITS_END,
};
int	relay_limits_option(int opt, const char *arg);
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

/* relay-map.c: string key -> pointer; keys belong to the values. */
struct relay_map_ent;
struct relay_map {
	struct relay_map_ent	**b;
	size_t			  nb, n;
};
void	*relay_map_get(const struct relay_map *m, const char *key);
int	 relay_map_put(struct relay_map *m, const char *key, void *val);
void	*relay_map_del(struct relay_map *m, const char *key);
void	 relay_map_free(struct relay_map *m);

#endif
