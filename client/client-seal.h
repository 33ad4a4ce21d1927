/*
 * client-seal.h - the CLI's end of a session sealed end to end
 * (client-seal.c; docs/protocol.md, "End-to-end sessions").  The session
 * (client-session.c) owns one per open: the share goes into the open
 * before it is signed, the agent's `seal` answer keys it, and from then on
 * every frame goes out and comes in as a record.
 */
#ifndef PORTHOLE_CLIENT_SEAL_H
#define PORTHOLE_CLIENT_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "porthole/frame.h"

struct client_conf;
struct client_seal;

/* A fresh share, put in open as `seal` (before it is signed). */
struct client_seal *client_seal_new(json_t *open, char **cause);
void	client_seal_free(struct client_seal *cs);
/* The open as signed and sent (the transcript's input); a copy is kept. */
int	client_seal_sent(struct client_seal *cs, const json_t *open, const char *jti,
	    char **cause);
/*
 * The agent's clear `seal`: key the session.  With conf's PORTHOLE_PUBKEY
 * the agent's signature must verify (else -1: the relay may stand in for
 * it); without one, or an agent that signs nothing, *warn says the agent
 * is not authenticated (malloc'd; NULL when it is).
 */
int	client_seal_keyed(struct client_seal *cs, const json_t *seal,
	    char **warn, char **cause);
/*
 * Seal one frame (type -1: p is a whole message; n at most
 * PH_SEAL_MAX_PAYLOAD of payload) into a record that stays valid until the
 * next call: *rec, *len.
 */
int	client_seal_frame(struct client_seal *cs, int type, const void *p, size_t n,
	    const uint8_t **rec, size_t *len, char **cause);
/*
 * One record from the relay: 0 with *inner decoded (ph_frame_clear it),
 * 1 when it holds nothing for the owner (an ack, the agent's notice that
 * the relay records the session: *recorded set), -1 with *cause when it
 * does not open (the session must end).
 */
int	client_seal_open(struct client_seal *cs, const uint8_t *msg, size_t len,
	    struct ph_frame *inner, int *recorded, char **cause);
/* The last record opened: its ack (authenticated) and whether it held data. */
uint64_t client_seal_last_ack(const struct client_seal *cs);
int	client_seal_last_data(const struct client_seal *cs);

/* ---- Resume (docs/protocol.md, "Resume") ---- */

/* Bytes of the agent's stream received (what an ack says). */
uint64_t client_seal_received(const struct client_seal *cs);
/* An ack (kind PH_SEAL_ACK) or close record, valid until the next call. */
int	client_seal_empty(struct client_seal *cs, int kind, const uint8_t **rec,
	    size_t *len, char **cause);
/*
 * The agent's `resume_proof` m: its proof over our challenge and the
 * offset it states (*received) must verify.  -1 with *cause.
 */
int	client_seal_resume_check(struct client_seal *cs, const json_t *m,
	    const uint8_t challenge[32], uint64_t *received, char **cause);
/* Our `resume_proof` over the agent's challenge in m (NULL with *cause). */
json_t	*client_seal_resume_answer(struct client_seal *cs, const json_t *m,
	    char **cause);

#endif
