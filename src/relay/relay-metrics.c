/*
 * relay-metrics.c - the relay's counters and GET /metrics in the
 * Prometheus text format (version 0.0.4), which `promtool check metrics`
 * accepts.
 *
 * Label values come from fixed tables (the operation registry's session
 * operations, ops.h; refusal codes; queue kinds), never from what a peer
 * sent, so the number of series is bounded: an operation or code outside
 * the table counts as "other".  Refusals that
 * other modules count only in relay.refusals show up as "other" too.
 * Process figures (RSS, open fds, CPU) are read from /proc/self and
 * getrusage at scrape time: a few system calls.
 */
#include <sys/resource.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "porthole/log.h"
#include "porthole/ops.h"
#include "porthole/util.h"
#include "relay.h"
#include "relay-agent.h"
#include "relay-audit.h"
#include "relay-metrics.h"
#include "relay-artifact.h"
#include "relay-record.h"


static const char *metrics_refusals[] = {
	PH_ERR_UNAUTHORIZED, PH_ERR_FORBIDDEN, PH_ERR_NO_AGENT, PH_ERR_SID_REUSED,
	PH_ERR_VERSION, PH_ERR_CONFLICT, PH_ERR_BAD_MESSAGE, PH_ERR_BAD_FRAME,
	PH_ERR_BAD_JSON, PH_ERR_TOO_BIG, PH_ERR_TIMEOUT, PH_ERR_INTERNAL,
	RELAY_ERR_RECORDING, PH_ERR_LIMIT,
};
_Static_assert(sizeof metrics_refusals / sizeof metrics_refusals[0] == METRICS_NREFUSALS,
    "METRICS_NREFUSALS counts metrics_refusals");


void
relay_metrics_init(void)
{
	relay.metrics.start = ph_now();
}

static size_t
relay_metrics_op(const char *op)
{
	const struct ph_op	*all, *o = ph_ops_find(op);
	size_t			 n, i;

	all = ph_ops_all(&n);
	if (o == NULL || (o->flags & PH_OPF_SESSION) == 0)
		return METRICS_OTHER;
	i = (size_t)(o - all);
	return i < METRICS_OPS_MAX ? i : METRICS_OTHER;
}

/* Print one line of metric name for each session operation, then "other". */
static void
relay_metrics_by_op(FILE *f, const char *name, const uint64_t *v)
{
	const struct ph_op	*all;
	size_t			 n, i;

	all = ph_ops_all(&n);
	for (i = 0; i < n && i < METRICS_OPS_MAX; i++) {
		if ((all[i].flags & PH_OPF_SESSION) != 0)
			fprintf(f, "%s{op=\"%s\"} %llu\n", name, all[i].name,
			    (unsigned long long)v[i]);
	}
	fprintf(f, "%s{op=\"other\"} %llu\n", name,
	    (unsigned long long)v[METRICS_OTHER]);
}

/* A session of op opened (delta 1) or ended (delta -1). */
void
relay_metrics_session(const char *op, int delta)
{
	size_t i = relay_metrics_op(op);

	if (delta > 0) {
		relay.metrics.open[i]++;
		relay.metrics.total[i]++;
	} else if (relay.metrics.open[i] > 0)
		relay.metrics.open[i]--;
}

void
relay_metrics_refusal(const char *code)
{
	size_t i;

	relay.refusals++;
	for (i = 0; i < METRICS_NREFUSALS; i++) {
		if (code != NULL && strcmp(code, metrics_refusals[i]) == 0) {
			relay.metrics.refusals[i]++;
			return;
		}
	}
}

/* A queue of a connection of kind now holds bytes: keep the high-water mark. */
void
relay_metrics_queue(enum relay_conn_kind kind, size_t bytes)
{
	int i = kind == RELAY_CONN_CONTROL ? 0 : 1;

	if (bytes > relay.metrics.q_high[i])
		relay.metrics.q_high[i] = bytes;
}

void
relay_metrics_recording(int failed)
{
	if (failed)
		relay.metrics.recording_failures++;
	else
		relay.metrics.recordings++;
}

/* Open descriptors of this process, -1 if /proc is not there. */
static long
relay_metrics_fds(void)
{
	struct dirent *de;
	DIR *d;
	long n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n - 1;		/* the directory being read */
}

static long
relay_metrics_rss(void)
{
	unsigned long size, rss;
	FILE *f;
	int n;

	if ((f = fopen("/proc/self/statm", "r")) == NULL)
		return -1;
	n = fscanf(f, "%lu %lu", &size, &rss);
	fclose(f);
	if (n != 2)
		return -1;
	return (long)rss * sysconf(_SC_PAGESIZE);
}

static void
relay_metrics_head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The /metrics body: a malloc'd string in *out.  -1 on failure. */
/* Agents, sessions, bytes, refusals, queues. */
static void
metrics_sessions(FILE *f)
{
	uint64_t known = 0;
	size_t i;

	relay_metrics_head(f, "porthole_relay_agents", "gauge", "Agents connected now.");
	fprintf(f, "porthole_relay_agents %zu\n", relay.agents.n);
	relay_metrics_head(f, "porthole_relay_agent_connections_total", "counter",
	    "Agent control channels registered.");
	fprintf(f, "porthole_relay_agent_connections_total %llu\n",
	    (unsigned long long)relay.agents.total);

	relay_metrics_head(f, "porthole_relay_sessions", "gauge",
	    "Sessions open now, by operation.");
	relay_metrics_by_op(f, "porthole_relay_sessions", relay.metrics.open);
	relay_metrics_head(f, "porthole_relay_sessions_total", "counter",
	    "Sessions opened (passed every check and forwarded to the agent), by operation.");
	relay_metrics_by_op(f, "porthole_relay_sessions_total", relay.metrics.total);

	relay_metrics_head(f, "porthole_relay_session_bytes_total", "counter",
	    "Session payload bytes spliced, by direction.");
	fprintf(f, "porthole_relay_session_bytes_total{direction=\"to_agent\"} %llu\n",
	    (unsigned long long)relay.sessions.bytes_to_agent);
	fprintf(f, "porthole_relay_session_bytes_total{direction=\"to_client\"} %llu\n",
	    (unsigned long long)relay.sessions.bytes_to_client);

	relay_metrics_head(f, "porthole_relay_refusals_total", "counter",
	    "Requests, channels and sessions refused, by error code.");
	for (i = 0; i < METRICS_NREFUSALS; i++) {
		fprintf(f, "porthole_relay_refusals_total{reason=\"%s\"} %llu\n",
		    metrics_refusals[i], (unsigned long long)relay.metrics.refusals[i]);
		known += relay.metrics.refusals[i];
	}
	fprintf(f, "porthole_relay_refusals_total{reason=\"other\"} %llu\n",
	    (unsigned long long)(relay.refusals > known ?
	    relay.refusals - known : 0));

	relay_metrics_head(f, "porthole_relay_queue_high_water_bytes", "gauge",
	    "Most bytes any one outgoing queue held since start, by channel kind.");
	fprintf(f, "porthole_relay_queue_high_water_bytes{kind=\"control\"} %zu\n",
	    relay.metrics.q_high[0]);
	fprintf(f, "porthole_relay_queue_high_water_bytes{kind=\"session\"} %zu\n",
	    relay.metrics.q_high[1]);

	relay_metrics_head(f, "porthole_relay_websockets", "gauge",
	    "WebSocket connections open now.");
	fprintf(f, "porthole_relay_websockets %zu\n", relay.nwebsockets);
}

/* The fleet (relay-redis.c, relay-fleet.c); zeros for a relay without --redis. */
static void
metrics_fleet(FILE *f)
{
	relay_metrics_head(f, "porthole_relay_redis_up", "gauge",
	    "1 while the connection to Redis (--redis) is up.");
	fprintf(f, "porthole_relay_redis_up %d\n", relay_redis_up());
	relay_metrics_head(f, "porthole_relay_redis_rtt_seconds", "gauge",
	    "Round-trip time of the last PING to Redis.");
	fprintf(f, "porthole_relay_redis_rtt_seconds %.6f\n",
	    (double)relay.redis.rtt_us / 1e6);
	relay_metrics_head(f, "porthole_relay_redis_errors_total", "counter",
	    "Redis connections lost or refused (a failed dial, a bad reply, no answer).");
	fprintf(f, "porthole_relay_redis_errors_total %llu\n",
	    (unsigned long long)relay.redis.errors);
	relay_metrics_head(f, "porthole_relay_peers", "gauge",
	    "Links from other relays of the fleet (/v1/peer) open now.");
	fprintf(f, "porthole_relay_peers %llu\n", (unsigned long long)relay.peers);
	relay_metrics_head(f, "porthole_relay_peer_links", "gauge",
	    "Links this relay dialed to other relays of the fleet, open now.");
	fprintf(f, "porthole_relay_peer_links %llu\n",
	    (unsigned long long)relay.metrics.peer_links);
	relay_metrics_head(f, "porthole_relay_peer_refused_total", "counter",
	    "Relays this one would not send its token to: their certificate is not the fleet's.");
	fprintf(f, "porthole_relay_peer_refused_total %llu\n",
	    (unsigned long long)relay.metrics.peer_refused);
	relay_metrics_head(f, "porthole_relay_cross_sessions_total", "counter",
	    "Sessions across relays, by this relay's part: open (sent the open to the "
	    "agent's relay), attach (the agent's side came over a link), splice (carried "
	    "an agent's data channel to the client's relay).");
	fprintf(f, "porthole_relay_cross_sessions_total{part=\"open\"} %llu\n",
	    (unsigned long long)relay.metrics.cross_opens);
	fprintf(f, "porthole_relay_cross_sessions_total{part=\"attach\"} %llu\n",
	    (unsigned long long)relay.metrics.cross_attached);
	fprintf(f, "porthole_relay_cross_sessions_total{part=\"splice\"} %llu\n",
	    (unsigned long long)relay.metrics.cross_spliced);
	relay_metrics_head(f, "porthole_relay_cross_bytes_total", "counter",
	    "Message bytes over links this relay dialed to other relays.");
	fprintf(f, "porthole_relay_cross_bytes_total{dir=\"out\"} %llu\n",
	    (unsigned long long)relay.metrics.cross_bytes_out);
	fprintf(f, "porthole_relay_cross_bytes_total{dir=\"in\"} %llu\n",
	    (unsigned long long)relay.metrics.cross_bytes_in);
	relay_metrics_head(f, "porthole_relay_redis_commands_total", "counter",
	    "Commands sent to Redis.");
	fprintf(f, "porthole_relay_redis_commands_total %llu\n",
	    (unsigned long long)relay.redis.commands);
	relay_metrics_head(f, "porthole_relay_redis_reply_errors_total", "counter",
	    "Redis commands answered with an error (-ERR: a script or command failed).");
	fprintf(f, "porthole_relay_redis_reply_errors_total %llu\n",
	    (unsigned long long)relay.redis.reply_errors);
	relay_metrics_head(f, "porthole_relay_revocations_total", "counter",
	    "Tokens revoked through this relay (porthole token revoke).");
	fprintf(f, "porthole_relay_revocations_total %llu\n",
	    (unsigned long long)relay.revoke.recorded);
	relay_metrics_head(f, "porthole_relay_revoked_entries", "gauge",
	    "Revocations held for the fleet (Redis, or recorded here), not expired.");
	fprintf(f, "porthole_relay_revoked_entries %zu\n", relay.revoke.list.n);
	relay_metrics_head(f, "porthole_relay_revoked_pushes_total", "counter",
	    "revoked messages sent to agents.");
	fprintf(f, "porthole_relay_revoked_pushes_total %llu\n",
	    (unsigned long long)relay.revoke.pushed);
	relay_metrics_head(f, "porthole_relay_revoked_writebacks_total", "counter",
	    "Revocations Redis lacked (restarted empty) that this relay wrote again.");
	fprintf(f, "porthole_relay_revoked_writebacks_total %llu\n",
	    (unsigned long long)relay.revoke.writebacks);
}

/* Recordings, the audit stream and the artifact store. */
static void
metrics_records(FILE *f)
{
	struct relay_artifact_stats as;

	relay_metrics_head(f, "porthole_relay_recordings_total", "counter",
	    "Session recordings started.");
	fprintf(f, "porthole_relay_recordings_total %llu\n",
	    (unsigned long long)relay.metrics.recordings);
	relay_metrics_head(f, "porthole_relay_recording_failures_total", "counter",
	    "Recordings that could not be started or written.");
	fprintf(f, "porthole_relay_recording_failures_total %llu\n",
	    (unsigned long long)relay.metrics.recording_failures);
	relay_metrics_head(f, "porthole_relay_audit_dropped_total", "counter",
	    "Audit events lost because stdout was not read or failed.");
	fprintf(f, "porthole_relay_audit_dropped_total %llu\n",
	    (unsigned long long)relay_audit_dropped());

	relay_artifact_stats(&as);
	relay_metrics_head(f, "porthole_relay_artifacts", "gauge",
	    "Artifacts the store holds.");
	fprintf(f, "porthole_relay_artifacts %llu\n",
	    (unsigned long long)as.count);
	relay_metrics_head(f, "porthole_relay_artifact_stored_bytes", "gauge",
	    "Bytes the artifact store holds (as uploaded, compressed).");
	fprintf(f, "porthole_relay_artifact_stored_bytes %llu\n",
	    (unsigned long long)as.bytes);
	relay_metrics_head(f, "porthole_relay_artifact_uploads_total", "counter",
	    "Captures stored, complete or not.");
	fprintf(f, "porthole_relay_artifact_uploads_total %llu\n",
	    (unsigned long long)as.uploads);
	relay_metrics_head(f, "porthole_relay_artifact_incomplete_total", "counter",
	    "Captures stored incomplete.");
	fprintf(f, "porthole_relay_artifact_incomplete_total %llu\n",
	    (unsigned long long)as.incomplete);
	relay_metrics_head(f, "porthole_relay_artifact_refused_total", "counter",
	    "Uploads refused at their start by a bound.");
	fprintf(f, "porthole_relay_artifact_refused_total %llu\n",
	    (unsigned long long)as.refused);
	relay_metrics_head(f, "porthole_relay_artifact_bytes_total", "counter",
	    "Artifact bytes uploaded by agents and served to clients.");
	fprintf(f, "porthole_relay_artifact_bytes_total{direction=\"in\"} %llu\n",
	    (unsigned long long)as.bytes_in);
	fprintf(f, "porthole_relay_artifact_bytes_total{direction=\"out\"} %llu\n",
	    (unsigned long long)as.bytes_out);
}

/* The process, under the names Prometheus's client libraries use. */
static void
metrics_process(FILE *f)
{
	struct rusage ru;
	struct rlimit rl;
	long v;

	if ((v = relay_metrics_rss()) >= 0) {
		relay_metrics_head(f, "process_resident_memory_bytes", "gauge",
		    "Resident memory size in bytes.");
		fprintf(f, "process_resident_memory_bytes %ld\n", v);
	}
	if ((v = relay_metrics_fds()) >= 0) {
		relay_metrics_head(f, "process_open_fds", "gauge",
		    "Number of open file descriptors.");
		fprintf(f, "process_open_fds %ld\n", v);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		relay_metrics_head(f, "process_max_fds", "gauge",
		    "Maximum number of open file descriptors.");
		fprintf(f, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
	}
	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		relay_metrics_head(f, "process_cpu_seconds_total", "counter",
		    "Total user and system CPU time spent in seconds.");
		fprintf(f, "process_cpu_seconds_total %.3f\n",
		    (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	}
	relay_metrics_head(f, "process_start_time_seconds", "gauge",
	    "Start time of the process since unix epoch in seconds.");
	fprintf(f, "process_start_time_seconds %lld\n", (long long)relay.metrics.start);
}

int
relay_metrics_render(char **out, size_t *len)
{
	FILE *f;

	*out = NULL;
	if ((f = open_memstream(out, len)) == NULL)
		return -1;

	relay_metrics_head(f, "porthole_relay_build_info", "gauge",
	    "Version of this relay and the protocol it speaks.");
	fprintf(f, "porthole_relay_build_info{version=\"%s\",protocol=\"%d\"} 1\n",
	    PORTHOLE_VERSION, PH_PROTOCOL_VERSION);
	metrics_sessions(f);
	metrics_fleet(f);
	metrics_records(f);
	metrics_process(f);

	if (ferror(f)) {
		fclose(f);
		free(*out);
		*out = NULL;
		return -1;
	}
	fclose(f);
	return 0;
}
