/*
 * relay-utf8.h - bytes to the text of a JSON string, for recordings
 * (relay-utf8.c; pure).
 */
#ifndef PORTHOLE_RELAY_UTF8_H
#define PORTHOLE_RELAY_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define RELAY_UTF8_ROOM		8	/* output room one step may need */
enum relay_utf8_stop { RELAY_UTF8_DONE, RELAY_UTF8_FULL, RELAY_UTF8_PARTIAL };
enum relay_utf8_stop relay_utf8_json(const uint8_t *in, size_t n, int final,
	    char *out, size_t outsize, size_t *used, size_t *wrote);

#endif
