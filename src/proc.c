/*
 * proc.c - process and memory facts read straight from /proc and the
 * cgroup filesystems, for `ps` and `mem` in images without any tools.
 * Every path is taken relative to a root so tests can point the readers at
 * fixture trees (cgroup v2 cannot be mounted on these machines).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "porthole/proc.h"
#include "porthole/util.h"

#define PF_KTHREAD	0x00200000

/* Read root/rel into buf (NUL-terminated); -1 with errno on failure. */
static ssize_t
slurp(const char *root, const char *rel, char *buf, size_t cap)
{
	char path[1024];
	ssize_t r, len = 0;
	int fd;

	snprintf(path, sizeof path, "%s%s%s", root,
	    root[0] != '\0' && root[strlen(root) - 1] == '/' ? "" : "/", rel);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	while ((size_t)len < cap - 1) {
		r = read(fd, buf + len, cap - 1 - (size_t)len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		if (r == 0)
			break;
		len += r;
	}
	close(fd);
	buf[len] = '\0';
	return len;
}

/* A process that vanished: ENOENT or ESRCH on its files. */
static int
vanished(int e)
{
	return e == ENOENT || e == ESRCH;
}

static int
fail_read(const char *what, pid_t pid, char **cause)
{
	if (vanished(errno)) {
		errno = ESRCH;
		if (cause != NULL)
			*cause = NULL;
		return -1;
	}
	if (cause != NULL)
		*cause = ph_asprintf("cannot read /proc/%d/%s: %s", (int)pid, what,
		    strerror(errno));
	return -1;
}

int64_t
ph_boot_time(const char *root)
{
	char buf[16384];

	if (slurp(root, "proc/stat", buf, sizeof buf) < 0)
		return 0;
	return ph_btime_parse(buf);
}

int64_t
ph_btime_parse(const char *buf)
{
	const char *p;

	if (strncmp(buf, "btime ", 6) == 0)
		p = buf;
	else if ((p = strstr(buf, "\nbtime ")) != NULL)
		p++;
	else
		return 0;
	return strtoll(p + 6, NULL, 10);
}

int
ph_passwd_name(const char *root, uid_t uid, char *out, size_t len)
{
	char buf[65536];

	if (slurp(root, "etc/passwd", buf, sizeof buf) < 0)
		return -1;
	return ph_passwd_lookup(buf, uid, out, len);
}

int
ph_passwd_lookup(char *buf, uid_t uid, char *out, size_t len)
{
	char *line, *save = NULL, *f[4];
	int i;

	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		/* name:password:uid:gid:... */
		f[0] = line;
		for (i = 1; i < 4; i++) {
			f[i] = strchr(f[i - 1], ':');
			if (f[i] == NULL)
				break;
			*f[i]++ = '\0';
		}
		if (i < 4 || f[2][0] == '\0')
			continue;
		if (strtoul(f[2], NULL, 10) == uid && isdigit((unsigned char)f[2][0])) {
			snprintf(out, len, "%s", f[0]);
			return 0;
		}
	}
	return -1;
}

/* Value of "Key:" in a status-like file, KiB or plain number; 0 if absent. */
static uint64_t
field_u64(const char *buf, const char *key)
{
	const char *p = buf;
	size_t n = strlen(key);

	while (p != NULL && *p != '\0') {
		if (strncmp(p, key, n) == 0 && p[n] == ':')
			return strtoull(p + n + 1, NULL, 10);
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return 0;
}

/* The effective uid in the text of /proc/PID/status; -1 if none. */
int
ph_proc_parse_uid(const char *buf, uid_t *uid)
{
	unsigned long ruid, euid;
	const char *s;

	if (strncmp(buf, "Uid:", 4) == 0)
		s = buf + 4;
	else if ((s = strstr(buf, "\nUid:")) != NULL)
		s += 5;
	else
		return -1;
	if (sscanf(s, "%lu %lu", &ruid, &euid) != 2)
		return -1;
	*uid = (uid_t)euid;
	return 0;
}

static int
count_fds(const char *root, pid_t pid)
{
	char path[1024];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof path, "%s/proc/%d/fd", root, (int)pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n;
}

/*
 * Parse the text of /proc/PID/stat (buf, modified) into p: comm, state,
 * ppid, cpu, threads, start (boot + start ticks / ticks), rss.  p->pid
 * names the process in *cause.
 */
int
ph_proc_parse_stat(char *buf, struct ph_proc *p, int64_t boot, long ticks, long pagekib,
    char **cause)
{
	char *s, *e, *fields[64];
	unsigned long long flags;
	int nf = 0;

	if (ticks <= 0)
		ticks = 100;
	/* "pid (comm) state ...": comm may hold spaces and parentheses. */
	s = strchr(buf, '(');
	e = strrchr(buf, ')');
	if (s == NULL || e == NULL || e < s || e[1] != ' ') {
		*cause = ph_asprintf("/proc/%d/stat is malformed", (int)p->pid);
		return -1;
	}
	snprintf(p->comm, sizeof p->comm, "%.*s", (int)(e - s - 1), s + 1);
	for (s = strtok(e + 2, " \n"); s != NULL && nf < 64; s = strtok(NULL, " \n"))
		fields[nf++] = s;
	if (nf < 22) {
		*cause = ph_asprintf("/proc/%d/stat has %d fields", (int)p->pid, nf + 2);
		return -1;
	}
	/* fields[0] is stat field 3 (state). */
	p->state = fields[0][0];
	p->ppid = (pid_t)strtol(fields[1], NULL, 10);
	flags = strtoull(fields[6], NULL, 10);
	p->cpu_ticks = strtoull(fields[11], NULL, 10) + strtoull(fields[12], NULL, 10);
	p->threads = (int)strtol(fields[17], NULL, 10);
	p->start = boot + (int64_t)(strtoull(fields[19], NULL, 10) / (unsigned long long)ticks);
	p->rss_kib = strtoull(fields[21], NULL, 10) * (uint64_t)pagekib;
	p->kernel = (flags & PF_KTHREAD) != 0;
	return 0;
}

int
ph_proc_read(const char *root, pid_t pid, struct ph_proc *p, char **cause)
{
	char buf[4096], rel[64];
	long ticks = sysconf(_SC_CLK_TCK);
	ssize_t n;
	int i;

	memset(p, 0, sizeof *p);
	p->pid = pid;

	snprintf(rel, sizeof rel, "proc/%d/stat", (int)pid);
	if (slurp(root, rel, buf, sizeof buf) < 0)
		return fail_read("stat", pid, cause);
	if (ph_proc_parse_stat(buf, p, ph_boot_time(root), ticks,
	    sysconf(_SC_PAGESIZE) / 1024, cause) != 0)
		return -1;

	snprintf(rel, sizeof rel, "proc/%d/status", (int)pid);
	if (slurp(root, rel, buf, sizeof buf) < 0)
		return fail_read("status", pid, cause);
	ph_proc_parse_uid(buf, &p->uid);
	if (ph_passwd_name(root, p->uid, p->user, sizeof p->user) != 0)
		snprintf(p->user, sizeof p->user, "%lu", (unsigned long)p->uid);

	snprintf(rel, sizeof rel, "proc/%d/cmdline", (int)pid);
	n = slurp(root, rel, buf, sizeof buf);
	if (n < 0 && vanished(errno))
		return fail_read("cmdline", pid, cause);
	if (n > 0) {
		while (n > 0 && buf[n - 1] == '\0')
			n--;
		for (i = 0; i < n; i++) {
			if (buf[i] == '\0' || buf[i] == '\n')
				buf[i] = ' ';
		}
		buf[n] = '\0';
		p->cmdline = strdup(buf);
	} else
		p->cmdline = ph_asprintf("[%s]", p->comm);
	p->fds = count_fds(root, pid);
	return 0;
}

void
ph_proc_clear(struct ph_proc *p)
{
	free(p->cmdline);
	p->cmdline = NULL;
}

static int
pid_cmp(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

int
ph_proc_pids(const char *root, pid_t **pidsp, size_t *np, char **cause)
{
	char path[1024], *end;
	struct dirent *de;
	pid_t *pids = NULL, *np2;
	size_t n = 0, cap = 0;
	long v;
	DIR *d;

	snprintf(path, sizeof path, "%s/proc", root);
	if ((d = opendir(path)) == NULL) {
		*cause = ph_asprintf("cannot list %s: %s", path, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		v = strtol(de->d_name, &end, 10);
		if (*end != '\0' || v <= 0 || !isdigit((unsigned char)de->d_name[0]))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			if (cap > 4 * 1024 * 1024 ||
			    (np2 = realloc(pids, cap * sizeof *pids)) == NULL) {
				closedir(d);
				free(pids);
				*cause = ph_asprintf("too many processes");
				return -1;
			}
			pids = np2;
		}
		pids[n++] = (pid_t)v;
	}
	closedir(d);
	if (n > 0)
		qsort(pids, n, sizeof *pids, pid_cmp);
	*pidsp = pids;
	*np = n;
	return 0;
}

/* The KiB figures of the text of /proc/PID/status into m. */
void
ph_memstat_parse_status(const char *buf, struct ph_memstat *m)
{
	m->rss = field_u64(buf, "VmRSS");
	m->anon = field_u64(buf, "RssAnon");
	m->file = field_u64(buf, "RssFile");
	m->shmem = field_u64(buf, "RssShmem");
	m->swap = field_u64(buf, "VmSwap");
	m->peak = field_u64(buf, "VmHWM");
	m->threads = (int)field_u64(buf, "Threads");
}

/* Pss from the text of /proc/PID/smaps_rollup into m. */
void
ph_memstat_parse_rollup(const char *buf, struct ph_memstat *m)
{
	/* The first line is the address range; fields follow. */
	const char *body = strchr(buf, '\n');

	if (body != NULL) {
		m->pss = field_u64(body + 1, "Pss");
		m->have_pss = 1;
	}
}

int
ph_memstat_read(const char *root, pid_t pid, struct ph_memstat *m, char **cause)
{
	char buf[8192], rel[64];

	memset(m, 0, sizeof *m);
	snprintf(rel, sizeof rel, "proc/%d/status", (int)pid);
	if (slurp(root, rel, buf, sizeof buf) < 0)
		return fail_read("status", pid, cause);
	ph_memstat_parse_status(buf, m);
	snprintf(rel, sizeof rel, "proc/%d/smaps_rollup", (int)pid);
	if (slurp(root, rel, buf, sizeof buf) >= 0)
		ph_memstat_parse_rollup(buf, m);
	else if (vanished(errno))
		return fail_read("smaps_rollup", pid, cause);
	else if (errno == EACCES || errno == EPERM) {
		*cause = ph_asprintf("no permission to read /proc/%d/smaps_rollup: the "
		    "agent needs the same user as the process, or SYS_PTRACE in the "
		    "task definition (linuxParameters.capabilities.add)", (int)pid);
		return -1;
	}
	return 0;
}

/* Parse "N" or "max" into bytes; "max" and v1's huge sentinel mean no limit. */
uint64_t
ph_cg_limit_parse(const char *s)
{
	uint64_t v;

	if (strncmp(s, "max", 3) == 0)
		return 0;
	v = strtoull(s, NULL, 10);
	if (v >= (UINT64_C(1) << 62))
		return 0;
	return v;
}

uint64_t
ph_cg_inactive_file(const char *stat, int version)
{
	const char *key = version == 1 ? "total_inactive_file " : "inactive_file ";
	const char *p = stat;
	size_t n = strlen(key);

	while (p != NULL && *p != '\0') {
		if (strncmp(p, key, n) == 0)
			return strtoull(p + n, NULL, 10);
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return 0;
}

static int
cg_try(const char *cgroot, const char *sub, const char *path, const char *usage_f,
    const char *limit_f, struct ph_cgmem *c)
{
	char rel[1024], buf[64], stat[8192];
	uint64_t inactive;

	snprintf(rel, sizeof rel, "%s%s/%s", sub, path, usage_f);
	if (slurp(cgroot, rel, buf, sizeof buf) < 0)
		return -1;
	c->usage = strtoull(buf, NULL, 10);
	snprintf(rel, sizeof rel, "%s%s/%s", sub, path, limit_f);
	if (slurp(cgroot, rel, buf, sizeof buf) >= 0)
		c->limit = ph_cg_limit_parse(buf);
	c->working_set = c->usage;
	snprintf(rel, sizeof rel, "%s%s/memory.stat", sub, path);
	if (slurp(cgroot, rel, stat, sizeof stat) >= 0) {
		inactive = ph_cg_inactive_file(stat, *sub != '\0' ? 1 : 2);
		c->working_set = inactive < c->usage ? c->usage - inactive : 0;
	}
	return 0;
}

/*
 * The memory cgroup paths in the text of /proc/PID/cgroup (buf, modified):
 * the v1 memory controller's into v1, the v2 unified one's into v2.
 * Returns a mask: 1 = v1 found, 2 = v2 found.
 */
int
ph_cgroup_parse(char *buf, char *v1, size_t v1len, char *v2, size_t v2len)
{
	char *line, *save = NULL, *ctrl, *path;
	int have = 0;

	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		/* hierarchy-ID:controllers:path */
		if ((ctrl = strchr(line, ':')) == NULL)
			continue;
		*ctrl++ = '\0';
		if ((path = strchr(ctrl, ':')) == NULL)
			continue;
		*path++ = '\0';
		if (strcmp(line, "0") == 0 && *ctrl == '\0') {
			snprintf(v2, v2len, "%s", path);
			have |= 2;
		} else {
			char *tok, *s2 = NULL;
			for (tok = strtok_r(ctrl, ",", &s2); tok != NULL;
			    tok = strtok_r(NULL, ",", &s2)) {
				if (strcmp(tok, "memory") == 0) {
					snprintf(v1, v1len, "%s", path);
					have |= 1;
				}
			}
		}
	}
	return have;
}

int
ph_cgmem_read(const char *root, const char *cgroot, pid_t pid, struct ph_cgmem *c,
    char **cause)
{
	char buf[8192], rel[64];
	char v1[512] = "", v2[512] = "";
	int have, have_v1, have_v2;

	memset(c, 0, sizeof *c);
	snprintf(rel, sizeof rel, "proc/%d/cgroup", (int)pid);
	if (slurp(root, rel, buf, sizeof buf) < 0)
		return fail_read("cgroup", pid, cause);
	have = ph_cgroup_parse(buf, v1, sizeof v1, v2, sizeof v2);
	have_v1 = (have & 1) != 0;
	have_v2 = (have & 2) != 0;
	/*
	 * Inside a container the cgroup namespace may show "/" while the mount
	 * is the container's own cgroup, or show the host path that the mount
	 * does not have: try the path, then the mount's root.
	 */
	if (have_v1) {
		snprintf(c->path, sizeof c->path, "%s", v1);
		if (cg_try(cgroot, "memory", strcmp(v1, "/") == 0 ? "" : v1,
		    "memory.usage_in_bytes", "memory.limit_in_bytes", c) == 0 ||
		    cg_try(cgroot, "memory", "", "memory.usage_in_bytes",
		    "memory.limit_in_bytes", c) == 0) {
			c->version = 1;
			return 0;
		}
	}
	if (have_v2) {
		snprintf(c->path, sizeof c->path, "%s", v2);
		if (cg_try(cgroot, "", strcmp(v2, "/") == 0 ? "" : v2, "memory.current",
		    "memory.max", c) == 0 ||
		    cg_try(cgroot, "", "", "memory.current", "memory.max", c) == 0) {
			c->version = 2;
			return 0;
		}
	}
	c->path[0] = '\0';
	return 0;
}

/*
 * pid's command name (/proc/PID/comm, of the live system) into buf, ""
 * when it cannot be read: one open and one read, no allocation (the crash
 * tracer calls it while the app is stopped).
 */
void
ph_proc_comm(pid_t pid, char *buf, size_t len)
{
	char	path[64];
	ssize_t	n;
	int	fd;

	buf[0] = '\0';
	snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	n = read(fd, buf, len - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}
