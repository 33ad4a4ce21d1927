/*
 * test_redis.c - the relay's Redis codec and address (relay-resp.c,
 * relay-redisurl.c): replies split anywhere parse the same, a reply past
 * the bound fails however it is announced (a huge bulk header, a huge
 * array count, many small elements) without the relay holding more than
 * the bound, and the URL forms of --redis.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "relay-redisurl.h"
#include "relay-resp.h"

static struct relay_reply *
one(struct relay_resp *r, const char *s, size_t n)
{
	struct relay_reply *rp = NULL;
	char *cause = NULL;

	cr_assert_eq(relay_resp_feed(r, s, n, &cause), 0, "%s", cause);
	cr_assert_eq(relay_resp_next(r, &rp, &cause), 1, "%s", cause);
	return rp;
}

Test(resp, types_and_splits)
{
	static const char msg[] = "*4\r\n$5\r\nhello\r\n:42\r\n$-1\r\n*1\r\n+OK\r\n";
	size_t cut, n = sizeof msg - 1;

	for (cut = 0; cut <= n; cut++) {
		struct relay_resp *r = relay_resp_new(4096);
		struct relay_reply *rp = NULL;
		char *cause = NULL;

		cr_assert_eq(relay_resp_feed(r, msg, cut, &cause), 0);
		if (cut < n)
			cr_assert_eq(relay_resp_next(r, &rp, &cause), 0, "cut %zu", cut);
		cr_assert_eq(relay_resp_feed(r, msg + cut, n - cut, &cause), 0);
		cr_assert_eq(relay_resp_next(r, &rp, &cause), 1);
		cr_assert_eq(rp->type, RELAY_REPLY_ARRAY);
		cr_assert_eq(rp->n, 4);
		cr_assert_str_eq(rp->elem[0]->str, "hello");
		cr_assert_eq(rp->elem[1]->integer, 42);
		cr_assert_eq(rp->elem[2]->type, RELAY_REPLY_NIL);
		cr_assert_eq(rp->elem[3]->elem[0]->type, RELAY_REPLY_STATUS);
		cr_assert_str_eq(rp->elem[3]->elem[0]->str, "OK");
		cr_assert_eq(relay_resp_held(r), 0);
		relay_reply_free(rp);
		relay_resp_free(r);
	}
}

Test(resp, error_reply)
{
	struct relay_resp *r = relay_resp_new(4096);
	struct relay_reply *rp = one(r, "-WRONGPASS no\r\n", 15);

	cr_assert_eq(rp->type, RELAY_REPLY_ERROR);
	cr_assert_str_eq(rp->str, "WRONGPASS no");
	relay_reply_free(rp);
	relay_resp_free(r);
}

/* A $2000000000 header, then its bytes: refused at the bound, held below it. */
Test(resp, huge_bulk)
{
	struct relay_resp *r = relay_resp_new(1024 * 1024);
	struct relay_reply *rp = NULL;
	char chunk[65536], *cause = NULL;
	size_t fed = 0;
	int rc = 0;

	memset(chunk, 'x', sizeof chunk);
	cr_assert_eq(relay_resp_feed(r, "$2000000000\r\n", 13, &cause), 0);
	cr_assert_eq(relay_resp_next(r, &rp, &cause), 0);
	while (fed < 4 * 1024 * 1024 && (rc = relay_resp_feed(r, chunk, sizeof chunk,
	    &cause)) == 0) {
		fed += sizeof chunk;
		cr_assert_leq(relay_resp_held(r), 1024 * 1024);
		cr_assert_eq(relay_resp_next(r, &rp, &cause), 0);
	}
	cr_assert_eq(rc, -1, "fed %zu bytes without a refusal", fed);
	cr_assert_not_null(strstr(cause, "larger than"), "%s", cause);
	cr_assert_leq(fed, 1024 * 1024);
	free(cause);
	relay_resp_free(r);
}

/* An array count hiredis would calloc at once. */
Test(resp, huge_array)
{
	struct relay_resp *r = relay_resp_new(1024 * 1024);
	struct relay_reply *rp = NULL;
	char *cause = NULL;

	cr_assert_eq(relay_resp_feed(r, "*2000000000\r\n", 13, &cause), 0);
	cr_assert_eq(relay_resp_next(r, &rp, &cause), -1);
	cr_assert_not_null(strstr(cause, "larger than"), "%s", cause);
	free(cause);
	relay_resp_free(r);

	/* Under the element cap, but its pointers alone pass the bound. */
	r = relay_resp_new(64 * 1024);
	cr_assert_eq(relay_resp_feed(r, "*100000\r\n", 9, &cause), 0);
	cr_assert_eq(relay_resp_next(r, &rp, &cause), -1);
	free(cause);
	relay_resp_free(r);
}

/* Many small elements: what was built counts. */
Test(resp, many_small)
{
	struct relay_resp *r = relay_resp_new(64 * 1024);
	struct relay_reply *rp = NULL;
	char *cause = NULL;
	int i, rc = 0, refused = 0;

	cr_assert_eq(relay_resp_feed(r, "*5000\r\n", 7, &cause), 0);
	for (i = 0; i < 5000 && !refused; i++) {
		if (relay_resp_feed(r, "$3\r\nabc\r\n", 9, &cause) != 0 ||
		    (rc = relay_resp_next(r, &rp, &cause)) < 0)
			refused = 1;
		cr_assert_leq(relay_resp_held(r), 64 * 1024);
	}
	cr_assert(refused, "5000 elements within 64 KiB");
	free(cause);
	relay_resp_free(r);
}

Test(resp, protocol_error)
{
	struct relay_resp *r = relay_resp_new(4096);
	struct relay_reply *rp = NULL;
	char *cause = NULL;

	cr_assert_eq(relay_resp_feed(r, "!nope\r\n", 7, &cause), 0);
	cr_assert_eq(relay_resp_next(r, &rp, &cause), -1);
	free(cause);
	relay_resp_free(r);
}

Test(resp, format)
{
	const char *argv[] = { "SET", "k", "a\r\nb" };
	size_t lens[] = { 3, 1, 4 };
	char *out;
	long long n = relay_resp_format(&out, 3, argv, lens);
	static const char want[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n";

	cr_assert_eq(n, (long long)sizeof want - 1);
	cr_assert_eq(memcmp(out, want, sizeof want - 1), 0);
	free(out);
}

Test(redisurl, forms)
{
	struct relay_redis_url u;
	char *cause = NULL;

	cr_assert_eq(relay_redis_url_parse("redis://127.0.0.1:6379", &u, &cause), 0);
	cr_assert_eq(u.tls, 0);
	cr_assert_str_eq(u.host, "127.0.0.1");
	cr_assert_eq(u.port, 6379);
	cr_assert_null(u.user);
	cr_assert_null(u.pass);
	cr_assert_eq(u.db, 0);
	relay_redis_url_free(&u);

	cr_assert_eq(relay_redis_url_parse("rediss://app:p%40ss:w@master.x.cache.amazonaws.com:6380/3",
	    &u, &cause), 0, "%s", cause);
	cr_assert_eq(u.tls, 1);
	cr_assert_str_eq(u.user, "app");
	cr_assert_str_eq(u.pass, "p@ss:w");
	cr_assert_str_eq(u.host, "master.x.cache.amazonaws.com");
	cr_assert_eq(u.port, 6380);
	cr_assert_eq(u.db, 3);
	relay_redis_url_free(&u);

	cr_assert_eq(relay_redis_url_parse("redis://:only@[::1]:7000/", &u, &cause), 0);
	cr_assert_null(u.user);
	cr_assert_str_eq(u.pass, "only");
	cr_assert_str_eq(u.host, "::1");
	cr_assert_eq(u.port, 7000);
	relay_redis_url_free(&u);
}

Test(redisurl, refused)
{
	static const char *bad[] = {
		"http://h:1", "redis://h", "redis://h:0", "redis://h:65536",
		"redis://:1", "redis://user@h:1", "redis://h:1/x", "redis://h:1?db=2",
		"redis://:%zz@h:1", "redis://:%00@h:1", "redis://[::1]/", "redis://h:1x",
	};
	struct relay_redis_url u;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *cause = NULL;

		cr_assert_eq(relay_redis_url_parse(bad[i], &u, &cause), -1, "%s", bad[i]);
		cr_assert_not_null(cause);
		cr_assert_null(strstr(cause, "zz"), "%s", cause);
		free(cause);
	}
}

Test(redisurl, password_file)
{
	struct relay_redis_url u;
	char path[] = "/tmp/ph-redis-pw.XXXXXX", *cause = NULL;
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "s3cret\n", 7), 7);
	close(fd);
	cr_assert_eq(relay_redis_url_parse("redis://:inurl@h:1", &u, &cause), 0);
	cr_assert_eq(relay_redis_url_password_file(&u, path, &cause), 0, "%s", cause);
	cr_assert_str_eq(u.pass, "s3cret");
	relay_redis_url_free(&u);
	unlink(path);
	cr_assert_eq(relay_redis_url_parse("redis://h:1", &u, &cause), 0);
	cr_assert_eq(relay_redis_url_password_file(&u, path, &cause), -1);
	free(cause);
	relay_redis_url_free(&u);
}
