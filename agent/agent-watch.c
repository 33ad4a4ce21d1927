/*
 * agent-watch.c - the flight recorder's watches (watch.h) in the agent:
 * the table, the sampler and the decision to capture.
 *
 * Watches come from PORTHOLE_WATCH (read at start, before the scrub) and
 * from the `watch` operation at run time.  While at least one is armed a
 * timer samples once a second: for each watch its process's resident
 * memory (/proc/PID/statm), and the memory cgroup of that process
 * (ph_cgmem_read: usage, limit and the working set, usage less inactive
 * file cache, as the kernel's OOM accounting and ECS count it).  With no
 * watch armed no timer is scheduled: an idle agent wakes up no more than
 * before.
 *
 * A watch fires when every trigger it has holds: --rss-above SIZE on the
 * process's resident memory, --rss-above PCT% on the cgroup's working set
 * over its limit, --growth-above RATE on the growth of the process's
 * resident memory over --window (from samples kept in a small ring).  It
 * then captures through a capture child (agent-capture.c) unless one of
 * its captures is still running, it captured --max times already, or its
 * --cooldown has not passed since the last one.
 *
 * Safe near the edge: the copy-on-write snapshot costs the cgroup a copy
 * of every page the app writes while the snapshot is read.  Before a
 * capture the watch estimates that as a quarter of the process's resident
 * memory plus what it grows while the dump runs (its growth rate times the
 * dump's time at an assumed 64 MiB/s) plus 32 MiB; when the cgroup's
 * limit leaves less room than that, the capture stops the world instead
 * (--freeze: the app is stopped and so dirties nothing) and says why in
 * the artifact's metadata.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "porthole/log.h"
#include "porthole/proc.h"
#include "porthole/seal.h"
#include "porthole/util.h"
#include "porthole/watch.h"

#include "agent.h"
#include "agent-capture.h"

#define WATCH_TICK_MS		1000
#define WATCH_RING		128		/* growth samples kept per watch */
#define WATCH_DUMP_RATE		(64.0 * 1024 * 1024)	/* bytes/s a dump is assumed to read */
#define WATCH_SNAP_SLACK	(32ULL << 20)
#define WATCH_SPOOL_MAX_DEFAULT	(2ULL << 30)

struct watch_sample {
	int64_t		 ms;
	uint64_t	 rss;
};

struct agent_watch {
	struct agent_watch *next;
	struct agent	*a;
	int		 id;
	struct ph_watch_spec spec;
	char		*origin;	/* "PORTHOLE_WATCH", or who added it */
	int		 captures;	/* fired so far */
	int64_t		 last_ms;	/* monotonic ms of the last capture; 0 none */
	pid_t		 child;		/* its capture child, or 0 */
	pid_t		 pid;		/* the process sampled last */
	struct watch_sample ring[WATCH_RING];
	size_t		 head, n;
	int64_t		 every_ms;	/* spacing of ring samples: window / ring */
	char		 last[256];	/* the last reading, for `watch ls` */
	char		 fired[512];	/* the trigger and reading of the last capture */
};

struct agent_watches {
	struct agent_watch *head;
	int		 next_id;
	size_t		 n;
	int		 armed;		/* the timer is scheduled */
	lws_sorted_usec_list_t sul;
	/* PORTHOLE_WATCH, until the loop exists. */
	struct ph_watch_spec env[PH_WATCH_MAX];
	size_t		 nenv;
};

static struct agent_watches *
watch_state(struct agent *a)
{
	if (a->watches == NULL && (a->watches = calloc(1, sizeof *a->watches)) != NULL)
		a->watches->next_id = 1;
	return a->watches;
}

void
agent_watch_config(struct agent *a)
{
	struct agent_watches *ws;
	char		*v, *cause = NULL;
	uint64_t	 max;

	if ((v = ph_setting(NULL, "PORTHOLE_WATCH")) != NULL && *v != '\0') {
		if ((ws = watch_state(a)) == NULL ||
		    ph_watch_parse_list(v, ws->env, PH_WATCH_MAX, &ws->nenv,
		    &cause) != 0) {
			fprintf(stderr, "porthole-agent: PORTHOLE_WATCH: %s\n",
			    cause != NULL ? cause : "out of memory");
			exit(AGENT_EXIT_CONFIG);
		}
	}
	free(v);
	if ((v = ph_setting(NULL, "PORTHOLE_SPOOL_DIR")) != NULL && *v != '\0') {
		if (v[0] != '/') {
			fprintf(stderr, "porthole-agent: PORTHOLE_SPOOL_DIR must be "
			    "an absolute path\n");
			exit(AGENT_EXIT_CONFIG);
		}
		a->spool_dir = v;
	} else
		free(v);
	a->spool_max = WATCH_SPOOL_MAX_DEFAULT;
	if ((v = ph_setting(NULL, "PORTHOLE_SPOOL_MAX")) != NULL && *v != '\0') {
		if (ph_size_parse(v, &max, &cause) != 0) {
			fprintf(stderr, "porthole-agent: PORTHOLE_SPOOL_MAX: %s\n", cause);
			exit(AGENT_EXIT_CONFIG);
		}
		a->spool_max = max;
	}
	free(v);
	if ((v = ph_setting(NULL, "PORTHOLE_ARTIFACT_RECIPIENT")) != NULL &&
	    *v != '\0') {
		if (ph_seal_share_decode(v, a->recipient, &cause) != 0) {
			fprintf(stderr, "porthole-agent: PORTHOLE_ARTIFACT_RECIPIENT: "
			    "%s (the public key 'porthole artifacts keygen' "
			    "prints)\n", cause);
			exit(AGENT_EXIT_CONFIG);
		}
		a->sealed = 1;
	}
	free(v);
}

/* Resident bytes of pid from /proc/PID/statm; 0 if it is gone. */
static uint64_t
watch_rss(pid_t pid)
{
	char		 path[64], buf[128];
	unsigned long long size, res;
	ssize_t		 n;
	int		 fd;

	snprintf(path, sizeof path, "/proc/%d/statm", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (sscanf(buf, "%llu %llu", &size, &res) != 2)
		return 0;
	return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* The process with the most resident memory, the agent and its children aside. */
static pid_t
watch_largest(void)
{
	DIR		*d;
	struct dirent	*de;
	pid_t		 best = 0, pid, self = getpid();
	uint64_t	 most = 0, rss;
	char		 path[64], buf[512], *p;
	int		 fd;
	ssize_t		 n;

	if ((d = opendir("/proc")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if ((pid = (pid_t)atoi(de->d_name)) <= 0 || pid == self)
			continue;
		/* Skip the agent's own children (its captures, sessions). */
		snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		n = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		if ((p = strrchr(buf, ')')) == NULL ||
		    atoi(p + 4) == (int)self)	/* ") S PPID" */
			continue;
		if ((rss = watch_rss(pid)) > most) {
			most = rss;
			best = pid;
		}
	}
	closedir(d);
	return best;
}

static pid_t
watch_pid(const struct agent_watch *w)
{
	switch (w->spec.which) {
	case PH_WATCH_PID:
		return w->spec.pid;
	case PH_WATCH_APP:
		return agent_launch_app_pid();
	case PH_WATCH_LARGEST:
		return watch_largest();
	default:
		return agent_launch_app_pid() != 0 ? agent_launch_app_pid() :
		    watch_largest();
	}
}

/* Growth of rss over the window, bytes per ms; -1 until the window is full. */
static double
watch_growth(struct agent_watch *w, int64_t now, uint64_t rss)
{
	struct watch_sample *old;
	size_t		 i;

	if (w->n == 0 || now - w->ring[(w->head + WATCH_RING - 1) % WATCH_RING].ms >=
	    w->every_ms) {
		w->ring[w->head] = (struct watch_sample){ now, rss };
		w->head = (w->head + 1) % WATCH_RING;
		if (w->n < WATCH_RING)
			w->n++;
	}
	/* The newest sample at least a window old. */
	for (i = w->n; i > 0; i--) {
		old = &w->ring[(w->head + WATCH_RING - i) % WATCH_RING];
		if (now - old->ms < w->spec.window_ms)
			break;
	}
	if (i == w->n)
		return -1;
	old = &w->ring[(w->head + WATCH_RING - i - 1) % WATCH_RING];
	if (now <= old->ms)
		return -1;
	return ((double)rss - (double)old->rss) / (double)(now - old->ms);
}

static void
watch_captured(void *arg, pid_t pid, int status)
{
	struct agent_watch *w = arg;

	(void)pid;
	w->child = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		ph_warn("watch %d: capture ended with status %d", w->id,
		    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

/* Fire: build the capture request and start the child. */
static void
watch_fire(struct agent_watch *w, pid_t pid, uint64_t rss, const struct ph_cgmem *cg,
    double growth, const char *trigger)
{
	struct agent		*a = w->a;
	struct agent_capture_req r;
	char			 comm[64], s1[32], s2[32];
	uint64_t		 need, room;
	double			 rate = growth > 0 ? growth * 1000.0 : 0;
	json_t			*reading;

	memset(&r, 0, sizeof r);
	r.pid = pid;
	snprintf(r.kind, sizeof r.kind, "%s", w->spec.kind);
	need = rss / 4 + (uint64_t)(rate * ((double)rss / WATCH_DUMP_RATE + 1)) +
	    WATCH_SNAP_SLACK;
	/* Only a core is read from a snapshot (a JVM or Node heap dump is the
	 * runtime's own): auto counts as core here. */
	if (cg->version != 0 && cg->limit > 0 && (strcmp(w->spec.kind, "core") == 0 ||
	    strcmp(w->spec.kind, "auto") == 0)) {
		room = cg->limit > cg->working_set ? cg->limit - cg->working_set : 0;
		if (room < need) {
			r.freeze = 1;
			snprintf(r.freeze_reason, sizeof r.freeze_reason,
			    "stop-the-world: the cgroup has %s of room, less than "
			    "the %s a copy-on-write snapshot may need", ph_size_fmt(room,
			    s1, sizeof s1), ph_size_fmt(need, s2, sizeof s2));
		}
	}
	ph_proc_comm(pid, comm, sizeof comm);
	reading = json_pack("{s:I, s:I, s:I, s:I}", "rss_bytes", (json_int_t)rss,
	    "cgroup_usage_bytes", (json_int_t)cg->usage,
	    "cgroup_working_set_bytes", (json_int_t)cg->working_set,
	    "cgroup_limit_bytes", (json_int_t)cg->limit);
	if (reading != NULL && growth >= 0)
		json_object_set_new(reading, "growth_bytes_per_min",
		    json_integer((json_int_t)(growth * 60000.0)));
	r.begin = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:o, s:i, s:I}",
	    "type", "artifact", "phase", "begin", "id", a->claimed,
	    "instance", a->instance, "kind", w->spec.kind, "pid", (int)pid,
	    "process", comm, "trigger", trigger, "reading", reading,
	    "watch", w->id, "captured_at", (json_int_t)ph_now());
	if (r.begin == NULL) {
		ph_warn("watch %d: out of memory", w->id);
		return;
	}
	snprintf(w->fired, sizeof w->fired, "%s", trigger);
	ph_info("watch %d fired on pid %d (%s): %s; capturing %s%s", w->id, (int)pid,
	    comm, trigger, w->spec.kind, r.freeze ? " with stop-the-world" : "");
	w->captures++;
	w->last_ms = ph_mono_ms();
	if ((w->child = agent_capture_start(a, &r, watch_captured, w)) < 0) {
		w->child = 0;
		ph_warn("watch %d: cannot fork the capture: %s", w->id, strerror(errno));
	}
	json_decref(r.begin);
}

/* One sample of watch w. */
static void
watch_sample(struct agent_watch *w, int64_t now)
{
	struct ph_cgmem	 cg;
	pid_t		 pid = watch_pid(w);
	uint64_t	 rss;
	double		 growth = -1, pct = 0;
	char		*cause = NULL, trig[512], s1[32], s2[32], s3[32];
	size_t		 o = 0;
	int		 hold = 1;

	if (pid <= 0 || (rss = watch_rss(pid)) == 0) {
		snprintf(w->last, sizeof w->last, "no process to watch");
		return;
	}
	if (pid != w->pid) {		/* another process: a new history */
		w->pid = pid;
		w->n = w->head = 0;
	}
	memset(&cg, 0, sizeof cg);
	if (ph_cgmem_read("/", "/sys/fs/cgroup", pid, &cg, &cause) != 0) {
		free(cause);
		memset(&cg, 0, sizeof cg);
	}
	if (cg.limit > 0)
		pct = 100.0 * (double)cg.working_set / (double)cg.limit;
	if (w->spec.growth_per_ms > 0)
		growth = watch_growth(w, now, rss);
	snprintf(w->last, sizeof w->last, "pid %d: rss %s, working set %s of %s "
	    "(%.1f%%)", (int)pid, ph_size_fmt(rss, s1, sizeof s1),
	    ph_size_fmt(cg.working_set, s2, sizeof s2),
	    cg.limit > 0 ? ph_size_fmt(cg.limit, s3, sizeof s3) : "no limit", pct);
	if (w->child != 0 || w->captures >= w->spec.max ||
	    (w->last_ms != 0 && now - w->last_ms < w->spec.cooldown_ms))
		return;
	/* A capture forks: not while the resolver's thread runs (next tick). */
	if (agent_resolve_running())
		return;

	trig[0] = '\0';
#define TRIG(...) do { \
	if (o < sizeof trig) \
		o += (size_t)snprintf(trig + o, sizeof trig - o, __VA_ARGS__); \
} while (0)
	if (w->spec.rss_pct > 0) {
		hold &= cg.limit > 0 && pct >= w->spec.rss_pct;
		TRIG("rss-above %g%%: working set %s of %s (%.1f%%)", w->spec.rss_pct,
		    ph_size_fmt(cg.working_set, s1, sizeof s1),
		    ph_size_fmt(cg.limit, s2, sizeof s2), pct);
	} else if (w->spec.rss_bytes > 0) {
		hold &= rss >= w->spec.rss_bytes;
		TRIG("rss-above %s: rss %s", ph_size_fmt(w->spec.rss_bytes, s1,
		    sizeof s1), ph_size_fmt(rss, s2, sizeof s2));
	}
	if (w->spec.growth_per_ms > 0) {
		hold &= growth >= 0 && growth * (double)w->spec.growth_per_ms >=
		    (double)w->spec.growth_bytes;
		TRIG("%sgrowth-above %s/%s: %s/min over the window", o > 0 ? "; " : "",
		    ph_size_fmt(w->spec.growth_bytes, s1, sizeof s1),
		    w->spec.growth_per_ms == 1000 ? "s" :
		    w->spec.growth_per_ms == 60000 ? "min" : "h",
		    ph_size_fmt(growth > 0 ? (uint64_t)(growth * 60000.0) : 0, s2,
		    sizeof s2));
	}
#undef TRIG
	if (hold)
		watch_fire(w, pid, rss, &cg, growth, trig);
}

static void
watch_tick(lws_sorted_usec_list_t *sul)
{
	struct agent_watches *ws = lws_container_of(sul, struct agent_watches, sul);
	struct agent_watch *w;
	int64_t		now = ph_mono_ms();

	ws->armed = 0;
	for (w = ws->head; w != NULL; w = w->next)
		watch_sample(w, now);
	if (ws->head != NULL && ws->head->a->ctx != NULL && !ws->head->a->stopping) {
		ws->armed = 1;
		lws_sul_schedule(ws->head->a->ctx, 0, &ws->sul, watch_tick,
		    (lws_usec_t)WATCH_TICK_MS * LWS_US_PER_MS);
	}
}

int
agent_watch_add(struct agent *a, const struct ph_watch_spec *spec, const char *origin,
    char **cause)
{
	struct agent_watches *ws = watch_state(a);
	struct agent_watch **pp, *w;
	char		*t;

	if (ws == NULL || ws->n >= PH_WATCH_MAX) {
		*cause = ph_asprintf(ws == NULL ? "out of memory" :
		    "the agent holds %d watches already", PH_WATCH_MAX);
		return -1;
	}
	if ((w = calloc(1, sizeof *w)) == NULL ||
	    (w->origin = strdup(origin)) == NULL) {
		free(w);
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	w->a = a;
	w->id = ws->next_id++;
	w->spec = *spec;
	w->every_ms = spec->window_ms / (WATCH_RING / 2);
	if (w->every_ms < WATCH_TICK_MS)
		w->every_ms = WATCH_TICK_MS;
	for (pp = &ws->head; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = w;
	ws->n++;
	t = ph_watch_text(spec);
	ph_info("watch %d armed (%s): %s", w->id, origin, t != NULL ? t : "?");
	free(t);
	if (!ws->armed && a->ctx != NULL) {
		ws->armed = 1;
		lws_sul_schedule(a->ctx, 0, &ws->sul, watch_tick, 1);
	}
	return w->id;
}

int
agent_watch_rm(struct agent *a, int id)
{
	struct agent_watches *ws = a->watches;
	struct agent_watch **pp, *w;

	for (pp = ws != NULL ? &ws->head : NULL; pp != NULL && (w = *pp) != NULL;
	    pp = &w->next) {
		if (w->id != id)
			continue;
		if (w->child != 0)
			agent_proc_unwatch(a, w->child);	/* it finishes alone */
		*pp = w->next;
		ws->n--;
		free(w->origin);
		free(w);
		if (ws->head == NULL && ws->armed) {
			lws_sul_cancel(&ws->sul);
			ws->armed = 0;
		}
		ph_info("watch %d removed", id);
		return 0;
	}
	return -1;
}

json_t *
agent_watch_list(struct agent *a)
{
	struct agent_watch *w;
	json_t		*arr = json_array(), *j;

	for (w = a->watches != NULL ? a->watches->head : NULL; w != NULL && arr != NULL;
	    w = w->next) {
		if ((j = ph_watch_json(&w->spec)) == NULL)
			continue;
		json_object_set_new(j, "id", json_integer(w->id));
		json_object_set_new(j, "origin", json_string(w->origin));
		json_object_set_new(j, "captures", json_integer(w->captures));
		json_object_set_new(j, "capturing", json_boolean(w->child != 0));
		json_object_set_new(j, "last_reading", json_string(w->last));
		if (w->fired[0] != '\0')
			json_object_set_new(j, "last_trigger", json_string(w->fired));
		json_array_append_new(arr, j);
	}
	return arr;
}

void
agent_watch_start(struct agent *a)
{
	struct agent_watches *ws = a->watches;
	char		*cause = NULL;
	size_t		 i;

	for (i = 0; ws != NULL && i < ws->nenv; i++) {
		if (agent_watch_add(a, &ws->env[i], "PORTHOLE_WATCH", &cause) < 0) {
			ph_warn("PORTHOLE_WATCH: %s", cause);
			free(cause);
			cause = NULL;
		}
	}
}

void
agent_watch_free(struct agent *a)
{
	struct agent_watches *ws = a->watches;
	struct agent_watch *w;

	if (ws == NULL)
		return;
	lws_sul_cancel(&ws->sul);
	while ((w = ws->head) != NULL) {
		ws->head = w->next;
		free(w->origin);
		free(w);
	}
	free(ws);
	a->watches = NULL;
	free(a->spool_dir);
	a->spool_dir = NULL;
}
