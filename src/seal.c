/*
 * seal.c - end-to-end sealing between the CLI and the agent (seal.h has the
 * layout, docs/protocol.md "End-to-end sessions (design)" the handshake):
 * X25519 shares, the transcript hash and the agent's signature over it,
 * the HKDF-SHA256 key schedule, ChaCha20-Poly1305 records with a sequence
 * number per direction, and HMAC resume proofs.  OpenSSL EVP only.
 *
 * The record opener is the part a hostile relay talks to: it reads the
 * envelope with explicit bounds, refuses a record out of sequence before
 * any decryption, and keeps the first failure (a stream that failed once
 * opens nothing more).  Plaintext is written into the caller's buffer and
 * wiped again if the tag does not verify.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "porthole/seal.h"
#include "porthole/util.h"

#define SEAL_AEAD_MAX	(1u << 30)	/* longest input the AEAD wrappers take */
#define SEAL_SID_MAX	255

struct ph_seal_share {
	EVP_PKEY	*pkey;
	uint8_t		 pub[PH_SEAL_SHARE_LEN];
};

struct ph_seal {
	enum ph_seal_role	 role;
	EVP_CIPHER_CTX		*tx;		/* keyed with this end's sending key */
	EVP_CIPHER_CTX		*rx;		/* keyed with the other end's */
	uint8_t			 resume[PH_SEAL_KEY_LEN];
	uint64_t		 tx_seq;	/* next record number sent */
	uint64_t		 tx_off;	/* bytes of records sent */
	uint64_t		 rx_seq;	/* next record number expected */
	uint64_t		 rx_off;	/* bytes of records opened */
	int			 tx_closed;	/* a close was sealed */
	int			 rx_closed;	/* the peer's close was opened */
	int			 rx_failed;	/* a record failed: nothing more opens */
};

/* The reason of OpenSSL's last error, for a cause; clears the queue. */
static const char *
seal_ssl_reason(void)
{
	static __thread char	 buf[160];
	unsigned long		 e = ERR_peek_last_error();

	if (e == 0)
		return "no detail from OpenSSL";
	ERR_error_string_n(e, buf, sizeof buf);
	ERR_clear_error();
	return buf;
}

static void
put_u64(uint8_t *p, uint64_t v)
{
	int	i;

	for (i = 7; i >= 0; i--) {
		p[i] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
}

static uint64_t
get_u64(const uint8_t *p)
{
	uint64_t	v = 0;
	int		i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

/* ---- Shares ---- */

static struct ph_seal_share *
share_wrap(EVP_PKEY *pkey, char **cause)
{
	struct ph_seal_share	*s;
	size_t			 n = PH_SEAL_SHARE_LEN;

	if (pkey == NULL) {
		*cause = ph_asprintf("cannot make an X25519 key: %s",
		    seal_ssl_reason());
		return NULL;
	}
	if ((s = calloc(1, sizeof *s)) == NULL) {
		EVP_PKEY_free(pkey);
		*cause = ph_asprintf("out of memory");
		return NULL;
	}
	s->pkey = pkey;
	if (EVP_PKEY_get_raw_public_key(pkey, s->pub, &n) != 1 ||
	    n != PH_SEAL_SHARE_LEN) {
		ph_seal_share_free(s);
		*cause = ph_asprintf("cannot read an X25519 public share: %s",
		    seal_ssl_reason());
		return NULL;
	}
	return s;
}

struct ph_seal_share *
ph_seal_share_new(char **cause)
{
	return share_wrap(EVP_PKEY_Q_keygen(NULL, NULL, "X25519"), cause);
}

struct ph_seal_share *
ph_seal_share_from_private(const uint8_t priv[PH_SEAL_SECRET_LEN], char **cause)
{
	return share_wrap(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL,
	    priv, PH_SEAL_SECRET_LEN), cause);
}

void
ph_seal_share_free(struct ph_seal_share *s)
{
	if (s == NULL)
		return;
	EVP_PKEY_free(s->pkey);
	free(s);
}

void
ph_seal_share_public(const struct ph_seal_share *s, uint8_t out[PH_SEAL_SHARE_LEN])
{
	memcpy(out, s->pub, PH_SEAL_SHARE_LEN);
}

int
ph_seal_exchange(const struct ph_seal_share *mine,
    const uint8_t peer[PH_SEAL_SHARE_LEN], uint8_t shared[PH_SEAL_SECRET_LEN],
    char **cause)
{
	EVP_PKEY	*pp;
	EVP_PKEY_CTX	*ctx = NULL;
	size_t		 n = PH_SEAL_SECRET_LEN, i;
	uint8_t		 acc = 0;
	int		 ok = 0;

	pp = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer,
	    PH_SEAL_SHARE_LEN);
	if (pp != NULL && (ctx = EVP_PKEY_CTX_new(mine->pkey, NULL)) != NULL &&
	    EVP_PKEY_derive_init(ctx) == 1 &&
	    EVP_PKEY_derive_set_peer(ctx, pp) == 1 &&
	    EVP_PKEY_derive(ctx, shared, &n) == 1 && n == PH_SEAL_SECRET_LEN)
		ok = 1;
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pp);
	if (ok) {
		for (i = 0; i < PH_SEAL_SECRET_LEN; i++)
			acc |= shared[i];
		if (acc != 0)
			return 0;
	} else
		ERR_clear_error();
	/* OpenSSL refuses the all-zero result itself; say why either way. */
	OPENSSL_cleanse(shared, PH_SEAL_SECRET_LEN);
	*cause = ph_asprintf("the peer's X25519 share is unusable (a point of "
	    "small order gives no shared secret): the share was altered on "
	    "the way");
	return -1;
}

char *
ph_seal_share_encode(const uint8_t share[PH_SEAL_SHARE_LEN])
{
	return ph_b64url_encode(share, PH_SEAL_SHARE_LEN);
}

int
ph_seal_share_decode(const char *text, uint8_t share[PH_SEAL_SHARE_LEN],
    char **cause)
{
	uint8_t	buf[PH_SEAL_SHARE_LEN + 3];
	ssize_t	n;

	if (text == NULL || strlen(text) > 64 ||
	    (n = ph_b64url_decode(text, strlen(text), buf, sizeof buf)) !=
	    PH_SEAL_SHARE_LEN) {
		*cause = ph_asprintf("a key share must be 32 bytes in base64url "
		    "(43 characters)");
		return -1;
	}
	memcpy(share, buf, PH_SEAL_SHARE_LEN);
	return 0;
}

/* ---- Transcript and the agent's signature ---- */

int
ph_seal_transcript(const uint8_t *open, size_t open_len,
    const uint8_t client[PH_SEAL_SHARE_LEN],
    const uint8_t agent[PH_SEAL_SHARE_LEN], const char *sid,
    uint8_t th[PH_SEAL_HASH_LEN], char **cause)
{
	static const char	 ctx_str[] = PH_SEAL_CONTEXT "\0transcript";
	EVP_MD_CTX		*md;
	uint8_t			 n4[4], n1;
	size_t			 sl = sid == NULL ? 0 : strlen(sid);
	unsigned int		 hl = 0;
	int			 ok;

	if (open == NULL || open_len == 0 || open_len > UINT32_MAX) {
		*cause = ph_asprintf("no signed open to bind the keys to");
		return -1;
	}
	if (sl == 0 || sl > SEAL_SID_MAX) {
		*cause = ph_asprintf("a session id of 1-%d bytes is needed to "
		    "bind the keys to", SEAL_SID_MAX);
		return -1;
	}
	n4[0] = (uint8_t)(open_len >> 24);
	n4[1] = (uint8_t)(open_len >> 16);
	n4[2] = (uint8_t)(open_len >> 8);
	n4[3] = (uint8_t)open_len;
	n1 = (uint8_t)sl;
	if ((md = EVP_MD_CTX_new()) == NULL) {
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(md, ctx_str, sizeof ctx_str) == 1 &&
	    EVP_DigestUpdate(md, n4, 4) == 1 &&
	    EVP_DigestUpdate(md, open, open_len) == 1 &&
	    EVP_DigestUpdate(md, client, PH_SEAL_SHARE_LEN) == 1 &&
	    EVP_DigestUpdate(md, agent, PH_SEAL_SHARE_LEN) == 1 &&
	    EVP_DigestUpdate(md, &n1, 1) == 1 &&
	    EVP_DigestUpdate(md, sid, sl) == 1 &&
	    EVP_DigestFinal_ex(md, th, &hl) == 1 && hl == PH_SEAL_HASH_LEN;
	EVP_MD_CTX_free(md);
	if (!ok) {
		*cause = ph_asprintf("cannot hash the transcript: %s",
		    seal_ssl_reason());
		return -1;
	}
	return 0;
}

/* The bytes the agent signs: a context, then th. */
#define SHARE_SIG_CTX	PH_SEAL_CONTEXT "\0agent-share"
static void
share_sig_input(const uint8_t th[PH_SEAL_HASH_LEN],
    uint8_t in[sizeof SHARE_SIG_CTX + PH_SEAL_HASH_LEN])
{
	memcpy(in, SHARE_SIG_CTX, sizeof SHARE_SIG_CTX);
	memcpy(in + sizeof SHARE_SIG_CTX, th, PH_SEAL_HASH_LEN);
}

int
ph_seal_share_sign(const struct ph_key *agent_key,
    const uint8_t th[PH_SEAL_HASH_LEN], uint8_t sig[PH_SEAL_SIG_LEN], char **cause)
{
	uint8_t	 in[sizeof SHARE_SIG_CTX + PH_SEAL_HASH_LEN];
	uint8_t	 raw[PH_SEAL_SIG_LEN + 3];
	char	*b64, *why = NULL;
	ssize_t	 n;

	if (agent_key == NULL || !ph_key_has_private(agent_key)) {
		*cause = ph_asprintf("the agent's share can only be signed with "
		    "the private half of its agent key");
		return -1;
	}
	share_sig_input(th, in);
	if ((b64 = ph_key_sign_b64url(agent_key, in, sizeof in, &why)) == NULL) {
		*cause = ph_asprintf("cannot sign the agent's share: %s", why);
		free(why);
		return -1;
	}
	n = ph_b64url_decode(b64, strlen(b64), raw, sizeof raw);
	free(b64);
	if (n != PH_SEAL_SIG_LEN) {
		*cause = ph_asprintf("cannot sign the agent's share: the agent "
		    "key is not an Ed25519 key");
		return -1;
	}
	memcpy(sig, raw, PH_SEAL_SIG_LEN);
	return 0;
}

int
ph_seal_share_verify(const struct ph_key *agent_pub,
    const uint8_t th[PH_SEAL_HASH_LEN], const uint8_t sig[PH_SEAL_SIG_LEN],
    char **cause)
{
	uint8_t	 in[sizeof SHARE_SIG_CTX + PH_SEAL_HASH_LEN];
	char	*b64, *why = NULL;
	int	 r;

	if (agent_pub == NULL) {
		*cause = ph_asprintf("no agent key to check the agent's share "
		    "with: the agent is not authenticated");
		return -1;
	}
	if ((b64 = ph_b64url_encode(sig, PH_SEAL_SIG_LEN)) == NULL) {
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	share_sig_input(th, in);
	r = ph_key_verify_b64url(agent_pub, in, sizeof in, b64, &why);
	free(b64);
	free(why);
	if (r != 0) {
		*cause = ph_asprintf("the agent's key share is not signed by its "
		    "agent key for this session: the share or the open was "
		    "replaced on the way (a relay standing in for the agent)");
		return -1;
	}
	return 0;
}

/* ---- Primitives ---- */

/* HKDF-SHA256 in one mode of OpenSSL's KDF. */
static int
seal_hkdf(int mode, const uint8_t *key, size_t key_len, const uint8_t *salt,
    size_t salt_len, const uint8_t *info, size_t info_len, uint8_t *out,
    size_t out_len, char **cause)
{
	EVP_KDF		*kdf;
	EVP_KDF_CTX	*kctx = NULL;
	OSSL_PARAM	 p[6], *q = p;
	char		 digest[] = "SHA256";
	int		 ok = 0;

	*q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
	*q++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	    (void *)key, key_len);
	if (salt_len > 0)
		*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
		    (void *)salt, salt_len);
	if (info_len > 0)
		*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
		    (void *)info, info_len);
	*q = OSSL_PARAM_construct_end();
	if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) != NULL &&
	    (kctx = EVP_KDF_CTX_new(kdf)) != NULL &&
	    EVP_KDF_derive(kctx, out, out_len, p) == 1)
		ok = 1;
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	if (!ok) {
		OPENSSL_cleanse(out, out_len);
		*cause = ph_asprintf("HKDF failed: %s", seal_ssl_reason());
		return -1;
	}
	return 0;
}

int
ph_seal_hkdf_extract(const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
    size_t ikm_len, uint8_t prk[PH_SEAL_HASH_LEN], char **cause)
{
	if (ikm == NULL || ikm_len == 0) {
		*cause = ph_asprintf("HKDF needs input keying material");
		return -1;
	}
	return seal_hkdf(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, ikm, ikm_len, salt,
	    salt_len, NULL, 0, prk, PH_SEAL_HASH_LEN, cause);
}

int
ph_seal_hkdf_expand(const uint8_t prk[PH_SEAL_HASH_LEN], const uint8_t *info,
    size_t info_len, uint8_t *out, size_t out_len, char **cause)
{
	if (out_len == 0 || out_len > 255 * PH_SEAL_HASH_LEN) {
		*cause = ph_asprintf("HKDF-SHA256 expands to 1-%d bytes",
		    255 * PH_SEAL_HASH_LEN);
		return -1;
	}
	return seal_hkdf(EVP_KDF_HKDF_MODE_EXPAND_ONLY, prk, PH_SEAL_HASH_LEN,
	    NULL, 0, info, info_len, out, out_len, cause);
}

void
ph_seal_nonce(uint64_t seq, uint8_t nonce[PH_SEAL_NONCE_LEN])
{
	memset(nonce, 0, 4);
	put_u64(nonce + 4, seq);
}

/* A ChaCha20-Poly1305 context keyed for one direction. */
static EVP_CIPHER_CTX *
aead_ctx(const uint8_t key[PH_SEAL_KEY_LEN], int enc)
{
	EVP_CIPHER_CTX	*ctx;

	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return NULL;
	if (EVP_CipherInit_ex(ctx, EVP_chacha20_poly1305(), NULL, key, NULL,
	    enc) != 1) {
		EVP_CIPHER_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/*
 * Seal pre_len bytes of pre then len bytes of in, as one plaintext, to out
 * (then the tag) under ctx's key and nonce.
 */
static int
aead_seal(EVP_CIPHER_CTX *ctx, const uint8_t nonce[PH_SEAL_NONCE_LEN],
    const uint8_t *ad, size_t ad_len, const uint8_t *pre, size_t pre_len,
    const uint8_t *in, size_t len, uint8_t *out)
{
	int	n;

	if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1 ||
	    (ad_len > 0 && EVP_EncryptUpdate(ctx, NULL, &n, ad, (int)ad_len) != 1) ||
	    (pre_len > 0 && EVP_EncryptUpdate(ctx, out, &n, pre, (int)pre_len) != 1) ||
	    (len > 0 && EVP_EncryptUpdate(ctx, out + pre_len, &n, in, (int)len) != 1) ||
	    EVP_EncryptFinal_ex(ctx, out + pre_len + len, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, PH_SEAL_TAG_LEN,
	    out + pre_len + len) != 1)
		return -1;
	return 0;
}

/*
 * Open len bytes of ciphertext followed by the tag into out; out is wiped
 * when the tag does not verify.  -1: not authentic.
 */
static int
aead_open(EVP_CIPHER_CTX *ctx, const uint8_t nonce[PH_SEAL_NONCE_LEN],
    const uint8_t *ad, size_t ad_len, const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t	tag[PH_SEAL_TAG_LEN];
	int	n;

	memcpy(tag, in + len, PH_SEAL_TAG_LEN);
	if (EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, PH_SEAL_TAG_LEN,
	    tag) != 1 ||
	    (ad_len > 0 && EVP_DecryptUpdate(ctx, NULL, &n, ad, (int)ad_len) != 1) ||
	    (len > 0 && EVP_DecryptUpdate(ctx, out, &n, in, (int)len) != 1) ||
	    EVP_DecryptFinal_ex(ctx, out + len, &n) != 1) {
		ERR_clear_error();
		if (len > 0)
			OPENSSL_cleanse(out, len);
		return -1;
	}
	return 0;
}

int
ph_seal_aead_seal(const uint8_t key[PH_SEAL_KEY_LEN],
    const uint8_t nonce[PH_SEAL_NONCE_LEN], const uint8_t *ad, size_t ad_len,
    const uint8_t *in, size_t len, uint8_t *out, char **cause)
{
	EVP_CIPHER_CTX	*ctx;
	int		 r;

	if (len > SEAL_AEAD_MAX || ad_len > SEAL_AEAD_MAX) {
		*cause = ph_asprintf("too much to seal at once");
		return -1;
	}
	if ((ctx = aead_ctx(key, 1)) == NULL) {
		*cause = ph_asprintf("cannot key ChaCha20-Poly1305: %s",
		    seal_ssl_reason());
		return -1;
	}
	r = aead_seal(ctx, nonce, ad, ad_len, NULL, 0, in, len, out);
	EVP_CIPHER_CTX_free(ctx);
	if (r != 0) {
		*cause = ph_asprintf("ChaCha20-Poly1305 failed: %s",
		    seal_ssl_reason());
		return -1;
	}
	return 0;
}

int
ph_seal_aead_open(const uint8_t key[PH_SEAL_KEY_LEN],
    const uint8_t nonce[PH_SEAL_NONCE_LEN], const uint8_t *ad, size_t ad_len,
    const uint8_t *in, size_t len, uint8_t *out, char **cause)
{
	EVP_CIPHER_CTX	*ctx;
	int		 r;

	if (len < PH_SEAL_TAG_LEN || len > SEAL_AEAD_MAX || ad_len > SEAL_AEAD_MAX) {
		*cause = ph_asprintf("a sealed message is 16 bytes (its tag) or "
		    "more, and not this long");
		return -1;
	}
	if ((ctx = aead_ctx(key, 0)) == NULL) {
		*cause = ph_asprintf("cannot key ChaCha20-Poly1305: %s",
		    seal_ssl_reason());
		return -1;
	}
	r = aead_open(ctx, nonce, ad, ad_len, in, len - PH_SEAL_TAG_LEN, out);
	EVP_CIPHER_CTX_free(ctx);
	if (r != 0) {
		*cause = ph_asprintf("the sealed message does not authenticate");
		return -1;
	}
	return 0;
}

/* ---- One end ---- */

static const char info_c2a[] = PH_SEAL_CONTEXT "\0client to agent";
static const char info_a2c[] = PH_SEAL_CONTEXT "\0agent to client";
static const char info_resume[] = PH_SEAL_CONTEXT "\0resume";

struct ph_seal *
ph_seal_new(enum ph_seal_role role, const struct ph_seal_share *mine,
    const uint8_t peer[PH_SEAL_SHARE_LEN], const uint8_t th[PH_SEAL_HASH_LEN],
    char **cause)
{
	struct ph_seal	*s;
	uint8_t		 shared[PH_SEAL_SECRET_LEN], prk[PH_SEAL_HASH_LEN];
	uint8_t		 c2a[PH_SEAL_KEY_LEN], a2c[PH_SEAL_KEY_LEN];
	int		 ok = 0;

	if (role != PH_SEAL_CLIENT && role != PH_SEAL_AGENT) {
		*cause = ph_asprintf("no such sealing role %d", (int)role);
		return NULL;
	}
	if ((s = calloc(1, sizeof *s)) == NULL) {
		*cause = ph_asprintf("out of memory");
		return NULL;
	}
	s->role = role;
	if (ph_seal_exchange(mine, peer, shared, cause) != 0) {
		free(s);
		return NULL;
	}
	if (ph_seal_hkdf_extract(th, PH_SEAL_HASH_LEN, shared, sizeof shared,
	    prk, cause) == 0 &&
	    ph_seal_hkdf_expand(prk, (const uint8_t *)info_c2a, sizeof info_c2a,
	    c2a, sizeof c2a, cause) == 0 &&
	    ph_seal_hkdf_expand(prk, (const uint8_t *)info_a2c, sizeof info_a2c,
	    a2c, sizeof a2c, cause) == 0 &&
	    ph_seal_hkdf_expand(prk, (const uint8_t *)info_resume,
	    sizeof info_resume, s->resume, sizeof s->resume, cause) == 0) {
		s->tx = aead_ctx(role == PH_SEAL_CLIENT ? c2a : a2c, 1);
		s->rx = aead_ctx(role == PH_SEAL_CLIENT ? a2c : c2a, 0);
		if (s->tx != NULL && s->rx != NULL)
			ok = 1;
		else
			*cause = ph_asprintf("cannot key ChaCha20-Poly1305: %s",
			    seal_ssl_reason());
	}
	OPENSSL_cleanse(shared, sizeof shared);
	OPENSSL_cleanse(prk, sizeof prk);
	OPENSSL_cleanse(c2a, sizeof c2a);
	OPENSSL_cleanse(a2c, sizeof a2c);
	if (!ok) {
		ph_seal_free(s);
		return NULL;
	}
	return s;
}

void
ph_seal_free(struct ph_seal *s)
{
	if (s == NULL)
		return;
	EVP_CIPHER_CTX_free(s->tx);	/* wipes the key schedule it holds */
	EVP_CIPHER_CTX_free(s->rx);
	OPENSSL_cleanse(s, sizeof *s);
	free(s);
}

uint64_t
ph_seal_sent(const struct ph_seal *s)
{
	return s->tx_off;
}

uint64_t
ph_seal_received(const struct ph_seal *s)
{
	return s->rx_off;
}

int
ph_seal_peer_closed(const struct ph_seal *s)
{
	return s->rx_closed;
}

int
ph_seal_envelope(const uint8_t *msg, size_t len, struct ph_seal_env *env,
    char **cause)
{
	if (len < PH_SEAL_RECORD_MIN) {
		*cause = ph_asprintf("sealed record of %zu bytes is shorter than "
		    "its envelope and tag (%d)", len, PH_SEAL_RECORD_MIN);
		return -1;
	}
	if (len > PH_SEAL_RECORD_MAX) {
		*cause = ph_asprintf("sealed record of %zu bytes is over the "
		    "%d-byte limit", len, PH_SEAL_RECORD_MAX);
		return -1;
	}
	if (msg[0] != PH_SEAL_FRAME) {
		*cause = ph_asprintf("not a sealed record (type byte 0x%02x)",
		    msg[0]);
		return -1;
	}
	if (msg[1] > PH_SEAL_CLOSE) {
		*cause = ph_asprintf("sealed record of unknown kind %u", msg[1]);
		return -1;
	}
	env->kind = (enum ph_seal_kind)msg[1];
	env->seq = get_u64(msg + 2);
	env->off = get_u64(msg + 10);
	env->ack = get_u64(msg + 18);
	env->sealed = len - PH_SEAL_RECORD_MIN;
	if (env->kind == PH_SEAL_DATA && env->sealed == 0) {
		*cause = ph_asprintf("sealed data record %llu holds no frame",
		    (unsigned long long)env->seq);
		return -1;
	}
	if (env->kind != PH_SEAL_DATA && env->sealed != 0) {
		*cause = ph_asprintf("sealed %s record %llu carries %zu bytes; "
		    "only data records do", env->kind == PH_SEAL_ACK ? "ack" :
		    "close", (unsigned long long)env->seq, env->sealed);
		return -1;
	}
	return 0;
}

/* A record of kind sealing pre (pre_len bytes) then frame (len bytes). */
static int
seal_put(struct ph_seal *s, enum ph_seal_kind kind, const uint8_t *pre,
    size_t pre_len, const uint8_t *frame, size_t len, uint64_t ack, uint8_t *out,
    size_t cap, size_t *out_len, char **cause)
{
	uint8_t	nonce[PH_SEAL_NONCE_LEN];
	size_t	plain = pre_len + len, total = PH_SEAL_RECORD_MIN + plain;

	*out_len = 0;
	if (s->tx_closed) {
		*cause = ph_asprintf("nothing can be sealed after this end's close");
		return -1;
	}
	if (kind == PH_SEAL_DATA) {
		if ((frame == NULL && len > 0) || plain < 1 ||
		    plain - 1 > PH_SEAL_MAX_PAYLOAD) {
			*cause = ph_asprintf("a sealed data record holds one frame "
			    "of 1 to %d bytes, not %zu", PH_SEAL_MAX_PAYLOAD + 1,
			    plain);
			return -1;
		}
	} else if (kind == PH_SEAL_ACK || kind == PH_SEAL_CLOSE) {
		if (plain != 0) {
			*cause = ph_asprintf("ack and close records seal nothing");
			return -1;
		}
	} else {
		*cause = ph_asprintf("no such sealed record kind %d", (int)kind);
		return -1;
	}
	if (cap < total) {
		*cause = ph_asprintf("no room for a sealed record of %zu bytes",
		    total);
		return -1;
	}
	if (s->tx_seq == UINT64_MAX) {
		*cause = ph_asprintf("this session sealed 2^64-1 records: it must "
		    "be keyed again");
		return -1;
	}
	out[0] = PH_SEAL_FRAME;
	out[1] = (uint8_t)kind;
	put_u64(out + 2, s->tx_seq);
	put_u64(out + 10, s->tx_off);
	put_u64(out + 18, ack);
	ph_seal_nonce(s->tx_seq, nonce);
	if (aead_seal(s->tx, nonce, out, PH_SEAL_HEADER_LEN, pre, pre_len, frame,
	    len, out + PH_SEAL_HEADER_LEN) != 0) {
		OPENSSL_cleanse(out, total);
		*cause = ph_asprintf("ChaCha20-Poly1305 failed: %s",
		    seal_ssl_reason());
		return -1;
	}
	s->tx_seq++;
	s->tx_off += total;
	if (kind == PH_SEAL_CLOSE)
		s->tx_closed = 1;
	*out_len = total;
	return 0;
}

int
ph_seal_record(struct ph_seal *s, enum ph_seal_kind kind, const uint8_t *frame,
    size_t len, uint64_t ack, uint8_t *out, size_t cap, size_t *out_len,
    char **cause)
{
	return seal_put(s, kind, NULL, 0, frame, len, ack, out, cap, out_len, cause);
}

int
ph_seal_frame(struct ph_seal *s, uint8_t type, const uint8_t *payload, size_t n,
    uint64_t ack, uint8_t *out, size_t cap, size_t *out_len, char **cause)
{
	return seal_put(s, PH_SEAL_DATA, &type, 1, payload, n, ack, out, cap,
	    out_len, cause);
}

/* The record opened into plain, as its envelope says. */
static void
seal_rec_fill(struct ph_seal_rec *rec, const struct ph_seal_env *env,
    const uint8_t *plain)
{
	rec->kind = env->kind;
	rec->seq = env->seq;
	rec->off = env->off;
	rec->ack = env->ack;
	rec->frame = env->sealed > 0 ? plain : NULL;
	rec->len = env->sealed;
}

int
ph_seal_open(struct ph_seal *s, const uint8_t *msg, size_t len, uint8_t *plain,
    size_t cap, struct ph_seal_rec *rec, char **cause)
{
	struct ph_seal_env	 env;
	uint8_t			 nonce[PH_SEAL_NONCE_LEN];
	char			*why = NULL;

	memset(rec, 0, sizeof *rec);
	if (s->rx_failed) {
		*cause = ph_asprintf("the sealed stream already failed: no record "
		    "after that is accepted");
		return -1;
	}
	s->rx_failed = 1;	/* until this record is through */
	if (s->rx_closed) {
		*cause = ph_asprintf("a sealed record came after the peer's "
		    "close: it was injected");
		return -1;
	}
	if (ph_seal_envelope(msg, len, &env, &why) != 0) {
		*cause = why;
		return -1;
	}
	if (env.seq < s->rx_seq) {
		*cause = ph_asprintf("sealed record %llu was replayed: record "
		    "%llu was expected", (unsigned long long)env.seq,
		    (unsigned long long)s->rx_seq);
		return -1;
	}
	if (env.seq > s->rx_seq) {
		*cause = ph_asprintf("sealed record %llu came where record %llu "
		    "was expected: records were dropped or reordered on the way",
		    (unsigned long long)env.seq, (unsigned long long)s->rx_seq);
		return -1;
	}
	if (env.off != s->rx_off) {
		*cause = ph_asprintf("sealed record %llu says it starts at byte "
		    "%llu of the stream, but %llu bytes came before it: its "
		    "envelope was altered", (unsigned long long)env.seq,
		    (unsigned long long)env.off, (unsigned long long)s->rx_off);
		return -1;
	}
	if (cap < env.sealed) {
		*cause = ph_asprintf("no room to open a sealed record of %zu "
		    "bytes", env.sealed);
		return -1;
	}
	ph_seal_nonce(env.seq, nonce);
	if (aead_open(s->rx, nonce, msg, PH_SEAL_HEADER_LEN,
	    msg + PH_SEAL_HEADER_LEN, env.sealed, plain) != 0) {
		*cause = ph_asprintf("sealed record %llu does not authenticate: "
		    "it was altered or injected on the way, or sealed with "
		    "another key", (unsigned long long)env.seq);
		return -1;
	}
	s->rx_failed = 0;
	s->rx_seq++;
	s->rx_off += len;
	if (env.kind == PH_SEAL_CLOSE)
		s->rx_closed = 1;
	seal_rec_fill(rec, &env, plain);
	return 0;
}

int
ph_seal_reopen(struct ph_seal *s, const uint8_t *msg, size_t len, uint8_t *plain,
    size_t cap, struct ph_seal_rec *rec, char **cause)
{
	struct ph_seal_env	 env;
	uint8_t			 nonce[PH_SEAL_NONCE_LEN];
	int			 r;

	memset(rec, 0, sizeof *rec);
	if (ph_seal_envelope(msg, len, &env, cause) != 0)
		return -1;
	if (cap < env.sealed) {
		*cause = ph_asprintf("no room to open a sealed record of %zu "
		    "bytes", env.sealed);
		return -1;
	}
	ph_seal_nonce(env.seq, nonce);
	/* The sending context opens too (aead_seal sets it to seal again). */
	r = aead_open(s->tx, nonce, msg, PH_SEAL_HEADER_LEN,
	    msg + PH_SEAL_HEADER_LEN, env.sealed, plain);
	if (r != 0) {
		*cause = ph_asprintf("sealed record %llu does not open with this "
		    "end's key", (unsigned long long)env.seq);
		return -1;
	}
	seal_rec_fill(rec, &env, plain);
	return 0;
}

/* ---- Resume proofs ---- */

int
ph_seal_challenge(uint8_t c[PH_SEAL_CHALLENGE_LEN], char **cause)
{
	if (RAND_bytes(c, PH_SEAL_CHALLENGE_LEN) != 1) {
		*cause = ph_asprintf("no random bytes for a challenge: %s",
		    seal_ssl_reason());
		return -1;
	}
	return 0;
}

/* HMAC-SHA256(resume key, context || role || challenge || received). */
static int
resume_mac(const struct ph_seal *s, enum ph_seal_role role,
    const uint8_t challenge[PH_SEAL_CHALLENGE_LEN], uint64_t received,
    uint8_t mac[PH_SEAL_PROOF_LEN], char **cause)
{
	static const char	 ctx_str[] = PH_SEAL_CONTEXT "\0resume";
	uint8_t			 in[sizeof ctx_str + 1 + PH_SEAL_CHALLENGE_LEN + 8];
	size_t			 n = 0;

	memcpy(in, ctx_str, sizeof ctx_str);
	in[sizeof ctx_str] = (uint8_t)role;
	memcpy(in + sizeof ctx_str + 1, challenge, PH_SEAL_CHALLENGE_LEN);
	put_u64(in + sizeof ctx_str + 1 + PH_SEAL_CHALLENGE_LEN, received);
	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, s->resume,
	    sizeof s->resume, in, sizeof in, mac, PH_SEAL_PROOF_LEN, &n) == NULL ||
	    n != PH_SEAL_PROOF_LEN) {
		*cause = ph_asprintf("HMAC-SHA256 failed: %s", seal_ssl_reason());
		return -1;
	}
	return 0;
}

int
ph_seal_resume_proof(const struct ph_seal *s,
    const uint8_t challenge[PH_SEAL_CHALLENGE_LEN], uint64_t received,
    uint8_t proof[PH_SEAL_PROOF_LEN], char **cause)
{
	return resume_mac(s, s->role, challenge, received, proof, cause);
}

int
ph_seal_resume_verify(const struct ph_seal *s,
    const uint8_t challenge[PH_SEAL_CHALLENGE_LEN], uint64_t received,
    const uint8_t proof[PH_SEAL_PROOF_LEN], char **cause)
{
	uint8_t			 mac[PH_SEAL_PROOF_LEN];
	enum ph_seal_role	 peer;

	peer = s->role == PH_SEAL_CLIENT ? PH_SEAL_AGENT : PH_SEAL_CLIENT;
	if (resume_mac(s, peer, challenge, received, mac, cause) != 0)
		return -1;
	if (CRYPTO_memcmp(mac, proof, PH_SEAL_PROOF_LEN) != 0) {
		OPENSSL_cleanse(mac, sizeof mac);
		*cause = ph_asprintf("the resume proof does not verify: the "
		    "other end does not hold this session's keys, answered "
		    "another challenge, or its offset was altered");
		return -1;
	}
	OPENSSL_cleanse(mac, sizeof mac);
	return 0;
}
