/*
 * client-httpparse.h - the answer to one HTTP/1.1 request, parsed as its
 * bytes come (client-httpparse.c): the status, then a body by
 * Content-Length, chunked, or up to the close, bounded (unless a 200's
 * body goes to the request's sink, a download), with one-line
 * sentences for what is wrong.  No sockets: client-http.c feeds it.
 */
#ifndef PORTHOLE_CLIENT_HTTPPARSE_H
#define PORTHOLE_CLIENT_HTTPPARSE_H

#include <stddef.h>
#include <stdint.h>

#define CLIENT_HTTP_HEAD_MAX	16384	/* an answer's head, at most */

/* Where a download's bytes go as they come: 0 to go on, -1 to stop. */
typedef int (*client_http_sink)(void *arg, const void *p, size_t n);

/* A request to make (no body). */
struct client_http_req {
	const char	*method;	/* NULL: GET */
	const char	*path;		/* with its query */
	const char	*headers;	/* extra "Name: value\r\n" lines, or NULL */
	int		 auth;		/* send the token (Authorization) */
	size_t		 max;		/* body bytes, at most */
	int64_t		 timeout_ms;	/* the whole GET, connect included */
	const char	*what;		/* "the relay's agent list": too big */
	const char	*hint;		/* what to do when it is too big */
	client_http_sink sink;		/* a 200's body goes there, unbounded */
	void		*sink_arg;
};

/* The answer's parser: fed the plaintext, it keeps status and body. */
struct client_http_parser {
	int		 state;		/* where it is (client-httpparse.c) */
	const char	*method;	/* for the sentences */
	const char	*path;
	const char	*what, *hint;
	char		 head[CLIENT_HTTP_HEAD_MAX + 1];
	size_t		 head_len;
	int		 status;
	long long	 clen;		/* Content-Length, -1: none */
	int		 chunked;
	unsigned long long chunk_left;
	char		 line[80];	/* a chunk's size line, or a trailer */
	size_t		 line_len;
	char		*body;		/* NUL-terminated */
	size_t		 len, cap, max;
	client_http_sink sink;		/* the request's */
	void		*sink_arg;
	int		 sinking;	/* a 200 with a sink: body to it */
	int		 sink_failed;	/* the sink said stop */
};

void	client_http_parser_init(struct client_http_parser *hp,
	    const struct client_http_req *req);
void	client_http_parser_free(struct client_http_parser *hp);
/*
 * Plaintext of the answer: 1 once it is complete, 0 while more is
 * needed, -1 with *cause (malloc'd) when it is bad or too big.
 */
int	client_http_parse(struct client_http_parser *hp, const uint8_t *p,
	    size_t n, char **cause);
/*
 * The connection ended: 1 if that completes the answer (a body up to the
 * close), else -1 with *cause (truncated, or no answer at all: NULL
 * cause then, the caller says it).
 */
int	client_http_parse_end(struct client_http_parser *hp, char **cause);

#endif
