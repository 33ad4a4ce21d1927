/*
 * op-lsof.c - the `lsof` operation: one process's open descriptors, read
 * from /proc/PID/fd and /proc/PID/fdinfo with no tool in the image.
 *
 * The open's required member `pid` names the process; lsof_start turns
 * it into the argv of a helper child, `porthole-agent --op-lsof PID`,
 * which runs under the exec machinery like ps (op-ps.c).  Per descriptor:
 * its link text (a path, socket:[N], pipe:[N], anon_inode:[eventfd]...),
 * the offset and access mode from fdinfo, and by kind:
 *   files    the path, size and file type (stat through the fd's magic
 *            link, which reaches a file even after it was unlinked), and
 *            `deleted` when its link count is 0: the "disk full but no
 *            file" leak, summed in `deleted_bytes`;
 *   sockets  joined by inode with /proc/PID/net/{tcp,tcp6,udp,udp6,unix}
 *            (the process's own namespace): protocol, state, local and
 *            peer address; a socket none of those lists (netlink, packet)
 *            has proto null.
 * A count by kind ends the document.  Reading another user's descriptors
 * needs the same user or SYS_PTRACE: the helper says so and exits 255.
 *
 * The document (docs/protocol.md, "lsof"):
 *   {"pid", "comm", "fds": [{"fd", "type", "mode", "pos", "link", ...}],
 *    "counts": {"file": N, ...}, "deleted": N, "deleted_bytes": N,
 *    "truncated": bool}
 */
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "porthole/frame.h"
#include "porthole/ops.h"
#include "porthole/printable.h"
#include "porthole/procnet.h"
#include "porthole/util.h"

#include "agent.h"
#include "op.h"

#define LSOF_FDS_MAX	65536		/* descriptors listed; more: truncated */
#define LSOF_LINK_MAX	4096

static int
lsof_start(struct agent_session *s, json_t *open)
{
	json_t	*pid = ph_open_get(open, "pid");
	char	 bp[24];

	if (!json_is_integer(pid)) {
		agent_session_fail(s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE,
		    "lsof needs the member pid");
		return -1;
	}
	snprintf(bp, sizeof bp, "%lld", (long long)json_integer_value(pid));
	return op_helper_start(s, open, json_pack("[s, s]", OP_LSOF_FLAG, bp));
}

const struct op_entry op_lsof_entry = OP_HELPER_ENTRY("lsof", lsof_start, op_exec_input);

/* The helper side, in the child. */

static int
lsof_fd_cmp(const void *a, const void *b)
{
	int	x = *(const int *)a, y = *(const int *)b;

	return x < y ? -1 : x > y;
}

static int
lsof_sock_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct ph_sock *)a)->inode, y = ((const struct ph_sock *)b)->inode;

	return x < y ? -1 : x > y;
}

static const char *
lsof_ftype(mode_t m)
{
	if (S_ISREG(m))
		return "reg";
	if (S_ISDIR(m))
		return "dir";
	if (S_ISCHR(m))
		return "chr";
	if (S_ISBLK(m))
		return "blk";
	if (S_ISFIFO(m))
		return "fifo";
	if (S_ISSOCK(m))
		return "sock";
	if (S_ISLNK(m))
		return "lnk";
	return "?";
}

/* Set the members of a string the task chose, made UTF-8. */
static void
lsof_set_str(json_t *o, const char *k, const char *v)
{
	char	*r = ph_utf8_repair(v);

	json_object_set_new(o, k, r != NULL ? json_string(r) : json_null());
	free(r);
}

/* The descriptor numbers of pid, sorted; -1 with errno and *cause. */
static int
lsof_fds(long pid, int **out, size_t *n, int *truncated, char **cause)
{
	char		 path[64];
	struct dirent	*d;
	DIR		*dir;
	int		*fds = NULL, *grown, e;
	size_t		 cap = 0;

	snprintf(path, sizeof path, "/proc/%ld/fd", pid);
	if ((dir = opendir(path)) == NULL) {
		e = errno;
		if (e == ENOENT || e == ESRCH)
			*cause = ph_asprintf("no process %ld on this agent", pid);
		else if (e == EACCES || e == EPERM)
			*cause = ph_asprintf("no permission to read the descriptors of "
			    "process %ld: %s", pid, OP_PERM_HINT);
		else
			*cause = ph_asprintf("cannot read %s: %s", path, strerror(e));
		return -1;
	}
	*n = 0;
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] < '0' || d->d_name[0] > '9')
			continue;
		if (*n >= LSOF_FDS_MAX) {
			*truncated = 1;
			break;
		}
		if (*n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			if ((grown = realloc(fds, cap * sizeof *fds)) == NULL) {
				closedir(dir);
				free(fds);
				*cause = strdup("out of memory");
				return -1;
			}
			fds = grown;
		}
		fds[(*n)++] = atoi(d->d_name);
	}
	closedir(dir);
	if (*n > 0)
		qsort(fds, *n, sizeof *fds, lsof_fd_cmp);
	*out = fds;
	return 0;
}

/* One descriptor's object; NULL when it closed meanwhile. */
static json_t *
lsof_one(long pid, int fd, const struct ph_sock *socks, size_t nsocks,
    json_int_t *deleted_bytes, int *deleted)
{
	char		 path[64], link[LSOF_LINK_MAX], buf[1024];
	struct ph_sock	 key, *hit;
	enum ph_fd_kind	 kind;
	struct stat	 st;
	long long	 pos = -1;
	unsigned int	 flags = 0;
	uint64_t	 ino;
	ssize_t		 l;
	size_t		 dl = strlen(" (deleted)");
	json_t		*o;
	FILE		*f;
	int		 have_info = 0;

	snprintf(path, sizeof path, "/proc/%ld/fd/%d", pid, fd);
	if ((l = readlink(path, link, sizeof link - 1)) < 0)
		return NULL;
	link[l] = '\0';
	kind = ph_fd_classify(link, &ino);
	snprintf(path, sizeof path, "/proc/%ld/fdinfo/%d", pid, fd);
	if ((f = fopen(path, "re")) != NULL) {
		size_t r = fread(buf, 1, sizeof buf - 1, f);

		buf[r] = '\0';
		have_info = ph_fdinfo_parse(buf, &pos, &flags) == 0;
		fclose(f);
	}
	memset(&st, 0, sizeof st);
	if ((o = json_object()) == NULL)
		return NULL;
	json_object_set_new(o, "fd", json_integer(fd));
	json_object_set_new(o, "type", json_string(ph_fd_kind_name(kind)));
	json_object_set_new(o, "mode", !have_info ? json_null() : json_string(
	    (flags & O_ACCMODE) == O_RDONLY ? "r" : (flags & O_ACCMODE) == O_WRONLY ?
	    "w" : "rw"));
	json_object_set_new(o, "pos", have_info ? json_integer(pos) : json_null());
	snprintf(path, sizeof path, "/proc/%ld/fd/%d", pid, fd);
	if (kind == PH_FD_FILE) {
		int gone = 0;

		if (stat(path, &st) == 0) {
			gone = S_ISREG(st.st_mode) && st.st_nlink == 0;
			json_object_set_new(o, "file_type", json_string(lsof_ftype(st.st_mode)));
			json_object_set_new(o, "size", json_integer((json_int_t)st.st_size));
		} else
			gone = (size_t)l > dl && strcmp(link + l - dl, " (deleted)") == 0;
		/* The kernel's " (deleted)" is not part of the name. */
		if (gone && (size_t)l > dl && strcmp(link + l - dl, " (deleted)") == 0)
			link[l - dl] = '\0';
		json_object_set_new(o, "deleted", json_boolean(gone));
		if (gone) {
			(*deleted)++;
			if (S_ISREG(st.st_mode))
				*deleted_bytes += (json_int_t)st.st_size;
		}
		lsof_set_str(o, "path", link);
	} else
		lsof_set_str(o, "link", link);
	if (kind == PH_FD_SOCKET) {
		key.inode = ino;
		hit = nsocks > 0 ? bsearch(&key, socks, nsocks, sizeof *socks,
		    lsof_sock_cmp) : NULL;
		json_object_set_new(o, "proto", hit != NULL ?
		    json_string(ph_net_proto(hit->kind)) : json_null());
		if (hit != NULL) {
			json_object_set_new(o, "state", json_string(ph_net_state(hit)));
			lsof_set_str(o, "local", hit->kind == PH_NET_UNIX ? hit->path :
			    hit->local);
			json_object_set_new(o, "peer", json_string(hit->peer));
		}
	}
	return o;
}

int
op_lsof_main(int argc, char **argv)
{
	struct ph_sock	*socks = NULL;
	size_t		 nsocks = 0, nfds = 0, i;
	json_int_t	 deleted_bytes = 0;
	long		 pid;
	char		*cause = NULL, *end, comm[64], path[64];
	int		*fds = NULL, k, deleted = 0, truncated = 0, r;
	json_t		*doc, *arr, *counts, *o, *c;
	FILE		*f;

	if (argc != 2 || (pid = strtol(argv[1], &end, 10)) < 1 || *end != '\0' ||
	    pid > 0x7fffffff) {
		fprintf(stderr, "usage: porthole-agent %s PID\n", OP_LSOF_FLAG);
		return 255;
	}
	if (lsof_fds(pid, &fds, &nfds, &truncated, &cause) != 0) {
		fprintf(stderr, "%s\n", cause);
		return 255;
	}
	/* The sockets of its namespace; a table it cannot read only loses the join. */
	for (k = 0; k < PH_NET_KINDS; k++) {
		if (ph_net_read("", (pid_t)pid, (enum ph_net_kind)k, &socks, &nsocks,
		    &cause) != 0) {
			free(cause);
			cause = NULL;
		}
	}
	if (nsocks > 0)
		qsort(socks, nsocks, sizeof *socks, lsof_sock_cmp);
	snprintf(path, sizeof path, "/proc/%ld/comm", pid);
	snprintf(comm, sizeof comm, "?");
	if ((f = fopen(path, "re")) != NULL) {
		if (fgets(comm, sizeof comm, f) != NULL)
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	if ((doc = json_object()) == NULL || (arr = json_array()) == NULL ||
	    (counts = json_object()) == NULL)
		goto oom;
	for (i = 0; i < nfds; i++) {
		const char *t;

		if ((o = lsof_one(pid, fds[i], socks, nsocks, &deleted_bytes, &deleted)) == NULL)
			continue;	/* closed meanwhile */
		t = json_string_value(json_object_get(o, "type"));
		c = json_object_get(counts, t);
		json_object_set_new(counts, t, json_integer(json_integer_value(c) + 1));
		if (json_array_append_new(arr, o) != 0)
			goto oom;
	}
	json_object_set_new(doc, "pid", json_integer(pid));
	lsof_set_str(doc, "comm", comm);
	json_object_set_new(doc, "fds", arr);
	json_object_set_new(doc, "counts", counts);
	json_object_set_new(doc, "deleted", json_integer(deleted));
	json_object_set_new(doc, "deleted_bytes", json_integer(deleted_bytes));
	json_object_set_new(doc, "truncated", json_boolean(truncated));
	if ((r = op_helper_print("lsof", doc)) != 0)
		return r;
	json_decref(doc);
	free(socks);
	free(fds);
	return 0;
oom:
	fprintf(stderr, "out of memory\n");
	return 255;
}
