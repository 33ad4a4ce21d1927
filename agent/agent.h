/*
 * agent.h - what the parts of porthole-agent share.
 *
 * porthole-agent runs inside a container and dials OUT to the relay: one
 * control channel (/v1/agent) that says hello and receives `open` requests,
 * and one data channel (/v1/agent/session/<sid>) per session.  Everything
 * runs on one libwebsockets event loop on one thread; the only other thread
 * is the short-lived resolver that keeps getaddrinfo() off the loop.
 *
 * The parts, one file each:
 *   agent.c          main: settings, environment scrub, lws context, loop
 *   agent-identity.c the agent's id (claimed, and full with its token's sub) and instance
 *   agent-token.c    is the agent's own token one a relay can ever take
 *   agent-files.c    wait for the files it reads (token file, CA, keys)
 *   agent-tls.c      which CA certificates to trust, why a verify failed
 *   agent-resolve.c  off-loop DNS for the relay's name
 *   agent-lookup.c   off-loop DNS for forward's destinations, a bounded pool
 *   agent-chan.c     what both channel kinds share: queue out, reassembly in, close
 *   agent-control.c  the control channel: hello, welcome, open, reconnect
 *   agent-session.c  the data channels: attach, frames, queues, close
 *   agent-seal.c     a session sealed end to end: the share, records out and in
 *   agent-verify.c   every open checked again: token, signature, replay
 *   agent-wsframe.c  masked WebSocket frames for bulk output (fast path)
 *   agent-fd.c       a child's output fds read into a session under flow control
 *   agent-signal.c   SIGCHLD/SIGTERM/SIGINT/SIGHUP through a signalfd
 *   agent-proc.c     child processes: reaping, kill with grace, post-fork setup
 *   agent-target.c   --pid/--container: whose root, ids, env a program gets
 *   agent-launch.c   launcher mode: -- APP is exec'd in place, the agent forks off
 *   agent-watch.c    the flight recorder's watches: sampling, firing (agent-capture.h)
 *   agent-capture.c  a capture with nobody attached: the worker, shipped or spooled
 *   agent-upload.c   the blocking upload of one capture to the relay (capture children)
 *   agent-secret.c   not dumpable; secrets wiped once used
 *   agent-help.c     --help and the man page porthole-agent(8), one table
 *   op.c, op-*.c     the operations a session runs (see op.h)
 *   op-child.c       an operation's child: what exec and shell share of its life (op.h)
 *   op-helper.c      ps, mem, net, lsof, probe, dump: the agent re-executed
 *   op-forward.c     forward: many TCP connections as streams of one session
 */
#ifndef PORTHOLE_AGENT_H
#define PORTHOLE_AGENT_H

#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "porthole/agentid.h"
#include "porthole/buf.h"
#include "porthole/frame.h"
#include "porthole/protocol.h"

#define AGENT_ID_HEX		16	/* random id when there is no task metadata */
#define AGENT_INSTANCE_HEX	32	/* random per process: tells reconnects apart */
#define AGENT_NAME_MAX		200	/* hello.name and hello.id, bytes */

/* Local libwebsockets protocol names (not the wire subprotocols). */
#define AGENT_PROTOCOL		"porthole-agent"	/* protocols[0]: context-wide */
#define AGENT_CONTROL_PROTOCOL	"porthole-control"	/* the control channel */
#define AGENT_SESSION_PROTOCOL	"porthole-session"	/* data channels */
#define AGENT_SIGNAL_PROTOCOL	"porthole-signal"	/* the signalfd */
#define AGENT_TIMER_PROTOCOL	"porthole-timer"	/* the timerfd (agent-timer.c) */

/* Data channel queue toward the relay (docs/protocol.md, "Data channel"). */
#define AGENT_OUT_LOW		(64 * 1024)
#define AGENT_OUT_HIGH		(256 * 1024)
/*
 * Hard limit: the high mark, plus what two output pipes may still hold when
 * they hang up while paused (drained in RAW_CLOSE_FILE; a pipe holds at most
 * /proc/sys/fs/pipe-max-size, 1 MiB by default), plus a few control messages.
 */
#define AGENT_OUT_LIMIT		(AGENT_OUT_HIGH + 2 * 1024 * 1024 + 2 * PH_MAX_MESSAGE)

/*
 * Exit statuses of the agent (docs/operations.md, "Exit status of the
 * agent"): only its own immutable inputs stop it; a relay's verdict or a
 * file that is not there yet is retried.
 */
/* agent-help.c: --help and the man page, from one table. */
void	agent_help(FILE *f);
void	agent_man(FILE *f);

#define AGENT_EXIT_CONFIG	2	/* a setting missing or malformed (usage) */
#define AGENT_EXIT_TOKEN	3	/* the token is not an agent token, or not a token */

/* A problem repeated this long is logged again (at warn), with its count. */
#define AGENT_PROBLEM_REPEAT_SECS 600

/* Grace between SIGTERM and SIGKILL for a lost session's process group. */
#define AGENT_KILL_GRACE_MS	5000
/* Whole-agent shutdown deadline: after it the loop ends whatever is left. */
#define AGENT_STOP_DEADLINE_MS	8000

struct agent_session;
struct agent_resolve;
struct agent_watches;

/*
 * A WebSocket to the relay, control or data (agent-chan.c): what its owner
 * does with it.
 */
struct agent_chan_ops {
	/* One whole, decoded message from the relay (cleared after). */
	void	(*frame)(void *arg, struct ph_frame *f);
	/* Bad input: say `error` {code, msg} and close with close_code. */
	void	(*fail)(void *arg, int close_code, const char *code, const char *msg);
	/* The queue fell under its low mark after a write (may be NULL). */
	void	(*low)(void *arg);
	/* Write one message (PH_HEADROOM free in front of msg): 0 or -1. */
	int	(*write)(struct lws *wsi, uint8_t *msg, size_t len);
};

/*
 * Where a channel is in its close (agent-chan.c has one function per
 * transition): OPEN → CLOSING (agent_chan_close) → CLOSED (the close went
 * out, in WRITEABLE); agent_chan_reset makes a new connection OPEN.
 */
enum agent_chan_state {
	AGENT_CHAN_OPEN,	/* messages queue and go out; the relay's are read */
	AGENT_CHAN_CLOSING,	/* close_code chosen: the queue drains, then the close */
	AGENT_CHAN_CLOSED,	/* lws_close_reason done: WRITEABLE is refused */
};

struct agent_chan {
	const struct agent_chan_ops *ops;
	void		*arg;		/* the owner: struct agent or agent_session */
	char		 label[32];	/* log prefix: "" or "session 1234abcd: " */
	struct lws	*wsi;		/* NULL while not connected (cleared by us: research §4) */
	struct ph_queue	 out;		/* messages toward the relay */
	struct ph_msgbuf in;		/* reassembly of one message from the relay */
	enum agent_chan_state state;
	int		 close_code;	/* CLOSING, CLOSED: the code it closes with */
};
struct agent_proc;
struct agent_kill;

/* Settings, read once at start (flags over environment). */
struct agent_config {
	char		*relay;		/* wss://host[:port] as given */
	char		*host;		/* host part of relay: SNI, cert name, Host */
	int		 port;
	char		*token;		/* agent token (never logged); NULL until read */
	char		*token_file;	/* "@FILE" when the token comes from a file */
	char		*ca;		/* PORTHOLE_CA: extra PEM file to trust, or NULL */
	char		*ca_bundle;	/* the system bundle found, or NULL */
	char		*name;		/* hello.name */
	int		 name_set;	/* name came from PORTHOLE_NAME / --name */
	json_t		*labels;	/* hello.labels, a JSON object of strings */
	json_t		*ecs_containers; /* task metadata: [{name, docker_id}], or NULL */
	char		*shell;		/* PORTHOLE_SHELL, kept for the shell op */
	char		*pubkey;	/* PORTHOLE_PUBKEY: keys of the token issuer */
	char		*revoked;	/* PORTHOLE_REVOKED: revoked jtis, or NULL */
	char		*key;		/* PORTHOLE_KEY: the agent key its token is bound to, or NULL */
};

struct agent_verify;

struct agent {
	struct agent_config cfg;
	struct lws_context *ctx;
	struct lws_vhost *vh;		/* the default vhost: raw fds are adopted here */

	char		 claimed[AGENT_NAME_MAX + 1];	/* hello.id */
	char		 id[PH_AGENT_ID_MAX + 1];	/* full id: <claimed>@<sub> */
	char		 instance[AGENT_INSTANCE_HEX + 1];
	size_t		 max_payload;	/* min(ours, the relay's welcome) */

	/* Control channel (agent-control.c). */
	struct agent_chan control;	/* the WebSocket, its queues and close */
	int		 control_welcomed;	/* welcome received on this connection */
	int		 control_got_error;	/* an error frame came on this connection */
	int		 control_going_away; /* the relay closed it: 1 with 1001 (restart), 2 with 4307 (leaving its fleet) */
	uint16_t	 control_retries;	/* backoff step; zeroed on ESTABLISHED */
	lws_sorted_usec_list_t sul_control;	/* reconnect timer */
	char		*last_problem;	/* last connection problem logged (agent_problem) */
	int64_t		 last_problem_at; /* when it was last logged at warn (monotonic s) */
	unsigned	 problem_repeats; /* times seen since then */
	char		 tls_error[160]; /* why the last certificate check failed */
	int		 tls_verify_err; /* its X509_V_ERR_*, 0 when none */
	char		 relay_addr[INET6_ADDRSTRLEN]; /* numeric address resolved last */
	struct agent_resolve *resolve;	/* in-flight resolution, or NULL */

	/* Sessions (agent-session.c). */
	struct agent_session *sessions;
	unsigned	 nsessions;
	struct agent_verify *verify;	/* agent-verify.c */
	struct ph_key	*seal_key;	/* agent-seal.c: PORTHOLE_KEY, when the token is bound to it */
	int		 seal_key_tried;
	int64_t		 resume_ms;	/* PORTHOLE_RESUME_TIMEOUT: how long a session waits; 0: none */
	size_t		 resume_soft;	/* PORTHOLE_RESUME_BUFFER: stop reading past it */
	size_t		 resume_hard;	/* the resume buffer's limit */
	int64_t		 detach_ttl_ms;	/* PORTHOLE_DETACH_TTL: how long a detached shell lives */

	/* Children (agent-proc.c). */
	struct agent_proc *children;	/* pids being waited for */
	struct agent_kill *kills;	/* pending SIGKILL-after-grace timers */
	struct lws	*sig_wsi;	/* the adopted signalfd */
	struct lws	*timer_wsi;	/* the adopted timerfd (agent-timer.c) */
	int		 timer_fd;
	struct agent_timer *timers;	/* pending, unsorted */

	/* The flight recorder (agent-capture.h). */
	struct agent_watches *watches;	/* agent-watch.c; NULL: none ever added */
	char		*spool_dir;	/* PORTHOLE_SPOOL_DIR, or NULL */
	uint64_t	 spool_max;	/* PORTHOLE_SPOOL_MAX, bytes */
	pid_t		 spool_pid;	/* the child uploading the spool, or 0 */
	lws_sorted_usec_list_t sul_spool; /* the spool kick, retried while a thread runs */
	int		 sealed;	/* PORTHOLE_ARTIFACT_RECIPIENT is set: */
	uint8_t		 recipient[32];	/* captures are sealed to this X25519 key */

	/* Life. */
	int		 stopping;	/* SIGTERM/SIGINT seen: wind down */
	int		 done;		/* leave the loop now */
	int		 destroying;	/* inside lws_context_destroy: callbacks stand back */
	lws_sorted_usec_list_t sul_stop; /* shutdown deadline */

	uint8_t		 iobuf[PH_MAX_PAYLOAD]; /* scratch for one pipe read */
};

struct op_entry;

/*
 * Where a session is in its life (agent-session.c has one function per
 * transition): OPENING → RUNNING (agent_session_run) → FINISHING
 * (agent_session_finish: `exit` queued, or the agent stopping) → CLOSED
 * (agent_session_to_closed: the channel is gone); OPENING and RUNNING go
 * straight to CLOSED when the channel closes first (RUNNING: the
 * operation's lost()).  A CLOSED session is freed once its operation
 * holds nothing (agent_session_check).
 */
enum agent_session_state {
	AGENT_SESSION_OPENING,	/* the data channel dials and attaches; no operation */
	AGENT_SESSION_RUNNING,	/* the operation started; `exit` not queued yet */
	AGENT_SESSION_FINISHING, /* `exit` queued (or stopping): the channel drains, closes */
	AGENT_SESSION_CLOSED,	/* the channel is gone */
};

/*
 * One session: a data channel to the relay and the operation behind it.
 * It is freed (agent_session_check) once its channel is closed and its
 * operation holds nothing any more (no child to reap, no fd open).
 */
struct agent_session {
	struct agent_session *next;
	struct agent	*agent;
	char		 sid[PH_SID_LEN + 1];
	char		 secret[PH_SECRET_LEN + 1]; /* wiped once attach is queued */
	char		*sub;		/* who asked (from open), for logs */
	char		*path;		/* /v1/agent/session/<sid> */
	json_t		*open;		/* the open message, owned */
	const struct op_entry *op;	/* NULL until started */
	void		*op_data;	/* the operation's state */

	struct agent_chan chan;		/* the data channel; chan.wsi NULL once closed */
	enum agent_session_state state;
	int		 rx_paused;	/* we stopped reading the data channel */
	lws_sorted_usec_list_t sul_keep; /* keepalive while flow-controlled */
	struct agent_seal *sealed;	/* agent-seal.c: NULL while the session is clear */
	char		*jti;		/* the client token's (the open's signing input) */
	/* A refused open: its data channel only says why (agent-verify.c). */
	const char	*refuse_code;	/* PH_ERR_*, NULL: not refused */
	int		 refuse_close;
	char		*refuse_msg;
	json_t		*forward_claim;	/* the token's forward claim (fwdpolicy.h), or NULL */
	/*
	 * Resume (agent-seal.c; docs/protocol.md, "Resume"): a sealed session
	 * whose data channel went without the client's close is held, its
	 * program running, until the client comes back or resume_ms passes.
	 */
	int		 held;		/* no channel: waiting for the client */
	int		 resuming;	/* a resume's channel dials or proves */
	int		 failed;	/* agent_session_fail ran: never held */
	int		 no_hold;	/* the target is stopped meanwhile: never held */
	int64_t		 held_ms;	/* when the channel went (monotonic) */
	lws_sorted_usec_list_t sul_resume; /* the resume timeout */
	json_t		*exit_copy;	/* the relay's clear exit, sent again on resume */
	uint8_t		 resume_challenge[32];	/* the client's, for our proof */
	/*
	 * A session that resumes never stops reading its channel (the acks
	 * in it free our records): while the operation's input is full, the
	 * records wait here, unopened (bounded by the client's own buffer).
	 */
	int		 in_paused;
	int		 inbox_busy;	/* agent_session_inbox is taking records out */
	struct ph_queue	 inbox;
	/* Detach and attach (agent-detach.c; docs/protocol.md, "Detach and attach"). */
	int64_t		 started;	/* Unix s: the open (a shell's: its first open) */
	int64_t		 active;	/* Unix s: input or output last */
	struct agent_detach *detach;	/* a detached shell's holder: no channel; else NULL */
};

/* agent-session.c */
int	agent_session_open(struct agent *a, json_t *open, char **cause);
void	agent_session_link(struct agent *a, struct agent_session *s, const char *sid);
int	agent_session_callback(struct lws *wsi, enum lws_callback_reasons reason,
	    void *user, void *in, size_t len);
int	agent_session_send(struct agent_session *s, int type, const void *p, size_t n);
int	agent_session_send_ctl(struct agent_session *s, json_t *msg);
int	agent_session_send_relay_ctl(struct agent_session *s, json_t *msg);
int	agent_session_over_high(const struct agent_session *s);
int	agent_session_queued(const struct agent_session *s);
void	agent_session_rx_pause(struct agent_session *s, int pause);
void	agent_session_exit(struct agent_session *s, json_t *exit_msg);
void	agent_session_fail(struct agent_session *s, int close_code, const char *code,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
size_t	agent_session_read_max(const struct agent_session *s);
void	agent_session_check(struct agent_session *s);
void	agent_session_lost(struct agent *a, struct lws *wsi);
void	agent_session_stop_all(struct agent *a);
void	agent_session_free_all(struct agent *a);

/*
 * agent-verify.c: agent_verify_init loads PORTHOLE_PUBKEY (required) and
 * PORTHOLE_REVOKED; agent_verify_open checks an open (see the file), sets
 * *forward to the token's forward claim (a new reference, NULL: none) and
 * returns 0, or -1 with *code (PH_ERR_*), *close_code and *cause.
 */
int	agent_verify_init(struct agent *a, char **cause);
int	agent_verify_open(struct agent *a, json_t *open, const char **code,
	    int *close_code, json_t **forward, char **cause);
/*
 * A relay's `revoked` entries ({"JTI": EXP, ...}) added to the pushed set;
 * -1 with *cause when they are malformed (a full set is not an error: the
 * agent then refuses every open, see the file).
 */
int	agent_verify_pushed(struct agent *a, json_t *entries, char **cause);
void	agent_verify_free(struct agent *a);
void	agent_verify_free_state(struct agent_verify *v);

/*
 * agent-seal.c: the agent's end of a sealed session.  start answers the
 * open's share (after attach); send and ctl seal a frame into a record
 * (ctl takes the reference); clear_ctl queues one for the relay alone;
 * open takes one message from the relay: 0 with *inner (a frame for the
 * operation), 1 (nothing for it), -1 with *code and *cause (end it).
 */
struct agent_seal;
int	agent_seal_start(struct agent_session *s, const char *jti, char **cause);
void	agent_seal_free(struct agent_session *s);
int	agent_seal_send(struct agent_session *s, int type, const void *p, size_t n,
	    char **cause);
int	agent_seal_ctl(struct agent_session *s, json_t *msg, char **cause);
int	agent_seal_clear_ctl(struct agent_session *s, json_t *msg);
int	agent_seal_open(struct agent_session *s, const struct ph_frame *f,
	    struct ph_frame *inner, const char **code, char **cause);
size_t	agent_seal_max(const struct agent_session *s);
/*
 * Resume: does the session resume (it said so in its seal)?  full: the
 * unacknowledged records are past the soft mark (stop reading).  pump
 * moves kept records onto the channel (-1: the channel overflowed).
 * proof starts a resumed channel (our proof over the client's challenge,
 * ours to answer); check takes the client's `resume_proof` (0: resumed;
 * -1 with *code, *close_code and *cause: refused).
 */
int	agent_seal_resumes(const struct agent_session *s);
int	agent_seal_full(const struct agent_session *s);
int	agent_seal_pump(struct agent_session *s);
int	agent_seal_proving(const struct agent_session *s);
int	agent_seal_unacked(const struct agent_session *s);
int	agent_seal_peer_closed(const struct agent_session *s);
void	agent_seal_peek_ack(struct agent_session *s, const uint8_t *msg, size_t len);
int	agent_seal_proof(struct agent_session *s, const uint8_t *challenge, char **cause);
int	agent_seal_check(struct agent_session *s, const json_t *proof, const char **code,
	    int *close_code, char **cause);
/*
 * The output (STDOUT, STDERR) of the records the client has not
 * acknowledged, oldest first, to fn: what a client that is gone missed,
 * for the attach that takes its session over.  Returns how many frames.
 */
typedef void (*agent_seal_out_fn)(void *arg, const uint8_t *p, size_t n);
int	agent_seal_unacked_out(struct agent_session *s, agent_seal_out_fn fn, void *arg);
/* This agent process, as `boot` tells it to clients (16 hex; never the instance). */
const char *agent_seal_boot(void);
/* agent-session.c: the relay's `resume` for a held session. */
void	agent_session_resume(struct agent *a, json_t *msg);

/*
 * agent-detach.c: a shell kept without a client (docs/protocol.md,
 * "Detach and attach").  agent_detach: the client's `detach` on session
 * s; the shell moves to a new session of its own that holds it (no
 * channel), its output kept in a ring of the last AGENT_DETACH_RING bytes,
 * for detach_ttl_ms.  agent_detach_keep: output of such a session (always
 * 0).  agent_detach_exited: its program ended (the exit logged, taken).
 * agent_detach_take: the detached shell called id for sub (a held one is
 * taken over: detached first), or NULL with *cause (malloc'd) and *code,
 * *close_code set.  agent_detach_attach: move
 * it to session s (attach), sending what the ring holds.
 * agent_detach_free: a detached session is freed.
 */
#define AGENT_DETACH_RING	(64 * 1024)
#define AGENT_DETACH_TTL_MS	(3600 * 1000LL)		/* PORTHOLE_DETACH_TTL's default */
#define AGENT_DETACH_TTL_MAX_MS	(7 * 24 * 3600 * 1000LL)
void	agent_detach(struct agent_session *s);
int	agent_detach_keep(struct agent_session *s, const void *p, size_t n);
void	agent_detach_exited(struct agent_session *s, json_t *exit_msg);
struct agent_session *agent_detach_take(struct agent *a, const char *id, const char *sub,
	    const char **code, int *close_code, char **cause);
void	agent_detach_attach(struct agent_session *d, struct agent_session *s);
/* A holder that took a held shell over: ms since its client's channel went; else -1. */
int64_t	agent_detach_taken_ms(const struct agent_session *h);
void	agent_detach_free(struct agent_session *s);

/* agent.c */
void	agent_shutdown(struct agent *a, const char *why);
void	agent_check_done(struct agent *a);


/* agent-secret.c: the agent's secrets out of reach of its neighbours. */
int	agent_secret_nodump(char **cause);
void	agent_secret_json_init(void);
void	agent_secret_free(char *s);

/* agent-launch.c: the index of APP after "--" in argv (0: none); then fork. */
struct option;
int	agent_launch_split(int argc, char **argv, const struct option *longopts,
	    const char *shortopts);
void	agent_launch(char **app);
void	agent_launch_log(void);

/* agent-wsframe.c: one masked binary frame; msg has PH_HEADROOM in front. */
int	agent_wsframe_write(struct lws *wsi, uint8_t *msg, size_t len);
int	agent_wsframe_close(struct lws *wsi, int code, const char *reason);

/* agent-identity.c: fill a->id and a->instance (stable for the process). */
int	agent_identity(struct agent *a, char **cause);

/* agent-tls.c */
char	*agent_tls_find_bundle(void);
const char *agent_tls_bundle_places(void);
int	agent_tls_load_extra(struct agent *a, void *ssl_ctx);
void	agent_tls_verify_note(struct agent *a, void *x509_store_ctx, int preverify_ok);
/* What to change for the last certificate refusal (a static string). */
const char *agent_tls_hint(const struct agent *a);

/* agent-token.c: 0, or -1 with *cause if no relay will ever take token. */
int	agent_token_check(const char *token, char **cause);

/* agent-files.c: return once the files the agent reads are all there. */
void	agent_files_wait(struct agent *a);

/* agent-resolve.c */
int	agent_resolve_start(struct agent *a, char **cause);
void	agent_resolve_poll(struct agent *a);
void	agent_resolve_stop(struct agent *a);
/* Is a resolver thread alive (the agent is not single-threaded now)? */
int	agent_resolve_running(void);
void	agent_resolve_count(int delta);

/*
 * agent-lookup.c: names of forwarded connections resolved off the loop,
 * at most AGENT_LOOKUP_THREADS at once (more wait their turn).  done(arg,
 * l) runs on the loop (from agent_lookup_poll) and owns l: it calls
 * agent_lookup_free.  agent_lookup_cancel: done is never called, l is
 * freed when its thread lets go.  agent_lookup_stop: the loop ends.
 */
#define AGENT_LOOKUP_THREADS	16
#define AGENT_LOOKUP_ADDRS	8
struct agent_lookup {
	struct agent_lookup	*next;		/* the wait or done list's */
	void			(*done)(void *arg, struct agent_lookup *l);
	void			*arg;
	int			 cancelled;
	char			 host[256];
	int			 gai;		/* getaddrinfo's result, 0: ok */
	int			 gai_errno;	/* with EAI_SYSTEM */
	size_t			 naddrs;
	struct sockaddr_storage	 addrs[AGENT_LOOKUP_ADDRS];
	socklen_t		 lens[AGENT_LOOKUP_ADDRS];
};
struct agent_lookup *agent_lookup_start(struct agent *a, const char *host,
	    void (*done)(void *, struct agent_lookup *), void *arg, char **cause);
void	agent_lookup_cancel(struct agent_lookup *l);
void	agent_lookup_free(struct agent_lookup *l);
void	agent_lookup_poll(struct agent *a);
void	agent_lookup_stop(void);
/* The lookup's error in words (gai_strerror, or errno's). */
const char *agent_lookup_error(const struct agent_lookup *l);

/* agent-chan.c */
void	agent_chan_init(struct agent_chan *ch, const struct agent_chan_ops *ops,
	    void *arg, size_t low, size_t high, size_t limit);
void	agent_chan_free(struct agent_chan *ch);
int	agent_chan_connect(struct agent_chan *ch, struct agent *a, const char *path,
	    const char *subproto, const char *proto);
void	agent_chan_reset(struct agent_chan *ch);
void	agent_chan_gone(struct agent_chan *ch);
/* Queue one message (type byte + payload), or a control message (stolen). */
int	agent_chan_push(struct agent_chan *ch, int type, const void *p, size_t n);
int	agent_chan_push_ctl(struct agent_chan *ch, json_t *msg);
/* OPEN → CLOSING: close with close_code once the queue is out (else nothing). */
void	agent_chan_close(struct agent_chan *ch, int close_code);
/* Is the channel connected and OPEN (what is pushed will go out)? */
int	agent_chan_open(const struct agent_chan *ch);
/* CLIENT_RECEIVE and CLIENT_WRITEABLE (returns the callback's value). */
void	agent_chan_receive(struct agent_chan *ch, struct lws *wsi, const void *in,
	    size_t len);
int	agent_chan_writeable(struct agent_chan *ch, struct lws *wsi);

/* agent-control.c */
/*
 * Log a problem that the agent retries: at warn the first time, then at
 * debug while it repeats, at warn again (with a count) every
 * AGENT_PROBLEM_REPEAT_SECS.  agent_problem_clear forgets it (connected).
 */
void	agent_problem(struct agent *a, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	agent_problem_clear(struct agent *a);
void	agent_control_init(struct agent *a);
extern lws_retry_bo_t agent_retry_policy;	/* backoff + keepalive, both channels */
void	agent_control_start(struct agent *a);
void	agent_control_resolved(struct agent *a, const char *addr, const char *error);
void	agent_control_stop(struct agent *a);
void	agent_control_lost(struct agent *a, struct lws *wsi);
int	agent_control_auth_header(struct agent *a, struct lws *wsi, void *in, size_t len);
int	agent_control_callback(struct lws *wsi, enum lws_callback_reasons reason,
	    void *user, void *in, size_t len);

/* agent-signal.c */
int	agent_signal_block(char **cause);
int	agent_signal_adopt(struct agent *a, char **cause);
int	agent_signal_callback(struct lws *wsi, enum lws_callback_reasons reason,
	    void *user, void *in, size_t len);

/* agent-timer.c: timers finer than the loop's millisecond wait. */
struct agent_timer {
	struct agent_timer	*next;
	uint64_t		 due;		/* CLOCK_MONOTONIC, us */
	void			(*fn)(struct agent_timer *);
	int			 armed;
};
int	agent_timer_adopt(struct agent *a, char **cause);
/* Call fn(t) us microseconds from now (t rescheduled if pending). */
void	agent_timer_schedule(struct agent *a, struct agent_timer *t,
	    void (*fn)(struct agent_timer *), uint64_t us);
void	agent_timer_cancel(struct agent *a, struct agent_timer *t);
int	agent_timer_callback(struct lws *wsi, enum lws_callback_reasons reason,
	    void *user, void *in, size_t len);

/* agent-proc.c */
typedef void (*agent_proc_cb)(void *arg, pid_t pid, int status);
int	agent_proc_watch(struct agent *a, pid_t pid, agent_proc_cb cb, void *arg);
void	agent_proc_unwatch(struct agent *a, pid_t pid);
void	agent_proc_reap(struct agent *a);
void	agent_proc_kill(struct agent *a, pid_t pgid);
void	agent_proc_hangup(struct agent *a, pid_t pgid);
void	agent_proc_cleanup(struct agent *a);
void	agent_proc_init(void);
void	agent_proc_prepare(int keep_fd);

/*
 * agent-target.c: another process's world for a program (sidecar mode).
 * agent_target_resolve reads the open's `pid` or `container` into t (pid 0:
 * none, run as the agent); -1 with *cause and *code (PH_ERR_*) when the
 * process is not there, not ours to enter, or the container is unknown.
 * agent_target_enter runs in the forked child before exec (before
 * agent_proc_prepare): chroot to the process's root, its cwd, groups,
 * gid, uid, environment; no allocation; -1 with *cause (static) on
 * failure.  agent_target_clear closes and frees (safe twice).
 */
struct agent_target {
	pid_t		 pid;		/* the process entered; 0: no target */
	int		 root_fd;	/* /proc/PID/root (O_PATH), or -1 */
	int		 cwd_fd;	/* /proc/PID/cwd (O_PATH), or -1 */
	uid_t		 uid;		/* effective ids from /proc/PID/status */
	gid_t		 gid;
	gid_t		*groups;	/* supplementary groups (Groups:) */
	size_t		 ngroups;
	char		*envbuf;	/* /proc/PID/environ, NUL-separated */
	char		**env;		/* pointers into envbuf, NULL-terminated */
};
void	agent_target_init(struct agent_target *t);
int	agent_target_resolve(struct agent *a, json_t *open, struct agent_target *t,
	    const char **code, char **cause);
int	agent_target_from_pid(pid_t pid, struct agent_target *t, const char **code,
	    char **cause);
pid_t	agent_target_container_pid(struct agent *a, const char *name, const char **code,
	    char **cause);
int	agent_target_enter(const struct agent_target *t, const char **cause);
void	agent_target_clear(struct agent_target *t);

#endif
