/*
 * wsclient.c - RFC 6455 client framing: the upgrade request, the check of
 * the server's answer, a streaming frame parser and masked frames.  See
 * wsclient.h for why porthole does this itself.
 *
 * The parser trusts nothing: header bytes are collected one state at a
 * time, lengths are checked before use, control frames are bounded by the
 * RFC's 125 bytes, and data payloads are passed on in whatever blocks they
 * arrived in, so memory is the caller's (bounded) reassembly buffer only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "porthole/util.h"
#include "porthole/wsclient.h"
#include "porthole/wsframe.h"

#define WS_GUID		"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

char *
ph_ws_request(const char *host, int port, const char *path,
    const char *subproto, const char *token, char *key)
{
	unsigned char	 raw[16];
	char		 hostport[300];
	int		 v6 = strchr(host, ':') != NULL;

	if (RAND_bytes(raw, sizeof raw) != 1)
		return NULL;
	EVP_EncodeBlock((unsigned char *)key, raw, sizeof raw);
	key[PH_WS_KEY_LEN] = '\0';

	if (port == 443)
		snprintf(hostport, sizeof hostport, v6 ? "[%s]" : "%s", host);
	else
		snprintf(hostport, sizeof hostport, v6 ? "[%s]:%d" : "%s:%d",
		    host, port);
	return ph_asprintf("GET %s HTTP/1.1\r\n"
	    "Host: %s\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "Sec-WebSocket-Protocol: %s\r\n"
	    "Authorization: Bearer %s\r\n"
	    "\r\n", path, hostport, key, subproto, token);
}

size_t
ph_ws_head_end(const char *buf, size_t len)
{
	size_t	 i;

	for (i = 3; i < len; i++)
		if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' &&
		    buf[i - 3] == '\r')
			return i + 1;
	return 0;
}

/* Does the comma-separated list contain token (case-insensitive)? */
static int
ws_has_token(const char *list, const char *token)
{
	size_t	 n = strlen(token);
	const char *p = list;

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (strncasecmp(p, token, n) == 0 &&
		    (p[n] == '\0' || p[n] == ',' || p[n] == ' ' || p[n] == '\t'))
			return 1;
		while (*p != '\0' && *p != ',')
			p++;
	}
	return 0;
}

int
ph_ws_response(const char *head, const char *key, const char *subproto,
    int *status, long *content_length, const char **cause)
{
	unsigned char	 sha[SHA_DIGEST_LENGTH];
	char		 expect[64], line[1024], *colon, *v, *e;
	char		 buf[128];
	const char	*p = head, *nl;
	int		 got_upgrade = 0, got_conn = 0, got_accept = 0, got_proto = 0;
	size_t		 n;

	*status = 0;
	*content_length = -1;
	if (strncmp(head, "HTTP/1.", 7) != 0 || strlen(head) < 12 ||
	    head[8] != ' ') {
		*cause = "the answer is not HTTP";
		return -1;
	}
	*status = (int)strtol(head + 9, NULL, 10);

	snprintf(buf, sizeof buf, "%s%s", key, WS_GUID);
	SHA1((const unsigned char *)buf, strlen(buf), sha);
	EVP_EncodeBlock((unsigned char *)expect, sha, sizeof sha);

	/* Header lines after the status line. */
	for (p = strstr(head, "\r\n"); p != NULL && p[2] != '\r'; p = nl) {
		p += 2;
		if ((nl = strstr(p, "\r\n")) == NULL)
			break;
		n = (size_t)(nl - p);
		if (n >= sizeof line)
			continue;	/* longer than any header we care about */
		memcpy(line, p, n);
		line[n] = '\0';
		if ((colon = strchr(line, ':')) == NULL)
			continue;
		*colon = '\0';
		for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
			;
		for (e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t'); e--)
			e[-1] = '\0';
		if (strcasecmp(line, "Upgrade") == 0)
			got_upgrade = strcasecmp(v, "websocket") == 0;
		else if (strcasecmp(line, "Connection") == 0)
			got_conn = ws_has_token(v, "upgrade");
		else if (strcasecmp(line, "Sec-WebSocket-Accept") == 0)
			got_accept = strcmp(v, expect) == 0;
		else if (strcasecmp(line, "Sec-WebSocket-Protocol") == 0)
			got_proto = strcmp(v, subproto) == 0;
		else if (strcasecmp(line, "Content-Length") == 0)
			*content_length = strtol(v, NULL, 10);
	}

	if (*status != 101) {
		*cause = "the upgrade was refused";
		return -1;
	}
	if (!got_upgrade || !got_conn) {
		*cause = "101 without a WebSocket upgrade";
		return -1;
	}
	if (!got_accept) {
		*cause = "wrong Sec-WebSocket-Accept";
		return -1;
	}
	if (!got_proto) {
		*cause = "the server did not take our subprotocol";
		return -1;
	}
	return 0;
}

void
ph_ws_rx_init(struct ph_ws_rx *rx)
{
	memset(rx, 0, sizeof *rx);
	rx->hneed = 2;
}

/* A frame header is complete in rx->hdr: check it and start the payload. */
static int
ws_rx_header(struct ph_ws_rx *rx, const char **cause)
{
	uint64_t	 len = rx->hdr[1] & 0x7f;
	size_t		 i;

	rx->fin = (rx->hdr[0] & 0x80) != 0;
	rx->opcode = rx->hdr[0] & 0x0f;
	if (rx->hdr[0] & 0x70) {
		*cause = "reserved bits set";
		return -1;
	}
	if (len == 126)
		len = ((uint64_t)rx->hdr[2] << 8) | rx->hdr[3];
	else if (len == 127) {
		if (rx->hdr[2] & 0x80) {
			*cause = "frame length with bit 63 set";
			return -1;
		}
		for (len = 0, i = 2; i < 10; i++)
			len = (len << 8) | rx->hdr[i];
	}
	rx->remain = len;

	switch (rx->opcode) {
	case PH_WS_CLOSE:
	case PH_WS_PING:
	case PH_WS_PONG:
		if (!rx->fin || len > PH_WS_CTL_MAX) {
			*cause = "fragmented or oversized control frame";
			return -1;
		}
		rx->ctl_len = 0;
		return 0;
	case PH_WS_TEXT:
	case PH_WS_BINARY:
		if (rx->in_message) {
			*cause = "new message inside a fragmented one";
			return -1;
		}
		rx->in_message = rx->opcode;
		rx->first = 1;
		return 0;
	case PH_WS_CONT:
		if (!rx->in_message) {
			*cause = "continuation frame outside a message";
			return -1;
		}
		return 0;
	default:
		*cause = "unknown opcode";
		return -1;
	}
}

int
ph_ws_rx_feed(struct ph_ws_rx *rx, const uint8_t *p, size_t n,
    const struct ph_ws_rx_ops *ops, void *arg, const char **cause)
{
	size_t	 take;
	int	 r, last, ctl;

	while (n > 0 || (rx->hneed == 0 && rx->remain == 0)) {
		if (rx->hneed != 0) {
			/* Collecting a header. */
			take = rx->hneed - rx->hlen;
			if (take > n)
				take = n;
			memcpy(rx->hdr + rx->hlen, p, take);
			rx->hlen += take;
			p += take;
			n -= take;
			if (rx->hlen < rx->hneed)
				return 0;
			if (rx->hlen == 2) {
				if (rx->hdr[1] & 0x80) {
					*cause = "masked frame from the server";
					return -1;
				}
				if ((rx->hdr[1] & 0x7f) == 126)
					rx->hneed = 4;
				else if ((rx->hdr[1] & 0x7f) == 127)
					rx->hneed = 10;
				if (rx->hlen < rx->hneed)
					continue;
			}
			if (ws_rx_header(rx, cause) != 0)
				return -1;
			rx->hlen = 0;
			rx->hneed = 0;	/* now in the payload */
		}

		ctl = (rx->opcode & 0x8) != 0;
		take = rx->remain < n ? (size_t)rx->remain : n;
		if (ctl) {
			memcpy(rx->ctl + rx->ctl_len, p, take);
			rx->ctl_len += take;
		} else {
			last = rx->fin && take == rx->remain;
			if (take > 0 || last) {
				r = ops->data(arg, rx->in_message, p, take,
				    rx->first, last);
				if (r != 0)
					return r;
				rx->first = 0;
			}
			if (last)
				rx->in_message = 0;
		}
		p += take;
		n -= take;
		rx->remain -= take;
		if (rx->remain != 0)
			return 0;	/* the frame goes on in later bytes */

		/* Frame complete: back to headers. */
		rx->hneed = 2;
		if (ctl && (r = ops->control(arg, rx->opcode, rx->ctl,
		    rx->ctl_len)) != 0)
			return r;
	}
	return 0;
}

size_t
ph_ws_frame(uint8_t *out, int opcode, int prefix, const void *p, size_t n)
{
	size_t	 plen = n + (prefix >= 0 ? 1 : 0), o;
	uint8_t	 key[4], *payload;

	if (RAND_bytes(key, 4) != 1) {
		/* Any key is valid framing; this one is merely guessable. */
		uint32_t r = (uint32_t)random();

		memcpy(key, &r, 4);
	}
	o = ph_wsframe_head(out, opcode, plen, key);
	payload = out + o;
	if (prefix >= 0)
		*payload = (uint8_t)prefix;
	if (n > 0)
		memcpy(payload + (prefix >= 0 ? 1 : 0), p, n);
	ph_wsframe_mask(payload, plen, key);
	return o + plen;
}
