/*
 * relay-link.h - a link this relay dials to another relay of the fleet
 * (/v1/peer on the other's listener), for one session: the open forwarded
 * to the relay holding the agent, or an agent's data channel spliced to
 * the relay holding the client (relay-link.c; docs/protocol.md, "Relay to
 * relay").
 *
 * A link is a struct relay_conn to everything above it: relay_conn_send,
 * relay_conn_fail, relay_conn_close, relay_conn_pause and
 * relay_conn_resume act on it as on an accepted WebSocket, so the session
 * state machine and the splices need no second set of functions.  Below,
 * it is an lws RAW socket carrying libporthole's memory-BIO TLS
 * (tlsclient.h) and porthole's own WebSocket framing (wsclient.h).
 */
#ifndef PORTHOLE_RELAY_LINK_H
#define PORTHOLE_RELAY_LINK_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "porthole/frame.h"

#define RELAY_LINK_PROTOCOL	"porthole-peerlink"	/* the lws protocol of the socket */
#define RELAY_LINK_DIAL_SECS	5	/* TCP, TLS and the upgrade, at most */

struct relay_conn;
struct relay_link;

/* What the owner of a link hears (arg: relay_link_dial's). */
struct relay_link_ops {
	/* The other relay took the link (its certificate and our token passed). */
	void	(*up)(void *arg, struct relay_conn *c);
	/* A decoded message from the other relay. */
	void	(*rx)(void *arg, struct relay_conn *c, struct ph_frame *f,
		    const uint8_t *msg, size_t len);
	/* A message left the link's queue. */
	void	(*drained)(void *arg, struct relay_conn *c);
	/*
	 * The link is gone (freed after this returns): code is the close code
	 * the other relay sent (0: none, the link broke or never came up),
	 * why says what happened in words.
	 */
	void	(*closed)(void *arg, struct relay_conn *c, int code, const char *why);
};

/* Process-wide: the peer trust (--peer-ca, --peer-name) and --relay-token. */
int	relay_link_init(const char *peer_ca, const char *peer_name, const char *cert,
	    const char *token, char **cause);
void	relay_link_cleanup(void);
int	relay_link_ready(void);		/* a relay token was given */
const char *relay_link_peer_name(void);

/*
 * Dial the relay at addr ("HOST:PORT", its --advertise) and, once its
 * certificate verified and its upgrade answered, send first (a control
 * message; taken).  NULL with *cause (malloc'd) when it cannot start;
 * otherwise ops->closed is called exactly once, whatever happens.
 */
struct relay_conn *relay_link_dial(const char *addr, json_t *first,
	    const struct relay_link_ops *ops, void *arg, char **cause);
/* Queue a message, even before the link is up (after the first). */
int	relay_link_queue(struct relay_conn *c, const void *msg, size_t len);
/* The owner lets go: no more callbacks; the link closes (1001 if still up). */
void	relay_link_detach(struct relay_conn *c);
const char *relay_link_addr(const struct relay_conn *c);

int	relay_link_callback(struct lws *wsi, enum lws_callback_reasons reason,
	    void *user, void *in, size_t len);

#endif
