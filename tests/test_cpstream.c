/*
 * test_cpstream.c - the cp stream receiver: files land byte-exact with
 * their modes and mtimes, directories and symlinks are recreated, and
 * every name that would climb out of the destination (absolute, `..`,
 * through a symlink sent earlier) is refused with nothing written outside;
 * a sha256 mismatch leaves no file under its final name.  The sender picks
 * no name and no mode: the one top-level entry arrives under the name the
 * receiver was given, nothing arrives beside it, modes lose setuid/setgid/
 * sticky and take the umask unless PH_CPRX_PRESERVE, and a directory that
 * was already there keeps its mode and times.  A file of unknown size
 * (a stream from stdin) takes any length and must give it with its
 * sha256; the pass-through receiver (`cp TARGET:PATH -`) takes one file
 * and writes nothing.
 */

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <openssl/evp.h>

#include "porthole/cpstream.h"

static char	root[256];	/* temp dir: dest/ and outside/ */
static int	destfd = -1;

static void
setup(void)
{
	char cmd[300];

	snprintf(root, sizeof root, "%s/cpstream-XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	cr_assert_not_null(mkdtemp(root));
	snprintf(cmd, sizeof cmd, "%s/dest", root);
	cr_assert_eq(mkdir(cmd, 0755), 0);
	snprintf(cmd, sizeof cmd, "%s/outside", root);
	cr_assert_eq(mkdir(cmd, 0755), 0);
	snprintf(cmd, sizeof cmd, "%s/dest", root);
	destfd = open(cmd, O_RDONLY | O_DIRECTORY);
	cr_assert(destfd >= 0);
}

static void
teardown(void)
{
	char cmd[700];

	close(destfd);
	snprintf(cmd, sizeof cmd, "chmod -R u+rwx '%s'; rm -rf '%s'", root, root);
	(void)system(cmd);
}

static void
sha_hex(const void *p, size_t n, char out[65])
{
	uint8_t		md[32];
	unsigned	len;

	EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
	ph_cp_hex(md, out);
}

static int
meta(struct ph_cprx *rx, const char *json, char **cause)
{
	json_t	*m = json_loads(json, 0, NULL);
	int	 rc;

	cr_assert_not_null(m, "bad test json %s", json);
	rc = ph_cprx_meta(rx, m, cause);
	json_decref(m);
	return rc;
}

static int
send_file(struct ph_cprx *rx, const char *path, const char *data, int mode, const char *sha,
    char **cause)
{
	char	j[1024], hex[65];
	size_t	n = strlen(data);

	snprintf(j, sizeof j, "{\"type\":\"meta\",\"path\":\"%s\",\"kind\":\"file\","
	    "\"mode\":%d,\"size\":%zu,\"mtime\":1000000}", path, mode, n);
	if (meta(rx, j, cause) != 0)
		return -1;
	if (n > 0 && ph_cprx_data(rx, (const uint8_t *)data, n, cause) != 0)
		return -1;
	sha_hex(data, n, hex);
	snprintf(j, sizeof j, "{\"type\":\"meta\",\"path\":\"%s\",\"sha256\":\"%s\"}", path,
	    sha != NULL ? sha : hex);
	return meta(rx, j, cause);
}

static int
count_entries(const char *sub)
{
	char		 p[400];
	DIR		*d;
	struct dirent	*e;
	int		 n = 0;

	snprintf(p, sizeof p, "%s/%s", root, sub);
	cr_assert_not_null(d = opendir(p));
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

TestSuite(cpstream, .init = setup, .fini = teardown);

Test(cpstream, names)
{
	char *cause = NULL;

	cr_assert_eq(ph_cp_name_ok("a/b/c.txt", &cause), 0);
	cr_assert_eq(ph_cp_name_ok("..a/b..", &cause), 0);
	const char *bad[] = { "", "/etc/passwd", "..", "a/../../x", "a//b", "./a", "a/.",
	    "a/", "../x" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cause = NULL;
		cr_assert_eq(ph_cp_name_ok(bad[i], &cause), -1, "accepted \"%s\"", bad[i]);
		cr_assert_not_null(cause);
		free(cause);
	}
}

Test(cpstream, tree_with_modes_and_symlink)
{
	struct ph_cprx	*rx;
	char		*cause = NULL, p[400], buf[64];
	struct stat	 st;
	ssize_t		 n;
	FILE		*f;

	rx = ph_cprx_new(destfd, "t", 0, 022, &cause);
	cr_assert_not_null(rx, "%s", cause);
	cr_assert_eq(meta(rx, "{\"type\":\"meta\",\"path\":\"t\",\"kind\":\"dir\",\"mode\":493,"
	    "\"mtime\":2000000}", &cause), 0, "%s", cause);
	cr_assert_eq(meta(rx, "{\"type\":\"meta\",\"path\":\"t/ro\",\"kind\":\"dir\","
	    "\"mode\":365,\"mtime\":3000000}", &cause), 0, "%s", cause);
	cr_assert_eq(send_file(rx, "t/ro/x.sh", "#!/bin/sh\necho hi\n", 0750, NULL, &cause), 0,
	    "%s", cause);
	cr_assert_eq(meta(rx, "{\"type\":\"meta\",\"path\":\"t/ln\",\"kind\":\"symlink\","
	    "\"target\":\"/etc/passwd\",\"mtime\":0}", &cause), 0, "%s", cause);
	cr_assert_eq(send_file(rx, "t/empty", "", 0600, NULL, &cause), 0, "%s", cause);
	cr_assert_eq(meta(rx, "{\"type\":\"meta\",\"kind\":\"end\"}", &cause), 0, "%s", cause);
	cr_assert(ph_cprx_done(rx));
	cr_assert_eq(ph_cprx_files(rx), 2);
	ph_cprx_free(rx);

	snprintf(p, sizeof p, "%s/dest/t/ro/x.sh", root);
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0750);
	cr_assert_eq(st.st_mtime, 1000000);
	cr_assert_not_null(f = fopen(p, "r"));
	n = (ssize_t)fread(buf, 1, sizeof buf, f);
	fclose(f);
	cr_assert_eq(n, 18);
	cr_assert_eq(memcmp(buf, "#!/bin/sh\necho hi\n", 18), 0);
	snprintf(p, sizeof p, "%s/dest/t/ro", root);
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0555);
	cr_assert_eq(st.st_mtime, 3000000);
	snprintf(p, sizeof p, "%s/dest/t/ln", root);
	cr_assert_eq(lstat(p, &st), 0);
	cr_assert(S_ISLNK(st.st_mode));
	n = readlink(p, buf, sizeof buf);
	cr_assert_eq(n, 11);
	cr_assert_eq(memcmp(buf, "/etc/passwd", 11), 0);
	cr_assert_eq(count_entries("dest/t"), 3);
}

Test(cpstream, rename_with_as)
{
	struct ph_cprx	*rx;
	char		*cause = NULL, p[400];
	struct stat	 st;

	rx = ph_cprx_new(destfd, "renamed", 0, 022, &cause);
	cr_assert_not_null(rx, "%s", cause);
	cr_assert_eq(send_file(rx, "orig", "data", 0640, NULL, &cause), 0, "%s", cause);
	cr_assert_eq(meta(rx, "{\"type\":\"meta\",\"kind\":\"end\"}", &cause), 0, "%s", cause);
	ph_cprx_free(rx);
	snprintf(p, sizeof p, "%s/dest/renamed", root);
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0640);
	cr_assert_eq(count_entries("dest"), 1);
}

Test(cpstream, refuses_climbing_names)
{
	const char *bad[] = { "../outside/x", "/tmp/x", "a/../../outside/x" };
	struct ph_cprx	*rx;
	char		*cause;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cause = NULL;
		rx = ph_cprx_new(destfd, "x", 0, 022, &cause);
		cr_assert_eq(send_file(rx, bad[i], "evil", 0644, NULL, &cause), -1,
		    "accepted %s", bad[i]);
		cr_assert_not_null(cause);
		cr_assert(strstr(cause, "refusing") != NULL, "cause: %s", cause);
		free(cause);
		ph_cprx_free(rx);
	}
	cr_assert_eq(count_entries("outside"), 0);
	cr_assert_eq(count_entries("dest"), 0);
}

Test(cpstream, refuses_through_streamed_symlink)
{
	struct ph_cprx	*rx;
	char		*cause = NULL, j[600];

	rx = ph_cprx_new(destfd, "d", 0, 022, &cause);
	cr_assert_eq(meta(rx, "{\"type\":\"meta\",\"path\":\"d\",\"kind\":\"dir\"}", &cause),
	    0, "%s", cause);
	snprintf(j, sizeof j, "{\"type\":\"meta\",\"path\":\"d/esc\",\"kind\":\"symlink\","
	    "\"target\":\"%s/outside\"}", root);
	cr_assert_eq(meta(rx, j, &cause), 0, "%s", cause);
	cr_assert_eq(send_file(rx, "d/esc/x", "evil", 0644, NULL, &cause), -1);
	cr_assert(strstr(cause, "refusing") != NULL, "cause: %s", cause);
	free(cause);
	cause = NULL;
	/* A directory entry through it too. */
	cr_assert_eq(meta(rx, "{\"type\":\"meta\",\"path\":\"d/esc/d\",\"kind\":\"dir\"}",
	    &cause), -1);
	free(cause);
	ph_cprx_free(rx);
	cr_assert_eq(count_entries("outside"), 0);
	cr_assert_eq(count_entries("dest"), 1);	/* d */
	cr_assert_eq(count_entries("dest/d"), 1);	/* just the symlink */
}

Test(cpstream, sha_mismatch_leaves_nothing)
{
	struct ph_cprx	*rx;
	char		*cause = NULL;

	rx = ph_cprx_new(destfd, "f", 0, 022, &cause);
	cr_assert_eq(send_file(rx, "f", "payload", 0644,
	    "0000000000000000000000000000000000000000000000000000000000000000", &cause), -1);
	cr_assert(strstr(cause, "sha256 mismatch") != NULL, "cause: %s", cause);
	free(cause);
	ph_cprx_free(rx);
	cr_assert_eq(count_entries("dest"), 0);
}

Test(cpstream, short_and_long_data_refused)
{
	struct ph_cprx	*rx;
	char		*cause = NULL;

	rx = ph_cprx_new(destfd, "f", 0, 022, &cause);
	cr_assert_eq(meta(rx, "{\"type\":\"meta\",\"path\":\"f\",\"kind\":\"file\",\"size\":2}",
	    &cause), 0, "%s", cause);
	cr_assert_eq(ph_cprx_data(rx, (const uint8_t *)"abc", 3, &cause), -1);
	free(cause);
	cause = NULL;
	cr_assert_eq(ph_cprx_data(rx, (const uint8_t *)"a", 1, &cause), 0);
	cr_assert_eq(meta(rx, "{\"type\":\"meta\",\"path\":\"f\",\"sha256\":\"00\"}", &cause), -1);
	cr_assert(strstr(cause, "got 1 bytes of 2") != NULL, "cause: %s", cause);
	free(cause);
	/* Abandoned mid-file: the partial file is removed. */
	ph_cprx_free(rx);
	cr_assert_eq(count_entries("dest"), 0);
}

Test(cpstream, unwritable_destination)
{
	struct ph_cprx	*rx;
	char		*cause = NULL;

	if (geteuid() == 0)
		cr_skip_test("root ignores directory modes");
	cr_assert_eq(fchmod(destfd, 0555), 0);
	rx = ph_cprx_new(destfd, "f", 0, 022, &cause);
	cr_assert_eq(send_file(rx, "f", "x", 0644, NULL, &cause), -1);
	cr_assert(strstr(cause, "Permission denied") != NULL, "cause: %s", cause);
	free(cause);
	ph_cprx_free(rx);
	fchmod(destfd, 0755);
}

/* Run tx into rx until the end; 0 or -1 with *cause. */
static int
pump(struct ph_cptx *tx, struct ph_cprx *rx, char **cause)
{
	static uint8_t	buf[65536];
	json_t		*m;
	size_t		 n;
	int		 rc;

	while ((rc = ph_cptx_next(tx, buf, sizeof buf, &n, &m, cause)) == 1) {
		if (m != NULL) {
			rc = ph_cprx_meta(rx, m, cause);
			json_decref(m);
		} else
			rc = ph_cprx_data(rx, buf, n, cause);
		if (rc != 0)
			return -1;
	}
	return rc;
}

static void
sh(const char *fmt, const char *arg)
{
	char cmd[2048];

	snprintf(cmd, sizeof cmd, fmt, arg, arg, arg, arg, arg, arg);
	cr_assert_eq(system(cmd), 0, "failed: %s", cmd);
}

Test(cpstream, tree_round_trip)
{
	struct ph_cptx	*tx;
	struct ph_cprx	*rx;
	char		*cause = NULL, src[400];

	sh("cd '%s' && mkdir -p src/a/b src/empty && head -c 300000 /dev/urandom > src/a/b/big"
	    " && echo hi > src/a/x && chmod 751 src/a/x && ln -s ../a/x src/a/b/rel"
	    " && ln -s /etc/passwd src/abs && chmod 700 src/a/b && mkfifo src/fifo", root);
	snprintf(src, sizeof src, "%s/src", root);
	tx = ph_cptx_new(-1, src, &cause);
	cr_assert_not_null(tx, "%s", cause);
	cr_assert(ph_cptx_is_dir(tx));
	rx = ph_cprx_new(destfd, ph_cptx_name(tx), 0, 022, &cause);
	cr_assert_eq(pump(tx, rx, &cause), 0, "%s", cause);
	cr_assert(ph_cprx_done(rx));
	cr_assert_eq(ph_cptx_skipped(tx), 1);	/* the fifo */
	cr_assert_eq(ph_cptx_bytes(tx), 300003);
	cr_assert_eq(ph_cprx_bytes(rx), 300003);
	ph_cptx_free(tx);
	ph_cprx_free(rx);
	sh("cd '%s' && rm src/fifo && diff -r --no-dereference src dest/src"
	    " && (cd src && find . -mindepth 1 | sort | xargs stat -c '%%n %%a %%F %%Y') > st1"
	    " && (cd dest/src && find . -mindepth 1 | sort | xargs stat -c '%%n %%a %%F %%Y') > st2"
	    " && cmp st1 st2", root);
}

/* The agent's view: paths resolve inside rootfd, whatever symlinks say. */
Test(cpstream, in_root_resolution)
{
	struct ph_cptx	*tx;
	char		*cause = NULL, p[400];
	int		 rootfd;

	sh("cd '%s' && mkdir -p r/etc && echo inside > r/etc/passwd && ln -s /etc r/esc"
	    " && ln -s ../../../../.. r/up", root);
	snprintf(p, sizeof p, "%s/r", root);
	cr_assert((rootfd = open(p, O_PATH | O_DIRECTORY)) >= 0);
	const char *names[] = { "esc/passwd", "/etc/passwd", "../../../etc/passwd",
	    "up/etc/passwd" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		struct ph_cprx	*rx;
		char		 q[500], buf[32] = "";
		FILE		*f;

		tx = ph_cptx_new(rootfd, names[i], &cause);
		cr_assert_not_null(tx, "%s: %s", names[i], cause);
		rx = ph_cprx_new(destfd, "got", 0, 022, &cause);
		cr_assert_eq(pump(tx, rx, &cause), 0, "%s", cause);
		ph_cptx_free(tx);
		ph_cprx_free(rx);
		snprintf(q, sizeof q, "%s/dest/got", root);
		cr_assert_not_null(f = fopen(q, "r"));
		cr_assert_not_null(fgets(buf, sizeof buf, f));
		fclose(f);
		cr_assert_str_eq(buf, "inside\n", "%s escaped the root", names[i]);
		unlink(q);
	}
	tx = ph_cptx_new(rootfd, "missing/file", &cause);
	cr_assert_null(tx);
	cr_assert(strstr(cause, "No such file") != NULL, "%s", cause);
	free(cause);
	close(rootfd);
}

/* ---- the sender chooses no name and no mode ---- */

static const char *END = "{\"type\":\"meta\",\"kind\":\"end\"}";

static mode_t
mode_of(const char *sub)
{
	char		p[500];
	struct stat	st;

	snprintf(p, sizeof p, "%s/%s", root, sub);
	cr_assert_eq(lstat(p, &st), 0, "%s is missing", sub);
	return st.st_mode & 07777;
}

static int
exists(const char *sub)
{
	char		p[500];
	struct stat	st;

	snprintf(p, sizeof p, "%s/%s", root, sub);
	return lstat(p, &st) == 0;
}

Test(cpstream, top_name)
{
	const char *cases[][2] = {
		{ "/srv/x", "x" }, { "x", "x" }, { "a/b/", "b" }, { "a//b//", "b" },
		{ "/", "root" }, { "//", "root" }, { ".", "root" }, { "..", "root" },
		{ "a/..", "root" }, { "a/.", "root" }, { ".bashrc", ".bashrc" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *n = ph_cp_top_name(cases[i][0]);

		cr_assert_str_eq(n, cases[i][1], "top name of \"%s\"", cases[i][0]);
		free(n);
	}
}

/* Whatever the stream calls its top entry, it arrives as the name asked for. */
Test(cpstream, top_entry_takes_the_name_asked_for)
{
	struct ph_cprx	*rx;
	char		*cause = NULL;

	rx = ph_cprx_new(destfd, "x", 0, 022, &cause);
	cr_assert_eq(send_file(rx, ".bashrc", "evil", 0644, NULL, &cause), 0, "%s", cause);
	cr_assert_eq(meta(rx, END, &cause), 0, "%s", cause);
	ph_cprx_free(rx);
	cr_assert(exists("dest/x"));
	cr_assert_eq(count_entries("dest"), 1);

	rx = ph_cprx_new(destfd, "y", 0, 022, &cause);
	cr_assert_eq(meta(rx, "{\"type\":\"meta\",\"path\":\".ssh\",\"kind\":\"dir\",\"mode\":511}",
	    &cause), 0, "%s", cause);
	cr_assert_eq(send_file(rx, ".ssh/authorized_keys", "k", 0600, NULL, &cause), 0, "%s",
	    cause);
	cr_assert_eq(meta(rx, END, &cause), 0, "%s", cause);
	ph_cprx_free(rx);
	cr_assert(exists("dest/y/authorized_keys"));
	cr_assert(!exists("dest/.ssh"));
	cr_assert_eq(count_entries("dest"), 2);
}

/* A file asked for: exactly one file arrives; any further entry is refused. */
Test(cpstream, one_file_and_nothing_beside_it)
{
	const char *after[] = {
		"{\"type\":\"meta\",\"path\":\".bashrc\",\"kind\":\"file\",\"size\":0}",
		"{\"type\":\"meta\",\"path\":\"x\",\"kind\":\"file\",\"size\":0}",
		"{\"type\":\"meta\",\"path\":\"x/y\",\"kind\":\"file\",\"size\":0}",
		"{\"type\":\"meta\",\"path\":\".ssh\",\"kind\":\"dir\",\"mode\":511}",
		"{\"type\":\"meta\",\"path\":\"l\",\"kind\":\"symlink\",\"target\":\"/\"}",
	};

	for (size_t i = 0; i < sizeof after / sizeof after[0]; i++) {
		struct ph_cprx	*rx;
		char		*cause = NULL;

		rx = ph_cprx_new(destfd, "x", 0, 022, &cause);
		cr_assert_eq(send_file(rx, "x", "payload", 0644, NULL, &cause), 0, "%s", cause);
		cr_assert_eq(meta(rx, after[i], &cause), -1, "accepted %s", after[i]);
		cr_assert(strstr(cause, "refusing") != NULL, "cause: %s", cause);
		free(cause);
		ph_cprx_free(rx);
		cr_assert_eq(count_entries("dest"), 1, "after %s", after[i]);
		cr_assert(exists("dest/x"));
	}
}

/* A directory asked for: a second top-level entry is refused, nothing of it made. */
Test(cpstream, second_top_level_entry_refused)
{
	const char *second[] = {
		"{\"type\":\"meta\",\"path\":\"e\",\"kind\":\"file\",\"size\":0}",
		"{\"type\":\"meta\",\"path\":\"dd\",\"kind\":\"dir\"}",
		"{\"type\":\"meta\",\"path\":\"dd/x\",\"kind\":\"dir\"}",	/* "d" is a prefix */
		"{\"type\":\"meta\",\"path\":\"d2/x\",\"kind\":\"file\",\"size\":0}",
		"{\"type\":\"meta\",\"path\":\"d\",\"kind\":\"dir\"}",	/* the top again */
	};

	for (size_t i = 0; i < sizeof second / sizeof second[0]; i++) {
		struct ph_cprx	*rx;
		char		*cause = NULL;

		rx = ph_cprx_new(destfd, "asked", 0, 022, &cause);
		cr_assert_eq(meta(rx, "{\"type\":\"meta\",\"path\":\"d\",\"kind\":\"dir\"}",
		    &cause), 0, "%s", cause);
		cr_assert_eq(send_file(rx, "d/a", "a", 0644, NULL, &cause), 0, "%s", cause);
		cr_assert_eq(meta(rx, second[i], &cause), -1, "accepted %s", second[i]);
		cr_assert(strstr(cause, "refusing") != NULL, "cause: %s", cause);
		free(cause);
		ph_cprx_free(rx);
		/* What arrived before stays, beneath the name asked for; nothing else. */
		cr_assert_eq(count_entries("dest"), 1, "after %s", second[i]);
		cr_assert_eq(count_entries("dest/asked"), 1, "after %s", second[i]);
		cr_assert(exists("dest/asked/a"));
	}
}

/* The first entry must be the top one, a file or a directory; and it must come. */
Test(cpstream, first_entry_rules)
{
	const char *bad[] = {
		"{\"type\":\"meta\",\"path\":\"a/b\",\"kind\":\"dir\"}",
		"{\"type\":\"meta\",\"path\":\"a/b\",\"kind\":\"file\",\"size\":0}",
		"{\"type\":\"meta\",\"path\":\"x\",\"kind\":\"symlink\",\"target\":\"/etc\"}",
		"{\"type\":\"meta\",\"kind\":\"end\"}",
		"{\"type\":\"meta\",\"path\":\"x\",\"kind\":\"fifo\"}",
	};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct ph_cprx	*rx;
		char		*cause = NULL;

		rx = ph_cprx_new(destfd, "x", 0, 022, &cause);
		cr_assert_eq(meta(rx, bad[i], &cause), -1, "accepted %s", bad[i]);
		cr_assert_not_null(cause);
		free(cause);
		cr_assert(!ph_cprx_done(rx));
		ph_cprx_free(rx);
		cr_assert_eq(count_entries("dest"), 0, "after %s", bad[i]);
	}
}

/* Files and directories: no setuid, setgid or sticky bit, the umask applied. */
Test(cpstream, modes_masked)
{
	struct ph_cprx	*rx;
	char		*cause = NULL;

	rx = ph_cprx_new(destfd, "t", 0, 027, &cause);
	cr_assert_eq(meta(rx, "{\"type\":\"meta\",\"path\":\"t\",\"kind\":\"dir\",\"mode\":2047}",
	    &cause), 0, "%s", cause);	/* 03777 */
	cr_assert_eq(send_file(rx, "t/suid", "s", 04755, NULL, &cause), 0, "%s", cause);
	cr_assert_eq(send_file(rx, "t/sgid", "s", 02777, NULL, &cause), 0, "%s", cause);
	cr_assert_eq(send_file(rx, "t/w", "w", 0666, NULL, &cause), 0, "%s", cause);
	cr_assert_eq(meta(rx, END, &cause), 0, "%s", cause);
	ph_cprx_free(rx);
	cr_assert_eq(mode_of("dest/t"), 0750);
	cr_assert_eq(mode_of("dest/t/suid"), 0750);
	cr_assert_eq(mode_of("dest/t/sgid"), 0750);
	cr_assert_eq(mode_of("dest/t/w"), 0640);

	rx = ph_cprx_new(destfd, "one", 0, 0, &cause);
	cr_assert_eq(send_file(rx, "one", "s", 06777, NULL, &cause), 0, "%s", cause);
	cr_assert_eq(meta(rx, END, &cause), 0, "%s", cause);
	ph_cprx_free(rx);
	cr_assert_eq(mode_of("dest/one"), 0777);
}

/* -p: modes as sent, setuid, setgid and sticky included, no umask. */
Test(cpstream, modes_preserved)
{
	struct ph_cprx	*rx;
	char		*cause = NULL;

	if (geteuid() != 0)
		cr_skip_test("setgid on a file needs its group or root");
	rx = ph_cprx_new(destfd, "t", PH_CPRX_PRESERVE, 077, &cause);
	cr_assert_eq(meta(rx, "{\"type\":\"meta\",\"path\":\"t\",\"kind\":\"dir\",\"mode\":1023}",
	    &cause), 0, "%s", cause);	/* 01777 */
	cr_assert_eq(send_file(rx, "t/suid", "s", 04755, NULL, &cause), 0, "%s", cause);
	cr_assert_eq(send_file(rx, "t/w", "w", 0666, NULL, &cause), 0, "%s", cause);
	cr_assert_eq(meta(rx, END, &cause), 0, "%s", cause);
	ph_cprx_free(rx);
	cr_assert_eq(mode_of("dest/t"), 01777);
	cr_assert_eq(mode_of("dest/t/suid"), 04755);
	cr_assert_eq(mode_of("dest/t/w"), 0666);
}

/* A directory that was there keeps its mode and times; one made here gets them. */
Test(cpstream, existing_directory_untouched)
{
	struct ph_cprx	*rx;
	struct timespec	 ts[2] = { { 1500000000, 0 }, { 1500000000, 0 } };
	struct stat	 st;
	char		*cause = NULL, p[500];

	snprintf(p, sizeof p, "%s/dest/x", root);
	cr_assert_eq(mkdir(p, 0700), 0);
	cr_assert_eq(utimensat(AT_FDCWD, p, ts, 0), 0);
	rx = ph_cprx_new(destfd, "x", PH_CPRX_PRESERVE, 0, &cause);
	cr_assert_eq(meta(rx, "{\"type\":\"meta\",\"path\":\"x\",\"kind\":\"dir\",\"mode\":511,"
	    "\"mtime\":1}", &cause), 0, "%s", cause);
	cr_assert_eq(meta(rx, END, &cause), 0, "%s", cause);
	ph_cprx_free(rx);
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0700);
	cr_assert_eq(st.st_mtime, 1500000000);

	/* Merged into: the existing one stays 0700, the new child gets its own. */
	rx = ph_cprx_new(destfd, "x", PH_CPRX_PRESERVE, 0, &cause);
	cr_assert_eq(meta(rx, "{\"type\":\"meta\",\"path\":\"x\",\"kind\":\"dir\",\"mode\":511,"
	    "\"mtime\":1}", &cause), 0, "%s", cause);
	cr_assert_eq(meta(rx, "{\"type\":\"meta\",\"path\":\"x/new\",\"kind\":\"dir\","
	    "\"mode\":365,\"mtime\":2000000}", &cause), 0, "%s", cause);
	cr_assert_eq(meta(rx, END, &cause), 0, "%s", cause);
	ph_cprx_free(rx);
	cr_assert_eq(mode_of("dest/x"), 0700);
	cr_assert_eq(mode_of("dest/x/new"), 0555);
	snprintf(p, sizeof p, "%s/dest/x/new", root);
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_mtime, 2000000);
}

/* A symlink that was already there is never written through. */
Test(cpstream, existing_symlink_not_followed)
{
	struct ph_cprx	*rx;
	char		*cause = NULL, p[500], t[500];

	snprintf(p, sizeof p, "%s/dest/lnk", root);
	snprintf(t, sizeof t, "%s/outside", root);
	cr_assert_eq(symlink(t, p), 0);
	rx = ph_cprx_new(destfd, "lnk", 0, 022, &cause);
	cr_assert_eq(meta(rx, "{\"type\":\"meta\",\"path\":\"lnk\",\"kind\":\"dir\"}", &cause), -1);
	free(cause);
	ph_cprx_free(rx);
	/* A file of that name replaces the link itself. */
	rx = ph_cprx_new(destfd, "lnk", 0, 022, &cause);
	cr_assert_eq(send_file(rx, "lnk", "data", 0644, NULL, &cause), 0, "%s", cause);
	cr_assert_eq(meta(rx, END, &cause), 0, "%s", cause);
	ph_cprx_free(rx);
	cr_assert_eq(count_entries("outside"), 0);
	cr_assert_eq(mode_of("dest/lnk") , 0644);	/* a file now, not the link */
}

Test(cpstream, umask_read_without_change)
{
	mode_t old = umask(027);

	cr_assert_eq(ph_cp_umask(), 027);
	cr_assert_eq(umask(old), 027);
}

/* One message of tx into rx (DATA: the caller's bytes when fed). */
static int
pipe_next(struct ph_cptx *tx, struct ph_cprx *rx, char **cause)
{
	uint8_t	 buf[4096];
	size_t	 n;
	json_t	*m;
	int	 rc = ph_cptx_next(tx, buf, sizeof buf, &n, &m, cause);

	if (rc != 1)
		return rc;
	if (m != NULL) {
		rc = ph_cprx_meta(rx, m, cause);
		json_decref(m);
	} else
		rc = ph_cprx_data(rx, buf, n, cause);
	return rc == 0 ? 1 : -1;
}

/* A stream of unknown size (cp - TARGET:PATH): fed, any length, sha256 and size at the end. */
Test(cpstream, unsized_stream_round_trip)
{
	static uint8_t	 data[300000];
	struct ph_cptx	*tx;
	struct ph_cprx	*rx;
	struct stat	 st;
	char		*cause = NULL, path[400];
	size_t		 i, off;

	for (i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)(i * 7 + (i >> 9));
	tx = ph_cptx_new_stream("stdin", 0644, &cause);
	rx = ph_cprx_new(destfd, "out", 0, 022, &cause);
	cr_assert(tx != NULL && rx != NULL);
	cr_assert_eq(ph_cptx_total(tx), -1);
	cr_assert_eq(pipe_next(tx, rx, &cause), 1, "%s", cause);	/* meta, size -1 */
	cr_assert_eq(ph_cptx_next(tx, (uint8_t *)path, 1, &i, &(json_t *){ NULL }, &cause),
	    PH_CPTX_FEED);
	for (off = 0; off < sizeof data; off += 70000) {
		size_t n = sizeof data - off < 70000 ? sizeof data - off : 70000;

		cr_assert_eq(ph_cptx_feed(tx, data + off, n, &cause), 0);
		cr_assert_eq(ph_cprx_data(rx, data + off, n, &cause), 0, "%s", cause);
	}
	ph_cptx_feed_end(tx);
	cr_assert_eq(pipe_next(tx, rx, &cause), 1, "%s", cause);	/* sha256 + size */
	cr_assert_eq(pipe_next(tx, rx, &cause), 1, "%s", cause);	/* end */
	cr_assert_eq(pipe_next(tx, rx, &cause), 0);
	cr_assert(ph_cprx_done(rx));
	snprintf(path, sizeof path, "%s/dest/out", root);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_size, (off_t)sizeof data);
	cr_assert_eq(st.st_mode & 07777, 0644);
	cr_assert_eq(ph_cptx_bytes(tx), sizeof data);
	ph_cptx_free(tx);
	ph_cprx_free(rx);
}

/* An unsized file whose end lacks its size, or gives another, is refused. */
Test(cpstream, unsized_needs_its_size_at_the_end)
{
	struct ph_cprx	*rx = ph_cprx_new(destfd, "out", 0, 022, &(char *){ NULL });
	char		*cause = NULL, sha[65], path[400];

	sha_hex("abc", 3, sha);
	cr_assert_eq(meta(rx, "{\"type\":\"meta\",\"path\":\"f\",\"kind\":\"file\",\"mode\":420,"
	    "\"size\":-1}", &cause), 0, "%s", cause);
	cr_assert_eq(ph_cprx_data(rx, (const uint8_t *)"abc", 3, &cause), 0);
	snprintf(path, sizeof path, "{\"type\":\"meta\",\"path\":\"f\",\"sha256\":\"%s\"}", sha);
	cr_assert_eq(meta(rx, path, &cause), -1);
	cr_assert_not_null(strstr(cause, "does not give one"), "%s", cause);
	free(cause);
	cause = NULL;
	snprintf(path, sizeof path, "{\"type\":\"meta\",\"path\":\"f\",\"sha256\":\"%s\","
	    "\"size\":4}", sha);
	cr_assert_eq(meta(rx, path, &cause), -1);
	free(cause);
	ph_cprx_free(rx);
	snprintf(path, sizeof path, "%s/dest/out", root);
	cr_assert_eq(access(path, F_OK), -1);
	/* A file meta with no size at all is still refused. */
	rx = ph_cprx_new(destfd, "out", 0, 022, &cause);
	cause = NULL;
	cr_assert_eq(meta(rx, "{\"type\":\"meta\",\"path\":\"f\",\"kind\":\"file\",\"mode\":420}",
	    &cause), -1);
	free(cause);
	ph_cprx_free(rx);
}

/* `cp TARGET:PATH -`: one file passes through (checked, nothing written); a directory is refused. */
Test(cpstream, pass_one_file_only)
{
	struct ph_cprx	*rx;
	char		*cause = NULL, sha[65], m[300];

	rx = ph_cprx_new_pass(&cause);
	cr_assert_not_null(rx);
	sha_hex("hello", 5, sha);
	cr_assert_eq(send_file(rx, "hostname", "hello", 0644, sha, &cause), 0, "%s", cause);
	cr_assert_eq(ph_cprx_total(rx), 5);
	cr_assert_str_eq(ph_cprx_sha256(rx), sha);
	cr_assert_eq(meta(rx, "{\"type\":\"meta\",\"kind\":\"end\"}", &cause), 0);
	cr_assert(ph_cprx_done(rx));
	ph_cprx_free(rx);
	cr_assert_eq(count_entries("dest"), 0, "pass mode wrote something");

	rx = ph_cprx_new_pass(&cause);
	cr_assert_eq(meta(rx, "{\"type\":\"meta\",\"path\":\"etc\",\"kind\":\"dir\",\"mode\":493}",
	    &cause), -1);
	cr_assert_not_null(strstr(cause, "is a directory"), "%s", cause);
	free(cause);
	ph_cprx_free(rx);

	/* A wrong sha256 fails the pass too. */
	cause = NULL;
	rx = ph_cprx_new_pass(&cause);
	snprintf(m, sizeof m, "%s", sha);
	m[0] = m[0] == '0' ? '1' : '0';
	cr_assert_eq(send_file(rx, "x", "hello", 0644, m, &cause), -1);
	free(cause);
	ph_cprx_free(rx);
}
