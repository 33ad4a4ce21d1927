/*
 * relay-redisurl.h - the relay's Redis address, parsed (relay-redisurl.c):
 * redis[s]://[USER:PASS@]HOST:PORT[/DB] from --redis / PORTHOLE_REDIS, the
 * password also from PORTHOLE_REDIS_PASSWORD_FILE (a password in the URL
 * shows in `ps` and task definitions; the file keeps it out of them).
 * Pure: the unit test unit/redis drives it.
 */
#ifndef PORTHOLE_RELAY_REDISURL_H
#define PORTHOLE_RELAY_REDISURL_H

struct relay_redis_url {
	int	 tls;		/* rediss:// */
	char	*host;		/* a name or an address literal, no brackets */
	int	 port;
	char	*user;		/* NULL: AUTH with the password alone */
	char	*pass;		/* NULL: no AUTH */
	int	 db;		/* SELECT when not 0 */
};

/* 0, or -1 with *cause naming what is wrong (never the password). */
int	relay_redis_url_parse(const char *url, struct relay_redis_url *u, char **cause);
/* The password from a file (first line, trailing newline dropped); replaces one from the URL. */
int	relay_redis_url_password_file(struct relay_redis_url *u, const char *path, char **cause);
void	relay_redis_url_free(struct relay_redis_url *u);

#endif
