/*
 * ph-memscan.c - the curious application of tests/e2e/launcher_secrets.sh:
 * it tries to read a secret out of another process's memory the way any
 * program of the same user could, through /proc/PID/mem, and says whether
 * the secret was there.
 *
 *   ph-memscan --pid PID NEEDLE_FILE
 *	scan PID once and exit.
 *   ph-memscan --child GO_FILE NEEDLE_FILE
 *	run as APP under `porthole-agent -- ...`: wait until this process
 *	has a child (the agent) and GO_FILE exists (the test creates it once
 *	the agent has registered, so its token is in its memory), scan the
 *	child, then wait for SIGTERM (APP keeps running, as a real one would).
 *
 * The needle is the first line of NEEDLE_FILE (a file the scanned process
 * never reads, so finding it means the secret itself was found).  Every
 * readable mapping listed in /proc/PID/maps is read with pread on
 * /proc/PID/mem; regions the kernel refuses (EIO) are skipped.  It prints
 * (and flushes) these lines, the verdict last:
 *   self dumpable N          PR_GET_DUMPABLE of this process
 *   environ OK|ERROR         whether /proc/PID/environ could be opened
 *   found at 0xADDR          exit 0
 *   not found in N bytes     exit 1
 *   cannot open /proc/PID/mem: ERROR   exit 3
 * Usage errors exit 2.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/prctl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK	(1024 * 1024)
#define NEEDLE_MAX 16384

static char	needle[NEEDLE_MAX];
static size_t	nlen;

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: ph-memscan --pid PID NEEDLE_FILE\n"
	    "       ph-memscan --child GO_FILE NEEDLE_FILE\n");
	exit(2);
}

static int
read_needle(const char *path)
{
	FILE	*f = fopen(path, "r");

	if (f == NULL || fgets(needle, sizeof needle, f) == NULL) {
		fprintf(stderr, "ph-memscan: cannot read %s\n", path);
		if (f != NULL)
			fclose(f);
		return -1;
	}
	fclose(f);
	nlen = strcspn(needle, "\r\n");
	needle[nlen] = '\0';
	return nlen > 0 ? 0 : -1;
}

/* A child of this process, or 0: scan /proc for a ppid of ours. */
static pid_t
find_child(void)
{
	char	 path[300], buf[512], *p;
	struct dirent *de;
	DIR	*d;
	FILE	*f;
	pid_t	 found = 0;
	long	 ppid;

	if ((d = opendir("/proc")) == NULL)
		return 0;
	while (found == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(buf, sizeof buf, f) != NULL && (p = strrchr(buf, ')')) != NULL &&
		    sscanf(p + 1, " %*c %ld", &ppid) == 1 && ppid == (long)getpid())
			found = (pid_t)atol(de->d_name);
		fclose(f);
	}
	closedir(d);
	return found;
}

/* Look for the needle in PID's readable mappings; the exit status. */
static int
scan(pid_t pid)
{
	char		 path[64], line[1024], perms[8];
	unsigned long	 lo, hi, at;
	unsigned long long total = 0;
	char		*buf, *hit;
	FILE		*maps;
	ssize_t		 n;
	int		 fd, e;

	snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
	if ((fd = open(path, O_RDONLY)) < 0)
		printf("environ %s\n", strerror(errno));
	else {
		printf("environ OK\n");
		close(fd);
	}
	snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
	if ((fd = open(path, O_RDONLY)) < 0) {
		e = errno;
		printf("cannot open %s: %s\n", path, strerror(e));
		return 3;
	}
	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	if ((maps = fopen(path, "r")) == NULL) {
		e = errno;
		printf("cannot open %s: %s\n", path, strerror(e));
		return 3;
	}
	if ((buf = malloc(CHUNK + NEEDLE_MAX)) == NULL)
		return 2;
	while (fgets(line, sizeof line, maps) != NULL) {
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[0] != 'r')
			continue;
		/* Chunks overlap by the needle's length less one: no hit is cut. */
		for (at = lo; at < hi; at += CHUNK) {
			size_t want = hi - at > CHUNK + nlen - 1 ? CHUNK + nlen - 1 : hi - at;

			n = pread(fd, buf, want, (off_t)at);
			if (n <= 0)
				break;		/* EIO: a region the kernel will not give */
			total += (unsigned long long)n;
			if ((hit = memmem(buf, (size_t)n, needle, nlen)) != NULL) {
				printf("found at 0x%lx\n", at + (unsigned long)(hit - buf));
				return 0;
			}
		}
	}
	printf("not found in %llu bytes\n", total);
	return 1;
}

int
main(int argc, char **argv)
{
	pid_t	pid = 0;
	int	rc, i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 4)
		usage();
	if (read_needle(argv[3]) != 0)
		return 2;
	printf("self dumpable %d\n", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
	if (strcmp(argv[1], "--pid") == 0) {
		if ((pid = (pid_t)atol(argv[2])) <= 0)
			usage();
		return scan(pid);
	}
	if (strcmp(argv[1], "--child") != 0)
		usage();
	/* Bounded: 120 s for the agent to appear and register. */
	for (i = 0; i < 1200; i++) {
		if (pid == 0)
			pid = find_child();
		if (pid != 0 && access(argv[2], F_OK) == 0)
			break;
		usleep(100 * 1000);
	}
	if (pid == 0) {
		printf("no child appeared\n");
		rc = 2;
	} else {
		printf("child %d\n", (int)pid);
		rc = scan(pid);
	}
	printf("verdict %d\n", rc);
	for (;;)
		pause();	/* SIGTERM (default action) ends it */
}
