/*
 * sealsess.h - what the CLI and the agent share to seal one session end to
 * end on top of seal.h (docs/protocol.md, "End-to-end sessions"): the
 * transcript hash of a session from its signed open, one frame sealed into
 * a record, and the client's check of the agent's signed share.
 *
 * seal.h holds the primitives and the record format; this file knows the
 * session's messages (the open, the agent's `seal`) and nothing of any
 * socket, so both ends call the same code.
 */
#ifndef PORTHOLE_SEALSESS_H
#define PORTHOLE_SEALSESS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "porthole/seal.h"
#include "porthole/token.h"

/*
 * The transcript hash of a session: ph_seal_transcript over the open's
 * signing input (form 2, for a token with jti: opensig.h, which leaves out
 * what the relay adds), the client's share, the agent's and the open's sid.
 */
int	ph_sealsess_th(const json_t *open, const char *jti,
	    const uint8_t client[PH_SEAL_SHARE_LEN],
	    const uint8_t agent[PH_SEAL_SHARE_LEN], uint8_t th[PH_SEAL_HASH_LEN],
	    char **cause);

/*
 * Seal one frame: type and n bytes of payload (type -1: p is a whole
 * message, its type byte first), sealed from where p is; out holds
 * PH_SEAL_RECORD_MAX bytes; n must be at most PH_SEAL_MAX_PAYLOAD.  The
 * record acknowledges what this end received.  -1 with *cause.
 */
int	ph_sealsess_frame(struct ph_seal *s, int type, const void *p, size_t n,
	    uint8_t *out, size_t *out_len, char **cause);
/* The same into out of cap bytes: PH_SEAL_RECORD_MIN + n (+ 1 with a type) fit. */
int	ph_sealsess_frame_into(struct ph_seal *s, int type, const void *p,
	    size_t n, uint8_t *out, size_t cap, size_t *out_len, char **cause);

/*
 * The agent's `seal` message as the CLI checks it against the issuer's
 * keys ks: its `token` verifies, is an agent token whose sub is the sub of
 * agent_id (the full id the open named) and is bound to a key (cnf.jwk),
 * and `sig` is that key's signature over th.  0 when all hold; -1 with
 * *cause naming the first that does not.
 */
int	ph_sealsess_agent_check(const struct ph_keyset *ks, const json_t *seal,
	    const char *agent_id, const uint8_t th[PH_SEAL_HASH_LEN], char **cause);

/*
 * The agent's side: the signature (base64url, malloc'd) of its bound key
 * over th; NULL with *cause.
 */
char	*ph_sealsess_agent_sign(const struct ph_key *key,
	    const uint8_t th[PH_SEAL_HASH_LEN], char **cause);

#endif
