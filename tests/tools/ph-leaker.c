/*
 * ph-leaker.c - the leaking application of the flight recorder's tests
 * (tests/e2e/recorder.sh): a thread named "leaker" allocates RATE MiB a
 * second in 1 MiB blocks, each filled with a marker gdb finds in a core
 * ("PORTHOLE-LEAK-MARKER <n>" then 'L's: pages really written, so they
 * count in the cgroup), until CAP MiB (0: no cap: the OOM killer ends it);
 * then it holds what it has.  The main thread only waits.  With
 * PH_LEAKER_NOISE set the rest of each block is pseudo-random instead of
 * 'L's (a capture that does not compress: tests/e2e/recorder_s3.sh).  With
 * PH_LEAKER_DIRTY set, once at CAP the thread writes a byte into every page
 * it holds, again and again (past the marker): a copy-on-write snapshot of
 * it costs the cgroup a copy of every page (tests/e2e/recorder_oom.sh).
 *
 * usage: ph-leaker RATE_MIB CAP_MIB READYFILE
 * Built -O0 -g (tests/tools/meson.build) so the leaking frame has a name.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define BLOCK	(1024 * 1024)

static long	rate, cap;
/* PH_LEAKER_NOISE=1: blocks of pseudo-random bytes after the marker. */
static uint64_t	noise;
/* PH_LEAKER_DIRTY: rewrite every page once at the cap. */
static int	dirty;
/* Where the blocks are kept, so that they are reachable (a leak all the same). */
static char	*blocks[65536];

static void
leak_one_block(long n)
{
	char	*b = malloc(BLOCK);

	if (b == NULL)
		abort();
	if (noise) {		/* xorshift64: bytes no compressor shrinks */
		uint64_t	*w = (uint64_t *)b;
		size_t		 i;

		for (i = 0; i < BLOCK / sizeof *w; i++) {
			noise ^= noise << 13;
			noise ^= noise >> 7;
			noise ^= noise << 17;
			w[i] = noise;
		}
	} else
		memset(b, 'L', BLOCK);
	snprintf(b, 64, "PORTHOLE-LEAK-MARKER %ld", n);
	blocks[n % 65536] = b;
}

/* One pass over the n blocks held: a byte in each page, past the marker. */
static void
dirty_all(long n)
{
	struct timespec	ts = { 0, 1000000L };
	long		i;
	size_t		off;

	for (i = 0; i < n && i < 65536; i++)
		for (off = 128; off < BLOCK; off += 4096)
			blocks[i][off]++;
	nanosleep(&ts, NULL);
}

static void *
leak_forever(void *arg)
{
	struct timespec	ts = { 0, 1000000000L / (rate > 0 ? rate : 1) };
	long		n = 0;

	(void)arg;
	prctl(PR_SET_NAME, "leaker");
	for (;;) {
		if (cap == 0 || n < cap)
			leak_one_block(n++);
		else if (dirty) {
			dirty_all(n);
			continue;
		}
		nanosleep(&ts, NULL);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t	 t;
	FILE		*f;

	if (argc != 4) {
		fprintf(stderr, "usage: ph-leaker RATE_MIB CAP_MIB READYFILE\n");
		return 2;
	}
	dirty = getenv("PH_LEAKER_DIRTY") != NULL;
	if (getenv("PH_LEAKER_NOISE") != NULL)
		noise = 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();
	rate = atol(argv[1]);
	cap = atol(argv[2]);
	if (pthread_create(&t, NULL, leak_forever, NULL) != 0)
		return 1;
	if ((f = fopen(argv[3], "w")) != NULL) {
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
	}
	for (;;)
		pause();
}
