/*
 * relay-dev.h - the state directory of `porthole-relay --dev`: everything a
 * relay, an agent and an operator on one machine need to try porthole, made
 * on first start and reused afterwards.
 *
 * DIR holds (private files 0600):
 *   tls.key, ca.pem		EC P-256 key and a self-signed certificate for
 *				localhost, 127.0.0.1 and ::1; ca.pem is both the
 *				relay's certificate and the CA its clients trust
 *   signing.key, signing.key.pub  the Ed25519 token signing pair, named
 *				as `porthole token keygen -o signing.key` names it
 *				(signing.key.pub is the relay's PORTHOLE_PUBKEY)
 *   signing.pub		a symbolic link to signing.key.pub: the name
 *				before 0.1.0's issue 16, kept so that agents and
 *				scripts pointed at it go on working (a directory
 *				with signing.pub as a file gets it renamed)
 *   operator.key, viewer.key	the client keys the two client tokens are bound to
 *   agent.token		kind agent, sub dev-agent, no label restriction
 *   operator.token		kind client, every operation, bound to operator.key
 *   viewer.token		kind client, ls/ps/mem, bound to viewer.key
 *   env			`. DIR/env` sets the PORTHOLE_* of a client
 * Tokens last 365 days, or less where the relay's --max-token-lifetime
 * allows their kind less (client tokens: 30 days by default).
 */
#ifndef PORTHOLE_RELAY_DEV_H
#define PORTHOLE_RELAY_DEV_H

#include "porthole/tokenlife.h"

/* File names inside the state directory. */
#define RELAY_DEV_CERT		"ca.pem"
#define RELAY_DEV_TLS_KEY	"tls.key"
#define RELAY_DEV_SIGNING_KEY	"signing.key"
#define RELAY_DEV_PUBKEY	"signing.key.pub"
#define RELAY_DEV_PUBKEY_OLD	"signing.pub"	/* a link to RELAY_DEV_PUBKEY */
#define RELAY_DEV_ENV		"env"

/*
 * Create dir (0700) if missing and every file above that is missing or no
 * longer usable: a certificate that does not match tls.key or has expired
 * is remade, a token that does not verify against signing.key.pub (expired,
 * signed by an older key, bound to a key that changed), expires within a
 * day or lives longer than lt allows its kind is reissued; everything else
 * is kept as it is.  Does not write env.  Blocking file and key work: call
 * it before the event loop starts.  Returns 0, or -1 with *cause (malloc'd).
 */
int	relay_dev_prepare(const char *dir, const struct ph_lifetime *lt, char **cause);

/*
 * Write DIR/env (0600) for a relay reachable at host:port (a wildcard or
 * empty host means 127.0.0.1), with absolute paths, quoted for the shell
 * where needed.  Returns 0, or -1 with *cause.
 */
int	relay_dev_write_env(const char *dir, const char *host, int port, char **cause);

#endif
