/*
 * test_seal.c - unit tests of end-to-end sealing (src/seal.c): the
 * published test vectors through the wrappers the key schedule and the
 * records use (RFC 7748 X25519, RFC 8439 ChaCha20-Poly1305, RFC 5869
 * HKDF-SHA256), a fixed first record and resume proof computed
 * independently (Python's `cryptography` and hmac, from the layout in
 * seal.h), round trips both ways, and every way a relay can tamper with a
 * stream: a flipped bit in any byte of a record (ciphertext, tag, each
 * field of the envelope), a replayed, reordered, dropped or injected
 * record, a record after the close, a record for the other direction or
 * another session; the agent's signed share swapped or signed by another
 * key; a resume proof for another session, challenge, offset or role.
 * Each failure is checked for its sentence, and the first failure is
 * shown to be final.  Last, a stream resumed through seal and resume.h:
 * records lost with a connection are retransmitted byte for byte and
 * open exactly once, in order.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/frame.h"
#include "porthole/resume.h"
#include "porthole/seal.h"
#include "porthole/token.h"

/* Hex text to bytes; returns the length. */
static size_t
unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t	n = strlen(hex) / 2, i;
	unsigned int b;

	cr_assert_leq(n, cap);
	for (i = 0; i < n; i++) {
		cr_assert_eq(sscanf(hex + 2 * i, "%2x", &b), 1);
		out[i] = (uint8_t)b;
	}
	return n;
}

static void
assert_hex(const uint8_t *got, size_t len, const char *hex)
{
	uint8_t	want[512];
	size_t	n = unhex(hex, want, sizeof want);

	cr_assert_eq(len, n, "length %zu, expected %zu", len, n);
	cr_assert_arr_eq(got, want, n);
}

static void
assert_cause(char *cause, const char *part)
{
	cr_assert_not_null(cause);
	cr_assert_not_null(strstr(cause, part), "cause \"%s\" lacks \"%s\"",
	    cause, part);
	free(cause);
}

/* ---- RFC 7748 ---- */

Test(seal, x25519_rfc7748_section_5_2)
{
	uint8_t			 scalar[32], u[32], out[32];
	struct ph_seal_share	*s;
	char			*cause = NULL;

	unhex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
	    scalar, 32);
	unhex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
	    u, 32);
	s = ph_seal_share_from_private(scalar, &cause);
	cr_assert_not_null(s, "%s", cause);
	cr_assert_eq(ph_seal_exchange(s, u, out, &cause), 0, "%s", cause);
	assert_hex(out, 32,
	    "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
	ph_seal_share_free(s);
}

static const char alice_priv[] =
    "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
static const char alice_pub[] =
    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
static const char bob_priv[] =
    "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
static const char bob_pub[] =
    "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
static const char rfc7748_k[] =
    "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

Test(seal, x25519_rfc7748_section_6_1)
{
	uint8_t			 priv[32], pa[32], pb[32], k1[32], k2[32];
	struct ph_seal_share	*a, *b;
	char			*cause = NULL;

	unhex(alice_priv, priv, 32);
	cr_assert_not_null(a = ph_seal_share_from_private(priv, &cause));
	unhex(bob_priv, priv, 32);
	cr_assert_not_null(b = ph_seal_share_from_private(priv, &cause));
	ph_seal_share_public(a, pa);
	ph_seal_share_public(b, pb);
	assert_hex(pa, 32, alice_pub);
	assert_hex(pb, 32, bob_pub);
	cr_assert_eq(ph_seal_exchange(a, pb, k1, &cause), 0);
	cr_assert_eq(ph_seal_exchange(b, pa, k2, &cause), 0);
	assert_hex(k1, 32, rfc7748_k);
	assert_hex(k2, 32, rfc7748_k);
	ph_seal_share_free(a);
	ph_seal_share_free(b);
}

Test(seal, x25519_small_order_refused)
{
	uint8_t			 zero[32] = { 0 }, one[32] = { 1 }, out[32];
	struct ph_seal_share	*s;
	char			*cause = NULL;

	cr_assert_not_null(s = ph_seal_share_new(&cause));
	cr_assert_eq(ph_seal_exchange(s, zero, out, &cause), -1);
	assert_cause(cause, "small order");
	cause = NULL;
	cr_assert_eq(ph_seal_exchange(s, one, out, &cause), -1);
	assert_cause(cause, "small order");
	ph_seal_share_free(s);
}

Test(seal, share_text)
{
	uint8_t	 share[32], back[32];
	char	*t, *cause = NULL;

	unhex(alice_pub, share, 32);
	cr_assert_not_null(t = ph_seal_share_encode(share));
	cr_assert_eq(strlen(t), 43);
	cr_assert_eq(ph_seal_share_decode(t, back, &cause), 0);
	cr_assert_arr_eq(share, back, 32);
	t[42] = '\0';
	cr_assert_eq(ph_seal_share_decode(t, back, &cause), -1);
	assert_cause(cause, "32 bytes");
	free(t);
}

/* ---- RFC 8439 ---- */

static const char rfc8439_pt[] = "Ladies and Gentlemen of the class of '99: "
    "If I could offer you only one tip for the future, sunscreen would be it.";
static const char rfc8439_ct_tag[] =
    "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
    "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
    "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
    "3ff4def08e4b7a9de576d26586cec64b6116"
    "1ae10b594f09e26a7e902ecbd0600691";

Test(seal, chacha20_poly1305_rfc8439_2_8_2)
{
	uint8_t	 key[32], nonce[12], ad[12], out[256], back[256], exp[256];
	size_t	 len = strlen(rfc8439_pt), i, n;
	char	*cause = NULL;

	for (i = 0; i < 32; i++)
		key[i] = (uint8_t)(0x80 + i);
	unhex("070000004041424344454647", nonce, 12);
	unhex("50515253c0c1c2c3c4c5c6c7", ad, 12);
	cr_assert_eq(ph_seal_aead_seal(key, nonce, ad, 12,
	    (const uint8_t *)rfc8439_pt, len, out, &cause), 0, "%s", cause);
	assert_hex(out, len + 16, rfc8439_ct_tag);

	n = unhex(rfc8439_ct_tag, exp, sizeof exp);
	cr_assert_eq(ph_seal_aead_open(key, nonce, ad, 12, exp, n, back,
	    &cause), 0, "%s", cause);
	cr_assert_arr_eq(back, rfc8439_pt, len);

	/* A bit of the tag, of the ciphertext, of the associated data. */
	exp[n - 1] ^= 0x01;
	cr_assert_eq(ph_seal_aead_open(key, nonce, ad, 12, exp, n, back,
	    &cause), -1);
	assert_cause(cause, "does not authenticate");
	for (i = 0; i < len; i++)
		cr_assert_eq(back[i], 0, "plaintext left after a failed open");
	exp[n - 1] ^= 0x01;
	exp[3] ^= 0x40;
	cr_assert_eq(ph_seal_aead_open(key, nonce, ad, 12, exp, n, back,
	    &cause), -1);
	assert_cause(cause, "does not authenticate");
	exp[3] ^= 0x40;
	ad[0] ^= 0x80;
	cr_assert_eq(ph_seal_aead_open(key, nonce, ad, 12, exp, n, back,
	    &cause), -1);
	assert_cause(cause, "does not authenticate");
}

Test(seal, record_nonce)
{
	uint8_t	nonce[12];

	/* The form of RFC 8439's A.5 nonce: 4 zero bytes, then 64 bits. */
	ph_seal_nonce(0x0102030405060708ull, nonce);
	assert_hex(nonce, 12, "000000000102030405060708");
	ph_seal_nonce(0, nonce);
	assert_hex(nonce, 12, "000000000000000000000000");
}

/* ---- RFC 5869 ---- */

Test(seal, hkdf_rfc5869_case_1)
{
	uint8_t	 ikm[22], salt[13], info[10], prk[32], okm[42];
	char	*cause = NULL;

	memset(ikm, 0x0b, sizeof ikm);
	unhex("000102030405060708090a0b0c", salt, sizeof salt);
	unhex("f0f1f2f3f4f5f6f7f8f9", info, sizeof info);
	cr_assert_eq(ph_seal_hkdf_extract(salt, sizeof salt, ikm, sizeof ikm,
	    prk, &cause), 0, "%s", cause);
	assert_hex(prk, 32,
	    "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5");
	cr_assert_eq(ph_seal_hkdf_expand(prk, info, sizeof info, okm, sizeof okm,
	    &cause), 0, "%s", cause);
	assert_hex(okm, 42, "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db0"
	    "2d56ecc4c5bf34007208d5b887185865");
}

Test(seal, hkdf_rfc5869_case_3)
{
	uint8_t	 ikm[22], prk[32], okm[42];
	char	*cause = NULL;

	memset(ikm, 0x0b, sizeof ikm);
	cr_assert_eq(ph_seal_hkdf_extract(NULL, 0, ikm, sizeof ikm, prk,
	    &cause), 0, "%s", cause);
	assert_hex(prk, 32,
	    "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04");
	cr_assert_eq(ph_seal_hkdf_expand(prk, NULL, 0, okm, sizeof okm, &cause),
	    0, "%s", cause);
	assert_hex(okm, 42, "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec345"
	    "4e5f3c738d2d9d201395faa4b61a96c8");
	cr_assert_eq(ph_seal_hkdf_expand(prk, NULL, 0, okm, 255 * 32 + 1,
	    &cause), -1);
	assert_cause(cause, "expands to");
}

/* ---- A session: the client is RFC 7748's Alice, the agent Bob ---- */

static const char vec_open[] = "s16:porthole-open-v2,s2:j1,o0:,";
static const char vec_sid[] = "0123456789abcdef0123456789abcdef";

struct pair {
	struct ph_seal	*client;
	struct ph_seal	*agent;
	uint8_t		 th[32];
	uint8_t		 cpub[32];
	uint8_t		 apub[32];
};

/* Both ends of a session keyed from two shares (random when priv is NULL). */
static void
pair_make(struct pair *p, const char *cpriv, const char *apriv, const char *sid)
{
	struct ph_seal_share	*c, *a;
	uint8_t			 priv[32];
	char			*cause = NULL;

	if (cpriv != NULL) {
		unhex(cpriv, priv, 32);
		c = ph_seal_share_from_private(priv, &cause);
		unhex(apriv, priv, 32);
		a = ph_seal_share_from_private(priv, &cause);
	} else {
		c = ph_seal_share_new(&cause);
		a = ph_seal_share_new(&cause);
	}
	cr_assert_not_null(c, "%s", cause);
	cr_assert_not_null(a, "%s", cause);
	ph_seal_share_public(c, p->cpub);
	ph_seal_share_public(a, p->apub);
	cr_assert_eq(ph_seal_transcript((const uint8_t *)vec_open,
	    strlen(vec_open), p->cpub, p->apub, sid, p->th, &cause), 0,
	    "%s", cause);
	p->client = ph_seal_new(PH_SEAL_CLIENT, c, p->apub, p->th, &cause);
	cr_assert_not_null(p->client, "%s", cause);
	p->agent = ph_seal_new(PH_SEAL_AGENT, a, p->cpub, p->th, &cause);
	cr_assert_not_null(p->agent, "%s", cause);
	ph_seal_share_free(c);
	ph_seal_share_free(a);
}

static void
pair_free(struct pair *p)
{
	ph_seal_free(p->client);
	ph_seal_free(p->agent);
}

/* Seal one frame (type byte + text); returns the record's length. */
static size_t
seal_frame(struct ph_seal *s, int type, const char *text, uint64_t ack,
    uint8_t *out)
{
	uint8_t	 frame[256];
	size_t	 n = strlen(text), len = 0;
	char	*cause = NULL;

	frame[0] = (uint8_t)type;
	memcpy(frame + 1, text, n);
	cr_assert_eq(ph_seal_record(s, PH_SEAL_DATA, frame, n + 1, ack, out,
	    PH_SEAL_RECORD_MAX, &len, &cause), 0, "%s", cause);
	cr_assert_eq(len, n + PH_SEAL_OVERHEAD);
	return len;
}

/* Open a record that must fail, with a cause holding part. */
static void
open_fails(struct ph_seal *s, const uint8_t *rec, size_t len, const char *part)
{
	uint8_t			 plain[PH_SEAL_RECORD_MAX];
	struct ph_seal_rec	 r;
	char			*cause = NULL;

	cr_assert_eq(ph_seal_open(s, rec, len, plain, sizeof plain, &r, &cause),
	    -1, "a record opened that should not have (%s)", part);
	assert_cause(cause, part);
}

/* Open a record that must pass, as a frame of type and text. */
static void
open_ok(struct ph_seal *s, const uint8_t *rec, size_t len, int type,
    const char *text)
{
	uint8_t			 plain[PH_SEAL_RECORD_MAX];
	struct ph_seal_rec	 r;
	char			*cause = NULL;

	cr_assert_eq(ph_seal_open(s, rec, len, plain, sizeof plain, &r, &cause),
	    0, "%s", cause);
	cr_assert_eq(r.kind, PH_SEAL_DATA);
	cr_assert_eq(r.len, strlen(text) + 1);
	cr_assert_eq(r.frame[0], type);
	cr_assert_arr_eq(r.frame + 1, text, strlen(text));
}

Test(seal, transcript_and_first_records_fixed)
{
	struct pair	 p;
	uint8_t		 rec[128], ch[32], proof[32];
	size_t		 n, i;
	char		*cause = NULL;

	pair_make(&p, alice_priv, bob_priv, vec_sid);
	assert_hex(p.th, 32,
	    "32af95d3e80c602cd10126db29d5e9c82d18fa012690d603e0a4a7f6c78c3f2c");
	/* STDIN "hi\n" from the client, then STDOUT "hi\n" acknowledging it. */
	n = seal_frame(p.client, PH_FRAME_STDIN, "hi\n", 0, rec);
	assert_hex(rec, n, "050000000000000000000000000000000000000000000000000096"
	    "62762ad2f3a744c9a2e32646e9f949308e796f");
	open_ok(p.agent, rec, n, PH_FRAME_STDIN, "hi\n");
	n = seal_frame(p.agent, PH_FRAME_STDOUT, "hi\n", 46, rec);
	assert_hex(rec, n, "050000000000000000000000000000000000000000000000002e"
	    "afaf0c76e2f388296949a8408ee9d276c41df4e4");
	open_ok(p.client, rec, n, PH_FRAME_STDOUT, "hi\n");
	for (i = 0; i < 32; i++)
		ch[i] = (uint8_t)i;
	cr_assert_eq(ph_seal_resume_proof(p.client, ch, 46, proof, &cause), 0);
	assert_hex(proof, 32,
	    "eb3c31095ab1dc2644541adc4a08b7d9975cf433efe264e9d0c20c7f904c2ae4");
	pair_free(&p);
}

Test(seal, record_is_the_documented_aead)
{
	/* The record layer's bytes are HKDF + ChaCha20-Poly1305 as seal.h says. */
	static const char info[] = PH_SEAL_CONTEXT "\0client to agent";
	struct pair	 p;
	uint8_t		 k[32], prk[32], key[32], nonce[12], rec[128], want[128];
	uint8_t		 frame[] = { PH_FRAME_CONTROL, '{', '}' };
	size_t		 n;
	char		*cause = NULL;
	int		 i;

	pair_make(&p, alice_priv, bob_priv, vec_sid);
	unhex(rfc7748_k, k, 32);
	cr_assert_eq(ph_seal_hkdf_extract(p.th, 32, k, 32, prk, &cause), 0);
	cr_assert_eq(ph_seal_hkdf_expand(prk, (const uint8_t *)info, sizeof info,
	    key, 32, &cause), 0);
	for (i = 0; i < 3; i++) {
		cr_assert_eq(ph_seal_record(p.client, PH_SEAL_DATA, frame,
		    sizeof frame, 7, rec, sizeof rec, &n, &cause), 0);
		memcpy(want, rec, PH_SEAL_HEADER_LEN);
		ph_seal_nonce((uint64_t)i, nonce);
		cr_assert_eq(ph_seal_aead_seal(key, nonce, rec, PH_SEAL_HEADER_LEN,
		    frame, sizeof frame, want + PH_SEAL_HEADER_LEN, &cause), 0);
		cr_assert_eq(n, PH_SEAL_HEADER_LEN + sizeof frame + 16);
		cr_assert_arr_eq(rec, want, n);
		cr_assert_eq(rec[9], i, "seq in the envelope");
		cr_assert_eq(rec[17], i * n, "offset in the envelope");
		cr_assert_eq(rec[25], 7, "ack in the envelope");
	}
	pair_free(&p);
}

Test(seal, frame_is_the_record_of_the_whole_frame)
{
	/* ph_seal_frame (type byte, payload where it is) == ph_seal_record of both. */
	static uint8_t	 payload[PH_SEAL_MAX_PAYLOAD], whole[PH_SEAL_MAX_PAYLOAD + 1];
	static uint8_t	 a[PH_SEAL_RECORD_MAX], b[PH_SEAL_RECORD_MAX];
	static uint8_t	 plain[PH_SEAL_RECORD_MAX];
	static const size_t sizes[] = { 0, 1, 63, 64, 65, 1000, 16384,
	    PH_SEAL_MAX_PAYLOAD };
	struct pair	 p, q;
	struct ph_seal_rec r;
	size_t		 i, j, na, nb;
	char		*cause = NULL;

	for (j = 0; j < sizeof payload; j++)
		payload[j] = (uint8_t)(j * 7 + 3);
	pair_make(&p, alice_priv, bob_priv, vec_sid);
	pair_make(&q, alice_priv, bob_priv, vec_sid);
	for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		whole[0] = PH_FRAME_STDOUT;
		memcpy(whole + 1, payload, sizes[i]);
		cr_assert_eq(ph_seal_record(p.agent, PH_SEAL_DATA, whole, sizes[i] + 1,
		    9, a, sizeof a, &na, &cause), 0, "%s", cause);
		cr_assert_eq(ph_seal_frame(q.agent, PH_FRAME_STDOUT, payload, sizes[i],
		    9, b, sizeof b, &nb, &cause), 0, "%s", cause);
		cr_assert_eq(na, nb);
		cr_assert_eq(nb, sizes[i] + PH_SEAL_OVERHEAD);
		cr_assert_arr_eq(a, b, na, "payload of %zu bytes", sizes[i]);
		cr_assert_eq(ph_seal_open(q.client, b, nb, plain, sizeof plain, &r,
		    &cause), 0, "%s", cause);
		cr_assert_eq(r.len, sizes[i] + 1);
		cr_assert_arr_eq(r.frame, whole, r.len);
	}
	/* One byte too many is refused, as for a whole frame. */
	cr_assert_eq(ph_seal_frame(q.agent, PH_FRAME_STDOUT, whole,
	    PH_SEAL_MAX_PAYLOAD + 1, 0, b, sizeof b, &nb, &cause), -1);
	assert_cause(cause, "holds one frame");
	pair_free(&p);
	pair_free(&q);
}

Test(seal, round_trip_both_ways)
{
	struct pair		 p;
	uint8_t			 rec[PH_SEAL_RECORD_MAX], plain[PH_SEAL_RECORD_MAX];
	uint8_t			*big;
	struct ph_seal_rec	 r;
	struct ph_frame		 f;
	const char		*why;
	size_t			 n, c2a = 0, a2c = 0;
	char			*cause = NULL;
	int			 i, code;

	pair_make(&p, NULL, NULL, vec_sid);
	for (i = 0; i < 20; i++) {
		n = seal_frame(p.client, PH_FRAME_STDIN, "ls -l\n", a2c, rec);
		open_ok(p.agent, rec, n, PH_FRAME_STDIN, "ls -l\n");
		c2a += n;
		cr_assert_eq(ph_seal_received(p.agent), c2a);
		n = seal_frame(p.agent, PH_FRAME_CONTROL,
		    "{\"type\":\"exit\",\"code\":3}", c2a, rec);
		cr_assert_eq(ph_seal_open(p.client, rec, n, plain, sizeof plain,
		    &r, &cause), 0, "%s", cause);
		cr_assert_eq(r.ack, c2a);
		cr_assert_eq(r.off, a2c);
		cr_assert_eq(r.seq, (uint64_t)i);
		/* What is sealed is one frame, decoded as unsealed ones are. */
		cr_assert_eq(ph_frame_decode(r.frame, r.len, &f, &code, &why), 0,
		    "%s", why);
		cr_assert_eq(f.ctl, PH_CTL_EXIT);
		ph_frame_clear(&f);
		a2c += n;
	}
	cr_assert_eq(ph_seal_sent(p.client), c2a);
	cr_assert_eq(ph_seal_sent(p.agent), a2c);

	/* The largest frame, and one byte more. */
	big = malloc(PH_SEAL_MAX_PAYLOAD + 2);
	memset(big, 'x', PH_SEAL_MAX_PAYLOAD + 2);
	big[0] = PH_FRAME_STDOUT;
	cr_assert_eq(ph_seal_record(p.agent, PH_SEAL_DATA, big,
	    PH_SEAL_MAX_PAYLOAD + 1, c2a, rec, sizeof rec, &n, &cause), 0, "%s",
	    cause);
	cr_assert_eq(n, PH_SEAL_RECORD_MAX);
	cr_assert_eq(ph_seal_open(p.client, rec, n, plain, sizeof plain, &r,
	    &cause), 0, "%s", cause);
	cr_assert_eq(r.len, PH_SEAL_MAX_PAYLOAD + 1);
	cr_assert_eq(ph_seal_record(p.agent, PH_SEAL_DATA, big,
	    PH_SEAL_MAX_PAYLOAD + 2, c2a, rec, sizeof rec, &n, &cause), -1);
	assert_cause(cause, "one frame of 1 to");
	free(big);

	/* An ack, then the close; nothing is sealed or opened after it. */
	cr_assert_eq(ph_seal_record(p.agent, PH_SEAL_ACK, NULL, 0, c2a, rec,
	    sizeof rec, &n, &cause), 0);
	cr_assert_eq(n, PH_SEAL_RECORD_MIN);
	cr_assert_eq(ph_seal_open(p.client, rec, n, plain, sizeof plain, &r,
	    &cause), 0, "%s", cause);
	cr_assert_eq(r.kind, PH_SEAL_ACK);
	cr_assert_null(r.frame);
	cr_assert_eq(ph_seal_record(p.agent, PH_SEAL_CLOSE, NULL, 0, c2a, rec,
	    sizeof rec, &n, &cause), 0);
	cr_assert_eq(ph_seal_open(p.client, rec, n, plain, sizeof plain, &r,
	    &cause), 0, "%s", cause);
	cr_assert_eq(r.kind, PH_SEAL_CLOSE);
	cr_assert(ph_seal_peer_closed(p.client));
	cr_assert_eq(ph_seal_record(p.agent, PH_SEAL_ACK, NULL, 0, c2a, rec,
	    sizeof rec, &n, &cause), -1);
	assert_cause(cause, "after this end's close");
	pair_free(&p);
}

/*
 * A record kept for a resume opens again at the end that sealed it (the
 * agent hands a dead client's unacknowledged output to an attach), in any
 * order and as often as asked, without moving either stream; the other
 * end's records, or an altered one, do not open so.
 */
Test(seal, reopen_own_records)
{
	struct pair		 p;
	uint8_t			 r0[PH_SEAL_RECORD_MAX], r1[PH_SEAL_RECORD_MAX];
	uint8_t			 c0[PH_SEAL_RECORD_MAX], plain[PH_SEAL_RECORD_MAX];
	struct ph_seal_rec	 r;
	size_t			 n0, n1, nc;
	char			*cause = NULL;
	int			 i;

	pair_make(&p, NULL, NULL, vec_sid);
	n0 = seal_frame(p.agent, PH_FRAME_STDOUT, "first", 0, r0);
	n1 = seal_frame(p.agent, PH_FRAME_STDERR, "second", 0, r1);
	nc = seal_frame(p.client, PH_FRAME_STDIN, "typed", 0, c0);
	for (i = 0; i < 2; i++) {
		cr_assert_eq(ph_seal_reopen(p.agent, r1, n1, plain, sizeof plain, &r,
		    &cause), 0, "%s", cause);
		cr_assert_eq(r.seq, 1);
		cr_assert_eq(r.off, n0);
		cr_assert_eq(r.len, 7);
		cr_assert_eq(r.frame[0], PH_FRAME_STDERR);
		cr_assert_arr_eq(r.frame + 1, "second", 6);
		cr_assert_eq(ph_seal_reopen(p.agent, r0, n0, plain, sizeof plain, &r,
		    &cause), 0, "%s", cause);
		cr_assert_eq(r.seq, 0);
		cr_assert_arr_eq(r.frame + 1, "first", 5);
	}
	cr_assert_eq(ph_seal_sent(p.agent), n0 + n1);
	cr_assert_eq(ph_seal_received(p.agent), 0);
	/* Sealing goes on where it was, and the client opens it all in order. */
	open_ok(p.client, r0, n0, PH_FRAME_STDOUT, "first");
	open_ok(p.client, r1, n1, PH_FRAME_STDERR, "second");
	n0 = seal_frame(p.agent, PH_FRAME_STDOUT, "third", 0, r0);
	open_ok(p.client, r0, n0, PH_FRAME_STDOUT, "third");
	open_ok(p.agent, c0, nc, PH_FRAME_STDIN, "typed");
	/* The client's record is not the agent's own; an altered one fails. */
	cr_assert_eq(ph_seal_reopen(p.agent, c0, nc, plain, sizeof plain, &r,
	    &cause), -1);
	assert_cause(cause, "does not open with this end's key");
	r0[PH_SEAL_HEADER_LEN] ^= 1;
	cr_assert_eq(ph_seal_reopen(p.agent, r0, n0, plain, sizeof plain, &r,
	    &cause), -1);
	assert_cause(cause, "does not open");
	cr_assert_eq(ph_seal_reopen(p.agent, r0, 3, plain, sizeof plain, &r,
	    &cause), -1);
	assert_cause(cause, "shorter than");
	pair_free(&p);
}

/* ---- Tampering: what a relay that is taken over can try ---- */

/* A fresh session and the client's first two records, r0 and r1. */
struct tamper {
	struct pair	p;
	uint8_t		r0[64], r1[64];
	size_t		n0, n1;
};

static void
tamper_make(struct tamper *t)
{
	pair_make(&t->p, NULL, NULL, vec_sid);
	t->n0 = seal_frame(t->p.client, PH_FRAME_STDIN, "id\n", 0, t->r0);
	t->n1 = seal_frame(t->p.client, PH_FRAME_STDIN, "rm -rf /\n", 0, t->r1);
}

/* The sentence for a flipped bit at byte i of a data record. */
static const char *
flip_cause(size_t i, int bit)
{
	if (i == 0)
		return "not a sealed record";
	if (i == 1)	/* data as ack (bit 0) or close (bit 1), or no kind */
		return bit <= 1 ? "carries" : "unknown kind";
	if (i < 10)	/* seq: higher is a gap, lower cannot be (it is 0) */
		return "dropped or reordered";
	if (i < 18)
		return "envelope was altered";
	return "does not authenticate";	/* ack, ciphertext, tag */
}

Test(seal, tamper_every_bit_of_a_record)
{
	struct tamper	t;
	uint8_t		rec[64];
	size_t		i;
	int		bit;

	for (i = 0; i < 64; i++) {
		for (bit = 0; bit < 8; bit++) {
			tamper_make(&t);
			if (i >= t.n0) {
				pair_free(&t.p);
				return;
			}
			memcpy(rec, t.r0, t.n0);
			rec[i] ^= (uint8_t)(1 << bit);
			open_fails(t.p.agent, rec, t.n0, flip_cause(i, bit));
			/* The first failure is final: the true record is refused. */
			open_fails(t.p.agent, t.r0, t.n0, "already failed");
			pair_free(&t.p);
		}
	}
}

Test(seal, tamper_replay)
{
	struct tamper	t;

	tamper_make(&t);
	open_ok(t.p.agent, t.r0, t.n0, PH_FRAME_STDIN, "id\n");
	open_fails(t.p.agent, t.r0, t.n0, "sealed record 0 was replayed: record 1");
	open_fails(t.p.agent, t.r1, t.n1, "already failed");
	pair_free(&t.p);
}

Test(seal, tamper_reorder)
{
	struct tamper	t;

	tamper_make(&t);
	open_fails(t.p.agent, t.r1, t.n1, "sealed record 1 came where record 0 "
	    "was expected: records were dropped or reordered");
	open_fails(t.p.agent, t.r0, t.n0, "already failed");
	pair_free(&t.p);
}

Test(seal, tamper_drop)
{
	struct tamper	t;
	uint8_t		r2[64];
	size_t		n2;

	tamper_make(&t);
	n2 = seal_frame(t.p.client, PH_FRAME_STDIN, "exit\n", 0, r2);
	open_ok(t.p.agent, t.r0, t.n0, PH_FRAME_STDIN, "id\n");
	open_fails(t.p.agent, r2, n2, "sealed record 2 came where record 1 was "
	    "expected");
	pair_free(&t.p);
}

Test(seal, tamper_drop_and_renumber)
{
	/* Dropping r0 and relabelling r1 as record 0 breaks its tag. */
	struct tamper	t;

	tamper_make(&t);
	t.r1[9] = 0;
	t.r1[17] = 0;
	open_fails(t.p.agent, t.r1, t.n1, "sealed record 0 does not authenticate");
	pair_free(&t.p);
}

Test(seal, tamper_inject)
{
	struct tamper	t;
	uint8_t		rec[64];
	size_t		i;

	tamper_make(&t);
	/* A record in the right place with the right envelope, made up. */
	memcpy(rec, t.r0, PH_SEAL_HEADER_LEN);
	for (i = PH_SEAL_HEADER_LEN; i < t.n0; i++)
		rec[i] = (uint8_t)(i * 37);
	open_fails(t.p.agent, rec, t.n0, "does not authenticate: it was altered "
	    "or injected");
	pair_free(&t.p);

	/* A record after the sender's close. */
	tamper_make(&t);
	{
		uint8_t	 cl[64];
		size_t	 n;
		char	*cause = NULL;

		cr_assert_eq(ph_seal_record(t.p.agent, PH_SEAL_CLOSE, NULL, 0, 0,
		    cl, sizeof cl, &n, &cause), 0);
		cr_assert_eq(ph_seal_open(t.p.client, cl, n, rec, sizeof rec,
		    &(struct ph_seal_rec){ 0 }, &cause), 0, "%s", cause);
		/* The relay replays the close's bytes with seq 1 and new bytes. */
		cl[9] = 1;
		cl[17] = (uint8_t)n;
		open_fails(t.p.client, cl, n, "after the peer's close");
	}
	pair_free(&t.p);
}

Test(seal, tamper_wrong_direction_and_session)
{
	struct tamper	t;
	struct pair	other;

	/* The client's own record reflected back to it. */
	tamper_make(&t);
	open_fails(t.p.client, t.r0, t.n0, "sealed record 0 does not authenticate");
	pair_free(&t.p);

	/* A record of another session (other shares, same sid and open). */
	tamper_make(&t);
	pair_make(&other, NULL, NULL, vec_sid);
	open_fails(other.agent, t.r0, t.n0, "does not authenticate");
	pair_free(&other);
	pair_free(&t.p);

	/* Same shares, another session id: another transcript, other keys. */
	{
		struct pair a, b;

		pair_make(&a, alice_priv, bob_priv, vec_sid);
		pair_make(&b, alice_priv, bob_priv, "fedcba9876543210fedcba9876543210");
		cr_assert_arr_neq(a.th, b.th, 32);
		{
			uint8_t	 rec[64];
			size_t	 n = seal_frame(a.client, PH_FRAME_STDIN, "id\n", 0,
			    rec);
			open_fails(b.agent, rec, n, "does not authenticate");
		}
		pair_free(&a);
		pair_free(&b);
	}
}

Test(seal, envelope_shape)
{
	uint8_t			 rec[PH_SEAL_RECORD_MAX + 1] = { 0 };
	struct ph_seal_env	 env;
	char			*cause = NULL;

	rec[0] = PH_SEAL_FRAME;
	cr_assert_eq(ph_seal_envelope(rec, PH_SEAL_RECORD_MIN - 1, &env, &cause), -1);
	assert_cause(cause, "shorter than its envelope");
	cr_assert_eq(ph_seal_envelope(rec, sizeof rec, &env, &cause), -1);
	assert_cause(cause, "over the");
	cr_assert_eq(ph_seal_envelope(rec, PH_SEAL_RECORD_MIN, &env, &cause), -1);
	assert_cause(cause, "holds no frame");
	rec[1] = PH_SEAL_ACK;
	cr_assert_eq(ph_seal_envelope(rec, PH_SEAL_RECORD_MIN, &env, &cause), 0);
	cr_assert_eq(env.sealed, 0);
	cr_assert_eq(ph_seal_envelope(rec, PH_SEAL_RECORD_MIN + 1, &env, &cause), -1);
	assert_cause(cause, "only data records do");
	rec[1] = 3;
	cr_assert_eq(ph_seal_envelope(rec, PH_SEAL_RECORD_MIN, &env, &cause), -1);
	assert_cause(cause, "unknown kind 3");
	rec[1] = PH_SEAL_DATA;
	rec[2] = 0x80;
	rec[17] = 5;
	rec[25] = 9;
	cr_assert_eq(ph_seal_envelope(rec, 100, &env, &cause), 0);
	cr_assert_eq(env.seq, 0x8000000000000000ull);
	cr_assert_eq(env.off, 5);
	cr_assert_eq(env.ack, 9);
	cr_assert_eq(env.sealed, 100 - PH_SEAL_RECORD_MIN);
}

/* ---- The agent's share, signed ---- */

Test(seal, agent_share_signature)
{
	struct ph_key	*agent_key, *other, *pub_only;
	struct pair	 p;
	uint8_t		 sig[64], th2[32], mallory[32];
	char		*cause = NULL, *pem;
	int		 i;

	cr_assert_not_null(agent_key = ph_key_generate(&cause));
	cr_assert_not_null(other = ph_key_generate(&cause));
	pem = ph_key_public_pem(agent_key, &cause);
	pub_only = ph_key_from_pem(pem, strlen(pem), 1, "agent.pub", &cause);
	cr_assert_not_null(pub_only, "%s", cause);
	free(pem);
	pair_make(&p, NULL, NULL, vec_sid);

	cr_assert_eq(ph_seal_share_sign(agent_key, p.th, sig, &cause), 0, "%s",
	    cause);
	cr_assert_eq(ph_seal_share_verify(pub_only, p.th, sig, &cause), 0, "%s",
	    cause);
	/* The key as an agent token's cnf carries it (an RFC 8037 JWK). */
	{
		json_t		*jwk = ph_key_jwk(agent_key);
		struct ph_key	*from_cnf = ph_key_from_jwk(jwk, &cause);

		cr_assert_not_null(from_cnf, "%s", cause);
		cr_assert_eq(ph_seal_share_verify(from_cnf, p.th, sig, &cause), 0,
		    "%s", cause);
		ph_key_free(from_cnf);
		json_decref(jwk);
	}

	/* A relay swaps in its own share: the transcript differs. */
	for (i = 0; i < 32; i++)
		mallory[i] = (uint8_t)(p.apub[i] ^ 0x5a);
	cr_assert_eq(ph_seal_transcript((const uint8_t *)vec_open,
	    strlen(vec_open), p.cpub, mallory, vec_sid, th2, &cause), 0);
	cr_assert_eq(ph_seal_share_verify(pub_only, th2, sig, &cause), -1);
	assert_cause(cause, "not signed by its agent key");
	/* Signed by another key (an agent of another token). */
	cr_assert_eq(ph_seal_share_sign(other, p.th, sig, &cause), 0);
	cr_assert_eq(ph_seal_share_verify(pub_only, p.th, sig, &cause), -1);
	assert_cause(cause, "not signed by its agent key");
	/* A flipped bit of the signature. */
	cr_assert_eq(ph_seal_share_sign(agent_key, p.th, sig, &cause), 0);
	sig[10] ^= 1;
	cr_assert_eq(ph_seal_share_verify(pub_only, p.th, sig, &cause), -1);
	assert_cause(cause, "not signed by its agent key");
	/* No key: not authenticated; a public half cannot sign. */
	cr_assert_eq(ph_seal_share_verify(NULL, p.th, sig, &cause), -1);
	assert_cause(cause, "the agent is not authenticated");
	cr_assert_eq(ph_seal_share_sign(pub_only, p.th, sig, &cause), -1);
	assert_cause(cause, "private half");
	pair_free(&p);
	ph_key_free(agent_key);
	ph_key_free(other);
	ph_key_free(pub_only);
}

Test(seal, transcript_binds_everything)
{
	uint8_t	 c[32], a[32], th[32], t2[32];
	char	*cause = NULL;
	uint8_t	 open2[] = "s16:porthole-open-v2,s2:j2,o0:,";

	unhex(alice_pub, c, 32);
	unhex(bob_pub, a, 32);
	cr_assert_eq(ph_seal_transcript((const uint8_t *)vec_open,
	    strlen(vec_open), c, a, vec_sid, th, &cause), 0);
	cr_assert_eq(ph_seal_transcript(open2, strlen((char *)open2), c, a,
	    vec_sid, t2, &cause), 0);
	cr_assert_arr_neq(th, t2, 32);
	cr_assert_eq(ph_seal_transcript((const uint8_t *)vec_open,
	    strlen(vec_open), a, c, vec_sid, t2, &cause), 0);
	cr_assert_arr_neq(th, t2, 32, "shares swapped");
	cr_assert_eq(ph_seal_transcript((const uint8_t *)vec_open,
	    strlen(vec_open), c, a, NULL, t2, &cause), -1);
	assert_cause(cause, "session id");
	cr_assert_eq(ph_seal_transcript(NULL, 0, c, a, vec_sid, t2, &cause), -1);
	assert_cause(cause, "no signed open");
}

/* ---- Resume proofs ---- */

Test(seal, resume_proof)
{
	struct pair	p, q;
	uint8_t		ch[32], ch2[32], proof[32];
	char		*cause = NULL;

	pair_make(&p, NULL, NULL, vec_sid);
	pair_make(&q, NULL, NULL, vec_sid);
	cr_assert_eq(ph_seal_challenge(ch, &cause), 0);
	cr_assert_eq(ph_seal_challenge(ch2, &cause), 0);
	cr_assert_arr_neq(ch, ch2, 32);

	/* The client proves itself to the agent, and the agent to the client. */
	cr_assert_eq(ph_seal_resume_proof(p.client, ch, 4096, proof, &cause), 0);
	cr_assert_eq(ph_seal_resume_verify(p.agent, ch, 4096, proof, &cause), 0,
	    "%s", cause);
	cr_assert_eq(ph_seal_resume_verify(p.agent, ch2, 4096, proof, &cause), -1);
	assert_cause(cause, "answered another challenge");
	cr_assert_eq(ph_seal_resume_verify(p.agent, ch, 4097, proof, &cause), -1);
	assert_cause(cause, "its offset was altered");
	/* Another session's proof. */
	cr_assert_eq(ph_seal_resume_verify(q.agent, ch, 4096, proof, &cause), -1);
	assert_cause(cause, "does not hold this session's keys");
	/* The client's proof reflected back at the client, as if the agent's. */
	cr_assert_eq(ph_seal_resume_verify(p.client, ch, 4096, proof, &cause), -1);
	assert_cause(cause, "the resume proof does not verify");
	cr_assert_eq(ph_seal_resume_proof(p.agent, ch2, 77, proof, &cause), 0);
	cr_assert_eq(ph_seal_resume_verify(p.client, ch2, 77, proof, &cause), 0,
	    "%s", cause);
	pair_free(&p);
	pair_free(&q);
}

/* ---- A stream resumed after its connection dropped ---- */

Test(seal, resume_through_seal)
{
	struct pair		 p;
	struct ph_resume	 tx, rx;
	uint8_t			 rec[PH_SEAL_RECORD_MAX], plain[PH_SEAL_RECORD_MAX];
	uint8_t			 frame[600];
	struct ph_seal_rec	 r;
	const uint8_t		*m;
	size_t			 n, len;
	uint64_t		 off;
	char			*cause = NULL;
	int			 i, got = 0, sent;

	pair_make(&p, NULL, NULL, vec_sid);
	cr_assert_eq(ph_resume_init(&tx, 0, &cause), 0);
	cr_assert_eq(ph_resume_init(&rx, 0, &cause), 0);
	/* 30 records of STDOUT, numbered; the agent keeps each before sending. */
	for (i = 0; i < 30; i++) {
		frame[0] = PH_FRAME_STDOUT;
		memset(frame + 1, 'a' + i % 26, (size_t)(i * 19 % 590));
		frame[1] = (uint8_t)i;
		cr_assert_eq(ph_seal_record(p.agent, PH_SEAL_DATA, frame,
		    2 + (size_t)(i * 19 % 590), 0, rec, sizeof rec, &n, &cause), 0);
		cr_assert_eq(ph_resume_push(&tx, rec, n, &off, &cause), 0);
		cr_assert_eq(off + n, ph_seal_sent(p.agent));
	}
	/* The first connection carries 17 records; the client opens 11. */
	for (sent = 0; sent < 17; sent++)
		cr_assert_eq(ph_resume_next(&tx, &m, &len, &off), 1);
	cr_assert_eq(ph_resume_rewind(&tx, 0, &cause), 0);	/* replay them */
	for (i = 0; i < 11; i++) {
		cr_assert_eq(ph_resume_next(&tx, &m, &len, &off), 1);
		cr_assert_eq(ph_seal_open(p.client, m, len, plain, sizeof plain, &r,
		    &cause), 0, "%s", cause);
		cr_assert_eq(ph_resume_receive(&rx, r.off, len, &cause), 0);
		cr_assert_eq(plain[1], got++);
	}
	cr_assert_eq(ph_resume_ack(&tx, ph_resume_ack_take(&rx) - len, &cause), 0);
	/* Dropped.  The client states what it has; the agent goes on from it. */
	cr_assert_eq(ph_resume_rewind(&tx, ph_seal_received(p.client), &cause), 0,
	    "%s", cause);
	while (ph_resume_next(&tx, &m, &len, &off) == 1) {
		cr_assert_eq(ph_seal_open(p.client, m, len, plain, sizeof plain, &r,
		    &cause), 0, "%s", cause);
		cr_assert_eq(ph_resume_receive(&rx, r.off, len, &cause), 0);
		cr_assert_eq(plain[1], got++, "exactly once, in order");
	}
	cr_assert_eq(got, 30);
	cr_assert_eq(ph_seal_received(p.client), ph_seal_sent(p.agent));
	ph_resume_clear(&tx);
	ph_resume_clear(&rx);
	pair_free(&p);
}
