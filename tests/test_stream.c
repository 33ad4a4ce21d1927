/*
 * test_stream.c - the STREAM frame (stream.h) and the forward claim
 * (fwdpolicy.h): what is built parses back, and malformed payloads,
 * patterns and destinations are refused.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "porthole/fwdpolicy.h"
#include "porthole/socks.h"
#include "porthole/stream.h"

Test(stream, open_round_trip)
{
	uint8_t			 b[300];
	struct ph_stream_msg	 m;
	const char		*cause;
	size_t			 n = ph_stream_open(b, sizeof b, 7, 65536, "db.internal", 5432);

	cr_assert_gt(n, 0);
	cr_assert_eq(ph_stream_parse(b, n, &m, &cause), 0);
	cr_assert_eq(m.kind, PH_STREAM_OPEN);
	cr_assert_eq(m.id, 7);
	cr_assert_eq(m.window, 65536);
	cr_assert_eq(m.port, 5432);
	cr_assert_str_eq(m.host, "db.internal");
	/* One byte more or less is refused. */
	cr_assert_eq(ph_stream_parse(b, n - 1, &m, &cause), -1);
	b[n] = 'x';
	cr_assert_eq(ph_stream_parse(b, n + 1, &m, &cause), -1);
}

Test(stream, bad_frames)
{
	uint8_t			 b[300];
	struct ph_stream_msg	 m;
	const char		*cause;
	size_t			 n;

	memset(b, 0, sizeof b);
	cr_assert_eq(ph_stream_parse(b, 4, &m, &cause), -1);		/* short */
	n = ph_stream_eof(b, sizeof b, 3);
	b[0] = 9;							/* unknown kind */
	cr_assert_eq(ph_stream_parse(b, n, &m, &cause), -1);
	n = ph_stream_eof(b, sizeof b, 3);
	memset(b + 1, 0, 4);						/* id 0 */
	cr_assert_eq(ph_stream_parse(b, n, &m, &cause), -1);
	cr_assert_eq(ph_stream_open(b, sizeof b, 1, 1024, "", 80), 0);	/* empty host */
	cr_assert_eq(ph_stream_open(b, sizeof b, 1, 1024, "h", 0), 0);	/* port 0 */
	cr_assert_eq(ph_stream_open(b, sizeof b, 1, 0, "h", 80), 0);	/* window 0 */
	n = ph_stream_open(b, sizeof b, 1, 1024, "ab", 80);
	b[n - 1] = '\0';						/* NUL in the host */
	cr_assert_eq(ph_stream_parse(b, n, &m, &cause), -1);
	n = ph_stream_credit(b, sizeof b, 1, 10);
	memset(b + 5, 0, 4);						/* credit 0 */
	cr_assert_eq(ph_stream_parse(b, n, &m, &cause), -1);
	ph_stream_data_hdr(b, 1);
	cr_assert_eq(ph_stream_parse(b, PH_STREAM_HDR, &m, &cause), -1);	/* empty data */
	n = ph_stream_eof(b, sizeof b, 2);
	b[n] = 1;
	cr_assert_eq(ph_stream_parse(b, n + 1, &m, &cause), -1);	/* eof with a payload */
}

Test(stream, reply_close_credit_data)
{
	uint8_t			 b[PH_STREAM_HDR + PH_STREAM_DATA_MAX + 1];
	struct ph_stream_msg	 m;
	const char		*cause;
	size_t			 n;

	n = ph_stream_reply(b, sizeof b, 5, PH_STREAM_REFUSED, 0, "10.0.0.1:5432: refused");
	cr_assert_eq(ph_stream_parse(b, n, &m, &cause), 0);
	cr_assert_eq(m.status, PH_STREAM_REFUSED);
	cr_assert_eq(m.len, strlen("10.0.0.1:5432: refused"));
	cr_assert_eq(ph_stream_reply(b, sizeof b, 5, PH_STREAM_OK, 0, NULL), 0);
	n = ph_stream_close(b, sizeof b, 5, 0, NULL);
	cr_assert_eq(ph_stream_parse(b, n, &m, &cause), 0);
	cr_assert_eq(m.kind, PH_STREAM_CLOSE);
	n = ph_stream_credit(b, sizeof b, 5, 4096);
	cr_assert_eq(ph_stream_parse(b, n, &m, &cause), 0);
	cr_assert_eq(m.credit, 4096);
	ph_stream_data_hdr(b, 5);
	cr_assert_eq(ph_stream_parse(b, PH_STREAM_HDR + PH_STREAM_DATA_MAX, &m, &cause), 0);
	cr_assert_eq(ph_stream_parse(b, PH_STREAM_HDR + PH_STREAM_DATA_MAX + 1, &m, &cause), -1);
	cr_assert_str_eq(ph_stream_status_text(PH_STREAM_REFUSED), "connection refused");
}

static struct sockaddr_storage ss;

static const struct sockaddr *
addr(const char *a)
{
	struct sockaddr_in	*s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET, a, &s4->sin_addr) == 1)
		s4->sin_family = AF_INET;
	else {
		cr_assert_eq(inet_pton(AF_INET6, a, &s6->sin6_addr), 1);
		s6->sin6_family = AF_INET6;
	}
	return (const struct sockaddr *)&ss;
}

static struct ph_fwd_policy *
policy(const char *json)
{
	json_t			*j = json != NULL ? json_loads(json, 0, NULL) : NULL;
	struct ph_fwd_policy	*p;
	char			*cause = NULL;

	p = ph_fwd_policy_new(j, &cause);
	json_decref(j);
	cr_assert_not_null(p, "%s", cause);
	return p;
}

static int
allowed(struct ph_fwd_policy *p, const char *host, int port, const char *a)
{
	char	*why = NULL;
	int	 r = ph_fwd_policy_check(p, host, (uint16_t)port, addr(a), &why);

	free(why);
	return r == 0;
}

Test(fwdpolicy, no_claim_refuses_only_credential_endpoints)
{
	struct ph_fwd_policy *p = policy(NULL);

	cr_assert(allowed(p, "db", 5432, "10.1.2.3"));
	cr_assert(allowed(p, "x", 80, "2001:db8::1"));
	cr_assert_not(allowed(p, "169.254.169.254", 80, "169.254.169.254"));
	cr_assert_not(allowed(p, "creds", 80, "169.254.170.2"));	/* a name that resolves there */
	cr_assert_not(allowed(p, "x", 80, "::ffff:169.254.170.2"));	/* IPv4-mapped */
	cr_assert_not(allowed(p, "x", 80, "fd00:ec2::254"));
	ph_fwd_policy_free(p);
}

Test(fwdpolicy, patterns)
{
	struct ph_fwd_policy *p = policy("[\"db.internal:5432\", \"*.svc.local:8000-8100\", "
	    "\"10.0.0.0/8:*\", \"[fd00::/8]:443\"]");

	cr_assert(allowed(p, "DB.Internal", 5432, "192.168.1.1"));	/* glob, case */
	cr_assert_not(allowed(p, "db.internal", 5433, "192.168.1.1"));	/* port */
	cr_assert(allowed(p, "a.svc.local", 8050, "192.168.1.1"));
	cr_assert_not(allowed(p, "a.svc.local", 8101, "192.168.1.1"));
	cr_assert(allowed(p, "anything", 1, "10.200.0.1"));		/* CIDR after resolution */
	cr_assert_not(allowed(p, "anything", 1, "11.0.0.1"));
	cr_assert(allowed(p, "v6", 443, "fd12::1"));
	cr_assert_not(allowed(p, "v6", 443, "fe80::1"));
	ph_fwd_policy_free(p);
}

Test(fwdpolicy, credential_endpoints_only_when_named)
{
	struct ph_fwd_policy *wide = policy("[\"*:*\", \"0.0.0.0/0:*\"]");
	struct ph_fwd_policy *named = policy("[\"169.254.170.2:80\"]");

	cr_assert(allowed(wide, "x", 80, "8.8.8.8"));
	cr_assert_not(allowed(wide, "x", 80, "169.254.170.2"));		/* glob and /0 do not name it */
	cr_assert(allowed(named, "169.254.170.2", 80, "169.254.170.2"));
	cr_assert_not(allowed(named, "169.254.170.2", 81, "169.254.170.2"));
	cr_assert_not(allowed(named, "x", 80, "169.254.169.254"));
	ph_fwd_policy_free(wide);
	ph_fwd_policy_free(named);
}

Test(fwdpolicy, bad_claims)
{
	static const char *bad[] = {
		"[]", "{}", "[1]", "[\"nohost\"]", "[\"h:0\"]", "[\"h:70000\"]", "[\"h:9-3\"]",
		"[\"10.0.0.0/33:1\"]", "[\"[fd00::/129]:1\"]", "[\"bad host:1\"]",
		"[\"[::1:1\"]", "[\":80\"]", NULL
	};
	json_t	*j;
	char	*cause;
	int	 i;

	for (i = 0; bad[i] != NULL; i++) {
		j = json_loads(bad[i], 0, NULL);
		cause = NULL;
		cr_assert_eq(ph_fwd_claim_check(j, &cause), -1, "%s accepted", bad[i]);
		free(cause);
		json_decref(j);
	}
}

Test(socks, greeting_then_connect)
{
	static const uint8_t greet[] = { 5, 2, 2, 0 };
	static const uint8_t req[] = { 5, 1, 0, 3, 4, 'd', 'b', '.', 'x', 0x1f, 0x90, 'G' };
	static const uint8_t v6[] = { 5, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 1, 0, 22 };
	struct ph_socks_req r;

	cr_assert_eq(ph_socks_parse(greet, 1, 0, &r), PH_SOCKS_MORE);
	cr_assert_eq(ph_socks_parse(greet, 3, 0, &r), PH_SOCKS_MORE);
	cr_assert_eq(ph_socks_parse(greet, 4, 0, &r), PH_SOCKS_GREETED);
	cr_assert_eq(r.used, 4);
	cr_assert_eq(ph_socks_parse(req, 8, 1, &r), PH_SOCKS_MORE);
	cr_assert_eq(ph_socks_parse(req, sizeof req, 1, &r), PH_SOCKS_CONNECT);
	cr_assert_str_eq(r.host, "db.x");
	cr_assert_eq(r.port, 8080);
	cr_assert_eq(r.used, sizeof req - 1);	/* 'G' is early data */
	cr_assert_eq(ph_socks_parse(v6, sizeof v6, 1, &r), PH_SOCKS_CONNECT);
	cr_assert_str_eq(r.host, "::1");
	cr_assert_eq(r.port, 22);
}

Test(socks, refusals)
{
	static const uint8_t not5[] = { 4, 1, 0 }, nomethod[] = { 5, 1, 2 };
	static const uint8_t bind[] = { 5, 2, 0, 1, 127, 0, 0, 1, 0, 80 };
	static const uint8_t atyp[] = { 5, 1, 0, 9, 0, 0, 0 };
	static const uint8_t nul[] = { 5, 1, 0, 3, 2, 'a', 0, 0, 80 };
	static const uint8_t empty[] = { 5, 1, 0, 3, 0, 0, 80 };
	static const uint8_t port0[] = { 5, 1, 0, 1, 127, 0, 0, 1, 0, 0 };
	struct ph_socks_req r;
	uint8_t out[10];

	cr_assert_eq(ph_socks_parse(not5, sizeof not5, 0, &r), PH_SOCKS_DROP);
	cr_assert_eq(ph_socks_parse(nomethod, sizeof nomethod, 0, &r), PH_SOCKS_NO_METHOD);
	cr_assert_eq(ph_socks_parse(not5, sizeof not5, 1, &r), PH_SOCKS_MORE);
	cr_assert_eq(ph_socks_parse(bind, sizeof bind, 1, &r), PH_SOCKS_REFUSE);
	cr_assert_eq(r.rep, 7);
	cr_assert_eq(ph_socks_parse(atyp, sizeof atyp, 1, &r), PH_SOCKS_REFUSE);
	cr_assert_eq(r.rep, PH_STREAM_BAD_ADDRESS);
	cr_assert_eq(ph_socks_parse(nul, sizeof nul, 1, &r), PH_SOCKS_REFUSE);
	cr_assert_eq(ph_socks_parse(empty, sizeof empty, 1, &r), PH_SOCKS_REFUSE);
	cr_assert_eq(ph_socks_parse(port0, sizeof port0, 1, &r), PH_SOCKS_REFUSE);
	cr_assert_eq(r.rep, PH_STREAM_NOT_ALLOWED);
	ph_socks_reply(out, PH_STREAM_REFUSED);
	cr_assert_eq(out[0], 5);
	cr_assert_eq(out[1], PH_STREAM_REFUSED);
	cr_assert_eq(out[3], 1);
}
