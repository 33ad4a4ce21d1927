/*
 * fwdpolicy.c - the forward claim's patterns and the credential endpoints
 * (fwdpolicy.h).  A pattern is parsed once into a name glob or an address
 * with a prefix length, and a port range; a check walks them in order.
 * IPv4-mapped IPv6 addresses are compared as the IPv4 address they carry,
 * so ::ffff:169.254.169.254 is the credential endpoint it names.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <fnmatch.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/fwdpolicy.h"
#include "porthole/util.h"

struct fwd_pattern {
	char		*glob;		/* a name glob, lowercase; NULL: an address */
	int		 family;	/* AF_INET, AF_INET6 (addresses) */
	uint8_t		 addr[16];
	int		 prefix;	/* bits */
	uint16_t	 lo, hi;	/* ports */
	char		*text;		/* as written, for messages */
};

struct ph_fwd_policy {
	struct fwd_pattern	*pats;
	size_t			 n;
};

/* The credential endpoints, as IPv4 (4 bytes) or IPv6 (16). */
static const uint8_t cred_v4[][4] = { { 169, 254, 170, 2 }, { 169, 254, 169, 254 } };
static const uint8_t cred_v6[16] = { 0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0x02, 0x54 };

/* sa's address bytes and family, IPv4-mapped IPv6 as IPv4; 0 or -1. */
static int
fwd_addr(const struct sockaddr *sa, int *family, uint8_t out[16])
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const struct sockaddr_in6 *s6;

	if (sa == NULL)
		return -1;
	if (sa->sa_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		*family = AF_INET;
		return 0;
	}
	if (sa->sa_family != AF_INET6)
		return -1;
	s6 = (const struct sockaddr_in6 *)sa;
	if (memcmp(s6->sin6_addr.s6_addr, mapped, 12) == 0) {
		memcpy(out, s6->sin6_addr.s6_addr + 12, 4);
		*family = AF_INET;
		return 0;
	}
	memcpy(out, s6->sin6_addr.s6_addr, 16);
	*family = AF_INET6;
	return 0;
}

int
ph_fwd_credential_endpoint(const struct sockaddr *sa)
{
	uint8_t	a[16];
	int	fam;
	size_t	i;

	if (fwd_addr(sa, &fam, a) != 0)
		return 0;
	if (fam == AF_INET6)
		return memcmp(a, cred_v6, 16) == 0;
	for (i = 0; i < sizeof cred_v4 / sizeof cred_v4[0]; i++) {
		if (memcmp(a, cred_v4[i], 4) == 0)
			return 1;
	}
	return 0;
}

/* Do the first bits of a and b agree? */
static int
fwd_prefix_match(const uint8_t *a, const uint8_t *b, int bits)
{
	int	full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, (size_t)full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((a[full] ^ b[full]) & (0xff << (8 - rest))) == 0;
}

/* "N", "LO-HI" or "*" into *lo, *hi; 0 or -1. */
static int
fwd_parse_ports(const char *s, uint16_t *lo, uint16_t *hi)
{
	char		*end;
	unsigned long	 a, b;

	if (strcmp(s, "*") == 0) {
		*lo = 1;
		*hi = 65535;
		return 0;
	}
	if (!isdigit((unsigned char)*s))
		return -1;
	a = strtoul(s, &end, 10);
	b = a;
	if (*end == '-') {
		if (!isdigit((unsigned char)end[1]))
			return -1;
		b = strtoul(end + 1, &end, 10);
	}
	if (*end != '\0' || a == 0 || a > 65535 || b < a || b > 65535)
		return -1;
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return 0;
}

/* An address or CIDR (brackets already gone) into p; 0 or -1. */
static int
fwd_parse_addr(char *s, struct fwd_pattern *p, int v6)
{
	char		*slash = strchr(s, '/'), *end;
	unsigned long	 bits;
	int		 max;

	if (slash != NULL)
		*slash = '\0';
	p->family = v6 ? AF_INET6 : AF_INET;
	max = v6 ? 128 : 32;
	if (inet_pton(p->family, s, p->addr) != 1)
		return -1;
	p->prefix = max;
	if (slash != NULL) {
		if (!isdigit((unsigned char)slash[1]))
			return -1;
		bits = strtoul(slash + 1, &end, 10);
		if (*end != '\0' || bits > (unsigned long)max)
			return -1;
		p->prefix = (int)bits;
	}
	return 0;
}

/* Is s a name glob: letters, digits, '-', '.', '_', '*', '?'? */
static int
fwd_glob_ok(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && strchr("-._*?", *s) == NULL)
			return 0;
	}
	return 1;
}

/* One pattern into p; 0, or -1 with *cause. */
static int
fwd_parse_pattern(const char *text, struct fwd_pattern *p, char **cause)
{
	char	*s, *colon, *host;
	int	 rc = -1, v6 = 0;
	size_t	 i;

	memset(p, 0, sizeof *p);
	if (strlen(text) > PH_FWD_PATTERN_MAX) {
		*cause = ph_asprintf("a forward pattern is longer than %d bytes",
		    PH_FWD_PATTERN_MAX);
		return -1;
	}
	if ((s = strdup(text)) == NULL || (p->text = strdup(text)) == NULL) {
		free(s);
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	if ((colon = strrchr(s, ':')) == NULL)
		goto bad;
	*colon = '\0';
	host = s;
	if (fwd_parse_ports(colon + 1, &p->lo, &p->hi) != 0)
		goto bad;
	if (host[0] == '[') {
		size_t hl = strlen(host);

		if (hl < 3 || host[hl - 1] != ']')
			goto bad;
		host[hl - 1] = '\0';
		host++;
		v6 = 1;
	}
	if (v6 || strspn(host, "0123456789./") == strlen(host)) {
		if (fwd_parse_addr(host, p, v6) != 0)
			goto bad;
	} else {
		if (!fwd_glob_ok(host))
			goto bad;
		for (i = 0; host[i] != '\0'; i++)
			host[i] = (char)tolower((unsigned char)host[i]);
		if ((p->glob = strdup(host)) == NULL)
			goto bad;
	}
	rc = 0;
bad:
	if (rc != 0) {
		*cause = ph_asprintf("bad forward pattern '%.64s': HOST:PORT, where HOST is "
		    "a name glob, an address or a CIDR ([v6] in brackets) and PORT a "
		    "number, LO-HI or *", text);
		free(p->text);
		p->text = NULL;
	}
	free(s);
	return rc;
}

void
ph_fwd_policy_free(struct ph_fwd_policy *p)
{
	size_t	i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n; i++) {
		free(p->pats[i].glob);
		free(p->pats[i].text);
	}
	free(p->pats);
	free(p);
}

struct ph_fwd_policy *
ph_fwd_policy_new(const json_t *claim, char **cause)
{
	struct ph_fwd_policy	*p;
	size_t			 i, n;
	const char		*s;

	if ((p = calloc(1, sizeof *p)) == NULL) {
		*cause = ph_asprintf("out of memory");
		return NULL;
	}
	if (claim == NULL) {
		return p;	/* no claim: no patterns */
	}
	n = json_is_array(claim) ? json_array_size(claim) : 0;
	if (!json_is_array(claim) || n == 0 || n > PH_FWD_PATTERNS_MAX) {
		*cause = ph_asprintf("the forward claim is not an array of 1 to %d "
		    "patterns", PH_FWD_PATTERNS_MAX);
		free(p);
		return NULL;
	}
	if ((p->pats = calloc(n, sizeof *p->pats)) == NULL) {
		*cause = ph_asprintf("out of memory");
		free(p);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		if ((s = json_string_value(json_array_get(claim, i))) == NULL) {
			*cause = ph_asprintf("the forward claim holds something that is "
			    "not a string");
			ph_fwd_policy_free(p);
			return NULL;
		}
		if (fwd_parse_pattern(s, &p->pats[i], cause) != 0) {
			ph_fwd_policy_free(p);
			return NULL;
		}
		p->n = i + 1;
	}
	return p;
}

int
ph_fwd_claim_check(const json_t *claim, char **cause)
{
	struct ph_fwd_policy *p;

	if ((p = ph_fwd_policy_new(claim, cause)) == NULL)
		return -1;
	ph_fwd_policy_free(p);
	return 0;
}

/* Does pattern q match host (lowercased) / address a of family fam? */
static int
fwd_pattern_match(const struct fwd_pattern *q, const char *lhost, int fam,
    const uint8_t *a, uint16_t port)
{
	if (port < q->lo || port > q->hi)
		return 0;
	if (q->glob != NULL)
		return fnmatch(q->glob, lhost, 0) == 0;
	return fam == q->family && fwd_prefix_match(a, q->addr, q->prefix);
}

int
ph_fwd_policy_check(const struct ph_fwd_policy *p, const char *host, uint16_t port,
    const struct sockaddr *sa, char **why)
{
	char	 lhost[256], shown[INET6_ADDRSTRLEN];
	uint8_t	 a[16];
	int	 fam, ok, named = 0;
	size_t	 i;

	if (fwd_addr(sa, &fam, a) != 0) {
		*why = ph_asprintf("not an IP address");
		return -1;
	}
	inet_ntop(fam, a, shown, sizeof shown);
	for (i = 0; i + 1 < sizeof lhost && host[i] != '\0'; i++)
		lhost[i] = (char)tolower((unsigned char)host[i]);
	lhost[i] = '\0';
	ok = p == NULL || p->pats == NULL;
	for (i = 0; p != NULL && i < p->n; i++) {
		if (!fwd_pattern_match(&p->pats[i], lhost, fam, a, port))
			continue;
		ok = 1;
		if (p->pats[i].glob == NULL && p->pats[i].prefix == (fam == AF_INET ? 32 : 128))
			named = 1;
	}
	if (!ok) {
		*why = ph_asprintf("%s:%u (%s) is not in the token's forward claim", host,
		    port, shown);
		return -1;
	}
	if (ph_fwd_credential_endpoint(sa) && !named) {
		*why = ph_asprintf("%s:%u (%s) is a credential endpoint of the task: "
		    "refused unless the token's forward claim names its address", host,
		    port, shown);
		return -1;
	}
	return 0;
}
