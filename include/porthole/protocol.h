/*
 * protocol.h - the wire contract shared by porthole-relay, porthole-agent
 * and porthole.  docs/protocol.md is the prose reference; this header is
 * the source of truth for every number in it.
 *
 * Bump PH_PROTOCOL_VERSION when a frame type, a control message member that
 * a peer must understand, or a close code changes meaning.  Adding an
 * optional member that old peers may ignore does not need a bump.  The relay
 * serves PH_PROTOCOL_VERSION and PH_PROTOCOL_VERSION_MIN.
 *
 * 2: the signature of an `open` covers every member the client sent, with
 *    its type (opensig.h, form 2); agents of 2 refuse opens of form 1.
 *    A session's version is the open's `proto`: the lower of the client's
 *    and the agent's.  Agents know their full id "<claimed>@<sub>"
 *    (PH_PROTOCOL_QUALIFIED_IDS below).
 * 3: a dump's events (start, progress, done, error) are CONTROL `progress`
 *    and `meta` messages instead of JSON lines on STDERR; an agent of 3
 *    still sends the lines in a session of 2 (PH_PROTOCOL_DUMP_CONTROL).
 * 4: sessions are sealed end to end (porthole/seal.h, docs/protocol.md
 *    "End-to-end sessions"): the open carries the client's `seal` share,
 *    the agent answers with a clear CONTROL `seal`, and every later frame
 *    of the session is a SEALED record (0x05); the agent sends the relay
 *    COPY frames (0x06) for a recording and a clear `exit` for its audit.
 */
#ifndef PORTHOLE_PROTOCOL_H
#define PORTHOLE_PROTOCOL_H

#define PH_PROTOCOL_VERSION	4
#define PH_PROTOCOL_VERSION_MIN	1

/*
 * From this version on an agent knows its full id "<claimed>@<sub>" and
 * checks that every open names it; an agent of an earlier version knows
 * only its claimed id (docs/protocol.md, "Agent identity").
 */
#define PH_PROTOCOL_QUALIFIED_IDS	2

/*
 * From this version on a dump's events are CONTROL `progress`/`meta`
 * messages; in a session of an earlier version, JSON lines on STDERR
 * (docs/protocol.md, "dump").
 */
#define PH_PROTOCOL_DUMP_CONTROL	3

/*
 * From this version on an agent seals its sessions end to end when the
 * open carries a `seal` share; the CLI refuses an agent listed below it
 * unless --allow-unsealed.
 */
#define PH_PROTOCOL_SEALED	4

/* Largest payload of one WebSocket message, after the type byte. */
#define PH_MAX_PAYLOAD		65536
#define PH_MAX_MESSAGE		(PH_MAX_PAYLOAD + 1)

/* WebSocket subprotocol names, one per endpoint kind. */
#define PH_SUBPROTO_CONTROL	"porthole.control.v1"	/* /v1/agent */
#define PH_SUBPROTO_SESSION	"porthole.session.v1"	/* /v1/session, /v1/agent/session/<sid> */

#define PH_PATH_AGENT		"/v1/agent"
#define PH_PATH_SESSION		"/v1/session"
#define PH_PATH_AGENT_SESSION	"/v1/agent/session/"	/* + sid */
#define PH_PATH_AGENT_ARTIFACT	"/v1/agent/artifact"	/* an agent uploads one capture */
#define PH_PATH_ARTIFACTS	"/v1/artifacts"		/* + [/ID]: list, get, delete */
#define PH_PATH_AGENTS		"/v1/agents"
#define PH_PATH_REVOKED		"/v1/revoked"	/* POST + /JTI/UNTIL: token revoke (scope revoke) */
#define PH_PATH_PEER		"/v1/peer"	/* relay to relay, relay token */
#define PH_SUBPROTO_PEER	"porthole.peer.v1"	/* /v1/peer */
#define PH_PATH_HEALTHZ		"/healthz"
#define PH_PATH_METRICS		"/metrics"
#define PH_PATH_VERSION		"/v1/version"	/* unauthenticated: version, protocol, commit */

/* Session ids: 16 random bytes as 32 lowercase hex digits. */
#define PH_SID_LEN		32
/* One-time session secret from `open`: 32 random bytes, 64 hex digits. */
#define PH_SECRET_LEN		64

/* Frame type byte, first byte of every binary message. */
enum ph_frame_type {
	PH_FRAME_STDIN = 0x00,		/* client -> agent, raw bytes */
	PH_FRAME_STDOUT = 0x01,		/* agent -> client, raw bytes */
	PH_FRAME_STDERR = 0x02,		/* agent -> client, raw bytes */
	PH_FRAME_CONTROL = 0x03,	/* both, one JSON object with "type" */
	PH_FRAME_DATA = 0x04,		/* both, raw bytes of a dump or a file */
	PH_FRAME_SEALED = 0x05,		/* client <-> agent: one sealed record (seal.h) */
	PH_FRAME_COPY = 0x06,		/* agent -> relay: a clear copy of one frame, for the recording */
	PH_FRAME_STREAM = 0x07,		/* both, forward: one connection's frame (stream.h) */
	PH_FRAME_TYPE_COUNT
};

/* WebSocket close codes porthole uses. */
enum ph_close {
	PH_CLOSE_NORMAL = 1000,
	PH_CLOSE_GOING_AWAY = 1001,	/* relay or agent shutting down */
	PH_CLOSE_POLICY = 1008,		/* unknown type byte, bad JSON, bad schema, wrong state */
	PH_CLOSE_TOO_BIG = 1009,	/* message larger than PH_MAX_MESSAGE */
	PH_CLOSE_INTERNAL = 1011,	/* the peer hit an error it could not recover */
	PH_CLOSE_MOVE = 4307,		/* relay leaving its fleet: reconnect (elsewhere) now */
	PH_CLOSE_UNAUTHORIZED = 4401,	/* no, bad, expired or wrong-kind token */
	PH_CLOSE_FORBIDDEN = 4403,	/* token valid but not allowed this */
	PH_CLOSE_NOT_FOUND = 4404,	/* agent not connected / unknown session */
	PH_CLOSE_CONFLICT = 4409,	/* session id already seen */
	PH_CLOSE_VERSION = 4426,	/* protocol version outside what the relay serves */
	PH_CLOSE_LIMIT = 4429,		/* a limit of the relay's reached: try later */
	PH_CLOSE_AGENT_LOST = 4502,	/* the agent's side of a session went away */
	PH_CLOSE_TIMEOUT = 4504,	/* the agent did not attach in time */
};

/* The reason of the 1001 close a relay that is shutting down sends. */
#define PH_REASON_SHUTDOWN	"relay shutting down"
#define PH_REASON_MOVE		"relay leaving: reconnect elsewhere"

/*
 * Control message types ("type" member of a CONTROL frame).  The numeric
 * values only index tables; the wire carries the strings.
 */
enum ph_ctl {
	PH_CTL_UNKNOWN = 0,
	/* control channel (/v1/agent) */
	PH_CTL_HELLO,		/* agent -> relay: proto, id, name, labels, version, instance, caps */
	PH_CTL_WELCOME,		/* relay -> agent: proto, max_payload */
	/* sessions */
	PH_CTL_OPEN,		/* client -> relay -> agent: sid, agent, op, argv ... */
	PH_CTL_ATTACH,		/* agent -> relay, first message of a data channel: sid, secret */
	PH_CTL_READY,		/* agent -> client: the operation has started */
	PH_CTL_RESIZE,		/* client -> agent: cols, rows */
	PH_CTL_SIGNAL,		/* client -> agent: name */
	PH_CTL_EOF,		/* client -> agent: stdin closed */
	PH_CTL_EXIT,		/* agent -> client: code | signal */
	PH_CTL_ERROR,		/* any: code, message */
	PH_CTL_PROGRESS,	/* agent -> client: done, total */
	PH_CTL_META,		/* agent -> client: size, sha256, format */
	/* artifact upload channel (/v1/agent/artifact) */
	PH_CTL_ARTIFACT,	/* agent -> relay: phase begin|end; relay -> agent: stored */
	/* end-to-end sealing (protocol 4) */
	PH_CTL_SEAL,		/* agent -> client, clear, first after attach: share, sig, token, record */
	PH_CTL_REPORT,		/* agent -> relay on a data channel: what the relay audits (forward) */
	/* control channel, to agents that announce PH_CAP_REVOKED */
	PH_CTL_REVOKED,		/* relay -> agent: entries {"JTI": EXP, ...} to add */
	PH_CTL_RESUME,		/* client -> relay -> agent: sid, challenge (resume a sealed session) */
	PH_CTL_RESUME_PROOF,	/* client <-> agent, clear: received, proof, challenge */
	PH_CTL_DETACH,		/* client -> agent: detach the shell; agent -> client: detached, session */
	PH_CTL_COUNT
};

/* Error codes carried in `error` messages ("code" member). */
#define PH_ERR_BAD_FRAME	"bad_frame"
#define PH_ERR_TOO_BIG		"too_big"
#define PH_ERR_BAD_JSON		"bad_json"
#define PH_ERR_BAD_MESSAGE	"bad_message"
#define PH_ERR_UNAUTHORIZED	"unauthorized"
#define PH_ERR_FORBIDDEN	"forbidden"
#define PH_ERR_NO_AGENT		"no_agent"
#define PH_ERR_SID_REUSED	"sid_reused"
#define PH_ERR_AGENT_LOST	"agent_lost"
#define PH_ERR_TIMEOUT		"timeout"
#define PH_ERR_VERSION		"version"
#define PH_ERR_UNSUPPORTED	"unsupported"
#define PH_ERR_SPAWN		"spawn_failed"
#define PH_ERR_INTERNAL		"internal"
#define PH_ERR_CONFLICT		"conflict"	/* agent id held by another instance */
#define PH_ERR_LIMIT		"limit"		/* a limit of the relay's; try later */
#define PH_ERR_NO_TARGET	"no_target"	/* open.pid / open.container: no such process */
#define PH_ERR_RECORDING	"recording_failed" /* the relay cannot record a session that must be */
#define PH_ERR_SEAL		"seal_failed"	/* a sealed record did not open: the session ends */
#define PH_ERR_RESUME		"resume_failed"	/* the session cannot resume: it ends */

/*
 * Keepalive on every WebSocket: hang up when no pong came for
 * PH_HANGUP_SECS (a dead peer is found within a minute: lws needs 5 s more
 * to close), pinging after min(PH_PING_SECS, hangup / 3) s without one
 * (16 s by default; porthole/keepalive.h).
 */
#define PH_PING_SECS		20
#define PH_HANGUP_SECS		50

#endif
