/*
 * relay-artifact-dir.c - the directory backend of the artifact store
 * (relay-artifact.h): PORTHOLE_ARTIFACT_DIR, or STATE/artifacts with
 * --dev.
 *
 * Per artifact ID: ID.zst, the bytes as uploaded, and ID.json, its
 * metadata.  The bytes are written to ID.zst.part and renamed at commit,
 * then the metadata goes to ID.json.tmp, is fsynced and renamed: ID.json
 * exists only for an artifact whose bytes are all there, and load reads
 * only those.  A .part left by a relay that died mid-upload is removed at
 * open.  The directory is made 0700 and the files 0600: a capture holds
 * the app's secrets.
 *
 * Writes and reads are plain blocking calls on local disk, one message
 * (at most 64 KiB) at a time, which the loop can afford; the writes are
 * not fsynced one by one, only the file at commit.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "porthole/util.h"
#include "relay-artifact.h"

struct dir_state {
	char	*dir;
};

struct relay_artifact_wr {
	struct dir_state *d;
	char		 id[RELAY_ARTIFACT_ID_LEN + 1];
	int		 fd;
};

struct relay_artifact_rd {
	int		 fd;
};

static char *
dir_path(struct dir_state *d, const char *id, const char *ext)
{
	return ph_asprintf("%s/%s%s", d->dir, id, ext);
}

static int
dir_open(const char *where, void **state, char **cause)
{
	struct dir_state *d;
	struct stat	 st;
	DIR		*dh;
	struct dirent	*de;
	char		*p;
	size_t		 n;

	if (mkdir(where, 0700) != 0 && errno != EEXIST) {
		*cause = ph_asprintf("cannot create %s: %s", where, strerror(errno));
		return -1;
	}
	if (stat(where, &st) != 0 || !S_ISDIR(st.st_mode) || access(where, W_OK) != 0) {
		*cause = ph_asprintf("%s is not a directory the relay can write", where);
		return -1;
	}
	if ((d = calloc(1, sizeof *d)) == NULL || (d->dir = strdup(where)) == NULL) {
		free(d);
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	/* Uploads cut by the relay's own death: nothing points at them. */
	if ((dh = opendir(where)) != NULL) {
		while ((de = readdir(dh)) != NULL) {
			n = strlen(de->d_name);
			if ((n > 5 && strcmp(de->d_name + n - 5, ".part") == 0) ||
			    (n > 4 && strcmp(de->d_name + n - 4, ".tmp") == 0)) {
				p = ph_asprintf("%s/%s", where, de->d_name);
				unlink(p);
				free(p);
			}
		}
		closedir(dh);
	}
	*state = d;
	return 0;
}

static json_t *
dir_load(void *state, char **cause)
{
	struct dir_state *d = state;
	DIR		*dh;
	struct dirent	*de;
	json_t		*all = json_array(), *m;
	char		*p;
	size_t		 n;

	if (all == NULL || (dh = opendir(d->dir)) == NULL) {
		*cause = ph_asprintf("cannot read %s: %s", d->dir, strerror(errno));
		json_decref(all);
		return NULL;
	}
	while ((de = readdir(dh)) != NULL) {
		n = strlen(de->d_name);
		if (n != RELAY_ARTIFACT_ID_LEN + 5 ||
		    strcmp(de->d_name + RELAY_ARTIFACT_ID_LEN, ".json") != 0)
			continue;
		p = ph_asprintf("%s/%s", d->dir, de->d_name);
		m = p != NULL ? json_load_file(p, 0, NULL) : NULL;
		free(p);
		if (json_is_object(m))
			json_array_append(all, m);
		json_decref(m);
	}
	closedir(dh);
	return all;
}

static struct relay_artifact_wr *
dir_create(void *state, const char *id, relay_artifact_ev_fn *ev, void *owner,
    char **cause)
{
	struct relay_artifact_wr *w;
	char		*p;

	(void)ev;	/* a local file: never behind, committed at once */
	(void)owner;
	if ((w = calloc(1, sizeof *w)) == NULL || (p = dir_path(state, id, ".zst.part")) == NULL) {
		free(w);
		*cause = ph_asprintf("out of memory");
		return NULL;
	}
	w->d = state;
	snprintf(w->id, sizeof w->id, "%s", id);
	if ((w->fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		*cause = ph_asprintf("cannot create %s: %s", p, strerror(errno));
		free(p);
		free(w);
		return NULL;
	}
	free(p);
	return w;
}

static int
dir_write(struct relay_artifact_wr *w, const void *p, size_t n, char **cause)
{
	const uint8_t	*b = p;
	ssize_t		 k;

	while (n > 0) {
		if ((k = write(w->fd, b, n)) < 0) {
			if (errno == EINTR)
				continue;
			*cause = ph_asprintf("writing artifact %s: %s", w->id,
			    strerror(errno));
			return -1;
		}
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

static void
dir_abort(struct relay_artifact_wr *w)
{
	char	*p = w->d != NULL ? dir_path(w->d, w->id, ".zst.part") : NULL;

	close(w->fd);
	if (p != NULL)
		unlink(p);
	free(p);
	free(w);
}

static int
dir_commit(struct relay_artifact_wr *w, json_t *meta, char **cause)
{
	char	*part = dir_path(w->d, w->id, ".zst.part");
	char	*zst = dir_path(w->d, w->id, ".zst");
	char	*tmp = dir_path(w->d, w->id, ".json.tmp");
	char	*js = dir_path(w->d, w->id, ".json");
	char	*text = json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS);
	int	 rc = -1, fd = -1;

	if (part == NULL || zst == NULL || tmp == NULL || js == NULL || text == NULL) {
		*cause = ph_asprintf("out of memory");
		goto out;
	}
	if (fsync(w->fd) != 0 || rename(part, zst) != 0) {
		*cause = ph_asprintf("storing artifact %s: %s", w->id, strerror(errno));
		goto out;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0 ||
	    dir_write(&(struct relay_artifact_wr){ .fd = fd }, text, strlen(text),
	    cause) != 0 || fsync(fd) != 0 || rename(tmp, js) != 0) {
		if (*cause == NULL)
			*cause = ph_asprintf("storing the metadata of %s: %s", w->id,
			    strerror(errno));
		unlink(tmp);
		unlink(zst);
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc == 0) {
		close(w->fd);
		free(w);
	} else
		dir_abort(w);
	free(part);
	free(zst);
	free(tmp);
	free(js);
	free(text);
	return rc;
}

static struct relay_artifact_rd *
dir_read_open(void *state, const char *id, void (*readable)(void *arg), void *arg,
    char **cause)
{
	struct relay_artifact_rd *r;
	char	*p = dir_path(state, id, ".zst");

	(void)readable;		/* a local read never waits */
	(void)arg;

	if (p == NULL || (r = calloc(1, sizeof *r)) == NULL) {
		free(p);
		*cause = ph_asprintf("out of memory");
		return NULL;
	}
	if ((r->fd = open(p, O_RDONLY | O_CLOEXEC)) < 0) {
		*cause = ph_asprintf("cannot open %s: %s", p, strerror(errno));
		free(r);
		r = NULL;
	}
	free(p);
	return r;
}

static ssize_t
dir_read(struct relay_artifact_rd *r, void *buf, size_t n)
{
	ssize_t	k;

	do
		k = read(r->fd, buf, n);
	while (k < 0 && errno == EINTR);
	return k;
}

static void
dir_read_close(struct relay_artifact_rd *r)
{
	close(r->fd);
	free(r);
}

static int
dir_remove(void *state, const char *id, void (*done)(const char *err, void *arg),
    void *arg, char **cause)
{
	char	*js = dir_path(state, id, ".json"), *zst = dir_path(state, id, ".zst");
	int	 rc = 0;

	(void)done;		/* done at once */
	(void)arg;

	/* The metadata first: an artifact without it is not listed. */
	if (js == NULL || zst == NULL || (unlink(js) != 0 && errno != ENOENT) ||
	    (unlink(zst) != 0 && errno != ENOENT)) {
		*cause = ph_asprintf("removing artifact %s: %s", id, strerror(errno));
		rc = -1;
	}
	free(js);
	free(zst);
	return rc;
}

static void
dir_close(void *state)
{
	struct dir_state *d = state;

	if (d != NULL)
		free(d->dir);
	free(d);
}

const struct relay_artifact_backend relay_artifact_dir = {
	.name = "directory",
	.open = dir_open,
	.load = dir_load,
	.create = dir_create,
	.write = dir_write,
	.commit = dir_commit,
	.abort = dir_abort,
	.read_open = dir_read_open,
	.read = dir_read,
	.read_close = dir_read_close,
	.remove = dir_remove,
	.close = dir_close,
};
