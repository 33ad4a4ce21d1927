/*
 * cpstream.c - the receiving end of a `cp` stream (include/porthole/
 * cpstream.h): checks every name from the peer and maps its one top-level
 * entry to the name the operator asked for, creates directories, symlinks
 * and files beneath one destination directory with openat2
 * (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), masks modes (no setuid, setgid
 * or sticky, the umask) unless told to keep them, writes each file under
 * a partial name while hashing it, and renames it into place only when its
 * size and sha256 match what the sender announced.  Also the sending end,
 * below.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "porthole/cpstream.h"
#include "porthole/frame.h"
#include "porthole/util.h"

struct cp_dir {
	char	*path;
	int	 mode;
	int64_t	 mtime;
};

struct ph_cprx {
	int		 dirfd;
	char		*as;		/* the name the top entry arrives as */
	int		 flags;		/* PH_CPRX_* */
	mode_t		 mask;		/* umask, without PH_CPRX_PRESERVE */
	char		*top;		/* the top entry's name in the stream, once seen */
	int		 top_dir;	/* ... and it is a directory */
	int		 done;
	int		 pass;		/* PH_CPRX_PASS: one file, nothing written */
	int64_t		 total;		/* the one file's announced size; -1 unknown */
	unsigned	 entries;
	unsigned	 files;
	uint64_t	 bytes;

	/* The file being received (fd != -1). */
	int		 fd;
	int		 pfd;		/* its parent directory */
	char		*path;		/* name in the stream */
	char		*base;		/* final name in pfd */
	char		*tmp;		/* partial name in pfd */
	int64_t		 size, got, mtime;	/* size -1: unknown (a stream) */
	int		 mode;
	int		 open;		/* a file is being received */
	char		 sha[65];	/* the last file's sha256 */
	EVP_MD_CTX	*md;

	struct cp_dir	*dirs;		/* created here: modes and mtimes applied at `end` */
	size_t		 ndirs, dirsz;
};

int
ph_cp_name_ok(const char *rel, char **cause)
{
	const char	*p = rel, *e;
	size_t		 n;

	if (rel == NULL || *rel == '\0') {
		*cause = ph_asprintf("empty name in the stream");
		return -1;
	}
	if (strlen(rel) > PH_CP_MAX_NAME) {
		*cause = ph_asprintf("name longer than %d bytes in the stream", PH_CP_MAX_NAME);
		return -1;
	}
	if (*rel == '/') {
		*cause = ph_asprintf("refusing absolute name \"%s\" in the stream", rel);
		return -1;
	}
	for (;;) {
		e = strchr(p, '/');
		n = e != NULL ? (size_t)(e - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.')) {
			*cause = ph_asprintf("refusing name \"%s\" in the stream: it has an "
			    "empty, \".\" or \"..\" component", rel);
			return -1;
		}
		if (e == NULL)
			return 0;
		p = e + 1;
	}
}

void
ph_cp_hex(const uint8_t md[32], char out[65])
{
	static const char hx[] = "0123456789abcdef";
	int i;

	for (i = 0; i < 32; i++) {
		out[2 * i] = hx[md[i] >> 4];
		out[2 * i + 1] = hx[md[i] & 15];
	}
	out[64] = '\0';
}

char *
ph_cp_top_name(const char *path)
{
	const char	*e = path + strlen(path), *b;

	while (e > path + 1 && e[-1] == '/')
		e--;
	for (b = e; b > path && b[-1] != '/'; b--)
		;
	if (b == e || (e - b == 1 && b[0] == '.') ||
	    (e - b == 2 && b[0] == '.' && b[1] == '.'))
		return strdup("root");
	return strndup(b, (size_t)(e - b));
}

mode_t
ph_cp_umask(void)
{
	char		 line[128];
	unsigned	 m;
	mode_t		 old;
	FILE		*f;

	if ((f = fopen("/proc/self/status", "re")) != NULL) {
		while (fgets(line, sizeof line, f) != NULL) {
			if (sscanf(line, "Umask: %o", &m) == 1) {
				fclose(f);
				return (mode_t)(m & 0777);
			}
		}
		fclose(f);
	}
	old = umask(022);
	umask(old);
	return old;
}

struct ph_cprx *
ph_cprx_new(int dirfd, const char *as, int flags, mode_t mask, char **cause)
{
	struct ph_cprx *rx;

	if (as == NULL || strchr(as, '/') != NULL || ph_cp_name_ok(as, cause) != 0) {
		if (as == NULL || strchr(as, '/') != NULL)
			*cause = ph_asprintf("bad destination name \"%s\"", as != NULL ? as : "");
		return NULL;
	}
	if ((rx = calloc(1, sizeof *rx)) == NULL || (rx->as = strdup(as)) == NULL) {
		free(rx);
		*cause = ph_asprintf("out of memory");
		return NULL;
	}
	rx->dirfd = dirfd;
	rx->fd = rx->pfd = -1;
	rx->flags = flags;
	rx->mask = mask & 0777;
	rx->total = -1;
	return rx;
}

struct ph_cprx *
ph_cprx_new_pass(char **cause)
{
	struct ph_cprx *rx;

	if ((rx = ph_cprx_new(-1, "-", 0, 0, cause)) != NULL)
		rx->pass = 1;
	return rx;
}

/* The mode an entry gets: as sent with -p, else no setuid/setgid/sticky, umasked. */
static mode_t
cp_mode(const struct ph_cprx *rx, int mode)
{
	if (rx->flags & PH_CPRX_PRESERVE)
		return (mode_t)(mode & 07777);
	return (mode_t)(mode & 0777) & ~rx->mask;
}

/*
 * The stream's name rel of a new entry of kind, checked, as a name beneath
 * the destination: the top entry (the first, one component, a file or a
 * directory) becomes as; every later one must lie beneath a top directory
 * and has its first component replaced by as.
 */
static char *
cp_map(struct ph_cprx *rx, const char *rel, const char *kind, char **cause)
{
	const char	*slash;
	size_t		 n;

	if (ph_cp_name_ok(rel, cause) != 0)
		return NULL;
	slash = strchr(rel, '/');
	if (rx->top == NULL) {
		if (slash != NULL) {
			*cause = ph_asprintf("refusing \"%s\": the stream must start with "
			    "the entry asked for (\"%s\")", rel, rx->as);
			return NULL;
		}
		if (strcmp(kind, "file") != 0 && strcmp(kind, "dir") != 0) {
			*cause = ph_asprintf("refusing \"%s\": the entry asked for arrived "
			    "as a %s, not a file or directory", rel, kind);
			return NULL;
		}
		if (rx->pass && strcmp(kind, "file") != 0) {
			*cause = ph_asprintf("\"%s\" is a directory: `-` takes one regular "
			    "file (copy a tree to a local directory)", rel);
			return NULL;
		}
		if ((rx->top = strdup(rel)) == NULL) {
			*cause = ph_asprintf("out of memory");
			return NULL;
		}
		rx->top_dir = strcmp(kind, "dir") == 0;
		return strdup(rx->as);
	}
	if (!rx->top_dir) {
		*cause = ph_asprintf("refusing \"%s\": \"%s\" is a file, and the one "
		    "file asked for already arrived", rel, rx->as);
		return NULL;
	}
	n = strlen(rx->top);
	if (slash == NULL || (size_t)(slash - rel) != n || strncmp(rel, rx->top, n) != 0) {
		*cause = ph_asprintf("refusing \"%s\": a second top-level entry (only "
		    "\"%s\", asked for, and what is beneath it may arrive)", rel, rx->as);
		return NULL;
	}
	return ph_asprintf("%s%s", rx->as, slash);
}

static int
cp_openat2(int dirfd, const char *path, int flags, char **cause)
{
	struct open_how	how;
	int		fd;

	memset(&how, 0, sizeof how);
	how.flags = (uint64_t)(flags | O_CLOEXEC);
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
	fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
	if (fd < 0) {
		if (errno == EXDEV || errno == ELOOP)
			*cause = ph_asprintf("refusing \"%s\": it leaves the destination "
			    "or goes through a symlink", path);
		else
			*cause = ph_asprintf("%s: %s", path, strerror(errno));
	}
	return fd;
}

/*
 * Split the mapped name into its parent (opened beneath the destination,
 * O_PATH) and its last component.
 */
static int
cp_parent(struct ph_cprx *rx, char *mapped, char **base, char **cause)
{
	char *slash = strrchr(mapped, '/');

	if (slash == NULL) {
		*base = mapped;
		return cp_openat2(rx->dirfd, ".", O_PATH | O_DIRECTORY, cause);
	}
	*slash = '\0';
	*base = slash + 1;
	return cp_openat2(rx->dirfd, mapped, O_PATH | O_DIRECTORY, cause);
}

static void
cp_file_clear(struct ph_cprx *rx)
{
	if (rx->fd != -1)
		close(rx->fd);
	if (rx->pfd != -1)
		close(rx->pfd);
	rx->fd = rx->pfd = -1;
	rx->open = 0;
	free(rx->path);
	free(rx->base);
	free(rx->tmp);
	rx->path = rx->base = rx->tmp = NULL;
	EVP_MD_CTX_free(rx->md);
	rx->md = NULL;
}

void
ph_cprx_abort(struct ph_cprx *rx)
{
	if (rx == NULL)
		return;
	if (rx->fd != -1 && rx->tmp != NULL)
		unlinkat(rx->pfd, rx->tmp, 0);
	cp_file_clear(rx);
}

/*
 * A directory: created 0700 (its mode and mtime come at `end`), or an
 * existing one merged into, never changed.
 */
static int
cp_dir_entry(struct ph_cprx *rx, char *mapped, int mode, int64_t mtime, char **cause)
{
	struct stat	 st;
	char		*base, *path;
	int		 pfd;
	struct cp_dir	*d;

	if ((pfd = cp_parent(rx, mapped, &base, cause)) < 0)
		return -1;
	if (mkdirat(pfd, base, 0700) != 0) {
		if (errno != EEXIST || fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISDIR(st.st_mode)) {
			*cause = ph_asprintf("mkdir %s: %s", base,
			    errno == EEXIST ? "exists and is not a directory" : strerror(errno));
			close(pfd);
			return -1;
		}
		close(pfd);
		return 0;	/* not ours: its mode and times stay */
	}
	close(pfd);
	if (base != mapped)
		base[-1] = '/';
	if ((path = strdup(mapped)) == NULL) {
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	if (rx->ndirs == rx->dirsz) {
		size_t nsz = rx->dirsz != 0 ? rx->dirsz * 2 : 16;

		if ((d = realloc(rx->dirs, nsz * sizeof *d)) == NULL) {
			free(path);
			*cause = ph_asprintf("out of memory");
			return -1;
		}
		rx->dirs = d;
		rx->dirsz = nsz;
	}
	rx->dirs[rx->ndirs].path = path;
	rx->dirs[rx->ndirs].mode = mode;
	rx->dirs[rx->ndirs].mtime = mtime;
	rx->ndirs++;
	return 0;
}

static int
cp_tmpname(const char *base, char **tmp)
{
	char hex[9];

	if (ph_random_hex(hex, 8) != 0)
		return -1;
	*tmp = ph_asprintf("%s.porthole-partial-%s", base, hex);
	return *tmp != NULL ? 0 : -1;
}

static int
cp_symlink_entry(struct ph_cprx *rx, char *mapped, const char *target, int64_t mtime,
    char **cause)
{
	struct timespec	 ts[2];
	char		*base, *tmp = NULL;
	int		 pfd, rc = -1;

	if (target == NULL || *target == '\0') {
		*cause = ph_asprintf("symlink %s without a target", mapped);
		return -1;
	}
	if ((pfd = cp_parent(rx, mapped, &base, cause)) < 0)
		return -1;
	if (cp_tmpname(base, &tmp) != 0)
		*cause = ph_asprintf("out of memory");
	else if (symlinkat(target, pfd, tmp) != 0)
		*cause = ph_asprintf("symlink %s: %s", base, strerror(errno));
	else {
		ts[0].tv_sec = ts[1].tv_sec = (time_t)mtime;
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		(void)utimensat(pfd, tmp, ts, AT_SYMLINK_NOFOLLOW);
		if (renameat(pfd, tmp, pfd, base) != 0) {
			*cause = ph_asprintf("rename to %s: %s", base, strerror(errno));
			unlinkat(pfd, tmp, 0);
		} else
			rc = 0;
	}
	free(tmp);
	close(pfd);
	return rc;
}

static int
cp_file_begin(struct ph_cprx *rx, char *mapped, const char *rel, int mode, int64_t size,
    int64_t mtime, char **cause)
{
	char *base = mapped;

	if (size < -1) {
		*cause = ph_asprintf("file %s without a size", rel);
		return -1;
	}
	if (!rx->pass && (rx->pfd = cp_parent(rx, mapped, &base, cause)) < 0)
		return -1;
	rx->path = strdup(rel);
	rx->base = strdup(base);
	if (rx->path == NULL || rx->base == NULL || cp_tmpname(base, &rx->tmp) != 0 ||
	    (rx->md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(rx->md, EVP_sha256(), NULL) != 1) {
		*cause = ph_asprintf("out of memory");
		cp_file_clear(rx);
		return -1;
	}
	if (!rx->pass && (rx->fd = openat(rx->pfd, rx->tmp, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
		*cause = ph_asprintf("create %s: %s", rx->base, strerror(errno));
		cp_file_clear(rx);
		return -1;
	}
	rx->open = 1;
	if (rx->entries == 1)
		rx->total = size;
	rx->size = size;
	rx->got = 0;
	rx->mode = mode;
	rx->mtime = mtime;
	return 0;
}

/* A file's last meta: sha256, and size (required when it was not known at its start). */
static int
cp_file_end(struct ph_cprx *rx, const char *rel, const char *sha, int64_t size, char **cause)
{
	struct timespec	ts[2];
	uint8_t		md[32];
	unsigned	mdlen = 0;
	char		hex[65];

	if (!rx->open || strcmp(rel, rx->path) != 0) {
		*cause = ph_asprintf("sha256 for %s, which is not being received", rel);
		return -1;
	}
	if (rx->size == -1 && size < 0) {
		*cause = ph_asprintf("%s: sent without a size, and its end does not give one",
		    rel);
		return -1;
	}
	if (size >= 0 && size != rx->got) {
		*cause = ph_asprintf("%s: got %lld bytes of %lld", rel, (long long)rx->got,
		    (long long)size);
		return -1;
	}
	if (rx->size != -1 && rx->got != rx->size) {
		*cause = ph_asprintf("%s: got %lld bytes of %lld", rel, (long long)rx->got,
		    (long long)rx->size);
		return -1;
	}
	if (EVP_DigestFinal_ex(rx->md, md, &mdlen) != 1 || mdlen != 32) {
		*cause = ph_asprintf("%s: sha256 failed", rel);
		return -1;
	}
	ph_cp_hex(md, hex);
	if (strcmp(hex, sha) != 0) {
		*cause = ph_asprintf("%s: sha256 mismatch (sent %s, received %s)", rel, sha, hex);
		return -1;
	}
	memcpy(rx->sha, hex, sizeof rx->sha);
	if (rx->pass) {
		rx->files++;
		cp_file_clear(rx);
		return 0;
	}
	ts[0].tv_sec = ts[1].tv_sec = (time_t)rx->mtime;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (fchmod(rx->fd, cp_mode(rx, rx->mode)) != 0 || futimens(rx->fd, ts) != 0 ||
	    close(rx->fd) != 0) {
		*cause = ph_asprintf("%s: %s", rel, strerror(errno));
		return -1;
	}
	rx->fd = -1;
	if (renameat(rx->pfd, rx->tmp, rx->pfd, rx->base) != 0) {
		*cause = ph_asprintf("rename to %s: %s", rx->base, strerror(errno));
		unlinkat(rx->pfd, rx->tmp, 0);
		return -1;
	}
	rx->files++;
	cp_file_clear(rx);
	return 0;
}

static int
cp_finish(struct ph_cprx *rx, char **cause)
{
	struct timespec	ts[2];
	size_t		i;
	int		fd;

	if (rx->top == NULL) {
		*cause = ph_asprintf("the stream ended without the entry asked for");
		return -1;
	}
	for (i = rx->ndirs; i-- > 0; ) {
		if ((fd = cp_openat2(rx->dirfd, rx->dirs[i].path, O_RDONLY | O_DIRECTORY,
		    cause)) < 0)
			return -1;
		ts[0].tv_sec = ts[1].tv_sec = (time_t)rx->dirs[i].mtime;
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		if (fchmod(fd, cp_mode(rx, rx->dirs[i].mode)) != 0 ||
		    futimens(fd, ts) != 0) {
			*cause = ph_asprintf("%s: %s", rx->dirs[i].path, strerror(errno));
			close(fd);
			return -1;
		}
		close(fd);
	}
	rx->done = 1;
	return 0;
}

int
ph_cprx_meta(struct ph_cprx *rx, json_t *meta, char **cause)
{
	const char	*kind = json_string_value(json_object_get(meta, "kind"));
	const char	*rel = json_string_value(json_object_get(meta, "path"));
	const char	*sha = json_string_value(json_object_get(meta, "sha256"));
	json_t		*v;
	int		 mode = kind != NULL && strcmp(kind, "dir") == 0 ? 0755 : 0644;
	int64_t		 mtime = 0, size = -1;
	char		*mapped;
	int		 rc;

	if (rx->done) {
		*cause = ph_asprintf("meta after the end of the stream");
		return -1;
	}
	if ((v = json_object_get(meta, "mode")) != NULL && json_is_integer(v))
		mode = (int)(json_integer_value(v) & 07777);
	if ((v = json_object_get(meta, "mtime")) != NULL && json_is_integer(v))
		mtime = json_integer_value(v);
	if ((v = json_object_get(meta, "size")) != NULL && json_is_integer(v))
		size = json_integer_value(v);
	if (kind == NULL && sha != NULL && rel != NULL)
		return cp_file_end(rx, rel, sha, size, cause);
	if (kind == NULL) {
		*cause = ph_asprintf("meta without kind");
		return -1;
	}
	if (strcmp(kind, "file") == 0 && json_object_get(meta, "size") == NULL)
		size = -2;	/* absent: refused (-1 says "unknown") */
	if (rx->open) {
		*cause = ph_asprintf("%s: next entry before its sha256", rx->path);
		return -1;
	}
	if (strcmp(kind, "end") == 0)
		return cp_finish(rx, cause);
	if (++rx->entries > PH_CP_MAX_ENTRIES) {
		*cause = ph_asprintf("more than %d entries", PH_CP_MAX_ENTRIES);
		return -1;
	}
	if (strcmp(kind, "dir") != 0 && strcmp(kind, "symlink") != 0 &&
	    strcmp(kind, "file") != 0) {
		*cause = ph_asprintf("unknown kind \"%s\"", kind);
		return -1;
	}
	if ((mapped = cp_map(rx, rel, kind, cause)) == NULL)
		return -1;
	if (strcmp(kind, "dir") == 0)
		rc = cp_dir_entry(rx, mapped, mode, mtime, cause);
	else if (strcmp(kind, "symlink") == 0)
		rc = cp_symlink_entry(rx, mapped,
		    json_string_value(json_object_get(meta, "target")), mtime, cause);
	else
		rc = cp_file_begin(rx, mapped, rel, mode, size, mtime, cause);
	free(mapped);
	return rc;
}

int
ph_cprx_data(struct ph_cprx *rx, const uint8_t *p, size_t n, char **cause)
{
	ssize_t w;

	if (!rx->open) {
		*cause = ph_asprintf("data outside a file");
		return -1;
	}
	if (rx->size == -1 && (uint64_t)n > (uint64_t)(INT64_MAX - rx->got)) {
		*cause = ph_asprintf("%s: too large", rx->path);
		return -1;
	}
	if (rx->size != -1 && (uint64_t)n > (uint64_t)(rx->size - rx->got)) {
		*cause = ph_asprintf("%s: more data than its size (%lld)", rx->path,
		    (long long)rx->size);
		return -1;
	}
	if (EVP_DigestUpdate(rx->md, p, n) != 1) {
		*cause = ph_asprintf("sha256 failed");
		return -1;
	}
	rx->got += (int64_t)n;
	rx->bytes += n;
	while (!rx->pass && n > 0) {
		if ((w = write(rx->fd, p, n)) < 0) {
			if (errno == EINTR)
				continue;
			*cause = ph_asprintf("write %s: %s", rx->base, strerror(errno));
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
ph_cprx_done(const struct ph_cprx *rx)
{
	return rx->done;
}

uint64_t
ph_cprx_bytes(const struct ph_cprx *rx)
{
	return rx->bytes;
}

unsigned
ph_cprx_files(const struct ph_cprx *rx)
{
	return rx->files;
}

int64_t
ph_cprx_total(const struct ph_cprx *rx)
{
	return rx->top != NULL && !rx->top_dir ? rx->total : -1;
}

const char *
ph_cprx_sha256(const struct ph_cprx *rx)
{
	return rx->files == 1 && !rx->top_dir ? rx->sha : NULL;
}

void
ph_cprx_free(struct ph_cprx *rx)
{
	size_t i;

	if (rx == NULL)
		return;
	ph_cprx_abort(rx);
	for (i = 0; i < rx->ndirs; i++)
		free(rx->dirs[i].path);
	free(rx->dirs);
	free(rx->as);
	free(rx->top);
	free(rx);
}

/* ---- the sending end ---- */

struct cp_level {
	DIR	*dir;
	char	*path;		/* stream name of this directory */
};

struct ph_cptx {
	struct stat	 top_st;
	int		 top_fd;	/* O_PATH fd of the starting path, until sent */
	char		*top_name;
	int		 ended;
	uint64_t	 bytes;
	unsigned	 skipped;

	/* A stream of unknown size (ph_cptx_new_stream): fed by the caller. */
	int		 stream;
	int		 stream_state;	/* 0 meta due, 1 fed, 2 input over, 3 sha sent */
	int		 stream_mode;

	struct cp_level	 lv[PH_CP_MAX_DEPTH];
	int		 depth;

	/* The file being sent (fd != -1). */
	int		 fd;
	char		*path;
	int64_t		 size, sent;
	EVP_MD_CTX	*md;
};

static json_t *
cp_meta_new(const char *path, const char *kind, const struct stat *st)
{
	return json_pack("{s:s, s:s, s:s, s:i, s:I}", "type", "meta", "path", path,
	    "kind", kind, "mode", (int)(st->st_mode & 07777),
	    "mtime", (json_int_t)(st->st_mtime > 0 ? st->st_mtime : 0));
}

struct ph_cptx *
ph_cptx_new(int rootfd, const char *path, char **cause)
{
	struct ph_cptx	*tx;
	struct open_how	 how;
	int		 fd;

	if (rootfd != -1) {
		memset(&how, 0, sizeof how);
		how.flags = O_PATH | O_CLOEXEC;
		how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
		fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
	} else
		fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0) {
		*cause = ph_asprintf("%s: %s", path, strerror(errno));
		return NULL;
	}
	if ((tx = calloc(1, sizeof *tx)) == NULL) {
		close(fd);
		*cause = ph_asprintf("out of memory");
		return NULL;
	}
	tx->top_fd = fd;
	tx->fd = -1;
	if (fstat(fd, &tx->top_st) != 0) {
		*cause = ph_asprintf("%s: %s", path, strerror(errno));
		ph_cptx_free(tx);
		return NULL;
	}
	if ((tx->top_name = ph_cp_top_name(path)) == NULL) {
		*cause = ph_asprintf("out of memory");
		ph_cptx_free(tx);
		return NULL;
	}
	return tx;
}

struct ph_cptx *
ph_cptx_new_stream(const char *name, int mode, char **cause)
{
	struct ph_cptx	*tx;

	if (name == NULL || strchr(name, '/') != NULL || ph_cp_name_ok(name, cause) != 0) {
		if (name == NULL || strchr(name, '/') != NULL)
			*cause = ph_asprintf("bad stream name");
		return NULL;
	}
	if ((tx = calloc(1, sizeof *tx)) == NULL || (tx->top_name = strdup(name)) == NULL ||
	    (tx->md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(tx->md, EVP_sha256(), NULL) != 1) {
		if (tx != NULL) {
			EVP_MD_CTX_free(tx->md);
			free(tx->top_name);
		}
		free(tx);
		*cause = ph_asprintf("out of memory");
		return NULL;
	}
	tx->top_fd = tx->fd = -1;
	tx->stream = 1;
	tx->stream_mode = mode & 07777;
	tx->top_st.st_mode = S_IFREG | (mode_t)(mode & 07777);
	return tx;
}

int
ph_cptx_feed(struct ph_cptx *tx, const uint8_t *p, size_t n, char **cause)
{
	if (!tx->stream || tx->stream_state != 1) {
		*cause = ph_asprintf("stream data out of order");
		return -1;
	}
	if (EVP_DigestUpdate(tx->md, p, n) != 1) {
		*cause = ph_asprintf("sha256 failed");
		return -1;
	}
	tx->bytes += n;
	return 0;
}

void
ph_cptx_feed_end(struct ph_cptx *tx)
{
	if (tx->stream && tx->stream_state == 1)
		tx->stream_state = 2;
}

/* ph_cptx_next for a stream: its meta, then (once fed and ended) sha256 and end. */
static int
cp_tx_stream_next(struct ph_cptx *tx, json_t **meta, char **cause)
{
	uint8_t		md[32];
	unsigned	mdlen = 0;
	char		hex[65];

	switch (tx->stream_state) {
	case 0:
		*meta = json_pack("{s:s, s:s, s:s, s:i, s:I, s:i}", "type", "meta", "path",
		    tx->top_name, "kind", "file", "mode", tx->stream_mode,
		    "mtime", (json_int_t)ph_now(), "size", -1);
		tx->stream_state = 1;
		break;
	case 1:
		return PH_CPTX_FEED;
	case 2:
		if (EVP_DigestFinal_ex(tx->md, md, &mdlen) != 1) {
			*cause = ph_asprintf("sha256 failed");
			return -1;
		}
		ph_cp_hex(md, hex);
		*meta = json_pack("{s:s, s:s, s:s, s:I}", "type", "meta", "path",
		    tx->top_name, "sha256", hex, "size", (json_int_t)tx->bytes);
		tx->stream_state = 3;
		break;
	default:
		tx->ended = 1;
		*meta = json_pack("{s:s, s:s}", "type", "meta", "kind", "end");
		break;
	}
	if (*meta == NULL) {
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	return 1;
}

int64_t
ph_cptx_total(const struct ph_cptx *tx)
{
	return !tx->stream && S_ISREG(tx->top_st.st_mode) ? (int64_t)tx->top_st.st_size : -1;
}

int
ph_cptx_is_dir(const struct ph_cptx *tx)
{
	return S_ISDIR(tx->top_st.st_mode);
}

const char *
ph_cptx_name(const struct ph_cptx *tx)
{
	return tx->top_name;
}

uint64_t
ph_cptx_bytes(const struct ph_cptx *tx)
{
	return tx->bytes;
}

unsigned
ph_cptx_skipped(const struct ph_cptx *tx)
{
	return tx->skipped;
}

/* Start sending the regular file fd (owned) as path. */
static int
cp_tx_file(struct ph_cptx *tx, int fd, const char *path, const struct stat *st,
    json_t **meta, char **cause)
{
	tx->fd = fd;
	tx->size = st->st_size;
	tx->sent = 0;
	if ((tx->path = strdup(path)) == NULL || (tx->md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(tx->md, EVP_sha256(), NULL) != 1 ||
	    (*meta = cp_meta_new(path, "file", st)) == NULL ||
	    json_object_set_new(*meta, "size", json_integer(st->st_size)) != 0) {
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	return 1;
}

static void
cp_tx_file_clear(struct ph_cptx *tx)
{
	if (tx->fd != -1)
		close(tx->fd);
	tx->fd = -1;
	free(tx->path);
	tx->path = NULL;
	EVP_MD_CTX_free(tx->md);
	tx->md = NULL;
}

static int
cp_tx_symlink(int dirfd, const char *name, const char *path, const struct stat *st,
    json_t **meta, char **cause)
{
	char	target[PH_CP_MAX_NAME + 1];
	ssize_t	n;

	if ((n = readlinkat(dirfd, name, target, sizeof target - 1)) < 0) {
		*cause = ph_asprintf("readlink %s: %s", path, strerror(errno));
		return -1;
	}
	if (n == 0)
		return 0;
	target[n] = '\0';
	if ((*meta = cp_meta_new(path, "symlink", st)) == NULL ||
	    json_object_set_new(*meta, "target", json_string(target)) != 0) {
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	return 1;
}

static int
cp_tx_push_dir(struct ph_cptx *tx, int fd, const char *path, const struct stat *st,
    json_t **meta, char **cause)
{
	if (tx->depth == PH_CP_MAX_DEPTH) {
		close(fd);
		*cause = ph_asprintf("%s: more than %d levels deep", path, PH_CP_MAX_DEPTH);
		return -1;
	}
	if ((tx->lv[tx->depth].dir = fdopendir(fd)) == NULL) {
		*cause = ph_asprintf("%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if ((tx->lv[tx->depth].path = strdup(path)) == NULL) {
		closedir(tx->lv[tx->depth].dir);
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	tx->depth++;
	if ((*meta = cp_meta_new(path, "dir", st)) == NULL) {
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	return 1;
}

/* The first message: the starting path itself. */
static int
cp_tx_top(struct ph_cptx *tx, json_t **meta, char **cause)
{
	char	 self[64];
	int	 fd = tx->top_fd, rc;

	tx->top_fd = -1;
	snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
	if (S_ISREG(tx->top_st.st_mode) || S_ISDIR(tx->top_st.st_mode)) {
		/* Reopen the O_PATH fd for reading (it names the same inode). */
		int rfd = open(self, (S_ISDIR(tx->top_st.st_mode) ? O_DIRECTORY : 0) |
		    O_RDONLY | O_CLOEXEC);

		close(fd);
		if (rfd < 0) {
			*cause = ph_asprintf("%s: %s", tx->top_name, strerror(errno));
			return -1;
		}
		if (S_ISREG(tx->top_st.st_mode))
			return cp_tx_file(tx, rfd, tx->top_name, &tx->top_st, meta, cause);
		return cp_tx_push_dir(tx, rfd, tx->top_name, &tx->top_st, meta, cause);
	}
	if (S_ISLNK(tx->top_st.st_mode)) {
		rc = cp_tx_symlink(fd, "", tx->top_name, &tx->top_st, meta, cause);
		close(fd);
		return rc;
	}
	close(fd);
	*cause = ph_asprintf("%s is not a file, directory or symlink", tx->top_name);
	return -1;
}

/* The next entry of the innermost directory: 1, 0 (none left there), -1. */
static int
cp_tx_entry(struct ph_cptx *tx, json_t **meta, char **cause)
{
	struct cp_level	*l = &tx->lv[tx->depth - 1];
	struct dirent	*e;
	struct stat	 st;
	char		*path;
	int		 dfd = dirfd(l->dir), fd, rc;

	for (;;) {
		errno = 0;
		if ((e = readdir(l->dir)) == NULL) {
			if (errno != 0) {
				*cause = ph_asprintf("%s: %s", l->path, strerror(errno));
				return -1;
			}
			return 0;
		}
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;	/* vanished */
		if ((path = ph_asprintf("%s/%s", l->path, e->d_name)) == NULL) {
			*cause = ph_asprintf("out of memory");
			return -1;
		}
		if (strlen(path) > PH_CP_MAX_NAME) {
			*cause = ph_asprintf("%s: name too long", path);
			free(path);
			return -1;
		}
		if (S_ISLNK(st.st_mode))
			rc = cp_tx_symlink(dfd, e->d_name, path, &st, meta, cause);
		else if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
			fd = openat(dfd, e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
			    (S_ISDIR(st.st_mode) ? O_DIRECTORY : O_NONBLOCK));
			if (fd < 0) {
				*cause = ph_asprintf("%s: %s", path, strerror(errno));
				rc = -1;
			} else if (fstat(fd, &st) != 0 || (!S_ISREG(st.st_mode) &&
			    !S_ISDIR(st.st_mode))) {
				close(fd);
				rc = 0;		/* replaced under us */
			} else if (S_ISREG(st.st_mode))
				rc = cp_tx_file(tx, fd, path, &st, meta, cause);
			else
				rc = cp_tx_push_dir(tx, fd, path, &st, meta, cause);
		} else {
			tx->skipped++;
			rc = 0;
		}
		free(path);
		if (rc != 0)
			return rc;
	}
}

int
ph_cptx_next(struct ph_cptx *tx, uint8_t *buf, size_t max, size_t *len, json_t **meta,
    char **cause)
{
	uint8_t	md[32];
	unsigned mdlen = 0;
	char	hex[65];
	ssize_t	n;
	size_t	want;
	int	rc;

	*meta = NULL;
	*len = 0;
	if (tx->ended)
		return 0;
	if (tx->stream)
		return cp_tx_stream_next(tx, meta, cause);
	if (tx->top_fd != -1)
		return cp_tx_top(tx, meta, cause);
	if (tx->fd != -1) {
		if (tx->sent < tx->size) {
			want = (uint64_t)(tx->size - tx->sent) < max ?
			    (size_t)(tx->size - tx->sent) : max;
			do
				n = read(tx->fd, buf, want);
			while (n < 0 && errno == EINTR);
			if (n <= 0) {
				*cause = ph_asprintf("%s: %s", tx->path, n < 0 ? strerror(errno) :
				    "file shrank while being copied");
				return -1;
			}
			if (EVP_DigestUpdate(tx->md, buf, (size_t)n) != 1) {
				*cause = ph_asprintf("sha256 failed");
				return -1;
			}
			tx->sent += n;
			tx->bytes += (uint64_t)n;
			*len = (size_t)n;
			return 1;
		}
		if (EVP_DigestFinal_ex(tx->md, md, &mdlen) != 1) {
			*cause = ph_asprintf("sha256 failed");
			return -1;
		}
		ph_cp_hex(md, hex);
		*meta = json_pack("{s:s, s:s, s:s}", "type", "meta", "path", tx->path,
		    "sha256", hex);
		cp_tx_file_clear(tx);
		if (*meta == NULL) {
			*cause = ph_asprintf("out of memory");
			return -1;
		}
		return 1;
	}
	while (tx->depth > 0) {
		if ((rc = cp_tx_entry(tx, meta, cause)) != 0)
			return rc;
		tx->depth--;
		closedir(tx->lv[tx->depth].dir);
		free(tx->lv[tx->depth].path);
	}
	tx->ended = 1;
	if ((*meta = json_pack("{s:s, s:s}", "type", "meta", "kind", "end")) == NULL) {
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	return 1;
}

void
ph_cptx_free(struct ph_cptx *tx)
{
	if (tx == NULL)
		return;
	if (tx->top_fd != -1)
		close(tx->top_fd);
	cp_tx_file_clear(tx);
	while (tx->depth > 0) {
		tx->depth--;
		closedir(tx->lv[tx->depth].dir);
		free(tx->lv[tx->depth].path);
	}
	free(tx->top_name);
	free(tx);
}
