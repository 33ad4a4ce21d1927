/*
 * ph-crashapp - the application of tests/e2e/crash.sh and bench/crash-signals:
 * a program that dies of a fatal signal, or takes handled ones, so that
 * crash capture (agent-tracer.c) can be checked against the same program
 * run without porthole.
 *
 *   ph-crashapp segv MS DIR      three threads; after MS ms the main one
 *                                calls ph_crash_here(), which writes
 *                                through a null pointer (DIR/ready first)
 *   ph-crashapp segv-on DIR      the same once DIR/crash exists
 *   ph-crashapp abort MS DIR     abort() after MS ms
 *   ph-crashapp handled N        N SIGSEGVs caught by a handler (a read
 *                                through a null pointer, skipped with
 *                                siglongjmp), then N SIGURGs raised and
 *                                caught; prints "segv N NS_EACH" and
 *                                "urg N NS_EACH", exits 7; with
 *                                PH_CRASHAPP_TRACED=1 it first waits (up
 *                                to 60 s) until it has a tracer
 *
 * DIR/ready holds the pid (1 as a namespace's init).
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static sigjmp_buf	jb;
static volatile sig_atomic_t urgs;

static void
on_segv(int sig)
{
	(void)sig;
	siglongjmp(jb, 1);
}

/* Wait up to ms until /proc/self/status shows a TracerPid. */
static void
wait_traced(long ms)
{
	char	line[256];
	FILE	*f;
	long	waited, tracer;

	for (waited = 0; waited < ms; waited += 20) {
		tracer = 0;
		if ((f = fopen("/proc/self/status", "r")) != NULL) {
			while (fgets(line, sizeof line, f) != NULL)
				if (sscanf(line, "TracerPid: %ld", &tracer) == 1)
					break;
			fclose(f);
		}
		if (tracer != 0)
			return;
		usleep(20000);
	}
}

static void
on_urg(int sig)
{
	(void)sig;
	urgs++;
}

static void *
idle(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static double
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

void __attribute__((noinline))
ph_crash_here(volatile int *p)
{
	*p = 42;
}

static void
ready(const char *dir)
{
	char	 path[4096];
	FILE	*f;

	snprintf(path, sizeof path, "%s/ready", dir);
	if ((f = fopen(path, "w")) != NULL) {
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
	}
}

int
main(int argc, char **argv)
{
	pthread_t	 th;
	volatile int	*null = NULL;
	char		 path[4096];
	double		 t0;
	long		 i, n;
	int		 k;

	if (argc == 3 && strcmp(argv[1], "handled") == 0) {
		struct sigaction sa;

		n = atol(argv[2]);
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_segv;
		sigaction(SIGSEGV, &sa, NULL);
		sa.sa_handler = on_urg;
		sigaction(SIGURG, &sa, NULL);
		if (getenv("PH_CRASHAPP_TRACED") != NULL)
			wait_traced(60000);
		t0 = now_ns();
		for (i = 0; i < n; i++) {
			if (sigsetjmp(jb, 1) == 0)
				(void)*null;
		}
		printf("segv %ld %.0f\n", n, (now_ns() - t0) / (double)n);
		t0 = now_ns();
		for (i = 0; i < n; i++)
			raise(SIGURG);
		printf("urg %ld %.0f\n", (long)urgs, (now_ns() - t0) / (double)n);
		return 7;
	}
	if (argc < 3)
		goto usage;
	for (k = 0; k < 2; k++)
		pthread_create(&th, NULL, idle, NULL);
	if (argc == 3 && strcmp(argv[1], "segv-on") == 0) {
		ready(argv[2]);
		snprintf(path, sizeof path, "%s/crash", argv[2]);
		while (access(path, F_OK) != 0)
			usleep(50 * 1000);
		ph_crash_here(null);
		return 0;
	}
	if (argc != 4)
		goto usage;
	ready(argv[3]);
	usleep((useconds_t)atol(argv[2]) * 1000);
	if (strcmp(argv[1], "segv") == 0)
		ph_crash_here(null);
	else if (strcmp(argv[1], "abort") == 0)
		abort();
usage:
	fprintf(stderr, "usage: ph-crashapp segv|abort MS DIR | segv-on DIR | handled N\n");
	return 2;
}
