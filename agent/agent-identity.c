/*
 * agent-identity.c - who this agent is: its id, its instance, and, in an
 * ECS task, the labels and name read from the task metadata endpoint v4.
 *
 * Without metadata the id is 16 random hex digits drawn at start.  With
 * ECS_CONTAINER_METADATA_URI_V4 set, the agent GETs ${URI} (the container:
 * its Name) and ${URI}/task (cluster, family, revision, task ARN, zone,
 * launch type) over plain HTTP/1.0, before the event loop exists, each
 * bounded by AGENT_ECS_TIMEOUT_MS and PH_ECS_BODY_MAX; the parsing is
 * libporthole's (ecs.c).  Then the id is "<task id>/<container>", the
 * metadata labels are added under those of PORTHOLE_LABELS (which win),
 * and the name defaults to the family (PORTHOLE_NAME wins).  Metadata that
 * is missing, slow or malformed is logged and skipped: never fatal.
 *
 * That is the id the agent claims in its hello.  The relay registers it
 * qualified with the sub of the agent's token, "<claimed>@<sub>"
 * (agentid.h; docs/protocol.md, "Agent identity"), and every open must
 * name that full id.  The agent computes it itself from its own token
 * (only its payload is read: the relay verifies the token), so a relay's
 * word is never needed to know who it is.
 *
 * The instance is another random value; both stay the same across
 * reconnects of one process, so the relay can tell "the same agent came
 * back over a fresh socket" from "another agent claims this id".
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "porthole/ecs.h"
#include "porthole/frame.h"
#include "porthole/log.h"
#include "porthole/token.h"
#include "porthole/util.h"

#include "agent.h"

#define AGENT_ECS_TIMEOUT_MS	3000	/* per request: connect, send, read */
#define AGENT_ECS_HEAD_MAX	(16 * 1024)	/* headers on top of the body cap */

static int64_t
ecs_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for events on fd until deadline; 1 ready, 0 timed out, -1 error. */
static int
ecs_wait(int fd, short events, int64_t deadline)
{
	struct pollfd	pfd = { .fd = fd, .events = events };
	int64_t		left;
	int		r;

	for (;;) {
		if ((left = deadline - ecs_now_ms()) <= 0)
			return 0;
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		return r < 0 ? -1 : r > 0;
	}
}

static int
ecs_connect(const struct ph_ecs_url *u, int64_t deadline, char **cause)
{
	struct addrinfo	 hints, *res = NULL;
	char		 port[8];
	int		 fd, e, r;
	socklen_t	 el = sizeof e;

	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	snprintf(port, sizeof port, "%d", u->port);
	if (getaddrinfo(u->host, port, &hints, &res) != 0) {
		/* A name: resolving it blocks, but there is no loop yet. */
		hints.ai_flags = AI_NUMERICSERV;
		if ((r = getaddrinfo(u->host, port, &hints, &res)) != 0) {
			*cause = ph_asprintf("cannot resolve %s: %s", u->host, gai_strerror(r));
			return -1;
		}
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*cause = ph_asprintf("socket: %s", strerror(errno));
		freeaddrinfo(res);
		return -1;
	}
	r = connect(fd, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	if (r != 0 && errno != EINPROGRESS) {
		*cause = ph_asprintf("cannot connect to %s:%d: %s", u->host, u->port,
		    strerror(errno));
		close(fd);
		return -1;
	}
	if (r != 0) {
		if (ecs_wait(fd, POLLOUT, deadline) != 1) {
			*cause = ph_asprintf("cannot connect to %s:%d: timed out", u->host,
			    u->port);
			close(fd);
			return -1;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0 || e != 0) {
			*cause = ph_asprintf("cannot connect to %s:%d: %s", u->host, u->port,
			    strerror(e));
			close(fd);
			return -1;
		}
	}
	return fd;
}

/* GET path; the body (malloc'd, NUL-terminated) or NULL with *cause. */
static char *
ecs_get(const struct ph_ecs_url *u, const char *path, size_t *blen, char **cause)
{
	int64_t		 deadline = ecs_now_ms() + AGENT_ECS_TIMEOUT_MS;
	size_t		 cap = PH_ECS_BODY_MAX + AGENT_ECS_HEAD_MAX, len = 0, off = 0;
	char		*req, *buf = NULL, *out = NULL;
	const char	*body;
	ssize_t		 n;
	int		 fd;

	if ((fd = ecs_connect(u, deadline, cause)) < 0)
		return NULL;
	req = ph_asprintf("GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: porthole-agent\r\n"
	    "Accept: application/json\r\n\r\n", path, u->host);
	while (off < strlen(req)) {
		if (ecs_wait(fd, POLLOUT, deadline) != 1) {
			*cause = ph_asprintf("%s: timed out sending the request", path);
			goto out;
		}
		n = send(fd, req + off, strlen(req) - off, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0) {
			*cause = ph_asprintf("%s: %s", path, strerror(errno));
			goto out;
		}
		off += (size_t)n;
	}
	if ((buf = malloc(cap + 1)) == NULL) {
		*cause = ph_asprintf("out of memory");
		goto out;
	}
	for (;;) {
		if (len == cap) {
			*cause = ph_asprintf("%s: the answer is larger than %d KiB", path,
			    (int)(cap / 1024));
			goto out;
		}
		if (ecs_wait(fd, POLLIN, deadline) != 1) {
			*cause = ph_asprintf("%s: timed out after %d ms", path,
			    AGENT_ECS_TIMEOUT_MS);
			goto out;
		}
		n = recv(fd, buf + len, cap - len, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0) {
			*cause = ph_asprintf("%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (ph_ecs_http_body(buf, len, &body, blen, cause) != 0)
		goto out;
	if ((out = malloc(*blen + 1)) == NULL) {
		*cause = ph_asprintf("out of memory");
		goto out;
	}
	memcpy(out, body, *blen);
	out[*blen] = '\0';
out:
	free(buf);
	free(req);
	close(fd);
	return out;
}

/* Labels from the metadata under uri; NULL with *cause. */
static json_t *
agent_identity_ecs(const char *uri, json_t **containers, char **cause)
{
	struct ph_ecs_url	 u;
	char			*cdoc = NULL, *tdoc = NULL, *tpath;
	size_t			 clen, tlen;
	json_t			*labels = NULL;

	if (ph_ecs_url_parse(uri, &u, cause) != 0)
		return NULL;
	tpath = ph_asprintf("%s%stask", u.path, u.path[strlen(u.path) - 1] == '/' ? "" : "/");
	if ((cdoc = ecs_get(&u, u.path, &clen, cause)) != NULL &&
	    (tdoc = ecs_get(&u, tpath, &tlen, cause)) != NULL)
		labels = ph_ecs_labels(cdoc, clen, tdoc, tlen, cause);
	if (labels != NULL) {
		char	*why = NULL;

		/* For --container (agent-target.c); without it, only that is lost. */
		if ((*containers = ph_ecs_containers(tdoc, tlen, &why)) == NULL) {
			ph_warn("ECS task metadata: no container list (%s): --container "
			    "will not work", why);
			free(why);
		}
	}
	free(cdoc);
	free(tdoc);
	free(tpath);
	return labels;
}

/*
 * The full id: the claimed id qualified with the sub of our own token.
 * 0, or -1 with *cause (the token has no usable sub).
 */
static int
agent_identity_full(struct agent *a, char **cause)
{
	json_t		*claims = NULL;
	const char	*sub;
	char		*why = NULL, *full;

	if (ph_token_decode(a->cfg.token, NULL, &claims, &why) != 0) {
		*cause = ph_asprintf("cannot read the agent token: %s", why);
		free(why);
		return -1;
	}
	if ((sub = json_string_value(json_object_get(claims, "sub"))) == NULL) {
		*cause = ph_asprintf("the agent token has no sub: the agent's id is "
		    "qualified with it");
		json_decref(claims);
		return -1;
	}
	if ((full = ph_agent_full_id(a->claimed, sub, &why)) == NULL) {
		*cause = ph_asprintf("cannot make the agent's id: %s", why);
		free(why);
		json_decref(claims);
		return -1;
	}
	snprintf(a->id, sizeof a->id, "%s", full);
	free(full);
	json_decref(claims);
	return 0;
}

/* The id to claim (random, or the ECS task's), labels and name. */
static int
agent_identity_claim(struct agent *a, char **cause)
{
	char		 id[AGENT_ID_HEX + 1], *eid, *why = NULL;
	const char	*uri, *k, *fam;
	json_t		*labels, *v;

	if (ph_random_hex(id, AGENT_ID_HEX) != 0 ||
	    ph_random_hex(a->instance, AGENT_INSTANCE_HEX) != 0) {
		*cause = ph_asprintf("cannot draw random bytes for the agent id");
		return -1;
	}
	id[AGENT_ID_HEX] = '\0';
	a->instance[AGENT_INSTANCE_HEX] = '\0';
	memcpy(a->claimed, id, sizeof id);

	if ((uri = getenv("ECS_CONTAINER_METADATA_URI_V4")) == NULL || *uri == '\0')
		return 0;
	if ((labels = agent_identity_ecs(uri, &a->cfg.ecs_containers, &why)) == NULL) {
		ph_warn("ECS task metadata skipped (%s): id %s is random", why, a->claimed);
		free(why);
		return 0;
	}
	if ((eid = ph_ecs_id(labels)) == NULL ||
	    !ph_ident_ok(PH_IDENT_ID, eid, strlen(eid))) {
		ph_warn("ECS task metadata skipped (the task and container make no "
		    "agent id: %s): id %s is random", ph_ident_rule(PH_IDENT_ID),
		    a->claimed);
		free(eid);
		json_decref(labels);
		return 0;
	}
	snprintf(a->claimed, sizeof a->claimed, "%s", eid);
	free(eid);
	/* PORTHOLE_LABELS win over the metadata. */
	json_object_foreach(labels, k, v) {
		if (json_object_get(a->cfg.labels, k) == NULL)
			json_object_set(a->cfg.labels, k, v);
	}
	fam = json_string_value(json_object_get(labels, "family"));
	if (!a->cfg.name_set && fam != NULL && (k = strdup(fam)) != NULL) {
		free(a->cfg.name);
		a->cfg.name = (char *)k;
	}
	ph_info("ECS task metadata: id %s, name %s", a->claimed, a->cfg.name);
	json_decref(labels);
	return 0;
}

int
agent_identity(struct agent *a, char **cause)
{
	if (agent_identity_claim(a, cause) != 0)
		return -1;
	return agent_identity_full(a, cause);
}
