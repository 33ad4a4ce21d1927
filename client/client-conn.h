/*
 * client-conn.h - the CLI's connection to the relay: TLS, the one
 * libwebsockets context, the HTTP GET of /v1/agents and WebSocket sessions
 * on /v1/session, with failures turned into sentences an operator can act
 * on.
 *
 * The CLI runs one event loop on one thread.  the listing (client-http.c) runs
 * the loop itself until the answer is in; sessions are driven by
 * client_conn_run, which services the loop until the caller's done flag is
 * set.  Sessions are in client-session.c (WebSocket framing of our own,
 * see porthole/wsclient.h).  Other threads (stdin reader, output writer, signal waiter) reach
 * the loop only through client_conn_wake, which lands in ops->wake.
 */
#ifndef PORTHOLE_CLIENT_CONN_H
#define PORTHOLE_CLIENT_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "porthole/frame.h"

#include "client-conf.h"

struct client_conn;
struct client_session;

/*
 * Resolve the relay's host (blocking getaddrinfo: the loop does not exist
 * yet) and create the libwebsockets context.  NULL with *cause.
 */
struct client_conn *client_conn_new(struct client_conf *conf, char **cause);
/* Destroy the context (closing what is still open) and free everything. */
void	client_conn_free(struct client_conn *cc);
/* Wake the loop from another thread: ops->wake of the session runs. */
void	client_conn_wake(struct client_conn *cc);

/*
 * Service the loop until *done becomes non-zero (or the loop fails: -1).
 */
int	client_conn_run(struct client_conn *cc, volatile int *done);

/*
 * Run fn(arg) from the loop after ms milliseconds (one timer per
 * connection; scheduling again replaces it, ms < 0 cancels).
 */
void	client_conn_timer(struct client_conn *cc, int64_t ms, void (*fn)(void *),
	    void *arg);

/* What a session tells its owner.  Every hook runs on the loop thread. */
struct client_session_ops {
	/* The WebSocket is up: send the first message. */
	void	(*established)(void *arg);
	/*
	 * A whole, decoded, schema-checked message arrived.  Return 0, or -1
	 * after client_session_fail to have the session closed.
	 */
	int	(*message)(void *arg, const struct ph_frame *f);
	/* The outgoing queue dropped below its low mark: send more. */
	void	(*drained)(void *arg);
	/* client_conn_wake was called (from any thread). */
	void	(*wake)(void *arg);
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
 * Queue the session's `open` (steals obj) with ts and the signature of the
 * key the token is bound to (client-sign.h); -1 on failure.
 */
int	client_session_send_open(struct client_session *s, json_t *obj);
/*
 * A new `open` with the members every operation carries: sid, agent (the
 * full id of agent, an object of /v1/agents; for an agent of protocol 1
 * its claimed id and agent_sub), op, argv (stolen; NULL: none), tty and
 * stdin false, ts, proto (the lower of ours and the agent's: it says how
 * the open is signed, opensig.h) and sig (filled by
 * client_session_send_open).  The caller adds the rest.  NULL when out of
 * memory.
 */
json_t	*client_open_new(const char *sid, json_t *agent, const char *op,
	    json_t *argv);
/* Is the outgoing queue above its high mark (stop feeding it)? */
int	client_session_full(const struct client_session *s);
/* Pause (0) or resume (1) reading from the relay. */
void	client_session_rx(struct client_session *s, int on);
/*
 * Close with code and reason: after what is queued (flush != 0), or at
 * once (flush == 0: with something still queued, the connection is simply
 * dropped).
 */
void	client_session_close(struct client_session *s, int code, const char *reason,
	    int flush);
/*
 * Our peer broke the protocol: send error {code, message}, then close with
 * close_code.  The cause is kept and handed to ops->closed.
 */
void	client_session_fail(struct client_session *s, int close_code,
	    const char *err_code, const char *message);
/* Free a session after ops->closed ran (or to abandon it with the conn). */
void	client_session_free(struct client_session *s);

#endif
