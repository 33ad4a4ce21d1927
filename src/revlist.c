/*
 * revlist.c - the bounded set of revoked token ids (revlist.h): a sorted
 * array of (jti, exp), entries added or extended, never removed before
 * their time.
 */
#include <stdlib.h>
#include <string.h>

#include "porthole/revlist.h"
#include "porthole/util.h"

void
ph_revlist_init(struct ph_revlist *l, size_t max)
{
	memset(l, 0, sizeof *l);
	l->max = max;
}

void
ph_revlist_free(struct ph_revlist *l)
{
	size_t	i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		free(l->v[i].jti);
	free(l->v);
	memset(l, 0, sizeof *l);
}

int
ph_revlist_jti_ok(const char *s, size_t len)
{
	size_t	i;

	if (s == NULL || len == 0 || len > PH_REVLIST_JTI_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	}
	return 1;
}

/* Index of jti, or where it would go (*found 0). */
static size_t
revlist_find(const struct ph_revlist *l, const char *jti, int *found)
{
	size_t	lo = 0, hi = l->n, mid;
	int	c;

	*found = 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(jti, l->v[mid].jti);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static int
revlist_expired(int64_t exp, int64_t now)
{
	return exp != 0 && exp <= now;
}

size_t
ph_revlist_prune(struct ph_revlist *l, int64_t now)
{
	size_t	i, o = 0, gone;

	for (i = 0; i < l->n; i++) {
		if (revlist_expired(l->v[i].exp, now))
			free(l->v[i].jti);
		else
			l->v[o++] = l->v[i];
	}
	gone = l->n - o;
	l->n = o;
	return gone;
}

int
ph_revlist_add(struct ph_revlist *l, const char *jti, int64_t exp, int64_t now,
    char **cause)
{
	struct ph_revent	*nv;
	size_t			 i, cap;
	int			 found;

	if (jti == NULL || !ph_revlist_jti_ok(jti, strlen(jti))) {
		*cause = ph_asprintf("not a token id (1 to %d printable characters)",
		    PH_REVLIST_JTI_MAX);
		return -1;
	}
	if (exp < 0 || revlist_expired(exp, now))
		return 0;
	i = revlist_find(l, jti, &found);
	if (found) {
		if (l->v[i].exp == 0 || (exp != 0 && exp <= l->v[i].exp))
			return 0;
		l->v[i].exp = exp;
		return 1;
	}
	if (l->n >= l->max) {
		ph_revlist_prune(l, now);
		if (l->n >= l->max) {
			*cause = ph_asprintf("the list of revoked tokens is full (%zu "
			    "entries that have not expired yet)", l->n);
			return -1;
		}
		i = revlist_find(l, jti, &found);
	}
	if (l->n == l->cap) {
		cap = l->cap == 0 ? 16 : l->cap * 2;
		if ((nv = reallocarray(l->v, cap, sizeof *nv)) == NULL) {
			*cause = ph_asprintf("out of memory");
			return -1;
		}
		l->v = nv;
		l->cap = cap;
	}
	memmove(&l->v[i + 1], &l->v[i], (l->n - i) * sizeof *l->v);
	if ((l->v[i].jti = strdup(jti)) == NULL) {
		memmove(&l->v[i], &l->v[i + 1], (l->n - i) * sizeof *l->v);
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	l->v[i].exp = exp;
	l->n++;
	return 1;
}

int
ph_revlist_has(const struct ph_revlist *l, const char *jti, int64_t now)
{
	size_t	i;
	int	found;

	if (jti == NULL || l->n == 0)
		return 0;
	i = revlist_find(l, jti, &found);
	return found && !revlist_expired(l->v[i].exp, now);
}

int
ph_revlist_add_json(struct ph_revlist *l, json_t *entries, int64_t now,
    size_t *added, char **cause)
{
	const char	*jti;
	json_t		*v;
	int		 r;

	*added = 0;
	if (!json_is_object(entries)) {
		*cause = ph_asprintf("entries is not an object of token ids");
		return -1;
	}
	json_object_foreach(entries, jti, v) {
		if (!ph_revlist_jti_ok(jti, strlen(jti)) || !json_is_integer(v) ||
		    json_integer_value(v) <= 0) {
			*cause = ph_asprintf("entries holds a member that is not "
			    "\"JTI\": EXP (a token id and Unix seconds)");
			return -1;
		}
	}
	json_object_foreach(entries, jti, v) {
		r = ph_revlist_add(l, jti, (int64_t)json_integer_value(v), now, cause);
		if (r < 0)
			return -1;
		*added += (size_t)r;
	}
	return 0;
}
