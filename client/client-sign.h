/*
 * client-sign.h - the CLI's half of bound tokens: find the key the token is
 * bound to (PORTHOLE_KEY) and sign every `open` with it (porthole/opensig.h
 * says what is signed).
 *
 * client_sign_load runs with the settings (before any connection): it
 * reads the token's claims without verifying them (the relay does that) to
 * learn its jti and the key it is bound to (cnf.jwk), loads PORTHOLE_KEY
 * when given and checks it is that key.  A bound token without a key is
 * not an error yet (`token show` needs none): client_sign_ready says so
 * when a listing or a session is about to be made.  Listings carry a proof
 * of the key too (porthole/listproof.h): client_sign_list makes it.
 */
#ifndef PORTHOLE_CLIENT_SIGN_H
#define PORTHOLE_CLIENT_SIGN_H

#include <stdint.h>
#include <jansson.h>

struct client_conf;

int	client_sign_load(struct client_conf *conf, char **cause);
/* Can this configuration sign opens?  0, or -1 with *cause saying what to set. */
int	client_sign_ready(const struct client_conf *conf, char **cause);
/*
 * The Porthole-Proof header value for GET path (selector NULL: none) of
 * the relay (malloc'd), or NULL with *cause; NULL with *cause NULL when
 * there is no key to sign with (the relay says why it refuses).
 */
char	*client_sign_list(const struct client_conf *conf, const char *path,
	    const char *selector, char **cause);
/* The same proof for another method (the artifacts' DELETE). */
char	*client_sign_req(const struct client_conf *conf, const char *method,
	    const char *path, const char *selector, char **cause);
/* Set open's ts and sig (unsigned when the token is not bound and no key is set). */
int	client_sign_open(const struct client_conf *conf, json_t *open, char **cause);
void	client_sign_free(struct client_conf *conf);

#endif
