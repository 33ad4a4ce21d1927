/* test_util.c - settings, URLs, labels, environment scrub. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "porthole/util.h"

Test(util, url_parse)
{
	char *host = NULL, *cause = NULL;
	int port;

	cr_assert_eq(ph_url_parse("wss://relay.example.com", &host, &port, &cause), 0);
	cr_assert_str_eq(host, "relay.example.com");
	cr_assert_eq(port, 443);
	free(host);
	cr_assert_eq(ph_url_parse("wss://127.0.0.1:7443/", &host, &port, &cause), 0);
	cr_assert_str_eq(host, "127.0.0.1");
	cr_assert_eq(port, 7443);
	free(host);
	cr_assert_eq(ph_url_parse("wss://[::1]:9", &host, &port, &cause), 0);
	cr_assert_str_eq(host, "::1");
	cr_assert_eq(port, 9);
	free(host);

	static const char *bad[] = { "https://x", "wss://", "wss://h:99999",
	    "wss://h:0", "wss://h/path", "wss://h:", NULL, "ws://h" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cause = NULL;
		cr_expect_eq(ph_url_parse(bad[i], &host, &port, &cause), -1,
		    "accepted %s", bad[i] ? bad[i] : "NULL");
		cr_expect_not_null(cause);
		free(cause);
	}
}

Test(util, hostport)
{
	char *addr, *cause = NULL;
	int port;

	cr_assert_eq(ph_hostport_parse("127.0.0.1:0", &addr, &port, &cause), 0);
	cr_assert_str_eq(addr, "127.0.0.1");
	cr_assert_eq(port, 0);
	free(addr);
	cr_assert_eq(ph_hostport_parse("[::1]:7443", &addr, &port, &cause), 0);
	cr_assert_str_eq(addr, "::1");
	free(addr);
	cr_assert_eq(ph_hostport_parse("7443", &addr, &port, &cause), -1);
	free(cause);
	cr_assert_eq(ph_hostport_parse(":7443", &addr, &port, &cause), -1);
	free(cause);
}

Test(util, labels)
{
	char *cause = NULL;
	json_t *l = ph_labels_parse("cluster=prod,family=api,empty=", &cause);

	cr_assert_not_null(l, "%s", cause);
	cr_assert_str_eq(json_string_value(json_object_get(l, "cluster")), "prod");
	cr_assert_str_eq(json_string_value(json_object_get(l, "empty")), "");
	cr_assert_eq(json_object_size(l), 3);
	json_decref(l);
	l = ph_labels_parse("", &cause);
	cr_assert_eq(json_object_size(l), 0);
	json_decref(l);
	cr_assert_null(ph_labels_parse("novalue", &cause));
	free(cause);
	cr_assert_null(ph_labels_parse("=v", &cause));
	free(cause);
	cr_assert_null(ph_labels_parse("bad key=v", &cause));
	free(cause);
}

Test(util, secret_value_and_files)
{
	char dir[] = "/tmp/ph-util-XXXXXX", *path, *v, *cause = NULL, *at;

	cr_assert_not_null(mkdtemp(dir));
	path = ph_asprintf("%s/tok", dir);
	cr_assert_eq(ph_write_file(path, "  abc.def\n", 10, 0600, &cause), 0);
	at = ph_asprintf("@%s", path);
	v = ph_secret_value(at, &cause);
	cr_assert_str_eq(v, "abc.def");
	/* Trimming moved the secret: no byte of the file is left behind it. */
	for (int i = 7; i <= 10; i++)
		cr_assert_eq(v[i], '\0', "byte %d after the trimmed secret is '%c'", i, v[i]);
	free(v);
	v = ph_secret_value("literal", &cause);
	cr_assert_str_eq(v, "literal");
	free(v);
	cr_assert_null(ph_secret_value("@/nonexistent/x", &cause));
	cr_assert_not_null(strstr(cause, "/nonexistent/x"));
	free(cause);
	unlink(path);
	rmdir(dir);
	free(path);
	free(at);
}

/* The whole file, a too-large one (an error, or its head when truncating),
 * and the errno of a missing one. */
Test(util, read_file_limits_and_errno)
{
	char dir[] = "/tmp/ph-util-XXXXXX", *path, *v, *cause = NULL;
	size_t len = 0;
	int err = 0;

	cr_assert_not_null(mkdtemp(dir));
	path = ph_asprintf("%s/f", dir);
	cr_assert_eq(ph_write_file(path, "0123456789", 10, 0600, &cause), 0);

	v = ph_read_file(path, 10, &len, &cause);
	cr_assert_str_eq(v, "0123456789");
	cr_assert_eq(len, 10);
	free(v);
	cr_assert_null(ph_read_file(path, 9, &len, &cause));
	cr_assert_not_null(strstr(cause, "larger than 9 bytes"));
	free(cause);

	cr_assert_null(ph_read_file_errno(path, 9, 0, &len, &err));
	cr_assert_eq(err, EFBIG);
	v = ph_read_file_errno(path, 4, PH_READ_TRUNCATE, &len, &err);
	cr_assert_str_eq(v, "0123");
	cr_assert_eq(len, 4);
	free(v);
	v = ph_read_file_errno(path, 64, 0, &len, &err);
	cr_assert_str_eq(v, "0123456789");
	cr_assert_eq(len, 10);
	free(v);
	cr_assert_null(ph_read_file_errno("/nonexistent/x", 64, PH_READ_TRUNCATE,
	    &len, &err));
	cr_assert_eq(err, ENOENT);

	unlink(path);
	rmdir(dir);
	free(path);
}

Test(util, env_scrub_wipes_secrets_in_place)
{
	char *tok, *other;

	setenv("PORTHOLE_TOKEN", "secret", 1);
	setenv("PORTHOLE_NAME", "visible", 1);
	tok = getenv("PORTHOLE_TOKEN");
	other = getenv("PORTHOLE_NAME");
	ph_env_scrub();
	/* glibc never frees environment strings: their bytes are still there. */
	cr_assert_eq(memcmp(tok, "\0\0\0\0\0\0", 6), 0, "token bytes not wiped");
	cr_assert_str_eq(other, "visible");
	cr_assert_null(getenv("PORTHOLE_TOKEN"));
}

Test(util, env_scrub)
{
	setenv("PORTHOLE_TOKEN", "secret", 1);
	setenv("PORTHOLE_X", "1", 1);
	setenv("KEEP_ME", "1", 1);
	ph_env_scrub();
	cr_assert_null(getenv("PORTHOLE_TOKEN"));
	cr_assert_null(getenv("PORTHOLE_X"));
	cr_assert_str_eq(getenv("KEEP_ME"), "1");
}
