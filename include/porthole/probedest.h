/*
 * probedest.h - what `porthole probe` aims at: HOST:PORT ("db:5432",
 * "[fd00::1]:443", "10.0.0.5:6379") or an http:// or https:// URL, split
 * into host, port and request path.
 *
 * The CLI parses the destination to refuse bad input before it connects;
 * the agent parses it again (the open's `dest` member) before its helper
 * dials anything, so both sides agree on what is probed.  A host is a DNS
 * name (letters, digits, '-', '_', '.'), a dotted IPv4 address or a
 * bracketed IPv6 one; a path is printable ASCII without spaces, so
 * nothing in it can split the request line.  Credentials in a URL
 * (user@host) are refused rather than sent.
 */
#ifndef PORTHOLE_PROBEDEST_H
#define PORTHOLE_PROBEDEST_H

#define PH_PROBE_HOST_MAX	253
#define PH_PROBE_PATH_MAX	2048

struct ph_probe_dest {
	char		host[PH_PROBE_HOST_MAX + 1];	/* without brackets */
	unsigned	port;
	int		tls;		/* https://, or HOST:PORT with tls asked */
	int		http;		/* a URL: send a GET */
	int		numeric;	/* host is an address: no DNS */
	char		path[PH_PROBE_PATH_MAX + 1];	/* URL: "/..." ; else "" */
};

/*
 * Parse dest; tls asks for TLS on a HOST:PORT (an http:// URL with tls
 * is refused: say https://).  0, or -1 with *cause (malloc'd).
 */
int	ph_probe_dest_parse(const char *dest, int tls, struct ph_probe_dest *d,
	    char **cause);

#endif
