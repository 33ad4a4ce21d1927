/*
 * op-probe.c - the `probe` operation: can this task reach HOST:PORT or a
 * URL?  Answered from inside the task's network with the task's own
 * resolver configuration, and nothing installed in the image.
 *
 * probe_start checks the open's `dest` (probedest.c, as the CLI did),
 * `tls` and `timeout_ms` and runs the helper child `porthole-agent
 * --op-probe DEST TLS TIMEOUT_MS` under the exec machinery (op-helper.c);
 * every step below blocks, so it never runs on the agent's loop.  Each
 * step is bounded by TIMEOUT_MS (default 5 s, 100 ms to 60 s):
 *   dns      getaddrinfo on a thread the helper stops waiting for at the
 *            deadline.  The static agent's glibc (2.34 and later) has its
 *            `files` and `dns` lookups inside libc, so /etc/hosts and the
 *            nameservers of the image's /etc/resolv.conf work in an empty
 *            image with no NSS module; other NSS sources (nsswitch.conf's
 *            ldap, mdns...) are not loaded.  The nameservers and search
 *            domains read from /etc/resolv.conf are reported beside the
 *            answers.
 *   connect  a non-blocking connect to each address in turn (at most
 *            PROBE_ADDRS), told apart: connected, refused (a RST: nothing
 *            listens), timeout (no answer: dropped by a firewall or a
 *            security group), unreachable (no route).
 *   tls      (https:// or tls) the handshake with SNI, its time, version
 *            and cipher, and the server certificate: subject, names (DNS
 *            and IP SANs), issuer, validity, and whether it verifies
 *            against the image's CA bundle for that host (reported, not
 *            required: the point is to see the certificate).
 *   http     (URLs) "GET PATH HTTP/1.1", the status line and the time to
 *            its first byte.
 * The document (docs/protocol.md, "probe") is one line on stdout; the
 * helper exits 0 whatever the outcome, which is the document's `outcome`
 * ("ok", "dns", "refused", "timeout", "unreachable", "connect", "tls",
 * "http").  Certificate text and the status line are the server's bytes:
 * made UTF-8 here (ph_utf8_repair), escaped by the client.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "porthole/frame.h"
#include "porthole/ops.h"
#include "porthole/printable.h"
#include "porthole/probedest.h"
#include "porthole/util.h"

#include "agent.h"
#include "op.h"

#define PROBE_TIMEOUT_DEF	5000
#define PROBE_ADDRS		4	/* addresses tried in turn */
#define PROBE_ANSWERS		32	/* addresses listed */
#define PROBE_LINE_MAX		8192	/* the status line, at most */
#define PROBE_RESOLV_MAX	(64 * 1024)

static int
probe_start(struct agent_session *s, json_t *open)
{
	struct ph_probe_dest d;
	const char	*dest = json_string_value(ph_open_get(open, "dest"));
	json_t		*jt = ph_open_get(open, "timeout_ms");
	int		 tls = json_is_true(ph_open_get(open, "tls"));
	char		*cause = NULL, bt[24];

	if (dest == NULL || ph_probe_dest_parse(dest, tls, &d, &cause) != 0) {
		agent_session_fail(s, PH_CLOSE_POLICY, PH_ERR_BAD_MESSAGE, "probe: %s",
		    cause != NULL ? cause : "the member dest is missing");
		free(cause);
		return -1;
	}
	snprintf(bt, sizeof bt, "%lld", json_is_integer(jt) ?
	    (long long)json_integer_value(jt) : (long long)PROBE_TIMEOUT_DEF);
	return op_helper_start(s, open, json_pack("[s, s, s, s]", OP_PROBE_FLAG, dest,
	    tls ? "1" : "0", bt));
}

const struct op_entry op_probe_entry = OP_HELPER_ENTRY("probe", probe_start, op_exec_input);

/* The helper side, in the child: blocking is fine here. */

static double
probe_ms(const struct timespec *t0)
{
	struct timespec	t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1000 +
	    (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* A duration in ms with one decimal, as JSON. */
static json_t *
probe_jms(double ms)
{
	return json_real((double)(long long)(ms * 10 + 0.5) / 10);
}

/* The member k of o (k NULL: append to the array o), made UTF-8. */
static void
probe_set_str(json_t *o, const char *k, const char *v)
{
	char	*r = ph_utf8_repair(v != NULL ? v : "");
	json_t	*j = r != NULL ? json_string(r) : json_null();

	if (k == NULL)
		json_array_append_new(o, j);
	else
		json_object_set_new(o, k, j);
	free(r);
}

/* /etc/resolv.conf's nameservers and search domains; null when absent. */
static json_t *
probe_resolver(void)
{
	char	 line[1024], *w, *save;
	json_t	*ns, *search, *o;
	FILE	*f;
	size_t	 total = 0;

	if ((f = fopen("/etc/resolv.conf", "re")) == NULL)
		return json_null();
	ns = json_array();
	search = json_array();
	while (fgets(line, sizeof line, f) != NULL && (total += strlen(line)) < PROBE_RESOLV_MAX) {
		line[strcspn(line, "#;\n")] = '\0';
		if ((w = strtok_r(line, " \t", &save)) == NULL)
			continue;
		if (strcmp(w, "nameserver") == 0 && (w = strtok_r(NULL, " \t", &save)) != NULL) {
			char *r = ph_utf8_repair(w);

			json_array_append_new(ns, json_string(r != NULL ? r : "?"));
			free(r);
		} else if (strcmp(w, "search") == 0 || strcmp(w, "domain") == 0) {
			while ((w = strtok_r(NULL, " \t", &save)) != NULL &&
			    json_array_size(search) < 8) {
				char *r = ph_utf8_repair(w);

				json_array_append_new(search, json_string(r != NULL ? r : "?"));
				free(r);
			}
		}
	}
	fclose(f);
	o = json_pack("{s:o, s:o}", "nameservers", ns, "search", search);
	return o != NULL ? o : json_null();
}

/* getaddrinfo on a thread the helper may stop waiting for. */
struct probe_dns {
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	int		 done, rc;
	char		 host[PH_PROBE_HOST_MAX + 1];
	struct addrinfo	*res;
};

static void *
probe_dns_thread(void *arg)
{
	struct probe_dns *q = arg;
	struct addrinfo	 hints, *res = NULL;
	int		 rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(q->host, NULL, &hints, &res);
	pthread_mutex_lock(&q->lock);
	q->rc = rc;
	q->res = res;
	q->done = 1;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
	return NULL;	/* the helper exits soon after: q is never freed */
}

/*
 * Resolve d->host within timeout_ms: 0 with *res, else -1 with dns.error
 * set; fills the `dns` object either way.
 */
static int
probe_resolve(const struct ph_probe_dest *d, long timeout_ms, json_t *dns,
    struct addrinfo **res)
{
	static struct probe_dns q = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
	    0, 0, "", NULL };
	struct timespec	 t0, until;
	struct addrinfo	*ai;
	pthread_t	 th;
	json_t		*addrs = json_array();
	char		 ip[INET6_ADDRSTRLEN];
	int		 timedout = 0, r = 0;

	snprintf(q.host, sizeof q.host, "%s", d->host);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	if (pthread_create(&th, NULL, probe_dns_thread, &q) != 0) {
		json_object_set_new(dns, "error", json_string("cannot start the resolver thread"));
		json_object_set_new(dns, "addresses", addrs);
		return -1;
	}
	pthread_detach(th);
	pthread_mutex_lock(&q.lock);
	while (!q.done && r == 0)
		r = pthread_cond_timedwait(&q.cond, &q.lock, &until);
	timedout = !q.done;
	pthread_mutex_unlock(&q.lock);
	json_object_set_new(dns, "ms", probe_jms(probe_ms(&t0)));
	if (timedout) {
		json_object_set_new(dns, "error", json_sprintf("no answer within %ld ms "
		    "(the nameservers of /etc/resolv.conf did not reply)", timeout_ms));
		json_object_set_new(dns, "addresses", addrs);
		return -1;
	}
	if (q.rc != 0) {
		json_object_set_new(dns, "error", json_string(q.rc == EAI_NONAME ||
		    q.rc == EAI_NODATA ? "the name does not resolve (no such host)" :
		    q.rc == EAI_AGAIN ? "the resolver failed (temporary failure: no "
		    "nameserver answered, or SERVFAIL)" : q.rc == EAI_SYSTEM ?
		    strerror(errno) : gai_strerror(q.rc)));
		json_object_set_new(dns, "addresses", addrs);
		return -1;
	}
	for (ai = q.res; ai != NULL && json_array_size(addrs) < PROBE_ANSWERS; ai = ai->ai_next) {
		const void *a = ai->ai_family == AF_INET6 ?
		    (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr :
		    (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;

		if (inet_ntop(ai->ai_family, a, ip, sizeof ip) != NULL)
			json_array_append_new(addrs, json_string(ip));
	}
	json_object_set_new(dns, "addresses", addrs);
	json_object_set_new(dns, "error", json_null());
	*res = q.res;
	return 0;
}

/* Wait for events on fd until the deadline (ms left); 1 ready, 0 timeout, -1 error. */
static int
probe_wait(int fd, short events, const struct timespec *t0, long timeout_ms)
{
	struct pollfd	pfd = { fd, events, 0 };
	double		left;
	int		r;

	for (;;) {
		left = (double)timeout_ms - probe_ms(t0);
		if (left <= 0)
			return 0;
		r = poll(&pfd, 1, (int)left + 1);
		if (r < 0 && errno == EINTR)
			continue;
		return r < 0 ? -1 : r > 0;
	}
}

/*
 * Connect to one address; the socket, or -1 with the attempt's result
 * ("refused", "timeout", "unreachable", "error") in o.
 */
static int
probe_connect_one(const struct sockaddr *sa, socklen_t salen, long timeout_ms, json_t *o,
    const char **outcome)
{
	struct timespec	t0;
	socklen_t	elen = sizeof(int);
	int		fd, e = 0, r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		e = errno;
		goto failed;
	}
	if (connect(fd, sa, salen) != 0) {
		if (errno != EINPROGRESS) {
			e = errno;
			goto failed;
		}
		if ((r = probe_wait(fd, POLLOUT, &t0, timeout_ms)) == 0) {
			json_object_set_new(o, "ms", probe_jms(probe_ms(&t0)));
			json_object_set_new(o, "result", json_string("timeout"));
			json_object_set_new(o, "error", json_sprintf("no answer within %ld ms "
			    "(packets dropped: a firewall, security group or network ACL)",
			    timeout_ms));
			*outcome = "timeout";
			close(fd);
			return -1;
		}
		if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) != 0)
			e = errno;
		if (e != 0)
			goto failed;
	}
	json_object_set_new(o, "ms", probe_jms(probe_ms(&t0)));
	json_object_set_new(o, "result", json_string("connected"));
	json_object_set_new(o, "error", json_null());
	return fd;
failed:
	json_object_set_new(o, "ms", probe_jms(probe_ms(&t0)));
	if (e == ECONNREFUSED) {
		*outcome = "refused";
		json_object_set_new(o, "error", json_string("connection refused (nothing "
		    "listens on that port, or a firewall rejects it)"));
	} else if (e == ENETUNREACH || e == EHOSTUNREACH) {
		*outcome = "unreachable";
		json_object_set_new(o, "error", json_string(strerror(e)));
	} else if (e == ETIMEDOUT) {
		*outcome = "timeout";
		json_object_set_new(o, "error", json_string(strerror(e)));
	} else {
		*outcome = "connect";
		json_object_set_new(o, "error", json_string(strerror(e)));
	}
	json_object_set_new(o, "result", json_string(*outcome));
	if (fd >= 0)
		close(fd);
	return -1;
}

/* An X509 name in RFC 2253 form, malloc'd. */
static char *
probe_name(X509_NAME *n)
{
	BIO	*b = BIO_new(BIO_s_mem());
	char	*p, *out;
	long	 len;

	if (b == NULL)
		return NULL;
	X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253);
	len = BIO_get_mem_data(b, &p);
	out = len >= 0 ? ph_asprintf("%.*s", (int)len, p) : NULL;
	BIO_free(b);
	return out;
}

/* An ASN1_TIME as "YYYY-MM-DDTHH:MM:SSZ" into buf. */
static void
probe_time(const ASN1_TIME *t, char *buf, size_t len)
{
	struct tm	tm;

	memset(&tm, 0, sizeof tm);
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		snprintf(buf, len, "?");
	else
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The server certificate's facts into o. */
static void
probe_cert(SSL *ssl, json_t *o)
{
	X509			*x = SSL_get1_peer_certificate(ssl);
	GENERAL_NAMES		*gens;
	const GENERAL_NAME	*g;
	json_t			*names;
	char			*s, buf[64], ip[INET6_ADDRSTRLEN];
	long			 vr;
	int			 i, days = 0, secs = 0;

	if (x == NULL) {
		json_object_set_new(o, "certificate", json_null());
		return;
	}
	s = probe_name(X509_get_subject_name(x));
	probe_set_str(o, "subject", s);
	free(s);
	s = probe_name(X509_get_issuer_name(x));
	probe_set_str(o, "issuer", s);
	free(s);
	names = json_array();
	if ((gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL)) != NULL) {
		for (i = 0; i < sk_GENERAL_NAME_num(gens) && i < 256; i++) {
			g = sk_GENERAL_NAME_value(gens, i);
			if (g->type == GEN_DNS) {
				const ASN1_STRING *a = g->d.dNSName;

				s = ph_asprintf("%.*s", ASN1_STRING_length(a),
				    (const char *)ASN1_STRING_get0_data(a));
				probe_set_str(names, NULL, s);
				free(s);
			} else if (g->type == GEN_IPADD &&
			    (g->d.iPAddress->length == 4 || g->d.iPAddress->length == 16) &&
			    inet_ntop(g->d.iPAddress->length == 4 ? AF_INET : AF_INET6,
			    g->d.iPAddress->data, ip, sizeof ip) != NULL)
				json_array_append_new(names, json_string(ip));
		}
		GENERAL_NAMES_free(gens);
	}
	json_object_set_new(o, "names", names);
	probe_time(X509_get0_notBefore(x), buf, sizeof buf);
	json_object_set_new(o, "not_before", json_string(buf));
	probe_time(X509_get0_notAfter(x), buf, sizeof buf);
	json_object_set_new(o, "not_after", json_string(buf));
	if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) == 1)
		json_object_set_new(o, "expires_in_days", json_integer(days));
	vr = SSL_get_verify_result(ssl);
	json_object_set_new(o, "verified", json_boolean(vr == X509_V_OK));
	json_object_set_new(o, "verify_error", vr == X509_V_OK ? json_null() :
	    json_string(X509_verify_cert_error_string(vr)));
	X509_free(x);
}

/* The TLS handshake on fd; the SSL, or NULL with tls.error set. */
static SSL *
probe_tls(int fd, const struct ph_probe_dest *d, long timeout_ms, json_t *tls,
    SSL_CTX **ctxp)
{
	struct timespec	 t0;
	SSL_CTX		*ctx;
	SSL		*ssl;
	char		*bundle, err[256];
	int		 r, e, w;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		goto openssl;
	*ctxp = ctx;
	if ((bundle = agent_tls_find_bundle()) != NULL) {
		SSL_CTX_load_verify_locations(ctx, bundle, NULL);
		free(bundle);
	} else
		SSL_CTX_set_default_verify_paths(ctx);
	ERR_clear_error();
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);	/* reported, not required */
	if ((ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1)
		goto openssl;
	if (!d->numeric)
		SSL_set_tlsext_host_name(ssl, d->host);
	if (d->numeric)
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), d->host);
	else
		SSL_set1_host(ssl, d->host);
	for (;;) {
		if ((r = SSL_connect(ssl)) == 1)
			break;
		e = SSL_get_error(ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			unsigned long le = ERR_peek_last_error();

			if (le != 0)
				ERR_error_string_n(le, err, sizeof err);
			else
				snprintf(err, sizeof err, "%s", e == SSL_ERROR_SYSCALL ?
				    "the server closed the connection during the handshake" :
				    "handshake failed");
			json_object_set_new(tls, "ms", probe_jms(probe_ms(&t0)));
			probe_set_str(tls, "error", err);
			SSL_free(ssl);
			return NULL;
		}
		w = probe_wait(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, &t0,
		    timeout_ms);
		if (w <= 0) {
			json_object_set_new(tls, "ms", probe_jms(probe_ms(&t0)));
			json_object_set_new(tls, "error", json_sprintf("no handshake within "
			    "%ld ms (is it a TLS port?)", timeout_ms));
			SSL_free(ssl);
			return NULL;
		}
	}
	json_object_set_new(tls, "ms", probe_jms(probe_ms(&t0)));
	json_object_set_new(tls, "error", json_null());
	json_object_set_new(tls, "version", json_string(SSL_get_version(ssl)));
	json_object_set_new(tls, "cipher", json_string(SSL_get_cipher_name(ssl)));
	probe_cert(ssl, tls);
	return ssl;
openssl:
	ERR_error_string_n(ERR_get_error(), err, sizeof err);
	probe_set_str(tls, "error", err);
	return NULL;
}

/* Write all of p (through ssl when not NULL) before the deadline. */
static int
probe_write(int fd, SSL *ssl, const char *p, size_t n, const struct timespec *t0,
    long timeout_ms)
{
	ssize_t	r;
	int	e;

	while (n > 0) {
		if (ssl != NULL) {
			if ((r = SSL_write(ssl, p, (int)n)) <= 0) {
				e = SSL_get_error(ssl, (int)r);
				if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) ||
				    probe_wait(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
				    t0, timeout_ms) <= 0)
					return -1;
				continue;
			}
		} else if ((r = write(fd, p, n)) < 0) {
			if ((errno != EAGAIN && errno != EINTR) ||
			    probe_wait(fd, POLLOUT, t0, timeout_ms) <= 0)
				return -1;
			continue;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Read some bytes before the deadline: >0, 0 at EOF, -1 error, -2 timeout. */
static ssize_t
probe_read(int fd, SSL *ssl, char *p, size_t n, const struct timespec *t0, long timeout_ms)
{
	ssize_t	r;
	int	e, w;

	for (;;) {
		if (ssl != NULL) {
			if ((r = SSL_read(ssl, p, (int)n)) > 0)
				return r;
			e = SSL_get_error(ssl, (int)r);
			if (e == SSL_ERROR_ZERO_RETURN)
				return 0;
			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
				return e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 ? 0 : -1;
			w = probe_wait(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, t0,
			    timeout_ms);
		} else {
			if ((r = read(fd, p, n)) >= 0)
				return r;
			if (errno != EAGAIN && errno != EINTR)
				return -1;
			w = probe_wait(fd, POLLIN, t0, timeout_ms);
		}
		if (w == 0)
			return -2;
		if (w < 0)
			return -1;
	}
}

/* GET the URL's path, the status line and time to first byte into http. */
static int
probe_http(int fd, SSL *ssl, const struct ph_probe_dest *d, long timeout_ms, json_t *http)
{
	struct timespec	 t0;
	char		*req, line[PROBE_LINE_MAX + 1], *sp, port[8] = "";
	size_t		 len = 0;
	ssize_t		 r;
	long		 code;
	int		 v6 = strchr(d->host, ':') != NULL, first = 1;

	if (d->port != (d->tls ? 443u : 80u))
		snprintf(port, sizeof port, ":%u", d->port);
	req = ph_asprintf("GET %s HTTP/1.1\r\nHost: %s%s%s%s\r\nUser-Agent: "
	    "porthole-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n", d->path,
	    v6 ? "[" : "", d->host, v6 ? "]" : "", port);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (req == NULL || probe_write(fd, ssl, req, strlen(req), &t0, timeout_ms) != 0) {
		free(req);
		json_object_set_new(http, "error", json_string("cannot send the request"));
		return -1;
	}
	free(req);
	while (len < PROBE_LINE_MAX && memchr(line, '\n', len) == NULL) {
		r = probe_read(fd, ssl, line + len, PROBE_LINE_MAX - len, &t0, timeout_ms);
		if (r > 0 && first) {
			json_object_set_new(http, "ttfb_ms", probe_jms(probe_ms(&t0)));
			first = 0;
		}
		if (r == -2) {
			json_object_set_new(http, "error", json_sprintf("no response within "
			    "%ld ms", timeout_ms));
			return -1;
		}
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	line[len] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if (len == 0 || strncmp(line, "HTTP/", 5) != 0 || (sp = strchr(line, ' ')) == NULL ||
	    (code = strtol(sp + 1, NULL, 10)) < 100 || code > 999) {
		probe_set_str(http, "status_line", line);
		json_object_set_new(http, "status", json_null());
		json_object_set_new(http, "error", json_string(len == 0 ? "the server closed "
		    "the connection without a response" : "the response is not HTTP"));
		return -1;
	}
	probe_set_str(http, "status_line", line);
	json_object_set_new(http, "status", json_integer(code));
	json_object_set_new(http, "error", json_null());
	return 0;
}

int
op_probe_main(int argc, char **argv)
{
	struct ph_probe_dest d;
	struct addrinfo	*res = NULL, *ai, hints;
	struct sockaddr_storage ss;
	socklen_t	 sslen;
	SSL_CTX		*ctx = NULL;
	SSL		*ssl = NULL;
	json_t		*doc, *dns, *attempts, *o, *tls, *http;
	const char	*outcome = "ok";
	char		*cause = NULL, *end, *out, ip[INET6_ADDRSTRLEN];
	long		 timeout_ms;
	int		 fd = -1, tries = 0;

	if (argc != 4 || (strcmp(argv[2], "0") != 0 && strcmp(argv[2], "1") != 0) ||
	    (timeout_ms = strtol(argv[3], &end, 10)) < 100 || *end != '\0' ||
	    timeout_ms > 60000) {
		fprintf(stderr, "usage: porthole-agent %s DEST 0|1 TIMEOUT_MS\n", OP_PROBE_FLAG);
		return 255;
	}
	if (ph_probe_dest_parse(argv[1], argv[2][0] == '1', &d, &cause) != 0) {
		fprintf(stderr, "%s\n", cause);
		return 255;
	}
	doc = json_object();
	probe_set_str(doc, "dest", argv[1]);
	json_object_set_new(doc, "host", json_string(d.host));
	json_object_set_new(doc, "port", json_integer(d.port));
	json_object_set_new(doc, "timeout_ms", json_integer(timeout_ms));
	json_object_set_new(doc, "resolver", probe_resolver());
	if (d.numeric) {
		memset(&hints, 0, sizeof hints);
		hints.ai_flags = AI_NUMERICHOST;
		hints.ai_socktype = SOCK_STREAM;
		if (getaddrinfo(d.host, NULL, &hints, &res) != 0)
			res = NULL;
		json_object_set_new(doc, "dns", json_null());
	} else {
		dns = json_object();
		json_object_set_new(doc, "dns", dns);
		if (probe_resolve(&d, timeout_ms, dns, &res) != 0)
			outcome = "dns";
	}
	attempts = json_array();
	json_object_set_new(doc, "connect", attempts);
	for (ai = res; ai != NULL && fd < 0 && tries < PROBE_ADDRS; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		sslen = ai->ai_addrlen <= sizeof ss ? ai->ai_addrlen : sizeof ss;
		memcpy(&ss, ai->ai_addr, sslen);
		if (ss.ss_family == AF_INET)
			((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)d.port);
		else
			((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)d.port);
		inet_ntop(ss.ss_family, ss.ss_family == AF_INET ?
		    (void *)&((struct sockaddr_in *)&ss)->sin_addr :
		    (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr, ip, sizeof ip);
		o = json_pack("{s:s}", "address", ip);
		json_array_append_new(attempts, o);
		outcome = "ok";
		fd = probe_connect_one((struct sockaddr *)&ss, sslen, timeout_ms, o, &outcome);
		tries++;
	}
	if (fd < 0 && strcmp(outcome, "ok") == 0)
		outcome = "connect";	/* no address to try */
	if (fd >= 0 && d.tls) {
		tls = json_object();
		json_object_set_new(doc, "tls", tls);
		if ((ssl = probe_tls(fd, &d, timeout_ms, tls, &ctx)) == NULL)
			outcome = "tls";
	} else
		json_object_set_new(doc, "tls", json_null());
	if (fd >= 0 && d.http && (ssl != NULL || !d.tls)) {
		http = json_object();
		probe_set_str(http, "path", d.path);
		json_object_set_new(doc, "http", http);
		if (probe_http(fd, ssl, &d, timeout_ms, http) != 0)
			outcome = "http";
	} else
		json_object_set_new(doc, "http", json_null());
	json_object_set_new(doc, "outcome", json_string(outcome));
	json_object_set_new(doc, "ok", json_boolean(strcmp(outcome, "ok") == 0));
	if ((out = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(10))) == NULL) {
		fprintf(stderr, "out of memory\n");
		return 255;
	}
	if (fputs(out, stdout) == EOF || fputc('\n', stdout) == EOF || fflush(stdout) != 0)
		return 255;
	free(out);
	json_decref(doc);
	if (ssl != NULL)
		SSL_free(ssl);
	SSL_CTX_free(ctx);
	if (fd >= 0)
		close(fd);
	if (res != NULL)
		freeaddrinfo(res);
	return 0;
}
