/*
 * proc.h - what the agent reads from /proc and the cgroup files itself, so
 * `ps` and `mem` work in images that have no tools at all.
 *
 * Every reader takes the root of the tree it reads ("/" normally, a fixture
 * directory in tests) and tolerates a process that vanishes while it is
 * being read: such a read returns -1 with errno ESRCH and no cause, and the
 * caller skips that pid.  Other failures return -1 and set *cause
 * (malloc'd).
 */
#ifndef PORTHOLE_PROC_H
#define PORTHOLE_PROC_H

#include <stdint.h>
#include <sys/types.h>

struct ph_proc {
	pid_t		 pid, ppid;
	uid_t		 uid;
	char		 user[64];	/* from the image's /etc/passwd, else the number */
	char		 state;		/* R, S, D, Z, T, ... */
	int		 threads;
	int		 fds;		/* open descriptors; -1 when not readable */
	int		 kernel;	/* a kernel thread (no cmdline, child of kthreadd) */
	uint64_t	 rss_kib;
	uint64_t	 cpu_ticks;	/* utime + stime, clock ticks */
	int64_t		 start;		/* start time, Unix seconds */
	char		 comm[32];
	char		*cmdline;	/* args joined by spaces; [comm] for kernel threads */
};

/* Read one process under root (root "/" reads /proc).  See above for ESRCH. */
int	ph_proc_read(const char *root, pid_t pid, struct ph_proc *p, char **cause);
void	ph_proc_clear(struct ph_proc *p);
/* pid's /proc/PID/comm into buf ("" when unreadable); no allocation. */
void	ph_proc_comm(pid_t pid, char *buf, size_t len);

/* The pids under root/proc, sorted; *pids is malloc'd. */
int	ph_proc_pids(const char *root, pid_t **pids, size_t *n, char **cause);

/* Name of uid in root/etc/passwd (without NSS); 0 found, -1 not. */
int	ph_passwd_name(const char *root, uid_t uid, char *buf, size_t len);

/* Boot time (Unix seconds) from root/proc/stat, ticks per second. */
int64_t	ph_boot_time(const char *root);

/* Memory of one process, KiB, from smaps_rollup and status. */
struct ph_memstat {
	uint64_t	rss, pss, anon, file, shmem, swap, peak;	/* KiB */
	int		threads;
	int		have_pss;	/* smaps_rollup was readable */
};
int	ph_memstat_read(const char *root, pid_t pid, struct ph_memstat *m, char **cause);

/* Memory of the cgroup a process is in (v1 memory controller or v2). */
struct ph_cgmem {
	int		version;	/* 1 or 2; 0 = none found */
	uint64_t	usage;		/* bytes */
	uint64_t	limit;		/* bytes; 0 = no limit */
	/*
	 * The working set, as the kernel's OOM accounting and ECS count it:
	 * usage less the inactive file cache (memory.stat: v1
	 * total_inactive_file, v2 inactive_file), so that a task reading big
	 * files does not look full.  usage when memory.stat is not readable.
	 */
	uint64_t	working_set;	/* bytes */
	char		path[512];	/* the cgroup path of the process */
};
/*
 * cgroot is where cgroup filesystems are mounted ("/sys/fs/cgroup"); root
 * holds proc/PID/cgroup.  Returns 0 with version 0 when no memory cgroup is
 * found (not an error).
 */
int	ph_cgmem_read(const char *root, const char *cgroot, pid_t pid, struct ph_cgmem *c,
	    char **cause);

/*
 * The parsers behind the readers above, on text already read (for the
 * fuzz targets and fixture tests).  Functions taking a char * modify it.
 */
int	ph_proc_parse_stat(char *buf, struct ph_proc *p, int64_t boot, long ticks,
	    long pagekib, char **cause);
int	ph_proc_parse_uid(const char *buf, uid_t *uid);
int	ph_passwd_lookup(char *buf, uid_t uid, char *out, size_t len);
int64_t	ph_btime_parse(const char *buf);
void	ph_memstat_parse_status(const char *buf, struct ph_memstat *m);
void	ph_memstat_parse_rollup(const char *buf, struct ph_memstat *m);
int	ph_cgroup_parse(char *buf, char *v1, size_t v1len, char *v2, size_t v2len);
uint64_t ph_cg_limit_parse(const char *s);
/* The inactive file bytes in the text of a memory.stat (v1 or v2); 0 if none. */
uint64_t ph_cg_inactive_file(const char *stat, int version);	/* bytes; 0 = "max" or no limit */

#endif
