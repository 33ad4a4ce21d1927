/*
 * relay-xff.c - where a request came from: lists of trusted proxy
 * networks (PORTHOLE_TRUSTED_PROXIES) and the X-Forwarded-For rule.  Pure
 * string work, no libwebsockets, so it is unit-tested and fuzzed alone
 * (relay-audit.c reads the header and calls it).
 *
 * The rule: a header is believed only when the TCP peer is a trusted
 * proxy.  Each proxy appends the address it saw, so the list is walked from
 * its right end; addresses that are trusted proxies too are skipped, and
 * the first one that is not is the client.  Whatever a client wrote into
 * the header itself sits further left and is never reached.  An entry that
 * is not an address stops the walk: the last hop believed so far stands.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/util.h"
#include "relay-xff.h"

/* Parse an address (v4, v6; a v4-mapped v6 counts as v4) into c.  -1: not one. */
static int
relay_xff_addr(const char *s, struct relay_cidr *c)
{
	struct in6_addr a6;
	struct in_addr a4;

	memset(c, 0, sizeof *c);
	if (inet_pton(AF_INET, s, &a4) == 1) {
		memcpy(c->addr, &a4, 4);
		c->bits = 32;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &a6) != 1)
		return -1;
	if (IN6_IS_ADDR_V4MAPPED(&a6)) {
		memcpy(c->addr, (uint8_t *)&a6 + 12, 4);
		c->bits = 32;
		return 0;
	}
	c->v6 = 1;
	memcpy(c->addr, &a6, 16);
	c->bits = 128;
	return 0;
}

static int
relay_xff_in(const struct relay_cidr *net, const struct relay_cidr *a)
{
	int full = net->bits / 8, rest = net->bits % 8;
	uint8_t mask;

	if (net->v6 != a->v6 || memcmp(net->addr, a->addr, (size_t)full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (uint8_t)(0xff << (8 - rest));
	return (net->addr[full] & mask) == (a->addr[full] & mask);
}

/* Is addr (a string) in one of set's networks? */
int
relay_cidrs_has(const struct relay_cidrs *set, const char *addr)
{
	struct relay_cidr a;
	int i;

	if (set->n == 0 || relay_xff_addr(addr, &a) != 0)
		return 0;
	for (i = 0; i < set->n; i++) {
		if (relay_xff_in(&set->v[i], &a))
			return 1;
	}
	return 0;
}

/*
 * "10.0.0.0/8, 192.168.1.1,fd00::/8" -> set (a bare address is one host).
 * -1 with *cause (malloc'd) and an empty set when any entry is malformed.
 */
int
relay_cidrs_parse(struct relay_cidrs *set, const char *list, char **cause)
{
	char *copy, *tok, *save = NULL, *slash, *end;
	struct relay_cidr c;
	long bits;

	set->n = 0;
	if ((copy = strdup(list)) == NULL) {
		*cause = strdup("out of memory");
		return -1;
	}
	for (tok = strtok_r(copy, ", \t", &save); tok != NULL;
	    tok = strtok_r(NULL, ", \t", &save)) {
		if ((slash = strchr(tok, '/')) != NULL)
			*slash++ = '\0';
		if (relay_xff_addr(tok, &c) != 0) {
			*cause = ph_asprintf("'%.100s' is not an IPv4 or IPv6 address", tok);
			goto bad;
		}
		if (slash != NULL) {
			bits = strtol(slash, &end, 10);
			if (*slash < '0' || *slash > '9' || *end != '\0' || bits < 0 ||
			    bits > c.bits) {
				*cause = ph_asprintf("'/%.20s' is not a prefix length for %s",
				    slash, tok);
				goto bad;
			}
			c.bits = (int)bits;
		}
		if (set->n == RELAY_CIDRS_MAX) {
			*cause = ph_asprintf("more than %d trusted proxy networks",
			    RELAY_CIDRS_MAX);
			goto bad;
		}
		set->v[set->n++] = c;
	}
	free(copy);
	return 0;
bad:
	free(copy);
	set->n = 0;
	return -1;
}

/*
 * The client of a request from peer carrying X-Forwarded-For xff (NULL:
 * none; the string is cut up) into from: peer itself unless peer is in
 * trusted.  Addresses are written normalised (v4-mapped as v4).
 */
void
relay_xff_client(const struct relay_cidrs *trusted, const char *peer, char *xff,
    char *from, size_t len)
{
	struct relay_cidr a;
	char *p, *hop, *best = NULL;
	size_t n;

	snprintf(from, len, "%s", peer);
	if (xff == NULL || !relay_cidrs_has(trusted, peer))
		return;
	for (;;) {
		p = strrchr(xff, ',');
		hop = p != NULL ? p + 1 : xff;
		while (*hop == ' ' || *hop == '\t')
			hop++;
		n = strlen(hop);
		while (n > 0 && (hop[n - 1] == ' ' || hop[n - 1] == '\t'))
			hop[--n] = '\0';
		if (relay_xff_addr(hop, &a) != 0)
			break;		/* not an address: believe nothing further */
		best = hop;
		if (!relay_cidrs_has(trusted, hop) || p == NULL)
			break;
		*p = '\0';
	}
	if (best != NULL && relay_xff_addr(best, &a) == 0 &&
	    inet_ntop(a.v6 ? AF_INET6 : AF_INET, a.addr, from, (socklen_t)len) == NULL)
		snprintf(from, len, "%s", peer);
}
