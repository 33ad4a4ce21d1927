/*
 * fuzz_artseal.c - libFuzzer target for the sealed-artifact reader
 * (src/artseal.c): what `artifacts get --key` opens and the relay checks
 * the framing of, bytes a hostile relay or bucket chooses.
 *
 * The input's first byte picks the size of the pieces (1..256 bytes, or
 * the whole rest); the rest is a sealed stream, fed in those pieces both
 * to a reader with the recipient's key (RFC 7748's Bob) and to the
 * keyless framing check.  Aborts (a finding) when:
 *  - the keyed reader takes a stream the framing check refuses, or takes
 *    more of it before failing (the framing is part of what opens);
 *  - the keyed reader ends without its count of opened bytes matching the
 *    final record's, or hands out more than one record's worth at once;
 *  - a feed after a failure succeeds.
 * Then the same input is sealed to Bob (in records of the chosen size)
 * and opened again: anything but the same bytes, complete, is a finding.
 * The seed corpus (corpus/artseal/) holds genuine streams sealed to Bob.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/artseal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t bob[32] = {
	0x5d, 0xab, 0x08, 0x7e, 0x62, 0x4a, 0x8a, 0x4b, 0x79, 0xe1, 0x7f, 0x8b,
	0x83, 0x80, 0x0e, 0xe6, 0x6f, 0x3b, 0xb1, 0x29, 0x26, 0x18, 0xb6, 0xfd,
	0x1c, 0x2f, 0x8b, 0x27, 0xff, 0x88, 0xe0, 0xeb };
static const uint8_t bob_pub[32] = {
	0xde, 0x9e, 0xdb, 0x7d, 0x7b, 0x7d, 0xc1, 0xb4, 0xd3, 0x5b, 0x61, 0xc2,
	0xec, 0xe4, 0x35, 0x37, 0x3f, 0x83, 0x43, 0xc8, 0x5b, 0x78, 0x67, 0x4d,
	0xad, 0xfc, 0x7e, 0x14, 0x6f, 0x88, 0x2b, 0x4f };

struct fz_out {
	uint8_t		*buf;		/* NULL: count only */
	size_t		 len, cap;
};

static int
fz_out(void *arg, const uint8_t *p, size_t n)
{
	struct fz_out	*o = arg;

	if (n == 0 || n > PH_ARTSEAL_CHUNK)
		abort();
	if (o->buf != NULL) {
		if (n > o->cap - o->len)
			abort();
		memcpy(o->buf + o->len, p, n);
	}
	o->len += n;
	return 0;
}

/* Feed p in pieces of step to r: 0, or -1 at the first refusal. */
static int
fz_feed(struct ph_artseal_rd *r, const uint8_t *p, size_t n, size_t step,
    struct fz_out *o)
{
	char	*cause = NULL;
	size_t	 off, k;
	int	 rc;

	for (off = 0; off < n; off += k) {
		k = n - off < step ? n - off : step;
		if (ph_artseal_rd_feed(r, p + off, k, fz_out, o, &cause) != 0) {
			free(cause);
			cause = NULL;
			/* The first failure is final. */
			rc = ph_artseal_rd_feed(r, p, 1, fz_out, o, &cause);
			free(cause);
			if (rc == 0)
				abort();
			return -1;
		}
	}
	return 0;
}

/* Seal data to Bob in records of step bytes and open it again. */
static void
fz_round_trip(const uint8_t *data, size_t size, size_t step)
{
	static uint8_t		 st[PH_ARTSEAL_HEADER_LEN + 4096 * PH_ARTSEAL_REC_OVERHEAD +
	    65536 + PH_ARTSEAL_REC_MAX], back[65536];
	struct ph_artseal	*s;
	struct ph_artseal_rd	*r;
	struct ph_artseal_final	 f;
	struct fz_out		 o = { back, 0, sizeof back };
	char			*cause = NULL;
	size_t			 len = PH_ARTSEAL_HEADER_LEN, off, k, rl;

	if (size > sizeof back)
		size = sizeof back;
	if ((s = ph_artseal_new(bob_pub, st, &cause)) == NULL)
		abort();
	for (off = 0; off < size; off += k) {
		k = size - off < step ? size - off : step;
		if (ph_artseal_data(s, data + off, k, st + len, &rl, &cause) != 0)
			abort();
		len += rl;
	}
	if (ph_artseal_final(s, 1, st + len, &rl, &cause) != 0)
		abort();
	len += rl;
	ph_artseal_free(s);
	if ((r = ph_artseal_rd_new(bob, &cause)) == NULL)
		abort();
	if (fz_feed(r, st, len, step + 3, &o) != 0 ||
	    ph_artseal_rd_end(r, &f, &cause) != 0 || !f.complete ||
	    f.bytes != size || o.len != size || memcmp(back, data, size) != 0)
		abort();
	ph_artseal_rd_free(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ph_artseal_rd	*keyed, *bare;
	struct ph_artseal_final	 f;
	struct fz_out		 o = { NULL, 0, 0 };
	char			*cause = NULL;
	size_t			 step;
	int			 k_ok, b_ok;

	if (size < 1)
		return 0;
	step = data[0] == 0 ? size : data[0];
	data++;
	size--;
	if ((keyed = ph_artseal_rd_new(bob, &cause)) == NULL ||
	    (bare = ph_artseal_rd_new(NULL, &cause)) == NULL)
		abort();
	k_ok = fz_feed(keyed, data, size, step, &o) == 0;
	b_ok = fz_feed(bare, data, size, step, NULL) == 0;
	if (k_ok && !b_ok)
		abort();
	if (!b_ok && ph_artseal_rd_offset(keyed) > ph_artseal_rd_offset(bare))
		abort();
	if (k_ok && ph_artseal_rd_end(keyed, &f, &cause) == 0) {
		if (f.bytes != o.len || ph_artseal_rd_end(bare, NULL, &cause) != 0)
			abort();
	} else {
		free(cause);
		cause = NULL;
	}
	ph_artseal_rd_free(keyed);
	ph_artseal_rd_free(bare);
	if (size <= 4096)
		fz_round_trip(data, size, step);
	return 0;
}
