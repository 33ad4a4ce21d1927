/*
 * ecs.h - the agent's identity from the ECS task metadata endpoint v4:
 * parsing what ${ECS_CONTAINER_METADATA_URI_V4} and .../task answer, and
 * the little HTTP/1.0 that fetching them takes.  The fetching itself (a
 * socket, a timeout) is the agent's (agent-identity.c); everything that
 * reads bytes from outside is here, unit-tested and fuzzed.
 *
 * Labels made from the metadata: cluster (the short name, the last part
 * of an ARN), family, revision, task (the task id: last path segment of
 * TaskARN), container (Name), az (AvailabilityZone), launch_type
 * (LaunchType).  The agent id is "<task>/<container>".
 */
#ifndef PORTHOLE_ECS_H
#define PORTHOLE_ECS_H

#include <stddef.h>
#include <jansson.h>

#define PH_ECS_BODY_MAX		(1024 * 1024)	/* largest answer read */
#define PH_ECS_VALUE_MAX	200		/* longest label value kept */

struct ph_ecs_url {
	char	host[256];
	int	port;		/* 80 unless given */
	char	path[1024];	/* starts with '/' */
};

/* Parse "http://HOST[:PORT][/PATH]"; -1 with *cause (malloc'd). */
int	ph_ecs_url_parse(const char *s, struct ph_ecs_url *u, char **cause);

/*
 * The body of an HTTP/1.x response held whole in resp[0..len): 0 with
 * *body, *blen pointing into resp when the status is 200; -1 with *cause
 * otherwise (not HTTP, other status, no end of headers).
 */
int	ph_ecs_http_body(const char *resp, size_t len, const char **body, size_t *blen,
	    char **cause);

/*
 * Labels (a new JSON object of strings, see above) from the container
 * document and the task document (bytes, not NUL-terminated).  NULL with
 * *cause when either is not JSON, lacks Name, TaskARN or Family, or holds
 * a value that cannot be a label (empty, over PH_ECS_VALUE_MAX bytes,
 * control characters, ',' or '=').  Optional members (AvailabilityZone,
 * LaunchType, Revision, Cluster) that are absent or unusable are left out.
 */
json_t	*ph_ecs_labels(const char *container, size_t clen, const char *task, size_t tlen,
	    char **cause);

/* "<task>/<container>" from labels made by ph_ecs_labels; malloc'd. */
char	*ph_ecs_id(json_t *labels);

/*
 * The task document's Containers as a new JSON array of {"name", "docker_id"}
 * (entries without both strings are skipped); NULL with *cause when the
 * document is not JSON or has no Containers array.
 */
json_t	*ph_ecs_containers(const char *task, size_t tlen, char **cause);

/*
 * Does the text of a /proc/PID/cgroup file (cg[0..len)) put the process in
 * the container docker_id?  1 when some line's path holds docker_id as a
 * whole word (after '/', '-' or ':', before '/', '.', end of line), else 0.
 */
int	ph_ecs_cgroup_match(const char *cg, size_t len, const char *docker_id);

/*
 * GET path from the endpoint u (ecsfetch.c): blocking, each request within
 * timeout_ms (connect, send, read), the answer bounded by PH_ECS_BODY_MAX.
 * The body of a 200 (malloc'd, NUL-terminated; *blen its length), or NULL
 * with *cause.  For use before an event loop exists.
 */
char	*ph_ecs_get(const struct ph_ecs_url *u, const char *path, int timeout_ms,
	    size_t *blen, char **cause);

/*
 * The task's private IPv4 address from the container document (awsvpc:
 * Networks[0].IPv4Addresses[0]), into buf as dotted quad; -1 with *cause
 * when the document is not JSON or has no such address.
 */
int	ph_ecs_ipv4(const char *container, size_t clen, char *buf, size_t len,
	    char **cause);

#endif
