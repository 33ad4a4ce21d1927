/*
 * relay-conn.h - a relay connection (struct relay_conn, the lws per-session
 * data of every protocol) and what endpoints may do with one: queue a
 * message, refuse, close, pause and resume its reads (relay-conn.c).
 */
#ifndef PORTHOLE_RELAY_CONN_H
#define PORTHOLE_RELAY_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>
#include <jansson.h>

#include "porthole/buf.h"
#include "porthole/protocol.h"
#include "porthole/token.h"
#include "relay-endpoint.h"

/*
 * Receive buffers: control channels carry small JSON, sessions bulk data.
 * A whole session message fits one RECEIVE, so it is forwarded uncopied.
 */
#define RELAY_RX_CONTROL	4096
#define RELAY_RX_SESSION	(PH_MAX_MESSAGE + 64)
/* Largest socket write: one whole message plus its WebSocket header. */
#define RELAY_TX_PACKET		(PH_MAX_MESSAGE + 64)

/* Control channels: open requests and errors only; nothing is paused. */
#define RELAY_CTLQ_LIMIT	(1024 * 1024)

#define RELAY_FIRST_MSG_SECS	10	/* hello / open / attach must come in this */

/* Reasons rx is off on a connection; reads resume when none is left. */
#define RELAY_PAUSE_ATTACH	0x1	/* client waits for the agent to attach */
#define RELAY_PAUSE_PEER	0x2	/* the other side's queue is over its high mark */
#define RELAY_PAUSE_STORE	0x4	/* the artifact store is behind (S3) */
#define RELAY_PAUSE_LOOKUP	0x8	/* the open waits for the fleet's directory */

struct relay_conn {
	enum relay_conn_kind	 kind;
	struct lws		*wsi;
	char			 peer[64];	/* peer address, for logs */
	char			 from[64];	/* the client: peer, or X-Forwarded-For (audit) */
	int			 established;	/* ESTABLISHED seen, CLOSED not yet */
	int			 authed;	/* claims hold a verified token */
	struct ph_claims	 claims;

	struct ph_msgbuf	 rx;		/* message being reassembled */
	struct ph_queue		 tx;		/* whole messages waiting for WRITEABLE */
	unsigned		 pause;		/* RELAY_PAUSE_* bits */

	/* Closing: once close_code is set nothing more is read or queued. */
	int			 close_code;
	char			 close_reason[64];
	int			 close_now;	/* don't wait for tx to drain */
	int			 close_sent;	/* returned -1: ignore later WRITEABLEs */
	int			 peer_close;	/* code of a close the peer started */

	void			*ep;		/* the endpoint's own state (relay-endpoint.h) */
	int64_t			 bytes_in;	/* message bytes read */
	int64_t			 rx_ms;		/* ph_mono_ms() the peer last sent anything */
	int64_t			 ping_ms;	/* ... and the relay last pinged it */
	int			 ping_due;	/* send a ping at the next WRITEABLE */
	int			 hung_up;	/* silent too long: being killed */
	int			 peer_gone;	/* hung up with input still unread */

	struct relay_conn	*prev, *next;	/* relay.conns: live WebSockets */
};

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
void	relay_conn_shutdown_agents(void);
void	relay_conn_keepalive_start(int ping_secs, int hangup_secs);

#endif
