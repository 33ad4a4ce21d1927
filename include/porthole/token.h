/*
 * token.h - porthole tokens: JWTs (RFC 7519) signed with Ed25519
 * (alg "EdDSA", RFC 8037), written on OpenSSL's EVP API and jansson so the
 * static agent needs no libjwt.
 *
 * Keys are PEM: PKCS#8 private keys, SPKI public keys.  A key's id ("kid")
 * is derived from the public key itself: the first 16 hex digits of the
 * SHA-256 of its 32 raw bytes, so a key set needs no separate names and
 * rotation is "add the new public key, issue with the new private key,
 * drop the old public key".
 *
 * Errors: functions return -1 / NULL and set *cause to a malloc'd message
 * (free it).  A cause never contains the token itself.
 */
#ifndef PORTHOLE_TOKEN_H
#define PORTHOLE_TOKEN_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define PH_KID_LEN	16
#define PH_CLOCK_SKEW	60	/* seconds of clock difference tolerated */
#define PH_TOKEN_MAX	8192	/* longest token accepted, bytes */

/* relay: one relay of a fleet to another (/v1/peer); neither client nor agent. */
enum ph_token_kind { PH_TOKEN_AGENT, PH_TOKEN_CLIENT, PH_TOKEN_RELAY };

/*
 * The operations a client token's scope may name are the operation
 * registry's (ops.h: ph_ops_scope_known, ph_ops_scope_list).
 */

struct ph_key;		/* opaque: an Ed25519 key (private or public-only) */

struct ph_keyset {	/* public keys that may have signed a token */
	struct ph_key	**keys;
	size_t		  n;
};

/* The verified claims of a token. */
struct ph_claims {
	char		*sub;
	enum ph_token_kind kind;
	char		**scope;	/* NULL-terminated list of operations */
	char		*target;	/* label selector, NULL = every agent */
	json_t		*labels;	/* agent tokens: {key: [values] | "*"}; NULL = none */
	json_t		*cnf;		/* client tokens: {"jwk": {...}}; NULL = unbound */
	json_t		*forward;	/* client tokens: [HOST:PORT pattern...] (fwdpolicy.h); NULL = any */
	int64_t		 exp;
	int64_t		 iat;
	char		*jti;
	char		 kid[PH_KID_LEN + 1];
};

/* Keys. */
struct ph_key	*ph_key_generate(char **cause);
struct ph_key	*ph_key_load_private(const char *path, char **cause);
void		 ph_key_free(struct ph_key *k);
const char	*ph_key_kid(const struct ph_key *k);
/* PEM text of the private (PKCS#8) or public (SPKI) half; malloc'd. */
char		*ph_key_private_pem(const struct ph_key *k, char **cause);
char		*ph_key_public_pem(const struct ph_key *k, char **cause);
/* The public key as an RFC 8037 JWK {"kty":"OKP","crv":"Ed25519","x":...}. */
json_t		*ph_key_jwk(const struct ph_key *k);
/* Sign / verify raw bytes (for the client's signature over `open`). */
char		*ph_key_sign_b64url(const struct ph_key *k, const void *msg, size_t n, char **cause);
/* 0 if sig (base64url) is k's signature over msg, else -1 with *cause. */
int		 ph_key_verify_b64url(const struct ph_key *k, const void *msg, size_t n,
		    const char *sig, char **cause);
/* Does k hold the private half? */
int		 ph_key_has_private(const struct ph_key *k);
/*
 * The first key of a PEM file (or of PEM text in memory; origin names it in
 * causes): a private key, or with public_ok also a public one.
 */
struct ph_key	*ph_key_load(const char *path, int public_ok, char **cause);
struct ph_key	*ph_key_from_pem(const void *pem, size_t len, int public_ok,
		    const char *origin, char **cause);
/* A public key from an RFC 8037 Ed25519 JWK (a token's cnf.jwk). */
struct ph_key	*ph_key_from_jwk(const json_t *jwk, char **cause);

/*
 * Key sets: a PEM file holding one or more public (or private: the public
 * half is used) keys; spec may list several files separated by ','.
 */
int		 ph_keyset_load(struct ph_keyset *ks, const char *spec, char **cause);
int		 ph_keyset_add(struct ph_keyset *ks, struct ph_key *k);	/* takes ownership */
void		 ph_keyset_free(struct ph_keyset *ks);
/*
 * Notes on the above: ph_keyset_load appends to ks (which starts zeroed) and
 * leaves it unchanged on failure; it keeps only public halves.
 * ph_keyset_add frees k when a key with the same kid is already held, and on
 * failure (-1: out of memory or more than 64 keys).
 */
/* Add the keys of PEM text in memory (origin names it in causes). */
int		 ph_keyset_add_pem(struct ph_keyset *ks, const void *pem, size_t len,
		    const char *origin, char **cause);
/* The key with this kid, or NULL. */
const struct ph_key *ph_keyset_find(const struct ph_keyset *ks, const char *kid);

/*
 * Issue a token.  claims->kid is ignored (taken from key); exp must be set;
 * jti and iat are filled in when empty.  Returns the malloc'd compact JWT.
 */
char		*ph_token_issue(const struct ph_key *key, const struct ph_claims *claims,
		    char **cause);

/*
 * Verify a compact JWT: structure, header (alg EdDSA, typ JWT if present,
 * kid known), signature, exp (with PH_CLOCK_SKEW), nbf/iat not in the
 * future (with skew), kind, and claim types.  now is the current time.
 * On success fills *out (free with ph_claims_free).
 */
int		 ph_token_verify(const struct ph_keyset *ks, const char *token, int64_t now,
		    struct ph_claims *out, char **cause);
void		 ph_claims_free(struct ph_claims *c);

/*
 * Decode a token's header and claims WITHOUT verifying anything but its form
 * (for `porthole token show`).  Either out pointer may be NULL; the caller
 * decrefs the objects.  Never use the result to grant anything.
 */
int		 ph_token_decode(const char *token, json_t **header, json_t **claims,
		    char **cause);

/* Does the token's scope include op's (ops.h: sessions and attach take shell's)? */
int		 ph_claims_allows(const struct ph_claims *c, const char *op);

/*
 * May an agent with token claims c claim labels (an object of strings)?
 * c->labels NULL means no restriction; otherwise every key must be listed
 * and its value match one of the listed values, each a shell glob
 * (fnmatch(3): "*", "?", "[...]"; a value without them matches only
 * itself), or the key map to "*".
 * Returns 0, or -1 with *cause naming the first label refused.
 */
int		 ph_claims_labels_allow(const struct ph_claims *c, const json_t *labels,
		    char **cause);

const char	*ph_token_kind_name(enum ph_token_kind kind);

/* base64url without padding; malloc'd / returns decoded length or -1. */
char		*ph_b64url_encode(const void *p, size_t n);
ssize_t		 ph_b64url_decode(const char *s, size_t slen, uint8_t *out, size_t outcap);

#endif
