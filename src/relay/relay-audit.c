/*
 * relay-audit.c - the relay's audit stream: one JSON object per line on
 * stdout (twelve-factor logs; the diagnostic log stays on stderr), and the
 * rule that decides where a client came from.
 *
 * Every line starts with "time" (RFC 3339, UTC, milliseconds) and "event":
 *   agent_connected, agent_gone, refused, session_opened, session_closed,
 *   recording_failed
 * (the members of each are listed in docs/operations.md, "Audit").  A token
 * is never written: refusals carry the reason, and `sub` once verified.
 *
 * Where from: the TCP peer, unless the peer is in PORTHOLE_TRUSTED_PROXIES
 * (CIDRs) and the request carries X-Forwarded-For: then the last hop that
 * is not a trusted proxy (the rule is in relay-xff.c).
 *
 * Writing never blocks the event loop for long: when stdout is a pipe it is
 * reopened non-blocking (a new open file description, so nobody sharing the
 * pipe is affected), lines wait in a buffer of at most RELAY_AUDIT_MAX bytes
 * and a timer retries; a line that finds the buffer full is dropped,
 * counted (porthole_relay_audit_dropped_total) and warned about on stderr.
 * Regular files and terminals are written directly.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "porthole/log.h"
#include "porthole/printable.h"
#include "porthole/util.h"
#include "relay.h"
#include "relay-audit.h"
#include "relay-conn.h"
#include "relay-metrics.h"
#include "relay-xff.h"

#define RELAY_AUDIT_MAX		(1024 * 1024)	/* bytes waiting for stdout */
#define RELAY_AUDIT_RETRY_MS	50
#define RELAY_AUDIT_XFF_MAX	2048		/* longest X-Forwarded-For read */


/*
 * Set up the stream and the trusted proxies (a CIDR list, or NULL).
 * Returns -1 with *cause for a malformed list.
 */
int
relay_audit_init(const char *trusted_proxies, char **cause)
{
	struct stat st;
	int fd;

	if (trusted_proxies != NULL &&
	    relay_cidrs_parse(&relay.audit.proxies, trusted_proxies, cause) != 0)
		return -1;
	if ((relay.audit.pending = malloc(RELAY_AUDIT_MAX)) == NULL) {
		*cause = strdup("out of memory");
		return -1;
	}
	if (fstat(1, &st) == 0) {
		if (S_ISFIFO(st.st_mode) &&
		    (fd = open("/proc/self/fd/1", O_WRONLY | O_NONBLOCK | O_CLOEXEC)) >= 0)
			relay.audit.audit_fd = fd;
		else if (S_ISSOCK(st.st_mode))
			relay.audit.audit_sock = 1;
	}
	return 0;
}

int
relay_audit_trusts_proxies(void)
{
	return relay.audit.proxies.n > 0;
}

/*
 * Where the request on wsi comes from: peer (the TCP peer, already
 * normalised), or the client X-Forwarded-For names when peer is a trusted
 * proxy.  Call while the request headers are readable (HTTP, ESTABLISHED).
 */
void
relay_audit_from(struct lws *wsi, const char *peer, char *from, size_t len)
{
	char *xff = NULL;
	int n;

	if (relay_cidrs_has(&relay.audit.proxies, peer)) {
		n = lws_hdr_total_length(wsi, WSI_TOKEN_X_FORWARDED_FOR);
		if (n > 0 && n <= RELAY_AUDIT_XFF_MAX && (xff = malloc((size_t)n + 1)) != NULL &&
		    lws_hdr_copy(wsi, xff, n + 1, WSI_TOKEN_X_FORWARDED_FOR) < 0) {
			free(xff);
			xff = NULL;
		}
	}
	relay_xff_client(&relay.audit.proxies, peer, xff, from, len);
	free(xff);
}

/* Write what is pending; returns -1 on a hard error (the stream is lost). */
static int
relay_audit_write(void)
{
	ssize_t n;

	while (relay.audit.pending_len > 0) {
		if (relay.audit.audit_sock)
			n = send(relay.audit.audit_fd, relay.audit.pending,
			    relay.audit.pending_len, MSG_DONTWAIT | MSG_NOSIGNAL);
		else
			n = write(relay.audit.audit_fd, relay.audit.pending, relay.audit.pending_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			ph_warn("audit stream (stdout): %s; %zu bytes lost",
			    n < 0 ? strerror(errno) : "closed", relay.audit.pending_len);
			relay.audit.audit_dropped++;
			relay.audit.pending_len = 0;
			return -1;
		}
		memmove(relay.audit.pending, relay.audit.pending + n,
		    relay.audit.pending_len - (size_t)n);
		relay.audit.pending_len -= (size_t)n;
	}
	return 0;
}

static void
relay_audit_retry(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	relay.audit.audit_sul_on = 0;
	relay_audit_write();
	if (relay.audit.pending_len > 0 && relay.ctx != NULL && !relay.dying) {
		relay.audit.audit_sul_on = 1;
		lws_sul_schedule(relay.ctx, 0, &relay.audit.audit_sul, relay_audit_retry,
		    (lws_usec_t)RELAY_AUDIT_RETRY_MS * LWS_US_PER_MS);
	}
}

static void
relay_audit_time(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03dZ", (int)(ts.tv_nsec / 1000000));
}

/*
 * Emit one event: {"time", "event", then the members of fields}.  Takes
 * fields (a JSON object, may be NULL).
 */
void
relay_audit(const char *event, json_t *fields)
{
	char ts[40], *line;
	json_t *ev;
	size_t n;

	if (relay.audit.pending == NULL) {		/* not initialised (unit use) */
		json_decref(fields);
		return;
	}
	relay_audit_time(ts, sizeof ts);
	ev = json_pack("{s:s,s:s}", "time", ts, "event", event);
	if (ev != NULL && fields != NULL)
		json_object_update(ev, fields);
	json_decref(fields);
	/* ASCII, DEL escaped too: a line read on a terminal acts on nothing. */
	line = ev != NULL ? ph_json_dumps(ev, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	json_decref(ev);
	if (line == NULL) {
		relay.audit.audit_dropped++;
		ph_warn("audit %s event lost: out of memory", event);
		return;
	}
	n = strlen(line);
	if (n + 1 > RELAY_AUDIT_MAX - relay.audit.pending_len) {
		relay.audit.audit_dropped++;
		ph_warn("audit %s event dropped: stdout is not being read (%zu bytes "
		    "waiting)", event, relay.audit.pending_len);
		free(line);
		return;
	}
	memcpy(relay.audit.pending + relay.audit.pending_len, line, n);
	relay.audit.pending[relay.audit.pending_len + n] = '\n';
	relay.audit.pending_len += n + 1;
	free(line);
	relay_audit_write();
	if (relay.audit.pending_len > 0 && !relay.audit.audit_sul_on && relay.ctx != NULL &&
	    !relay.dying) {
		relay.audit.audit_sul_on = 1;
		lws_sul_schedule(relay.ctx, 0, &relay.audit.audit_sul, relay_audit_retry,
		    (lws_usec_t)RELAY_AUDIT_RETRY_MS * LWS_US_PER_MS);
	}
}

/* The connection's origin: "peer" (believed) and "proxy" when it came through one. */
void
relay_audit_origin(json_t *obj, const struct relay_conn *c)
{
	const char *from = c->from[0] != '\0' ? c->from : c->peer;

	json_object_set_new(obj, "peer", json_string(from));
	if (strcmp(from, c->peer) != 0)
		json_object_set_new(obj, "proxy", json_string(c->peer));
}

/*
 * A refusal: what was asked (endpoint), from where, by whom when known,
 * the error code and the reason given to the peer.  Counts it too.
 */
void
relay_audit_refusal(const struct relay_conn *c, const char *what, const char *code,
    const char *reason)
{
	relay_audit_refusal_with(c, what, code, reason, NULL);
}

/* relay_audit_refusal with the members of extra (taken; may be NULL) added. */
void
relay_audit_refusal_with(const struct relay_conn *c, const char *what,
    const char *code, const char *reason, json_t *extra)
{
	json_t *o;

	relay_metrics_refusal(code);
	ph_info("refused %s from %s%s%s: %s", what, c->peer,
	    c->from[0] != '\0' && strcmp(c->from, c->peer) != 0 ? " for " : "",
	    c->from[0] != '\0' && strcmp(c->from, c->peer) != 0 ? c->from : "", reason);
	if ((o = json_pack("{s:s,s:s,s:s}", "what", what, "code", code,
	    "reason", reason)) == NULL) {
		json_decref(extra);
		return;
	}
	relay_audit_origin(o, c);
	if (c->authed && c->claims.sub != NULL)
		json_object_set_new(o, "sub", json_string(c->claims.sub));
	if (extra != NULL) {
		json_object_update(o, extra);
		json_decref(extra);
	}
	relay_audit("refused", o);
}

/* The stream's losses so far (for /metrics). */
uint64_t
relay_audit_dropped(void)
{
	return relay.audit.audit_dropped;
}

/* At exit: what is still pending gets up to a second to go out. */
void
relay_audit_cleanup(void)
{
	struct pollfd pfd;
	int i;

	if (relay.audit.audit_sul_on && relay.ctx != NULL)
		lws_sul_cancel(&relay.audit.audit_sul);
	relay.audit.audit_sul_on = 0;
	for (i = 0; i < 20 && relay.audit.pending_len > 0; i++) {
		if (relay_audit_write() != 0)
			break;
		if (relay.audit.pending_len == 0)
			break;
		pfd.fd = relay.audit.audit_fd;
		pfd.events = POLLOUT;
		(void)poll(&pfd, 1, 50);
	}
	if (relay.audit.pending_len > 0)
		ph_warn("audit: %zu bytes not written at exit", relay.audit.pending_len);
	free(relay.audit.pending);
	relay.audit.pending = NULL;
	relay.audit.pending_len = 0;
	if (relay.audit.audit_fd != 1)
		close(relay.audit.audit_fd);
	relay.audit.audit_fd = 1;
}
