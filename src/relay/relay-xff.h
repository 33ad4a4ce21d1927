/*
 * relay-xff.h - trusted proxy networks and the X-Forwarded-For rule
 * (relay-xff.c; pure).
 */
#ifndef PORTHOLE_RELAY_XFF_H
#define PORTHOLE_RELAY_XFF_H

#include <stddef.h>
#include <stdint.h>

#define RELAY_CIDRS_MAX		64
struct relay_cidr {
	int	 v6;
	uint8_t	 addr[16];
	int	 bits;
};
struct relay_cidrs {
	int			 n;
	struct relay_cidr	 v[RELAY_CIDRS_MAX];
};
int	relay_cidrs_parse(struct relay_cidrs *set, const char *list, char **cause);
int	relay_cidrs_has(const struct relay_cidrs *set, const char *addr);
void	relay_xff_client(const struct relay_cidrs *trusted, const char *peer,
	    char *xff, char *from, size_t len);

#endif
