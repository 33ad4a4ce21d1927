/*
 * fuzz_seal.c - libFuzzer target for the sealed record opener
 * (src/seal.c), what a hostile relay talks to, and the resume bookkeeping
 * behind it (src/resume.c).
 *
 * The input is a stream of messages, each a 2-byte big-endian length and
 * that many bytes, delivered to the agent end of one fixed session (the
 * client is RFC 7748's Alice, the agent Bob, over a fixed open and sid):
 * first the keyless envelope parser, then ph_seal_open.  A mirror of the
 * client end seals alongside.  Aborts (a finding) when:
 *  - a message opens but the envelope parser refused it, or the other way
 *    round disagrees on seq, offset or ack;
 *  - a message opens that is not byte for byte what the true client would
 *    have sealed at that place (same kind, frame and ack): anything else
 *    opening would be a forgery;
 *  - a message opens after one failed (the first failure is final);
 *  - the resume bookkeeping refuses the offsets of a record that opened.
 * The seed corpus (corpus/seal/) holds streams of genuine records, so
 * mutations start from records that open.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/resume.h"
#include "porthole/seal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t alice[32] = {
	0x77, 0x07, 0x6d, 0x0a, 0x73, 0x18, 0xa5, 0x7d, 0x3c, 0x16, 0xc1, 0x72,
	0x51, 0xb2, 0x66, 0x45, 0xdf, 0x4c, 0x2f, 0x87, 0xeb, 0xc0, 0x99, 0x2a,
	0xb1, 0x77, 0xfb, 0xa5, 0x1d, 0xb9, 0x2c, 0x2a };
static const uint8_t bob[32] = {
	0x5d, 0xab, 0x08, 0x7e, 0x62, 0x4a, 0x8a, 0x4b, 0x79, 0xe1, 0x7f, 0x8b,
	0x83, 0x80, 0x0e, 0xe6, 0x6f, 0x3b, 0xb1, 0x29, 0x26, 0x18, 0xb6, 0xfd,
	0x1c, 0x2f, 0x8b, 0x27, 0xff, 0x88, 0xe0, 0xeb };
static const char fz_open[] = "s16:porthole-open-v2,s2:j1,o0:,";
static const char fz_sid[] = "0123456789abcdef0123456789abcdef";

static struct ph_seal_share	*share_c, *share_a;
static uint8_t			 th[PH_SEAL_HASH_LEN], pub_c[32], pub_a[32];

static void
fz_init(void)
{
	char	*cause = NULL;

	if (share_c != NULL)
		return;
	share_c = ph_seal_share_from_private(alice, &cause);
	share_a = ph_seal_share_from_private(bob, &cause);
	if (share_c == NULL || share_a == NULL)
		abort();
	ph_seal_share_public(share_c, pub_c);
	ph_seal_share_public(share_a, pub_a);
	if (ph_seal_transcript((const uint8_t *)fz_open, strlen(fz_open), pub_c,
	    pub_a, fz_sid, th, &cause) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t		 plain[PH_SEAL_RECORD_MAX], again[PH_SEAL_RECORD_MAX];
	struct ph_seal		*agent, *mirror;
	struct ph_seal_env	 env;
	struct ph_seal_rec	 rec;
	struct ph_resume	 rx;
	char			*cause = NULL;
	size_t			 off = 0, len, n;
	int			 env_ok, failed = 0;

	fz_init();
	agent = ph_seal_new(PH_SEAL_AGENT, share_a, pub_c, th, &cause);
	mirror = ph_seal_new(PH_SEAL_CLIENT, share_c, pub_a, th, &cause);
	if (agent == NULL || mirror == NULL || ph_resume_init(&rx, 0, &cause) != 0)
		abort();
	while (size - off >= 2) {
		len = (size_t)data[off] << 8 | data[off + 1];
		off += 2;
		if (len > size - off)
			len = size - off;
		env_ok = ph_seal_envelope(data + off, len, &env, &cause) == 0;
		free(cause);
		cause = NULL;
		if (ph_seal_open(agent, data + off, len, plain, sizeof plain, &rec,
		    &cause) == 0) {
			if (failed || !env_ok || rec.seq != env.seq ||
			    rec.off != env.off || rec.ack != env.ack)
				abort();
			if (ph_seal_record(mirror, rec.kind, rec.frame, rec.len,
			    rec.ack, again, sizeof again, &n, &cause) != 0 ||
			    n != len || memcmp(again, data + off, len) != 0)
				abort();
			if (ph_resume_receive(&rx, rec.off, len, &cause) != 0)
				abort();
		} else {
			failed = 1;
			free(cause);
			cause = NULL;
		}
		off += len;
	}
	ph_resume_clear(&rx);
	ph_seal_free(agent);
	ph_seal_free(mirror);
	return 0;
}
