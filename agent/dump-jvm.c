/*
 * dump-jvm.c - `dump --kind jvm`: a HotSpot heap dump (.hprof) through the
 * JVM's dynamic attach protocol, done by the worker itself, so the image
 * needs no jcmd, no JDK tools and no shell.
 *
 * The attach protocol (what jcmd does, HotSpot's attachListener_linux.cpp):
 *   1. the client creates `.attach_pid<pid>` in the JVM's working directory
 *      (or its /tmp), owned by the JVM's uid, and sends SIGQUIT;
 *   2. the JVM's signal thread sees the file and opens the UNIX socket
 *      `/tmp/.java_pid<pid>` (pid and /tmp as the JVM sees them: its own
 *      pid namespace and mount namespace, reached through /proc/PID/root);
 *   3. the client connects with the JVM's uid and gid (or as root: the JVM
 *      checks SO_PEERCRED), writes "1\0" "dumpheap\0" PATH "\0" "-live\0" "\0"
 *      and reads "<code>\n<text>" until the JVM closes the socket.
 * The socket stays for the JVM's life (as after jcmd); the trigger is ours
 * and is removed.
 *
 * HotSpot can only write the dump into a file inside the task, as the JVM's
 * user.  We choose the directory (the target's $TMPDIR, /tmp, /var/tmp; or
 * --tmpdir), check its free space against the JVM's resident size first,
 * prefer a disk over a tmpfs (a tmpfs counts against the task's memory) and
 * say in the start event where and why.  While the JVM writes, the file is
 * followed as it grows and streamed through dump_out_write(); when the JVM
 * answers, the rest is streamed and the file is removed.  It is removed on
 * every way out, including SIGTERM/SIGHUP of the worker (dump_cancelled(),
 * checked by every wait here).  HotSpot 11 and later write the file
 * strictly in order (it may be gzip-compressed, so it never seeks back);
 * the file's final size must equal what was streamed, or the dump fails.
 *
 * Live objects only ("-live", as jcmd GC.heap_dump and jmap -dump:live):
 * what a leak hunt needs, and a smaller file; it costs a full GC first.
 * The JVM is at a safepoint (all Java threads stopped) for the GC and the
 * whole dump: "pause_us" in "done" is the JVM's own figure for both (its
 * answer's "in S secs"), else the time from our command to its answer.
 *
 * Safety before any signal: the process must map libjvm.so (SIGQUIT kills
 * a process that does not handle it), must not run with -Xrs or
 * -XX:+ReduceSignalUsage (same reason), and must not be stopped.
 */
#include <sys/types.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include <linux/magic.h>
#include <linux/openat2.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "dump.h"

#define JVM_ATTACH_WAIT_MS	10000	/* SIGQUIT → socket (jcmd waits 10 s too) */
#define JVM_IDLE_MS		120000	/* no answer and no file growth */
#define JVM_REMOVE_WAIT_MS	3000	/* a failed dump's file may come late */
#define JVM_STOPPED_MS		3000	/* target stopped (SIGSTOP, tracer) */
#define JVM_REPLY_MAX		(64 * 1024)
#define JVM_READ		(256 * 1024)
#define JVM_NICE		10	/* while the JVM is at its safepoint */
#define JVM_ROOM_SLACK		(64ULL << 20)	/* besides the estimate */

/* Everything dump_jvm() must undo; a static so the signal flag can reach it. */
struct jvm {
	pid_t		 pid;
	pid_t		 nspid;		/* the JVM's pid in its own namespace */
	uid_t		 uid;		/* effective ids of the JVM */
	gid_t		 gid;
	uint64_t	 rss;		/* VmRSS, bytes */
	char		 state;		/* /proc/PID/stat state */

	int		 rootfd;	/* /proc/PID/root, O_PATH */
	int		 tmpfd;		/* the JVM's /tmp, O_PATH */
	int		 trigdir;	/* where the trigger file is, or -1 */
	char		 trigger[64];	/* ".attach_pid<nspid>" */
	int		 dirfd;		/* the dump directory, O_PATH */
	char		 dir[256];	/* its path as the JVM sees it */
	char		 name[96];	/* the dump file's name in dir */
	int		 created;	/* the JVM may have created name */
	int		 fd;		/* the dump file, read side */
	int		 sock;
};

static uint64_t
dump_jvm_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

static void
dump_jvm_sleep_ms(int ms)
{
	struct timespec	ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);	/* EINTR: the caller checks dump_cancelled() */
}

/* Read a small /proc file into buf (NUL-terminated); bytes read or -1. */
static ssize_t
dump_jvm_slurp(const char *path, char *buf, size_t len)
{
	ssize_t	n, got = 0;
	int	fd;

	if ((fd = open(path, O_RDONLY|O_CLOEXEC)) == -1)
		return (-1);
	while ((size_t)got < len - 1) {
		n = read(fd, buf + got, len - 1 - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	close(fd);
	buf[got] = '\0';
	return (got);
}

/* Does the NUL-separated list p[0..n) hold an entry containing s? */
static int
dump_jvm_has_arg(const char *p, size_t n, const char *s)
{
	size_t	i = 0;

	while (i < n) {
		if (strstr(p + i, s) != NULL)
			return (1);
		i += strlen(p + i) + 1;
	}
	return (0);
}

/* Is s in the command line or in a JVM options variable of the environment? */
static int
dump_jvm_option(pid_t pid, const char *s)
{
	static const char *vars[] = { "JAVA_TOOL_OPTIONS=", "JDK_JAVA_OPTIONS=",
	    "_JAVA_OPTIONS=" };
	char		 path[64], *buf;
	ssize_t		 n;
	size_t		 i, j;
	int		 found = 0;

	if ((buf = malloc(256 * 1024)) == NULL)
		return (0);
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	if ((n = dump_jvm_slurp(path, buf, 256 * 1024)) > 0 &&
	    dump_jvm_has_arg(buf, n, s))
		found = 1;
	snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
	if (!found && (n = dump_jvm_slurp(path, buf, 256 * 1024)) > 0) {
		for (i = 0; i < (size_t)n && !found; i += strlen(buf + i) + 1) {
			for (j = 0; j < sizeof vars / sizeof vars[0]; j++) {
				if (strncmp(buf + i, vars[j], strlen(vars[j])) == 0 &&
				    strstr(buf + i, s) != NULL)
					found = 1;
			}
		}
	}
	free(buf);
	return (found);
}

/* Ids, namespace pid, RSS and state from /proc/PID/status. */
static int
dump_jvm_status(struct jvm *j)
{
	char		 path[64], buf[8192], *line, *p, *last;
	unsigned long	 u[4];
	unsigned long long kib;

	snprintf(path, sizeof path, "/proc/%d/status", (int)j->pid);
	if (dump_jvm_slurp(path, buf, sizeof buf) <= 0)
		return (-1);
	j->nspid = j->pid;
	for (line = buf; line != NULL && *line != '\0'; line = p) {
		if ((p = strchr(line, '\n')) != NULL)
			*p++ = '\0';
		if (sscanf(line, "Uid: %lu %lu %lu %lu", &u[0], &u[1], &u[2],
		    &u[3]) == 4)
			j->uid = (uid_t)u[1];
		else if (sscanf(line, "Gid: %lu %lu %lu %lu", &u[0], &u[1],
		    &u[2], &u[3]) == 4)
			j->gid = (gid_t)u[1];
		else if (sscanf(line, "VmRSS: %llu kB", &kib) == 1)
			j->rss = (uint64_t)kib * 1024;
		else if (strncmp(line, "State:", 6) == 0)
			j->state = line[6 + strspn(line + 6, " \t")];
		else if (strncmp(line, "NSpid:", 6) == 0) {
			/* The last field: the innermost namespace. */
			last = line + strlen(line);
			while (last > line && last[-1] != '\t' && last[-1] != ' ')
				last--;
			if (atoi(last) > 0)
				j->nspid = atoi(last);
		}
	}
	return (0);
}

/* The state letter of /proc/PID/stat, or 0 when the process is gone. */
static char
dump_jvm_state(pid_t pid)
{
	char	path[64], buf[512], *p;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (dump_jvm_slurp(path, buf, sizeof buf) <= 0 ||
	    (p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return (0);
	return (p[2]);
}

/* Does the process map libjvm.so? */
static int
dump_jvm_is_jvm(pid_t pid)
{
	char	 path[64], *line = NULL;
	size_t	 len = 0;
	FILE	*f;
	int	 found = 0;

	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return (-1);
	while (!found && getline(&line, &len, f) != -1) {
		if (strstr(line, "/libjvm.so") != NULL)
			found = 1;
	}
	free(line);
	fclose(f);
	return (found);
}

/*
 * Open path (as the target sees it) below the target's root fd, never
 * leaving that root even through absolute symlinks (RESOLVE_IN_ROOT);
 * kernels before 5.6 get a plain openat of the relative path.
 */
static int
dump_jvm_openat_root(int rootfd, const char *path, int flags, mode_t mode)
{
	struct open_how	how;
	int		fd;

	memset(&how, 0, sizeof how);
	how.flags = (uint64_t)(flags | O_CLOEXEC);
	how.mode = (flags & O_CREAT) ? mode : 0;
	how.resolve = RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS;
	fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
	if (fd == -1 && errno == ENOSYS) {
		while (*path == '/')
			path++;
		fd = openat(rootfd, *path == '\0' ? "." : path,
		    flags|O_CLOEXEC, mode);
	}
	return (fd);
}

/* "12.3 GiB" into buf. */
static const char *
dump_jvm_size(uint64_t n, char *buf, size_t len)
{
	if (n >= (1ULL << 30))
		snprintf(buf, len, "%.1f GiB", (double)n / (1 << 30));
	else
		snprintf(buf, len, "%.0f MiB", (double)n / (1 << 20));
	return (buf);
}

/*
 * Choose the dump directory: --tmpdir, else the first of the target's
 * $TMPDIR, /tmp, /var/tmp that the JVM's user may write and that has room,
 * a disk before a tmpfs.  Fills j->dir/dirfd and the start event's reason;
 * 0, or dump_error().
 */
static int
dump_jvm_choose_dir(struct jvm *j, const char *tmpdir, char *reason,
    size_t rlen)
{
	char		 cand[4][256], envtmp[256] = "", path[64], *env, *p;
	char		 s1[32], s2[32], tried[1024] = "";
	struct statvfs	 sv;
	struct statfs	 sf;
	struct stat	 st;
	uint64_t	 need, avail;
	ssize_t		 n;
	size_t		 i, ncand = 0;
	int		 pass, fd, writable;

	need = j->rss + JVM_ROOM_SLACK;
	if (tmpdir != NULL) {
		if (tmpdir[0] != '/' || strlen(tmpdir) >= sizeof cand[0])
			return (dump_error("unsupported",
			    "--tmpdir must be an absolute path inside the "
			    "task: %s", tmpdir));
		snprintf(cand[ncand++], sizeof cand[0], "%s", tmpdir);
	} else {
		/* The target's own $TMPDIR, if it sets one. */
		if ((env = malloc(256 * 1024)) != NULL) {
			snprintf(path, sizeof path, "/proc/%d/environ",
			    (int)j->pid);
			n = dump_jvm_slurp(path, env, 256 * 1024);
			for (i = 0; n > 0 && i < (size_t)n;
			    i += strlen(env + i) + 1) {
				p = env + i;
				if (strncmp(p, "TMPDIR=/", 8) == 0 &&
				    strlen(p + 7) < sizeof envtmp)
					snprintf(envtmp, sizeof envtmp, "%s", p + 7);
			}
			free(env);
		}
		if (envtmp[0] != '\0' && strcmp(envtmp, "/tmp") != 0)
			snprintf(cand[ncand++], sizeof cand[0], "%s", envtmp);
		snprintf(cand[ncand++], sizeof cand[0], "%s", "/tmp");
		snprintf(cand[ncand++], sizeof cand[0], "%s", "/var/tmp");
	}

	/* Pass 0: disks only; pass 1: tmpfs too. */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < ncand; i++) {
			fd = dump_jvm_openat_root(j->rootfd, cand[i],
			    O_PATH|O_DIRECTORY, 0);
			if (fd == -1) {
				if (pass == 0 && tmpdir != NULL)
					return (dump_error("unsupported",
					    "--tmpdir %s: not a directory in "
					    "the task: %s", cand[i],
					    strerror(errno)));
				continue;
			}
			if (fstatvfs(fd, &sv) == -1 || fstatfs(fd, &sf) == -1 ||
			    fstat(fd, &st) == -1) {
				close(fd);
				continue;
			}
			avail = (uint64_t)sv.f_bavail * sv.f_frsize;
			writable = j->uid == 0 ||
			    (st.st_uid == j->uid && (st.st_mode & S_IWUSR)) ||
			    (st.st_gid == j->gid && (st.st_mode & S_IWGRP)) ||
			    (st.st_mode & S_IWOTH);
			if (sv.f_flag & ST_RDONLY)
				writable = 0;
			if (pass == 0) {
				n = strlen(tried);
				snprintf(tried + n, sizeof tried - n,
				    "%s%.200s %s free%s%s", n ? ", " : "", cand[i],
				    dump_jvm_size(avail, s1, sizeof s1),
				    sf.f_type == TMPFS_MAGIC ? " (tmpfs)" : "",
				    writable ? "" : " (not writable by the JVM)");
			}
			if (!writable || avail < need ||
			    (pass == 0 && sf.f_type == TMPFS_MAGIC &&
			    tmpdir == NULL)) {
				close(fd);
				continue;
			}
			j->dirfd = fd;
			snprintf(j->dir, sizeof j->dir, "%.255s", cand[i]);
			snprintf(reason, rlen,
			    "heap written by the JVM to %s in the task "
			    "(%s%s, %s free, ~%s needed), streamed as it grows, "
			    "then removed%s",
			    j->dir, tmpdir != NULL ? "--tmpdir, " : "",
			    sf.f_type == TMPFS_MAGIC ? "tmpfs" : "disk",
			    dump_jvm_size(avail, s1, sizeof s1),
			    dump_jvm_size(need, s2, sizeof s2),
			    sf.f_type == TMPFS_MAGIC ?
			    ": a tmpfs counts against the task's memory "
			    "until the dump is removed" : "");
			return (0);
		}
	}
	if (tmpdir == NULL && tried[0] == '\0')
		return (dump_error("no_space", "no writable temporary "
		    "directory in the task for the heap dump: give one "
		    "with --tmpdir"));
	return (dump_error("no_space", "no room in the task for a heap dump "
	    "of about %s (the JVM's resident size): %s; free space or give "
	    "a directory on a larger volume with --tmpdir",
	    dump_jvm_size(need, s2, sizeof s2), tried));
}

/*
 * Connect to the JVM's attach socket as the JVM's uid and gid (the JVM
 * compares SO_PEERCRED with its own euid, root excepted).  The socket or
 * -1 with errno.
 */
static int
dump_jvm_connect(struct jvm *j)
{
	struct sockaddr_un	 sun;
	uid_t			 euid = geteuid();
	gid_t			 egid = getegid();
	int			 s, r, saved, switched = 0;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	/* Through the O_PATH fd of the JVM's /tmp: no path escapes its root. */
	snprintf(sun.sun_path, sizeof sun.sun_path, "/proc/self/fd/%d/.java_pid%d",
	    j->tmpfd, (int)j->nspid);
	if ((s = socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0)) == -1)
		return (-1);
	if (euid == 0 && (j->uid != 0 || j->gid != 0)) {
		if (setegid(j->gid) == -1 || seteuid(j->uid) == -1) {
			saved = errno;
			setegid(egid);
			close(s);
			errno = saved;
			return (-1);
		}
		switched = 1;
	}
	r = connect(s, (struct sockaddr *)&sun, sizeof sun);
	saved = errno;
	if (switched) {
		if (seteuid(euid) == -1 || setegid(egid) == -1)
			abort();	/* cannot go on with the wrong ids */
	}
	if (r == -1) {
		close(s);
		errno = saved;
		return (-1);
	}
	return (s);
}

/* Create the trigger file in the JVM's cwd, else its /tmp. */
static int
dump_jvm_trigger(struct jvm *j)
{
	char	path[64];
	int	dir, fd, i;

	snprintf(j->trigger, sizeof j->trigger, ".attach_pid%d", (int)j->nspid);
	for (i = 0; i < 2; i++) {
		if (i == 0) {
			snprintf(path, sizeof path, "/proc/%d/cwd", (int)j->pid);
			dir = open(path, O_PATH|O_DIRECTORY|O_CLOEXEC);
		} else
			dir = dup(j->tmpfd);
		if (dir == -1)
			continue;
		fd = openat(dir, j->trigger,
		    O_WRONLY|O_CREAT|O_NOFOLLOW|O_CLOEXEC, 0600);
		if (fd == -1) {
			close(dir);
			continue;
		}
		if (fchown(fd, j->uid, j->gid) == -1 && geteuid() == 0) {
			close(fd);
			unlinkat(dir, j->trigger, 0);
			close(dir);
			continue;
		}
		close(fd);
		j->trigdir = dir;
		return (0);
	}
	return (-1);
}

static void
dump_jvm_untrigger(struct jvm *j)
{
	if (j->trigdir != -1) {
		unlinkat(j->trigdir, j->trigger, 0);
		close(j->trigdir);
		j->trigdir = -1;
	}
}

/*
 * Make the JVM open its attach socket (unless it already has) and connect.
 * 0 or dump_error().
 */
static int
dump_jvm_attach(struct jvm *j)
{
	uint64_t	deadline;
	char		st;

	if ((j->sock = dump_jvm_connect(j)) != -1)
		return (0);
	if (errno == EACCES || errno == EPERM)
		return (dump_error("not_permitted", "cannot connect to the "
		    "JVM's attach socket as uid %u: %s", (unsigned)j->uid,
		    strerror(errno)));

	if (dump_jvm_option(j->pid, "-Xrs") ||
	    dump_jvm_option(j->pid, "-XX:+ReduceSignalUsage"))
		return (dump_error("unsupported", "the JVM runs with -Xrs "
		    "(ReduceSignalUsage): SIGQUIT would end it, so it cannot "
		    "be attached; use --kind core"));
	if (dump_jvm_trigger(j) == -1)
		return (dump_error("not_permitted", "cannot create the attach "
		    "trigger file %s in the JVM's working directory or /tmp",
		    j->trigger));
	if (kill(j->pid, SIGQUIT) == -1) {
		dump_jvm_untrigger(j);
		if (errno == ESRCH)
			return (dump_error("target_exited", "process %d "
			    "exited", (int)j->pid));
		return (dump_error("not_permitted", "cannot signal process "
		    "%d: %s", (int)j->pid, strerror(errno)));
	}
	deadline = dump_jvm_now_ms() + JVM_ATTACH_WAIT_MS;
	for (;;) {
		dump_jvm_sleep_ms(20);
		if ((j->sock = dump_jvm_connect(j)) != -1)
			break;
		if (dump_cancelled()) {
			dump_jvm_untrigger(j);
			return (dump_error("cancelled", "heap dump stopped"));
		}
		if ((st = dump_jvm_state(j->pid)) == 0 || st == 'Z') {
			dump_jvm_untrigger(j);
			return (dump_error("target_exited", "process %d exited "
			    "during attach", (int)j->pid));
		}
		if (dump_jvm_now_ms() >= deadline) {
			dump_jvm_untrigger(j);
			return (dump_error("no_response", "the JVM did not open "
			    "its attach socket within %d s of SIGQUIT: attach "
			    "is disabled (-XX:+DisableAttachMechanism) or the "
			    "JVM is hung; use --kind core",
			    JVM_ATTACH_WAIT_MS / 1000));
		}
	}
	dump_jvm_untrigger(j);
	return (0);
}

/* Write all of p to the socket; -1 on error. */
static int
dump_jvm_send(int s, const char *p, size_t n)
{
	ssize_t	w;

	while (n > 0) {
		w = send(s, p, n, MSG_NOSIGNAL);
		if (w == -1 && errno == EINTR && !dump_cancelled())
			continue;
		if (w <= 0)
			return (-1);
		p += w;
		n -= (size_t)w;
	}
	return (0);
}

/*
 * Stream whatever the file holds beyond what was sent: 1 when something
 * was streamed, 0 when nothing new, -1 on a read error (errno), -2 when
 * stdout is gone.
 */
static int
dump_jvm_follow(struct jvm *j, struct dump_out *o, char *buf)
{
	ssize_t	n;
	int	moved = 0;

	if (j->fd == -1) {
		j->fd = openat(j->dirfd, j->name, O_RDONLY|O_NOFOLLOW|O_CLOEXEC);
		if (j->fd == -1)
			return (0);	/* not created yet */
	}
	for (;;) {
		n = read(j->fd, buf, JVM_READ);
		if (n == -1 && errno == EINTR) {
			if (dump_cancelled())
				return (moved);
			continue;
		}
		if (n == -1)
			return (-1);
		if (n == 0)
			return (moved);
		if (dump_out_write(o, buf, (size_t)n) == -1)
			return (-2);
		moved = 1;
	}
}

/* The JVM's answer "<code>\n<text>": 0 when the dump was written. */
static int
dump_jvm_answer(struct jvm *j, const char *reply)
{
	const char	*text;
	char		 line[512];
	size_t		 n;
	int		 code;

	if (*reply == '\0')
		return (dump_error("no_response", "the JVM closed the attach "
		    "connection without an answer"));
	code = atoi(reply);
	text = strchr(reply, '\n');
	text = text != NULL ? text + 1 : "";
	if (code == 0 && strstr(text, "Heap dump file created") != NULL)
		return (0);
	/* One line for the operator: the JVM's last non-empty line. */
	n = strlen(text);
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		n--;
	{
		size_t	b = n;

		while (b > 0 && text[b - 1] != '\n')
			b--;
		snprintf(line, sizeof line, "%.*s", (int)(n - b), text + b);
	}
	if (strstr(text, "No space left") != NULL)
		return (dump_error("no_space", "the JVM ran out of space "
		    "writing the heap dump to %s: %s; give a larger volume "
		    "with --tmpdir", j->dir, line));
	return (dump_error("internal", "the JVM refused the heap dump "
	    "(code %d): %s", code, line[0] != '\0' ? line : "no reason given"));
}

/*
 * How long the JVM was at its safepoint, in µs: its own figure from "Heap
 * dump file created [N bytes in S secs]" (GC and dump), else ours from
 * the command to the answer (an upper bound: the answer is seen only when
 * the streaming has caught up with the file).
 */
static uint64_t
dump_jvm_pause(const char *reply, uint64_t ms)
{
	const char	*p;
	double		 secs;

	if ((p = strstr(reply, " bytes in ")) != NULL &&
	    sscanf(p, " bytes in %lf secs", &secs) == 1 && secs >= 0 &&
	    secs < 1e6)
		return ((uint64_t)(secs * 1e6));
	return (ms * 1000);
}

/*
 * The JVM answered reply: check it, and that the file streamed whole is
 * the one it wrote.  0 or dump_error().
 */
static int
dump_jvm_complete(struct jvm *j, struct dump_out *o, const char *reply,
    char *buf, uint64_t t0)
{
	struct stat	 st;
	int		 rv;

	if ((rv = dump_jvm_answer(j, reply)) != 0)
		return (rv);
	dump_out_set_pause(o, dump_jvm_pause(reply, dump_jvm_now_ms() - t0));
	if (j->fd == -1 || dump_jvm_follow(j, o, buf) < 0)
		return (dump_error("internal", "the JVM reported a heap dump at "
		    "%s/%s that cannot be read", j->dir, j->name));
	if (fstat(j->fd, &st) == -1 ||
	    (uint64_t)st.st_size != dump_out_bytes(o))
		return (dump_error("internal", "the heap dump changed after it "
		    "was streamed (%" PRIu64 " bytes sent, file now %jd)",
		    dump_out_bytes(o), (intmax_t)st.st_size));
	return (0);
}

/*
 * While waiting for the answer: the JVM gone, or stopped for longer than
 * JVM_STOPPED_MS (*stopped: since when), is an error.  0 or dump_error().
 */
static int
dump_jvm_alive(struct jvm *j, uint64_t now, uint64_t *stopped)
{
	switch (dump_jvm_state(j->pid)) {
	case 0:
	case 'Z':
	case 'X':
		return (dump_error("target_exited", "the JVM exited during the "
		    "heap dump"));
	case 'T':
	case 't':
		if (*stopped == 0)
			*stopped = now;
		if (now - *stopped >= JVM_STOPPED_MS)
			return (dump_error("no_response", "the JVM is stopped "
			    "(SIGSTOP or a tracer) and does not answer the "
			    "attach command"));
		return (0);
	default:
		*stopped = 0;
		return (0);
	}
}

/* The command, the wait, the streaming.  0 or dump_error(). */
static int
dump_jvm_run(struct jvm *j, struct dump_out *o)
{
	char		 cmd[512], *reply, *buf;
	struct pollfd	 pfd;
	uint64_t	 t0, last, stopped = 0, now;
	size_t		 rlen = 0, clen;
	ssize_t		 n;
	int		 r, rv = -1, done = 0, closed = 0, prio, niced = 0;

	/* "1\0dumpheap\0PATH\0-live\0\0": version, command, three args. */
	n = snprintf(cmd, sizeof cmd, "1%cdumpheap%c%s/%s%c-live%c%c", 0, 0,
	    strcmp(j->dir, "/") == 0 ? "" : j->dir, j->name, 0, 0, 0);
	if (n < 0 || (size_t)n >= sizeof cmd)
		return (dump_error("internal", "dump path too long"));
	clen = (size_t)n;

	if ((reply = calloc(1, JVM_REPLY_MAX + 1)) == NULL ||
	    (buf = malloc(JVM_READ)) == NULL) {
		free(reply);
		return (dump_error("internal", "out of memory"));
	}
	/*
	 * While the JVM dumps, it is at a safepoint: our reading and
	 * compressing must not take CPU from it (a task has a vCPU or two).
	 * Back to normal once it has answered (where we may).
	 */
	errno = 0;
	prio = getpriority(PRIO_PROCESS, 0);
	if (errno == 0 && setpriority(PRIO_PROCESS, 0, prio + JVM_NICE) == 0)
		niced = 1;
	j->created = 1;
	if (dump_jvm_send(j->sock, cmd, clen) == -1) {
		rv = dump_error("no_response", "cannot send the dump command "
		    "to the JVM: %s", strerror(errno));
		goto out;
	}
	shutdown(j->sock, SHUT_WR);

	t0 = last = dump_jvm_now_ms();
	while (!done) {
		if (dump_cancelled()) {
			rv = dump_error("cancelled", "heap dump stopped");
			goto out;
		}
		pfd.fd = j->sock;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (!closed && poll(&pfd, 1, 100) > 0) {
			n = read(j->sock, reply + rlen, JVM_REPLY_MAX - rlen);
			if (n > 0) {
				rlen += (size_t)n;
				last = dump_jvm_now_ms();
			} else if (n == 0 || (n == -1 && errno != EINTR) ||
			    rlen == JVM_REPLY_MAX)
				closed = 1;
		} else if (closed)
			dump_jvm_sleep_ms(100);

		r = dump_jvm_follow(j, o, buf);
		if (r == -2) {
			rv = dump_error("cancelled", "heap dump stopped: %s",
			    strerror(errno));
			goto out;
		}
		if (r == -1) {
			rv = dump_error("internal", "reading the heap dump "
			    "%s/%s: %s", j->dir, j->name, strerror(errno));
			goto out;
		}
		now = dump_jvm_now_ms();
		if (r == 1)
			last = now;
		if (closed) {
			/* The JVM answered: the file is complete. */
			if (niced)
				setpriority(PRIO_PROCESS, 0, prio);
			reply[rlen] = '\0';
			if ((rv = dump_jvm_complete(j, o, reply, buf, t0)) != 0)
				goto out;
			done = 1;
			break;
		}
		if ((rv = dump_jvm_alive(j, now, &stopped)) != 0)
			goto out;
		if (now - last >= JVM_IDLE_MS) {
			rv = dump_error("no_response", "the JVM accepted the "
			    "attach command but neither answered nor wrote for "
			    "%d s", JVM_IDLE_MS / 1000);
			goto out;
		}
	}
	rv = 0;
out:
	free(reply);
	free(buf);
	return (rv);
}

/*
 * Remove the dump file.  After a failure the JVM may not have created it
 * yet (it opens the file only after a full GC): keep trying until the name
 * is gone once, the JVM has answered, or a few seconds have passed.
 */
static void
dump_jvm_remove(struct jvm *j)
{
	struct pollfd	pfd;
	uint64_t	deadline = dump_jvm_now_ms() + JVM_REMOVE_WAIT_MS;
	char		c;

	for (;;) {
		if (unlinkat(j->dirfd, j->name, 0) == 0 || errno != ENOENT)
			return;
		if (j->sock == -1 || dump_jvm_now_ms() >= deadline)
			return;
		pfd.fd = j->sock;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 50) > 0 && recv(j->sock, &c, 1, MSG_PEEK) <= 0) {
			/* The JVM answered: whatever it made is there now. */
			unlinkat(j->dirfd, j->name, 0);
			return;
		}
		if (poll(&pfd, 1, 50) > 0) {
			/* Answer pending: drain it, then try again. */
			while (recv(j->sock, &c, 1, MSG_DONTWAIT) > 0)
				;
		}
	}
}

int
dump_jvm(const struct dump_req *r, struct dump_out *o)
{
	struct jvm		 j;
	char			 path[64], reason[768];
	json_t			*ev;
	uint32_t		 rnd;
	int			 rv, isjvm;

	memset(&j, 0, sizeof j);
	j.pid = r->pid;
	j.rootfd = j.tmpfd = j.trigdir = j.dirfd = j.fd = j.sock = -1;

	if (dump_jvm_status(&j) == -1) {
		rv = dump_error("no_such_process", "no process %d", (int)j.pid);
		goto out;
	}
	if ((isjvm = dump_jvm_is_jvm(j.pid)) != 1) {
		if (isjvm == -1 && (errno == EACCES || errno == EPERM))
			rv = dump_error("not_permitted", "cannot read process "
			    "%d's memory map: run the agent as the app's user "
			    "or as root", (int)j.pid);
		else
			rv = dump_error("unsupported", "process %d is not a "
			    "HotSpot JVM (no libjvm.so mapped): use --kind "
			    "core", (int)j.pid);
		goto out;
	}
	if (geteuid() != 0 && geteuid() != j.uid) {
		rv = dump_error("not_permitted", "the JVM runs as uid %u and "
		    "the agent as uid %u: HotSpot accepts attach only from "
		    "its own user or root", (unsigned)j.uid,
		    (unsigned)geteuid());
		goto out;
	}
	if (j.state == 'T' || j.state == 't') {
		rv = dump_error("no_response", "the JVM is stopped (SIGSTOP or "
		    "a tracer): it cannot answer an attach request");
		goto out;
	}
	if (dump_jvm_option(j.pid, "-XX:+DisableAttachMechanism")) {
		rv = dump_error("unsupported", "the JVM runs with "
		    "-XX:+DisableAttachMechanism: it cannot be attached; "
		    "restart it without that option, or use --kind core");
		goto out;
	}

	snprintf(path, sizeof path, "/proc/%d/root", (int)j.pid);
	if ((j.rootfd = open(path, O_PATH|O_DIRECTORY|O_CLOEXEC)) == -1 ||
	    (j.tmpfd = dump_jvm_openat_root(j.rootfd, "/tmp",
	    O_PATH|O_DIRECTORY, 0)) == -1) {
		rv = dump_error("not_permitted", "cannot reach the JVM's /tmp "
		    "through %s: %s", path, strerror(errno));
		goto out;
	}
	if ((rv = dump_jvm_choose_dir(&j, r->tmpdir, reason,
	    sizeof reason)) != 0)
		goto out;
	if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
		rnd = (uint32_t)dump_jvm_now_ms();
	snprintf(j.name, sizeof j.name, "porthole-heap-%d-%08x.hprof",
	    (int)j.nspid, rnd);

	if ((rv = dump_jvm_attach(&j)) != 0)
		goto out;

	ev = json_pack("{s:s, s:s, s:s, s:s, s:n, s:n, s:I}", "event", "start",
	    "kind", "jvm", "mode", "attach", "reason", reason, "pause_us",
	    "threads", "estimate", (json_int_t)j.rss);
	if (ev != NULL)
		dump_event(ev);
	rv = dump_jvm_run(&j, o);
out:
	dump_jvm_untrigger(&j);
	if (j.created && j.dirfd != -1)
		dump_jvm_remove(&j);
	if (j.fd != -1)
		close(j.fd);
	if (j.sock != -1)
		close(j.sock);
	if (j.dirfd != -1)
		close(j.dirfd);
	if (j.tmpfd != -1)
		close(j.tmpfd);
	if (j.rootfd != -1)
		close(j.rootfd);
	return (rv);
}
