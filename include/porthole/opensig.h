/*
 * opensig.h - the client's signature over an `open`: what is signed, how,
 * and the checks the relay and the agent make on it.
 *
 * A client token is bound to a key of the client's (its `cnf` claim holds
 * the Ed25519 public key as a JWK, RFC 7800).  Every `open` carries `ts`
 * (Unix seconds) and `sig`: the client's Ed25519 signature, base64url, over
 * the signing input below, so a relay that is taken over can neither
 * replay an open elsewhere nor change what it asks for.
 *
 * Signing input: netstrings (LEN ":" BYTES ","), first the context
 * "porthole-open-v1", then "jti" and the token's jti, then for each member
 * of PH_OPENSIG_MEMBERS present in the open, in that order, its name and
 * its value: a string as its bytes, an integer in decimal, a boolean as
 * "true" or "false", argv as the concatenated netstrings of its elements.
 * An absent member adds nothing, so adding or removing one changes the
 * input too.  docs/protocol.md ("Signed open") is the prose of this.
 *
 * Errors: -1 with *cause (malloc'd; never holds the token or the key).
 */
#ifndef PORTHOLE_OPENSIG_H
#define PORTHOLE_OPENSIG_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "porthole/token.h"

#define PH_OPENSIG_CONTEXT	"porthole-open-v1"
/*
 * The members of an open whose change would change what runs, where or as
 * whom.  Not signed: term, cols, rows (cosmetic), proto, and what the relay
 * adds (secret, sub, token).
 */
#define PH_OPENSIG_MEMBERS \
	"agent", "op", "sid", "ts", "argv", "tty", "stdin", "pid", "container", \
	"timeout_ms", "grace_ms", "kind", "freeze", "tmpdir", "preserve"

/* The signing input of open for a token with this jti (malloc'd bytes). */
int	ph_opensig_input(const json_t *open, const char *jti, uint8_t **out,
	    size_t *len, char **cause);

/* Set open's "ts" to now and "sig" to k's signature for a token with jti. */
int	ph_opensig_sign(const struct ph_key *k, const char *jti, json_t *open,
	    int64_t now, char **cause);

/*
 * Check open against the verified claims c of the client token it came
 * with: c is bound (cnf.jwk), open has ts within PH_CLOCK_SKEW of now and a
 * sig that verifies with the bound key over the signing input.  The cause
 * says which of these failed.
 */
int	ph_opensig_verify(const struct ph_claims *c, const json_t *open,
	    int64_t now, char **cause);

#endif
