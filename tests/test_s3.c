/*
 * test_s3.c - the pure parts of the S3 client (src/s3/): SigV4's canonical
 * query and AWS's percent-encoding against the examples of AWS's SigV4 test
 * suite and S3's documentation (curl 7.88 gets these wrong, see s3.h),
 * s3:// locations, the ECS credentials document, and S3's XML replies and
 * errors made printable and bounded.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "porthole/s3.h"
#include "s3-int.h"

static void
expect_raw(const char *raw, const char *want)
{
	char *cause = NULL, *got = ph_s3_query_canon_raw(raw, &cause);

	cr_assert_not_null(got, "%s: %s", raw, cause);
	cr_expect_str_eq(got, want, "canonical query of '%s'", raw);
	free(got);
}

/* The query examples of AWS's SigV4 test suite (request line -> canonical). */
Test(s3query, sigv4_suite)
{
	/* get-vanilla-query */
	expect_raw("", "");
	/* get-vanilla-query-order-key-case: sorted by name, upper case first */
	expect_raw("Param2=value2&Param1=value1", "Param1=value1&Param2=value2");
	/* get-vanilla-query-order-key */
	expect_raw("b=foo&a=foo", "a=foo&b=foo");
	/* get-vanilla-query-order-value: same name, sorted by value */
	expect_raw("Param1=value2&Param1=Value1", "Param1=Value1&Param1=value2");
	/* the 2011 suite's get-vanilla-query-order-value */
	expect_raw("foo=Zoo&foo=aha", "foo=Zoo&foo=aha");
	expect_raw("foo=aha&foo=Zoo", "foo=Zoo&foo=aha");
	/* get-vanilla-query-unreserved: nothing encoded */
	expect_raw("-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
	    "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
	    "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
	    "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
	/* get-vanilla-utf8-query: U+1234 as upper-case %XX of its UTF-8 */
	expect_raw("\xe1\x88\xb4=bar", "%E1%88%B4=bar");
	expect_raw("%e1%88%b4=bar", "%E1%88%B4=bar");
	/* get-vanilla-empty-query-key */
	expect_raw("Param1=value1", "Param1=value1");
}

/* S3's documented canonical queries, and the ones this client sends. */
Test(s3query, s3_examples)
{
	/* GET /?lifecycle: a name alone is "name=" (curl 7.88 signs "lifecycle") */
	expect_raw("lifecycle", "lifecycle=");
	/* ListObjects: GET /?max-keys=2&prefix=J */
	expect_raw("max-keys=2&prefix=J", "max-keys=2&prefix=J");
	expect_raw("prefix=J&max-keys=2", "max-keys=2&prefix=J");
	expect_raw("uploads", "uploads=");
	expect_raw("uploadId=abc&partNumber=3", "partNumber=3&uploadId=abc");
	/* space is %20, never '+'; '/' and '=' in a value are encoded */
	expect_raw("prefix=a%20b%2Fc", "prefix=a%20b%2Fc");
	expect_raw("prefix=a+b", "prefix=a%2Bb");
	expect_raw("t=a=b", "t=a%3Db");
	/* empty parts are no parameters */
	expect_raw("&a=1&&", "a=1");
}

Test(s3query, malformed_escape)
{
	char *cause = NULL;

	cr_expect_null(ph_s3_query_canon_raw("a=%4", &cause));
	cr_expect_str_eq(cause, "a malformed %-escape in the query");
	free(cause);
	cause = NULL;
	cr_expect_null(ph_s3_query_canon_raw("a=%zz", &cause));
	free(cause);
}

Test(s3query, params)
{
	struct ph_s3_qparam q[] = {
		{ "uploadId", "2~Xy/+=" }, { "partNumber", "10" }, { "uploads", NULL },
		{ "continuation-token", "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=" },
	};
	char *got = ph_s3_query_canon(q, 4);

	cr_expect_str_eq(got, "continuation-token=1ueGcxLPRx1Tr%2FXYExHnhbYLgveDs2J%2F"
	    "wm36Hy4vbOwM%3D&partNumber=10&uploadId=2~Xy%2F%2B%3D&uploads=");
	free(got);
	got = ph_s3_query_canon(q, 0);
	cr_expect_str_eq(got, "");
	free(got);
}

Test(s3query, uri_encode)
{
	char *p = ph_s3_uri_encode("art/run 1/ä*.core", strlen("art/run 1/ä*.core"), 1);

	cr_expect_str_eq(p, "art/run%201/%C3%A4%2A.core");
	free(p);
	p = ph_s3_uri_encode("a/b", 3, 0);
	cr_expect_str_eq(p, "a%2Fb");
	free(p);
}

Test(s3query, sha256)
{
	char hex[65];

	ph_s3_sha256_hex("", 0, hex);
	cr_expect_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

Test(s3url, locations)
{
	struct ph_s3_location	l;
	char			*cause = NULL;

	unsetenv("AWS_ENDPOINT_URL_S3");
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	cr_assert_eq(ph_s3_location_parse("s3://my-bucket/evidence", NULL, NULL, &l, &cause), 0);
	cr_expect_str_eq(l.bucket, "my-bucket");
	cr_expect_str_eq(l.prefix, "evidence/");
	cr_expect_str_eq(l.region, "us-east-1");
	cr_expect_str_eq(l.endpoint, "https://s3.us-east-1.amazonaws.com");
	cr_expect_eq(l.path_style, 0);
	ph_s3_location_clear(&l);

	setenv("AWS_REGION", "eu-west-3", 1);
	setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000/", 1);
	cr_assert_eq(ph_s3_location_parse("s3://b12", NULL, NULL, &l, &cause), 0);
	cr_expect_str_eq(l.prefix, "");
	cr_expect_str_eq(l.region, "eu-west-3");
	cr_expect_str_eq(l.endpoint, "http://127.0.0.1:9000");
	cr_expect_eq(l.path_style, 1);
	ph_s3_location_clear(&l);
	unsetenv("AWS_ENDPOINT_URL_S3");
	unsetenv("AWS_REGION");

	cr_expect_eq(ph_s3_location_parse("https://b/x", NULL, NULL, &l, &cause), -1);
	free(cause);
	cr_expect_eq(ph_s3_location_parse("s3://Bad_Bucket/x", NULL, NULL, &l, &cause), -1);
	free(cause);
	cr_expect_eq(ph_s3_location_parse("s3://bucket", "us east", NULL, &l, &cause), -1);
	free(cause);
	cr_expect_eq(ph_s3_location_parse("s3://bucket", NULL, "ftp://x", &l, &cause), -1);
	free(cause);
}

/* AWS's documented container credentials document. */
Test(s3creds, parse)
{
	static const char doc[] = "{\"RoleArn\":\"arn:aws:iam::1:role/r\","
	    "\"AccessKeyId\":\"ASIAEXAMPLE\",\"SecretAccessKey\":\"s3cr3t\","
	    "\"Token\":\"tok\",\"Expiration\":\"2026-12-06T02:00:00Z\"}";
	struct s3_creds	c;
	char		*cause = NULL;

	cr_assert_eq(s3_creds_parse(doc, strlen(doc), &c, &cause), 0, "%s", cause);
	cr_expect_str_eq(c.akid, "ASIAEXAMPLE");
	cr_expect_str_eq(c.secret, "s3cr3t");
	cr_expect_str_eq(c.token, "tok");
	cr_expect_eq(c.expiry, 1796522400);
	s3_creds_clear(&c);
	cr_expect_eq(s3_creds_parse("{\"AccessKeyId\":\"A\"}", 19, &c, &cause), -1);
	free(cause);
	cr_expect_eq(s3_creds_parse("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"B\","
	    "\"Expiration\":\"tomorrow\"}", 63, &c, &cause), -1);
	free(cause);
}

Test(s3xml, tags_and_errors)
{
	static const char list[] = "<ListBucketResult><Contents><Key>a&amp;b&lt;c&#62;</Key>"
	    "<Size>3</Size></Contents><Contents><Key>d</Key></Contents>"
	    "<IsTruncated>false</IsTruncated></ListBucketResult>";
	static const char err[] = "<Error><Code>AccessDenied\x1b[31m</Code>"
	    "<Message>no\nway</Message></Error>";
	struct s3_reply	 r = { .max = 100 };
	size_t		 at = 0;
	char		*t, *item;

	item = s3_xml_tag(list, strlen(list), "Contents", &at);
	t = s3_xml_tag(item, strlen(item), "Key", NULL);
	cr_expect_str_eq(t, "a&b<c>");
	free(t);
	free(item);
	item = s3_xml_tag(list, strlen(list), "Contents", &at);
	cr_expect_str_eq(item, "<Key>d</Key>");
	free(item);
	cr_expect_null(s3_xml_tag(list, strlen(list), "Contents", &at));
	cr_expect_null(s3_xml_tag("<Key>open", 9, "Key", NULL));

	s3_reply_add(&r, err, strlen(err));
	t = s3_error_text(403, &r);
	cr_expect_str_eq(t, "HTTP 403 AccessDenied\\x1b[31m: no\\nway");
	free(t);
	/* Over the bound: dropped (0 stops curl), and said so. */
	cr_expect_eq(s3_reply_add(&r, err, strlen(err)), 0);
	cr_expect(r.too_big);
	t = s3_error_text(500, &r);
	cr_expect_str_eq(t, "HTTP 500, a reply longer than 100 bytes (dropped)");
	free(t);
	s3_reply_clear(&r);
}

Test(s3xml, list_page)
{
	static const char page[] = "<ListBucketResult><Name>b</Name><Prefix>art/</Prefix>"
	    "<Contents><Key>art/a.core</Key><LastModified>2026-12-06T01:02:03.000Z"
	    "</LastModified><ETag>&quot;9b2c&quot;</ETag><Size>20971520</Size></Contents>"
	    "<Contents><Key>other/x</Key><Size>1</Size></Contents>"
	    "<Contents><Key>art/</Key><Size>0</Size></Contents>"
	    "<Contents><Key>art/b/c.json</Key><Size>7</Size></Contents>"
	    "<IsTruncated>true</IsTruncated><NextContinuationToken>t/+=</NextContinuationToken>"
	    "</ListBucketResult>";
	static const char cut[] = "<ListBucketResult><IsTruncated>true</IsTruncated>"
	    "</ListBucketResult>";
	struct ph_s3_entry	*e = NULL;
	size_t			 n = 0;
	char			*token = NULL, *cause = NULL;

	cr_assert_eq(s3_list_page(page, strlen(page), "art/", 10, &e, &n, &token, &cause), 0);
	cr_assert_eq(n, 2, "the two objects under the prefix, not the prefix itself");
	cr_expect_str_eq(e[0].key, "a.core");
	cr_expect_eq(e[0].size, 20971520);
	cr_expect_str_eq(e[0].etag, "\"9b2c\"");
	cr_expect_str_eq(e[0].modified, "2026-12-06T01:02:03.000Z");
	cr_expect_str_eq(e[1].key, "b/c.json");
	cr_expect_str_eq(token, "t/+=");
	free(token);
	/* A second page appends; the bound counts both. */
	cr_expect_eq(s3_list_page(page, strlen(page), "art/", 3, &e, &n, &token, &cause), -1);
	cr_expect_str_eq(cause, "more than 3 objects");
	free(cause);
	cr_expect_eq(s3_list_page(cut, strlen(cut), "", 10, &e, &n, &token, &cause), -1);
	cr_expect_str_eq(cause, "truncated without a NextContinuationToken");
	cr_expect_null(token);
	free(cause);
	s3_entries_free(e, n);
}
