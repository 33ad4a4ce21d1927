/*
 * artseal.c - captures sealed to an operator's X25519 key (artseal.h has
 * the layout): the sealing the agent's capture child does as the dump
 * worker writes, the reader `artifacts get --key` opens them with, and
 * the keyless framing check the relay runs over an upload.  The
 * primitives (X25519, HKDF-SHA256, ChaCha20-Poly1305, the nonce) are
 * seal.c's.
 *
 * The reader is what a hostile relay or bucket hands bytes to: a record's
 * length is checked against its kind before anything is buffered, a
 * record is buffered whole only when it is to be opened (at most
 * PH_ARTSEAL_REC_MAX bytes), and the first failure is final.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "porthole/artseal.h"
#include "porthole/util.h"

#define ARTSEAL_KEY_FILE_MAX	4096

struct ph_artseal {
	uint8_t		 key[PH_SEAL_KEY_LEN];
	uint64_t	 seq;
	uint64_t	 bytes;
	EVP_MD_CTX	*md;
	int		 ended;
};

enum rd_state {
	RD_HEADER,	/* gathering the 72-byte header */
	RD_HEAD,	/* gathering a record's 5-byte head */
	RD_BODY,	/* a record's ciphertext and tag */
	RD_DONE,	/* the final record was read: nothing may follow */
	RD_FAILED,
};

struct ph_artseal_rd {
	enum rd_state	 state;
	int		 keyed;
	uint8_t		 priv[PH_SEAL_SECRET_LEN];
	uint8_t		 pub[PH_SEAL_SHARE_LEN];	/* priv's public key */
	uint8_t		 key[PH_SEAL_KEY_LEN];
	uint8_t		 header[PH_ARTSEAL_HEADER_LEN];
	uint8_t		 head[PH_ARTSEAL_HEAD_LEN];
	size_t		 have;		/* bytes of header, head or body */
	size_t		 want;		/* body: its length (clear + tag) */
	uint8_t		*body;		/* keyed: PH_ARTSEAL_REC_MAX */
	uint8_t		*clear;		/* keyed: PH_ARTSEAL_CHUNK */
	uint64_t	 seq;
	uint64_t	 offset;	/* stream bytes accepted */
	uint64_t	 bytes;		/* clear bytes opened */
	EVP_MD_CTX	*md;
	struct ph_artseal_final fin;
};

static void
put_be(uint8_t *p, uint64_t v, int n)
{
	while (n-- > 0) {
		p[n] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
}

static uint64_t
get_be(const uint8_t *p, int n)
{
	uint64_t	v = 0;
	int		i;

	for (i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* The stream key from an X25519 secret and the header. */
static int
artseal_key(const uint8_t shared[PH_SEAL_SECRET_LEN],
    const uint8_t header[PH_ARTSEAL_HEADER_LEN], uint8_t key[PH_SEAL_KEY_LEN],
    char **cause)
{
	static const char	info[] = PH_ARTSEAL_CONTEXT "\0payload";
	uint8_t			prk[PH_SEAL_HASH_LEN];
	int			r;

	r = ph_seal_hkdf_extract(header, PH_ARTSEAL_HEADER_LEN, shared,
	    PH_SEAL_SECRET_LEN, prk, cause) == 0 &&
	    ph_seal_hkdf_expand(prk, (const uint8_t *)info, sizeof info, key,
	    PH_SEAL_KEY_LEN, cause) == 0 ? 0 : -1;
	OPENSSL_cleanse(prk, sizeof prk);
	return r;
}

static EVP_MD_CTX *
artseal_md(void)
{
	EVP_MD_CTX	*md = EVP_MD_CTX_new();

	if (md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		md = NULL;
	}
	return md;
}

/* ---- Sealing ---- */

struct ph_artseal *
ph_artseal_new(const uint8_t recipient[PH_SEAL_SHARE_LEN],
    uint8_t header[PH_ARTSEAL_HEADER_LEN], char **cause)
{
	struct ph_artseal	*s;
	struct ph_seal_share	*eph;
	uint8_t			 shared[PH_SEAL_SECRET_LEN];
	int			 r;

	if ((s = calloc(1, sizeof *s)) == NULL || (s->md = artseal_md()) == NULL) {
		free(s);
		*cause = ph_asprintf("out of memory");
		return NULL;
	}
	if ((eph = ph_seal_share_new(cause)) == NULL) {
		ph_artseal_free(s);
		return NULL;
	}
	memcpy(header, PH_ARTSEAL_MAGIC, PH_ARTSEAL_MAGIC_LEN);
	memcpy(header + PH_ARTSEAL_MAGIC_LEN, recipient, PH_SEAL_SHARE_LEN);
	ph_seal_share_public(eph, header + PH_ARTSEAL_MAGIC_LEN + PH_SEAL_SHARE_LEN);
	r = ph_seal_exchange(eph, recipient, shared, cause) == 0 &&
	    artseal_key(shared, header, s->key, cause) == 0 ? 0 : -1;
	OPENSSL_cleanse(shared, sizeof shared);
	ph_seal_share_free(eph);	/* the ephemeral private key goes now */
	if (r != 0) {
		ph_artseal_free(s);
		return NULL;
	}
	return s;
}

void
ph_artseal_free(struct ph_artseal *s)
{
	if (s == NULL)
		return;
	EVP_MD_CTX_free(s->md);
	OPENSSL_cleanse(s, sizeof *s);
	free(s);
}

static int
artseal_record(struct ph_artseal *s, enum ph_artseal_kind kind, const uint8_t *in,
    size_t n, uint8_t *out, size_t *out_len, char **cause)
{
	uint8_t	nonce[PH_SEAL_NONCE_LEN];

	if (s->ended) {
		*cause = ph_asprintf("the sealed stream has ended");
		return -1;
	}
	out[0] = (uint8_t)kind;
	put_be(out + 1, n, 4);
	ph_seal_nonce(s->seq, nonce);
	if (ph_seal_aead_seal(s->key, nonce, out, PH_ARTSEAL_HEAD_LEN, in, n,
	    out + PH_ARTSEAL_HEAD_LEN, cause) != 0)
		return -1;
	s->seq++;
	*out_len = n + PH_ARTSEAL_REC_OVERHEAD;
	return 0;
}

int
ph_artseal_data(struct ph_artseal *s, const uint8_t *in, size_t n, uint8_t *out,
    size_t *out_len, char **cause)
{
	if (n == 0 || n > PH_ARTSEAL_CHUNK) {
		*cause = ph_asprintf("a sealed record holds 1 to %d bytes",
		    PH_ARTSEAL_CHUNK);
		return -1;
	}
	if (artseal_record(s, PH_ARTSEAL_DATA, in, n, out, out_len, cause) != 0)
		return -1;
	EVP_DigestUpdate(s->md, in, n);
	s->bytes += n;
	return 0;
}

int
ph_artseal_final(struct ph_artseal *s, int complete, uint8_t *out, size_t *out_len,
    char **cause)
{
	uint8_t		 fin[PH_ARTSEAL_FINAL_LEN];
	unsigned	 mdlen = 0;

	fin[0] = complete ? 1 : 0;
	put_be(fin + 1, s->bytes, 8);
	if (EVP_DigestFinal_ex(s->md, fin + 9, &mdlen) != 1 || mdlen != 32) {
		*cause = ph_asprintf("SHA-256 failed");
		return -1;
	}
	if (artseal_record(s, PH_ARTSEAL_FINAL, fin, sizeof fin, out, out_len,
	    cause) != 0)
		return -1;
	s->ended = 1;
	return 0;
}

/* ---- Opening ---- */

struct ph_artseal_rd *
ph_artseal_rd_new(const uint8_t *priv, char **cause)
{
	struct ph_artseal_rd	*r;
	struct ph_seal_share	*me;

	if ((r = calloc(1, sizeof *r)) == NULL || (r->md = artseal_md()) == NULL) {
		free(r);
		*cause = ph_asprintf("out of memory");
		return NULL;
	}
	if (priv == NULL)
		return r;
	r->keyed = 1;
	memcpy(r->priv, priv, PH_SEAL_SECRET_LEN);
	if ((r->body = malloc(PH_ARTSEAL_REC_MAX)) == NULL ||
	    (r->clear = malloc(PH_ARTSEAL_CHUNK)) == NULL) {
		ph_artseal_rd_free(r);
		*cause = ph_asprintf("out of memory");
		return NULL;
	}
	if ((me = ph_seal_share_from_private(priv, cause)) == NULL) {
		ph_artseal_rd_free(r);
		return NULL;
	}
	ph_seal_share_public(me, r->pub);
	ph_seal_share_free(me);
	return r;
}

void
ph_artseal_rd_free(struct ph_artseal_rd *r)
{
	if (r == NULL)
		return;
	EVP_MD_CTX_free(r->md);
	if (r->clear != NULL)
		OPENSSL_cleanse(r->clear, PH_ARTSEAL_CHUNK);
	free(r->clear);
	free(r->body);
	OPENSSL_cleanse(r, sizeof *r);
	free(r);
}

static int
rd_fail(struct ph_artseal_rd *r, char **cause, char *why)
{
	r->state = RD_FAILED;
	*cause = why;
	return -1;
}

/* The header is whole: check it, derive the key. */
static int
rd_header(struct ph_artseal_rd *r, char **cause)
{
	struct ph_seal_share	*me;
	uint8_t			 shared[PH_SEAL_SECRET_LEN];
	char			*want, *have;
	int			 ok;

	if (memcmp(r->header, PH_ARTSEAL_MAGIC, PH_ARTSEAL_MAGIC_LEN) != 0)
		return rd_fail(r, cause, ph_asprintf("not a sealed artifact (its "
		    "first bytes are not %s)", PH_ARTSEAL_MAGIC));
	if (!r->keyed)
		return 0;
	if (memcmp(r->header + PH_ARTSEAL_MAGIC_LEN, r->pub, PH_SEAL_SHARE_LEN) != 0) {
		want = ph_seal_share_encode(r->header + PH_ARTSEAL_MAGIC_LEN);
		have = ph_seal_share_encode(r->pub);
		rd_fail(r, cause, ph_asprintf("the artifact is sealed to %s, not to "
		    "this key (its public key is %s)", want != NULL ? want : "?",
		    have != NULL ? have : "?"));
		free(want);
		free(have);
		return -1;
	}
	if ((me = ph_seal_share_from_private(r->priv, cause)) == NULL) {
		r->state = RD_FAILED;
		return -1;
	}
	ok = ph_seal_exchange(me, r->header + PH_ARTSEAL_MAGIC_LEN +
	    PH_SEAL_SHARE_LEN, shared, cause) == 0 &&
	    artseal_key(shared, r->header, r->key, cause) == 0;
	OPENSSL_cleanse(shared, sizeof shared);
	ph_seal_share_free(me);
	if (!ok) {
		r->state = RD_FAILED;
		return -1;
	}
	return 0;
}

/* A record's head is whole: its kind and length. */
static int
rd_head(struct ph_artseal_rd *r, char **cause)
{
	uint64_t	n = get_be(r->head + 1, 4);

	if (r->head[0] == PH_ARTSEAL_DATA && (n == 0 || n > PH_ARTSEAL_CHUNK))
		return rd_fail(r, cause, ph_asprintf("sealed record %llu has a bad "
		    "length (%llu bytes)", (unsigned long long)r->seq,
		    (unsigned long long)n));
	if (r->head[0] == PH_ARTSEAL_FINAL && n != PH_ARTSEAL_FINAL_LEN)
		return rd_fail(r, cause, ph_asprintf("the final sealed record has "
		    "a bad length (%llu bytes)", (unsigned long long)n));
	if (r->head[0] != PH_ARTSEAL_DATA && r->head[0] != PH_ARTSEAL_FINAL)
		return rd_fail(r, cause, ph_asprintf("sealed record %llu is of an "
		    "unknown kind (%u)", (unsigned long long)r->seq, r->head[0]));
	r->want = (size_t)n + PH_SEAL_TAG_LEN;
	return 0;
}

/* A record's body is whole (keyed: in r->body): open it. */
static int
rd_body(struct ph_artseal_rd *r, int (*out)(void *, const uint8_t *, size_t),
    void *arg, char **cause)
{
	uint8_t		nonce[PH_SEAL_NONCE_LEN], md[32];
	size_t		n = r->want - PH_SEAL_TAG_LEN;
	unsigned	mdlen = 0;
	int		final = r->head[0] == PH_ARTSEAL_FINAL;

	if (!r->keyed) {
		r->seq++;
		r->state = final ? RD_DONE : RD_HEAD;
		return 0;
	}
	ph_seal_nonce(r->seq, nonce);
	if (ph_seal_aead_open(r->key, nonce, r->head, PH_ARTSEAL_HEAD_LEN, r->body,
	    r->want, r->clear, cause) != 0) {
		free(*cause);
		return rd_fail(r, cause, ph_asprintf("sealed record %llu (at byte "
		    "%llu) does not open: the artifact was altered or is not "
		    "sealed to this key", (unsigned long long)r->seq,
		    (unsigned long long)r->offset));
	}
	r->seq++;
	if (!final) {
		EVP_DigestUpdate(r->md, r->clear, n);
		r->bytes += n;
		r->state = RD_HEAD;
		if (out != NULL && out(arg, r->clear, n) != 0) {
			r->state = RD_FAILED;
			*cause = NULL;
			return -1;
		}
		return 0;
	}
	r->fin.complete = r->clear[0] == 1;
	r->fin.bytes = get_be(r->clear + 1, 8);
	memcpy(r->fin.sha256, r->clear + 9, 32);
	if (EVP_DigestFinal_ex(r->md, md, &mdlen) != 1 || mdlen != 32)
		return rd_fail(r, cause, ph_asprintf("SHA-256 failed"));
	if (r->fin.bytes != r->bytes || CRYPTO_memcmp(md, r->fin.sha256, 32) != 0)
		return rd_fail(r, cause, ph_asprintf("the sealed stream's final "
		    "record does not match its bytes (%llu opened, %llu sealed)",
		    (unsigned long long)r->bytes, (unsigned long long)r->fin.bytes));
	r->state = RD_DONE;
	return 0;
}

/* Up to want - r->have bytes of p into dst (NULL: skipped), counted in have. */
static size_t
rd_take(struct ph_artseal_rd *r, uint8_t *dst, size_t want, const uint8_t *p,
    size_t n)
{
	size_t	k = want - r->have;

	if (k > n)
		k = n;
	if (dst != NULL)
		memcpy(dst + r->have, p, k);
	r->have += k;
	return k;
}

int
ph_artseal_rd_feed(struct ph_artseal_rd *r, const uint8_t *p, size_t n,
    int (*out)(void *, const uint8_t *, size_t), void *arg, char **cause)
{
	size_t	k = 0;

	*cause = NULL;
	while (n > 0) {
		switch (r->state) {
		case RD_FAILED:
			*cause = ph_asprintf("the sealed stream failed before");
			return -1;
		case RD_DONE:
			return rd_fail(r, cause, ph_asprintf("bytes after the sealed "
			    "stream's final record (at byte %llu)",
			    (unsigned long long)r->offset));
		case RD_HEADER:
			k = rd_take(r, r->header, PH_ARTSEAL_HEADER_LEN, p, n);
			if (r->have == PH_ARTSEAL_HEADER_LEN) {
				if (rd_header(r, cause) != 0)
					return -1;
				r->state = RD_HEAD;
				r->have = 0;
			}
			break;
		case RD_HEAD:
			k = rd_take(r, r->head, PH_ARTSEAL_HEAD_LEN, p, n);
			if (r->have == PH_ARTSEAL_HEAD_LEN) {
				if (rd_head(r, cause) != 0)
					return -1;
				r->state = RD_BODY;
				r->have = 0;
			}
			break;
		case RD_BODY:
			/* Without a key the body is only counted. */
			k = rd_take(r, r->keyed ? r->body : NULL, r->want, p, n);
			if (r->have == r->want) {
				r->have = 0;
				if (rd_body(r, out, arg, cause) != 0)
					return -1;
			}
			break;
		}
		p += k;
		n -= k;
		r->offset += k;
	}
	return 0;
}

int
ph_artseal_rd_end(struct ph_artseal_rd *r, struct ph_artseal_final *f, char **cause)
{
	if (r->state == RD_FAILED) {
		*cause = ph_asprintf("the sealed stream failed before its end");
		return -1;
	}
	if (r->state != RD_DONE) {
		*cause = ph_asprintf("the sealed stream is truncated: it ends after "
		    "%llu bytes without its final record", (unsigned long long)
		    r->offset);
		return -1;
	}
	if (f != NULL)
		*f = r->fin;
	return 0;
}

const uint8_t *
ph_artseal_rd_recipient(const struct ph_artseal_rd *r)
{
	if (r->state == RD_HEADER)
		return NULL;
	return r->header + PH_ARTSEAL_MAGIC_LEN;
}

uint64_t
ph_artseal_rd_offset(const struct ph_artseal_rd *r)
{
	return r->offset;
}

/* ---- Key files ---- */

int
ph_artseal_keygen(const char *path, int force, uint8_t pub[PH_SEAL_SHARE_LEN],
    char **cause)
{
	EVP_PKEY	*pk = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	BIO		*bio = NULL;
	FILE		*f = NULL;
	size_t		 n = PH_SEAL_SHARE_LEN;
	int		 fd = -1, rc = -1;

	if (pk == NULL || EVP_PKEY_get_raw_public_key(pk, pub, &n) != 1 ||
	    n != PH_SEAL_SHARE_LEN) {
		*cause = ph_asprintf("cannot make an X25519 key");
		goto out;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (force ? O_TRUNC : O_EXCL),
	    0600);
	if (fd < 0 || fchmod(fd, 0600) != 0 || (f = fdopen(fd, "w")) == NULL) {
		*cause = ph_asprintf("cannot create %s: %s%s", path, strerror(errno),
		    errno == EEXIST ? " (--force replaces it)" : "");
		goto out;
	}
	fd = -1;
	if ((bio = BIO_new_fp(f, BIO_NOCLOSE)) == NULL ||
	    PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL) != 1 ||
	    BIO_flush(bio) != 1 || fflush(f) != 0 || fsync(fileno(f)) != 0) {
		*cause = ph_asprintf("cannot write %s", path);
		goto out;
	}
	rc = 0;
out:
	BIO_free(bio);
	if (f != NULL && fclose(f) != 0 && rc == 0) {
		*cause = ph_asprintf("cannot write %s: %s", path, strerror(errno));
		rc = -1;
	}
	if (fd >= 0)
		close(fd);
	EVP_PKEY_free(pk);
	ERR_clear_error();
	return rc;
}

int
ph_artseal_key_load(const char *path, uint8_t priv[PH_SEAL_SECRET_LEN],
    uint8_t pub[PH_SEAL_SHARE_LEN], char **cause)
{
	char		*text, *why = NULL;
	size_t		 len = 0, n1 = PH_SEAL_SECRET_LEN, n2 = PH_SEAL_SHARE_LEN;
	BIO		*bio;
	EVP_PKEY	*pk = NULL;
	int		 rc = -1;

	if ((text = ph_read_file(path, ARTSEAL_KEY_FILE_MAX, &len, &why)) == NULL) {
		*cause = ph_asprintf("cannot read the key %s: %s", path,
		    why != NULL ? why : "?");
		free(why);
		return -1;
	}
	if ((bio = BIO_new_mem_buf(text, (int)len)) != NULL)
		pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	if (pk == NULL || EVP_PKEY_get_base_id(pk) != EVP_PKEY_X25519)
		*cause = ph_asprintf("%s is not an X25519 private key in PEM (make "
		    "one with 'porthole artifacts keygen -o FILE')", path);
	else if (EVP_PKEY_get_raw_private_key(pk, priv, &n1) != 1 ||
	    EVP_PKEY_get_raw_public_key(pk, pub, &n2) != 1 ||
	    n1 != PH_SEAL_SECRET_LEN || n2 != PH_SEAL_SHARE_LEN)
		*cause = ph_asprintf("cannot read the X25519 key in %s", path);
	else
		rc = 0;
	EVP_PKEY_free(pk);
	BIO_free(bio);
	OPENSSL_cleanse(text, len);
	free(text);
	ERR_clear_error();
	return rc;
}
