/*
 * relay-session.h - a relay session's named states and the one function
 * for each transition (relay-session.c).
 *
 * A session pairs a client channel with the agent's data channel.  The
 * state machine knows both only as opaque struct relay_conn pointers and
 * acts on them through a table of functions (struct relay_session_io), so
 * it has no libwebsockets in it: the relay wires the table to
 * relay-conn.c, the unit tests (tests/test_relaysession.c) to fakes.
 *
 *                 attach                 agent's error
 *        WAIT ------------> SPLICED ------------------> ERRORED
 *          |                  |    \                     |
 *          | timeout,         |     \ agent's exit       | agent's exit
 *          | agent gone,      |      `-----------> EXITED <'
 *          | client left      | client left, data closed,
 *          v                  v queue overflow, recording failed
 *        FAILED <-------------'   (also from ERRORED)
 *
 * A session is freed once neither channel is left, whatever its state.
 */
#ifndef PORTHOLE_RELAY_SESSION_H
#define PORTHOLE_RELAY_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "porthole/buf.h"
#include "porthole/frame.h"
#include "porthole/protocol.h"
#include "relay-map.h"

/*
 * Session queues (the client's and the data channel's outgoing ones, and
 * the client's frames before attach).  Past the high mark, reads of the
 * channel feeding it stop; below the low mark they resume.  The hard limit
 * leaves room for what arrives between the mark and the pause taking hold.
 */
#define RELAY_Q_LOW		(64 * 1024)
#define RELAY_Q_HIGH		(256 * 1024)
#define RELAY_Q_LIMIT		(1024 * 1024 + 4 * PH_MAX_MESSAGE)

#define RELAY_ATTACH_SECS	10	/* the agent must attach a session in this */

/* Why a channel's reads are held (io->hold / io->release). */
#define RELAY_HOLD_ATTACH	0x1	/* the client waits for the agent to attach */
#define RELAY_HOLD_PEER		0x2	/* the other side's queue is over its high mark */

struct relay_conn;		/* a channel; only the io functions look inside */
struct relay_record;

enum relay_session_state {
	RELAY_SESSION_WAIT,	/* open forwarded; the agent has not attached */
	RELAY_SESSION_SPLICED,	/* both channels: frames pass each way */
	RELAY_SESSION_ERRORED,	/* spliced; the agent sent `error`, its close code is passed on */
	RELAY_SESSION_EXITED,	/* the agent's `exit` went to the client: both close after it */
	RELAY_SESSION_FAILED,	/* ended without an exit; waits for its channels to go */
};

struct relay_sessions;
struct relay_session;

/* What a session does to its channels, and its owner's hooks. */
struct relay_session_io {
	/* Queue one whole message; -1: closing or over the hard limit. */
	int	(*send)(struct relay_conn *c, const void *msg, size_t len);
	size_t	(*queued)(const struct relay_conn *c);	/* bytes waiting */
	int	(*over_high)(const struct relay_conn *c);
	int	(*under_low)(const struct relay_conn *c);
	int	(*closing)(const struct relay_conn *c);
	/* Refuse: `error` {err, msg}, then close with code. */
	void	(*fail)(struct relay_conn *c, const char *err, int code, const char *msg);
	void	(*close)(struct relay_conn *c, int code, const char *reason, int now);
	void	(*hold)(struct relay_conn *c, unsigned why);
	void	(*release)(struct relay_conn *c, unsigned why);
	/*
	 * Owner: a frame is about to pass (recording, the audit's exit).
	 * -1: the owner ended the session for it (relay_session_abort); the
	 * frame is dropped.  May be NULL.
	 */
	int	(*passing)(struct relay_sessions *ss, struct relay_session *s,
		    int from_agent, const struct ph_frame *f, const uint8_t *msg, size_t len);
	/* Owner: the session is about to be freed (log, audit, limits). */
	void	(*freed)(struct relay_sessions *ss, struct relay_session *s);
};

struct relay_session {
	char			 sid[PH_SID_LEN + 1];
	char			 secret[PH_SECRET_LEN + 1];	/* wiped at attach */
	char			*agent_id;
	char			*op;
	char			*sub;		/* who asked (client token subject) */
	enum relay_session_state state;
	struct relay_conn	*client, *data;	/* NULL once gone */
	struct ph_queue		 early;		/* client frames before attach */
	int64_t			 deadline_ms;	/* WAIT: attach by then (monotonic) */
	char			 end[128];	/* how it ended, for the log */
	int64_t			 t0;		/* monotonic ms at open */
	uint64_t		 to_agent, to_client;	/* payload bytes */
	uint64_t		 msgs_to_client;	/* messages those bytes came in */
	/*
	 * Sealed end to end (protocol 4): the agent's clear `seal` passed.
	 * From then on only records (and the few clear messages meant for
	 * the relay) pass; their contents are never read.
	 */
	int			 sealed;
	/*
	 * Sealed: the agent's clear `exit` (the audit's copy) comes before its
	 * sealed one, which the relay cannot tell from any other record; it
	 * is kept here and the session counts as exited once the agent closes
	 * its data channel normally after the sealed one.
	 */
	int			 exit_seen;
	/*
	 * A resumed session (docs/protocol.md, "Resume"): sealed from its
	 * start; until the agent's first record passes, the two ends' clear
	 * `resume_proof`s pass, and so does the agent's `error` (a refusal).
	 */
	int			 resuming;
	/* The owner's (relay-client.c); the state machine never reads them. */
	char			 peer[64];	/* client address */
	json_t			*audit;		/* session_opened's members, once sent */
	struct relay_record	*rec;		/* recording, or NULL */
	struct relay_session	*prev, *next;
};

/* The sessions of one relay (struct relay's `sessions`). */
struct relay_sessions {
	const struct relay_session_io *io;
	int			 attach_secs;
	struct relay_map	 by_sid;	/* sessions an attach may name */
	struct relay_session	*head;
	uint64_t		 total, active;	/* for /metrics */
	uint64_t		 bytes_to_agent, bytes_to_client;
};

/* Refusals of relay_session_attach. */
enum relay_session_refusal {
	RELAY_SESSION_ATTACHED = 0,
	RELAY_SESSION_NOT_WAITING,	/* attached before, or ended */
	RELAY_SESSION_BAD_SECRET,
};

void	relay_sessions_init(struct relay_sessions *ss, const struct relay_session_io *io);
void	relay_sessions_free(struct relay_sessions *ss);
struct relay_session *relay_session_find(struct relay_sessions *ss, const char *sid);
const char *relay_session_state_name(enum relay_session_state st);

/* The transitions; each is refused (or a no-op) outside its from-state. */
struct relay_session *relay_session_new(struct relay_sessions *ss,
	    struct relay_conn *client, const char *sid, const char *agent_id, const char *op, const char *sub,
	    int64_t now_ms, char **cause);
void	relay_session_abandon(struct relay_sessions *ss, struct relay_session *s,
	    const char *why);
enum relay_session_refusal relay_session_attach(struct relay_sessions *ss,
	    struct relay_session *s, struct relay_conn *data, const char *secret);
void	relay_session_tick(struct relay_sessions *ss, int64_t now_ms);
void	relay_session_agent_gone(struct relay_sessions *ss, const char *agent_id);
void	relay_session_abort(struct relay_sessions *ss, struct relay_session *s,
	    const char *why, const char *err, int code, const char *msg);
void	relay_session_client_closed(struct relay_sessions *ss, struct relay_session *s);
void	relay_session_data_closed(struct relay_sessions *ss, struct relay_session *s,
	    int peer_close);
void	relay_session_data_broke(struct relay_sessions *ss, struct relay_session *s,
	    const char *msg);

/* Frames and flow: which frames pass, and the pauses that follow. */
void	relay_session_client_frame(struct relay_sessions *ss, struct relay_session *s,
	    const struct ph_frame *f, const uint8_t *msg, size_t len);
void	relay_session_agent_frame(struct relay_sessions *ss, struct relay_session *s,
	    const struct ph_frame *f, const uint8_t *msg, size_t len);
void	relay_session_drained(struct relay_sessions *ss, struct relay_session *s,
	    struct relay_conn *c);

#endif
