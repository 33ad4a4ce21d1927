/*
 * fuzz_relay_text.c - libFuzzer target for the relay's text helpers: any
 * bytes, split anywhere, become JSON string text that parses and (for
 * valid UTF-8 input) decodes to the input (relay-utf8.c); any
 * X-Forwarded-For and proxy list is handled within bounds (relay-xff.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "relay-utf8.h"
#include "relay-xff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cut = size > 0 ? data[0] % (size + 1) : 0, o = 0, off, nc = 0, len;
	size_t used, wrote, room = RELAY_UTF8_ROOM + (size > 1 ? data[1] % 32 : 0);
	char *out = malloc(size * 6 + 64), *s, from[64];
	uint8_t *work = malloc(size + 4);
	struct relay_cidrs set;
	enum relay_utf8_stop st = RELAY_UTF8_DONE;
	json_t *j;
	char *cause = NULL;
	int part;

	/* The bytes in two frames, carried as the recorder carries them. */
	out[o++] = '"';
	for (part = 0; part < 2; part++) {
		const uint8_t *p = part == 0 ? data : data + cut;
		size_t n = part == 0 ? cut : size - cut;

		memcpy(work + nc, p, n);
		len = nc + n;
		off = 0;
		do {
			st = relay_utf8_json(work + off, len - off, part == 1, out + o,
			    room, &used, &wrote);
			o += wrote;
			off += used;
		} while (st == RELAY_UTF8_FULL);
		if (part == 1 && st != RELAY_UTF8_DONE)
			abort();
		nc = len - off;
		if (nc > 3)
			abort();
		memmove(work, work + off, nc);
	}
	out[o++] = '"';
	out[o] = '\0';
	if ((j = json_loadb(out, o, JSON_ALLOW_NUL | JSON_DECODE_ANY, NULL)) == NULL)
		abort();	/* not valid JSON text */
	if (strstr(out, "\\ufffd") == NULL &&
	    (json_string_length(j) != size || memcmp(json_string_value(j), data, size) != 0))
		abort();	/* valid UTF-8 changed */
	json_decref(j);

	/* The same bytes as a proxy list and as a header. */
	s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	if (relay_cidrs_parse(&set, s, &cause) != 0)
		free(cause);
	relay_cidrs_parse(&set, "0.0.0.0/0,::/0", &cause);
	relay_xff_client(&set, "10.0.0.1", s, from, sizeof from);
	if (memchr(from, '\0', sizeof from) == NULL)
		abort();
	free(s);
	free(out);
	free(work);
	return 0;
}
