/*
 * ph-leaker.c - the leaking application of the flight recorder's tests
 * (tests/e2e/recorder.sh): a thread named "leaker" allocates RATE MiB a
 * second in 1 MiB blocks, each filled with a marker gdb finds in a core
 * ("PORTHOLE-LEAK-MARKER <n>" then 'L's: pages really written, so they
 * count in the cgroup), until CAP MiB (0: no cap: the OOM killer ends it);
 * then it holds what it has.  The main thread only waits.
 *
 * usage: ph-leaker RATE_MIB CAP_MIB READYFILE
 * Built -O0 -g (tests/tools/meson.build) so the leaking frame has a name.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define BLOCK	(1024 * 1024)

static long	rate, cap;
/* Where the blocks are kept, so that they are reachable (a leak all the same). */
static char	*blocks[65536];

static void
leak_one_block(long n)
{
	char	*b = malloc(BLOCK);

	if (b == NULL)
		abort();
	memset(b, 'L', BLOCK);
	snprintf(b, 64, "PORTHOLE-LEAK-MARKER %ld", n);
	blocks[n % 65536] = b;
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
