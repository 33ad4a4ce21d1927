/*
 * listproof.h - the proof of the client's key that goes with a listing
 * (GET /v1/agents), so that a client token is useless without the key it
 * is bound to: for listing as for `open` (opensig.h).
 *
 * The CLI sends, besides "Authorization: Bearer TOKEN", the header
 *   Porthole-Proof: ts=UNIX;sig=BASE64URL
 * where sig is the Ed25519 signature, by the key of the token's cnf.jwk,
 * of sigenc.h's typed encoding of the context "porthole-list-v1", the
 * token's jti, and the object
 *   {"host": HOST, "method": "GET", "path": "/v1/agents",
 *    "query": {"selector": SELECTOR} (or {} without one), "ts": UNIX}
 * HOST is the relay's host name as the request's Host header gives it,
 * without a port or IPv6 brackets, in lower case; SELECTOR the selector
 * as the relay reads it (decoded).  The relay verifies the signature over
 * what it is about to serve, and ts within PH_CLOCK_SKEW of its clock.
 * A proof is good for that one request (method, relay, path, selector)
 * and token for two minutes at most; it is not remembered, since a
 * listing changes nothing.  docs/protocol.md ("Listing proof") is the
 * prose of this.
 *
 * Errors: -1 with *cause (malloc'd; never holds the token or the key).
 */
#ifndef PORTHOLE_LISTPROOF_H
#define PORTHOLE_LISTPROOF_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "porthole/token.h"

#define PH_LISTPROOF_CONTEXT	"porthole-list-v1"
#define PH_LISTPROOF_HEADER	"Porthole-Proof"
#define PH_LISTPROOF_MAX	256	/* longest header value accepted */

/* What a proof is about. */
struct ph_listreq {
	const char	*method;	/* "GET" */
	const char	*host;		/* a Host header's value, or a host name */
	const char	*path;		/* "/v1/agents" */
	const char	*selector;	/* NULL or "": none */
};

/* host as signed: no port, no brackets, lower case; into buf (returns buf). */
const char *ph_listproof_host(const char *host, char *buf, size_t len);

/* The signing input for req at ts by the token jti (malloc'd bytes). */
int	ph_listproof_input(const struct ph_listreq *req, const char *jti, int64_t ts,
	    uint8_t **out, size_t *len, char **cause);

/* The header value "ts=NOW;sig=..." of k's proof for req (malloc'd). */
char	*ph_listproof_make(const struct ph_key *k, const char *jti,
	    const struct ph_listreq *req, int64_t now, char **cause);

/*
 * Check the header value hdr (NULL: the request had none) against the
 * verified claims c of the client token it came with, for req: c is bound,
 * hdr is well formed, fresh, and verifies with the bound key.
 */
int	ph_listproof_verify(const struct ph_claims *c, const char *hdr,
	    const struct ph_listreq *req, int64_t now, char **cause);

#endif
