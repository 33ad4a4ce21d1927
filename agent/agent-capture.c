/*
 * agent-capture.c - a capture with nobody attached: the child the agent
 * forks when a watch fires, and the spool.
 *
 * The capture child runs the dump worker (dump.h: `porthole-agent
 * --op-dump --kind K --pid P [--freeze]`, the same worker `porthole dump`
 * uses, with its copy-on-write snapshot) and ships what the worker writes
 * on its stdout, as it comes, to the relay's artifact channel
 * (agent-upload.c): never staged whole on the task's disk or in memory.
 * The worker's events (stderr) give the mode (snapshot or freeze), its
 * reason, the pause and the size; they go in the `end` message with
 * `complete` true only when the worker said "done" and exited 0.  A
 * snapshot OOM-killed mid-capture makes the worker fail (the app, never
 * stopped, runs on): the artifact is stored incomplete with the worker's
 * error.
 *
 * When no relay is reachable at capture time and PORTHOLE_SPOOL_DIR is
 * set, the capture goes to NAME.zst in that directory (its begin message
 * in NAME.json, its end in NAME.end.json once finished), bounded by
 * PORTHOLE_SPOOL_MAX over everything the directory holds: a capture that
 * would pass it stops there and is marked incomplete.  Once the control
 * channel is welcomed again, a child uploads every finished spool entry
 * and removes it once the relay confirmed it (agent_capture_spool_kick).
 * Without a spool directory the capture is skipped and logged.
 *
 * With PORTHOLE_ARTIFACT_RECIPIENT the bytes are sealed to that key here,
 * as they come, before they go to the relay or the spool (artseal.h): a
 * header, a record per piece the worker wrote, and a final record with
 * the sender's verdict, the count and the SHA-256 of the clear stream.
 * The begin message says `sealed` (the recipient), so the relay stores
 * them as they are and checks only their framing.
 *
 * Children run agent_proc_prepare (own session, default signals, every
 * inherited fd closed, killed with the agent) and only then touch
 * anything: the loop's sockets are never used here.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "porthole/artseal.h"
#include "porthole/log.h"
#include "porthole/util.h"

#include "agent.h"
#include "agent-capture.h"
#include "dump.h"

#define CAPTURE_LINE_MAX	(16 * 1024)
#define CAPTURE_BUF		(256 * 1024)

/* Where the bytes go: the relay, or the spool. */
struct capture_sink {
	struct agent		*a;
	struct agent_upload	*u;		/* or NULL: spool */
	int			 spool_fd;	/* NAME.zst */
	char			*spool_base;	/* DIR/NAME */
	uint64_t		 spool_room;	/* bytes the spool may still take */
	int			 full;		/* the spool's bound was reached */
	char			*error;		/* why the stream stopped */
	struct ph_artseal	*seal;		/* sealing to the recipient, or NULL */
	uint8_t			*sbuf;		/* one sealed record */
};

/* What the worker's events said. */
struct capture_events {
	char		 line[CAPTURE_LINE_MAX + 1];
	size_t		 len;
	json_t		*start;		/* the "start" event */
	json_t		*done;		/* the "done" event */
	json_t		*error;		/* the "error" event */
};

static void
capture_event(struct capture_events *e)
{
	json_t		*ev = json_loadb(e->line, e->len, 0, NULL);
	const char	*what = json_string_value(json_object_get(ev, "event"));
	json_t		**slot = NULL;

	if (what != NULL && strcmp(what, "start") == 0)
		slot = &e->start;
	else if (what != NULL && strcmp(what, "done") == 0)
		slot = &e->done;
	else if (what != NULL && strcmp(what, "error") == 0)
		slot = &e->error;
	if (slot != NULL && *slot == NULL)
		*slot = json_incref(ev);
	json_decref(ev);
}

static void
capture_events_feed(struct capture_events *e, const uint8_t *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\n') {
			capture_event(e);
			e->len = 0;
		} else if (e->len < CAPTURE_LINE_MAX)
			e->line[e->len++] = (char)p[i];
	}
}

/* du of the spool directory (its regular files). */
static uint64_t
capture_spool_used(const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	uint64_t	 used = 0;
	char		 path[4096];

	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			used += (uint64_t)st.st_blocks * 512;
	}
	closedir(d);
	return used;
}

/* Open NAME.zst and write NAME.json; -1 with *cause. */
static int
capture_spool_open(struct capture_sink *k, json_t *begin, char **cause)
{
	struct agent	*a = k->a;
	char		 name[64], *path;
	uint64_t	 used;
	char		*js;
	int		 r;

	snprintf(name, sizeof name, "%lld-%d", (long long)time(NULL), (int)getpid());
	if ((k->spool_base = ph_asprintf("%s/%s", a->spool_dir, name)) == NULL)
		return -1;
	used = capture_spool_used(a->spool_dir);
	if (used >= a->spool_max) {
		*cause = ph_asprintf("the spool %s is full (%llu of %llu bytes)",
		    a->spool_dir, (unsigned long long)used,
		    (unsigned long long)a->spool_max);
		return -1;
	}
	k->spool_room = a->spool_max - used;
	path = ph_asprintf("%s.zst", k->spool_base);
	k->spool_fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (k->spool_fd < 0) {
		*cause = ph_asprintf("cannot create %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	free(path);
	path = ph_asprintf("%s.json", k->spool_base);
	js = json_dumps(begin, JSON_COMPACT);
	r = js != NULL ? ph_write_file(path, js, strlen(js), 0600, cause) : -1;
	free(js);
	free(path);
	return r;
}

/* Bytes as they go (sealed already, if they are); final: past the spool's bound. */
static int
capture_put(struct capture_sink *k, const uint8_t *p, size_t n, int final)
{
	char		*cause = NULL;
	const uint8_t	*b = p;
	ssize_t		 w;

	if (k->error != NULL)
		return -1;
	if (k->u != NULL) {
		if (agent_upload_data(k->u, p, n, &cause) != 0) {
			k->error = cause;
			return -1;
		}
		return 0;
	}
	if (n > k->spool_room && !final) {
		k->full = 1;
		k->error = ph_asprintf("the spool's bound (PORTHOLE_SPOOL_MAX, "
		    "%llu bytes) was reached", (unsigned long long)k->a->spool_max);
		return -1;
	}
	k->spool_room -= n < k->spool_room ? n : k->spool_room;
	while (n > 0) {
		if ((w = write(k->spool_fd, b, n)) < 0) {
			if (errno == EINTR)
				continue;
			k->error = ph_asprintf("writing the spool: %s", strerror(errno));
			return -1;
		}
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The worker's bytes: sealed record by record when a recipient is set. */
static int
capture_write(struct capture_sink *k, const uint8_t *p, size_t n)
{
	char	*cause = NULL;
	size_t	 c, len;

	if (k->seal == NULL)
		return capture_put(k, p, n, 0);
	for (; n > 0; p += c, n -= c) {
		c = n < PH_ARTSEAL_CHUNK ? n : PH_ARTSEAL_CHUNK;
		if (k->error != NULL)
			return -1;
		if (ph_artseal_data(k->seal, p, c, k->sbuf, &len, &cause) != 0) {
			k->error = cause;
			return -1;
		}
		if (capture_put(k, k->sbuf, len, 0) != 0)
			return -1;
	}
	return 0;
}

/*
 * Sealing: begin says to whom (before the upload or the spool opens), and
 * the header goes first.  0, or -1 with *cause.
 */
static int
capture_seal_begin(struct agent *a, struct capture_sink *k, json_t *begin,
    char **cause)
{
	char	*rcpt;

	if (!a->sealed)
		return 0;
	if ((rcpt = ph_seal_share_encode(a->recipient)) == NULL ||
	    json_object_set_new(begin, "sealed", json_string(rcpt)) != 0) {
		free(rcpt);
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	free(rcpt);
	if ((k->sbuf = malloc(PH_ARTSEAL_REC_MAX)) == NULL) {
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	if ((k->seal = ph_artseal_new(a->recipient, k->sbuf, cause)) == NULL)
		return -1;
	return 0;
}

/*
 * The sealed stream's final record, with the capture's verdict: also after
 * the stream stopped early (the crash timeout, the spool's bound), so that
 * what was sent opens, incomplete; a sink that broke just fails again.
 */
static void
capture_seal_end(struct capture_sink *k, json_t *end)
{
	char	*cause = NULL, *error = k->error;
	size_t	 len;

	if (k->seal == NULL)
		return;
	if (ph_artseal_final(k->seal, json_is_true(json_object_get(end,
	    "complete")), k->sbuf, &len, &cause) != 0) {
		ph_warn("sealing the capture's end failed: %s", cause);
		free(cause);
		return;
	}
	k->error = NULL;
	capture_put(k, k->sbuf, len, 1);
	free(k->error);
	k->error = error;
}

/* The worker: /proc/self/exe --op-dump, stdout and stderr to pipes. */
static pid_t
capture_worker(struct agent_capture_req *r, int *out, int *err)
{
	int	 po[2], pe[2];
	char	 pid[16];
	pid_t	 w;

	if (pipe2(po, O_CLOEXEC) != 0)
		return -1;
	if (pipe2(pe, O_CLOEXEC) != 0) {
		close(po[0]);
		close(po[1]);
		return -1;
	}
	snprintf(pid, sizeof pid, "%d", (int)r->pid);
	if ((w = fork()) == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		if (r->run != NULL)
			_exit(r->run(r->run_arg));
		if (r->freeze)
			execl("/proc/self/exe", "porthole-agent", OP_DUMP_FLAG, "--kind",
			    r->kind, "--pid", pid, "--freeze", (char *)NULL);
		else
			execl("/proc/self/exe", "porthole-agent", OP_DUMP_FLAG, "--kind",
			    r->kind, "--pid", pid, (char *)NULL);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	if (w < 0) {
		close(po[0]);
		close(pe[0]);
		return -1;
	}
	*out = po[0];
	*err = pe[0];
	return w;
}

/* The `end` message from what the worker said and how it ended. */
static json_t *
capture_end(struct agent_capture_req *r, struct capture_events *e,
    struct capture_sink *k, int status, uint64_t bytes)
{
	json_t		*end = json_pack("{s:s, s:s, s:I}", "type", "artifact",
	    "phase", "end", "bytes", (json_int_t)bytes);
	const char	*mode = json_string_value(json_object_get(e->start, "mode"));
	const char	*reason = json_string_value(json_object_get(e->start, "reason"));
	json_t		*pause = json_object_get(e->done, "pause_us");
	int		 complete = e->done != NULL && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0 && k->error == NULL;
	char		 why[512];

	if (end == NULL)
		return NULL;
	json_object_set_new(end, "complete", json_boolean(complete));
	if (mode != NULL)
		json_object_set_new(end, "mode", json_string(mode));
	if (r->freeze && r->freeze_reason[0] != '\0')
		reason = r->freeze_reason;
	if (reason != NULL)
		json_object_set_new(end, "reason", json_stringn(reason,
		    strnlen(reason, 500)));
	if (json_is_integer(pause))
		json_object_set(end, "pause_us", pause);
	if (!complete) {
		if (k->error != NULL)
			snprintf(why, sizeof why, "%s", k->error);
		else if (e->error != NULL)
			snprintf(why, sizeof why, "%s: %s",
			    json_string_value(json_object_get(e->error, "code")) ?: "?",
			    json_string_value(json_object_get(e->error, "message")) ?: "");
		else if (WIFSIGNALED(status))
			snprintf(why, sizeof why, "the dump worker was killed by "
			    "signal %d (the OOM killer?)", WTERMSIG(status));
		else
			snprintf(why, sizeof why, "the dump worker exited %d without "
			    "finishing", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		json_object_set_new(end, "error", json_string(why));
	}
	return end;
}

/* The capture child's work; its exit status. */
int
agent_capture_run(struct agent *a, struct agent_capture_req *r)
{
	struct capture_sink	 k = { .a = a, .spool_fd = -1 };
	struct capture_events	*e = calloc(1, sizeof *e);
	struct pollfd		 p[3];
	uint8_t			*buf = malloc(CAPTURE_BUF);
	char			*cause = NULL, *path;
	json_t			*end, *stored;
	uint64_t		 bytes = 0;
	ssize_t			 n;
	pid_t			 w;
	int			 out = -1, err = -1, status = 0, open_fds, rc = 0;
	const char		*id;

	if (e == NULL || buf == NULL)
		return 2;
	if (capture_seal_begin(a, &k, r->begin, &cause) != 0) {
		ph_warn("capture of pid %d skipped: cannot seal it: %s", (int)r->pid,
		    cause);
		return 3;
	}
	if (r->spool_only)
		cause = ph_asprintf("the agent is not connected to its relay yet");
	if (r->spool_only || (k.u = agent_upload_open(a, r->begin, &cause)) == NULL) {
		if (a->spool_dir == NULL) {
			ph_warn("capture of pid %d skipped: no relay (%s) and no "
			    "PORTHOLE_SPOOL_DIR", (int)r->pid, cause);
			return 3;
		}
		ph_warn("no relay for the capture of pid %d (%s): spooling to %s",
		    (int)r->pid, cause, a->spool_dir);
		free(cause);
		cause = NULL;
		if (capture_spool_open(&k, r->begin, &cause) != 0) {
			ph_warn("capture of pid %d skipped: %s", (int)r->pid, cause);
			return 3;
		}
	}
	if (k.seal != NULL)
		capture_put(&k, k.sbuf, PH_ARTSEAL_HEADER_LEN, 0);
	if ((w = capture_worker(r, &out, &err)) < 0) {
		ph_warn("capture of pid %d: cannot start the dump worker: %s",
		    (int)r->pid, strerror(errno));
		k.error = ph_asprintf("cannot start the dump worker");
		status = 127 << 8;
		goto finish;
	}
	open_fds = 2;
	while (open_fds > 0) {
		p[0].fd = out;
		p[0].events = POLLIN;
		p[1].fd = err;
		p[1].events = POLLIN;
		/* The relay's pings are answered while the worker is silent. */
		p[2].fd = k.u != NULL && k.error == NULL ? agent_upload_fd(k.u) : -1;
		p[2].events = POLLIN;
		if (poll(p, 3, r->deadline_ms != 0 ? 200 : 1000) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		/* The crash timeout: what came so far goes, marked incomplete. */
		if (r->deadline_ms != 0 && k.error == NULL &&
		    ph_mono_ms() >= r->deadline_ms) {
			k.error = ph_asprintf("the crash timeout was reached before "
			    "the core was complete (--crash-timeout)");
			kill(w, SIGTERM);
			if (out >= 0) {
				close(out);
				out = -1;
				open_fds--;
			}
		}
		if (p[2].fd >= 0 && (p[2].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    agent_upload_service(k.u, &cause) != 0) {
			k.error = cause;
			cause = NULL;
			kill(w, SIGTERM);
		}
		if (out >= 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			n = read(out, buf, CAPTURE_BUF);
			if (n > 0) {
				bytes += (uint64_t)n;
				if (capture_write(&k, buf, (size_t)n) != 0) {
					/* Stop the worker: it leaves the app as it was. */
					kill(w, SIGTERM);
					close(out);
					out = -1;
					open_fds--;
				}
			} else if (n == 0 || errno != EINTR) {
				close(out);
				out = -1;
				open_fds--;
			}
		}
		if (err >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			n = read(err, buf, CAPTURE_BUF);
			if (n > 0)
				capture_events_feed(e, buf, (size_t)n);
			else if (n == 0 || errno != EINTR) {
				close(err);
				err = -1;
				open_fds--;
			}
		}
		/* An fd closed: poll must not see it again. */
		if (out < 0)
			p[0].fd = -1;
	}
	while (waitpid(w, &status, 0) < 0 && errno == EINTR)
		;
finish:
	end = capture_end(r, e, &k, status, bytes);
	capture_seal_end(&k, end);
	if (k.u != NULL) {
		stored = end != NULL ? agent_upload_end(k.u, end, &cause) : NULL;
		if (stored == NULL) {
			ph_warn("capture of pid %d: upload failed: %s", (int)r->pid,
			    cause != NULL ? cause : "out of memory");
			rc = 4;
		} else {
			id = json_string_value(json_object_get(stored, "artifact"));
			ph_info("capture of pid %d stored on the relay as artifact %s "
			    "(%s, %lld bytes)", (int)r->pid, id != NULL ? id : "?",
			    json_is_true(json_object_get(end, "complete")) ?
			    "complete" : "incomplete",
			    (long long)json_integer_value(json_object_get(stored, "size")));
		}
		json_decref(stored);
		agent_upload_free(k.u);
	} else {
		close(k.spool_fd);
		path = ph_asprintf("%s.end.json", k.spool_base);
		cause = json_dumps(end, JSON_COMPACT);
		if (path == NULL || cause == NULL ||
		    ph_write_file(path, cause, strlen(cause), 0600, &cause) != 0)
			rc = 4;
		else
			ph_info("capture of pid %d spooled to %s.zst (%llu bytes); it "
			    "goes to the relay when it is back", (int)r->pid,
			    k.spool_base, (unsigned long long)bytes);
		free(path);
	}
	json_decref(end);
	ph_artseal_free(k.seal);
	free(k.sbuf);
	return rc;
}

pid_t
agent_capture_start(struct agent *a, struct agent_capture_req *r,
    void (*cb)(void *, pid_t, int), void *arg)
{
	pid_t	pid;

	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		agent_proc_prepare(2);
		signal(SIGPIPE, SIG_IGN);	/* a relay gone is an EPIPE */
		_exit(agent_capture_run(a, r));
	}
	if (agent_proc_watch(a, pid, cb, arg) != 0) {
		kill(pid, SIGKILL);
		return -1;
	}
	return pid;
}

/* Upload one finished spool entry DIR/NAME; 0 once the relay has it. */
static int
capture_spool_send(struct agent *a, const char *base)
{
	char			*path, *cause = NULL;
	json_t			*begin, *end, *stored;
	struct agent_upload	*u;
	uint8_t			*buf;
	ssize_t			 n;
	int			 fd, rc = -1;

	path = ph_asprintf("%s.json", base);
	begin = json_load_file(path, 0, NULL);
	free(path);
	path = ph_asprintf("%s.end.json", base);
	end = json_load_file(path, 0, NULL);
	free(path);
	path = ph_asprintf("%s.zst", base);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (begin == NULL || end == NULL || fd < 0 ||
	    (buf = malloc(CAPTURE_BUF)) == NULL) {
		json_decref(begin);
		json_decref(end);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	json_object_set_new(begin, "spooled", json_true());
	/*
	 * Sent as this agent: the relay takes uploads only from a connected
	 * agent of that id and instance, and the one that spooled it may be
	 * gone (a crash ends it with the app; the spool, on EFS, outlives
	 * both).  What was captured (pid, process, trigger) stays as it was.
	 */
	json_object_set_new(begin, "id", json_string(a->claimed));
	json_object_set_new(begin, "instance", json_string(a->instance));
	if ((u = agent_upload_open(a, begin, &cause)) != NULL) {
		while ((n = read(fd, buf, CAPTURE_BUF)) > 0) {
			if (agent_upload_data(u, buf, (size_t)n, &cause) != 0)
				break;
		}
		if (n == 0 && (stored = agent_upload_end(u, end, &cause)) != NULL) {
			ph_info("spooled capture %s stored on the relay as artifact %s",
			    base, json_string_value(json_object_get(stored,
			    "artifact")) ?: "?");
			json_decref(stored);
			rc = 0;
		}
		agent_upload_free(u);
	}
	if (rc != 0)
		ph_warn("spooled capture %s not uploaded yet: %s", base,
		    cause != NULL ? cause : "?");
	free(cause);
	free(buf);
	close(fd);
	json_decref(begin);
	json_decref(end);
	if (rc == 0) {
		const char *const ext[] = { ".zst", ".json", ".end.json" };
		size_t	i;

		for (i = 0; i < 3; i++) {
			path = ph_asprintf("%s%s", base, ext[i]);
			unlink(path);
			free(path);
		}
	}
	return rc;
}

static int
capture_spool_child(struct agent *a)
{
	DIR		*d;
	struct dirent	*de;
	char		*base;
	size_t		 n;
	int		 failed = 0;

	if ((d = opendir(a->spool_dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL && !failed) {
		n = strlen(de->d_name);
		if (n <= 9 || strcmp(de->d_name + n - 9, ".end.json") != 0)
			continue;
		base = ph_asprintf("%s/%.*s", a->spool_dir, (int)(n - 9), de->d_name);
		failed = capture_spool_send(a, base) != 0;
		free(base);
	}
	closedir(d);
	return failed;
}

static void
capture_spool_done(void *arg, pid_t pid, int status)
{
	struct agent	*a = arg;

	(void)pid;
	(void)status;
	a->spool_pid = 0;
}

static void
capture_spool_retry(lws_sorted_usec_list_t *sul)
{
	agent_capture_spool_kick(lws_container_of(sul, struct agent, sul_spool));
}

void
agent_capture_spool_kick(struct agent *a)
{
	pid_t	pid;

	if (a->spool_dir == NULL || a->spool_pid != 0 ||
	    capture_spool_used(a->spool_dir) == 0)
		return;
	/* It forks: not while the resolver's thread runs; again in 1 s. */
	if (agent_resolve_running()) {
		if (a->ctx != NULL && !a->stopping)
			lws_sul_schedule(a->ctx, 0, &a->sul_spool, capture_spool_retry,
			    LWS_US_PER_SEC);
		return;
	}
	if ((pid = fork()) < 0)
		return;
	if (pid == 0) {
		agent_proc_prepare(2);
		signal(SIGPIPE, SIG_IGN);
		_exit(capture_spool_child(a));
	}
	a->spool_pid = pid;
	if (agent_proc_watch(a, pid, capture_spool_done, a) != 0)
		a->spool_pid = 0;
}
