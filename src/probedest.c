/*
 * probedest.c - the destination of `porthole probe` (probedest.h), parsed
 * the same way by the CLI (to refuse bad input early) and by the agent's
 * helper (before it dials).  Pure: no DNS, no allocation beyond *cause.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/probedest.h"
#include "porthole/util.h"

/* A DNS name or dotted address: [A-Za-z0-9._-], 1..253 bytes, no empty label. */
static int
probe_name_ok(const char *h)
{
	size_t	i, n = strlen(h);

	if (n == 0 || n > PH_PROBE_HOST_MAX || h[0] == '.' || h[0] == '-' ||
	    strstr(h, "..") != NULL)
		return 0;
	for (i = 0; i < n; i++) {
		char c = h[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

/* "HOST[:PORT]" of len bytes at a into d; defport 0: the port is required. */
static int
probe_authority(const char *a, size_t len, unsigned defport, struct ph_probe_dest *d,
    char **cause)
{
	char		 buf[PH_PROBE_HOST_MAX + 16], *port = NULL, *end, *host;
	unsigned char	 addr[16];
	long		 p;

	if (len == 0) {
		*cause = strdup("no host");
		return -1;
	}
	if (len >= sizeof buf) {
		*cause = ph_asprintf("host too long (at most %d bytes)", PH_PROBE_HOST_MAX);
		return -1;
	}
	memcpy(buf, a, len);
	buf[len] = '\0';
	if (memchr(buf, '@', len) != NULL) {
		*cause = strdup("credentials (user@host) are not sent: leave them out");
		return -1;
	}
	if (buf[0] == '[') {
		if ((end = strchr(buf, ']')) == NULL) {
			*cause = strdup("an IPv6 address needs its closing ']'");
			return -1;
		}
		*end = '\0';
		host = buf + 1;
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0') {
			*cause = ph_asprintf("'%s' after the IPv6 address", end + 1);
			return -1;
		}
		if (inet_pton(AF_INET6, host, addr) != 1) {
			*cause = ph_asprintf("'%s' is not an IPv6 address", host);
			return -1;
		}
		d->numeric = 1;
	} else {
		host = buf;
		if ((port = strchr(buf, ':')) != NULL) {
			*port++ = '\0';
			if (strchr(port, ':') != NULL) {
				*cause = strdup("an IPv6 address goes in brackets: [::1]:80");
				return -1;
			}
		}
		if (!probe_name_ok(host)) {
			*cause = ph_asprintf("'%s' is not a host name or address", host);
			return -1;
		}
		d->numeric = inet_pton(AF_INET, host, addr) == 1;
	}
	if (port == NULL || *port == '\0') {
		if (defport == 0) {
			*cause = strdup("no port: HOST:PORT, or an http:// or https:// URL");
			return -1;
		}
		d->port = defport;
	} else {
		p = strtol(port, &end, 10);
		if (*port < '0' || *port > '9' || *end != '\0' || p < 1 || p > 65535) {
			*cause = ph_asprintf("port '%s' is not a number from 1 to 65535", port);
			return -1;
		}
		d->port = (unsigned)p;
	}
	if (strlen(host) >= sizeof d->host) {
		*cause = ph_asprintf("host too long (at most %d bytes)", PH_PROBE_HOST_MAX);
		return -1;
	}
	memcpy(d->host, host, strlen(host) + 1);
	return 0;
}

int
ph_probe_dest_parse(const char *dest, int tls, struct ph_probe_dest *d, char **cause)
{
	const char	*rest, *slash;
	size_t		 i, n;
	int		 https;

	memset(d, 0, sizeof *d);
	if (strncmp(dest, "http://", 7) == 0 || strncmp(dest, "https://", 8) == 0) {
		https = dest[4] == 's';
		if (tls && !https) {
			*cause = strdup("--tls with an http:// URL: say https://");
			return -1;
		}
		rest = dest + (https ? 8 : 7);
		slash = rest + strcspn(rest, "/?#");
		if (probe_authority(rest, (size_t)(slash - rest), https ? 443 : 80, d,
		    cause) != 0)
			return -1;
		n = strcspn(slash, "#");	/* a fragment is not sent */
		if (n + 1 > PH_PROBE_PATH_MAX) {
			*cause = ph_asprintf("URL path too long (at most %d bytes)",
			    PH_PROBE_PATH_MAX - 1);
			return -1;
		}
		for (i = 0; i < n; i++) {
			if ((unsigned char)slash[i] <= 0x20 || (unsigned char)slash[i] >= 0x7f) {
				*cause = strdup("the URL's path has a space or a byte that is "
				    "not printable ASCII: percent-encode it");
				return -1;
			}
		}
		snprintf(d->path, sizeof d->path, "%s%.*s", *slash == '/' ? "" : "/",
		    (int)n, slash);
		d->tls = https;
		d->http = 1;
		return 0;
	}
	if (strstr(dest, "://") != NULL) {
		*cause = strdup("only http:// and https:// URLs, or HOST:PORT");
		return -1;
	}
	if (probe_authority(dest, strlen(dest), 0, d, cause) != 0)
		return -1;
	d->tls = tls;
	return 0;
}
