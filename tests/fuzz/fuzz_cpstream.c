/*
 * fuzz_cpstream.c - libFuzzer target for the cp stream receiver.  The
 * input is a stream, one record per line: a line starting with `{` is a
 * `meta` object, anything else is one DATA payload.  The receiver writes
 * into a scratch directory that is emptied after each input; a sibling
 * directory must stay empty (abort otherwise), so any name that escapes
 * the destination is a crash.
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
	char		*cause = NULL;
	json_t		*m;
	int		 dfd, rc = 0;

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
	if ((dfd = open(dest, O_RDONLY | O_DIRECTORY)) < 0)
		abort();
	rx = ph_cprx_new(dfd, size > 0 && data[0] == 'R' ? "renamed" : "t", 0, 022, &cause);
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
		abort();
	empty_dir(dest);
	return 0;
}
