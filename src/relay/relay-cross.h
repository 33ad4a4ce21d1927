/*
 * relay-cross.h - sessions across the relays of a fleet (relay-cross.c):
 * the session's entry in Redis, finding the relay that holds an agent,
 * forwarding an open to it, and carrying an agent's data channel that
 * landed here to the relay holding its session.
 */
#ifndef PORTHOLE_RELAY_CROSS_H
#define PORTHOLE_RELAY_CROSS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct relay_conn;
struct relay_session;
struct relay_data_chan;
struct relay_cross_splice;

#define RELAY_CROSS_SESSION_SECS	30	/* a session's entry outlives its attach window */

/* The session is held here: its id, this relay and its secret's hash into Redis. */
void	relay_cross_publish(const struct relay_session *s);
/* The session attached; via: the relay that carried the agent's side, or NULL (here). */
void	relay_cross_attached(struct relay_session *s, const char *via);

/*
 * Find the relay holding agent id: done gets the agent as listed (entry,
 * borrowed), that relay's id and its address; or entry NULL when no live
 * relay holds it or Redis did not answer.  -1 when Redis is down.
 */
typedef void (*relay_cross_found)(json_t *entry, const char *rid, const char *addr,
	    void *arg);
int	relay_cross_find(const char *id, relay_cross_found done, void *arg);

/*
 * Send the open (taken; it carries the secret and the token), or a
 * `resume` for the agent (with its `agent`), to the relay at addr.
 */
int	relay_cross_open(struct relay_session *s, const char *addr, json_t *open, char **cause);

/*
 * A data channel (c, its state ch) attaches a session this relay does not
 * hold: 0 when it is being looked up and carried (c's reads held until
 * then), -1 when this is no fleet (the caller refuses).
 */
int	relay_cross_data(struct relay_conn *c, struct relay_data_chan *ch, const char *sid,
	    const char *secret);
void	relay_cross_data_rx(struct relay_cross_splice *sp, const uint8_t *msg, size_t len);
void	relay_cross_data_drained(struct relay_cross_splice *sp);
void	relay_cross_data_closed(struct relay_cross_splice *sp, int code);

#endif
