/*
 * token.c - porthole tokens: compact JWTs signed with Ed25519 ("EdDSA",
 * RFC 8037), keys in PEM, key ids derived from the public key.
 *
 * Everything a token carries is checked here, once, for the relay, the agent
 * and the CLI alike: the three base64url parts (strict alphabet, no padding,
 * canonical trailing bits), the header (alg must be EdDSA, kid must name a
 * key of the set), the 64-byte signature, and then every claim's type and
 * the token's lifetime with PH_CLOCK_SKEW of tolerance.  The order matters:
 * the claims are only interpreted once the signature holds, so a forged
 * token can only ever learn "bad signature".
 *
 * Causes are sentences an operator can act on and never quote the token:
 * "token expired 3h ago", "token signed by unknown key kid=...".
 *
 * Secrets (private key PEM and DER buffers) are wiped with OPENSSL_cleanse
 * before they are freed; OpenSSL wipes the key material it owns itself.
 */
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "porthole/fwdpolicy.h"
#include "porthole/ops.h"
#include "porthole/token.h"
#include "porthole/util.h"

#define ED25519_RAW	32	/* bytes of a raw Ed25519 key */
#define ED25519_SIG	64	/* bytes of an Ed25519 signature */
#define KEYFILE_MAX	(256 * 1024)	/* largest key file read */
#define KEYSET_MAX	64	/* most keys in one set */
#define CLAIM_STR_MAX	1024	/* longest sub, target, jti */
#define SCOPE_MAX	64	/* most operations in a scope */

struct ph_key {
	EVP_PKEY	*pkey;
	int		 private;		/* does pkey hold the private half? */
	uint8_t		 pub[ED25519_RAW];	/* raw public key */
	char		 kid[PH_KID_LEN + 1];
};

/* Set *cause (when cause is not NULL) to a formatted, malloc'd message. */
static void __attribute__((format(printf, 2, 3)))
set_cause(char **cause, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	if (cause == NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		s = NULL;
	va_end(ap);
	*cause = s;
}

/* The reason of OpenSSL's most recent error, for a cause; clears the queue. */
static const char *
ssl_reason(void)
{
	static __thread char	 buf[160];
	unsigned long		 e;

	e = ERR_peek_last_error();
	if (e == 0)
		snprintf(buf, sizeof buf, "unknown OpenSSL error");
	else
		ERR_error_string_n(e, buf, sizeof buf);
	ERR_clear_error();
	return buf;
}

/* "45s", "12m", "3h", "9d": a rough human rendering of an interval. */
static void
fmt_interval(int64_t secs, char *buf, size_t len)
{
	if (secs < 0)
		secs = -secs;
	if (secs < 120)
		snprintf(buf, len, "%llds", (long long)secs);
	else if (secs < 120 * 60)
		snprintf(buf, len, "%lldm", (long long)(secs / 60));
	else if (secs < 48 * 3600)
		snprintf(buf, len, "%lldh", (long long)(secs / 3600));
	else
		snprintf(buf, len, "%lldd", (long long)(secs / 86400));
}

/* ---- base64url ------------------------------------------------------- */

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Value of a base64url character, or -1. */
static int
b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

char *
ph_b64url_encode(const void *p, size_t n)
{
	const uint8_t	*in = p;
	char		*out, *o;
	size_t		 i;
	uint32_t	 v;

	if (n > (SIZE_MAX - 4) / 4 * 3)
		return NULL;
	if ((out = malloc((n + 2) / 3 * 4 + 1)) == NULL)
		return NULL;
	o = out;
	for (i = 0; i + 3 <= n; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*o++ = b64url_alphabet[(v >> 18) & 63];
		*o++ = b64url_alphabet[(v >> 12) & 63];
		*o++ = b64url_alphabet[(v >> 6) & 63];
		*o++ = b64url_alphabet[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)in[i] << 16;
		*o++ = b64url_alphabet[(v >> 18) & 63];
		*o++ = b64url_alphabet[(v >> 12) & 63];
	} else if (n - i == 2) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		*o++ = b64url_alphabet[(v >> 18) & 63];
		*o++ = b64url_alphabet[(v >> 12) & 63];
		*o++ = b64url_alphabet[(v >> 6) & 63];
	}
	*o = '\0';
	return out;
}

/*
 * Decode slen characters of unpadded base64url into out (outcap bytes).
 * Refuses padding, any character outside the alphabet, a length that no
 * encoding produces (4k+1) and non-zero unused trailing bits, so every byte
 * string has exactly one accepted encoding.  Returns the length or -1.
 */
ssize_t
ph_b64url_decode(const char *s, size_t slen, uint8_t *out, size_t outcap)
{
	size_t		 i, o = 0, rem;
	uint32_t	 acc = 0;
	int		 v, bits = 0;

	if (s == NULL || (out == NULL && outcap > 0))
		return -1;
	rem = slen % 4;
	if (rem == 1)
		return -1;
	if (slen / 4 * 3 + (rem ? rem - 1 : 0) > outcap)
		return -1;
	for (i = 0; i < slen; i++) {
		if ((v = b64url_value((unsigned char)s[i])) < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0)		/* leftover bits must be zero */
		return -1;
	return (ssize_t)o;
}

/* ---- keys ------------------------------------------------------------ */

/* Wrap an Ed25519 EVP_PKEY (taking it) into a ph_key; NULL if not Ed25519. */
static struct ph_key *
key_wrap(EVP_PKEY *pkey, int private, const char *origin, char **cause)
{
	struct ph_key	*k;
	uint8_t		 md[SHA256_DIGEST_LENGTH];
	size_t		 len = ED25519_RAW, i;

	if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
		set_cause(cause, "%s holds a%s %s key, not Ed25519 (make one "
		    "with 'porthole token keygen')", origin,
		    EVP_PKEY_is_a(pkey, "EC") ? "n" : "",
		    EVP_PKEY_get0_type_name(pkey) != NULL ?
		    EVP_PKEY_get0_type_name(pkey) : "other");
		EVP_PKEY_free(pkey);
		return NULL;
	}
	if ((k = calloc(1, sizeof *k)) == NULL) {
		set_cause(cause, "out of memory");
		EVP_PKEY_free(pkey);
		return NULL;
	}
	if (EVP_PKEY_get_raw_public_key(pkey, k->pub, &len) != 1 ||
	    len != ED25519_RAW) {
		set_cause(cause, "%s: cannot read the public key: %s", origin,
		    ssl_reason());
		EVP_PKEY_free(pkey);
		free(k);
		return NULL;
	}
	k->pkey = pkey;
	k->private = private;
	SHA256(k->pub, sizeof k->pub, md);
	for (i = 0; i < PH_KID_LEN / 2; i++)
		snprintf(k->kid + 2 * i, 3, "%02x", md[i]);
	return k;
}

/* A public-only copy of k. */
static struct ph_key *
key_public_copy(const struct ph_key *k, char **cause)
{
	EVP_PKEY	*pkey;

	pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, k->pub,
	    sizeof k->pub);
	if (pkey == NULL) {
		set_cause(cause, "cannot copy public key: %s", ssl_reason());
		return NULL;
	}
	return key_wrap(pkey, 0, "key", cause);
}

struct ph_key *
ph_key_generate(char **cause)
{
	EVP_PKEY_CTX	*ctx;
	EVP_PKEY	*pkey = NULL;

	ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1 ||
	    EVP_PKEY_keygen(ctx, &pkey) != 1) {
		set_cause(cause, "cannot generate an Ed25519 key: %s",
		    ssl_reason());
		EVP_PKEY_CTX_free(ctx);
		return NULL;
	}
	EVP_PKEY_CTX_free(ctx);
	return key_wrap(pkey, 1, "generated key", cause);
}

void
ph_key_free(struct ph_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);	/* OpenSSL wipes the private half */
	OPENSSL_cleanse(k, sizeof *k);
	free(k);
}

const char *
ph_key_kid(const struct ph_key *k)
{
	return k->kid;
}

int
ph_key_has_private(const struct ph_key *k)
{
	return k->private;
}

/* Read the PEM text held by a memory BIO into a malloc'd string. */
static char *
bio_string(BIO *bio, char **cause)
{
	char	*data, *s;
	long	 len;

	len = BIO_get_mem_data(bio, &data);
	if (len < 0 || (s = malloc((size_t)len + 1)) == NULL) {
		set_cause(cause, "out of memory");
		return NULL;
	}
	memcpy(s, data, (size_t)len);
	s[len] = '\0';
	return s;
}

char *
ph_key_private_pem(const struct ph_key *k, char **cause)
{
	BIO	*bio;
	char	*s;

	if (!k->private) {
		set_cause(cause, "key %s has no private half", k->kid);
		return NULL;
	}
	/* secmem: the buffer is wiped when the BIO goes. */
	if ((bio = BIO_new(BIO_s_secmem())) == NULL ||
	    PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL,
	    NULL) != 1) {
		set_cause(cause, "cannot encode private key: %s", ssl_reason());
		BIO_free(bio);
		return NULL;
	}
	s = bio_string(bio, cause);
	BIO_free(bio);
	return s;
}

char *
ph_key_public_pem(const struct ph_key *k, char **cause)
{
	BIO	*bio;
	char	*s;

	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_PUBKEY(bio, k->pkey) != 1) {
		set_cause(cause, "cannot encode public key: %s", ssl_reason());
		BIO_free(bio);
		return NULL;
	}
	s = bio_string(bio, cause);
	BIO_free(bio);
	return s;
}

json_t *
ph_key_jwk(const struct ph_key *k)
{
	char	*x;
	json_t	*jwk;

	if ((x = ph_b64url_encode(k->pub, sizeof k->pub)) == NULL)
		return NULL;
	jwk = json_pack("{s:s, s:s, s:s}", "kty", "OKP", "crv", "Ed25519",
	    "x", x);
	free(x);
	return jwk;
}

struct ph_key *
ph_key_from_jwk(const json_t *jwk, char **cause)
{
	const char	*kty, *crv, *x;
	uint8_t		 raw[ED25519_RAW];
	EVP_PKEY	*pkey;

	if (!json_is_object(jwk) ||
	    !json_is_string(json_object_get(jwk, "kty")) ||
	    !json_is_string(json_object_get(jwk, "crv")) ||
	    !json_is_string(json_object_get(jwk, "x"))) {
		set_cause(cause, "key is not a JWK with kty, crv and x");
		return NULL;
	}
	kty = json_string_value(json_object_get(jwk, "kty"));
	crv = json_string_value(json_object_get(jwk, "crv"));
	x = json_string_value(json_object_get(jwk, "x"));
	if (strcmp(kty, "OKP") != 0 || strcmp(crv, "Ed25519") != 0) {
		set_cause(cause, "key is not an Ed25519 JWK (kty OKP, crv "
		    "Ed25519)");
		return NULL;
	}
	if (ph_b64url_decode(x, strlen(x), raw, sizeof raw) != ED25519_RAW) {
		set_cause(cause, "JWK's x is not 32 bytes of base64url");
		return NULL;
	}
	pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw,
	    sizeof raw);
	if (pkey == NULL) {
		set_cause(cause, "JWK's x is not an Ed25519 key: %s",
		    ssl_reason());
		return NULL;
	}
	return key_wrap(pkey, 0, "JWK", cause);
}

char *
ph_key_sign_b64url(const struct ph_key *k, const void *msg, size_t n,
    char **cause)
{
	EVP_MD_CTX	*ctx;
	uint8_t		 sig[ED25519_SIG];
	size_t		 siglen = sizeof sig;
	char		*s;

	if (!k->private) {
		set_cause(cause, "key %s has no private half to sign with",
		    k->kid);
		return NULL;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) != 1 ||
	    EVP_DigestSign(ctx, sig, &siglen, msg, n) != 1 ||
	    siglen != ED25519_SIG) {
		set_cause(cause, "cannot sign: %s", ssl_reason());
		EVP_MD_CTX_free(ctx);
		return NULL;
	}
	EVP_MD_CTX_free(ctx);
	if ((s = ph_b64url_encode(sig, siglen)) == NULL)
		set_cause(cause, "out of memory");
	return s;
}

/* Does raw signature sig (siglen bytes) verify msg under k?  1 / 0. */
static int
key_verify_raw(const struct ph_key *k, const void *msg, size_t n,
    const uint8_t *sig, size_t siglen)
{
	EVP_MD_CTX	*ctx;
	int		 ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return 0;
	ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
	    EVP_DigestVerify(ctx, sig, siglen, msg, n) == 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

int
ph_key_verify_b64url(const struct ph_key *k, const void *msg, size_t n,
    const char *sig, char **cause)
{
	uint8_t	raw[ED25519_SIG + 1];

	if (ph_b64url_decode(sig, strlen(sig), raw, sizeof raw) !=
	    ED25519_SIG) {
		set_cause(cause, "signature is not 64 bytes of base64url");
		return -1;
	}
	if (!key_verify_raw(k, msg, n, raw, ED25519_SIG)) {
		set_cause(cause, "signature does not verify against key %s",
		    k->kid);
		return -1;
	}
	return 0;
}

/*
 * Call fn for each key of the PEM text (PUBLIC KEY and PRIVATE KEY blocks;
 * any other block is an error).  fn takes the key.  Returns the number of
 * keys seen or -1.
 */
static int
pem_each_key(const void *pem, size_t len, const char *origin,
    int (*fn)(struct ph_key *, void *, char **), void *arg, char **cause)
{
	BIO		*bio;
	char		*name = NULL, *header = NULL;
	unsigned char	*data = NULL;
	const unsigned char *p;
	long		 dlen;
	EVP_PKEY	*pkey;
	struct ph_key	*k;
	unsigned long	 e;
	int		 n = 0, private;

	if (len > INT_MAX) {
		set_cause(cause, "%s is too large to be a key file", origin);
		return -1;
	}
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL) {
		set_cause(cause, "out of memory");
		return -1;
	}
	ERR_clear_error();
	for (;;) {
		if (PEM_read_bio(bio, &name, &header, &data, &dlen) != 1) {
			e = ERR_peek_last_error();
			if (ERR_GET_LIB(e) == ERR_LIB_PEM &&
			    ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
				ERR_clear_error();
				break;		/* no more blocks */
			}
			set_cause(cause, "%s: malformed PEM: %s", origin,
			    ssl_reason());
			goto fail;
		}
		p = data;
		if (strcmp(name, "PUBLIC KEY") == 0) {
			private = 0;
			pkey = d2i_PUBKEY(NULL, &p, dlen);
		} else if (strcmp(name, "PRIVATE KEY") == 0) {
			private = 1;
			pkey = d2i_AutoPrivateKey(NULL, &p, dlen);
		} else if (strcmp(name, "ENCRYPTED PRIVATE KEY") == 0) {
			set_cause(cause, "%s holds an encrypted private key; "
			    "porthole needs it unencrypted (PKCS#8)", origin);
			goto fail;
		} else if (strstr(name, "KEY") != NULL) {
			set_cause(cause, "%s holds a '%.40s'; porthole needs an "
			    "Ed25519 key as PKCS#8 or SPKI PEM (make one with "
			    "'porthole token keygen')", origin, name);
			goto fail;
		} else {
			set_cause(cause, "%s holds a PEM '%.40s' block, not a "
			    "key", origin, name);
			goto fail;
		}
		if (pkey == NULL || p != data + dlen) {
			set_cause(cause, "%s: malformed %s: %s", origin, name,
			    ssl_reason());
			EVP_PKEY_free(pkey);
			goto fail;
		}
		OPENSSL_cleanse(data, (size_t)dlen);
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
		name = header = NULL;
		data = NULL;
		if ((k = key_wrap(pkey, private, origin, cause)) == NULL)
			goto fail;
		n++;
		if (fn(k, arg, cause) != 0)
			goto fail;
	}
	BIO_free(bio);
	return n;

fail:
	if (data != NULL)
		OPENSSL_cleanse(data, (size_t)dlen);
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(data);
	BIO_free(bio);
	return -1;
}

/* Read a key file, wiping its copy of the text when done with it. */
static char *
read_key_file(const char *path, size_t *len, char **cause)
{
	char	*text, *why = NULL;

	if ((text = ph_read_file(path, KEYFILE_MAX, len, &why)) == NULL) {
		set_cause(cause, "%s", why != NULL ? why : "cannot read key");
		free(why);
	}
	return text;
}

static void
free_key_text(char *s, size_t len)
{
	if (s != NULL) {
		OPENSSL_cleanse(s, len);
		free(s);
	}
}

struct first_key {
	struct ph_key	*key;
	int		 public_ok;
	const char	*origin;
};

static int
take_first_key(struct ph_key *k, void *arg, char **cause)
{
	struct first_key	*fk = arg;

	if (fk->key != NULL) {		/* only the first one counts */
		ph_key_free(k);
		return 0;
	}
	if (!k->private && !fk->public_ok) {
		set_cause(cause, "%s holds a public key; a private key is "
		    "needed here", fk->origin);
		ph_key_free(k);
		return -1;
	}
	fk->key = k;
	return 0;
}

struct ph_key *
ph_key_from_pem(const void *pem, size_t len, int public_ok,
    const char *origin, char **cause)
{
	struct first_key	 fk = { NULL, public_ok, origin };
	int			 n;

	n = pem_each_key(pem, len, origin, take_first_key, &fk, cause);
	if (n < 0) {
		ph_key_free(fk.key);
		return NULL;
	}
	if (fk.key == NULL) {
		set_cause(cause, "%s holds no PEM key", origin);
		return NULL;
	}
	return fk.key;
}

struct ph_key *
ph_key_load(const char *path, int public_ok, char **cause)
{
	struct ph_key	*k;
	char		*text;
	size_t		 len;

	if ((text = read_key_file(path, &len, cause)) == NULL)
		return NULL;
	k = ph_key_from_pem(text, len, public_ok, path, cause);
	free_key_text(text, len);
	return k;
}

struct ph_key *
ph_key_load_private(const char *path, char **cause)
{
	return ph_key_load(path, 0, cause);
}

/* ---- key sets -------------------------------------------------------- */

int
ph_keyset_add(struct ph_keyset *ks, struct ph_key *k)
{
	struct ph_key	**keys;
	size_t		  i;

	for (i = 0; i < ks->n; i++) {
		if (strcmp(ks->keys[i]->kid, k->kid) == 0) {
			ph_key_free(k);		/* already held */
			return 0;
		}
	}
	if (ks->n >= KEYSET_MAX) {
		ph_key_free(k);
		return -1;
	}
	keys = reallocarray(ks->keys, ks->n + 1, sizeof *keys);
	if (keys == NULL) {
		ph_key_free(k);
		return -1;
	}
	keys[ks->n++] = k;
	ks->keys = keys;
	return 0;
}

void
ph_keyset_free(struct ph_keyset *ks)
{
	size_t	i;

	if (ks == NULL)
		return;
	for (i = 0; i < ks->n; i++)
		ph_key_free(ks->keys[i]);
	free(ks->keys);
	ks->keys = NULL;
	ks->n = 0;
}

const struct ph_key *
ph_keyset_find(const struct ph_keyset *ks, const char *kid)
{
	size_t	i;

	for (i = 0; i < ks->n; i++) {
		if (strcmp(ks->keys[i]->kid, kid) == 0)
			return ks->keys[i];
	}
	return NULL;
}

/* Add the public half of k to the key set in arg. */
static int
keyset_take(struct ph_key *k, void *arg, char **cause)
{
	struct ph_keyset	*ks = arg;
	struct ph_key		*pub;

	pub = key_public_copy(k, cause);	/* hold no private keys */
	ph_key_free(k);
	if (pub == NULL)
		return -1;
	if (ph_keyset_add(ks, pub) != 0) {
		set_cause(cause, "too many keys (at most %d)", KEYSET_MAX);
		return -1;
	}
	return 0;
}

/* Move the keys of from into to; from ends up empty. */
static int
keyset_merge(struct ph_keyset *to, struct ph_keyset *from, char **cause)
{
	size_t	i;
	int	rc = 0;

	for (i = 0; i < from->n; i++) {
		if (rc == 0 && ph_keyset_add(to, from->keys[i]) != 0) {
			set_cause(cause, "too many keys (at most %d)",
			    KEYSET_MAX);
			rc = -1;
		} else if (rc != 0)
			ph_key_free(from->keys[i]);
	}
	free(from->keys);
	from->keys = NULL;
	from->n = 0;
	return rc;
}

int
ph_keyset_add_pem(struct ph_keyset *ks, const void *pem, size_t len,
    const char *origin, char **cause)
{
	struct ph_keyset	tmp = { NULL, 0 };
	int			n;

	n = pem_each_key(pem, len, origin, keyset_take, &tmp, cause);
	if (n < 0) {
		ph_keyset_free(&tmp);
		return -1;
	}
	if (n == 0) {
		set_cause(cause, "%s holds no PEM key", origin);
		return -1;
	}
	return keyset_merge(ks, &tmp, cause);
}

int
ph_keyset_load(struct ph_keyset *ks, const char *spec, char **cause)
{
	struct ph_keyset	 tmp = { NULL, 0 };
	char			*copy, *path, *next, *end, *text;
	size_t			 len;
	int			 rc = -1;

	if (spec == NULL || *spec == '\0') {
		set_cause(cause, "no public key file given (PORTHOLE_PUBKEY)");
		return -1;
	}
	if ((copy = strdup(spec)) == NULL) {
		set_cause(cause, "out of memory");
		return -1;
	}
	for (path = copy; path != NULL; path = next) {
		if ((next = strchr(path, ',')) != NULL)
			*next++ = '\0';
		while (*path == ' ' || *path == '\t')	/* "a.pub, b.pub" */
			path++;
		end = path + strlen(path);
		while (end > path && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (*path == '\0') {
			set_cause(cause, "empty file name in key list '%s'",
			    spec);
			goto out;
		}
		if ((text = read_key_file(path, &len, cause)) == NULL)
			goto out;
		rc = ph_keyset_add_pem(&tmp, text, len, path, cause);
		free_key_text(text, len);
		if (rc != 0)
			goto out;
		rc = -1;
	}
	rc = keyset_merge(ks, &tmp, cause);
out:
	ph_keyset_free(&tmp);
	free(copy);
	return rc;
}

/* ---- claims ---------------------------------------------------------- */

const char *
ph_token_kind_name(enum ph_token_kind kind)
{
	switch (kind) {
	case PH_TOKEN_AGENT:
		return "agent";
	case PH_TOKEN_CLIENT:
		return "client";
	case PH_TOKEN_RELAY:
		return "relay";
	}
	return "unknown";
}

void
ph_claims_free(struct ph_claims *c)
{
	char	**p;

	if (c == NULL)
		return;
	free(c->sub);
	if (c->scope != NULL) {
		for (p = c->scope; *p != NULL; p++)
			free(*p);
		free(c->scope);
	}
	free(c->target);
	json_decref(c->labels);
	json_decref(c->cnf);
	json_decref(c->forward);
	free(c->jti);
	memset(c, 0, sizeof *c);
}

int
ph_claims_allows(const struct ph_claims *c, const char *op)
{
	const struct ph_op	*o = ph_ops_find(op);
	char			**p;

	if (c == NULL || op == NULL || c->kind != PH_TOKEN_CLIENT ||
	    c->scope == NULL)
		return 0;
	if (o != NULL)
		op = o->scope;	/* sessions and attach: shell's */
	for (p = c->scope; *p != NULL; p++) {
		if (strcmp(*p, op) == 0)
			return 1;
	}
	return 0;
}

/* Is s a plausible claim string: 1..max bytes, no control characters? */
static int
claim_string_ok(const char *s, size_t max)
{
	size_t	n;

	n = strlen(s);
	if (n == 0 || n > max)
		return 0;
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	}
	return 1;
}

/*
 * Check the shape of a labels claim: {key: "*" | [value, ...]}.  Returns 0
 * or -1 with *cause.
 */
static int
labels_shape_ok(const json_t *labels, char **cause)
{
	const char	*key;
	json_t		*v, *e;
	size_t		 i;

	if (!json_is_object(labels)) {
		set_cause(cause, "labels is not an object");
		return -1;
	}
	json_object_foreach((json_t *)labels, key, v) {
		if (!claim_string_ok(key, 63)) {
			set_cause(cause, "labels has a bad key");
			return -1;
		}
		if (json_is_string(v)) {
			if (strcmp(json_string_value(v), "*") != 0) {
				set_cause(cause, "labels.%s is a string other "
				    "than \"*\"", key);
				return -1;
			}
			continue;
		}
		if (!json_is_array(v)) {
			set_cause(cause, "labels.%s is neither \"*\" nor a "
			    "list of values", key);
			return -1;
		}
		json_array_foreach(v, i, e) {
			if (!json_is_string(e)) {
				set_cause(cause, "labels.%s holds a value that "
				    "is not a string", key);
				return -1;
			}
		}
	}
	return 0;
}

/* Check cnf: {"jwk": an Ed25519 public JWK}. */
static int
cnf_shape_ok(const json_t *cnf, char **cause)
{
	struct ph_key	*k;
	char		*why = NULL;

	if (!json_is_object(cnf)) {
		set_cause(cause, "cnf is not an object");
		return -1;
	}
	if ((k = ph_key_from_jwk(json_object_get(cnf, "jwk"), &why)) == NULL) {
		set_cause(cause, "cnf.jwk: %s", why);
		free(why);
		return -1;
	}
	ph_key_free(k);
	return 0;
}

int
ph_claims_labels_allow(const struct ph_claims *c, const json_t *labels,
    char **cause)
{
	const char	*key, *value;
	json_t		*v, *allowed, *e;
	size_t		 i;
	int		 found;

	if (c->labels == NULL || labels == NULL)
		return 0;		/* no restriction */
	json_object_foreach((json_t *)labels, key, v) {
		if (!json_is_string(v)) {
			set_cause(cause, "label %s is not a string", key);
			return -1;
		}
		value = json_string_value(v);
		allowed = json_object_get(c->labels, key);
		if (allowed == NULL) {
			set_cause(cause, "the agent token of %s does not allow "
			    "label %s", c->sub, key);
			return -1;
		}
		if (json_is_string(allowed))	/* "*" */
			continue;
		found = 0;
		json_array_foreach(allowed, i, e) {	/* exact, or a glob */
			if (fnmatch(json_string_value(e), value, 0) == 0)
				found = 1;
		}
		if (!found) {
			set_cause(cause, "the agent token of %s does not allow "
			    "label %s=%s", c->sub, key, value);
			return -1;
		}
	}
	return 0;
}

/* An optional integer claim: 0 if absent or integer (*v set), -1 if not. */
static int
claim_int(const json_t *claims, const char *name, int64_t *v, int *present)
{
	json_t	*j;

	*present = 0;
	if ((j = json_object_get(claims, name)) == NULL)
		return 0;
	if (!json_is_integer(j))
		return -1;
	*v = (int64_t)json_integer_value(j);
	*present = 1;
	return 0;
}

/*
 * Fill out from a claims object whose signature is known to be good.  Checks
 * types only; times are checked by the caller.  Returns 0 or -1 with *cause
 * (the part after "token is malformed: ").
 */
static int
claims_parse(const json_t *claims, struct ph_claims *out, char **cause)
{
	json_t		*j, *e;
	const char	*s;
	char		*why = NULL;
	size_t		 i, n;
	int		 present;
	int64_t		 nbf;

	if ((j = json_object_get(claims, "sub")) == NULL ||
	    !json_is_string(j)) {
		set_cause(cause, "sub is missing or not a string");
		return -1;
	}
	if (!claim_string_ok(json_string_value(j), CLAIM_STR_MAX)) {
		set_cause(cause, "sub is empty, too long or has control "
		    "characters");
		return -1;
	}
	if ((out->sub = strdup(json_string_value(j))) == NULL)
		goto nomem;

	if ((j = json_object_get(claims, "kind")) == NULL ||
	    !json_is_string(j)) {
		set_cause(cause, "kind is missing or not a string");
		return -1;
	}
	s = json_string_value(j);
	if (strcmp(s, "agent") == 0)
		out->kind = PH_TOKEN_AGENT;
	else if (strcmp(s, "client") == 0)
		out->kind = PH_TOKEN_CLIENT;
	else if (strcmp(s, "relay") == 0)
		out->kind = PH_TOKEN_RELAY;
	else {
		set_cause(cause, "kind is not agent, client or relay");
		return -1;
	}

	j = json_object_get(claims, "scope");
	if (j != NULL && !json_is_array(j)) {
		set_cause(cause, "scope is not a list of operations");
		return -1;
	}
	n = j != NULL ? json_array_size(j) : 0;
	if (n > SCOPE_MAX) {
		set_cause(cause, "scope names more than %d operations",
		    SCOPE_MAX);
		return -1;
	}
	if ((out->scope = calloc(n + 1, sizeof *out->scope)) == NULL)
		goto nomem;
	for (i = 0; i < n; i++) {
		e = json_array_get(j, i);
		if (!json_is_string(e) ||
		    !claim_string_ok(json_string_value(e), 64)) {
			set_cause(cause, "scope holds something that is not "
			    "an operation name");
			return -1;
		}
		if ((out->scope[i] = strdup(json_string_value(e))) == NULL)
			goto nomem;
	}

	if ((j = json_object_get(claims, "target")) != NULL) {
		if (!json_is_string(j)) {
			set_cause(cause, "target is not a string");
			return -1;
		}
		s = json_string_value(j);
		if (strlen(s) > CLAIM_STR_MAX) {
			set_cause(cause, "target is too long");
			return -1;
		}
		if (*s != '\0' &&	/* empty: every agent */
		    (out->target = strdup(s)) == NULL)
			goto nomem;
	}

	if ((j = json_object_get(claims, "labels")) != NULL) {
		if (labels_shape_ok(j, cause) != 0)
			return -1;
		if ((out->labels = json_deep_copy(j)) == NULL)
			goto nomem;
	}

	if ((j = json_object_get(claims, "cnf")) != NULL) {
		if (cnf_shape_ok(j, cause) != 0)
			return -1;
		if ((out->cnf = json_deep_copy(j)) == NULL)
			goto nomem;
	}

	if ((j = json_object_get(claims, "forward")) != NULL) {
		if (ph_fwd_claim_check(j, &why) != 0) {
			set_cause(cause, "bad forward claim: %s", why);
			free(why);
			return -1;
		}
		if ((out->forward = json_deep_copy(j)) == NULL)
			goto nomem;
	}

	if (claim_int(claims, "exp", &out->exp, &present) != 0 || !present) {
		set_cause(cause, "exp is missing or not an integer");
		return -1;
	}
	if (claim_int(claims, "iat", &out->iat, &present) != 0) {
		set_cause(cause, "iat is not an integer");
		return -1;
	}
	if (claim_int(claims, "nbf", &nbf, &present) != 0) {
		set_cause(cause, "nbf is not an integer");
		return -1;
	}

	if ((j = json_object_get(claims, "jti")) == NULL ||
	    !json_is_string(j) ||
	    !claim_string_ok(json_string_value(j), CLAIM_STR_MAX)) {
		set_cause(cause, "jti is missing or not a plain string");
		return -1;
	}
	if ((out->jti = strdup(json_string_value(j))) == NULL)
		goto nomem;
	return 0;

nomem:
	set_cause(cause, "out of memory");
	return -1;
}

/* Check exp, nbf and iat against now. */
static int
claims_times(const json_t *claims, const struct ph_claims *c, int64_t now,
    char **cause)
{
	char	 ago[32];
	int64_t	 nbf;
	int	 present;

	if (c->exp < now - PH_CLOCK_SKEW) {
		fmt_interval(now - c->exp, ago, sizeof ago);
		/* A fact: each front end says what to do, once (issue 16). */
		set_cause(cause, "token expired %s ago", ago);
		return -1;
	}
	if (claim_int(claims, "nbf", &nbf, &present) == 0 && present &&
	    nbf > now + PH_CLOCK_SKEW) {
		fmt_interval(nbf - now, ago, sizeof ago);
		set_cause(cause, "token is not valid for another %s (nbf); "
		    "check the clocks", ago);
		return -1;
	}
	if (c->iat > now + PH_CLOCK_SKEW) {
		fmt_interval(c->iat - now, ago, sizeof ago);
		set_cause(cause, "token was issued %s in the future; check the "
		    "issuer's clock", ago);
		return -1;
	}
	return 0;
}

/* ---- tokens ---------------------------------------------------------- */

/* Encode a JSON value compactly and in base64url. */
static char *
json_b64url(const json_t *j)
{
	char	*s, *b;

	if ((s = json_dumps(j, JSON_COMPACT)) == NULL)
		return NULL;
	b = ph_b64url_encode(s, strlen(s));
	free(s);
	return b;
}

char *
ph_token_issue(const struct ph_key *key, const struct ph_claims *c,
    char **cause)
{
	json_t		*header = NULL, *claims = NULL, *scope;
	char		*h64 = NULL, *c64 = NULL, *input = NULL, *sig = NULL;
	char		*token = NULL, **p, *why = NULL;
	char		 jti[33];
	uint8_t		 rnd[16];
	size_t		 i;

	if (!key->private) {
		set_cause(cause, "key %s is public; issuing needs the private "
		    "key", key->kid);
		return NULL;
	}
	if (c->sub == NULL || !claim_string_ok(c->sub, CLAIM_STR_MAX)) {
		set_cause(cause, "a token needs a subject (sub): 1 to %d "
		    "printable characters", CLAIM_STR_MAX);
		return NULL;
	}
	if (c->exp <= 0) {
		set_cause(cause, "a token needs an expiry (exp)");
		return NULL;
	}
	if (c->labels != NULL && labels_shape_ok(c->labels, &why) != 0) {
		set_cause(cause, "bad labels claim: %s", why);
		free(why);
		return NULL;
	}
	if (c->cnf != NULL && cnf_shape_ok(c->cnf, &why) != 0) {
		set_cause(cause, "bad cnf claim: %s", why);
		free(why);
		return NULL;
	}
	if (c->forward != NULL && ph_fwd_claim_check(c->forward, &why) != 0) {
		set_cause(cause, "bad forward claim: %s", why);
		free(why);
		return NULL;
	}
	if (c->jti != NULL && *c->jti != '\0' &&
	    !claim_string_ok(c->jti, CLAIM_STR_MAX)) {
		set_cause(cause, "bad jti claim");
		return NULL;
	}
	for (p = c->scope, i = 0; p != NULL && *p != NULL; p++, i++) {
		if (!claim_string_ok(*p, 64) || i >= SCOPE_MAX) {
			set_cause(cause, "bad scope: operation names are 1 to "
			    "64 printable characters, at most %d of them",
			    SCOPE_MAX);
			return NULL;
		}
	}

	if (c->jti == NULL || *c->jti == '\0') {
		if (RAND_bytes(rnd, sizeof rnd) != 1) {
			set_cause(cause, "no randomness for jti: %s",
			    ssl_reason());
			return NULL;
		}
		for (i = 0; i < sizeof rnd; i++)
			snprintf(jti + 2 * i, 3, "%02x", rnd[i]);
	} else
		jti[0] = '\0';

	header = json_pack("{s:s, s:s, s:s}", "alg", "EdDSA", "typ", "JWT",
	    "kid", key->kid);
	claims = json_pack("{s:s, s:s}", "sub", c->sub, "kind",
	    ph_token_kind_name(c->kind));
	if (header == NULL || claims == NULL)
		goto nomem;
	if (c->scope != NULL || c->kind == PH_TOKEN_CLIENT) {
		if ((scope = json_array()) == NULL ||
		    json_object_set_new(claims, "scope", scope) != 0)
			goto nomem;
		for (p = c->scope; p != NULL && *p != NULL; p++) {
			if (json_array_append_new(scope, json_string(*p)) != 0)
				goto nomem;
		}
	}
	if (c->target != NULL && *c->target != '\0' &&
	    json_object_set_new(claims, "target", json_string(c->target)) != 0)
		goto nomem;
	if (c->labels != NULL &&
	    json_object_set(claims, "labels", c->labels) != 0)
		goto nomem;
	if (c->cnf != NULL && json_object_set(claims, "cnf", c->cnf) != 0)
		goto nomem;
	if (c->forward != NULL && json_object_set(claims, "forward", c->forward) != 0)
		goto nomem;
	if (json_object_set_new(claims, "iat",
	    json_integer(c->iat != 0 ? c->iat : ph_now())) != 0 ||
	    json_object_set_new(claims, "exp", json_integer(c->exp)) != 0 ||
	    json_object_set_new(claims, "jti",
	    json_string(*jti != '\0' ? jti : c->jti)) != 0)
		goto nomem;

	if ((h64 = json_b64url(header)) == NULL ||
	    (c64 = json_b64url(claims)) == NULL)
		goto nomem;
	if (asprintf(&input, "%s.%s", h64, c64) == -1) {
		input = NULL;
		goto nomem;
	}
	if (strlen(input) + 1 + 86 > PH_TOKEN_MAX) {
		set_cause(cause, "token would be longer than %d bytes; use "
		    "fewer labels or a shorter target", PH_TOKEN_MAX);
		goto out;
	}
	if ((sig = ph_key_sign_b64url(key, input, strlen(input), cause)) ==
	    NULL)
		goto out;
	if (asprintf(&token, "%s.%s", input, sig) == -1) {
		token = NULL;
		goto nomem;
	}
	goto out;

nomem:
	set_cause(cause, "out of memory");
out:
	json_decref(header);
	json_decref(claims);
	free(h64);
	free(c64);
	free(input);
	free(sig);
	return token;
}

/*
 * Split a compact JWT into its three parts and decode header and claims as
 * JSON objects (when wanted).  Returns 0 or -1 with a cause that starts
 * "token ...".  sig (65 bytes) receives the signature; *siglen its length.
 */
static int
token_split(const char *token, const char **dot1, const char **dot2,
    json_t **header, json_t **claims, uint8_t *sig, size_t *siglen,
    char **cause)
{
	const char	*p, *d1 = NULL, *d2 = NULL;
	size_t		 len, hlen, clen, slen;
	uint8_t		*buf = NULL;
	ssize_t		 n;
	json_error_t	 jerr;
	int		 dots = 0;

	*header = *claims = NULL;
	if (token == NULL || *token == '\0') {
		set_cause(cause, "token is empty");
		return -1;
	}
	len = strnlen(token, PH_TOKEN_MAX + 1);
	if (len > PH_TOKEN_MAX) {
		set_cause(cause, "token is too long (over %d bytes)",
		    PH_TOKEN_MAX);
		return -1;
	}
	for (p = token; *p != '\0'; p++) {
		if (*p == '.') {
			if (++dots == 1)
				d1 = p;
			else if (dots == 2)
				d2 = p;
		} else if (b64url_value((unsigned char)*p) < 0) {
			if (isspace((unsigned char)*p))
				set_cause(cause, "token is malformed: it "
				    "contains white space");
			else if (*p == '=')
				set_cause(cause, "token is malformed: it has "
				    "base64 padding ('='), which JWTs omit");
			else
				set_cause(cause, "token is malformed: it "
				    "contains a character outside base64url");
			return -1;
		}
	}
	if (dots != 2) {
		set_cause(cause, "token is malformed: %d part%s instead of 3 "
		    "(header.claims.signature)", dots + 1, dots == 0 ? "" : "s");
		return -1;
	}
	hlen = (size_t)(d1 - token);
	clen = (size_t)(d2 - d1 - 1);
	slen = len - (size_t)(d2 - token) - 1;
	if (hlen == 0 || clen == 0) {
		set_cause(cause, "token is malformed: a part is empty");
		return -1;
	}
	if (slen == 0) {
		set_cause(cause, "token is unsigned (empty signature part); "
		    "porthole accepts only EdDSA");
		return -1;
	}
	if ((buf = malloc(len)) == NULL) {
		set_cause(cause, "out of memory");
		return -1;
	}

	if ((n = ph_b64url_decode(token, hlen, buf, len)) < 0) {
		set_cause(cause, "token is malformed: header is not base64url");
		goto fail;
	}
	*header = json_loadb((char *)buf, (size_t)n, JSON_REJECT_DUPLICATES,
	    &jerr);
	if (*header == NULL || !json_is_object(*header)) {
		set_cause(cause, "token is malformed: header is not a JSON "
		    "object");
		goto fail;
	}
	if ((n = ph_b64url_decode(d1 + 1, clen, buf, len)) < 0) {
		set_cause(cause, "token is malformed: claims are not "
		    "base64url");
		goto fail;
	}
	*claims = json_loadb((char *)buf, (size_t)n, JSON_REJECT_DUPLICATES,
	    &jerr);
	if (*claims == NULL || !json_is_object(*claims)) {
		set_cause(cause, "token is malformed: claims are not a JSON "
		    "object");
		goto fail;
	}
	if (sig != NULL) {
		n = ph_b64url_decode(d2 + 1, slen, sig, ED25519_SIG + 1);
		if (n != ED25519_SIG) {
			set_cause(cause, "token is malformed: signature is not "
			    "64 bytes of base64url");
			goto fail;
		}
		*siglen = (size_t)n;
	}
	free(buf);
	if (dot1 != NULL)
		*dot1 = d1;
	if (dot2 != NULL)
		*dot2 = d2;
	return 0;

fail:
	free(buf);
	json_decref(*header);
	json_decref(*claims);
	*header = *claims = NULL;
	return -1;
}

int
ph_token_decode(const char *token, json_t **header, json_t **claims,
    char **cause)
{
	json_t	*h, *c;

	if (token_split(token, NULL, NULL, &h, &c, NULL, NULL, cause) != 0)
		return -1;
	if (header != NULL)
		*header = h;
	else
		json_decref(h);
	if (claims != NULL)
		*claims = c;
	else
		json_decref(c);
	return 0;
}

/* Is s sixteen lowercase hex digits, the form of every kid we make? */
static int
kid_form_ok(const char *s)
{
	size_t	i;

	for (i = 0; i < PH_KID_LEN; i++) {
		if (!isxdigit((unsigned char)s[i]) ||
		    isupper((unsigned char)s[i]))
			return 0;
	}
	return s[i] == '\0';
}

int
ph_token_verify(const struct ph_keyset *ks, const char *token, int64_t now,
    struct ph_claims *out, char **cause)
{
	json_t			*header = NULL, *claims = NULL, *j;
	const char		*d2, *alg, *kid;
	const struct ph_key	*key;
	uint8_t			 sig[ED25519_SIG + 1];
	size_t			 siglen;
	char			*why = NULL;

	memset(out, 0, sizeof *out);
	if (token_split(token, NULL, &d2, &header, &claims, sig, &siglen,
	    cause) != 0)
		return -1;

	/* Header. */
	j = json_object_get(header, "alg");
	if (!json_is_string(j)) {
		set_cause(cause, "token is malformed: header has no alg");
		goto fail;
	}
	alg = json_string_value(j);
	if (strcmp(alg, "EdDSA") != 0) {
		set_cause(cause, "token is signed with alg %s; porthole "
		    "accepts only EdDSA",
		    strcmp(alg, "none") == 0 ? "none (unsigned)" :
		    (claim_string_ok(alg, 16) ? alg : "(unprintable)"));
		goto fail;
	}
	if ((j = json_object_get(header, "typ")) != NULL &&
	    (!json_is_string(j) ||
	    strcasecmp(json_string_value(j), "JWT") != 0)) {
		set_cause(cause, "token is malformed: header typ is not JWT");
		goto fail;
	}
	if (json_object_get(header, "crit") != NULL) {
		set_cause(cause, "token header has crit extensions porthole "
		    "does not know");
		goto fail;
	}
	j = json_object_get(header, "kid");
	if (!json_is_string(j)) {
		set_cause(cause, "token is malformed: header has no kid");
		goto fail;
	}
	kid = json_string_value(j);
	if (ks == NULL || ks->n == 0) {
		set_cause(cause, "no keys to verify tokens with (set "
		    "PORTHOLE_PUBKEY)");
		goto fail;
	}
	if (!kid_form_ok(kid)) {
		set_cause(cause, "token signed by unknown key (its kid is not "
		    "a porthole key id)");
		goto fail;
	}
	if ((key = ph_keyset_find(ks, kid)) == NULL) {
		set_cause(cause, "token signed by unknown key kid=%s, "
		    "PORTHOLE_PUBKEY lacks it", kid);
		goto fail;
	}

	/* Signature over "header.claims". */
	if (!key_verify_raw(key, token, (size_t)(d2 - token), sig, siglen)) {
		set_cause(cause, "token signature does not verify with key "
		    "kid=%s: the token was altered or forged", kid);
		goto fail;
	}

	/* Claims. */
	if (claims_parse(claims, out, &why) != 0) {
		set_cause(cause, "token is malformed: %s", why);
		free(why);
		goto fail;
	}
	if (claims_times(claims, out, now, cause) != 0)
		goto fail;
	memcpy(out->kid, key->kid, sizeof out->kid);
	json_decref(header);
	json_decref(claims);
	return 0;

fail:
	ph_claims_free(out);
	json_decref(header);
	json_decref(claims);
	return -1;
}
