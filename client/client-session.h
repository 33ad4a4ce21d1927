/*
 * client-session.h - one WebSocket session of the CLI on /v1/session
 * (client-session.c), over a transport of client-transport.c: the
 * upgrade, frames both ways, keepalive and the close handshake.  Named
 * states, one function per transition (client-session.c has the
 * picture); the run (client-run.c) is its only owner.
 */
#ifndef PORTHOLE_CLIENT_SESSION_H
#define PORTHOLE_CLIENT_SESSION_H

#include <stddef.h>

#include <jansson.h>

#include "porthole/frame.h"

struct client_conn;
struct client_session;

/* What a session tells its owner.  Every hook runs on the loop thread. */
struct client_session_ops {
	/* The WebSocket is up: send the first message. */
	void	(*established)(void *arg);
	/*
	 * A whole, decoded, schema-checked message arrived.  Return 0, or -1
	 * after client_session_fail to have the session closed.
	 */
	int	(*message)(void *arg, const struct ph_frame *f);
	/* The outgoing queue became empty: send more. */
	void	(*drained)(void *arg);
	/*
	 * The session is over.  code is the WebSocket close status the relay
	 * sent (1006 when the connection broke without one, 0 when it was
	 * never established); cause is NULL or a sentence saying what went
	 * wrong on our side or why the connection could not be made.
	 */
	void	(*closed)(void *arg, int code, const char *reason, const char *cause);
};

/*
 * Connect a WebSocket to /v1/session with the session subprotocol.  The
 * hooks start firing from the loop.  NULL with *cause.
 */
struct client_session *client_session_open(struct client_conn *cc,
	    const struct client_session_ops *ops, void *arg, char **cause);
/*
 * Queue one message (type byte + payload); -1 if the queue is full or the
 * session is not open (nothing is sent before ops->established).
 */
int	client_session_send(struct client_session *s, int type, const void *p,
	    size_t n);
/* Queue one CONTROL message (steals the reference to obj); -1 on failure. */
int	client_session_send_ctl(struct client_session *s, json_t *obj);
/*
 * Queue the session's `open` (steals obj) with ts, the client's share of the
 * end-to-end seal and the signature of the key the token is bound to
 * (client-sign.h); -1 on failure.  agent_proto is the protocol the listing
 * gives the agent: below PH_PROTOCOL_SEALED it is refused unless
 * --allow-unsealed (no downgrade).
 */
int	client_session_send_open(struct client_session *s, json_t *obj,
	    long agent_proto);
/* Is the outgoing queue above its high mark (stop feeding it)? */
int	client_session_full(const struct client_session *s);
/*
 * Is the session between connections of a resume (from the loss until the
 * agent's proof on the next one)?  What is sent meanwhile is kept in the
 * resume buffer and goes out after the resume.  client_session_full says
 * 1 all that time; an owner that must act on its input at once (the
 * shell's ~ escapes) may go on sending while client_session_keeps says 1:
 * between connections, with room in the resume buffer.
 */
int	client_session_between(const struct client_session *s);
int	client_session_keeps(const struct client_session *s);
/* Pause (0) or resume (1) reading from the relay. */
void	client_session_rx(struct client_session *s, int on);
/*
 * Close with code and reason: after what is queued (flush != 0), or at
 * once (flush == 0: with something still queued, the connection is simply
 * dropped).  Before the session is open the connection is just dropped.
 */
void	client_session_close(struct client_session *s, int code, const char *reason,
	    int flush);
/*
 * Our peer broke the protocol: send error {code, message}, then close with
 * close_code.  The cause is kept and handed to ops->closed.
 */
void	client_session_fail(struct client_session *s, int close_code,
	    const char *err_code, const char *message);
/* Free a session (its hooks stop; the connection is dropped if still up). */
void	client_session_free(struct client_session *s);

#endif
