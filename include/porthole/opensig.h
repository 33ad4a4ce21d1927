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
 * Two forms of signing input exist; the open's `proto` (absent: 1) says
 * which one it carries:
 *   form 2 (protocol 2 and later): sigenc.h's typed encoding of the context
 *	"porthole-open-v2", the token's jti, and the open as an object of
 *	every member except those the operation registry marks
 *	PH_OPM_UNSIGNED (ops.h: `sig` and what the relay adds).  Types are tagged and nothing is listed member by member: a
 *	member a later version adds is signed without any change here.
 *   form 1 (protocol 1, for agents that speak nothing newer): netstrings
 *	(LEN ":" BYTES ","), the context "porthole-open-v1", "jti" and the
 *	jti, then for each member of PH_OPENSIG_V1_MEMBERS present, its name
 *	and its value: a string as its bytes, an integer in decimal, a
 *	boolean as "true" or "false", argv as the concatenated netstrings of
 *	its elements.  Untyped (123 and "123" sign alike) and blind to any
 *	member it does not list: only the schema check of protocol-1 agents
 *	keeps that from mattering.
 * An agent of protocol 2 accepts only form 2, so a relay cannot downgrade
 * a request to it into form 1.  docs/protocol.md ("Signed open") is the
 * prose of this.
 *
 * Errors: -1 with *cause (malloc'd; never holds the token or the key).
 */
#ifndef PORTHOLE_OPENSIG_H
#define PORTHOLE_OPENSIG_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "porthole/token.h"

#define PH_OPENSIG_CONTEXT	"porthole-open-v2"
#define PH_OPENSIG_FORM		2	/* the form this build signs and requires */

/*
 * The members of an open that are not the client's request, and so never
 * signed (the signature itself, and what the relay adds on the way to the
 * agent), are those ops.h's registry flags PH_OPM_UNSIGNED.  Every other
 * member is signed (form 2).
 */

/*
 * Form 1 only, frozen with protocol 1: do not add to this list (form 2
 * signs every member; protocol-1 agents check exactly these).
 */
#define PH_OPENSIG_V1_CONTEXT	"porthole-open-v1"
#define PH_OPENSIG_V1_MEMBERS \
	"agent", "op", "sid", "ts", "argv", "tty", "stdin", "pid", "container", \
	"timeout_ms", "grace_ms", "kind", "freeze", "tmpdir"

/* The protocol version an open states (its "proto"; 1 when absent). */
int	ph_opensig_proto(const json_t *open);
/* The form of signature an open of protocol version proto carries: 1 or 2. */
int	ph_opensig_form(int proto);

/* The signing input of open (in its proto's form) for a token with this jti. */
int	ph_opensig_input(const json_t *open, const char *jti, uint8_t **out,
	    size_t *len, char **cause);

/*
 * Set open's "ts" to now and "sig" to k's signature for a token with jti,
 * in the form of open's "proto" (set to PH_PROTOCOL_VERSION when absent).
 */
int	ph_opensig_sign(const struct ph_key *k, const char *jti, json_t *open,
	    int64_t now, char **cause);

/*
 * Check open against the verified claims c of the client token it came
 * with: c is bound (cnf.jwk), open's form is at least min_form, it has ts
 * within PH_CLOCK_SKEW of now and a sig that verifies with the bound key
 * over the signing input.  The cause says which of these failed.
 */
int	ph_opensig_verify(const struct ph_claims *c, const json_t *open,
	    int64_t now, int min_form, char **cause);

#endif
