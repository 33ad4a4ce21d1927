/*
 * op-cp.c - the `cp` operation: send a file or directory tree to the
 * client (argv ["get", PATH]) or receive one from it (argv ["put", PATH,
 * NAME]),
 * as the cp stream of docs/protocol.md ("cp"): `meta` control messages and
 * DATA frames, sha256 per file, walked and written by the agent itself (no
 * tar in the image; src/cpstream.c does the walking and the writing).
 *
 * Every path resolves inside a root directory with openat2(RESOLVE_IN_ROOT
 * | RESOLVE_NO_MAGICLINKS): the agent's "/" by default, /proc/PID/root when
 * `open` carries `pid`, so an absolute symlink in another container's tree
 * stays in that tree.  Sending reads files only while the session's queue
 * is under its high mark (resume picks up again); receiving writes what
 * each DATA frame carries, as the CLI does on its side: the stream's one
 * top-level entry arrives as PATH/NAME when PATH is a directory, else as
 * PATH (NAME is the client's source's name, signed in argv: a relay cannot
 * rename what it passes on), anything beside it is refused, and modes lose
 * setuid/setgid/sticky and pass through the agent's umask unless the open
 * has `preserve` (cp -p).  The operation ends with `exit` code 0, or code
 * 1 and a `message` saying what failed (a missing path, a refused name, a
 * sha256 mismatch); a failed receive leaves no partial file behind.
 *
 * A relative PATH starts where a `shell` would: the agent's own working
 * directory, or with `pid`/`container` that process's (/proc/PID/cwd, as
 * the process sees it inside its root: the link's text, less the root's
 * own when the agent sees that in front (a chroot), checked to name the
 * same directory when resolved inside the root).  The agent announces
 * this as PH_CAP_CP_CWD, and PH_CAP_CP_UNSIZED: a put whose NAME is ""
 * (the CLI's stdin, a file of unknown size) which PATH must name itself
 * (an existing directory is refused: there is no name to give it).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <jansson.h>

#include "porthole/cpstream.h"
#include "porthole/frame.h"
#include "porthole/ops.h"
#include "porthole/util.h"

#include "agent.h"
#include "op.h"

struct cp_op {
	int		 rootfd;
	int		 destfd;	/* put: the directory written into */
	struct ph_cptx	*tx;		/* get */
	struct ph_cprx	*rx;		/* put */
	int		 over;
};

static void
cp_close(struct cp_op *c)
{
	ph_cptx_free(c->tx);
	ph_cprx_free(c->rx);	/* removes a partial file */
	c->tx = NULL;
	c->rx = NULL;
	if (c->destfd != -1)
		close(c->destfd);
	if (c->rootfd != -1)
		close(c->rootfd);
	c->destfd = c->rootfd = -1;
}

/* End with code (0 or 1) and, for 1, why; takes cause. */
static void
cp_finish(struct agent_session *s, int code, char *cause)
{
	struct cp_op	*c = s->op_data;
	json_t		*m = ph_ctl_exit_code(code);

	if (c->over) {
		free(cause);
		return;
	}
	c->over = 1;
	cp_close(c);
	if (m != NULL && cause != NULL)
		json_object_set_new(m, "message", json_string(cause));
	free(cause);
	agent_session_exit(s, m);
}

/* Send until the queue is over its high mark or the stream is out. */
static void
cp_pump(struct agent_session *s)
{
	struct cp_op	*c = s->op_data;
	uint8_t		*buf = s->agent->iobuf;
	size_t		 max = agent_session_read_max(s), n;
	json_t		*m;
	char		*cause = NULL;
	int		 rc;

	while (!c->over && c->tx != NULL && !agent_session_over_high(s)) {
		rc = ph_cptx_next(c->tx, buf, max, &n, &m, &cause);
		if (rc < 0) {
			cp_finish(s, 1, cause);
			return;
		}
		if (rc == 0) {
			cp_finish(s, 0, NULL);
			return;
		}
		if (m != NULL)
			rc = agent_session_send_ctl(s, m);
		else
			rc = agent_session_send(s, PH_FRAME_DATA, buf, n);
		if (rc != 0)
			return;		/* the session failed */
	}
}

static int
cp_openat2(int dirfd, const char *path, int flags, char **cause)
{
	struct open_how	how;
	int		fd;

	memset(&how, 0, sizeof how);
	how.flags = (uint64_t)(flags | O_CLOEXEC);
	how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
	if ((fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how)) < 0) {
		int e = errno;

		*cause = ph_asprintf("%s: %s", path, strerror(e));
		errno = e;
	}
	return fd;
}

/*
 * put: the directory to write into and the name the top entry arrives as:
 * name inside an existing directory path, else path's last component.
 */
static int
cp_dest(struct cp_op *c, const char *path, const char *name, char **as, char **cause)
{
	char	*dir, *slash;
	int	 fd;

	*as = NULL;
	if ((fd = cp_openat2(c->rootfd, path, O_RDONLY | O_DIRECTORY, cause)) >= 0) {
		if (*name == '\0') {
			close(fd);
			*cause = ph_asprintf("%s is a directory: name the file to write "
			    "the stream into", path);
			return -1;
		}
		if ((*as = strdup(name)) == NULL) {
			close(fd);
			*cause = ph_asprintf("out of memory");
			return -1;
		}
		return fd;
	}
	if (errno != ENOENT && errno != ENOTDIR)
		return -1;
	free(*cause);
	*cause = NULL;
	if ((dir = strdup(path)) == NULL) {
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	if ((slash = strrchr(dir, '/')) == NULL)
		*as = strdup(dir), strcpy(dir, ".");
	else {
		*as = strdup(slash + 1);
		if (slash == dir)
			slash++;
		*slash = '\0';
	}
	if (*as == NULL || ph_cp_name_ok(*as, cause) != 0) {
		if (*cause == NULL)
			*cause = ph_asprintf("out of memory");
		else {
			free(*cause);
			*cause = ph_asprintf("%s: not a file or directory name", path);
		}
		free(*as);
		*as = NULL;
		free(dir);
		return -1;
	}
	fd = cp_openat2(c->rootfd, dir, O_RDONLY | O_DIRECTORY, cause);
	free(dir);
	if (fd < 0) {
		free(*as);
		*as = NULL;
	}
	return fd;
}

/* dir (malloc'd) if it names the directory want inside the root, else NULL. */
static char *
cp_cwd_in_root(int rootfd, const char *dir, const struct stat *want)
{
	struct stat	 got;
	char		*cause = NULL;
	int		 fd, same;

	if ((fd = cp_openat2(rootfd, dir, O_PATH | O_DIRECTORY, &cause)) < 0) {
		free(cause);
		return NULL;
	}
	same = fstat(fd, &got) == 0 && got.st_dev == want->st_dev &&
	    got.st_ino == want->st_ino;
	close(fd);
	return same ? strdup(dir) : NULL;
}

/*
 * The directory a relative PATH starts from: the agent's working directory
 * (pid 0), or process pid's as it sees it inside its root (rootfd): the
 * text of /proc/PID/cwd, accepted only if it names that same directory
 * when resolved inside the root.  Malloc'd, or NULL with *cause.
 */
static char *
cp_cwd(int rootfd, pid_t pid, char **cause)
{
	char		 link[64], buf[PATH_MAX], *cwd = NULL;
	struct stat	 want;
	ssize_t		 n;

	if (pid == 0) {
		if (getcwd(buf, sizeof buf) == NULL || stat(".", &want) != 0) {
			*cause = ph_asprintf("cannot read the agent's working directory: %s",
			    strerror(errno));
			return NULL;
		}
		n = (ssize_t)strlen(buf);
	} else {
		snprintf(link, sizeof link, "/proc/%d/cwd", (int)pid);
		if ((n = readlink(link, buf, sizeof buf - 1)) < 0 || stat(link, &want) != 0) {
			*cause = ph_asprintf("cannot read the working directory of process "
			    "%d: %s", (int)pid, strerror(errno));
			return NULL;
		}
		buf[n] = '\0';
	}
	if (n == 0 || buf[0] != '/' || (cwd = cp_cwd_in_root(rootfd, buf, &want)) == NULL) {
		char	rt[PATH_MAX];
		ssize_t	rn;

		/*
		 * The link reads as the agent sees it: a chroot in the agent's
		 * own mount namespace shows its root's path in front.
		 */
		snprintf(link, sizeof link, "/proc/%d/root", (int)pid);
		if (pid != 0 && (rn = readlink(link, rt, sizeof rt - 1)) > 1) {
			rt[rn] = '\0';
			if (strncmp(buf, rt, (size_t)rn) == 0 && (buf[rn] == '/' ||
			    buf[rn] == '\0'))
				cwd = cp_cwd_in_root(rootfd, buf[rn] == '\0' ? "/" : buf + rn,
				    &want);
		}
	}
	if (cwd == NULL) {
		if (pid == 0)
			*cause = ph_asprintf("the agent's working directory cannot be "
			    "named (removed?): give an absolute path");
		else
			*cause = ph_asprintf("the working directory of process %d cannot be "
			    "named inside its root (removed, or outside it): give an "
			    "absolute path", (int)pid);
		return NULL;
	}
	return cwd;
}

/* path as the agent resolves it: a relative one joined to the start directory. */
static char *
cp_path(int rootfd, pid_t pid, const char *path, char **cause)
{
	char	*cwd, *full;

	if (path[0] == '/')
		return strdup(path);
	if ((cwd = cp_cwd(rootfd, pid, cause)) == NULL)
		return NULL;
	full = ph_asprintf("%s%s%s", cwd, cwd[strlen(cwd) - 1] == '/' ? "" : "/", path);
	free(cwd);
	if (full == NULL)
		*cause = ph_asprintf("out of memory");
	return full;
}

static int
cp_start(struct agent_session *s, json_t *req)
{
	json_t		*argv = ph_open_get(req, "argv"), *pid;
	const char	*mode = json_string_value(json_array_get(argv, 0));
	const char	*rpath = json_string_value(json_array_get(argv, 1));
	const char	*name = json_string_value(json_array_get(argv, 2));
	struct cp_op	*c;
	char		 root[64], *cause = NULL, *as = NULL, *path;
	int		 put = mode != NULL && strcmp(mode, "put") == 0;
	pid_t		 tpid = 0;

	if (mode == NULL || rpath == NULL || *rpath == '\0' ||
	    (strcmp(mode, "get") != 0 && !put) || json_array_size(argv) != (put ? 3u : 2u) ||
	    (put && (name == NULL || strchr(name, '/') != NULL ||
	    (*name != '\0' && ph_cp_name_ok(name, &cause) != 0)))) {
		free(cause);
		agent_session_fail(s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
		    "cp wants argv [\"get\", PATH] or [\"put\", PATH, NAME] (NAME one "
		    "file or directory name, or \"\" for a stream)");
		return -1;
	}
	pid = ph_open_get(req, "pid");
	if (json_is_string(ph_open_get(req, "container"))) {
		/* --container: the task metadata and /proc/PID/cgroup name the pid. */
		const char *code = NULL;
		pid_t cpid = agent_target_container_pid(s->agent,
		    json_string_value(ph_open_get(req, "container")), &code, &cause);

		if (cpid <= 0) {
			agent_session_fail(s, PH_CLOSE_NORMAL, code != NULL ? code :
			    PH_ERR_NO_TARGET, "%s", cause != NULL ? cause : "no such container");
			free(cause);
			return -1;
		}
		snprintf(root, sizeof root, "/proc/%d/root", (int)cpid);
		tpid = cpid;
	} else if (json_is_integer(pid) && json_integer_value(pid) > 0) {
		tpid = (pid_t)json_integer_value(pid);
		snprintf(root, sizeof root, "/proc/%d/root", (int)tpid);
	} else
		snprintf(root, sizeof root, "/");
	if ((c = calloc(1, sizeof *c)) == NULL) {
		agent_session_fail(s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL, "out of memory");
		return -1;
	}
	c->rootfd = c->destfd = -1;
	s->op_data = c;
	if ((c->rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
		agent_session_send_ctl(s, ph_ctl_new(PH_CTL_READY));
		cp_finish(s, 1, ph_asprintf("cannot open root %s: %s", root, strerror(errno)));
		return 0;
	}
	if (agent_session_send_ctl(s, ph_ctl_new(PH_CTL_READY)) != 0)
		return -1;
	if ((path = cp_path(c->rootfd, tpid, rpath, &cause)) == NULL) {
		cp_finish(s, 1, cause);
		return 0;
	}
	if (strcmp(mode, "get") == 0) {
		if ((c->tx = ph_cptx_new(c->rootfd, path, &cause)) == NULL)
			cp_finish(s, 1, cause);
		else
			cp_pump(s);
		free(path);
		return 0;
	}
	if ((c->destfd = cp_dest(c, path, name, &as, &cause)) < 0 ||
	    (c->rx = ph_cprx_new(c->destfd, as,
	    json_is_true(ph_open_get(req, "preserve")) ? PH_CPRX_PRESERVE : 0,
	    ph_cp_umask(), &cause)) == NULL)
		cp_finish(s, 1, cause);
	free(as);
	free(path);
	return 0;
}

static void
cp_input(struct agent_session *s, const struct ph_frame *f)
{
	struct cp_op	*c = s->op_data;
	char		*cause = NULL;
	int		 rc = 0;

	if (c->over)
		return;
	if (c->rx == NULL) {
		if (f->type == PH_FRAME_DATA || (f->type == PH_FRAME_CONTROL &&
		    f->ctl == PH_CTL_META))
			cp_finish(s, 1, ph_asprintf("cp get does not take a stream"));
		return;
	}
	if (f->type == PH_FRAME_DATA)
		rc = ph_cprx_data(c->rx, f->payload, f->len, &cause);
	else if (f->type == PH_FRAME_CONTROL && f->ctl == PH_CTL_META)
		rc = ph_cprx_meta(c->rx, f->json, &cause);
	else if (f->type == PH_FRAME_CONTROL && f->ctl == PH_CTL_EOF) {
		if (!ph_cprx_done(c->rx))
			cp_finish(s, 1, ph_asprintf("the stream ended before its end"));
		return;
	} else
		return;		/* STDIN, resize, signal: nothing to do */
	if (rc != 0)
		cp_finish(s, 1, cause);
	else if (ph_cprx_done(c->rx))
		cp_finish(s, 0, NULL);
}

static void
cp_resume(struct agent_session *s)
{
	if (s->op_data != NULL)
		cp_pump(s);
}

static void
cp_lost(struct agent_session *s)
{
	struct cp_op *c = s->op_data;

	if (c != NULL) {
		c->over = 1;
		cp_close(c);
	}
}

static int
cp_busy(struct agent_session *s)
{
	(void)s;
	return 0;
}

static void
cp_free(struct agent_session *s)
{
	struct cp_op *c = s->op_data;

	if (c != NULL) {
		cp_close(c);
		free(c);
		s->op_data = NULL;
	}
}

static const char *const cp_caps[] = { PH_CAP_CP_CWD, PH_CAP_CP_UNSIZED, NULL };

const struct op_entry op_cp_entry = {
	.name = "cp",
	.caps = cp_caps,
	.start = cp_start,
	.input = cp_input,
	.resume = cp_resume,
	.lost = cp_lost,
	.busy = cp_busy,
	.free = cp_free,
};
