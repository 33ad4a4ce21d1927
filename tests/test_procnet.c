/*
 * test_procnet.c - the /proc/net and /proc/PID/fd parsers of `net` and
 * `lsof` (procnet.c): lines as the kernel writes them, the header, lines
 * cut short or with a stray byte, and this process's own sockets read
 * back from the real /proc/net.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "porthole/procnet.h"

/* The kernel's hex word for a dotted IPv4 address, on this machine. */
static void
v4word(const char *ip, char out[9])
{
	uint32_t w;

	cr_assert_eq(inet_pton(AF_INET, ip, &w), 1);
	snprintf(out, 9, "%08X", w);
}

static void
v6words(const char *ip, char out[33])
{
	uint32_t w[4];
	int i;

	cr_assert_eq(inet_pton(AF_INET6, ip, w), 1);
	for (i = 0; i < 4; i++)
		snprintf(out + i * 8, 9, "%08X", w[i]);
}

Test(procnet, tcp_listen_and_established)
{
	struct ph_sock s;
	char a[9], b[9], line[512];

	v4word("127.0.0.1", a);
	v4word("10.1.2.3", b);
	snprintf(line, sizeof line, "   0: %s:1F90 00000000:0000 0A 00000000:00000005 "
	    "00:00000000 00000000  1000        0 3269791 1 00000000a76f8b67 100 0 0 10 0", a);
	cr_assert_eq(ph_net_parse_line(PH_NET_TCP, line, &s), 0);
	cr_assert_str_eq(s.local, "127.0.0.1:8080");
	cr_assert_str_eq(s.peer, "");
	cr_assert_str_eq(ph_net_state(&s), "LISTEN");
	cr_assert(s.listening);
	cr_assert_eq(s.rxq, 5);
	cr_assert_eq(s.uid, 1000);
	cr_assert_eq(s.inode, 3269791);

	snprintf(line, sizeof line, "  12: %s:0016 %s:C350 01 0000001A:00000000 "
	    "01:00000010 00000000     0        0 77 2 0000000000000000 20 4 30 10 -1", a, b);
	cr_assert_eq(ph_net_parse_line(PH_NET_TCP, line, &s), 0);
	cr_assert_str_eq(s.local, "127.0.0.1:22");
	cr_assert_str_eq(s.peer, "10.1.2.3:50000");
	cr_assert_str_eq(ph_net_state(&s), "ESTAB");
	cr_assert_eq(s.txq, 26);
	cr_assert(!s.listening);
	cr_assert_str_eq(ph_net_proto(s.kind), "tcp");
}

Test(procnet, tcp6_and_udp)
{
	struct ph_sock s;
	char a[33], z[33], line[512];

	v6words("::1", a);
	v6words("::", z);
	snprintf(line, sizeof line, "   0: %s:0050 %s:0000 0A 00000000:00000000 "
	    "00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0", a, z);
	cr_assert_eq(ph_net_parse_line(PH_NET_TCP6, line, &s), 0);
	cr_assert_str_eq(s.local, "[::1]:80");
	cr_assert_str_eq(s.peer, "");

	v6words("2001:db8::7", a);
	snprintf(line, sizeof line, " 1: %s:0035 %s:0000 07 00000000:00000000 "
	    "00:00000000 00000000   101        0 99 2 0000000000000000 0", a, z);
	cr_assert_eq(ph_net_parse_line(PH_NET_UDP6, line, &s), 0);
	cr_assert_str_eq(s.local, "[2001:db8::7]:53");
	cr_assert_str_eq(ph_net_state(&s), "UNCONN");
	cr_assert(s.listening, "a bound unconnected UDP socket listens, as ss -l says");
	cr_assert_eq(s.uid, 101);
}

Test(procnet, unix_paths)
{
	struct ph_sock s;

	cr_assert_eq(ph_net_parse_line(PH_NET_UNIX, "0000000000000000: 00000002 00000000 "
	    "00010000 0001 01 20001 /run/with space.sock", &s), 0);
	cr_assert_str_eq(s.path, "/run/with space.sock");
	cr_assert(s.listening);
	cr_assert_str_eq(ph_net_state(&s), "LISTEN");
	cr_assert_eq(s.unix_type, 1);
	cr_assert_eq(s.inode, 20001);

	cr_assert_eq(ph_net_parse_line(PH_NET_UNIX, "00000000a102b4ed: 00000003 00000000 "
	    "00000000 0001 03  1150", &s), 0);
	cr_assert_str_eq(s.path, "");
	cr_assert_str_eq(ph_net_state(&s), "ESTAB");
	cr_assert_eq(ph_net_parse_line(PH_NET_UNIX, "00000000a102b4ed: 00000003 00000000 "
	    "00000000 0002 01 9 @abstract", &s), 0);
	cr_assert_str_eq(s.path, "@abstract");
	cr_assert_eq(s.unix_type, 2);
}

Test(procnet, refused_lines)
{
	static const char *const bad[] = {
		"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
		"",
		"   0: 0100007F:1F90",
		"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0",
		"   0: 0100007G:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1",
		"   0: 0100007F:1F901 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1",
		"   0: 0100007F:1F90 00000000:0000 FF 00000000:00000000 00:00000000 00000000 0 0 1",
		"   0: 0100007F:1F90 00000000:0000 0A 00000000 00:00000000 00000000 0 0 1",
		"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 -1 0 1",
		"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 99999999999999999999999",
		"   0 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1",
	};
	struct ph_sock s;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cr_assert_eq(ph_net_parse_line(PH_NET_TCP, bad[i], &s), -1, "accepted: %s", bad[i]);
		cr_assert_eq(s.inode, 0, "a refused line leaves nothing behind");
	}
	cr_assert_eq(ph_net_parse_line(PH_NET_UNIX, "Num       RefCount Protocol Flags    "
	    "Type St Inode Path", &s), -1);
	cr_assert_eq(ph_net_parse_line(PH_NET_UNIX, "0000: 00000002 00000000 00010000 0001 09 1 /x",
	    &s), -1);
	cr_assert_eq(ph_net_parse_line(PH_NET_UNIX, "0000: 2 0 0 1 1", &s), -1);
	/* An IPv4 line in the IPv6 table. */
	cr_assert_eq(ph_net_parse_line(PH_NET_TCP6, "   0: 0100007F:1F90 00000000:0000 0A "
	    "00000000:00000000 00:00000000 00000000 0 0 1", &s), -1);
	cr_assert_eq(ph_net_parse_line(PH_NET_KINDS, "x", &s), -1);
}

/* A listening socket of ours is in the real table, with its inode and address. */
Test(procnet, own_socket_in_proc)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	struct ph_sock s;
	struct stat st;
	char line[1024], want[32], fdpath[64];
	FILE *f;
	int fd, found = 0;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert(fd >= 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	cr_assert_eq(listen(fd, 1), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(want, sizeof want, "127.0.0.1:%u", ntohs(sin.sin_port));
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert((f = fopen("/proc/self/net/tcp", "r")) != NULL);
	while (fgets(line, sizeof line, f) != NULL) {
		if (ph_net_parse_line(PH_NET_TCP, line, &s) == 0 && s.inode == st.st_ino) {
			cr_assert_str_eq(s.local, want);
			cr_assert(s.listening);
			found = 1;
		}
	}
	fclose(f);
	cr_assert(found, "our socket %s is not in /proc/self/net/tcp", want);
	snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", fd);
	len = (socklen_t)readlink(fdpath, line, sizeof line - 1);
	line[len] = '\0';
	{
		uint64_t ino;

		cr_assert_eq(ph_fd_classify(line, &ino), PH_FD_SOCKET);
		cr_assert_eq(ino, (uint64_t)st.st_ino);
	}
	close(fd);
}

Test(procnet, fd_links)
{
	uint64_t ino;

	cr_assert_eq(ph_fd_classify("/var/log/app.log (deleted)", &ino), PH_FD_FILE);
	cr_assert_eq(ph_fd_classify("pipe:[123]", &ino), PH_FD_PIPE);
	cr_assert_eq(ino, 123);
	cr_assert_eq(ph_fd_classify("anon_inode:[eventfd]", &ino), PH_FD_EVENTFD);
	cr_assert_eq(ph_fd_classify("anon_inode:[eventpoll]", &ino), PH_FD_EPOLL);
	cr_assert_eq(ph_fd_classify("anon_inode:inotify", &ino), PH_FD_INOTIFY);
	cr_assert_eq(ph_fd_classify("anon_inode:[pidfd]", &ino), PH_FD_ANON);
	cr_assert_eq(ph_fd_classify("net:[4026531840]", &ino), PH_FD_NS);
	cr_assert_eq(ino, 4026531840ULL);
	cr_assert_eq(ph_fd_classify("socket:[12", &ino), PH_FD_OTHER);
	cr_assert_eq(ph_fd_classify("socket:[]", &ino), PH_FD_OTHER);
	cr_assert_eq(ph_fd_classify("socket:[1]x", &ino), PH_FD_OTHER);
	cr_assert_eq(ino, 0);
	cr_assert_str_eq(ph_fd_kind_name(PH_FD_EVENTFD), "eventfd");
}

Test(procnet, fdinfo)
{
	long long pos;
	unsigned int flags;

	cr_assert_eq(ph_fdinfo_parse("pos:\t4096\nflags:\t0100002\nmnt_id:\t25\nino:\t7\n",
	    &pos, &flags), 0);
	cr_assert_eq(pos, 4096);
	cr_assert_eq(flags, 0100002);
	cr_assert_eq(ph_fdinfo_parse("flags:\t02\npos:\t0\n", &pos, &flags), 0);
	cr_assert_eq(pos, 0);
	cr_assert_eq(ph_fdinfo_parse("pos:\t\nflags:\t02\n", &pos, &flags), -1);
	cr_assert_eq(ph_fdinfo_parse("pos:\t1\n", &pos, &flags), -1);
	cr_assert_eq(ph_fdinfo_parse("pos:\t99999999999999999999\nflags:\t0\n", &pos, &flags), -1);
	cr_assert_eq(ph_fdinfo_parse("xpos:\t1\nflags:\t0\n", &pos, &flags), -1);
}
