/*
 * agent-target.c - sidecar mode: run a session's program in another
 * process's world.  `open` may name a process by `pid`, or a container of
 * the task by `container` (its DockerId from the task metadata, read once
 * at start by agent-identity.c, found in the paths of /proc/PID/cgroup;
 * the lowest such pid wins: the container's first process).
 *
 * Resolution runs on the loop and only reads small /proc files: the
 * process's root and cwd are opened as O_PATH descriptors (the kernel's
 * ptrace check is what says "permission denied": same user, or
 * CAP_SYS_PTRACE), its effective uid and gid and supplementary groups come
 * from /proc/PID/status, its environment from /proc/PID/environ (bounded
 * by TARGET_ENV_MAX).  Entering happens in the forked child before exec:
 * chroot to the root, change to the cwd (as that process sees it), drop
 * to its groups, gid and uid, and take its environment, so the program's
 * PATH lookup happens inside that image.  Namespaces are not entered.
 *
 * cp (another operation) may use the same resolution and t->root_fd for
 * lookups that stay inside the root (openat2 RESOLVE_IN_ROOT).
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "porthole/ecs.h"
#include "porthole/log.h"
#include "porthole/ops.h"
#include "porthole/protocol.h"
#include "porthole/util.h"

#include "agent.h"

#define TARGET_ENV_MAX		(1024 * 1024)	/* largest environ read */
#define TARGET_STATUS_MAX	(64 * 1024)	/* /proc/PID/status */
#define TARGET_CGROUP_MAX	(64 * 1024)	/* /proc/PID/cgroup */
#define TARGET_GROUPS_MAX	65536		/* NGROUPS_MAX of Linux */

#define TARGET_PERM_HINT	"the agent must run as the same user as that process, " \
	"or have SYS_PTRACE (linuxParameters.capabilities.add in the task definition, " \
	"with pidMode task)"

extern char **environ;

void
agent_target_init(struct agent_target *t)
{
	memset(t, 0, sizeof *t);
	t->root_fd = t->cwd_fd = -1;
}

void
agent_target_clear(struct agent_target *t)
{
	if (t->root_fd >= 0)
		close(t->root_fd);
	if (t->cwd_fd >= 0)
		close(t->cwd_fd);
	free(t->groups);
	free(t->env);
	free(t->envbuf);
	agent_target_init(t);
}

/* Fill *code and *cause for errno e met reading what of process pid. */
static int
target_fail(pid_t pid, const char *what, int e, const char **code, char **cause)
{
	if (e == ENOENT || e == ESRCH) {
		*code = PH_ERR_NO_TARGET;
		*cause = ph_asprintf("no process %d on this agent", (int)pid);
	} else if (e == EACCES || e == EPERM) {
		*code = PH_ERR_FORBIDDEN;
		*cause = ph_asprintf("permission denied reading the %s of process %d: %s",
		    what, (int)pid, TARGET_PERM_HINT);
	} else {
		*code = PH_ERR_INTERNAL;
		*cause = ph_asprintf("cannot read the %s of process %d: %s", what, (int)pid,
		    strerror(e));
	}
	return -1;
}

/* The second field ("effective") of a Uid:/Gid: line, and Groups:. */
static int
target_status(struct agent_target *t, const char *st)
{
	const char		*l;
	unsigned long long	 v[4];
	char			*end;
	size_t			 n = 0, max;

	if ((l = strstr(st, "\nUid:")) == NULL ||
	    sscanf(l + 5, "%llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3]) != 4)
		return -1;
	t->uid = (uid_t)v[1];
	if ((l = strstr(st, "\nGid:")) == NULL ||
	    sscanf(l + 5, "%llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3]) != 4)
		return -1;
	t->gid = (gid_t)v[1];
	if ((l = strstr(st, "\nGroups:")) == NULL)
		return 0;
	l += 8;
	/* At most one group per two bytes of the line ("N "). */
	if ((max = strcspn(l, "\n") / 2 + 1) > TARGET_GROUPS_MAX)
		max = TARGET_GROUPS_MAX;
	if ((t->groups = calloc(max, sizeof *t->groups)) == NULL)
		return -1;
	for (;;) {
		while (*l == ' ' || *l == '\t')
			l++;
		if (!isdigit((unsigned char)*l) || n == max)
			break;
		t->groups[n++] = (gid_t)strtoul(l, &end, 10);
		l = end;
	}
	t->ngroups = n;
	return 0;
}

/* environ (NUL-separated) into t->env. */
static int
target_env(struct agent_target *t, char *buf, size_t len)
{
	size_t	 n = 0, i, k = 0;

	for (i = 0; i < len; i++)
		n += buf[i] == '\0';
	if ((t->env = calloc(n + 2, sizeof *t->env)) == NULL)
		return -1;
	for (i = 0; i < len; i++) {
		if (i == 0 || buf[i - 1] == '\0') {
			if (buf[i] != '\0' && strchr(buf + i, '=') != NULL)
				t->env[k++] = buf + i;
		}
	}
	t->env[k] = NULL;
	t->envbuf = buf;
	return 0;
}

int
agent_target_from_pid(pid_t pid, struct agent_target *t, const char **code, char **cause)
{
	char	 path[64], *st, *env;
	size_t	 len;
	int	 e = 0;

	agent_target_init(t);
	if (pid <= 0) {
		*code = PH_ERR_BAD_MESSAGE;
		*cause = ph_asprintf("bad pid %d", (int)pid);
		return -1;
	}
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if ((st = ph_read_file_errno(path, TARGET_STATUS_MAX, PH_READ_TRUNCATE, &len,
	    &e)) == NULL)
		return target_fail(pid, "status", e, code, cause);
	if (target_status(t, st) != 0) {
		free(st);
		agent_target_clear(t);
		*code = PH_ERR_INTERNAL;
		*cause = ph_asprintf("cannot parse /proc/%d/status", (int)pid);
		return -1;
	}
	free(st);

	snprintf(path, sizeof path, "/proc/%d/root", (int)pid);
	if ((t->root_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
		e = errno;
		agent_target_clear(t);
		return target_fail(pid, "root", e, code, cause);
	}
	snprintf(path, sizeof path, "/proc/%d/cwd", (int)pid);
	if ((t->cwd_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
		e = errno;
		agent_target_clear(t);
		return target_fail(pid, "working directory", e, code, cause);
	}
	snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
	if ((env = ph_read_file_errno(path, TARGET_ENV_MAX, PH_READ_TRUNCATE, &len,
	    &e)) == NULL) {
		agent_target_clear(t);
		return target_fail(pid, "environment", e, code, cause);
	}
	if (target_env(t, env, len) != 0) {
		free(env);
		agent_target_clear(t);
		*code = PH_ERR_INTERNAL;
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	t->pid = pid;
	return 0;
}

pid_t
agent_target_container_pid(struct agent *a, const char *name, const char **code,
    char **cause)
{
	json_t		*c, *want = NULL;
	const char	*id;
	char		 path[64], *cg, *known = NULL, *k;
	struct dirent	*de;
	DIR		*d;
	size_t		 i, len;
	long		 pid, best = 0;
	int		 e;

	if (a->cfg.ecs_containers == NULL) {
		*code = PH_ERR_UNSUPPORTED;
		*cause = ph_asprintf("--container needs the ECS task metadata "
		    "(ECS_CONTAINER_METADATA_URI_V4), which this agent does not have: "
		    "use --pid");
		return -1;
	}
	json_array_foreach(a->cfg.ecs_containers, i, c) {
		const char *n = json_string_value(json_object_get(c, "name"));

		if (strcmp(n, name) == 0)
			want = c;
		k = ph_asprintf("%s%s%s", known != NULL ? known : "", known != NULL ? ", " : "",
		    n);
		free(known);
		known = k;
	}
	if (want == NULL) {
		*code = PH_ERR_NO_TARGET;
		*cause = ph_asprintf("no container '%s' in this task (known: %s)", name,
		    known != NULL ? known : "none");
		free(known);
		return -1;
	}
	free(known);
	id = json_string_value(json_object_get(want, "docker_id"));
	if ((d = opendir("/proc")) == NULL) {
		*code = PH_ERR_INTERNAL;
		*cause = ph_asprintf("cannot read /proc: %s", strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		char *end;

		pid = strtol(de->d_name, &end, 10);
		if (*end != '\0' || pid <= 0 || pid > INT_MAX || (best != 0 && pid >= best))
			continue;
		snprintf(path, sizeof path, "/proc/%ld/cgroup", pid);
		if ((cg = ph_read_file_errno(path, TARGET_CGROUP_MAX,
		    PH_READ_TRUNCATE, &len, &e)) == NULL)
			continue;	/* gone meanwhile */
		if (ph_ecs_cgroup_match(cg, len, id))
			best = pid;
		free(cg);
	}
	closedir(d);
	if (best == 0) {
		*code = PH_ERR_NO_TARGET;
		*cause = ph_asprintf("container '%s' (%s) has no process this agent can see: "
		    "the task needs pidMode task", name, id);
		return -1;
	}
	return (pid_t)best;
}

int
agent_target_resolve(struct agent *a, json_t *open, struct agent_target *t,
    const char **code, char **cause)
{
	json_t		*jpid = ph_open_get(open, "pid");
	const char	*name = json_string_value(ph_open_get(open, "container"));
	pid_t		 pid;

	agent_target_init(t);
	if (jpid == NULL && name == NULL)
		return 0;
	if (jpid != NULL && name != NULL) {
		*code = PH_ERR_BAD_MESSAGE;
		*cause = ph_asprintf("pid and container exclude each other");
		return -1;
	}
	if (name != NULL) {
		if ((pid = agent_target_container_pid(a, name, code, cause)) < 0)
			return -1;
	} else
		pid = (pid_t)json_integer_value(jpid);
	if (agent_target_from_pid(pid, t, code, cause) != 0)
		return -1;
	ph_info("target: pid %d%s%s: uid %u gid %u, %zu groups", (int)pid,
	    name != NULL ? ", container " : "", name != NULL ? name : "", (unsigned)t->uid,
	    (unsigned)t->gid, t->ngroups);
	return 0;
}

int
agent_target_enter(const struct agent_target *t, const char **cause)
{
	if (t == NULL || t->pid == 0)
		return 0;
	if (fchdir(t->root_fd) != 0 || chroot(".") != 0) {
		*cause = errno == EPERM ? "cannot enter the process's root: chroot needs "
		    "CAP_SYS_CHROOT (run the agent as root in the task)" :
		    "cannot enter the process's root";
		return -1;
	}
	if (fchdir(t->cwd_fd) != 0 && chdir("/") != 0) {
		*cause = "cannot change to the process's working directory";
		return -1;
	}
	if (geteuid() == 0) {
		if (setgroups(t->ngroups, t->groups) != 0 ||
		    setresgid(t->gid, t->gid, t->gid) != 0 ||
		    setresuid(t->uid, t->uid, t->uid) != 0) {
			*cause = "cannot take the process's user and groups";
			return -1;
		}
	} else if (geteuid() != t->uid || getegid() != t->gid) {
		*cause = "cannot take the process's user: the agent is not root";
		return -1;
	}
	environ = t->env;
	return 0;
}
