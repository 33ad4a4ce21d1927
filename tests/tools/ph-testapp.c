/*
 * ph-testapp.c - the application a test runs under porthole-agent, and the
 * one program of an otherwise empty root (tests/e2e/launcher.sh,
 * static_root.sh).  Linked statically when the agent is, so it runs in a
 * root that holds nothing else; it needs no shell and no coreutils.
 *
 *   ph-testapp pid                 print its own pid
 *   ph-testapp echo [ARG...]       print the arguments, space-separated
 *   ph-testapp env                 print the environment, one per line
 *   ph-testapp app DIR CODE [reap] an application: writes DIR/pid and
 *                                  DIR/env, then DIR/ready; waits for
 *                                  SIGTERM (its own handler, as an init
 *                                  needs), writes DIR/term and exits CODE.
 *                                  With "reap" it also reaps every child
 *                                  on SIGCHLD, like an init, and appends
 *                                  each pid to DIR/reaped.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static volatile sig_atomic_t got_term, got_chld;

static void
on_signal(int sig)
{
	if (sig == SIGTERM)
		got_term = 1;
	else if (sig == SIGCHLD)
		got_chld = 1;
}

/* Write text to DIR/name through a temporary name: readers see all or nothing. */
static int
put(const char *dir, const char *name, const char *text, int append)
{
	char	path[4096], tmp[4100];
	FILE	*f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (append) {
		if ((f = fopen(path, "a")) == NULL)
			return -1;
		fputs(text, f);
		return fclose(f);
	}
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if ((f = fopen(tmp, "w")) == NULL)
		return -1;
	fputs(text, f);
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, path);
}

static int
app(const char *dir, int code, int reap)
{
	struct sigaction	sa;
	sigset_t		set, old;
	char			buf[64], *env;
	size_t			n = 1, i;
	pid_t			pid;
	int			status;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	if (reap)
		sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, &old);

	snprintf(buf, sizeof buf, "%d\n", (int)getpid());
	for (i = 0; environ[i] != NULL; i++)
		n += strlen(environ[i]) + 1;
	if ((env = calloc(1, n)) == NULL)
		return 99;
	for (i = 0; environ[i] != NULL; i++) {
		strcat(env, environ[i]);
		strcat(env, "\n");
	}
	if (put(dir, "pid", buf, 0) != 0 || put(dir, "env", env, 0) != 0 ||
	    put(dir, "ready", "ready\n", 0) != 0) {
		fprintf(stderr, "ph-testapp: cannot write in %s: %s\n", dir, strerror(errno));
		return 99;
	}
	free(env);

	while (!got_term) {
		sigsuspend(&old);
		if (got_chld) {
			got_chld = 0;
			while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
				snprintf(buf, sizeof buf, "%d\n", (int)pid);
				put(dir, "reaped", buf, 1);
			}
		}
	}
	put(dir, "term", "SIGTERM\n", 0);
	return code;
}

int
main(int argc, char **argv)
{
	int	i;

	if (argc >= 2 && strcmp(argv[1], "pid") == 0) {
		printf("%d\n", (int)getpid());
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "echo") == 0) {
		for (i = 2; i < argc; i++)
			printf("%s%s", i > 2 ? " " : "", argv[i]);
		printf("\n");
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "env") == 0) {
		for (i = 0; environ[i] != NULL; i++)
			printf("%s\n", environ[i]);
		return 0;
	}
	if (argc >= 4 && strcmp(argv[1], "app") == 0)
		return app(argv[2], atoi(argv[3]), argc >= 5 && strcmp(argv[4], "reap") == 0);
	fprintf(stderr, "usage: ph-testapp pid | echo [ARG...] | env | app DIR CODE [reap]\n");
	return 2;
}
