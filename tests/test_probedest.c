/* test_probedest.c - what `porthole probe` aims at (probedest.c): HOST:PORT, URLs, refusals. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "porthole/probedest.h"

static struct ph_probe_dest
ok(const char *dest, int tls)
{
	struct ph_probe_dest d;
	char *cause = NULL;

	cr_assert_eq(ph_probe_dest_parse(dest, tls, &d, &cause), 0, "%s: %s", dest, cause);
	return d;
}

static void
bad(const char *dest, int tls, const char *want)
{
	struct ph_probe_dest d;
	char *cause = NULL;

	cr_assert_eq(ph_probe_dest_parse(dest, tls, &d, &cause), -1, "accepted %s", dest);
	cr_assert_not_null(strstr(cause, want), "%s: '%s' lacks '%s'", dest, cause, want);
	free(cause);
}

Test(probedest, host_port)
{
	struct ph_probe_dest d = ok("db.internal:5432", 0);

	cr_assert_str_eq(d.host, "db.internal");
	cr_assert_eq(d.port, 5432);
	cr_assert(!d.tls && !d.http && !d.numeric);
	d = ok("10.0.0.5:6379", 1);
	cr_assert(d.numeric && d.tls);
	d = ok("[fd00::1]:443", 0);
	cr_assert_str_eq(d.host, "fd00::1");
	cr_assert(d.numeric);
	cr_assert_eq(d.port, 443);
}

Test(probedest, urls)
{
	struct ph_probe_dest d = ok("https://api.example.com/health?full=1#frag", 0);

	cr_assert_str_eq(d.host, "api.example.com");
	cr_assert_eq(d.port, 443);
	cr_assert(d.tls && d.http);
	cr_assert_str_eq(d.path, "/health?full=1");
	d = ok("http://x:8080", 0);
	cr_assert_eq(d.port, 8080);
	cr_assert_str_eq(d.path, "/");
	d = ok("http://x?q", 0);
	cr_assert_str_eq(d.path, "/?q");
	d = ok("https://[::1]:8443/", 1);
	cr_assert_str_eq(d.host, "::1");
	cr_assert_eq(d.port, 8443);
}

Test(probedest, refused)
{
	bad("db", 0, "no port");
	bad("db:", 0, "no port");
	bad("db:0", 0, "from 1 to 65535");
	bad("db:65536", 0, "from 1 to 65535");
	bad("db:+80", 0, "from 1 to 65535");
	bad("::1:80", 0, "in brackets");
	bad("[::1:80", 0, "closing ']'");
	bad("[nothex]:80", 0, "not an IPv6 address");
	bad("[::1]x:80", 0, "after the IPv6 address");
	bad("ftp://x/", 0, "only http:// and https://");
	bad("http://u:p@x/", 0, "credentials");
	bad("http://x/a b", 0, "percent-encode");
	bad("http://x/a\r\nHost: y", 0, "percent-encode");
	bad("http://x/\x7f", 0, "percent-encode");
	bad("http:///path", 0, "no host");
	bad("http://x/", 1, "say https://");
	bad("bad host:80", 0, "not a host name");
	bad("a..b:80", 0, "not a host name");
	bad("-x:80", 0, "not a host name");
	bad(":80", 0, "not a host name");
}

Test(probedest, long_input)
{
	char host[400], *url;

	memset(host, 'a', sizeof host - 1);
	host[sizeof host - 1] = '\0';
	url = malloc(strlen(host) + 8);
	strcpy(url, host);
	strcat(url, ":80");
	bad(url, 0, "too long");
	free(url);
	url = malloc(5000);
	strcpy(url, "http://x/");
	memset(url + 9, 'p', 4000);
	url[4009] = '\0';
	bad(url, 0, "path too long");
	free(url);
}
