/*
 * ecsfetch.c - the little HTTP/1.0 GET the ECS task metadata endpoint
 * takes (ecs.h: ph_ecs_get), for the agent's identity and the relay's
 * default --advertise: blocking with a deadline, made before any event
 * loop exists, the answer bounded by PH_ECS_BODY_MAX; what comes back is
 * parsed by ecs.c.
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
#include "porthole/util.h"

#define ECS_HEAD_MAX	(16 * 1024)	/* headers on top of the body cap */

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

char *
ph_ecs_get(const struct ph_ecs_url *u, const char *path, int timeout_ms, size_t *blen,
    char **cause)
{
	int64_t		 deadline = ecs_now_ms() + timeout_ms;
	size_t		 cap = PH_ECS_BODY_MAX + ECS_HEAD_MAX, len = 0, off = 0;
	char		*req, *buf = NULL, *out = NULL;
	const char	*body;
	ssize_t		 n;
	int		 fd;

	if ((fd = ecs_connect(u, deadline, cause)) < 0)
		return NULL;
	req = ph_asprintf("GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: porthole\r\n"
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
			    timeout_ms);
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

