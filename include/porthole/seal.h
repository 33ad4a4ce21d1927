/*
 * seal.h - end-to-end sealing of a session's frames between the CLI and
 * the agent, so that a relay in the middle can neither read, alter, drop
 * unnoticed, reorder, replay nor inject them.  The design is in
 * docs/protocol.md, "End-to-end sessions"; sealsess.h holds what the CLI
 * (client/client-seal.c) and the agent (agent/agent-seal.c) share above it.
 *
 * The pieces, all on OpenSSL's EVP API:
 *  - an X25519 share per end and per handshake (ph_seal_share_*): the
 *    client's public share travels inside the signed `open`, the agent's in
 *    its first message on the data channel, signed with its agent key
 *    (Ed25519, the key an agent token is bound to) over the transcript hash;
 *  - the transcript hash (ph_seal_transcript): SHA-256 over a context, the
 *    open's signing input (opensig.h: it holds the client's share), both
 *    shares and the session id;
 *  - the key schedule: HKDF-SHA256, extract with the transcript hash as the
 *    salt and the X25519 secret as the input, then three expands: the key of
 *    client -> agent records, the key of agent -> client records, and the
 *    resume key (only ever used as an HMAC key for resume proofs);
 *  - records (ph_seal_record / ph_seal_open): ChaCha20-Poly1305, the nonce
 *    four zero bytes and the record's 64-bit sequence number (big endian),
 *    one sequence per direction from 0; a record whose number is not the
 *    next one expected is refused before anything is decrypted, so a gap,
 *    a reorder or a replay fails, and one that does not authenticate ends
 *    the stream: the first failure is final (every later record is refused);
 *  - resume proofs (ph_seal_resume_proof / _verify): HMAC-SHA256 with the
 *    resume key over a challenge the other end chose, the prover's role and
 *    the offset it has received.
 *
 * A record is one WebSocket message (big-endian integers):
 *
 *   off  len  clear, authenticated as associated data (the envelope)
 *   0    1    0x05 (PH_SEAL_FRAME: the message's type byte)
 *   1    1    kind: 0 data, 1 ack (nothing sealed), 2 close (the sender's
 *             last record: what follows it is refused, what is missing
 *             before it is a gap)
 *   2    8    seq: the record's number in its direction
 *   10   8    off: the offset of this record in its direction's stream
 *             (the sum of the lengths of the records before it)
 *   18   8    ack: bytes of the other direction's stream received and
 *             authenticated
 *   26   n    sealed: ChaCha20-Poly1305 of one frame, its type byte and its
 *             payload exactly as an unsealed message (frame.h); n = 0 for
 *             ack and close
 *   26+n 16   the Poly1305 tag
 *
 * A record is at most PH_MAX_MESSAGE bytes, so a frame inside one carries
 * at most PH_SEAL_MAX_PAYLOAD bytes of payload.
 *
 * Errors: functions return -1 (or NULL) and set *cause to a malloc'd
 * sentence; no cause holds key material.  Secrets are wiped before they
 * are freed.
 */
#ifndef PORTHOLE_SEAL_H
#define PORTHOLE_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "porthole/protocol.h"
#include "porthole/token.h"

/* The type byte of a sealed record: protocol.h's PH_FRAME_SEALED. */
#define PH_SEAL_FRAME		0x05
_Static_assert(PH_SEAL_FRAME == PH_FRAME_SEALED, "a sealed record's type byte");

#define PH_SEAL_SHARE_LEN	32	/* an X25519 public share */
#define PH_SEAL_SECRET_LEN	32	/* an X25519 private scalar, shared secret */
#define PH_SEAL_KEY_LEN		32	/* a ChaCha20-Poly1305 or resume key */
#define PH_SEAL_HASH_LEN	32	/* SHA-256: transcript hash, HKDF PRK */
#define PH_SEAL_NONCE_LEN	12
#define PH_SEAL_TAG_LEN		16
#define PH_SEAL_SIG_LEN		64	/* Ed25519 signature of the agent's share */
#define PH_SEAL_CHALLENGE_LEN	32
#define PH_SEAL_PROOF_LEN	32	/* HMAC-SHA256 */

#define PH_SEAL_HEADER_LEN	26	/* type, kind, seq, off, ack */
#define PH_SEAL_RECORD_MIN	(PH_SEAL_HEADER_LEN + PH_SEAL_TAG_LEN)
#define PH_SEAL_RECORD_MAX	PH_MAX_MESSAGE
/* Bytes a record adds around a frame's payload: envelope, type byte, tag. */
#define PH_SEAL_OVERHEAD	(PH_SEAL_HEADER_LEN + 1 + PH_SEAL_TAG_LEN)
#define PH_SEAL_MAX_PAYLOAD	(PH_SEAL_RECORD_MAX - PH_SEAL_OVERHEAD)

/* Contexts: each signed or MAC'd input starts with one (NUL included). */
#define PH_SEAL_CONTEXT		"porthole-seal-v1"

enum ph_seal_kind {
	PH_SEAL_DATA = 0,	/* one frame sealed */
	PH_SEAL_ACK = 1,	/* nothing sealed: carries ack only */
	PH_SEAL_CLOSE = 2,	/* nothing sealed: the sender's last record */
};

enum ph_seal_role {
	PH_SEAL_CLIENT = 0,	/* seals client -> agent, opens agent -> client */
	PH_SEAL_AGENT = 1,	/* seals agent -> client, opens client -> agent */
};

/* ---- Shares: X25519 key pairs and the exchange ---- */

struct ph_seal_share;		/* opaque: one end's key pair for one handshake */

/* A fresh random key pair; ph_seal_share_free() it. */
struct ph_seal_share *ph_seal_share_new(char **cause);
/* The key pair of a given private scalar (test vectors; RFC 7748). */
struct ph_seal_share *ph_seal_share_from_private(const uint8_t priv[PH_SEAL_SECRET_LEN],
		    char **cause);
void		 ph_seal_share_free(struct ph_seal_share *s);	/* NULL is fine */
/* The public share (32 bytes, as RFC 7748 writes u). */
void		 ph_seal_share_public(const struct ph_seal_share *s,
		    uint8_t out[PH_SEAL_SHARE_LEN]);
/*
 * X25519(mine, peer) into shared.  A peer share that gives the all-zero
 * secret (a point of small order) is refused.
 */
int		 ph_seal_exchange(const struct ph_seal_share *mine,
		    const uint8_t peer[PH_SEAL_SHARE_LEN],
		    uint8_t shared[PH_SEAL_SECRET_LEN], char **cause);
/* A share as base64url text (malloc'd) and back (exactly 32 bytes). */
char		*ph_seal_share_encode(const uint8_t share[PH_SEAL_SHARE_LEN]);
int		 ph_seal_share_decode(const char *text,
		    uint8_t share[PH_SEAL_SHARE_LEN], char **cause);

/* ---- The transcript and the agent's signature over it ---- */

/*
 * th = SHA-256(PH_SEAL_CONTEXT "\0" "transcript" "\0" || u32 len(open) ||
 * open || client share || agent share || u8 len(sid) || sid), where open is
 * the open's signing input (ph_opensig_input: it includes the client's
 * share) and sid the session id (1-255 bytes).
 */
int		 ph_seal_transcript(const uint8_t *open, size_t open_len,
		    const uint8_t client[PH_SEAL_SHARE_LEN],
		    const uint8_t agent[PH_SEAL_SHARE_LEN], const char *sid,
		    uint8_t th[PH_SEAL_HASH_LEN], char **cause);
/*
 * The agent's Ed25519 signature (with agent_key, which must hold its
 * private half) over PH_SEAL_CONTEXT "\0" "agent-share" "\0" || th, and
 * its check with the public key the agent's token is bound to.
 */
int		 ph_seal_share_sign(const struct ph_key *agent_key,
		    const uint8_t th[PH_SEAL_HASH_LEN], uint8_t sig[PH_SEAL_SIG_LEN],
		    char **cause);
int		 ph_seal_share_verify(const struct ph_key *agent_pub,
		    const uint8_t th[PH_SEAL_HASH_LEN],
		    const uint8_t sig[PH_SEAL_SIG_LEN], char **cause);

/* ---- The primitives, as the schedule and the records use them ---- */

/* HKDF-SHA256 (RFC 5869): extract (salt may be empty), then expand. */
int		 ph_seal_hkdf_extract(const uint8_t *salt, size_t salt_len,
		    const uint8_t *ikm, size_t ikm_len, uint8_t prk[PH_SEAL_HASH_LEN],
		    char **cause);
int		 ph_seal_hkdf_expand(const uint8_t prk[PH_SEAL_HASH_LEN],
		    const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len,
		    char **cause);
/*
 * ChaCha20-Poly1305 (RFC 8439) with a key, a 96-bit nonce and associated
 * data.  Seal writes len bytes of ciphertext then the 16-byte tag to out;
 * open takes ciphertext and tag (len >= 16) and writes len - 16 bytes to
 * out, wiped again when the tag does not verify.
 */
int		 ph_seal_aead_seal(const uint8_t key[PH_SEAL_KEY_LEN],
		    const uint8_t nonce[PH_SEAL_NONCE_LEN], const uint8_t *ad,
		    size_t ad_len, const uint8_t *in, size_t len, uint8_t *out,
		    char **cause);
int		 ph_seal_aead_open(const uint8_t key[PH_SEAL_KEY_LEN],
		    const uint8_t nonce[PH_SEAL_NONCE_LEN], const uint8_t *ad,
		    size_t ad_len, const uint8_t *in, size_t len, uint8_t *out,
		    char **cause);
/* The nonce of record seq: 4 zero bytes, then seq big endian. */
void		 ph_seal_nonce(uint64_t seq, uint8_t nonce[PH_SEAL_NONCE_LEN]);

/* ---- One end of a sealed session ---- */

struct ph_seal;			/* opaque: keys and counters of one end */

/*
 * The keys of one end: X25519(mine, peer), then HKDF-SHA256 with th as the
 * salt; the expands' infos are PH_SEAL_CONTEXT "\0" then "client to agent",
 * "agent to client" or "resume", each with its trailing NUL (32 bytes each).
 * mine is only read (free it after).
 * ph_seal_free(NULL) is fine; it wipes the keys.
 */
struct ph_seal	*ph_seal_new(enum ph_seal_role role, const struct ph_seal_share *mine,
		    const uint8_t peer[PH_SEAL_SHARE_LEN],
		    const uint8_t th[PH_SEAL_HASH_LEN], char **cause);
void		 ph_seal_free(struct ph_seal *s);

/* What the relay may read of a record: its envelope, checked for shape only. */
struct ph_seal_env {
	enum ph_seal_kind	 kind;
	uint64_t		 seq;
	uint64_t		 off;
	uint64_t		 ack;
	size_t			 sealed;	/* bytes of ciphertext (without the tag) */
};
/*
 * Parse the envelope of one message, with no key: its type byte, a known
 * kind, a length in bounds, ciphertext only in data records.
 */
int		 ph_seal_envelope(const uint8_t *msg, size_t len, struct ph_seal_env *env,
		    char **cause);

/*
 * Seal one record of kind into out (at most cap bytes; len + PH_SEAL_OVERHEAD
 * is enough, PH_SEAL_RECORD_MAX always), its length in *out_len.  For a data
 * record frame is one unsealed message (a type byte, then at most
 * PH_SEAL_MAX_PAYLOAD bytes); for ack and close frame is NULL and len 0.
 * ack is the offset received from the other end (the caller's bookkeeping,
 * resume.h).  Takes the next sequence number and advances the sent offset
 * by the record's length.  Nothing is sealed after a close.
 */
int		 ph_seal_record(struct ph_seal *s, enum ph_seal_kind kind,
		    const uint8_t *frame, size_t len, uint64_t ack, uint8_t *out,
		    size_t cap, size_t *out_len, char **cause);
/*
 * The data record of the frame made of the type byte and n bytes of
 * payload, sealed from where the payload is: byte for byte the record
 * ph_seal_record makes of that frame put together, without the copy.
 */
int		 ph_seal_frame(struct ph_seal *s, uint8_t type,
		    const uint8_t *payload, size_t n, uint64_t ack, uint8_t *out,
		    size_t cap, size_t *out_len, char **cause);

/* A record opened. */
struct ph_seal_rec {
	enum ph_seal_kind	 kind;
	uint64_t		 seq;
	uint64_t		 off;
	uint64_t		 ack;		/* authenticated: the peer's word */
	const uint8_t		*frame;		/* data: the frame, in the caller's plain */
	size_t			 len;		/* its length (type byte + payload); 0 else */
};
/*
 * Open one record from the other end into plain (at least len bytes of the
 * message minus PH_SEAL_RECORD_MIN): the envelope's shape, then its seq
 * against the next expected (a lower one is a replay, a higher one a drop or
 * a reorder), its offset against the bytes received, then the tag.  On
 * success the received offset advances by len.  Any failure is final: this
 * end refuses every record after it (the session must end).  The frame is
 * not decoded: give it to ph_frame_decode().
 */
int		 ph_seal_open(struct ph_seal *s, const uint8_t *msg, size_t len,
		    uint8_t *plain, size_t cap, struct ph_seal_rec *rec, char **cause);

/*
 * Open again a record this end sealed itself (one kept for a resume), into
 * plain as ph_seal_open does, with this end's sending key: its tag is
 * checked, nothing else (no sequence, no offset), and the stream's state
 * does not change.  The agent reads so what a client that is gone never
 * acknowledged, to hand it to the one that takes the session over.
 */
int		 ph_seal_reopen(struct ph_seal *s, const uint8_t *msg, size_t len,
		    uint8_t *plain, size_t cap, struct ph_seal_rec *rec, char **cause);

/* The offsets of this end: next to send, received so far (both in bytes). */
uint64_t	 ph_seal_sent(const struct ph_seal *s);
uint64_t	 ph_seal_received(const struct ph_seal *s);
/* Has the other end's close been opened? */
int		 ph_seal_peer_closed(const struct ph_seal *s);

/* ---- Resume proofs ---- */

/* A random challenge for the other end to prove itself with. */
int		 ph_seal_challenge(uint8_t c[PH_SEAL_CHALLENGE_LEN], char **cause);
/*
 * This end's proof, for a challenge the other end chose, that it holds the
 * session's keys: HMAC-SHA256 with the resume key over PH_SEAL_CONTEXT "\0"
 * "resume" "\0" || role (1 byte) || challenge || received (u64).  received
 * is the offset this end states it has received, so the proof binds it.
 */
int		 ph_seal_resume_proof(const struct ph_seal *s,
		    const uint8_t challenge[PH_SEAL_CHALLENGE_LEN], uint64_t received,
		    uint8_t proof[PH_SEAL_PROOF_LEN], char **cause);
/* Check the other end's proof for the challenge this end chose. */
int		 ph_seal_resume_verify(const struct ph_seal *s,
		    const uint8_t challenge[PH_SEAL_CHALLENGE_LEN], uint64_t received,
		    const uint8_t proof[PH_SEAL_PROOF_LEN], char **cause);

#endif
