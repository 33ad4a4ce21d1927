/*
 * relay-audit.h - the audit stream (JSON lines on stdout) and where a
 * request comes from (relay-audit.c).
 */
#ifndef PORTHOLE_RELAY_AUDIT_H
#define PORTHOLE_RELAY_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct lws;
struct relay_conn;

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
