/*
 * relay-map.c - a small hash table from string keys to pointers, for the
 * relay's registries (agents by id, sessions by sid).
 *
 * The table does not copy keys: a key must stay valid (it normally lives in
 * the value it maps to) until it is deleted.  Buckets double when the table
 * holds more entries than buckets, so lookups stay short with ten thousand
 * agents; memory is one small entry per key.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay-map.h"

struct relay_map_ent {
	struct relay_map_ent	*next;
	const char		*key;
	void			*val;
};

#define RELAY_MAP_MIN	64

/* FNV-1a: keys are ids and hex session ids, not attacker-chosen floods. */
static size_t
relay_map_hash(const char *key)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *key != '\0'; key++) {
		h ^= (uint8_t)*key;
		h *= 1099511628211ULL;
	}
	return (size_t)(h ^ (h >> 32));
}

static struct relay_map_ent **
relay_map_slot(const struct relay_map *m, const char *key)
{
	struct relay_map_ent **pp;

	if (m->nb == 0)
		return NULL;
	pp = &m->b[relay_map_hash(key) & (m->nb - 1)];
	while (*pp != NULL && strcmp((*pp)->key, key) != 0)
		pp = &(*pp)->next;
	return pp;
}

/* Double the buckets; on allocation failure keep the old ones (longer chains). */
static void
relay_map_grow(struct relay_map *m)
{
	struct relay_map_ent **nb, *e, *next;
	size_t n = m->nb == 0 ? RELAY_MAP_MIN : m->nb * 2, i, h;

	if ((nb = calloc(n, sizeof *nb)) == NULL)
		return;
	for (i = 0; i < m->nb; i++) {
		for (e = m->b[i]; e != NULL; e = next) {
			next = e->next;
			h = relay_map_hash(e->key) & (n - 1);
			e->next = nb[h];
			nb[h] = e;
		}
	}
	free(m->b);
	m->b = nb;
	m->nb = n;
}

/* The value stored under key, or NULL. */
void *
relay_map_get(const struct relay_map *m, const char *key)
{
	struct relay_map_ent **pp = relay_map_slot(m, key);

	return pp != NULL && *pp != NULL ? (*pp)->val : NULL;
}

/* Store val under key, replacing what was there.  -1 on ENOMEM. */
int
relay_map_put(struct relay_map *m, const char *key, void *val)
{
	struct relay_map_ent **pp, *e;

	if (m->n >= m->nb)
		relay_map_grow(m);
	if ((pp = relay_map_slot(m, key)) == NULL)
		return -1;
	if (*pp != NULL) {
		(*pp)->key = key;
		(*pp)->val = val;
		return 0;
	}
	if ((e = malloc(sizeof *e)) == NULL)
		return -1;
	e->next = NULL;
	e->key = key;
	e->val = val;
	*pp = e;
	m->n++;
	return 0;
}

/* Remove key; returns the value it had (or NULL). */
void *
relay_map_del(struct relay_map *m, const char *key)
{
	struct relay_map_ent **pp = relay_map_slot(m, key), *e;
	void *val;

	if (pp == NULL || *pp == NULL)
		return NULL;
	e = *pp;
	*pp = e->next;
	val = e->val;
	free(e);
	m->n--;
	return val;
}

/* Free the table itself (not the values). */
void
relay_map_free(struct relay_map *m)
{
	struct relay_map_ent *e, *next;
	size_t i;

	for (i = 0; i < m->nb; i++) {
		for (e = m->b[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(m->b);
	memset(m, 0, sizeof *m);
}
