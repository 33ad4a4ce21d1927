/*
 * wsframe.h - the masked WebSocket frames porthole writes itself, outside
 * libwebsockets: the header of a final, masked frame and the masking of its
 * payload (RFC 6455 §5.2-5.3).  Client connections (src/wsclient.c)
 * and the agent's bulk output (agent/agent-wsframe.c) both use it; each
 * draws its masking keys its own way.
 */
#ifndef PORTHOLE_WSFRAME_H
#define PORTHOLE_WSFRAME_H

#include <stddef.h>
#include <stdint.h>

/* Longest header: 2 bytes, an 8-byte length, a 4-byte key. */
#define PH_WSFRAME_HEAD_MAX	14

/* The length of the header of a masked frame with a plen-byte payload. */
size_t	ph_wsframe_head_len(uint64_t plen);

/*
 * Write the header of a final, masked frame (opcode, plen, key) at out,
 * which has room for ph_wsframe_head_len(plen) bytes; returns that length.
 */
size_t	ph_wsframe_head(uint8_t *out, int opcode, uint64_t plen, const uint8_t key[4]);

/* XOR p[0..n) with the key, repeating, from key byte 0; 8 bytes at a time. */
void	ph_wsframe_mask(uint8_t *p, size_t n, const uint8_t key[4]);

#endif
