/*
 * cpstream.h - the receiving end of a `cp` stream, shared by the agent
 * (upload: LOCAL -> TARGET:PATH) and the CLI (download).
 *
 * A cp stream is a sequence of CONTROL `meta` messages and DATA frames
 * (docs/protocol.md, "cp"): per entry a `meta` naming it (path, kind, mode,
 * mtime, size or target), for a file then exactly `size` bytes of DATA and
 * a `meta` with its sha256, and at the end a `meta` of kind "end".  A
 * file of size -1 (a stream whose length is not known in advance) takes
 * any number of bytes, and its sha256 `meta` must then carry their count
 * as "size".
 *
 * The receiver trusts no name and no mode from the sender:
 *  - The sender names exactly one top-level entry, and the receiver gives
 *    it the name the operator asked for (`as`) whatever the stream calls
 *    it: the first entry must be a file or directory of one component; a
 *    file is the whole copy (any entry after it is refused); below a
 *    directory every name must start with the first entry's own name (a
 *    second top-level entry is refused).  So nothing arrives beside the
 *    name asked for.
 *  - An absolute name, an empty component, `.` or `..` is refused, and
 *    every name is resolved beneath the destination with openat2
 *    (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS): neither a symlink sent
 *    earlier in the stream nor one that was already there is followed.
 *  - Modes lose setuid, setgid and sticky and pass through the umask given,
 *    unless PH_CPRX_PRESERVE (cp -p).  Only directories the receiver
 *    created get the stream's mode and mtime (at the end: a 0555 directory
 *    must still take its children); an existing one is merged into and
 *    left as it was.
 * A file is written as NAME.porthole-partial-XXXXXX next to its final name,
 * its sha256 checked, then fchmod/futimens and renamed; on any failure
 * ph_cprx_abort() removes the partial file.  A refused entry is refused
 * before anything of it is written; entries that arrived whole before it
 * stay (all beneath the name asked for).
 */
#ifndef PORTHOLE_CPSTREAM_H
#define PORTHOLE_CPSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

#define PH_CP_MAX_ENTRIES	1000000	/* entries in one stream */
#define PH_CP_MAX_NAME		4096	/* bytes of one relative path */

struct ph_cprx;

/* ph_cprx_new flags. */
#define PH_CPRX_PRESERVE	0x1	/* modes as sent, setuid/setgid/sticky too (cp -p) */

/*
 * A receiver writing beneath the directory dirfd (borrowed, stays open):
 * the stream's top-level entry arrives as dirfd/as, as being the one name
 * the operator asked for (one component).  mask is the umask applied to
 * every mode unless flags has PH_CPRX_PRESERVE.  NULL with *cause
 * (malloc'd).
 */
struct ph_cprx	*ph_cprx_new(int dirfd, const char *as, int flags, mode_t mask,
		    char **cause);
/* One `meta` message (the whole object).  0, or -1 with *cause. */
int		 ph_cprx_meta(struct ph_cprx *rx, json_t *meta, char **cause);
/* One DATA payload.  0, or -1 with *cause. */
int		 ph_cprx_data(struct ph_cprx *rx, const uint8_t *p, size_t n, char **cause);
/*
 * A receiver for `cp TARGET:PATH -`: the stream must hold exactly one
 * regular file (a directory is refused); nothing is written, the caller
 * writes each DATA payload itself once ph_cprx_data accepted it (size and
 * sha256 are still checked, at the file's end).
 */
struct ph_cprx	*ph_cprx_new_pass(char **cause);
/* Did the `end` meta arrive (and every entry complete)? */
int		 ph_cprx_done(const struct ph_cprx *rx);
/* Totals so far. */
uint64_t	 ph_cprx_bytes(const struct ph_cprx *rx);
unsigned	 ph_cprx_files(const struct ph_cprx *rx);
/* The size announced for the one file copied; -1 for a tree, or not known. */
int64_t		 ph_cprx_total(const struct ph_cprx *rx);
/* The sha256 (hex) of the one file copied, once it verified; else NULL. */
const char	*ph_cprx_sha256(const struct ph_cprx *rx);
/* Remove the partial file, if any.  Safe to call twice. */
void		 ph_cprx_abort(struct ph_cprx *rx);
/* Abort if not done, then free. */
void		 ph_cprx_free(struct ph_cprx *rx);

/*
 * The sending end: walks one file, symlink or directory tree and produces
 * the stream message by message.  Directories are walked with one dirfd
 * per level (at most PH_CP_MAX_DEPTH) and every child is opened relative
 * to its directory with O_NOFOLLOW, so symlinks are sent as symlinks and
 * never followed; fifos, sockets and devices are skipped (counted).  The
 * starting path itself is resolved with openat2(RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS) against rootfd when rootfd != -1 (the agent:
 * an absolute symlink resolves inside that root), otherwise from the
 * current directory (the CLI's own files).
 */
#define PH_CP_MAX_DEPTH		256
struct ph_cptx;
struct ph_cptx	*ph_cptx_new(int rootfd, const char *path, char **cause);
/*
 * The next message: 1 with either *meta (a new `meta` object) or *len
 * bytes of DATA in buf (at most max), 0 once `end` was produced, -1 with
 * *cause; PH_CPTX_FEED (a stream only): feed it first.
 */
int		 ph_cptx_next(struct ph_cptx *tx, uint8_t *buf, size_t max, size_t *len,
		    json_t **meta, char **cause);
/*
 * A sender of one file of unknown size, fed by the caller (`cp -
 * TARGET:PATH`: stdin): ph_cptx_next gives its `meta` (size -1, mode as
 * given, mtime now), then PH_CPTX_FEED until ph_cptx_feed_end; the caller
 * sends each chunk as DATA after ph_cptx_feed took it into the sha256 and
 * the count.  After the end: the sha256 `meta` (with "size", the count),
 * then `end`.
 */
#define PH_CPTX_FEED	2
struct ph_cptx	*ph_cptx_new_stream(const char *name, int mode, char **cause);
int		 ph_cptx_feed(struct ph_cptx *tx, const uint8_t *p, size_t n, char **cause);
void		 ph_cptx_feed_end(struct ph_cptx *tx);
/* The size of a single regular file sent; -1 for a tree or a stream. */
int64_t		 ph_cptx_total(const struct ph_cptx *tx);
/* Is the source a directory (so `cp SRC DIR` copies into DIR/NAME)? */
int		 ph_cptx_is_dir(const struct ph_cptx *tx);
/* The name the top entry is sent under (ph_cp_top_name of the path). */
const char	*ph_cptx_name(const struct ph_cptx *tx);
uint64_t	 ph_cptx_bytes(const struct ph_cptx *tx);
unsigned	 ph_cptx_skipped(const struct ph_cptx *tx);
void		 ph_cptx_free(struct ph_cptx *tx);

/* Is rel a safe relative name (no absolute, empty, `.` or `..` part)? */
int		 ph_cp_name_ok(const char *rel, char **cause);

/*
 * The name a copy of path is called by: its last component (trailing
 * slashes ignored), or "root" for "/", "." and "..".  Malloc'd; NULL when
 * out of memory.
 */
char		*ph_cp_top_name(const char *path);

/*
 * This process's umask, read without changing it (/proc/self/status;
 * umask(2) twice when /proc is not there).
 */
mode_t		 ph_cp_umask(void);

/* Lowercase hex of a SHA-256 digest; out has 65 bytes. */
void		 ph_cp_hex(const uint8_t md[32], char out[65]);

#endif
