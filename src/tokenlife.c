/*
 * tokenlife.c - the relay's limit on how long a token may live, per kind
 * (tokenlife.h): parsing "client=30d,agent=0", and the check of a verified
 * token's exp - iat against it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/duration.h"
#include "porthole/tokenlife.h"
#include "porthole/util.h"

#define LIFETIME_SPEC_MAX	256

void
ph_lifetime_defaults(struct ph_lifetime *lt)
{
	lt->client = 30 * 86400;
	lt->agent = 0;
	lt->relay = -1;
}

/* The slot of lt for kind, or NULL for a kind that has none. */
static int64_t *
lifetime_slot(struct ph_lifetime *lt, const char *kind, size_t n)
{
	if (n == 6 && strncmp(kind, "client", n) == 0)
		return &lt->client;
	if (n == 5 && strncmp(kind, "agent", n) == 0)
		return &lt->agent;
	if (n == 5 && strncmp(kind, "relay", n) == 0)
		return &lt->relay;
	return NULL;
}

int
ph_lifetime_parse(struct ph_lifetime *lt, const char *spec, char **cause)
{
	struct ph_lifetime	 n = *lt;
	const char		*p, *eq, *end;
	char			 val[64], *why = NULL;
	int64_t			 ms, *slot;

	if (spec == NULL || *spec == '\0' || strlen(spec) > LIFETIME_SPEC_MAX) {
		*cause = ph_asprintf("want KIND=DURATION[,KIND=DURATION...] (kinds "
		    "client, agent, relay; 0 for no limit), e.g. %s",
		    PH_LIFETIME_DEFAULT);
		return -1;
	}
	for (p = spec; ; p = end + 1) {
		if ((end = strchr(p, ',')) == NULL)
			end = p + strlen(p);
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq == NULL || eq == p) {
			*cause = ph_asprintf("'%.*s' is not KIND=DURATION (e.g. "
			    "client=30d)", (int)(end - p), p);
			return -1;
		}
		if ((slot = lifetime_slot(&n, p, (size_t)(eq - p))) == NULL) {
			*cause = ph_asprintf("unknown kind of token '%.*s' (client, "
			    "agent or relay)", (int)(eq - p), p);
			return -1;
		}
		snprintf(val, sizeof val, "%.*s", (int)(end - eq - 1), eq + 1);
		if ((size_t)(end - eq - 1) >= sizeof val ||
		    ph_duration_parse(val, &ms, &why) != 0) {
			*cause = ph_asprintf("%.*s: %s", (int)(eq - p), p,
			    why != NULL ? why : "duration too long");
			free(why);
			return -1;
		}
		if (!(ms >= 0 && ms % 1000 == 0)) {
			*cause = ph_asprintf("%.*s: want whole seconds, not '%s'",
			    (int)(eq - p), p, val);
			return -1;
		}
		*slot = ms / 1000;
		if (*end == '\0')
			break;
	}
	*lt = n;
	return 0;
}

int64_t
ph_lifetime_max(const struct ph_lifetime *lt, const char *kind)
{
	if (strcmp(kind, "client") == 0)
		return lt->client;
	if (strcmp(kind, "agent") == 0)
		return lt->agent;
	if (strcmp(kind, "relay") == 0)
		return lt->relay >= 0 ? lt->relay : lt->client;
	return 0;
}

const char *
ph_lifetime_fmt(int64_t secs, char *buf, size_t len)
{
	if (secs <= 0) {
		snprintf(buf, len, "none");
		return buf;
	}
	return ph_duration_fmt(secs > INT64_MAX / 1000 ? INT64_MAX / 1000 : secs * 1000,
	    buf, len);
}

int
ph_lifetime_check(const struct ph_lifetime *lt, const struct ph_claims *c,
    char **cause)
{
	const char	*kind = ph_token_kind_name(c->kind);
	int64_t		 max = ph_lifetime_max(lt, kind), life;
	char		 a[32], b[32];

	if (max == 0)
		return 0;
	if (c->iat <= 0) {
		*cause = ph_asprintf("the %s token of %s has no issue time (iat), so "
		    "its lifetime cannot be checked against this relay's limit for "
		    "%s tokens (%s): issue one with 'porthole token issue'", kind,
		    c->sub, kind, ph_lifetime_fmt(max, a, sizeof a));
		return -1;
	}
	life = c->exp - c->iat;
	if (life > max) {
		*cause = ph_asprintf("the %s token of %s is made to live %s (from iat "
		    "to exp), longer than this relay allows %s tokens (%s): issue a "
		    "shorter-lived one ('porthole token issue --ttl %s')", kind,
		    c->sub, ph_lifetime_fmt(life, a, sizeof a), kind,
		    ph_lifetime_fmt(max, b, sizeof b), b);
		return -1;
	}
	return 0;
}
