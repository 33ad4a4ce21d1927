/*
 * agent-capture.h - the flight recorder's side of the agent: watches
 * (agent-watch.c) that fire captures with nobody attached, the capture
 * child that runs the dump worker and ships what it writes
 * (agent-capture.c), the blocking upload to the relay's artifact channel
 * it uses (agent-upload.c), and the spool for when no relay is reachable.
 *
 * Nothing here runs slow work on the loop: the loop samples a few /proc
 * and cgroup files once a second while a watch is armed (nothing at all
 * when none is) and forks; the capture child does the rest and exits.
 */
#ifndef PORTHOLE_AGENT_CAPTURE_H
#define PORTHOLE_AGENT_CAPTURE_H

#include <sys/types.h>

#include <jansson.h>

#include "porthole/watch.h"

struct agent;
struct agent_upload;

/* agent-watch.c: the watch table and its sampler. */
struct agent_watches;
/*
 * PORTHOLE_WATCH, PORTHOLE_SPOOL_DIR/MAX and PORTHOLE_ARTIFACT_RECIPIENT, read
 * before the scrub; exits 2 on a bad one.
 */
void	 agent_watch_config(struct agent *a);
/* Arm what PORTHOLE_WATCH gave (the loop exists). */
void	 agent_watch_start(struct agent *a);
/* Add a watch; its id, or -1 with *cause (malloc'd). */
int	 agent_watch_add(struct agent *a, const struct ph_watch_spec *w,
	    const char *origin, char **cause);
/* Remove watch id: 0, or -1 when there is none. */
int	 agent_watch_rm(struct agent *a, int id);
/* The watches as a JSON array (new reference). */
json_t	*agent_watch_list(struct agent *a);
void	 agent_watch_free(struct agent *a);

/* agent-capture.c */
struct agent_capture_req {
	pid_t		 pid;
	char		 kind[8];
	int		 freeze;	/* stop-the-world, decided by the watch */
	char		 freeze_reason[256];
	json_t		*begin;		/* the `artifact` begin message (taken) */
	/* The crash tracer's (agent-tracer.c): the worker is a fork running
	 * run(run_arg) rather than an exec of --op-dump, and the data stops
	 * at deadline_ms (ph_mono_ms(); 0: none), the artifact incomplete. */
	int		(*run)(void *arg);
	void		*run_arg;
	int64_t		 deadline_ms;
	int		 spool_only;	/* no relay to try: the agent is not welcomed */
};
/*
 * Fork the capture child for r; cb(arg, pid, status) when it exits
 * (status 0: stored or spooled).  Returns its pid or -1.
 */
pid_t	 agent_capture_start(struct agent *a, struct agent_capture_req *r,
	    void (*cb)(void *, pid_t, int), void *arg);
/* The capture child's work, in the calling process (the crash tracer's
 * child); its exit status: 0 stored or spooled. */
int	 agent_capture_run(struct agent *a, struct agent_capture_req *r);
/* The control channel is welcomed: upload what the spool holds (a child). */
void	 agent_capture_spool_kick(struct agent *a);

/* agent-upload.c: in a capture child only (blocking). */
struct agent_upload *agent_upload_open(struct agent *a, json_t *begin, char **cause);
int	 agent_upload_data(struct agent_upload *u, const void *p, size_t n,
	    char **cause);
/* Send end; the relay's `stored` message (new reference) or NULL with *cause. */
json_t	*agent_upload_end(struct agent_upload *u, json_t *end, char **cause);
void	 agent_upload_free(struct agent_upload *u);
/*
 * While the worker is silent (a JVM writing its heap before a byte comes
 * out): answer the relay's pings, notice its refusal.  The socket is
 * agent_upload_fd's.  0, or -1 with *cause.
 */
int	 agent_upload_fd(const struct agent_upload *u);
int	 agent_upload_service(struct agent_upload *u, char **cause);

/* agent-launch.c: APP's pid in launcher mode, else 0. */
pid_t	 agent_launch_app_pid(void);

/*
 * agent-tracer.c: crash capture in launcher mode (PORTHOLE_CAPTURE_CRASH=1).
 * agent_tracer_config reads PORTHOLE_CAPTURE_CRASH and --crash-timeout /
 * PORTHOLE_CRASH_TIMEOUT (exits 2 on a bad one); agent_tracer_start forks
 * the tracer (before any thread exists) and agent_tracer_adopt has the
 * loop reap it.  agent_tracer_pid: the tracer's pid, or 0.
 */
void	 agent_tracer_config(struct agent *a, const char *flag_timeout);
void	 agent_tracer_start(struct agent *a);
void	 agent_tracer_adopt(struct agent *a);
/* The control channel is welcomed: the tracer may send a crash's core to the relay. */
void	 agent_tracer_welcomed(void);
pid_t	 agent_tracer_pid(void);

#endif
