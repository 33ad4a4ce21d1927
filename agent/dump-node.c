/*
 * dump-node.c - `dump --kind node`: a V8 heap snapshot (.heapsnapshot, the
 * file Chrome DevTools loads) through the Node.js inspector, done by the
 * worker, so the image needs nothing but node.
 *
 *   1. SIGUSR1 makes Node start its inspector (127.0.0.1:9229 unless the
 *      app chose another --inspect-port).  We find the inspector's socket
 *      as the one listening socket the process did not have before the
 *      signal (its /proc/PID/fd inodes against /proc/PID/net/tcp), so a
 *      port taken by something else is told apart from a Node that ignored
 *      the signal, and any port works.
 *   2. GET /json/list on that port gives the webSocketDebuggerUrl.
 *   3. A libwebsockets client (plain ws:// on loopback) sends
 *      HeapProfiler.takeHeapSnapshot; every HeapProfiler.addHeapSnapshotChunk
 *      event's chunk goes to dump_out_write() as it arrives; the command's
 *      answer ends the file.
 *   4. Runtime.evaluate "process._debugEnd()" closes the inspector again
 *      (require() does not exist in the inspector's global scope, and
 *      inspector.close() is not reachable otherwise; _debugEnd exists in
 *      Node 18 and 20 and closes both the session and the listener).  An
 *      inspector left open is an unauthenticated code-execution port, so
 *      this runs on every way out once SIGUSR1 was sent, and the worker
 *      checks afterwards that nothing listens: if something still does,
 *      the dump fails and says so.
 * An inspector that was already open before (node --inspect) is used and
 * left open, as found; the start event says so.
 *
 * The agent shares the task's network namespace on Fargate; where the
 * target has another one (a sidecar on a host), the worker joins it with
 * setns() before any socket is made (CAP_SYS_ADMIN).
 *
 * Why libwebsockets and not agent-wsframe.c: the latter only frames the
 * agent's own outgoing data; a client also needs the handshake, unmasked
 * frame parsing, fragments, ping and close, which lws already does and
 * which here face a peer we do not control (a port taken by anything).
 * Messages are reassembled up to NODE_MSG_MAX (a chunk message is about
 * 100 KiB); a larger one fails the dump.
 *
 * Node pauses its main thread for the whole snapshot (generation and
 * serialisation): "pause_us" in "done" is the time from the command to its
 * answer.  While the CLI reads slowly, we read slowly, and Node's inspector
 * thread buffers what its main thread has serialised (Node's memory, not
 * ours).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "dump.h"

#define NODE_PORT_DEFAULT	9229
#define NODE_UP_WAIT_MS		10000	/* SIGUSR1 → listening */
#define NODE_HTTP_WAIT_MS	5000	/* /json/list */
#define NODE_CONNECT_WAIT_MS	10000	/* WebSocket handshake */
#define NODE_IDLE_MS		120000	/* no message during the snapshot */
#define NODE_CLOSE_WAIT_MS	5000	/* _debugEnd → listener gone */
#define NODE_CLOSER_MS		(30 * 60 * 1000)	/* detached closer, at most */
#define NODE_HTTP_MAX		(64 * 1024)
#define NODE_MSG_MAX		(16 * 1024 * 1024)
#define NODE_LISTEN_MAX		256

#define NODE_ID_SNAPSHOT	1
#define NODE_ID_CLOSE		2

/* A listening TCP socket of the target. */
struct node_listen {
	ino_t		inode;
	uint32_t	addr;		/* network order */
	int		port;
};

enum node_state {
	NODE_CONNECTING,
	NODE_SNAPSHOT,		/* takeHeapSnapshot sent, chunks coming */
	NODE_CLOSING,		/* _debugEnd sent (or to send) */
	NODE_LEAVING,		/* closing our connection only */
	NODE_DONE,		/* the connection is closed */
};

struct node {
	pid_t			 pid;
	struct node_listen	 before[NODE_LISTEN_MAX];
	size_t			 nbefore;
	struct node_listen	 insp;		/* the inspector's socket */
	int			 opened;	/* we started it: we close it */
	int			 close_only;	/* a session just for _debugEnd */
	int			 detached;	/* a closer child took over */
	char			 path[128];	/* /<uuid> of the debugger URL */

	struct lws_context	*ctx;
	struct lws		*wsi;
	lws_sorted_usec_list_t	 sul;		/* a tick: deadlines, cancel */
	enum node_state		 state;
	int			 send;		/* message id to send, or 0 */
	int			 snapshot_ok;	/* the command answered, no error */
	char			 fail[320];	/* why the snapshot failed, or "" */
	const char		*fail_code;
	uint8_t			*msg;		/* reassembly, NODE_MSG_MAX */
	size_t			 mlen;
	int			 mbig;		/* message over the cap: dropped */
	uint64_t		 last;		/* last message, ms */
	uint64_t		 t_cmd;		/* takeHeapSnapshot sent, ms */
	struct dump_out		*o;
};

static uint64_t
dump_node_now_ms(void)
{
	return (dump_now_ns() / 1000000);
}

static void
dump_node_sleep_ms(int ms)
{
	struct timespec	ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Record why the dump fails (first reason wins). */
static void
dump_node_fail(struct node *n, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
dump_node_fail(struct node *n, const char *code, const char *fmt, ...)
{
	va_list	ap;

	if (n->fail[0] != '\0' || n->close_only)
		return;
	n->fail_code = code;
	va_start(ap, fmt);
	vsnprintf(n->fail, sizeof n->fail, fmt, ap);
	va_end(ap);
}

/* Socket inodes among the process's fds: 1 if inode is one of them. */
static int
dump_node_owns(pid_t pid, ino_t inode)
{
	char		 path[64], link[64], want[48];
	struct dirent	*de;
	DIR		*d;
	ssize_t		 l;
	int		 found = 0;

	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	snprintf(want, sizeof want, "socket:[%ju]", (uintmax_t)inode);
	if ((d = opendir(path)) == NULL)
		return (0);
	while (!found && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((l = readlinkat(dirfd(d), de->d_name, link,
		    sizeof link - 1)) <= 0)
			continue;
		link[l] = '\0';
		if (strcmp(link, want) == 0)
			found = 1;
	}
	closedir(d);
	return (found);
}

/*
 * The IPv4 listening sockets of the target's network namespace
 * (/proc/PID/net/tcp); with mine set, only those the process holds.
 * The count, at most max.
 */
static size_t
dump_node_listening(pid_t pid, int mine, struct node_listen *l, size_t max)
{
	char		 path[64], *line = NULL;
	size_t		 cap = 0, n = 0;
	unsigned int	 addr, port, st;
	unsigned long	 inode;
	FILE		*f;

	snprintf(path, sizeof path, "/proc/%d/net/tcp", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return (0);
	while (n < max && getline(&line, &cap, f) != -1) {
		/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
		if (sscanf(line, " %*u: %x:%x %*x:%*x %x %*x:%*x %*x:%*x %*x "
		    "%*u %*u %lu", &addr, &port, &st, &inode) != 4 || st != 0x0A)
			continue;
		if (mine && !dump_node_owns(pid, (ino_t)inode))
			continue;
		l[n].inode = (ino_t)inode;
		l[n].addr = addr;	/* /proc prints the raw network-order word */
		l[n].port = (int)port;
		n++;
	}
	free(line);
	fclose(f);
	return (n);
}

/* Is the inspector's listening socket still held by the target? */
static int
dump_node_still_listening(struct node *n)
{
	struct node_listen	l[NODE_LISTEN_MAX];
	size_t			c, i;

	c = dump_node_listening(n->pid, 1, l, NODE_LISTEN_MAX);
	for (i = 0; i < c; i++) {
		if (l[i].inode == n->insp.inode)
			return (1);
	}
	return (0);
}

/* Is the executable node (node, nodejs, node20...) or does it map libnode? */
static int
dump_node_is_node(pid_t pid)
{
	char	 path[64], exe[PATH_MAX], *base, *line = NULL;
	ssize_t	 l;
	size_t	 cap = 0;
	FILE	*f;
	int	 found = 0;

	snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
	if ((l = readlink(path, exe, sizeof exe - 1)) > 0) {
		exe[l] = '\0';
		if ((base = strrchr(exe, '/')) != NULL)
			base++;
		else
			base = exe;
		if (strncmp(base, "node", 4) == 0)
			return (1);
	}
	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return (0);
	while (!found && getline(&line, &cap, f) != -1) {
		if (strstr(line, "/libnode.so") != NULL)
			found = 1;
	}
	free(line);
	fclose(f);
	return (found);
}

/* Does the command line or NODE_OPTIONS hold s? */
static int
dump_node_option(pid_t pid, const char *s)
{
	char	 path[64], *buf;
	ssize_t	 got, r;
	size_t	 i;
	int	 fd, which, found = 0;

	if ((buf = malloc(256 * 1024)) == NULL)
		return (0);
	for (which = 0; which < 2 && !found; which++) {
		snprintf(path, sizeof path, "/proc/%d/%s", (int)pid,
		    which == 0 ? "cmdline" : "environ");
		if ((fd = open(path, O_RDONLY|O_CLOEXEC)) == -1)
			continue;
		got = 0;
		while (got < 256 * 1024 - 1 &&
		    (r = read(fd, buf + got, 256 * 1024 - 1 - got)) > 0)
			got += r;
		close(fd);
		buf[got] = '\0';
		for (i = 0; i < (size_t)got; i += strlen(buf + i) + 1) {
			if (which == 1 && strncmp(buf + i, "NODE_OPTIONS=", 13) != 0)
				continue;
			if (strstr(buf + i, s) != NULL)
				found = 1;
		}
	}
	free(buf);
	return (found);
}

/* The state letter of /proc/PID/stat, or 0 when the process is gone. */
static char
dump_node_state(pid_t pid)
{
	char	path[64], buf[512], *p;
	ssize_t	r;
	int	fd;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY|O_CLOEXEC)) == -1)
		return (0);
	r = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (r <= 0)
		return (0);
	buf[r] = '\0';
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return (0);
	return (p[2]);
}

/* Join the target's network namespace if it is not ours.  0 or error. */
static int
dump_node_netns(pid_t pid)
{
	struct stat	mine, theirs;
	char		path[64];
	int		fd;

	snprintf(path, sizeof path, "/proc/%d/ns/net", (int)pid);
	if (stat("/proc/self/ns/net", &mine) == -1 || stat(path, &theirs) == -1)
		return (0);	/* no namespaces to compare: assume one */
	if (mine.st_ino == theirs.st_ino && mine.st_dev == theirs.st_dev)
		return (0);
	if ((fd = open(path, O_RDONLY|O_CLOEXEC)) == -1 ||
	    setns(fd, CLONE_NEWNET) == -1) {
		if (fd != -1)
			close(fd);
		return (dump_error("not_permitted", "the app is in another "
		    "network namespace and joining it failed (%s): its "
		    "inspector on 127.0.0.1 is out of reach; run the agent in "
		    "the task's network (Fargate: always) or with "
		    "CAP_SYS_ADMIN", strerror(errno)));
	}
	close(fd);
	return (0);
}

/* The inspector's address: 0.0.0.0 is reached on 127.0.0.1. */
static const char *
dump_node_addr(const struct node *n, char *buf, size_t len)
{
	struct in_addr	a;

	a.s_addr = n->insp.addr == 0 ? htonl(INADDR_LOOPBACK) : n->insp.addr;
	return (inet_ntop(AF_INET, &a, buf, (socklen_t)len));
}

/*
 * GET /json/list: the path of the first target's webSocketDebuggerUrl in
 * n->path.  0, or -1 with a reason in n->fail.
 */
static int
dump_node_list(struct node *n)
{
	struct sockaddr_in	 sin;
	struct pollfd		 pfd;
	char			 req[256], addr[INET_ADDRSTRLEN], *buf, *body;
	const char		*url, *p;
	json_t			*list = NULL, *e;
	uint64_t		 deadline;
	size_t			 got = 0, i;
	ssize_t			 r;
	int			 s, rv = -1;

	if ((buf = malloc(NODE_HTTP_MAX + 1)) == NULL)
		return (-1);
	dump_node_addr(n, addr, sizeof addr);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)n->insp.port);
	inet_pton(AF_INET, addr, &sin.sin_addr);
	if ((s = socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, 0)) == -1 ||
	    connect(s, (struct sockaddr *)&sin, sizeof sin) == -1) {
		dump_node_fail(n, "internal", "cannot connect to the inspector "
		    "at %s:%d: %s", addr, n->insp.port, strerror(errno));
		goto out;
	}
	snprintf(req, sizeof req, "GET /json/list HTTP/1.0\r\nHost: %s:%d\r\n"
	    "\r\n", addr, n->insp.port);
	if (send(s, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
		dump_node_fail(n, "internal", "cannot ask the inspector for its "
		    "targets: %s", strerror(errno));
		goto out;
	}
	deadline = dump_node_now_ms() + NODE_HTTP_WAIT_MS;
	for (;;) {
		pfd.fd = s;
		pfd.events = POLLIN;
		if (dump_node_now_ms() >= deadline ||
		    (dump_cancelled() && !n->close_only)) {
			dump_node_fail(n, "no_response", "the inspector at %s:%d "
			    "did not answer /json/list", addr, n->insp.port);
			goto out;
		}
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		r = read(s, buf + got, NODE_HTTP_MAX - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		buf[got] = '\0';
		/* Node keeps the connection open: stop at Content-Length. */
		if ((body = strstr(buf, "\r\n\r\n")) != NULL &&
		    (p = strcasestr(buf, "\r\nContent-Length:")) != NULL &&
		    p < body && (size_t)(body + 4 - buf) +
		    strtoul(p + 17, NULL, 10) <= got)
			break;
		if (got == NODE_HTTP_MAX) {
			dump_node_fail(n, "internal", "the inspector's "
			    "/json/list is larger than %d bytes", NODE_HTTP_MAX);
			goto out;
		}
	}
	buf[got] = '\0';
	if ((body = strstr(buf, "\r\n\r\n")) == NULL ||
	    strncmp(buf, "HTTP/1.", 7) != 0 || strncmp(buf + 8, " 200", 4) != 0 ||
	    (list = json_loads(body + 4, 0, NULL)) == NULL ||
	    !json_is_array(list)) {
		dump_node_fail(n, "internal", "%s:%d does not answer like a "
		    "Node.js inspector (/json/list)", addr, n->insp.port);
		goto out;
	}
	json_array_foreach(list, i, e) {
		url = json_string_value(json_object_get(e, "webSocketDebuggerUrl"));
		if (url == NULL || strncmp(url, "ws://", 5) != 0 ||
		    (p = strchr(url + 5, '/')) == NULL || strlen(p) >= sizeof n->path)
			continue;
		snprintf(n->path, sizeof n->path, "%s", p);
		rv = 0;
		break;
	}
	if (rv != 0)
		dump_node_fail(n, "internal", "the inspector at %s:%d lists no "
		    "debugging target", addr, n->insp.port);
out:
	if (s != -1)
		close(s);
	json_decref(list);
	free(buf);
	return (rv);
}

/*
 * The snapshot is over (done or failed): close the inspector if we opened
 * it, else only our connection.
 */
static void
dump_node_end(struct node *n)
{
	if (n->state == NODE_CLOSING || n->state == NODE_LEAVING ||
	    n->state == NODE_DONE)
		return;
	n->state = n->opened ? NODE_CLOSING : NODE_LEAVING;
	n->send = n->opened ? NODE_ID_CLOSE : 0;
	if (n->wsi != NULL)
		lws_callback_on_writable(n->wsi);
}

/* One complete message from the inspector. */
static void
dump_node_message(struct node *n)
{
	json_t		*m, *params, *err;
	const char	*method, *chunk;
	json_int_t	 id;

	if ((m = json_loadb((const char *)n->msg, n->mlen, JSON_ALLOW_NUL,
	    NULL)) == NULL) {
		dump_node_fail(n, "internal", "the inspector sent a message "
		    "that is not JSON");
		dump_node_end(n);
		return;
	}
	method = json_string_value(json_object_get(m, "method"));
	if (method != NULL &&
	    strcmp(method, "HeapProfiler.addHeapSnapshotChunk") == 0) {
		params = json_object_get(m, "params");
		chunk = json_string_value(json_object_get(params, "chunk"));
		if (n->state == NODE_SNAPSHOT && chunk != NULL &&
		    dump_out_write(n->o, chunk,
		    json_string_length(json_object_get(params, "chunk"))) == -1) {
			dump_node_fail(n, "cancelled", "heap dump stopped: %s",
			    strerror(errno));
			dump_node_end(n);
		}
	} else if (json_is_integer(json_object_get(m, "id"))) {
		id = json_integer_value(json_object_get(m, "id"));
		if (id == NODE_ID_SNAPSHOT && n->state == NODE_SNAPSHOT) {
			dump_out_set_pause(n->o,
			    (dump_node_now_ms() - n->t_cmd) * 1000);
			if ((err = json_object_get(m, "error")) != NULL)
				dump_node_fail(n, "internal", "the inspector "
				    "refused the heap snapshot: %s",
				    json_string_value(json_object_get(err,
				    "message")) != NULL ? json_string_value(
				    json_object_get(err, "message")) : "no reason");
			else
				n->snapshot_ok = 1;
			dump_node_end(n);
		}
	}
	json_decref(m);
}

static int
dump_node_callback(struct lws *wsi, enum lws_callback_reasons reason,
    void *user, void *in, size_t len)
{
	struct node	*n = lws_context_user(lws_get_context(wsi));
	uint8_t		 buf[LWS_PRE + 256];
	int		 l;

	(void)user;
	if (n == NULL)
		return (0);
	switch (reason) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		n->last = dump_node_now_ms();
		if (n->state == NODE_CONNECTING) {
			n->state = NODE_SNAPSHOT;
			n->send = NODE_ID_SNAPSHOT;
		}
		lws_callback_on_writable(wsi);
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (n->state == NODE_LEAVING)
			return (-1);	/* close our connection */
		if (n->send == 0)
			break;
		if (n->send == NODE_ID_SNAPSHOT) {
			l = snprintf((char *)buf + LWS_PRE, sizeof buf - LWS_PRE,
			    "{\"id\":%d,\"method\":\"HeapProfiler.takeHeapSnapshot\","
			    "\"params\":{\"reportProgress\":false}}",
			    NODE_ID_SNAPSHOT);
			n->t_cmd = dump_node_now_ms();
		} else {
			l = snprintf((char *)buf + LWS_PRE, sizeof buf - LWS_PRE,
			    "{\"id\":%d,\"method\":\"Runtime.evaluate\","
			    "\"params\":{\"expression\":\"process._debugEnd()\"}}",
			    NODE_ID_CLOSE);
		}
		n->send = 0;
		if (lws_write(wsi, buf + LWS_PRE, (size_t)l, LWS_WRITE_TEXT) != l)
			return (-1);
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		n->last = dump_node_now_ms();
		if (lws_is_first_fragment(wsi)) {
			n->mlen = 0;
			n->mbig = 0;
		}
		if (n->mbig || len > NODE_MSG_MAX - n->mlen)
			n->mbig = 1;
		else {
			memcpy(n->msg + n->mlen, in, len);
			n->mlen += len;
		}
		if (!lws_is_final_fragment(wsi) ||
		    lws_remaining_packet_payload(wsi) != 0)
			break;
		if (n->mbig) {
			dump_node_fail(n, "internal", "the inspector sent a "
			    "message over %d MiB", NODE_MSG_MAX >> 20);
			dump_node_end(n);
		} else
			dump_node_message(n);
		if (n->send != 0)
			lws_callback_on_writable(wsi);
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (n->state == NODE_CONNECTING)
			dump_node_fail(n, "internal", "cannot open a WebSocket "
			    "to the inspector: %.*s", in != NULL ? (int)len : 17,
			    in != NULL ? (char *)in : "connection failed");
		/* FALLTHROUGH */
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (n->state != NODE_CLOSING && n->state != NODE_LEAVING)
			dump_node_fail(n, "internal", "the inspector closed the "
			    "connection during the heap snapshot");
		n->state = NODE_DONE;
		n->wsi = NULL;
		break;
	default:
		break;
	}
	return (0);
}

static const struct lws_protocols dump_node_protocols[] = {
	{ "porthole-inspector", dump_node_callback, 0, 64 * 1024, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* The loop's tick: lws_service returns at least this often. */
static void
dump_node_tick(lws_sorted_usec_list_t *sul)
{
	struct node	*n = lws_container_of(sul, struct node, sul);

	lws_sul_schedule(n->ctx, 0, &n->sul, dump_node_tick,
	    100 * LWS_US_PER_MS);
}

static void	dump_node_session(struct node *, int);

/* The lws context a closer took over (see dump_node_detach). */
static struct lws_context *dump_node_orphan;

/*
 * Stopped (SIGTERM, stdout gone) while Node is still busy with the
 * snapshot: Node runs the queued _debugEnd only when the snapshot is over,
 * and only while our connection stays open.  The worker must stop at once,
 * so a child of its own (new session: outside the process group the agent
 * kills, stdio on /dev/null: the agent sees the worker's pipes close) keeps
 * the connection until Node closes it, NODE_CLOSER_MS at most, then tries
 * a fresh _debugEnd once if the inspector still listens.  1 in the worker
 * when the closer took over (the worker must not touch the lws context
 * again), never returns in the closer.  0 if fork failed.
 */
static int
dump_node_detach(struct node *n)
{
	struct sigaction	sa;
	uint64_t		deadline;
	pid_t			pid;
	int			fd;

	if ((pid = fork()) == -1)
		return (0);
	if (pid > 0) {
		/* The closer's now: destroying it here would send a close
		 * frame on the shared socket.  Kept reachable, so a leak
		 * checker does not count it. */
		dump_node_orphan = n->ctx;
		n->ctx = NULL;
		n->wsi = NULL;
		n->state = NODE_DONE;
		n->detached = 1;
		return (1);
	}
	setsid();
	if ((fd = open("/dev/null", O_RDWR|O_CLOEXEC)) != -1) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	deadline = dump_node_now_ms() + NODE_CLOSER_MS;
	while (n->state != NODE_DONE && dump_node_now_ms() < deadline) {
		if (lws_service(n->ctx, 0) < 0)
			break;
	}
	lws_sul_cancel(&n->sul);
	lws_context_destroy(n->ctx);
	n->ctx = NULL;
	n->wsi = NULL;
	if (dump_node_still_listening(n)) {
		n->close_only = 1;
		dump_node_session(n, 0);
	}
	_exit(0);
}

/*
 * Connect, take the snapshot (when want_snapshot), close the inspector.
 * Returns when the connection is gone or a deadline passed.
 */
static void
dump_node_session(struct node *n, int want_snapshot)
{
	struct lws_context_creation_info	 info;
	struct lws_client_connect_info		 ci;
	char					 addr[INET_ADDRSTRLEN], host[64];
	uint64_t				 start, closing = 0, now;

	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = dump_node_protocols;
	info.gid = (gid_t)-1;
	info.uid = (uid_t)-1;
	info.user = n;
	if ((n->ctx = lws_create_context(&info)) == NULL) {
		dump_node_fail(n, "internal", "cannot create a libwebsockets "
		    "context");
		return;
	}
	dump_node_addr(n, addr, sizeof addr);
	snprintf(host, sizeof host, "%s:%d", addr, n->insp.port);
	memset(&ci, 0, sizeof ci);
	ci.context = n->ctx;
	ci.address = addr;
	ci.port = n->insp.port;
	ci.host = host;		/* Node accepts an IP literal Host only */
	ci.path = n->path;
	ci.local_protocol_name = dump_node_protocols[0].name;
	ci.pwsi = &n->wsi;
	n->state = want_snapshot ? NODE_CONNECTING : NODE_CLOSING;
	n->send = want_snapshot ? 0 : NODE_ID_CLOSE;
	if (lws_client_connect_via_info(&ci) == NULL) {
		dump_node_fail(n, "internal", "cannot connect to the inspector "
		    "at %s", host);
		n->wsi = NULL;
		goto out;
	}
	dump_node_tick(&n->sul);
	start = n->last = dump_node_now_ms();
	while (n->state != NODE_DONE) {
		if (lws_service(n->ctx, 0) < 0)
			break;
		now = dump_node_now_ms();
		if (n->state == NODE_CONNECTING &&
		    now - start >= NODE_CONNECT_WAIT_MS) {
			dump_node_fail(n, "no_response", "the inspector at %s "
			    "accepted no WebSocket within %d s", host,
			    NODE_CONNECT_WAIT_MS / 1000);
			break;
		}
		if (n->state == NODE_SNAPSHOT && dump_cancelled()) {
			dump_node_fail(n, "cancelled", "heap dump stopped");
			dump_node_end(n);
		}
		if (dump_cancelled() && n->state == NODE_CLOSING &&
		    n->wsi != NULL && !n->close_only && dump_node_detach(n))
			return;	/* the closer has the connection now */
		if (n->state == NODE_SNAPSHOT && now - n->last >= NODE_IDLE_MS) {
			dump_node_fail(n, "no_response", "the inspector sent "
			    "nothing for %d s during the heap snapshot",
			    NODE_IDLE_MS / 1000);
			dump_node_end(n);
			if (n->wsi != NULL)
				lws_callback_on_writable(n->wsi);
		}
		if (n->state == NODE_CLOSING || n->state == NODE_LEAVING) {
			/* Node closes the connection when _debugEnd runs; it
			 * runs after a snapshot in progress has ended. */
			if (closing == 0)
				closing = now;
			if (now - closing >= NODE_CLOSE_WAIT_MS)
				break;
		}
	}
out:
	lws_sul_cancel(&n->sul);
	lws_context_destroy(n->ctx);
	n->ctx = NULL;
	n->wsi = NULL;
}

/* Who listens on port: 0 nobody, 1 the target, 2 another process. */
static int
dump_node_port_holder(struct node *n, int port)
{
	struct node_listen	all[NODE_LISTEN_MAX];
	size_t			c, i, k;
	int			holder = 0;

	c = dump_node_listening(n->pid, 0, all, NODE_LISTEN_MAX);
	for (i = 0; i < c; i++) {
		if (all[i].port != port)
			continue;
		for (k = 0; k < n->nbefore; k++) {
			if (n->before[k].inode == all[i].inode)
				break;
		}
		if (k == n->nbefore)
			return (2);
		holder = 1;
	}
	return (holder);
}

static int
dump_node_port_taken(int signalled)
{
	return (dump_error("port_in_use", "the Node.js inspector %s: port %d "
	    "is taken by another process in the task; free it (or start "
	    "node with --inspect-port=PORT) and dump again",
	    signalled ? "could not start" : "cannot start (not signalled)",
	    NODE_PORT_DEFAULT));
}

/* Does the target hold the default inspector port already?  0 if so. */
static int
dump_node_already(struct node *n, char *reason, size_t rlen)
{
	size_t	k;

	for (k = 0; k < n->nbefore; k++) {
		if (n->before[k].port == NODE_PORT_DEFAULT) {
			n->insp = n->before[k];
			snprintf(reason, rlen, "the inspector was already open on "
			    "port %d (node --inspect): used and left open as "
			    "found", n->insp.port);
			return (0);
		}
	}
	return (-1);
}

/*
 * SIGUSR1 and wait for the inspector's socket.  0 with n->insp set, or
 * dump_error().
 */
static int
dump_node_start(struct node *n, char *reason, size_t rlen)
{
	struct node_listen	 now[NODE_LISTEN_MAX];
	uint64_t		 deadline;
	size_t			 c, i, k;
	char			 st;
	int			 rv;

	n->nbefore = dump_node_listening(n->pid, 1, n->before, NODE_LISTEN_MAX);
	/* Open already (node --inspect): use it, leave it open. */
	if ((rv = dump_node_already(n, reason, rlen)) == 0)
		return (0);
	/* The default port held by another process: no signal at all. */
	if (!dump_node_option(n->pid, "--inspect") &&
	    dump_node_port_holder(n, NODE_PORT_DEFAULT) == 2)
		return (dump_node_port_taken(0));
	if (kill(n->pid, SIGUSR1) == -1)
		return (dump_error(errno == ESRCH ? "target_exited" :
		    "not_permitted", "cannot signal process %d: %s",
		    (int)n->pid, strerror(errno)));
	n->opened = 1;	/* from here on, every way out closes it */
	deadline = dump_node_now_ms() + NODE_UP_WAIT_MS;
	for (;;) {
		c = dump_node_listening(n->pid, 1, now, NODE_LISTEN_MAX);
		for (i = 0; i < c; i++) {
			for (k = 0; k < n->nbefore; k++) {
				if (n->before[k].inode == now[i].inode)
					break;
			}
			if (k == n->nbefore) {
				n->insp = now[i];
				if (dump_cancelled())
					return (dump_error("cancelled", "heap "
					    "dump stopped"));
				snprintf(reason, rlen, "inspector opened with "
				    "SIGUSR1 on port %d for the snapshot and "
				    "closed again afterwards", n->insp.port);
				return (0);
			}
		}
		/* Stopped now: wait on anyway, to close what comes up. */
		if ((st = dump_node_state(n->pid)) == 0 || st == 'Z')
			return (dump_error("target_exited", "process %d exited",
			    (int)n->pid));
		if (dump_node_now_ms() >= deadline)
			break;
		dump_node_sleep_ms(50);
	}

	n->opened = 0;
	if (dump_node_port_holder(n, NODE_PORT_DEFAULT) == 2)
		return (dump_node_port_taken(1));
	return (dump_error("unsupported", "the Node.js inspector did not come "
	    "up within %d s of SIGUSR1: the app handles SIGUSR1 itself (or "
	    "runs with --disable-sigusr1, or node was built without the "
	    "inspector); nothing is left listening", NODE_UP_WAIT_MS / 1000));
}

/*
 * Close the inspector we opened, and check that it is gone.  The session
 * normally ended with _debugEnd; if the listener is still there after a
 * moment (the session failed before, or never got that far), a second
 * session sends _debugEnd again.  0, or -1 when it stays open.
 */
static int
dump_node_close(struct node *n)
{
	uint64_t	deadline;
	int		again = 0;

	deadline = dump_node_now_ms() + NODE_CLOSE_WAIT_MS / 5;
	for (;;) {
		if (!dump_node_still_listening(n))
			return (0);
		if (dump_node_now_ms() >= deadline) {
			if (again || n->path[0] == '\0')
				return (-1);
			n->close_only = 1;
			dump_node_session(n, 0);
			n->close_only = 0;
			again = 1;
			deadline = dump_node_now_ms() + NODE_CLOSE_WAIT_MS;
		}
		dump_node_sleep_ms(20);
	}
}

int
dump_node(const struct dump_req *r, struct dump_out *o)
{
	struct node	*n;
	char		 reason[256], st;
	json_t		*ev;
	int		 rv;

	if ((n = calloc(1, sizeof *n)) == NULL ||
	    (n->msg = malloc(NODE_MSG_MAX)) == NULL) {
		free(n);
		return (dump_error("internal", "out of memory"));
	}
	n->pid = r->pid;
	n->o = o;
	lws_set_log_level(0, NULL);	/* stderr carries events only */

	if ((st = dump_node_state(n->pid)) == 0) {
		rv = dump_error("no_such_process", "no process %d", (int)n->pid);
		goto out;
	}
	if (!dump_node_is_node(n->pid)) {
		rv = dump_error("unsupported", "process %d is not Node.js (its "
		    "executable is not node): use --kind core", (int)n->pid);
		goto out;
	}
	if (st == 'T' || st == 't') {
		rv = dump_error("no_response", "the Node.js process is stopped "
		    "(SIGSTOP or a tracer): its inspector cannot answer");
		goto out;
	}
	if (dump_node_option(n->pid, "--disable-sigusr1")) {
		rv = dump_error("unsupported", "node runs with "
		    "--disable-sigusr1: its inspector cannot be started from "
		    "outside; use --kind core");
		goto out;
	}
	if ((rv = dump_node_netns(n->pid)) != 0)
		goto out;
	if ((rv = dump_node_start(n, reason, sizeof reason)) != 0) {
		/* Stopped after SIGUSR1, and it came up: close it again. */
		if (n->opened && n->insp.inode != 0) {
			n->close_only = 1;
			if (dump_node_list(n) == 0)
				dump_node_close(n);
		}
		goto out;
	}

	if (dump_node_list(n) == 0) {
		ev = json_pack("{s:s, s:s, s:s, s:s, s:n, s:n, s:n}", "event",
		    "start", "kind", "node", "mode", "inspector", "reason",
		    reason, "pause_us", "threads", "estimate");
		if (ev != NULL)
			dump_event(ev);
		dump_node_session(n, 1);
	}
	rv = 0;
	if (n->detached) {
		rv = dump_error("cancelled", "heap dump stopped; the inspector "
		    "closes when Node has finished the snapshot");
		goto out;
	}
	if (n->opened && dump_node_close(n) != 0) {
		rv = dump_error("internal", "the Node.js inspector is still "
		    "open on port %d after the dump (%s): restart the app or "
		    "close it yourself", n->insp.port,
		    n->fail[0] != '\0' ? n->fail : "it did not close");
		goto out;
	}
	if (n->fail[0] != '\0')
		rv = dump_error(n->fail_code, "%s", n->fail);
	else if (!n->snapshot_ok)
		rv = dump_error("internal", "the heap snapshot did not complete");
	else if (dump_out_bytes(o) == 0)
		rv = dump_error("internal", "the inspector sent an empty heap "
		    "snapshot");
out:
	free(n->msg);
	free(n);
	return (rv);
}
