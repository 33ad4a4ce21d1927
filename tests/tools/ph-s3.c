/*
 * ph-s3 - drives libporthole_s3 (s3.h) from the command line for the tests
 * (tests/e2e/s3.sh), the way the relay will: an upload fed from stdin in
 * chunks with backpressure, a get streamed to stdout, a listing, a delete.
 *
 *   ph-s3 [OPTIONS] put KEY... < DATA   multipart (a stream of unknown length),
 *                                       to every KEY at once
 *   ph-s3 [OPTIONS] putsmall KEY < DATA one PutObject of a small body
 *   ph-s3 [OPTIONS] get KEY > DATA
 *   ph-s3 [OPTIONS] ls [SUB]            "KEY SIZE" lines; "pages N" on stderr
 *   ph-s3 [OPTIONS] rm KEY
 * Options: --url s3://BUCKET/PREFIX (default $PH_S3_URL), --part-size BYTES,
 * --max-reply BYTES, --page KEYS, --refresh-margin SECONDS,
 * --curl-query-signing (curl 7.88's own query signing, which is wrong),
 * --stats (credential fetches and peak memory on stderr at the end).
 * put and get wait on the client's wake callback through a pipe, as the
 * relay's loop does; the other commands use ph_s3_client_wait.
 * Exit 0 on success, 1 with "ph-s3: CAUSE" on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "porthole/s3.h"

static struct ph_s3_client *client;
static int stats;
/* The wake callback's pipe, as a loop would use it (put and get). */
static int wakefd[2];

/* On the worker thread: only a write to the pipe (the relay: lws_cancel_service). */
static void
on_wake(void *arg)
{
	char b = 0;

	(void)write(wakefd[1], &b, 1);
}

/* The loop's wait: until the worker wakes us, then drain the pipe. */
static void
loop_wait(void)
{
	struct pollfd	pfd = { .fd = wakefd[0], .events = POLLIN };
	char		b[256];

	if (poll(&pfd, 1, 1000) > 0)
		while (read(wakefd[0], b, sizeof b) > 0)
			;
}

/* The most memory the process held (VmHWM, KiB). */
static long
hwm_kib(void)
{
	char	line[256];
	long	v = -1;
	FILE	*f = fopen("/proc/self/status", "r");

	while (f != NULL && fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "VmHWM: %ld", &v) == 1)
			break;
	if (f != NULL)
		fclose(f);
	return v;
}

static void __attribute__((noreturn))
die(char *cause)
{
	fprintf(stderr, "ph-s3: %s\n", cause);
	free(cause);
	if (stats && client != NULL)
		fprintf(stderr, "credential fetches %d\n", ph_s3_client_cred_fetches(client));
	exit(1);
}

/* Upload stdin to every key at once (one client, concurrent uploads). */
static int
put(char **keys, int nkeys)
{
	struct ph_s3_upload	*u[16];
	char			 buf[65536], *cause = NULL;
	ssize_t			 n;
	size_t			 off;
	enum ph_s3_state	 s;
	int			 i, running;

	if (nkeys > 16)
		die(strdup("at most 16 keys"));
	for (i = 0; i < nkeys; i++)
		if ((u[i] = ph_s3_upload_new(client, keys[i], &cause)) == NULL)
			die(cause);
	while ((n = read(0, buf, sizeof buf)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die(strdup("reading stdin failed"));
		}
		for (i = 0; i < nkeys; i++) {
			for (off = 0; off < (size_t)n;) {
				off += ph_s3_upload_write(u[i], buf + off, (size_t)n - off);
				if (ph_s3_upload_state(u[i], &cause) == PH_S3_FAILED)
					die(cause);
				if (off < (size_t)n)
					loop_wait();
			}
		}
	}
	for (i = 0; i < nkeys; i++)
		ph_s3_upload_finish(u[i]);
	do {
		running = 0;
		for (i = 0; i < nkeys; i++) {
			if ((s = ph_s3_upload_state(u[i], &cause)) == PH_S3_FAILED)
				die(cause);
			running += s == PH_S3_RUNNING;
		}
		if (running > 0)
			loop_wait();
	} while (running > 0);
	for (i = 0; i < nkeys; i++) {
		printf("put %s %llu\n", keys[i],
		    (unsigned long long)ph_s3_upload_bytes(u[i]));
		ph_s3_upload_free(u[i]);
	}
	return 0;
}

static int
get(const char *key)
{
	struct ph_s3_get	*g;
	char			 buf[65536], *cause = NULL;
	ssize_t			 n;

	if ((g = ph_s3_get_new(client, key, &cause)) == NULL)
		die(cause);
	for (;;) {
		n = ph_s3_get_read(g, buf, sizeof buf);
		if (n == 0)
			break;
		if (n < 0 && errno == EAGAIN) {
			loop_wait();
			continue;
		}
		if (n < 0) {
			ph_s3_get_state(g, &cause);
			die(cause);
		}
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
			die(strdup("writing stdout failed"));
	}
	ph_s3_get_free(g);
	return fflush(stdout) == 0 ? 0 : 1;
}

static struct ph_s3_op *
wait_op(struct ph_s3_op *o, char **causep)
{
	enum ph_s3_state s;
	char *cause = NULL;

	if (o == NULL)
		die(*causep);

	while ((s = ph_s3_op_state(o, &cause)) == PH_S3_RUNNING)
		ph_s3_client_wait(client, 1000);
	if (s == PH_S3_FAILED)
		die(cause);
	return o;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "part-size", required_argument, NULL, 'p' },
		{ "max-reply", required_argument, NULL, 'm' },
		{ "page", required_argument, NULL, 'k' },
		{ "refresh-margin", required_argument, NULL, 'r' },
		{ "curl-query-signing", no_argument, NULL, 'q' },
		{ "stats", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct ph_s3_config	 cfg = { .url = getenv("PH_S3_URL") };
	struct ph_s3_op		*o;
	const struct ph_s3_entry *e;
	char			*cause = NULL, body[65536];
	size_t			 n, i, len;
	int			 ch, page = 0, pages = 0, rc = 0;
	ssize_t			 r;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'u': cfg.url = optarg; break;
		case 'p': cfg.part_size = strtoul(optarg, NULL, 10); break;
		case 'm': cfg.max_reply = strtoul(optarg, NULL, 10); break;
		case 'k': page = atoi(optarg); break;
		case 'r': cfg.refresh_margin = atoi(optarg); break;
		case 'q': cfg.curl_query_signing = 1; break;
		case 's': stats = 1; break;
		default: return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		fprintf(stderr, "usage: ph-s3 [options] put|putsmall|get|ls|rm [KEY]\n");
		return 2;
	}
	if (pipe2(wakefd, O_NONBLOCK | O_CLOEXEC) != 0)
		return 1;
	cfg.wake = on_wake;
	if ((client = ph_s3_client_new(&cfg, &cause)) == NULL)
		die(cause);
	if (strcmp(argv[0], "put") == 0 && argc >= 2)
		rc = put(argv + 1, argc - 1);
	else if (strcmp(argv[0], "get") == 0 && argc == 2)
		rc = get(argv[1]);
	else if (strcmp(argv[0], "putsmall") == 0 && argc == 2) {
		for (len = 0; len < sizeof body && (r = read(0, body + len,
		    sizeof body - len)) > 0;)
			len += (size_t)r;
		o = wait_op(ph_s3_put_new(client, argv[1], body, len, "application/json",
		    &cause), &cause);
		ph_s3_op_free(o);
	} else if (strcmp(argv[0], "rm") == 0 && argc == 2) {
		o = wait_op(ph_s3_delete_new(client, argv[1], &cause), &cause);
		ph_s3_op_free(o);
	} else if (strcmp(argv[0], "ls") == 0 && argc <= 2) {
		o = wait_op(ph_s3_list_new(client, argc == 2 ? argv[1] : "", page, 0,
		    &cause), &cause);
		e = ph_s3_op_entries(o, &n, &pages);
		for (i = 0; i < n; i++)
			printf("%s %llu\n", e[i].key, (unsigned long long)e[i].size);
		fprintf(stderr, "pages %d\n", pages);
		ph_s3_op_free(o);
	} else {
		fprintf(stderr, "ph-s3: unknown command or wrong arguments\n");
		rc = 2;
	}
	if (stats) {
		fprintf(stderr, "credential fetches %d\n", ph_s3_client_cred_fetches(client));
		fprintf(stderr, "peak memory %ld KiB\n", hwm_kib());
	}
	ph_s3_client_free(client);
	return rc;
}
