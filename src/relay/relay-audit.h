/*
 * relay-audit.h - the audit stream (JSON lines on stdout) and where a
 * request comes from (relay-audit.c).
 */
#ifndef PORTHOLE_RELAY_AUDIT_H
#define PORTHOLE_RELAY_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <libwebsockets.h>

#include "relay-xff.h"

struct relay_conn;

/* The stream's state (struct relay's `audit`). */
struct relay_audit {
	struct relay_cidrs	 proxies;	/* --trusted-proxies */
	int			 audit_fd;	/* stdout, once relay_audit_init ran */
	int			 audit_sock;	/* stdout is a socket: send() */
	char			*pending;	/* RELAY_AUDIT_MAX bytes */
	size_t			 pending_len;
	lws_sorted_usec_list_t	 audit_sul;	/* retry writing what is pending */
	int			 audit_sul_on;
	uint64_t		 audit_dropped;
};

int	relay_audit_init(const char *trusted_proxies, char **cause);
int	relay_audit_trusts_proxies(void);
void	relay_audit_from(struct lws *wsi, const char *peer, char *from, size_t len);
void	relay_audit(const char *event, json_t *fields);
void	relay_audit_origin(json_t *obj, const struct relay_conn *c);
void	relay_audit_refusal(const struct relay_conn *c, const char *what,
	    const char *code, const char *reason);
void	relay_audit_refusal_with(const struct relay_conn *c, const char *what,
	    const char *code, const char *reason, json_t *extra);
uint64_t relay_audit_dropped(void);
void	relay_audit_cleanup(void);

#endif
