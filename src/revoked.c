/*
 * revoked.c - the revocation list of PORTHOLE_REVOKED (see revoked.h):
 * parsed into a revlist.h set (jti, expiry), re-read when the file's
 * identity, size or mtime changes.
 *
 * The stat() per refresh is the whole cost of watching the file (about a
 * microsecond); the file is read only when it changed, and is bounded at
 * PH_REVOKED_FILE_MAX, so a refresh never holds an event loop for long.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/revoked.h"
#include "porthole/util.h"

/*
 * Parse text into l: "JTI" or "JTI EXP" per line (EXP: Unix seconds, the
 * last white-space separated word when it is all digits); -1 with *cause.
 */
static int
revoked_parse(const char *path, char *text, struct ph_revlist *l, size_t *outn,
    char **cause)
{
	char		*line, *next, *end, *sp, *why = NULL;
	size_t		 n = 0, lineno = 0, i;
	int64_t		 exp, now = ph_now();

	for (line = text; line != NULL && *line != '\0'; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		while (isspace((unsigned char)*line))
			line++;
		end = line + strlen(line);
		while (end > line && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (*line == '\0' || *line == '#')
			continue;
		exp = 0;
		sp = end;
		while (sp > line && isdigit((unsigned char)sp[-1]))
			sp--;
		if (sp < end && sp > line && isspace((unsigned char)sp[-1]) &&
		    end - sp <= 12) {
			exp = strtoll(sp, NULL, 10);
			for (*--sp = '\0'; sp > line && isspace((unsigned char)sp[-1]); )
				*--sp = '\0';
		}
		for (i = 0; line[i] != '\0'; i++) {
			if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
				break;
		}
		if (line[i] != '\0' || i > PH_REVLIST_JTI_MAX || exp < 0) {
			*cause = ph_asprintf("%s:%zu: not a token id (one jti per "
			    "line, at most %d printable characters, then optionally "
			    "the Unix time it expires)", path, lineno, PH_REVLIST_JTI_MAX);
			return -1;
		}
		if (ph_revlist_add(l, line, exp, now, &why) < 0) {
			*cause = ph_asprintf("%s:%zu: %s", path, lineno, why);
			free(why);
			return -1;
		}
		n++;
	}
	*outn = n;
	return 0;
}

/* Read and parse the file whose stat is st; replaces the list on success. */
static int
revoked_load(struct ph_revoked *r, const struct stat *st, char **cause)
{
	struct ph_revlist l;
	char	*text;
	size_t	 len, n = 0;

	if ((text = ph_read_file(r->path, PH_REVOKED_FILE_MAX, &len, cause)) == NULL)
		return -1;
	if (memchr(text, '\0', len) != NULL) {
		free(text);
		*cause = ph_asprintf("%s holds a NUL byte: not a list of token ids",
		    r->path);
		return -1;
	}
	ph_revlist_init(&l, SIZE_MAX);
	if (revoked_parse(r->path, text, &l, &n, cause) != 0) {
		free(text);
		ph_revlist_free(&l);
		return -1;
	}
	free(text);
	ph_revlist_free(&r->list);
	r->list = l;
	r->n = n;
	r->dev = st->st_dev;
	r->ino = st->st_ino;
	r->size = st->st_size;
	r->mtime = st->st_mtim;
	return 0;
}

int
ph_revoked_init(struct ph_revoked *r, const char *path, char **cause)
{
	struct stat	st;

	memset(r, 0, sizeof *r);
	if (path == NULL || *path == '\0')
		return 0;
	if ((r->path = strdup(path)) == NULL) {
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	if (stat(path, &st) != 0) {
		*cause = ph_asprintf("cannot read the revocation list %s: %s (create "
		    "it, empty, if nothing is revoked yet)", path, strerror(errno));
		ph_revoked_free(r);
		return -1;
	}
	if (revoked_load(r, &st, cause) != 0) {
		ph_revoked_free(r);
		return -1;
	}
	return 0;
}

int
ph_revoked_refresh(struct ph_revoked *r, char **note)
{
	struct stat	 st;
	char		*why = NULL;

	if (r->path == NULL)
		return 0;
	if (stat(r->path, &st) != 0) {
		if (r->stat_failed)
			return 0;	/* said so already */
		r->stat_failed = 1;
		*note = ph_asprintf("revocation list %s is gone (%s): keeping the "
		    "%zu ids read before", r->path, strerror(errno), r->n);
		return -1;
	}
	r->stat_failed = 0;
	if (st.st_dev == r->dev && st.st_ino == r->ino && st.st_size == r->size &&
	    st.st_mtim.tv_sec == r->mtime.tv_sec &&
	    st.st_mtim.tv_nsec == r->mtime.tv_nsec)
		return 0;
	if (revoked_load(r, &st, &why) != 0) {
		/* Don't try this version again: wait for the next change. */
		r->dev = st.st_dev;
		r->ino = st.st_ino;
		r->size = st.st_size;
		r->mtime = st.st_mtim;
		*note = ph_asprintf("%s: keeping the %zu ids read before", why, r->n);
		free(why);
		return -1;
	}
	return 1;
}

int
ph_revoked_has(const struct ph_revoked *r, const char *jti)
{
	return ph_revlist_has(&r->list, jti, ph_now());
}

void
ph_revoked_free(struct ph_revoked *r)
{
	if (r == NULL)
		return;
	ph_revlist_free(&r->list);
	free(r->path);
	memset(r, 0, sizeof *r);
}
