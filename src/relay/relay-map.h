/*
 * relay-map.h - a string-keyed hash table of pointers (relay-map.c); keys
 * belong to the values and must outlive their entries.
 */
#ifndef PORTHOLE_RELAY_MAP_H
#define PORTHOLE_RELAY_MAP_H

#include <stddef.h>

struct relay_map_ent;
struct relay_map {
	struct relay_map_ent	**b;
	size_t			  nb, n;
};

void	*relay_map_get(const struct relay_map *m, const char *key);
int	 relay_map_put(struct relay_map *m, const char *key, void *val);
void	*relay_map_del(struct relay_map *m, const char *key);
void	 relay_map_free(struct relay_map *m);

#endif
