/*
 * relay-redisurl.c - redis[s]://[USER:PASS@]HOST:PORT[/DB] and the
 * password file (relay-redisurl.h).  Userinfo is percent-decoded; the
 * port is required (ElastiCache and redis-server both name one, and a
 * default would hide a typo); DB is 0 to 15... or whatever the server
 * allows: SELECT says if not.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/util.h"
#include "relay-redisurl.h"

#define REDIS_PASS_MAX	4096

/* Percent-decode [p, p+n) into a new string; NULL on a bad escape or NUL. */
static char *
url_decode(const char *p, size_t n)
{
	char *out, *o;
	size_t i;
	int h, l;

	if ((o = out = malloc(n + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (p[i] == '%') {
			if (i + 2 >= n || (h = ph_hexval((unsigned char)p[i + 1])) < 0 ||
			    (l = ph_hexval((unsigned char)p[i + 2])) < 0 || (h == 0 && l == 0))
				goto bad;
			*o++ = (char)(h * 16 + l);
			i += 2;
		} else
			*o++ = p[i];
	}
	*o = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

void
relay_redis_url_free(struct relay_redis_url *u)
{
	free(u->host);
	free(u->user);
	if (u->pass != NULL) {
		explicit_bzero(u->pass, strlen(u->pass));
		free(u->pass);
	}
	memset(u, 0, sizeof *u);
}

int
relay_redis_url_parse(const char *url, struct relay_redis_url *u, char **cause)
{
	const char *p, *at, *hp, *slash, *colon, *end;
	char *e;
	long v;

	memset(u, 0, sizeof *u);
	if (strncmp(url, "redis://", 8) == 0)
		p = url + 8;
	else if (strncmp(url, "rediss://", 9) == 0) {
		p = url + 9;
		u->tls = 1;
	} else {
		*cause = ph_asprintf("'%.*s...' is not a redis:// or rediss:// URL",
		    (int)strcspn(url, ":@/"), url);
		return -1;
	}
	end = p + strcspn(p, "/?#");
	if (*end == '?' || *end == '#') {
		*cause = ph_asprintf("a Redis URL takes no query or fragment");
		return -1;
	}
	slash = *end == '/' ? end : NULL;
	/* userinfo: the last '@' before the path */
	at = NULL;
	for (hp = p; hp < end; hp++)
		if (*hp == '@')
			at = hp;
	if (at != NULL) {
		colon = memchr(p, ':', (size_t)(at - p));
		if (colon == NULL) {
			*cause = ph_asprintf("the Redis URL's user part wants USER:PASSWORD "
			    "(or :PASSWORD)");
			return -1;
		}
		if (colon > p && (u->user = url_decode(p, (size_t)(colon - p))) == NULL)
			goto badesc;
		if ((u->pass = url_decode(colon + 1, (size_t)(at - colon - 1))) == NULL)
			goto badesc;
		hp = at + 1;
	} else
		hp = p;
	/* host: [v6]:port or host:port */
	if (*hp == '[') {
		const char *rb = memchr(hp, ']', (size_t)(end - hp));

		if (rb == NULL || rb[1] != ':') {
			*cause = ph_asprintf("the Redis URL's [address] wants :PORT after it");
			goto fail;
		}
		u->host = strndup(hp + 1, (size_t)(rb - hp - 1));
		colon = rb + 1;
	} else {
		colon = NULL;
		for (p = hp; p < end; p++)
			if (*p == ':')
				colon = p;
		if (colon == NULL) {
			*cause = ph_asprintf("the Redis URL wants HOST:PORT (6379 for a "
			    "default Redis)");
			goto fail;
		}
		u->host = strndup(hp, (size_t)(colon - hp));
	}
	if (u->host == NULL || u->host[0] == '\0') {
		*cause = ph_asprintf("the Redis URL names no host");
		goto fail;
	}
	errno = 0;
	v = strtol(colon + 1, &e, 10);
	if (e != end || e == colon + 1 || errno != 0 || v < 1 || v > 65535) {
		*cause = ph_asprintf("the Redis URL's port is not 1 to 65535");
		goto fail;
	}
	u->port = (int)v;
	if (slash != NULL && slash[1] != '\0') {
		errno = 0;
		v = strtol(slash + 1, &e, 10);
		if (*e != '\0' || errno != 0 || v < 0 || v > 1000000) {
			*cause = ph_asprintf("the Redis URL's database is not a number");
			goto fail;
		}
		u->db = (int)v;
	}
	return 0;
badesc:
	*cause = ph_asprintf("the Redis URL's user or password has a bad %%-escape");
fail:
	relay_redis_url_free(u);
	return -1;
}

int
relay_redis_url_password_file(struct relay_redis_url *u, const char *path, char **cause)
{
	char buf[REDIS_PASS_MAX + 2];
	size_t n;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		*cause = ph_asprintf("cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (n > REDIS_PASS_MAX || buf[0] == '\0') {
		*cause = ph_asprintf("%s: %s", path, buf[0] == '\0' ? "empty" :
		    "longer than 4096 bytes");
		explicit_bzero(buf, sizeof buf);
		return -1;
	}
	if (u->pass != NULL) {
		explicit_bzero(u->pass, strlen(u->pass));
		free(u->pass);
	}
	u->pass = strdup(buf);
	explicit_bzero(buf, sizeof buf);
	if (u->pass == NULL) {
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	return 0;
}
