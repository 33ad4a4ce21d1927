/*
 * dump.h - the dump worker: `porthole-agent --op-dump ...`, a child of the
 * agent that does all the ptrace, file and compression work of a dump, so
 * that none of it runs in the agent's event loop.
 *
 * op-dump.c (on the loop) starts the worker through the exec machinery
 * (op_helper_start), with the worker's stdout forwarded as DATA frames and
 * its stderr's events as CONTROL `progress`/`meta` messages (STDERR frames
 * in a session of protocol 2).  The agent builds the worker's argv itself;
 * the client's argv is never executed.
 *
 * Worker command line (the agent's own pid namespace):
 *   porthole-agent --op-dump --kind auto|core|jvm|node --pid PID
 *       [--freeze] [--tmpdir DIR] [--level N]
 * (--level: zstd's, negative for its fast levels; default -4.)
 *
 * Worker contract:
 *   stdout  the dump file's bytes as one zstd stream, nothing else.
 *   stderr  one JSON object per line (events), nothing else:
 *     {"event":"start","kind":"core|jvm|node","mode":"snapshot|freeze|attach|inspector",
 *      "reason":STRING|null,   why the mode is not the preferred one (fallback)
 *      "pause_us":N|null,      how long the target was stopped (core: the stop
 *                              of every thread through the clone; freeze: the
 *                              whole dump, so it comes again in "done")
 *      "threads":N|null, "estimate":BYTES|null}
 *     {"event":"progress","bytes":N}    uncompressed bytes written so far, at
 *                                      most one every 250 ms
 *     {"event":"done","bytes":N,"pause_us":N|null}
 *                                      uncompressed size of the file (the
 *                                      content's checksum is the zstd
 *                                      frame's own, XXH64: checksumFlag)
 *     {"event":"error","code":STRING,"message":STRING}
 *                                      fatal; the worker then exits 1.  code is
 *                                      one of: no_such_process, kernel_thread,
 *                                      not_permitted, target_exited,
 *                                      unsupported, no_space, cancelled,
 *                                      internal.  (cancelled: SIGTERM,
 *                                      SIGHUP or stdout closed; usually
 *                                      nobody is left to read it.)
 *                                      message is one line an operator can act
 *                                      on ("ptrace not permitted: run the agent
 *                                      as the app's user, or add SYS_PTRACE to
 *                                      the task definition's linuxParameters").
 *   exit    0 after "done"; 1 after "error"; anything else: it crashed.
 *   SIGTERM/SIGHUP/SIGPIPE/EPIPE on stdout: stop at once, leave the target
 *           running exactly as before (never stopped, snapshot killed and
 *           reaped, temporary files inside the task removed), exit 1.
 *
 * Core (dump-core.c, dump-snapshot.c): "mode" is "snapshot" (the app was
 * stopped only for the clone of a copy-on-write snapshot; "pause_us" in
 * "start") or "freeze" (stopped for the whole dump, on purpose or as a
 * fallback whose cause is "reason"; "pause_us" null in "start", the real
 * figure in "done").  "estimate" is the exact size of the core file.  If
 * the app exits before the dump is complete the worker ends with
 * target_exited, even though a snapshot could have finished it.
 *
 * The CLI decompresses (which checks the frame's checksum), writes the
 * file, checks its size against "done", computes the file's sha256,
 * renames to FILE, prints size, sha256, mode and pause.
 */
#ifndef PORTHOLE_AGENT_DUMP_H
#define PORTHOLE_AGENT_DUMP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#define OP_DUMP_FLAG	"--op-dump"
/* The crash tracer's socket, in the abstract namespace: this and its pid. */
#define DUMP_TRACER_SOCK	"porthole-tracer-"

enum dump_kind { DUMP_AUTO, DUMP_CORE, DUMP_JVM, DUMP_NODE };

struct dump_req {
	enum dump_kind	 kind;
	pid_t		 pid;
	int		 freeze;	/* --freeze: stop-the-world on purpose */
	const char	*tmpdir;	/* --tmpdir (jvm): NULL = choose */
	int		 level;		/* zstd level; 0 = default */
};

/* The worker's output: zstd + sha256 + progress events on fd 1/2 (dump-worker.c). */
struct dump_out;

/* Append n bytes of the dump file.  -1 with errno when stdout is gone. */
int	 dump_out_write(struct dump_out *o, const void *p, size_t n);
/* Uncompressed bytes written so far. */
uint64_t dump_out_bytes(const struct dump_out *o);

/* The pause to report in "done" (freeze mode: known only at the end). */
void	 dump_out_set_pause(struct dump_out *o, uint64_t us);
/* Non-zero once SIGTERM, SIGHUP or SIGPIPE arrived: stop, clean up, and
 * return dump_error("cancelled", ...).  Blocking calls in the worker are
 * interrupted (EINTR) by these signals: no handler restarts them. */
int	 dump_cancelled(void);

/* Write one event line on stderr (steals ev). */
void	 dump_event(json_t *ev);
/* The "error" event, formatted; returns 1 (the worker's exit status). */
int	 dump_error(const char *code, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* Each kind: emits "start", writes the file through o, returns 0 or
 * dump_error(...).  "done" is emitted by the worker after dump_out is
 * flushed. */
int	 dump_core(const struct dump_req *r, struct dump_out *o);	/* dump-core.c */
int	 dump_jvm(const struct dump_req *r, struct dump_out *o);	/* dump-jvm.c */
int	 dump_node(const struct dump_req *r, struct dump_out *o);	/* dump-node.c */

/*
 * Core engine internals (dump-snapshot.c, used by dump-core.c).
 * dump_snap_take stops every thread of pid, records its registers, and then
 * either clones a copy-on-write snapshot and resumes the app at once
 * (mode snapshot: memfd reads /proc/CHILD/mem), or keeps every thread
 * stopped (mode freeze: memfd reads /proc/PID/mem; the reason of a
 * fallback in reason[]).  dump_snap_release resumes what is stopped, kills
 * the snapshot and reaps it (through the app: wait4 injected), closes memfd.
 */
struct dump_thread {
	pid_t		 tid;
	int		 sig;		/* signal to re-deliver at detach, or 0 */
	int		 stopped;	/* seized and in a ptrace stop */
	int		 event;		/* the stop's PTRACE_EVENT_*, 0 = signal stop */
	int		 stopsig;	/* WSTOPSIG: SIGTRAP, or a group stop's */
	uint64_t	 regs[27];	/* struct user_regs_struct */
	uint8_t		 fpregs[512];	/* struct user_fpregs_struct */
	uint8_t		*xstate;	/* NT_X86_XSTATE, or NULL */
	size_t		 xstate_len;
	uint8_t		 siginfo[128];	/* siginfo_t of a signal stop, else zero */
};

struct dump_snap {
	pid_t		 pid;		/* the app (thread group id) */
	unsigned long long start;	/* its start time (/proc/PID/stat) */
	pid_t		 child;		/* the snapshot, or 0 */
	pid_t		 src;		/* whose /proc/N/{mem,maps,auxv} to read:
					 * the snapshot, or a live thread (a
					 * dead leader has no mm to read) */
	int		 freeze;	/* 1: every thread stays stopped */
	char		 reason[160];	/* why freeze, when not asked for */
	struct dump_thread *t;		/* the leader first */
	size_t		 nt;
	uint64_t	 t_stop;	/* CLOCK_MONOTONIC ns of the first stop */
	uint64_t	 pause_us;	/* snapshot: first stop to last resume */
	int		 memfd;		/* /proc/(child or pid)/mem */
	int		 cursig;	/* a crash's signal, in every thread's
					 * prstatus (0: each thread's own) */
	int		 traced;	/* every thread is the caller's tracee
					 * already (agent-tracer.c): none seized */
};

/* 0, or dump_error(...) (already reported). */
int	 dump_snap_take(struct dump_snap *s, pid_t pid, int freeze);
/* Never fails: whatever can be undone is; problems go to the log. */
void	 dump_snap_release(struct dump_snap *s);
/* Is the app (pid, started at start) still there? */
int	 dump_snap_alive(const struct dump_snap *s);
uint64_t dump_now_ns(void);

/*
 * The crash tracer's (agent-tracer.c): every thread of pid is its tracee.
 * dump_snap_traced starts s (freeze, nothing seized; -1: pid is gone);
 * dump_snap_stopped records a stop the tracer has waited for already
 * (waitpid's status); dump_snap_stop interrupts and records every other
 * thread (0 or dump_error); dump_snap_detach detaches every thread, last
 * at the end with the signal it was stopped for, and frees s's threads.
 * Nothing is cloned: the core is read from the stopped process.
 */
int	 dump_snap_traced(struct dump_snap *s, pid_t pid);
int	 dump_snap_stopped(struct dump_snap *s, pid_t tid, int status);
int	 dump_snap_stop(struct dump_snap *s);
void	 dump_snap_detach(struct dump_snap *s, pid_t last);
/* The core of s, stopped by its tracer, written on fd 1 as the worker
 * would (fd 2: its events); the worker's exit status (dump-worker.c). */
int	 dump_worker_held(struct dump_snap *s);
/* The core writer on a held s (dump-core.c): memfd opened and closed here. */
int	 dump_core_held(const struct dump_req *r, struct dump_out *o,
	    struct dump_snap *s);

/* argv after the flag; the worker's exit status. */
int	 op_dump_main(int argc, char **argv);				/* dump-worker.c */

#endif
