/*
 * op-net.c - the `net` operation: the sockets of the task's network
 * namespace, or of the namespace of process `pid`, as `ss -tanup` shows
 * them, read from /proc with no tool in the image.
 *
 * Like ps (op-ps.c) the reading runs in a helper child, `porthole-agent
 * --op-net PID LISTENING` (PID 0: the agent's own namespace), under the
 * exec machinery; the open's members `pid` and `listening` are checked by
 * the schema and turned into that argv here, and the client's argv is
 * never run.  The tables are /proc/PID/net/{tcp,tcp6,udp,udp6,unix}: the
 * kernel shows the namespace of PID there, so no setns (and no
 * CAP_SYS_ADMIN) is needed to read another container's sockets.  Owners
 * come from every process's /proc/P/fd links ("socket:[INODE]"); a
 * process whose descriptors the agent may not read (another user, without
 * SYS_PTRACE) is counted in `unreadable`, and its sockets show no owner.
 *
 * The document (docs/protocol.md, "net"), one line on stdout:
 *   {"pid": N or null, "unreadable": N, "sockets": [{"proto", "family",
 *    "state", "listening", "local", "peer", "recv_q", "send_q", "uid",
 *    "inode", "type" (unix), "owners": [{"pid", "comm", "fd"}]}]}
 * Paths and program names are the task's bytes: what is not UTF-8 goes
 * as the text \xHH (ph_utf8_repair); the client escapes the rest.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "porthole/frame.h"
#include "porthole/ops.h"
#include "porthole/printable.h"
#include "porthole/proc.h"
#include "porthole/procnet.h"
#include "porthole/util.h"

#include "agent.h"
#include "op.h"

#define NET_OWNERS_MAX	(1 << 20)	/* socket descriptors looked at in all */
#define NET_OWNERS_PER	16		/* owners listed per socket */

static int
net_start(struct agent_session *s, json_t *open)
{
	json_t	*pid = ph_open_get(open, "pid");
	char	 bp[24];

	snprintf(bp, sizeof bp, "%lld", json_is_integer(pid) ?
	    (long long)json_integer_value(pid) : 0LL);
	return op_helper_start(s, open, json_pack("[s, s, s]", OP_NET_FLAG, bp,
	    json_is_true(ph_open_get(open, "listening")) ? "1" : "0"));
}

const struct op_entry op_net_entry = OP_HELPER_ENTRY("net", net_start, op_exec_input);

/* The helper side, in the child. */

struct net_owner {
	uint64_t	 inode;
	pid_t		 pid;
	int		 fd;
	char		 comm[32];
};

static int
net_owner_cmp(const void *a, const void *b)
{
	const struct net_owner *x = a, *y = b;

	if (x->inode != y->inode)
		return x->inode < y->inode ? -1 : 1;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->fd < y->fd ? -1 : x->fd > y->fd;
}

/* comm of pid into buf ("?" when gone). */
static void
net_comm(pid_t pid, char *buf, size_t len)
{
	char	 path[64];
	FILE	*f;

	snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
	snprintf(buf, len, "?");
	if ((f = fopen(path, "re")) == NULL)
		return;
	if (fgets(buf, (int)len, f) != NULL)
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

/*
 * Every socket descriptor of every process we may read, sorted by inode;
 * *unreadable counts the processes whose fd directory was refused.
 */
static int
net_owners(struct net_owner **out, size_t *nout, int *unreadable, char **cause)
{
	struct net_owner *o = NULL, *grown;
	struct dirent	*d;
	pid_t		*pids = NULL;
	size_t		 n = 0, cap = 0, np = 0, i;
	char		 path[320], link[128], comm[32];
	uint64_t	 ino;
	ssize_t		 l;
	DIR		*dir;
	int		 got;

	if (ph_proc_pids("/", &pids, &np, cause) != 0)
		return -1;
	for (i = 0; i < np; i++) {
		if (pids[i] == getpid())
			continue;	/* this helper is not the task's */
		snprintf(path, sizeof path, "/proc/%d/fd", (int)pids[i]);
		if ((dir = opendir(path)) == NULL) {
			if (errno == EACCES || errno == EPERM)
				(*unreadable)++;
			continue;
		}
		got = 0;
		while ((d = readdir(dir)) != NULL && n < NET_OWNERS_MAX) {
			if (d->d_name[0] < '0' || d->d_name[0] > '9')
				continue;
			snprintf(path, sizeof path, "/proc/%d/fd/%s", (int)pids[i], d->d_name);
			if ((l = readlink(path, link, sizeof link - 1)) < 0)
				continue;
			link[l] = '\0';
			if (ph_fd_classify(link, &ino) != PH_FD_SOCKET)
				continue;
			if (!got) {
				net_comm(pids[i], comm, sizeof comm);
				got = 1;
			}
			if (n == cap) {
				cap = cap == 0 ? 256 : cap * 2;
				if ((grown = realloc(o, cap * sizeof *o)) == NULL) {
					closedir(dir);
					free(o);
					free(pids);
					*cause = strdup("out of memory");
					return -1;
				}
				o = grown;
			}
			o[n].inode = ino;
			o[n].pid = pids[i];
			o[n].fd = atoi(d->d_name);
			memcpy(o[n].comm, comm, sizeof comm);
			n++;
		}
		closedir(dir);
	}
	free(pids);
	if (n > 0)
		qsort(o, n, sizeof *o, net_owner_cmp);
	*out = o;
	*nout = n;
	return 0;
}

static json_t *
net_sock_json(const struct ph_sock *s, const struct net_owner *own, size_t nown)
{
	static const char *const family[] = { "inet", "inet6", "inet", "inet6", "unix" };
	json_t		*o, *owners;
	char		*path, *comm;
	size_t		 lo = 0, hi = nown, mid, k;

	if ((owners = json_array()) == NULL)
		return NULL;
	/* The first owner of s->inode, then its neighbours. */
	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (own[mid].inode < s->inode)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (k = 0; s->inode != 0 && lo + k < nown && own[lo + k].inode == s->inode &&
	    k < NET_OWNERS_PER; k++) {
		comm = ph_utf8_repair(own[lo + k].comm);
		json_array_append_new(owners, json_pack("{s:i, s:s, s:i}", "pid",
		    (int)own[lo + k].pid, "comm", comm != NULL ? comm : "?",
		    "fd", own[lo + k].fd));
		free(comm);
	}
	path = ph_utf8_repair(s->kind == PH_NET_UNIX ? s->path : s->local);
	o = json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:I, s:I, s:I, s:I, s:o}",
	    "proto", ph_net_proto(s->kind), "family", family[s->kind],
	    "state", ph_net_state(s), "listening", s->listening,
	    "local", path != NULL ? path : "", "peer", s->peer,
	    "recv_q", (json_int_t)s->rxq, "send_q", (json_int_t)s->txq,
	    "uid", (json_int_t)s->uid, "inode", (json_int_t)s->inode, "owners", owners);
	free(path);
	if (o != NULL && s->kind == PH_NET_UNIX)
		json_object_set_new(o, "type", json_string(s->unix_type == 1 ? "stream" :
		    s->unix_type == 2 ? "dgram" : s->unix_type == 5 ? "seqpacket" : "?"));
	return o;
}

int
op_net_main(int argc, char **argv)
{
	struct ph_sock	 *socks = NULL;
	struct net_owner *own = NULL;
	size_t		  n = 0, nown = 0, i;
	long		  pid;
	char		 *cause = NULL, *end;
	json_t		 *doc, *arr, *o;
	int		  k, listening, unreadable = 0, r;

	if (argc != 3 || (pid = strtol(argv[1], &end, 10)) < 0 || *end != '\0' ||
	    pid > 0x7fffffff || (strcmp(argv[2], "0") != 0 && strcmp(argv[2], "1") != 0)) {
		fprintf(stderr, "usage: porthole-agent %s PID 0|1\n", OP_NET_FLAG);
		return 255;
	}
	listening = argv[2][0] == '1';
	for (k = 0; k < PH_NET_KINDS; k++) {
		if (ph_net_read("", (pid_t)pid, (enum ph_net_kind)k, &socks, &n, &cause) != 0) {
			fprintf(stderr, "%s%s%s\n", cause, errno == EACCES || errno == EPERM ?
			    ": " : "", errno == EACCES || errno == EPERM ? OP_PERM_HINT : "");
			return 255;
		}
	}
	if (net_owners(&own, &nown, &unreadable, &cause) != 0) {
		fprintf(stderr, "%s\n", cause);
		return 255;
	}
	if ((doc = json_object()) == NULL || (arr = json_array()) == NULL)
		goto oom;
	for (i = 0; i < n; i++) {
		if (listening && !socks[i].listening)
			continue;
		if ((o = net_sock_json(&socks[i], own, nown)) == NULL ||
		    json_array_append_new(arr, o) != 0)
			goto oom;
	}
	json_object_set_new(doc, "pid", pid > 0 ? json_integer(pid) : json_null());
	json_object_set_new(doc, "unreadable", json_integer(unreadable));
	json_object_set_new(doc, "sockets", arr);
	if ((r = op_helper_print("net", doc)) != 0)
		return r;
	json_decref(doc);
	free(socks);
	free(own);
	return 0;
oom:
	fprintf(stderr, "out of memory\n");
	return 255;
}
