/*
 * client-httpparse.c - the answer to one HTTP/1.1 GET (see
 * client-httpparse.h).
 *
 * The head (status line, Content-Length, Transfer-Encoding) is kept up to
 * CLIENT_HTTP_HEAD_MAX; then the body: Content-Length bytes, chunks
 * (size lines, data, CRLF, trailers to an empty line) or everything up
 * to the close.  The body is bounded by the request's max, refused early
 * from its Content-Length or a chunk's size; a body cut short is called
 * truncated with what arrived of what was announced.
 */
#include <sys/types.h>
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "porthole/util.h"

#include "client-httpparse.h"

#define HTTP_TRAILERS_MAX	64	/* trailer lines after the chunks */

enum http_state {
	HTTP_HEAD,		/* reading the head */
	HTTP_BODY_LEN,		/* Content-Length bytes */
	HTTP_BODY_CLOSE,	/* up to the close */
	HTTP_CHUNK_SIZE,	/* a chunk's size line */
	HTTP_CHUNK_DATA,
	HTTP_CHUNK_END,		/* the CRLF after a chunk's data */
	HTTP_TRAILER,		/* lines after the last chunk, to an empty one */
	HTTP_DONE,
};

void
client_http_parser_init(struct client_http_parser *hp,
    const struct client_http_req *req)
{
	memset(hp, 0, sizeof *hp);
	hp->state = HTTP_HEAD;
	hp->path = req->path;
	hp->method = req->method != NULL ? req->method : "GET";
	hp->what = req->what != NULL ? req->what : "the relay's answer";
	hp->hint = req->hint != NULL ? req->hint : "check the relay's log";
	hp->max = req->max;
	hp->clen = -1;
	hp->sink = req->sink;
	hp->sink_arg = req->sink_arg;
}

void
client_http_parser_free(struct client_http_parser *hp)
{
	free(hp->body);
	hp->body = NULL;
}

static char *
http_not_relay(const char *what)
{
	return ph_asprintf("the relay sent %s: is PORTHOLE_RELAY a porthole "
	    "relay?", what);
}

/* Keep n more body bytes; -1 with *cause past the bound. */
static int
http_append(struct client_http_parser *hp, const void *p, size_t n,
    char **cause)
{
	size_t	 want;
	char	*nb;

	if (hp->sinking) {
		hp->len += n;
		if (n > 0 && hp->sink(hp->sink_arg, p, n) != 0) {
			hp->sink_failed = 1;
			*cause = ph_asprintf("writing %s failed", hp->what);
			return -1;
		}
		return 0;
	}
	if (n > hp->max - hp->len) {
		*cause = ph_asprintf("%s is larger than %zu %s: %s", hp->what,
		    hp->max >= (1u << 20) ? hp->max >> 20 : hp->max,
		    hp->max >= (1u << 20) ? "MiB" : "bytes", hp->hint);
		return -1;
	}
	if (hp->len + n + 1 > hp->cap) {
		want = hp->cap != 0 ? hp->cap : 16384;
		while (want < hp->len + n + 1)
			want *= 2;
		if ((nb = realloc(hp->body, want)) == NULL) {
			*cause = ph_asprintf("out of memory reading %s", hp->what);
			return -1;
		}
		hp->body = nb;
		hp->cap = want;
	}
	memcpy(hp->body + hp->len, p, n);
	hp->len += n;
	hp->body[hp->len] = '\0';
	return 0;
}

/* The value of header name in the head (NUL-terminated), or NULL. */
static const char *
http_header(const char *head, const char *name, char *v, size_t cap)
{
	const char	*p = strstr(head, "\r\n"), *e;
	size_t		 n = strlen(name), k;

	while (p != NULL && p[2] != '\r' && p[2] != '\0') {
		p += 2;
		e = strstr(p, "\r\n");
		if (e == NULL)
			break;
		if ((size_t)(e - p) > n && strncasecmp(p, name, n) == 0 &&
		    p[n] == ':') {
			p += n + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			for (k = (size_t)(e - p); k > 0 && (p[k - 1] == ' ' ||
			    p[k - 1] == '\t'); k--)
				continue;
			snprintf(v, cap, "%.*s", (int)k, p);
			return v;
		}
		p = e;
	}
	return NULL;
}

/* The head is complete (hp->head): status and how the body comes. */
static int
http_head(struct client_http_parser *hp, char **cause)
{
	char	 v[64], *end;

	if (sscanf(hp->head, "HTTP/1.%*1[01] %3d", &hp->status) != 1 ||
	    hp->status < 100 || hp->status > 999) {
		*cause = http_not_relay("an answer that is not HTTP/1.1");
		return -1;
	}
	if (hp->status == 200 && hp->sink != NULL) {
		hp->sinking = 1;	/* a download: its size is the sink's */
		hp->max = SIZE_MAX;
	}
	if (http_header(hp->head, "Transfer-Encoding", v, sizeof v) != NULL) {
		if (strcasestr(v, "chunked") == NULL) {
			*cause = http_not_relay("a body in an unknown encoding");
			return -1;
		}
		hp->chunked = 1;
		hp->state = HTTP_CHUNK_SIZE;
		return 0;
	}
	if (http_header(hp->head, "Content-Length", v, sizeof v) != NULL) {
		errno = 0;
		hp->clen = strtoll(v, &end, 10);
		if (errno != 0 || end == v || *end != '\0' || hp->clen < 0 ||
		    !isdigit((unsigned char)v[0])) {
			*cause = ph_asprintf("the relay sent a bad Content-Length "
			    "(%.31s): is PORTHOLE_RELAY a porthole relay?", v);
			return -1;
		}
		if ((unsigned long long)hp->clen > hp->max) {
			*cause = ph_asprintf("%s is %lld bytes, more than %zu %s: "
			    "%s", hp->what, hp->clen,
			    hp->max >= (1u << 20) ? hp->max >> 20 : hp->max,
			    hp->max >= (1u << 20) ? "MiB" : "bytes", hp->hint);
			return -1;
		}
		hp->state = hp->clen == 0 ? HTTP_DONE : HTTP_BODY_LEN;
		return 0;
	}
	if (hp->status == 204 || hp->status == 304 || hp->status < 200)
		hp->state = HTTP_DONE;
	else
		hp->state = HTTP_BODY_CLOSE;
	return 0;
}

/* Bytes of the head; how many were taken, -1 with *cause. */
static ssize_t
http_take_head(struct client_http_parser *hp, const uint8_t *p, size_t n,
    char **cause)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (hp->head_len >= CLIENT_HTTP_HEAD_MAX) {
			*cause = ph_asprintf("the relay's answer to GET %s has a "
			    "head over %d bytes: is PORTHOLE_RELAY a porthole "
			    "relay?", hp->path, CLIENT_HTTP_HEAD_MAX);
			return -1;
		}
		hp->head[hp->head_len++] = (char)p[i];
		if (hp->head_len >= 4 &&
		    memcmp(hp->head + hp->head_len - 4, "\r\n\r\n", 4) == 0) {
			hp->head[hp->head_len] = '\0';
			return http_head(hp, cause) != 0 ? -1 : (ssize_t)i + 1;
		}
	}
	return (ssize_t)n;
}

/* Bytes of a line (chunk size, trailer) up to its LF; 1 when it is whole. */
static int
http_line(struct client_http_parser *hp, uint8_t c, char **cause)
{
	if (c == '\n') {
		if (hp->line_len == 0 || hp->line[hp->line_len - 1] != '\r') {
			*cause = http_not_relay("a chunked body with a bare LF");
			return -1;
		}
		hp->line[hp->line_len - 1] = '\0';
		hp->line_len = 0;
		return 1;
	}
	if (hp->line_len >= sizeof hp->line - 1) {
		*cause = http_not_relay("a chunked body with an overlong line");
		return -1;
	}
	hp->line[hp->line_len++] = (char)c;
	return 0;
}

/* A chunk's size line is whole. */
static int
http_chunk_size(struct client_http_parser *hp, char **cause)
{
	char	*end;

	errno = 0;
	hp->chunk_left = strtoull(hp->line, &end, 16);
	if (errno != 0 || end == hp->line || !isxdigit((unsigned char)hp->line[0]) ||
	    (*end != '\0' && *end != ';' && *end != ' ' && *end != '\t')) {
		*cause = http_not_relay("a chunked body with a bad chunk size");
		return -1;
	}
	if (hp->chunk_left > hp->max - hp->len)
		return http_append(hp, "", hp->max - hp->len + 1, cause);
	hp->state = hp->chunk_left == 0 ? HTTP_TRAILER : HTTP_CHUNK_DATA;
	return 0;
}

/* Bytes of a chunked body; how many were taken, -1 with *cause. */
static ssize_t
http_take_chunked(struct client_http_parser *hp, const uint8_t *p, size_t n,
    char **cause)
{
	size_t	 k;
	int	 r;

	if (hp->state == HTTP_CHUNK_DATA) {
		k = n < hp->chunk_left ? n : (size_t)hp->chunk_left;
		if (http_append(hp, p, k, cause) != 0)
			return -1;
		if ((hp->chunk_left -= k) == 0)
			hp->state = HTTP_CHUNK_END;
		return (ssize_t)k;
	}
	if ((r = http_line(hp, p[0], cause)) <= 0)
		return r < 0 ? -1 : 1;
	if (hp->state == HTTP_CHUNK_SIZE)
		return http_chunk_size(hp, cause) != 0 ? -1 : 1;
	if (hp->state == HTTP_CHUNK_END) {
		if (hp->line[0] != '\0') {
			*cause = http_not_relay("a chunk longer than its size");
			return -1;
		}
		hp->state = HTTP_CHUNK_SIZE;
		return 1;
	}
	/* HTTP_TRAILER: an empty line ends the answer. */
	if (hp->line[0] == '\0')
		hp->state = HTTP_DONE;
	else if (++hp->chunk_left > HTTP_TRAILERS_MAX) {
		*cause = http_not_relay("too many trailer lines");
		return -1;
	}
	return 1;
}

int
client_http_parse(struct client_http_parser *hp, const uint8_t *p, size_t n,
    char **cause)
{
	ssize_t	 k;
	size_t	 take;

	while (n > 0 && hp->state != HTTP_DONE) {
		switch (hp->state) {
		case HTTP_HEAD:
			k = http_take_head(hp, p, n, cause);
			break;
		case HTTP_BODY_LEN:
			take = (unsigned long long)(hp->clen - (long long)hp->len) <
			    n ? (size_t)(hp->clen - (long long)hp->len) : n;
			k = http_append(hp, p, take, cause) != 0 ? -1 :
			    (ssize_t)take;
			if (k > 0 && (long long)hp->len == hp->clen)
				hp->state = HTTP_DONE;
			break;
		case HTTP_BODY_CLOSE:
			k = http_append(hp, p, n, cause) != 0 ? -1 : (ssize_t)n;
			break;
		default:
			k = http_take_chunked(hp, p, n, cause);
			break;
		}
		if (k < 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return hp->state == HTTP_DONE ? 1 : 0;
}

int
client_http_parse_end(struct client_http_parser *hp, char **cause)
{
	*cause = NULL;
	if (hp->state == HTTP_DONE || hp->state == HTTP_BODY_CLOSE) {
		hp->state = HTTP_DONE;
		return 1;
	}
	if (hp->state == HTTP_HEAD)
		return -1;	/* no answer: the caller says so */
	if (hp->state == HTTP_BODY_LEN)
		*cause = ph_asprintf("the relay's answer to %s %s was truncated: "
		    "%zu of %lld bytes arrived: try again, and check the relay's "
		    "log", hp->method, hp->path, hp->len, hp->clen);
	else
		*cause = ph_asprintf("the relay's answer to %s %s was truncated: "
		    "its chunked body ended after %zu bytes: try again, and check "
		    "the relay's log", hp->method, hp->path, hp->len);
	return -1;
}

