/*
 * revoked.h - the revocation list: a file of token ids (jti) that relays
 * and agents refuse although the tokens still verify (PORTHOLE_REVOKED).
 *
 * The file holds one entry per line: a jti, or a jti, white space and the
 * Unix time the entry stops mattering (when the token would have expired:
 * `porthole token revoke` on a relay without Redis appends such lines);
 * an entry whose time has passed is ignored.  Blank lines and lines
 * starting with '#' are ignored, as is white space around an entry.  It is re-read when it
 * changes: every lookup stat()s it (device, inode, size and mtime with
 * nanoseconds), so replacing it (write a new file, rename it over the old
 * one) or editing it in place both take effect on the next lookup, without
 * a restart and without re-reading an unchanged file.  A file that cannot
 * be read later (removed, unreadable, malformed) keeps the last list in
 * force and is reported once per change through *note.
 *
 * Lookups are a binary search in a sorted array.
 */
#ifndef PORTHOLE_REVOKED_H
#define PORTHOLE_REVOKED_H

#include <sys/types.h>
#include <stddef.h>
#include <time.h>

#include "porthole/revlist.h"

#define PH_REVOKED_FILE_MAX	(4 * 1024 * 1024)	/* largest list read */

struct ph_revoked {
	char		*path;		/* NULL: no list, nothing is revoked */
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime;
	int		 stat_failed;	/* the last stat failed (reported once) */
	struct ph_revlist list;		/* the entries, with their times */
	size_t		 n;		/* how many were read */
};

/*
 * Load the list at path (NULL or "" = no list).  -1 with *cause when the
 * file cannot be read or parsed: at start that is a configuration error.
 */
int	ph_revoked_init(struct ph_revoked *r, const char *path, char **cause);
/*
 * Re-read the file if it changed.  Returns 1 when the list was reloaded,
 * 0 when nothing changed, -1 (with *note, malloc'd) when it changed but
 * could not be read: the previous list stays in force.
 */
int	ph_revoked_refresh(struct ph_revoked *r, char **note);
/* Is jti in the list and its entry not expired (refresh first)?  1 / 0. */
int	ph_revoked_has(const struct ph_revoked *r, const char *jti);
void	ph_revoked_free(struct ph_revoked *r);

#endif
