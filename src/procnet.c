/*
 * procnet.c - the /proc/net table and /proc/PID/fd link parsers of
 * `porthole net` and `porthole lsof` (procnet.h).
 *
 * The IP tables (tcp, tcp6, udp, udp6) print each address as the kernel's
 * words in hexadecimal: an IPv4 address is one 32-bit word as it lies in
 * memory, an IPv6 address four of them, the port a plain 16-bit number.
 * The helper that reads them runs on the machine whose kernel wrote them,
 * so a word parsed as a number and stored back in host order gives the
 * address's bytes in network order, whatever the endianness.
 *
 * A line is split into whitespace-separated fields first; every number is
 * checked for its digits and its width, so a line cut short, a field too
 * wide or a stray byte refuses the line instead of reading past it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "porthole/procnet.h"
#include "porthole/util.h"

#define NET_LINE_MAX	4096	/* a longer line is skipped */

#define NET_FIELDS	12	/* the most fields a line needs */

struct net_field {
	const char	*p;
	size_t		 len;
};

/* Split line into at most max fields; the count.  *rest: after field max. */
static size_t
net_split(const char *line, struct net_field *f, size_t max, const char **rest)
{
	size_t	n = 0;

	while (n < max) {
		while (*line == ' ' || *line == '\t')
			line++;
		if (*line == '\0' || *line == '\n')
			break;
		f[n].p = line;
		while (*line != '\0' && *line != ' ' && *line != '\t' && *line != '\n')
			line++;
		f[n].len = (size_t)(line - f[n].p);
		n++;
	}
	if (rest != NULL)
		*rest = line;
	return n;
}

/* len hex digits at p (1..16) into *v; -1 on anything else. */
static int
net_hex(const char *p, size_t len, uint64_t *v)
{
	size_t	i;
	int	d;

	if (len == 0 || len > 16)
		return -1;
	*v = 0;
	for (i = 0; i < len; i++) {
		if ((d = ph_hexval((unsigned char)p[i])) < 0)
			return -1;
		*v = *v << 4 | (uint64_t)d;
	}
	return 0;
}

/* A decimal field (at most 20 digits, no overflow) into *v. */
static int
net_dec(const struct net_field *f, uint64_t *v)
{
	size_t	i;

	if (f->len == 0 || f->len > 20)
		return -1;
	*v = 0;
	for (i = 0; i < f->len; i++) {
		if (f->p[i] < '0' || f->p[i] > '9')
			return -1;
		if (*v > (UINT64_MAX - (uint64_t)(f->p[i] - '0')) / 10)
			return -1;
		*v = *v * 10 + (uint64_t)(f->p[i] - '0');
	}
	return 0;
}

/* Two hex numbers "A:B" (each at most 16 digits). */
static int
net_hexpair(const struct net_field *f, uint64_t *a, uint64_t *b)
{
	const char	*c = memchr(f->p, ':', f->len);

	if (c == NULL)
		return -1;
	return net_hex(f->p, (size_t)(c - f->p), a) != 0 ||
	    net_hex(c + 1, f->len - (size_t)(c - f->p) - 1, b) != 0 ? -1 : 0;
}

/*
 * "ADDR:PORT" of family v6 or not into text ("1.2.3.4:80", "[::1]:80");
 * *zero set when the address and port are all zeros.
 */
static int
net_addr(const struct net_field *f, int v6, char *out, size_t len, int *zero)
{
	size_t		 alen = v6 ? 32 : 8, i;
	unsigned char	 bytes[16];
	uint64_t	 w, port;
	uint32_t	 w32;
	char		 ip[INET6_ADDRSTRLEN];
	int		 allzero = 1;

	if (f->len != alen + 5 || f->p[alen] != ':' ||
	    net_hex(f->p + alen + 1, 4, &port) != 0)
		return -1;
	for (i = 0; i < alen / 8; i++) {
		if (net_hex(f->p + i * 8, 8, &w) != 0)
			return -1;
		w32 = (uint32_t)w;
		memcpy(bytes + i * 4, &w32, 4);	/* host order: the kernel's word */
		if (w32 != 0)
			allzero = 0;
	}
	if (inet_ntop(v6 ? AF_INET6 : AF_INET, bytes, ip, sizeof ip) == NULL)
		return -1;
	snprintf(out, len, v6 ? "[%s]:%u" : "%s:%u", ip, (unsigned)port);
	*zero = allzero && port == 0;
	return 0;
}

/* tcp, tcp6, udp, udp6: "sl: local rem st tx:rx tr:when retr uid timeout inode ...". */
static int
net_parse_ip(enum ph_net_kind kind, const char *line, struct ph_sock *s)
{
	struct net_field f[NET_FIELDS];
	uint64_t	 st, tx, rx, uid, inode;
	int		 v6 = kind == PH_NET_TCP6 || kind == PH_NET_UDP6, zero, lzero;
	int		 udp = kind == PH_NET_UDP || kind == PH_NET_UDP6;

	if (net_split(line, f, 10, NULL) < 10)
		return -1;
	if (f[0].len < 2 || f[0].p[f[0].len - 1] != ':')
		return -1;	/* the header ("sl local_address ...") too */
	if (net_addr(&f[1], v6, s->local, sizeof s->local, &lzero) != 0 ||
	    net_addr(&f[2], v6, s->peer, sizeof s->peer, &zero) != 0 ||
	    net_hex(f[3].p, f[3].len, &st) != 0 || f[3].len > 2 || st < 1 || st > 12 ||
	    net_hexpair(&f[4], &tx, &rx) != 0 ||
	    net_dec(&f[7], &uid) != 0 || uid > UINT32_MAX ||
	    net_dec(&f[9], &inode) != 0)
		return -1;
	if (zero)
		s->peer[0] = '\0';
	s->state = (int)st;
	s->txq = tx;
	s->rxq = rx;
	s->uid = (uid_t)uid;
	s->inode = inode;
	/* A UDP socket is "listening" (as ss -l says) when it is bound and unconnected. */
	s->listening = udp ? st == 7 && !lzero : st == 10;
	return 0;
}

/* unix: "Num: RefCount Protocol Flags Type St Inode [Path]". */
static int
net_parse_unix(const char *line, struct ph_sock *s)
{
	struct net_field f[7];
	const char	*rest;
	uint64_t	 v, flags, type, st, inode;
	size_t		 n;

	if (net_split(line, f, 7, &rest) < 7)
		return -1;
	if (f[0].len < 2 || f[0].p[f[0].len - 1] != ':' ||
	    net_hex(f[0].p, f[0].len - 1, &v) != 0 ||
	    net_hex(f[3].p, f[3].len, &flags) != 0 ||
	    net_hex(f[4].p, f[4].len, &type) != 0 || type > 0xffff ||
	    net_hex(f[5].p, f[5].len, &st) != 0 || st < 1 || st > 4 ||
	    net_dec(&f[6], &inode) != 0)
		return -1;
	s->unix_type = (int)type;
	s->state = (int)st;
	s->inode = inode;
	s->listening = (flags & 0x10000) != 0;	/* __SO_ACCEPTCON */
	/* The path is the rest after one space; it may hold spaces itself. */
	if (*rest == ' ')
		rest++;
	n = strcspn(rest, "\n");
	if (n >= sizeof s->path)
		n = sizeof s->path - 1;
	memcpy(s->path, rest, n);
	s->path[n] = '\0';
	return 0;
}

int
ph_net_parse_line(enum ph_net_kind kind, const char *line, struct ph_sock *s)
{
	memset(s, 0, sizeof *s);
	s->kind = kind;
	switch (kind) {
	case PH_NET_TCP:
	case PH_NET_TCP6:
	case PH_NET_UDP:
	case PH_NET_UDP6:
		if (net_parse_ip(kind, line, s) == 0)
			return 0;
		break;
	case PH_NET_UNIX:
		if (net_parse_unix(line, s) == 0)
			return 0;
		break;
	default:
		break;
	}
	memset(s, 0, sizeof *s);
	return -1;
}

const char *
ph_net_kind_name(enum ph_net_kind kind)
{
	static const char *const names[] = { "tcp", "tcp6", "udp", "udp6", "unix" };

	return (unsigned)kind < PH_NET_KINDS ? names[kind] : "?";
}

const char *
ph_net_proto(enum ph_net_kind kind)
{
	switch (kind) {
	case PH_NET_TCP:
	case PH_NET_TCP6:
		return "tcp";
	case PH_NET_UDP:
	case PH_NET_UDP6:
		return "udp";
	case PH_NET_UNIX:
		return "unix";
	default:
		return "?";
	}
}

const char *
ph_net_state(const struct ph_sock *s)
{
	static const char *const tcp[] = { "?", "ESTAB", "SYN-SENT", "SYN-RECV",
	    "FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT", "UNCONN", "CLOSE-WAIT",
	    "LAST-ACK", "LISTEN", "CLOSING", "SYN-RECV" };
	static const char *const unx[] = { "?", "UNCONN", "SYN-SENT", "ESTAB", "CLOSING" };

	if (s->kind == PH_NET_UNIX) {
		if (s->listening)
			return "LISTEN";
		return s->state >= 1 && s->state <= 4 ? unx[s->state] : "?";
	}
	return s->state >= 1 && s->state <= 12 ? tcp[s->state] : "?";
}

int
ph_net_read(const char *root, pid_t pid, enum ph_net_kind kind, struct ph_sock **socks,
    size_t *n, char **cause)
{
	char		 path[1024], line[NET_LINE_MAX];
	struct ph_sock	 s, *grown;
	size_t		 cap = *n;
	FILE		*f;
	int		 e, first = 1, skip = 0;

	if (pid > 0)
		snprintf(path, sizeof path, "%s/proc/%d/net/%s", root, (int)pid,
		    ph_net_kind_name(kind));
	else
		snprintf(path, sizeof path, "%s/proc/self/net/%s", root, ph_net_kind_name(kind));
	if ((f = fopen(path, "re")) == NULL) {
		e = errno;
		if (e == ENOENT && pid > 0) {
			snprintf(path, sizeof path, "%s/proc/%d", root, (int)pid);
			if (access(path, F_OK) != 0) {
				*cause = ph_asprintf("no process %d on this agent", (int)pid);
				errno = ESRCH;
				return -1;
			}
		}
		if (e == ENOENT)
			return 0;	/* the kernel has no such table (no IPv6) */
		*cause = ph_asprintf("cannot read %s: %s", path, strerror(e));
		errno = e;
		return -1;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		if (strchr(line, '\n') == NULL && !feof(f)) {
			skip = 1;	/* the rest of an overlong line follows */
			continue;
		}
		if (skip || first) {
			skip = first = 0;	/* the end of a long line; the header */
			continue;
		}
		if (ph_net_parse_line(kind, line, &s) != 0)
			continue;
		if (*n >= PH_NET_SOCKS_MAX)
			break;
		if (*n == cap) {
			cap = cap < 64 ? 64 : cap * 2;
			if ((grown = realloc(*socks, cap * sizeof **socks)) == NULL) {
				fclose(f);
				*cause = strdup("out of memory");
				return -1;
			}
			*socks = grown;
		}
		(*socks)[(*n)++] = s;
	}
	fclose(f);
	return 0;
}

/* "word:[digits]" with word one of words: 0 and *inode, else -1. */
static int
fd_bracketed(const char *link, const char *word, uint64_t *inode)
{
	size_t		 n = strlen(word), d;
	struct net_field f;

	if (strncmp(link, word, n) != 0 || link[n] != ':' || link[n + 1] != '[')
		return -1;
	f.p = link + n + 2;
	d = strspn(f.p, "0123456789");
	if (d == 0 || strcmp(f.p + d, "]") != 0)
		return -1;
	f.len = d;
	return net_dec(&f, inode);
}

enum ph_fd_kind
ph_fd_classify(const char *link, uint64_t *inode)
{
	static const char *const ns[] = { "net", "mnt", "pid", "uts", "ipc", "user",
	    "cgroup", "time", "pid_for_children", "time_for_children" };
	static const struct { const char *text; enum ph_fd_kind kind; } anon[] = {
		{ "anon_inode:[eventfd]", PH_FD_EVENTFD },
		{ "anon_inode:[eventpoll]", PH_FD_EPOLL },
		{ "anon_inode:[timerfd]", PH_FD_TIMERFD },
		{ "anon_inode:[signalfd]", PH_FD_SIGNALFD },
		{ "anon_inode:inotify", PH_FD_INOTIFY },
	};
	size_t	i;

	*inode = 0;
	if (link[0] == '/')
		return PH_FD_FILE;
	if (fd_bracketed(link, "socket", inode) == 0)
		return PH_FD_SOCKET;
	if (fd_bracketed(link, "pipe", inode) == 0)
		return PH_FD_PIPE;
	for (i = 0; i < sizeof anon / sizeof anon[0]; i++) {
		if (strcmp(link, anon[i].text) == 0)
			return anon[i].kind;
	}
	if (strncmp(link, "anon_inode:", 11) == 0)
		return PH_FD_ANON;
	for (i = 0; i < sizeof ns / sizeof ns[0]; i++) {
		if (fd_bracketed(link, ns[i], inode) == 0)
			return PH_FD_NS;
	}
	*inode = 0;
	return PH_FD_OTHER;
}

const char *
ph_fd_kind_name(enum ph_fd_kind kind)
{
	static const char *const names[] = { "file", "socket", "pipe", "eventfd",
	    "epoll", "timerfd", "signalfd", "inotify", "anon", "namespace", "other" };

	return (unsigned)kind < PH_FD_KINDS ? names[kind] : "other";
}

/* The value of "key:\t..." at the start of a line of buf, or NULL. */
static const char *
fdinfo_value(const char *buf, const char *key)
{
	size_t		 n = strlen(key);
	const char	*p = buf;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, key, n) == 0 && p[n] == ':') {
			p += n + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			return p;
		}
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return NULL;
}

int
ph_fdinfo_parse(const char *buf, long long *pos, unsigned int *flags)
{
	const char	*v;
	uint64_t	 n = 0;
	unsigned int	 fl = 0;
	size_t		 i;

	if ((v = fdinfo_value(buf, "pos")) == NULL)
		return -1;
	for (i = 0; v[i] >= '0' && v[i] <= '9'; i++) {
		if (i >= 19)
			return -1;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	if (i == 0 || n > INT64_MAX)
		return -1;
	if ((v = fdinfo_value(buf, "flags")) == NULL)
		return -1;
	for (i = 0; v[i] >= '0' && v[i] <= '7'; i++) {
		if (i >= 11)
			return -1;
		fl = fl << 3 | (unsigned)(v[i] - '0');
	}
	if (i == 0)
		return -1;
	*pos = (long long)n;
	*flags = fl;
	return 0;
}
