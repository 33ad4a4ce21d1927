/*
 * socks.h - the server side of SOCKS5 (RFC 1928) as `porthole forward
 * --socks` speaks it: no authentication, CONNECT only, IPv4, IPv6 and
 * names.  A pure parser over the bytes a local client sent so far; the
 * caller writes the answers and keeps the connection's state (has the
 * greeting been answered?).
 */
#ifndef PORTHOLE_SOCKS_H
#define PORTHOLE_SOCKS_H

#include <stddef.h>
#include <stdint.h>

#include "porthole/stream.h"

/* Greeting plus request, bytes: a longer one is not SOCKS5. */
#define PH_SOCKS_MAX	600

enum ph_socks_step {
	PH_SOCKS_MORE,		/* wait for more bytes */
	PH_SOCKS_DROP,		/* not SOCKS5: close without an answer */
	PH_SOCKS_NO_METHOD,	/* no "no authentication" offered: answer 5 0xff, close */
	PH_SOCKS_GREETED,	/* answer 5 0 ("no authentication"); used bytes consumed */
	PH_SOCKS_REFUSE,	/* answer a reply with code rep, close */
	PH_SOCKS_CONNECT,	/* a CONNECT to host:port; used bytes consumed */
};

struct ph_socks_req {
	size_t		 used;		/* GREETED, CONNECT: bytes of p consumed */
	int		 rep;		/* REFUSE: the reply code */
	char		 host[PH_STREAM_HOST_MAX + 1];	/* CONNECT: NUL-terminated */
	uint16_t	 port;		/* CONNECT: never 0 */
};

/*
 * One step over the n bytes at p: the greeting when !greeted, else the
 * request.  What follows a CONNECT request in p (early data) is the
 * caller's, from p + used.
 */
enum ph_socks_step ph_socks_parse(const uint8_t *p, size_t n, int greeted,
	    struct ph_socks_req *r);

/* A reply with code rep and a zero IPv4 bound address into out[10]. */
void	ph_socks_reply(uint8_t out[10], int rep);

#endif
