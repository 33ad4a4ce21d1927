/*
 * s3-url.c - where the artifact store lives: s3://BUCKET/PREFIX, the region
 * and the endpoint (AWS's, addressed virtual-hosted style, or the one in
 * AWS_ENDPOINT_URL_S3, addressed path-style as other S3 servers want).
 */
#include <stdlib.h>
#include <string.h>

#include "porthole/s3.h"
#include "porthole/util.h"

static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

/* S3's bucket names: 3-63 of a-z 0-9 . -, starting and ending alphanumeric. */
static int
bucket_ok(const char *b, size_t n)
{
	size_t i;

	if (n < 3 || n > 63)
		return 0;
	for (i = 0; i < n; i++) {
		char c = b[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '-'))
			return 0;
	}
	return b[0] != '.' && b[0] != '-' && b[n - 1] != '.' && b[n - 1] != '-';
}

static int
region_ok(const char *r)
{
	size_t i, n = strlen(r);

	if (n == 0 || n > 32)
		return 0;
	for (i = 0; i < n; i++)
		if (!((r[i] >= 'a' && r[i] <= 'z') || (r[i] >= '0' && r[i] <= '9') ||
		    r[i] == '-'))
			return 0;
	return 1;
}

int
ph_s3_location_parse(const char *url, const char *region, const char *endpoint,
    struct ph_s3_location *loc, char **cause)
{
	const char	*b, *slash;
	size_t		 bl, pl, el;

	memset(loc, 0, sizeof *loc);
	if (url == NULL || strncmp(url, "s3://", 5) != 0) {
		*cause = ph_asprintf("the artifact store is not s3://BUCKET[/PREFIX]");
		return -1;
	}
	b = url + 5;
	slash = strchr(b, '/');
	bl = slash != NULL ? (size_t)(slash - b) : strlen(b);
	if (!bucket_ok(b, bl)) {
		*cause = ph_asprintf("s3://: not a bucket name (3 to 63 of a-z 0-9 . -)");
		return -1;
	}
	if (region == NULL && (region = env("AWS_REGION")) == NULL &&
	    (region = env("AWS_DEFAULT_REGION")) == NULL)
		region = "us-east-1";
	if (!region_ok(region)) {
		*cause = ph_asprintf("s3: not a region name (a-z 0-9 -)");
		return -1;
	}
	if (endpoint == NULL)
		endpoint = env("AWS_ENDPOINT_URL_S3");
	if (endpoint != NULL && strncmp(endpoint, "http://", 7) != 0 &&
	    strncmp(endpoint, "https://", 8) != 0) {
		*cause = ph_asprintf("AWS_ENDPOINT_URL_S3 is not http(s)://HOST[:PORT]");
		return -1;
	}
	loc->bucket = ph_asprintf("%.*s", (int)bl, b);
	/* The prefix: as given, less leading slashes, ending in one. */
	if (slash != NULL) {
		while (*slash == '/')
			slash++;
		pl = strlen(slash);
		loc->prefix = ph_asprintf("%s%s", slash,
		    pl > 0 && slash[pl - 1] != '/' ? "/" : "");
	} else
		loc->prefix = ph_asprintf("%s", "");
	loc->region = ph_asprintf("%s", region);
	if (endpoint != NULL) {
		el = strlen(endpoint);
		while (el > 0 && endpoint[el - 1] == '/')
			el--;
		loc->endpoint = ph_asprintf("%.*s", (int)el, endpoint);
		loc->path_style = 1;
	} else {
		loc->endpoint = ph_asprintf("https://s3.%s.amazonaws.com", region);
		/* A dotted bucket breaks the wildcard certificate. */
		loc->path_style = memchr(b, '.', bl) != NULL;
	}
	return 0;
}

void
ph_s3_location_clear(struct ph_s3_location *loc)
{
	free(loc->bucket);
	free(loc->prefix);
	free(loc->region);
	free(loc->endpoint);
	memset(loc, 0, sizeof *loc);
}
