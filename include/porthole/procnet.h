/*
 * procnet.h - the parsers behind `porthole net` and `porthole lsof`: one
 * line of /proc/net/{tcp,tcp6,udp,udp6,unix} into a struct, and the
 * link text of /proc/PID/fd/N into a descriptor kind.
 *
 * The text is the kernel's, read in a helper child of the agent, but the
 * parsers take it as untrusted all the same (a fuzz target drives them):
 * a line they cannot read is refused with -1, never half-filled.  They
 * keep no state and allocate nothing, so the helper can stream a table of
 * any length through them.
 */
#ifndef PORTHOLE_PROCNET_H
#define PORTHOLE_PROCNET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The tables of /proc/PID/net this module reads, in the order it lists them. */
enum ph_net_kind {
	PH_NET_TCP,
	PH_NET_TCP6,
	PH_NET_UDP,
	PH_NET_UDP6,
	PH_NET_UNIX,
	PH_NET_KINDS
};

#define PH_NET_ADDR_MAX	64	/* "[v6addr]:port" with room */
#define PH_NET_PATH_MAX	512	/* a unix socket's path as the kernel prints it */

struct ph_sock {
	enum ph_net_kind kind;
	int		 state;		/* TCP: 1..12 (ph_net_state); unix: 1..4 */
	int		 listening;	/* TCP LISTEN, unix __SO_ACCEPTCON, bound UDP */
	char		 local[PH_NET_ADDR_MAX];	/* "10.0.0.1:80", "[::1]:80" */
	char		 peer[PH_NET_ADDR_MAX];		/* "" when none (0.0.0.0:0, unix) */
	uint64_t	 txq, rxq;	/* bytes queued (TCP/UDP; 0 for unix) */
	uid_t		 uid;		/* TCP/UDP: the socket's owner; unix: 0 */
	uint64_t	 inode;		/* 0: not attached to a descriptor */
	int		 unix_type;	/* unix: 1 stream, 2 dgram, 5 seqpacket */
	char		 path[PH_NET_PATH_MAX];	/* unix: bound path, "@name" abstract */
};

/* "tcp", "tcp6", "udp", "udp6", "unix": the table's file name under net/. */
const char	*ph_net_kind_name(enum ph_net_kind kind);
/* "tcp", "udp" or "unix": the protocol column. */
const char	*ph_net_proto(enum ph_net_kind kind);

/*
 * One line of the table of kind (without its newline; the header line
 * and anything unreadable give -1).  line is not modified.
 */
int		 ph_net_parse_line(enum ph_net_kind kind, const char *line,
		    struct ph_sock *s);

/* The state as ss names it: "LISTEN", "ESTAB", "UNCONN", ...; "?" if unknown. */
const char	*ph_net_state(const struct ph_sock *s);

/*
 * Every socket of table kind of process pid's network namespace
 * (root/proc/PID/net/KIND; pid 0 reads root/proc/self/net), appended to
 * *socks (malloc'd, grown; *n its length).  Lines that do not parse are
 * skipped; at most PH_NET_SOCKS_MAX sockets in all.  A table the kernel
 * lacks (no IPv6) is empty, not an error.  -1 with *cause when the
 * process does not exist (errno ESRCH) or its tables cannot be read.
 */
#define PH_NET_SOCKS_MAX	(1 << 20)
int		 ph_net_read(const char *root, pid_t pid, enum ph_net_kind kind,
		    struct ph_sock **socks, size_t *n, char **cause);

/* What a /proc/PID/fd/N link names. */
enum ph_fd_kind {
	PH_FD_FILE,		/* a path */
	PH_FD_SOCKET,		/* socket:[INODE] */
	PH_FD_PIPE,		/* pipe:[INODE] */
	PH_FD_EVENTFD,		/* anon_inode:[eventfd] */
	PH_FD_EPOLL,		/* anon_inode:[eventpoll] */
	PH_FD_TIMERFD,		/* anon_inode:[timerfd] */
	PH_FD_SIGNALFD,		/* anon_inode:[signalfd] */
	PH_FD_INOTIFY,		/* anon_inode:inotify */
	PH_FD_ANON,		/* any other anon_inode: (pidfd, io_uring, ...) */
	PH_FD_NS,		/* net:[INODE], mnt:[...]: a namespace */
	PH_FD_OTHER,		/* none of these */
	PH_FD_KINDS
};

/*
 * Kind of the link text (NUL-terminated); *inode is set for socket:[N],
 * pipe:[N] and namespaces (else 0).
 */
enum ph_fd_kind	 ph_fd_classify(const char *link, uint64_t *inode);
/* "file", "socket", "pipe", "eventfd", "epoll", ...: the type column. */
const char	*ph_fd_kind_name(enum ph_fd_kind kind);

/*
 * From the text of /proc/PID/fdinfo/N: pos (the offset) and flags (octal
 * open flags).  Returns 0 when both were found, -1 when either is missing.
 */
int		 ph_fdinfo_parse(const char *buf, long long *pos, unsigned int *flags);

#endif
