/*
 * ph-flood.c - a flood of idle half-open connections for the limits tests.
 *
 * It opens COUNT TCP connections to ADDR:PORT from a chosen source address
 * (127.0.0.2 and up, so the relay's per-address limits never touch the
 * test's own clients on 127.0.0.1), then says nothing: with --tls it first
 * completes the TLS handshake (no certificate check), then says nothing.
 * It watches every connection and prints a line each time the counts
 * change, for the test to assert on:
 *
 *   status pending=P connected=N alive=A closed=C failed=F
 *
 * pending: connect or handshake under way; connected: TCP (and TLS)
 * completed; alive: still open; closed: the relay
 * ended it (EOF, reset); failed: the connect or handshake failed.  It ends
 * after --hold seconds (default 60), when every connection is gone, or on
 * SIGTERM.
 *
 * Usage: ph-flood --to ADDR:PORT [--from ADDR] [--count N] [--tls]
 *   [--hold SECS]
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

enum fl_state { FL_CONNECTING, FL_TLS, FL_IDLE, FL_CLOSED, FL_FAILED };

struct fl_conn {
	int		 fd;
	enum fl_state	 state;
	SSL		*ssl;
};

static volatile sig_atomic_t stop;

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
usage(void)
{
	fprintf(stderr, "usage: ph-flood --to ADDR:PORT [--from ADDR] [--count N] "
	    "[--tls] [--hold SECS]\n");
	exit(2);
}

static int
fl_open(const struct sockaddr_in *to, const struct sockaddr_in *from)
{
	int fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (from != NULL && bind(fd, (const struct sockaddr *)from, sizeof *from) != 0) {
		fprintf(stderr, "ph-flood: bind: %s\n", strerror(errno));
		exit(1);
	}
	if (connect(fd, (const struct sockaddr *)to, sizeof *to) != 0 &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Drive the TLS handshake; 1 done, 0 more to do, -1 failed. */
static int
fl_tls(struct fl_conn *c, short *events)
{
	int r = SSL_connect(c->ssl);

	if (r == 1)
		return 1;
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		*events = POLLIN;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		*events = POLLOUT;
		return 0;
	default:
		ERR_clear_error();
		return -1;
	}
}

/* An idle connection is readable: 1 if the peer ended it. */
static int
fl_gone(struct fl_conn *c)
{
	char buf[4096];
	ssize_t n;
	int r;

	if (c->ssl == NULL) {
		n = recv(c->fd, buf, sizeof buf, 0);
		return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
	}
	r = SSL_read(c->ssl, buf, sizeof buf);
	if (r > 0)
		return 0;
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return 0;
	default:
		ERR_clear_error();
		return 1;
	}
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "from", required_argument, NULL, 'f' },
		{ "count", required_argument, NULL, 'n' },
		{ "tls", no_argument, NULL, 's' },
		{ "hold", required_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 }
	};
	struct sockaddr_in to, from;
	struct fl_conn *cs;
	struct pollfd *pfd;
	SSL_CTX *ctx = NULL;
	char *to_s = NULL, *from_s = NULL, *colon;
	int count = 100, tls = 0, hold = 60, ch, i;
	int connected = 0, alive = 0, closed = 0, failed = 0;
	int last[4] = { -1, -1, -1, -1 };
	int64_t end;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 't': to_s = optarg; break;
		case 'f': from_s = optarg; break;
		case 'n': count = atoi(optarg); break;
		case 's': tls = 1; break;
		case 'H': hold = atoi(optarg); break;
		default: usage();
		}
	}
	if (to_s == NULL || (colon = strrchr(to_s, ':')) == NULL || count < 1)
		usage();
	*colon = '\0';
	memset(&to, 0, sizeof to);
	to.sin_family = AF_INET;
	to.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, to_s, &to.sin_addr) != 1)
		usage();
	memset(&from, 0, sizeof from);
	from.sin_family = AF_INET;
	if (from_s != NULL && inet_pton(AF_INET, from_s, &from.sin_addr) != 1)
		usage();

	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	if (tls) {
		if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
			fprintf(stderr, "ph-flood: SSL_CTX_new failed\n");
			return 1;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
	cs = calloc((size_t)count, sizeof *cs);
	pfd = calloc((size_t)count, sizeof *pfd);
	if (cs == NULL || pfd == NULL)
		return 1;
	for (i = 0; i < count; i++) {
		cs[i].fd = fl_open(&to, from_s != NULL ? &from : NULL);
		cs[i].state = cs[i].fd < 0 ? FL_FAILED : FL_CONNECTING;
		if (cs[i].fd < 0)
			failed++;
	}

	end = now_ms() + (int64_t)hold * 1000;
	while (!stop && now_ms() < end) {
		int pending = 0;

		for (i = 0; i < count; i++) {
			struct fl_conn *c = &cs[i];

			pfd[i].fd = -1;
			pfd[i].revents = 0;
			switch (c->state) {
			case FL_CONNECTING:
				pfd[i].fd = c->fd;
				pfd[i].events = POLLOUT;
				pending++;
				break;
			case FL_TLS:
				pfd[i].fd = c->fd;
				if (pfd[i].events == 0)
					pfd[i].events = POLLOUT;
				pending++;
				break;
			case FL_IDLE:
				pfd[i].fd = c->fd;
				pfd[i].events = POLLIN | POLLRDHUP;
				break;
			default:
				break;
			}
		}
		if (pending == 0 && alive == 0)
			break;
		if (pending != last[0] || alive != last[1] || closed != last[2] ||
		    failed != last[3]) {
			printf("status pending=%d connected=%d alive=%d closed=%d "
			    "failed=%d\n", pending, connected, alive, closed, failed);
			fflush(stdout);
			last[0] = pending; last[1] = alive;
			last[2] = closed; last[3] = failed;
		}
		if (poll(pfd, (nfds_t)count, 200) < 0 && errno != EINTR)
			break;
		for (i = 0; i < count; i++) {
			struct fl_conn *c = &cs[i];
			socklen_t sl = sizeof(int);
			int err = 0, r;

			if (pfd[i].fd < 0 || pfd[i].revents == 0)
				continue;
			switch (c->state) {
			case FL_CONNECTING:
				getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl);
				if (err != 0) {
					c->state = FL_FAILED;
					failed++;
					close(c->fd);
					break;
				}
				if (!tls) {
					c->state = FL_IDLE;
					connected++;
					alive++;
					break;
				}
				c->ssl = SSL_new(ctx);
				SSL_set_fd(c->ssl, c->fd);
				SSL_set_tlsext_host_name(c->ssl, "localhost");
				c->state = FL_TLS;
				pfd[i].events = 0;
				/* FALLTHROUGH */
			case FL_TLS:
				r = fl_tls(c, &pfd[i].events);
				if (r < 0) {
					c->state = FL_FAILED;
					failed++;
					close(c->fd);
				} else if (r > 0) {
					c->state = FL_IDLE;
					connected++;
					alive++;
				}
				break;
			case FL_IDLE:
				if (fl_gone(c)) {
					c->state = FL_CLOSED;
					alive--;
					closed++;
					close(c->fd);
				}
				break;
			default:
				break;
			}
		}
	}
	printf("done connected=%d alive=%d closed=%d failed=%d\n", connected, alive,
	    closed, failed);
	fflush(stdout);
	for (i = 0; i < count; i++) {
		SSL_free(cs[i].ssl);
		if (cs[i].state == FL_CONNECTING || cs[i].state == FL_TLS ||
		    cs[i].state == FL_IDLE)
			close(cs[i].fd);
	}
	SSL_CTX_free(ctx);
	free(cs);
	free(pfd);
	return 0;
}
