/* test_proc.c - /proc, passwd and cgroup readers, on this process and on fixture trees. */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "porthole/proc.h"
#include "porthole/util.h"

static char fixture[64];

static void
putn(const char *rel, const char *content, size_t len)
{
	char path[512], *cause = NULL, *slash;

	snprintf(path, sizeof path, "%s/%s", fixture, rel);
	for (slash = strchr(path + strlen(fixture) + 1, '/'); slash != NULL;
	    slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
	}
	cr_assert_eq(ph_write_file(path, content, len, 0644, &cause), 0, "%s", cause);
}

static void
put(const char *rel, const char *content)
{
	putn(rel, content, strlen(content));
}

static void
setup(void)
{
	snprintf(fixture, sizeof fixture, "/tmp/ph-proc-XXXXXX");
	cr_assert_not_null(mkdtemp(fixture));
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf %s", fixture);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(proc, .init = setup, .fini = teardown);

Test(proc, reads_this_process)
{
	struct ph_proc p;
	struct passwd *pw = getpwuid(geteuid());
	char *cause = NULL;

	cr_assert_eq(ph_proc_read("/", getpid(), &p, &cause), 0, "%s", cause);
	cr_assert_eq(p.pid, getpid());
	cr_assert_eq(p.ppid, getppid());
	cr_assert_eq(p.uid, geteuid());
	if (pw != NULL)
		cr_assert_str_eq(p.user, pw->pw_name);
	cr_assert_eq(p.state, 'R');
	cr_assert_geq(p.threads, 1);
	cr_assert_geq(p.fds, 3);
	cr_assert_gt(p.rss_kib, 0);
	cr_assert_not(p.kernel);
	{
		char name[17] = "";
		prctl(PR_GET_NAME, name);
		cr_assert_str_eq(p.comm, name);
	}
	cr_assert_neq(p.cmdline[0], '[', "cmdline: %s", p.cmdline);
	cr_assert_leq(p.start, ph_now());
	cr_assert_geq(p.start, ph_now() - 600);
	ph_proc_clear(&p);
}

Test(proc, kernel_thread_is_marked)
{
	struct ph_proc p;
	char *cause = NULL;

	/* kthreadd is pid 2 on Linux outside pid namespaces. */
	if (ph_proc_read("/", 2, &p, &cause) != 0)
		cr_skip_test("no pid 2 here");
	cr_assert(p.kernel);
	cr_assert_eq(p.cmdline[0], '[');
	ph_proc_clear(&p);
}

Test(proc, vanished_process_is_esrch_without_cause)
{
	struct ph_proc p;
	char *cause = (char *)"untouched";
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	cr_assert_eq(waitpid(pid, NULL, 0), pid);
	cr_assert_eq(ph_proc_read("/", pid, &p, &cause), -1);
	cr_assert_eq(errno, ESRCH);
	cr_assert_null(cause);
}

Test(proc, pids_sorted_and_include_self)
{
	pid_t *pids;
	size_t n, i;
	char *cause = NULL;
	int self = 0;

	cr_assert_eq(ph_proc_pids("/", &pids, &n, &cause), 0, "%s", cause);
	cr_assert_gt(n, 1);
	for (i = 0; i < n; i++) {
		if (i > 0)
			cr_assert_lt(pids[i - 1], pids[i]);
		if (pids[i] == getpid())
			self = 1;
	}
	cr_assert(self);
	free(pids);
}

Test(proc, fixture_comm_with_parens_and_passwd)
{
	struct ph_proc p;
	char *cause = NULL;

	put("proc/stat", "cpu 1 2 3\nbtime 1700000000\n");
	put("proc/42/stat", "42 (we ird) (x) S 1 42 42 0 -1 4194560 1 0 0 0 500 250 0 0 20 0 "
	    "3 0 1000 100 256 18446744073709551615\n");
	put("proc/42/status", "Name:\tx\nUid:\t1000\t1000\t1000\t1000\n");
	putn("proc/42/cmdline", "/app/server\0--port\0" "8080\0", 24);
	put("etc/passwd", "root:x:0:0::/root:/bin/sh\nbroken\napp:x:1000:1000::/home/app:/bin/sh\n");
	cr_assert_eq(ph_proc_read(fixture, 42, &p, &cause), 0, "%s", cause);
	cr_assert_str_eq(p.comm, "we ird) (x");
	cr_assert_eq(p.state, 'S');
	cr_assert_eq(p.ppid, 1);
	cr_assert_eq(p.threads, 3);
	cr_assert_eq(p.cpu_ticks, 750);
	cr_assert_str_eq(p.user, "app");
	cr_assert_str_eq(p.cmdline, "/app/server --port 8080");
	cr_assert_eq(p.start, 1700000000 + 1000 / sysconf(_SC_CLK_TCK));
	cr_assert_eq(p.fds, -1);
	ph_proc_clear(&p);

	put("proc/43/stat", "43 (x S 1\n");
	cr_assert_eq(ph_proc_read(fixture, 43, &p, &cause), -1);
	cr_assert_not_null(cause);
	free(cause);
}

Test(proc, unknown_uid_is_numeric)
{
	struct ph_proc p;
	char *cause = NULL;

	put("proc/stat", "btime 1\n");
	put("proc/7/stat", "7 (a) R 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 0 0 0 0\n");
	put("proc/7/status", "Uid:\t4242\t4243\t0\t0\n");
	put("proc/7/cmdline", "");
	put("etc/passwd", "root:x:0:0::/root:/bin/sh\n");
	cr_assert_eq(ph_proc_read(fixture, 7, &p, &cause), 0, "%s", cause);
	cr_assert_str_eq(p.user, "4243");
	ph_proc_clear(&p);
}

Test(proc, memstat_self)
{
	struct ph_memstat m;
	char *cause = NULL;

	cr_assert_eq(ph_memstat_read("/", getpid(), &m, &cause), 0, "%s", cause);
	cr_assert_gt(m.rss, 0);
	cr_assert_geq(m.peak, m.rss);
	cr_assert(m.have_pss);
	cr_assert_gt(m.pss, 0);
	cr_assert_geq(m.threads, 1);
}

Test(proc, cgroup_v2_fixture)
{
	struct ph_cgmem c;
	char cg[128], *cause = NULL;

	put("proc/9/cgroup", "0::/ecs/abc/app\n");
	put("cg/ecs/abc/app/memory.current", "1048576\n");
	put("cg/ecs/abc/app/memory.max", "536870912\n");
	snprintf(cg, sizeof cg, "%s/cg", fixture);
	cr_assert_eq(ph_cgmem_read(fixture, cg, 9, &c, &cause), 0, "%s", cause);
	cr_assert_eq(c.version, 2);
	cr_assert_eq(c.usage, 1048576);
	cr_assert_eq(c.limit, 536870912);
	cr_assert_str_eq(c.path, "/ecs/abc/app");

	/* "max" is no limit; a namespaced "/" reads the mount's root. */
	put("proc/10/cgroup", "0::/\n");
	put("cg/memory.current", "4096\n");
	put("cg/memory.max", "max\n");
	cr_assert_eq(ph_cgmem_read(fixture, cg, 10, &c, &cause), 0, "%s", cause);
	cr_assert_eq(c.version, 2);
	cr_assert_eq(c.usage, 4096);
	cr_assert_eq(c.limit, 0);
}

/* The working set: usage less inactive file cache, v2 and v1 (issue 19). */
Test(proc, cgroup_working_set)
{
	struct ph_cgmem c;
	char cg[128], *cause = NULL;

	put("proc/20/cgroup", "0::/ecs/t/app\n");
	put("cg/ecs/t/app/memory.current", "1000000000\n");
	put("cg/ecs/t/app/memory.max", "2000000000\n");
	put("cg/ecs/t/app/memory.stat", "anon 300000000\nfile 700000000\n"
	    "active_file 100000000\ninactive_file 600000000\n");
	snprintf(cg, sizeof cg, "%s/cg", fixture);
	cr_assert_eq(ph_cgmem_read(fixture, cg, 20, &c, &cause), 0, "%s", cause);
	cr_assert_eq(c.version, 2);
	cr_assert_eq(c.usage, 1000000000);
	cr_assert_eq(c.working_set, 400000000);

	/* v1 reads the hierarchical total_, not the local inactive_file. */
	put("proc/21/cgroup", "3:memory:/docker/ws\n");
	put("cg/memory/docker/ws/memory.usage_in_bytes", "5000\n");
	put("cg/memory/docker/ws/memory.limit_in_bytes", "10000\n");
	put("cg/memory/docker/ws/memory.stat", "cache 3000\ninactive_file 1\n"
	    "total_inactive_anon 0\ntotal_inactive_file 2000\n");
	cr_assert_eq(ph_cgmem_read(fixture, cg, 21, &c, &cause), 0, "%s", cause);
	cr_assert_eq(c.version, 1);
	cr_assert_eq(c.working_set, 3000);

	/* No memory.stat: the working set is the usage. */
	put("proc/22/cgroup", "0::/nostat\n");
	put("cg/nostat/memory.current", "4096\n");
	cr_assert_eq(ph_cgmem_read(fixture, cg, 22, &c, &cause), 0, "%s", cause);
	cr_assert_eq(c.working_set, 4096);
}

Test(proc, cgroup_v1_fixture_and_fallback)
{
	struct ph_cgmem c;
	char cg[128], *cause = NULL;

	put("proc/11/cgroup", "5:pids:/x\n4:cpu,cpuacct:/x\n3:memory:/docker/abc\n");
	put("cg/memory/docker/abc/memory.usage_in_bytes", "2048\n");
	put("cg/memory/docker/abc/memory.limit_in_bytes", "9223372036854771712\n");
	snprintf(cg, sizeof cg, "%s/cg", fixture);
	cr_assert_eq(ph_cgmem_read(fixture, cg, 11, &c, &cause), 0, "%s", cause);
	cr_assert_eq(c.version, 1);
	cr_assert_eq(c.usage, 2048);
	cr_assert_eq(c.limit, 0, "v1's huge sentinel means no limit");

	/* The host path is not in this mount: fall back to the mount's root. */
	put("proc/12/cgroup", "3:memory:/host/only/path\n");
	put("cg/memory/memory.usage_in_bytes", "777\n");
	put("cg/memory/memory.limit_in_bytes", "1000000\n");
	cr_assert_eq(ph_cgmem_read(fixture, cg, 12, &c, &cause), 0, "%s", cause);
	cr_assert_eq(c.usage, 777);
	cr_assert_eq(c.limit, 1000000);

	/* No memory controller at all: version 0, not an error. */
	put("proc/13/cgroup", "5:pids:/x\n");
	cr_assert_eq(ph_cgmem_read(fixture, cg, 13, &c, &cause), 0);
	cr_assert_eq(c.version, 0);
}

Test(proc, cgroup_of_this_process)
{
	struct ph_cgmem c;
	char *cause = NULL;

	cr_assert_eq(ph_cgmem_read("/", "/sys/fs/cgroup", getpid(), &c, &cause), 0, "%s", cause);
	if (c.version == 0)
		cr_skip_test("no memory cgroup mounted here");
	cr_assert_gt(c.usage, 0);
}
