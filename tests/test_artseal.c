/*
 * test_artseal.c - unit tests of sealed artifacts (src/artseal.c): a
 * stream sealed and opened again in pieces of every size, the keyless
 * framing check agreeing with the keyed reader, and each way the relay or
 * the bucket can spoil one: a wrong key (named), a flipped bit anywhere, a
 * truncated stream (at every record boundary and inside records), a
 * dropped, repeated or reordered record, bytes after the final record, a
 * record's kind changed; and the key file written by keygen read back.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "porthole/artseal.h"

struct sink {
	uint8_t	*buf;
	size_t	 len, cap;
};

static int
sink_out(void *arg, const uint8_t *p, size_t n)
{
	struct sink	*s = arg;

	cr_assert_leq(s->len + n, s->cap);
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	return 0;
}

static uint8_t	priv[32], pub[32], clear[300000];

/* A key pair and a sealed stream of n clear bytes into *out (malloc'd). */
static size_t
seal_stream(size_t n, int complete, uint8_t **out)
{
	struct ph_artseal	*s;
	char			*cause = NULL, path[] = "/tmp/test_artseal.XXXXXX";
	uint8_t			*buf = malloc(PH_ARTSEAL_HEADER_LEN + n + (n / 1000 + 2) *
	    PH_ARTSEAL_REC_OVERHEAD + PH_ARTSEAL_FINAL_LEN);
	size_t			 len = 0, k, rl, off;
	int			 fd;

	if (pub[0] == 0 && pub[1] == 0) {
		cr_assert_neq(fd = mkstemp(path), -1);
		close(fd);
		cr_assert_eq(ph_artseal_keygen(path, 1, pub, &cause), 0, "%s", cause);
		cr_assert_eq(ph_artseal_key_load(path, priv, pub, &cause), 0, "%s", cause);
		unlink(path);
		for (k = 0; k < sizeof clear; k++)
			clear[k] = (uint8_t)(k * 7 + k / 1000);
	}
	cr_assert_not_null(s = ph_artseal_new(pub, buf, &cause), "%s", cause);
	len = PH_ARTSEAL_HEADER_LEN;
	/* Records of varying sizes, as a pipe gives them. */
	for (off = 0; off < n; off += k) {
		k = n - off < 1000 ? n - off : 1000;
		cr_assert_eq(ph_artseal_data(s, clear + off, k, buf + len, &rl, &cause), 0);
		len += rl;
	}
	cr_assert_eq(ph_artseal_final(s, complete, buf + len, &rl, &cause), 0);
	len += rl;
	cr_assert_neq(ph_artseal_data(s, clear, 1, buf + len, &rl, &cause), 0,
	    "nothing is sealed after the final record");
	free(cause);
	ph_artseal_free(s);
	*out = buf;
	return len;
}

/* Open stream in pieces of step bytes: 0 and the clear bytes, or -1 and why. */
static int
open_stream(const uint8_t *key, const uint8_t *p, size_t n, size_t step,
    struct sink *out, struct ph_artseal_final *f, char **cause)
{
	struct ph_artseal_rd	*r = ph_artseal_rd_new(key, cause);
	size_t			 off, k;
	int			 rc = 0;

	cr_assert_not_null(r);
	for (off = 0; off < n && rc == 0; off += k) {
		k = n - off < step ? n - off : step;
		rc = ph_artseal_rd_feed(r, p + off, k, sink_out, out, cause);
	}
	if (rc == 0)
		rc = ph_artseal_rd_end(r, f, cause);
	ph_artseal_rd_free(r);
	return rc;
}

Test(artseal, round_trip_in_pieces)
{
	static uint8_t		 got[sizeof clear];
	const size_t		 steps[] = { 1, 5, 72, 1021, 65536, 1 << 20 };
	struct ph_artseal_final	 f;
	struct sink		 s;
	uint8_t			*st;
	char			*cause = NULL;
	size_t			 n = seal_stream(200000, 1, &st), i;

	for (i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		s = (struct sink){ got, 0, sizeof got };
		cr_assert_eq(open_stream(priv, st, n, steps[i], &s, &f, &cause), 0,
		    "step %zu: %s", steps[i], cause);
		cr_assert_eq(s.len, 200000);
		cr_assert_eq(memcmp(got, clear, 200000), 0);
		cr_assert_eq(f.complete, 1);
		cr_assert_eq(f.bytes, 200000);
		/* The keyless check agrees. */
		cr_assert_eq(open_stream(NULL, st, n, steps[i], &s, &f, &cause), 0);
	}
	free(st);
	n = seal_stream(0, 0, &st);
	s = (struct sink){ got, 0, sizeof got };
	cr_assert_eq(open_stream(priv, st, n, 7, &s, &f, &cause), 0, "%s", cause);
	cr_assert_eq(s.len, 0);
	cr_assert_eq(f.complete, 0, "the sender's incomplete is told");
	free(st);
}

Test(artseal, not_clear)
{
	uint8_t	*st;
	size_t	 n = seal_stream(5000, 1, &st), i;

	/* No run of the clear bytes shows through. */
	for (i = 0; i + 16 <= n; i++)
		cr_assert_neq(memcmp(st + i, clear + 1000, 16), 0);
	free(st);
}

Test(artseal, wrong_key)
{
	uint8_t		*st, other[32];
	char		*cause = NULL;
	struct sink	 s = { NULL, 0, 0 };
	size_t		 n = seal_stream(3000, 1, &st);

	memcpy(other, priv, 32);
	other[5] ^= 0x40;
	cr_assert_eq(open_stream(other, st, n, 100, &s, NULL, &cause), -1);
	cr_assert_not_null(strstr(cause, "is sealed to"), "%s", cause);
	cr_assert_not_null(strstr(cause, "not to this key"), "%s", cause);
	free(cause);
	free(st);
}

Test(artseal, every_flipped_bit_refused)
{
	static uint8_t	 got[sizeof clear];
	uint8_t		*st;
	char		*cause = NULL;
	struct sink	 s;
	size_t		 n = seal_stream(2500, 1, &st), i;

	for (i = 0; i < n; i++) {
		st[i] ^= 0x01;
		s = (struct sink){ got, 0, sizeof got };
		cr_assert_eq(open_stream(priv, st, n, 333, &s, NULL, &cause), -1,
		    "a flip at byte %zu opened", i);
		cr_assert_not_null(cause, "byte %zu", i);
		free(cause);
		cause = NULL;
		st[i] ^= 0x01;
	}
	free(st);
}

Test(artseal, truncation_refused)
{
	static uint8_t	 got[sizeof clear];
	uint8_t		*st;
	char		*cause = NULL;
	struct sink	 s;
	size_t		 n = seal_stream(4000, 1, &st), cut;

	for (cut = 0; cut < n; cut++) {
		s = (struct sink){ got, 0, sizeof got };
		cr_assert_eq(open_stream(priv, st, cut, 1000, &s, NULL, &cause), -1,
		    "cut at %zu opened", cut);
		free(cause);
		cause = NULL;
		cr_assert_eq(open_stream(NULL, st, cut, 1000, &s, NULL, &cause), -1,
		    "the keyless check took a cut at %zu", cut);
		if (cut > PH_ARTSEAL_HEADER_LEN)
			cr_assert_not_null(strstr(cause, "truncated"), "%s", cause);
		free(cause);
		cause = NULL;
	}
	free(st);
}

Test(artseal, records_moved_refused)
{
	static uint8_t	 got[sizeof clear], mod[20000];
	const size_t	 r = 1000 + PH_ARTSEAL_REC_OVERHEAD, h = PH_ARTSEAL_HEADER_LEN;
	uint8_t		*st;
	char		*cause = NULL;
	struct sink	 s;
	size_t		 n = seal_stream(3000, 1, &st);

	/* Records 0 and 1 swapped. */
	memcpy(mod, st, n);
	memcpy(mod + h, st + h + r, r);
	memcpy(mod + h + r, st + h, r);
	s = (struct sink){ got, 0, sizeof got };
	cr_assert_eq(open_stream(priv, mod, n, 4096, &s, NULL, &cause), -1);
	free(cause);
	/* Record 1 dropped. */
	memcpy(mod, st, h + r);
	memcpy(mod + h + r, st + h + 2 * r, n - h - 2 * r);
	s = (struct sink){ got, 0, sizeof got };
	cr_assert_eq(open_stream(priv, mod, n - r, 4096, &s, NULL, &cause), -1);
	free(cause);
	/* Record 0 repeated. */
	memcpy(mod, st, h + r);
	memcpy(mod + h + r, st + h, n - h);
	s = (struct sink){ got, 0, sizeof got };
	cr_assert_eq(open_stream(priv, mod, n + r, 4096, &s, NULL, &cause), -1);
	free(cause);
	/* The last data record made the final one. */
	memcpy(mod, st, n - PH_ARTSEAL_FINAL_LEN - PH_ARTSEAL_REC_OVERHEAD);
	mod[h + 2 * r] = PH_ARTSEAL_FINAL;
	s = (struct sink){ got, 0, sizeof got };
	cr_assert_eq(open_stream(priv, mod, h + 3 * r, 4096, &s, NULL, &cause), -1);
	free(cause);
	/* Bytes after the final record: refused by both readers. */
	memcpy(mod, st, n);
	mod[n] = 0;
	s = (struct sink){ got, 0, sizeof got };
	cr_assert_eq(open_stream(priv, mod, n + 1, 4096, &s, NULL, &cause), -1);
	cr_assert_not_null(strstr(cause, "after"), "%s", cause);
	free(cause);
	cr_assert_eq(open_stream(NULL, mod, n + 1, 4096, &s, NULL, &cause), -1);
	free(cause);
	/* Not sealed at all: a zstd stream. */
	memcpy(mod, "\x28\xb5\x2f\xfd", 4);
	cr_assert_eq(open_stream(NULL, mod, n, 4096, &s, NULL, &cause), -1);
	cr_assert_not_null(strstr(cause, "not a sealed artifact"), "%s", cause);
	free(cause);
	free(st);
}

Test(artseal, key_file)
{
	char		 path[] = "/tmp/test_artseal.XXXXXX", *cause = NULL;
	uint8_t		 p1[32], p2[32], k[32];
	FILE		*f;
	int		 fd;

	cr_assert_neq(fd = mkstemp(path), -1);
	close(fd);
	cr_assert_eq(ph_artseal_keygen(path, 0, p1, &cause), -1, "keygen never replaces "
	    "a file without force");
	cr_assert_not_null(strstr(cause, "--force"), "%s", cause);
	free(cause);
	cr_assert_eq(ph_artseal_keygen(path, 1, p1, &cause), 0, "%s", cause);
	cr_assert_eq(ph_artseal_key_load(path, k, p2, &cause), 0, "%s", cause);
	cr_assert_eq(memcmp(p1, p2, 32), 0);
	cr_assert_not_null(f = fopen(path, "w"));
	fputs("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n", f);
	fclose(f);
	cr_assert_eq(ph_artseal_key_load(path, k, p2, &cause), -1);
	cr_assert_not_null(strstr(cause, "not an X25519 private key"), "%s", cause);
	free(cause);
	unlink(path);
}
