/*
 * socks.c - SOCKS5 greeting and CONNECT request parsing (socks.h).  Every
 * length is checked before the byte it counts is read; a name with a NUL
 * or of length 0 and port 0 are refused, never passed on.
 */
#include <arpa/inet.h>
#include <string.h>

#include "porthole/socks.h"

#define SOCKS_VERSION		5
#define SOCKS_CMD_CONNECT	1
#define SOCKS_ATYP_V4		1
#define SOCKS_ATYP_NAME		3
#define SOCKS_ATYP_V6		4
#define SOCKS_REP_NO_COMMAND	7

static enum ph_socks_step
socks_greeting(const uint8_t *p, size_t n, struct ph_socks_req *r)
{
	size_t	nm;

	if (n < 2)
		return PH_SOCKS_MORE;
	if (p[0] != SOCKS_VERSION)
		return PH_SOCKS_DROP;
	nm = p[1];
	if (n < 2 + nm)
		return PH_SOCKS_MORE;
	if (memchr(p + 2, 0, nm) == NULL)
		return PH_SOCKS_NO_METHOD;
	r->used = 2 + nm;
	return PH_SOCKS_GREETED;
}

static enum ph_socks_step
socks_refuse(struct ph_socks_req *r, int rep)
{
	r->rep = rep;
	return PH_SOCKS_REFUSE;
}

enum ph_socks_step
ph_socks_parse(const uint8_t *p, size_t n, int greeted, struct ph_socks_req *r)
{
	size_t	alen, hl;

	memset(r, 0, sizeof *r);
	if (!greeted)
		return socks_greeting(p, n, r);
	/* VER CMD RSV ATYP, then the address (a name: its length first), PORT. */
	if (n < 5)
		return PH_SOCKS_MORE;
	if (p[0] != SOCKS_VERSION)
		return PH_SOCKS_DROP;
	switch (p[3]) {
	case SOCKS_ATYP_V4:
		alen = 4;
		break;
	case SOCKS_ATYP_V6:
		alen = 16;
		break;
	case SOCKS_ATYP_NAME:
		alen = 1u + p[4];
		break;
	default:
		return socks_refuse(r, PH_STREAM_BAD_ADDRESS);
	}
	if (n < 4 + alen + 2)
		return PH_SOCKS_MORE;
	if (p[1] != SOCKS_CMD_CONNECT)
		return socks_refuse(r, SOCKS_REP_NO_COMMAND);
	if (p[3] == SOCKS_ATYP_V4)
		inet_ntop(AF_INET, p + 4, r->host, sizeof r->host);
	else if (p[3] == SOCKS_ATYP_V6)
		inet_ntop(AF_INET6, p + 4, r->host, sizeof r->host);
	else {
		hl = p[4];
		if (hl == 0 || memchr(p + 5, 0, hl) != NULL)
			return socks_refuse(r, PH_STREAM_BAD_ADDRESS);
		memcpy(r->host, p + 5, hl);
		r->host[hl] = '\0';
	}
	r->port = (uint16_t)(p[4 + alen] << 8 | p[5 + alen]);
	if (r->port == 0)
		return socks_refuse(r, PH_STREAM_NOT_ALLOWED);
	r->used = 4 + alen + 2;
	return PH_SOCKS_CONNECT;
}

void
ph_socks_reply(uint8_t out[10], int rep)
{
	memset(out, 0, 10);
	out[0] = SOCKS_VERSION;
	out[1] = (uint8_t)rep;
	out[3] = SOCKS_ATYP_V4;
}
