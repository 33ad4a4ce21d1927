/*
 * fuzz_cpstream.c - libFuzzer target for the cp stream receiver.  The
 * input is a stream, one record per line: a line starting with `{` is a
 * `meta` object, anything else is one DATA payload.  A first line starting
 * with `!` is not a record but options, one letter each: P receive with
 * PH_CPRX_PRESERVE (cp -p); E the name asked for is already there as a
 * directory 0700; L it is already there as a symlink to the sibling
 * directory.  (An input starting with R asks for the name "renamed", as
 * older corpus entries do; else the name is "t".)
 *
 * The receiver writes into a scratch directory that is emptied after each
 * input.  Aborts (a finding) when, after the stream:
 *  - the sibling directory is not empty: a name escaped the destination,
 *    or something was written through a symlink;
 *  - the destination holds anything but the name asked for;
 *  - without P, anything received has a setuid, setgid or sticky bit, or a
 *    bit the umask (022) takes away;
 *  - with E, the directory that was there changed type or mode.
 */

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "porthole/cpstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char	base[256], dest[300], outside[300];
static int	bad_mode;	/* set by check_one */

/*
 * Make every real directory below the scratch directory searchable, so the
 * second walk can empty it.  Only FTW_D: chmod() follows symlinks, and a
 * received symlink may point anywhere (one to "/" once made the whole
 * machine's root 0700).
 */
static int
open_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)ftw;
	if (flag == FTW_D || flag == FTW_DNR)
		chmod(p, 0700);
	return 0;
}

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag;
	if (ftw->level == 0)
		return 0;
	return remove(p);	/* a symlink itself, never its target */
}

static void
empty_dir(const char *p)
{
	chmod(p, 0700);
	nftw(p, open_one, 16, FTW_PHYS);
	nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Modes of what arrived (not symlinks: theirs is always 0777). */
static int
check_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)p;
	if (ftw->level > 0 && flag != FTW_SL && (st->st_mode & (07000 | 022)) != 0)
		bad_mode = 1;
	return 0;
}

/* Does dir hold anything but name? */
static int
holds_other(const char *dir, const char *name)
{
	DIR		*d = opendir(dir);
	struct dirent	*e;
	int		 other = 0;

	if (d == NULL)
		return 1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
		    strcmp(e->d_name, name) != 0)
			other = 1;
	closedir(d);
	return other;
}

static int
is_empty(const char *p)
{
	DIR		*d = opendir(p);
	struct dirent	*e;
	int		 n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ph_cprx	*rx;
	const uint8_t	*p = data, *e, *end = data + size;
	const char	*as = size > 0 && data[0] == 'R' ? "renamed" : "t";
	char		*cause = NULL, asked[400];
	struct stat	 st;
	json_t		*m;
	int		 dfd, rc = 0, flags = 0, existing = 0, link = 0;

	if (base[0] == '\0') {
		snprintf(base, sizeof base, "%s/fuzz-cpstream-XXXXXX",
		    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
		if (mkdtemp(base) == NULL)
			abort();
		snprintf(dest, sizeof dest, "%s/dest", base);
		snprintf(outside, sizeof outside, "%s/outside", base);
		mkdir(dest, 0700);
		mkdir(outside, 0700);
	}
	if (size > 0 && data[0] == '!') {
		if ((e = memchr(p, '\n', size)) == NULL)
			e = end;
		flags = memchr(p, 'P', (size_t)(e - p)) != NULL ? PH_CPRX_PRESERVE : 0;
		existing = memchr(p, 'E', (size_t)(e - p)) != NULL;
		link = !existing && memchr(p, 'L', (size_t)(e - p)) != NULL;
		p = e < end ? e + 1 : end;
	}
	snprintf(asked, sizeof asked, "%s/%s", dest, as);
	if ((existing && mkdir(asked, 0700) != 0) || (link && symlink(outside, asked) != 0))
		abort();
	if ((dfd = open(dest, O_RDONLY | O_DIRECTORY)) < 0)
		abort();
	rx = ph_cprx_new(dfd, as, flags, 022, &cause);
	while (rx != NULL && rc == 0 && p < end) {
		if ((e = memchr(p, '\n', (size_t)(end - p))) == NULL)
			e = end;
		if (*p == '{') {
			m = json_loadb((const char *)p, (size_t)(e - p), 0, NULL);
			if (m != NULL && json_is_object(m))
				rc = ph_cprx_meta(rx, m, &cause);
			json_decref(m);
		} else
			rc = ph_cprx_data(rx, p, (size_t)(e - p), &cause);
		free(cause);
		cause = NULL;
		p = e + 1;
	}
	free(cause);
	ph_cprx_free(rx);
	close(dfd);
	if (!is_empty(outside))
		abort();	/* escaped the destination */
	if (holds_other(dest, as))
		abort();	/* something beside the name asked for */
	if (existing && (lstat(asked, &st) != 0 || !S_ISDIR(st.st_mode) ||
	    (st.st_mode & 07777) != 0700))
		abort();	/* a directory that was there changed */
	bad_mode = 0;
	if (flags == 0)
		nftw(dest, check_one, 16, FTW_PHYS);
	if (bad_mode)
		abort();	/* setuid, setgid, sticky or past the umask */
	empty_dir(dest);
	return 0;
}
