/*
 * test_httpparse.c - the CLI's HTTP answer parser (client/client-httpparse.c,
 * compiled in): Content-Length, chunked and to-the-close bodies fed one
 * byte at a time and whole, the bound on the body (announced or not), a
 * body cut short called truncated with what arrived, and answers that
 * are not HTTP refused in one line.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "client-httpparse.h"

static const struct client_http_req req = { .path = "/v1/agents",
    .max = 64, .what = "the list", .hint = "narrow it" };

/* Feed s whole (bytewise: one byte at a time); the parse's last result. */
static int
feed(struct client_http_parser *hp, const char *s, int bytewise, char **cause)
{
	size_t	 i, n = strlen(s);
	int	 r = 0;

	*cause = NULL;
	client_http_parser_init(hp, &req);
	if (!bytewise)
		return client_http_parse(hp, (const uint8_t *)s, n, cause);
	for (i = 0; i < n && r == 0; i++)
		r = client_http_parse(hp, (const uint8_t *)s + i, 1, cause);
	return r;
}

Test(httpparse, content_length)
{
	struct client_http_parser hp;
	char	*cause;
	int	 b;

	for (b = 0; b < 2; b++) {
		cr_assert_eq(feed(&hp, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
		    "\r\nhello", b, &cause), 1);
		cr_assert_eq(hp.status, 200);
		cr_assert_str_eq(hp.body, "hello");
		client_http_parser_free(&hp);
	}
}

Test(httpparse, chunked)
{
	struct client_http_parser hp;
	char	*cause;
	int	 b;

	for (b = 0; b < 2; b++) {
		cr_assert_eq(feed(&hp, "HTTP/1.1 401 Unauthorized\r\n"
		    "transfer-encoding:  chunked \r\n\r\n4;ext=1\r\n{\"a\"\r\n"
		    "B\r\n:[1,2,3]}\n\n\r\n0\r\nX-Trailer: y\r\n\r\n", b,
		    &cause), 1, "%s", cause != NULL ? cause : "");
		cr_assert_eq(hp.status, 401);
		cr_assert_eq(hp.len, 15);
		cr_assert_str_eq(hp.body, "{\"a\":[1,2,3]}\n\n");
		client_http_parser_free(&hp);
	}
}

Test(httpparse, chunked_errors)
{
	struct client_http_parser hp;
	char	*cause;

	cr_assert_eq(feed(&hp, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
	    "\r\n\r\nzz\r\n", 0, &cause), -1);
	cr_assert_not_null(strstr(cause, "bad chunk size"), "%s", cause);
	free(cause);
	client_http_parser_free(&hp);
	cr_assert_eq(feed(&hp, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n2\r\nabc\r\n", 0, &cause), -1);
	cr_assert_not_null(strstr(cause, "longer than its size"), "%s", cause);
	free(cause);
	client_http_parser_free(&hp);
	/* A chunk that would pass the bound is refused from its size. */
	cr_assert_eq(feed(&hp, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n41\r\n", 0, &cause), -1);
	cr_assert_str_eq(cause, "the list is larger than 64 bytes: narrow it");
	free(cause);
	client_http_parser_free(&hp);
	/* Cut short: the close does not complete a chunked body. */
	cr_assert_eq(feed(&hp, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n5\r\nab", 0, &cause), 0);
	cr_assert_eq(client_http_parse_end(&hp, &cause), -1);
	cr_assert_not_null(strstr(cause, "truncated"), "%s", cause);
	free(cause);
	client_http_parser_free(&hp);
}

Test(httpparse, bounds_and_truncation)
{
	struct client_http_parser hp;
	char	*cause;

	cr_assert_eq(feed(&hp, "HTTP/1.1 200 OK\r\nContent-Length: 65\r\n\r\n",
	    0, &cause), -1);
	cr_assert_str_eq(cause, "the list is 65 bytes, more than 64 bytes: "
	    "narrow it");
	free(cause);
	client_http_parser_free(&hp);

	cr_assert_eq(feed(&hp, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
	    "abcd", 0, &cause), 0);
	cr_assert_eq(client_http_parse_end(&hp, &cause), -1);
	cr_assert_str_eq(cause, "the relay's answer to GET /v1/agents was "
	    "truncated: 4 of 10 bytes arrived: try again, and check the "
	    "relay's log");
	free(cause);
	client_http_parser_free(&hp);

	/* No length: the body ends at the close, within the bound. */
	cr_assert_eq(feed(&hp, "HTTP/1.0 200 OK\r\n\r\nabc", 1, &cause), 0);
	cr_assert_eq(client_http_parse_end(&hp, &cause), 1);
	cr_assert_str_eq(hp.body, "abc");
	client_http_parser_free(&hp);
	cr_assert_eq(feed(&hp, "HTTP/1.1 200 OK\r\n\r\n", 0, &cause), 0);
	{
		char big[65];

		memset(big, 'x', sizeof big);
		cr_assert_eq(client_http_parse(&hp, (const uint8_t *)big,
		    sizeof big, &cause), -1);
		cr_assert_not_null(strstr(cause, "larger than 64 bytes"));
		free(cause);
	}
	client_http_parser_free(&hp);
}

Test(httpparse, not_http)
{
	struct client_http_parser hp;
	char	*cause;

	cr_assert_eq(feed(&hp, "SSH-2.0-OpenSSH\r\n\r\n", 0, &cause), -1);
	cr_assert_not_null(strstr(cause, "not HTTP/1.1"), "%s", cause);
	free(cause);
	cr_assert_eq(feed(&hp, "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
	    0, &cause), -1);
	cr_assert_not_null(strstr(cause, "bad Content-Length (1x)"), "%s", cause);
	free(cause);
	/* Nothing at all: the caller says the relay closed without answering. */
	client_http_parser_init(&hp, &req);
	cr_assert_eq(client_http_parse_end(&hp, &cause), -1);
	cr_assert_null(cause);
}
