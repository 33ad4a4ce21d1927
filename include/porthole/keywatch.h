/*
 * keywatch.h - re-read a key set (PORTHOLE_PUBKEY: one or more PEM files)
 * when one of its files changes, so keys rotate without a restart: add the
 * new public key next to the old one, issue with the new private key, and
 * drop the old public key once its tokens have expired.
 *
 * A refresh stat()s each file (device, inode, size, mtime in nanoseconds)
 * and reloads the whole set only when something changed.  A set that
 * cannot be read any more leaves the previous one in force and is reported
 * once per change.
 */
#ifndef PORTHOLE_KEYWATCH_H
#define PORTHOLE_KEYWATCH_H

#include <sys/stat.h>

#include "porthole/token.h"

#define PH_KEYWATCH_FILES	16	/* files of a set watched */

struct ph_keywatch {
	char		*spec;		/* "a.pub,b.pub" as configured */
	struct {
		char		*path;
		struct stat	 st;
		int		 ok;	/* stat succeeded */
	}		 files[PH_KEYWATCH_FILES];
	size_t		 n;
};

/*
 * Load spec into ks (which starts zeroed) and watch its files; -1 with
 * *cause.  A spec that is PEM text itself ("-----BEGIN ...", as an ECS
 * environment value can carry it) is loaded as such and not watched.
 */
int	ph_keywatch_init(struct ph_keywatch *w, struct ph_keyset *ks, const char *spec,
	    char **cause);
/*
 * Reload ks if a file changed: 1 reloaded, 0 unchanged, -1 changed but
 * unreadable (*note, malloc'd; ks unchanged).
 */
int	ph_keywatch_refresh(struct ph_keywatch *w, struct ph_keyset *ks, char **note);
void	ph_keywatch_free(struct ph_keywatch *w);

#endif
