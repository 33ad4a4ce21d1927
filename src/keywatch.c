/*
 * keywatch.c - a key set re-read when its files change (see keywatch.h).
 * The relay and the agent refresh before they verify a token: a stat per
 * file, nothing read unless a file changed.
 */
#include <sys/stat.h>

#include <stdlib.h>
#include <string.h>

#include "porthole/keywatch.h"
#include "porthole/util.h"

/* Remember the identity of each file of w->spec as it is now. */
static void
keywatch_mark(struct ph_keywatch *w)
{
	char	*copy, *p, *next, *end;
	size_t	 i;

	for (i = 0; i < w->n; i++)
		free(w->files[i].path);
	w->n = 0;
	if ((copy = strdup(w->spec)) == NULL)
		return;
	for (p = copy; p != NULL && w->n < PH_KEYWATCH_FILES; p = next) {
		if ((next = strchr(p, ',')) != NULL)
			*next++ = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		end = p + strlen(p);
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (*p == '\0' || (w->files[w->n].path = strdup(p)) == NULL)
			continue;
		w->files[w->n].ok = stat(p, &w->files[w->n].st) == 0;
		w->n++;
	}
	free(copy);
}

static int
keywatch_changed(const struct ph_keywatch *w)
{
	struct stat	 st;
	const struct stat *o;
	size_t		 i;
	int		 ok;

	for (i = 0; i < w->n; i++) {
		ok = stat(w->files[i].path, &st) == 0;
		if (ok != w->files[i].ok)
			return 1;
		o = &w->files[i].st;
		if (ok && (st.st_ino != o->st_ino || st.st_dev != o->st_dev ||
		    st.st_size != o->st_size ||
		    st.st_mtim.tv_sec != o->st_mtim.tv_sec ||
		    st.st_mtim.tv_nsec != o->st_mtim.tv_nsec))
			return 1;
	}
	return 0;
}

int
ph_keywatch_init(struct ph_keywatch *w, struct ph_keyset *ks, const char *spec,
    char **cause)
{
	memset(w, 0, sizeof *w);
	if (spec == NULL || (w->spec = strdup(spec)) == NULL) {
		*cause = ph_asprintf("no public key file given (PORTHOLE_PUBKEY)");
		return -1;
	}
	if (strncmp(spec, "-----BEGIN", 10) == 0) {
		/* The PEM text itself (an ECS environment value): nothing to watch. */
		free(w->spec);
		w->spec = NULL;
		return ph_keyset_add_pem(ks, spec, strlen(spec), "PORTHOLE_PUBKEY",
		    cause);
	}
	keywatch_mark(w);	/* before reading: a change in between is seen */
	if (ph_keyset_load(ks, spec, cause) != 0) {
		ph_keywatch_free(w);
		return -1;
	}
	return 0;
}

int
ph_keywatch_refresh(struct ph_keywatch *w, struct ph_keyset *ks, char **note)
{
	struct ph_keyset	 fresh = { NULL, 0 };
	char			*why = NULL;

	if (w->spec == NULL || !keywatch_changed(w))
		return 0;
	keywatch_mark(w);	/* this version, good or bad: report it once */
	if (ph_keyset_load(&fresh, w->spec, &why) != 0) {
		*note = ph_asprintf("the public keys changed but cannot be read (%s): "
		    "keeping the %zu keys read before", why, ks->n);
		free(why);
		return -1;
	}
	ph_keyset_free(ks);
	*ks = fresh;
	return 1;
}

void
ph_keywatch_free(struct ph_keywatch *w)
{
	size_t	i;

	if (w == NULL)
		return;
	for (i = 0; i < w->n; i++)
		free(w->files[i].path);
	free(w->spec);
	memset(w, 0, sizeof *w);
}
