/*
 * sigenc.h - the typed, canonical encoding of JSON values that porthole
 * signs: the bytes behind the signature of an `open` (opensig.h, form 2)
 * and of a listing's proof (listproof.h).
 *
 * One value, E(v), is a tag byte and, where it has one, its body:
 *   null     "n"              false   "f"          true   "t"
 *   integer  "i" DECIMAL ","  (no leading zeros; "-" for negatives)
 *   string   "s" LEN ":" BYTES ","                  (LEN in decimal)
 *   array    "a" COUNT ":" E(e1) ... E(en) ","
 *   object   "o" COUNT ":" (LEN ":" NAME "," E(value))... ","
 *            members sorted by name, bytewise (shorter first on a tie)
 * A number with a fraction or an exponent has no encoding: it is refused,
 * so that no two spellings of one number can sign alike.  Every value
 * decodes one way and no encoding is the prefix of another, so a string
 * cannot pass for an integer ("123" vs 123), a boolean for a string
 * ("true" vs true), nor one member's bytes shift into the next.
 *
 * A signing input is E(context) E(jti) E(object): the context names what
 * is signed and its version ("porthole-open-v2", "porthole-list-v1"), the
 * jti ties the signature to one token, and the object is every member of
 * what is signed except the ones the caller names (skip).  Nothing else is
 * chosen member by member: a member added to an open is signed the day it
 * is sent.
 *
 * Errors: -1 with *cause (malloc'd).  The input is capped at
 * PH_SIGENC_MAX bytes and PH_SIGENC_DEPTH levels of nesting.
 */
#ifndef PORTHOLE_SIGENC_H
#define PORTHOLE_SIGENC_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define PH_SIGENC_MAX	(256 * 1024)	/* an open is at most 64 KiB of JSON */
#define PH_SIGENC_DEPTH	16

/*
 * The signing input E(context) E(jti) E(obj minus the members named in
 * skip, a NULL-terminated list or NULL): malloc'd bytes in *out, *len.
 */
int	ph_sigenc_input(const char *context, const char *jti, const json_t *obj,
	    const char *const *skip, uint8_t **out, size_t *len, char **cause);

/* E(v) alone (for tests and tools): malloc'd bytes in *out, *len. */
int	ph_sigenc_value(const json_t *v, uint8_t **out, size_t *len, char **cause);

/*
 * The growing byte string the encodings are written into (also the one
 * opensig.c's form 1 uses): zero it to start; after a failed add (past
 * PH_SIGENC_MAX, or out of memory) failed is set and later adds do
 * nothing; free p when done.
 */
struct ph_sigbuf {
	uint8_t	*p;
	size_t	 len, cap;
	int	 failed;
};
void	ph_sigbuf_add(struct ph_sigbuf *b, const void *p, size_t n);
/* A netstring: LEN ":" BYTES "," */
void	ph_sigbuf_ns(struct ph_sigbuf *b, const void *p, size_t n);

#endif
