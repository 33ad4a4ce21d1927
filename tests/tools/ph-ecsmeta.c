/*
 * ph-ecsmeta.c - a stand-in for the ECS task metadata endpoint v4, for the
 * end-to-end tests: "ph-ecsmeta DIR" listens on 127.0.0.1 (a free port,
 * printed as "listening on PORT" on stdout) and answers
 *   GET /v4/<anything>        with DIR/container.json
 *   GET /v4/<anything>/task   with DIR/task.json
 * as HTTP/1.0 200 application/json, anything else 404; one request per
 * connection, one connection at a time (the agent makes two, in turn).
 * The files are read at each request, so a test can change them.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *dir;

static void
answer(int fd, const char *path)
{
	char	 file[1024], head[256], body[65536];
	size_t	 n = 0, len = strlen(path);
	FILE	*f = NULL;

	if (strncmp(path, "/v4/", 4) == 0 && len > 4) {
		if (len > 5 && strcmp(path + len - 5, "/task") == 0)
			snprintf(file, sizeof file, "%s/task.json", dir);
		else if (strchr(path + 4, '/') == NULL)
			snprintf(file, sizeof file, "%s/container.json", dir);
		else
			file[0] = '\0';
		if (file[0] != '\0')
			f = fopen(file, "r");
	}
	if (f == NULL) {
		snprintf(head, sizeof head, "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n");
		(void)!write(fd, head, strlen(head));
		return;
	}
	n = fread(body, 1, sizeof body, f);
	fclose(f);
	snprintf(head, sizeof head, "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\n\r\n", n);
	(void)!write(fd, head, strlen(head));
	(void)!write(fd, body, n);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in	 sin;
	socklen_t		 sl = sizeof sin;
	char			 req[8192], path[1024];
	ssize_t			 n;
	size_t			 len;
	int			 ls, fd, one = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: ph-ecsmeta DIR\n");
		return 2;
	}
	dir = argv[1];
	signal(SIGPIPE, SIG_IGN);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sin, sizeof sin) != 0 || listen(ls, 16) != 0 ||
	    getsockname(ls, (struct sockaddr *)&sin, &sl) != 0) {
		perror("ph-ecsmeta");
		return 1;
	}
	printf("listening on %d\n", ntohs(sin.sin_port));
	fflush(stdout);
	for (;;) {
		if ((fd = accept(ls, NULL, NULL)) < 0) {
			if (errno == EINTR)
				continue;
			perror("accept");
			return 1;
		}
		len = 0;
		while (len < sizeof req - 1 && (n = read(fd, req + len, sizeof req - 1 - len)) > 0) {
			len += (size_t)n;
			req[len] = '\0';
			if (strstr(req, "\r\n\r\n") != NULL)
				break;
		}
		req[len] = '\0';
		if (sscanf(req, "GET %1023s HTTP/1.", path) == 1)
			answer(fd, path);
		close(fd);
	}
}
