/*
 * artseal.h - flight-recorder captures sealed to an operator's X25519 key
 * (PORTHOLE_ARTIFACT_RECIPIENT), so that neither the relay nor its bucket
 * holds a readable dump: the agent seals the capture's bytes as the dump
 * worker writes them (agent-capture.c), the relay stores them as they come
 * and checks only their framing (relay-artifact.c), and `porthole artifacts
 * get ID --key FILE` opens them (cmd-artifacts.c).  docs/protocol.md,
 * "Sealed artifacts", has the same layout.
 *
 * A sealed stream (big-endian integers):
 *
 *   header, 72 bytes:
 *     0   8  magic "PHSEALA1"
 *     8   32 the recipient's X25519 public key
 *     40  32 the sender's ephemeral X25519 public share (one per stream)
 *   records, one after another:
 *     0   1  kind: 0 data, 1 final
 *     1   4  n: the length of the clear bytes (data: 1..PH_ARTSEAL_CHUNK;
 *            final: PH_ARTSEAL_FINAL_LEN)
 *     5   n+16  ChaCha20-Poly1305 of them, then the tag
 *
 * The key: HKDF-SHA256, extract with the 72-byte header as the salt and
 * X25519(ephemeral, recipient) as the input, expand with the info
 * PH_ARTSEAL_CONTEXT "\0" "payload" "\0" (32 bytes).  Record i (from 0)
 * has the nonce ph_seal_nonce(i) and its 5-byte head as associated data,
 * so records cannot be dropped, reordered, repeated or changed in kind.
 * The final record is the last: its clear bytes are a flag (1: the sender
 * says the capture is complete), the number of clear bytes of the data
 * records (u64) and their SHA-256 (32 bytes).  A stream without it was
 * truncated; bytes after it are refused.
 *
 * The clear bytes are what the dump worker writes (one zstd stream); the
 * SHA-256 of the final record is over them.
 *
 * Errors: -1 (or NULL) and a malloc'd sentence in *cause; secrets are
 * wiped before they are freed.
 */
#ifndef PORTHOLE_ARTSEAL_H
#define PORTHOLE_ARTSEAL_H

#include <stddef.h>
#include <stdint.h>

#include "porthole/seal.h"

#define PH_ARTSEAL_MAGIC	"PHSEALA1"
#define PH_ARTSEAL_MAGIC_LEN	8
#define PH_ARTSEAL_HEADER_LEN	(PH_ARTSEAL_MAGIC_LEN + 2 * PH_SEAL_SHARE_LEN)
#define PH_ARTSEAL_CHUNK	65536	/* most clear bytes in one data record */
#define PH_ARTSEAL_HEAD_LEN	5	/* a record's kind and length */
#define PH_ARTSEAL_REC_OVERHEAD	(PH_ARTSEAL_HEAD_LEN + PH_SEAL_TAG_LEN)
#define PH_ARTSEAL_REC_MAX	(PH_ARTSEAL_CHUNK + PH_ARTSEAL_REC_OVERHEAD)
#define PH_ARTSEAL_FINAL_LEN	(1 + 8 + 32)
#define PH_ARTSEAL_CONTEXT	"porthole-artifact-v1"

enum ph_artseal_kind {
	PH_ARTSEAL_DATA = 0,
	PH_ARTSEAL_FINAL = 1,
};

/* What the final record says. */
struct ph_artseal_final {
	int		 complete;	/* the sender's verdict */
	uint64_t	 bytes;		/* clear bytes of the data records */
	uint8_t		 sha256[32];	/* their SHA-256 */
};

/* ---- Sealing (the agent) ---- */

struct ph_artseal;

/*
 * A new stream to recipient: a fresh ephemeral share; the header to send
 * first goes to header.  ph_artseal_free(NULL) is fine; it wipes the key.
 */
struct ph_artseal *ph_artseal_new(const uint8_t recipient[PH_SEAL_SHARE_LEN],
		    uint8_t header[PH_ARTSEAL_HEADER_LEN], char **cause);
void		 ph_artseal_free(struct ph_artseal *s);
/*
 * Seal n clear bytes (1..PH_ARTSEAL_CHUNK) as one data record into out
 * (n + PH_ARTSEAL_REC_OVERHEAD bytes), its length in *out_len.
 */
int		 ph_artseal_data(struct ph_artseal *s, const uint8_t *in, size_t n,
		    uint8_t *out, size_t *out_len, char **cause);
/*
 * The final record (PH_ARTSEAL_FINAL_LEN + PH_ARTSEAL_REC_OVERHEAD bytes
 * into out): complete, and the count and SHA-256 of the bytes sealed so
 * far.  Nothing is sealed after it.
 */
int		 ph_artseal_final(struct ph_artseal *s, int complete, uint8_t *out,
		    size_t *out_len, char **cause);

/* ---- Opening (the CLI), or checking the framing only (the relay) ---- */

struct ph_artseal_rd;

/*
 * A reader.  With priv (the recipient's private key) it opens records;
 * with NULL it reads only the clear framing: the header's magic, every
 * record's kind and length, the final record last (what the relay checks).
 */
struct ph_artseal_rd *ph_artseal_rd_new(const uint8_t *priv, char **cause);
void		 ph_artseal_rd_free(struct ph_artseal_rd *r);
/*
 * Feed n bytes of the stream, in order, in pieces of any size.  With a
 * key, out(arg, p, len) gets the clear bytes of each data record once it
 * opened (it returns 0, or -1 to stop: the feed then fails with *cause
 * NULL).  -1 with *cause on the first thing wrong: a bad magic, a key that
 * is not the recipient's, a record that does not open, bytes after the
 * final record; every later feed fails too.  A record is buffered whole
 * (at most PH_ARTSEAL_REC_MAX bytes) only with a key.
 */
int		 ph_artseal_rd_feed(struct ph_artseal_rd *r, const uint8_t *p,
		    size_t n, int (*out)(void *, const uint8_t *, size_t), void *arg,
		    char **cause);
/*
 * The stream is over: 0 and *f (with a key: the final record's word, its
 * count and SHA-256 checked against the bytes opened) when it ended with
 * its final record, else -1 with *cause (truncated, or failed before).
 * Without a key f's count and SHA-256 are zero.
 */
int		 ph_artseal_rd_end(struct ph_artseal_rd *r, struct ph_artseal_final *f,
		    char **cause);
/* The header's recipient once 72 bytes came (else NULL). */
const uint8_t	*ph_artseal_rd_recipient(const struct ph_artseal_rd *r);
/* Bytes fed so far and accepted. */
uint64_t	 ph_artseal_rd_offset(const struct ph_artseal_rd *r);

/* ---- The recipient's key file ---- */

/*
 * A new X25519 key pair: the private key to path as PKCS#8 PEM (mode
 * 0600, not replacing a file unless force), its public key to pub.
 */
int		 ph_artseal_keygen(const char *path, int force,
		    uint8_t pub[PH_SEAL_SHARE_LEN], char **cause);
/* Read an X25519 private key (PEM, from keygen or `openssl genpkey`). */
int		 ph_artseal_key_load(const char *path, uint8_t priv[PH_SEAL_SECRET_LEN],
		    uint8_t pub[PH_SEAL_SHARE_LEN], char **cause);

#endif
