/*
 * relay-utf8.c - program output (bytes) as the text of a JSON string, for
 * asciicast recordings: valid UTF-8 passes unchanged, each maximal invalid
 * subpart (Unicode's recommended practice: a bad lead byte, or a sequence
 * cut short by a byte that cannot continue it) becomes one U+FFFD, and
 * control characters, quote and backslash are escaped.  No overlongs,
 * surrogates or code points past U+10FFFF get through.
 *
 * Output arrives in frames that may split a sequence: unless told the input
 * is final, a sequence that is incomplete only because the input ends is
 * left unconsumed for the caller to carry into the next frame.  Pure
 * string work, no libwebsockets, unit-tested and fuzzed alone.
 */
#include <string.h>

#include "relay-utf8.h"

/* Length of the sequence led by b; 0: b cannot lead one. */
static size_t
relay_utf8_len(uint8_t b)
{
	if (b < 0x80)
		return 1;
	if (b >= 0xc2 && b <= 0xdf)
		return 2;
	if (b >= 0xe0 && b <= 0xef)
		return 3;
	if (b >= 0xf0 && b <= 0xf4)
		return 4;
	return 0;
}

/* May c be byte k (1..3) of a sequence led by lead? */
static int
relay_utf8_cont(uint8_t lead, size_t k, uint8_t c)
{
	if (k == 1) {
		switch (lead) {
		case 0xe0: return c >= 0xa0 && c <= 0xbf;	/* no overlong */
		case 0xed: return c >= 0x80 && c <= 0x9f;	/* no surrogate */
		case 0xf0: return c >= 0x90 && c <= 0xbf;	/* no overlong */
		case 0xf4: return c >= 0x80 && c <= 0x8f;	/* <= U+10FFFF */
		}
	}
	return c >= 0x80 && c <= 0xbf;
}

/* One ASCII byte, escaped as JSON wants; returns the bytes written (<= 6). */
static size_t
relay_utf8_ascii(uint8_t b, char *p)
{
	static const char hex[] = "0123456789abcdef";

	switch (b) {
	case '"':  memcpy(p, "\\\"", 2); return 2;
	case '\\': memcpy(p, "\\\\", 2); return 2;
	case '\n': memcpy(p, "\\n", 2); return 2;
	case '\r': memcpy(p, "\\r", 2); return 2;
	case '\t': memcpy(p, "\\t", 2); return 2;
	case '\b': memcpy(p, "\\b", 2); return 2;
	case '\f': memcpy(p, "\\f", 2); return 2;
	}
	if (b < 0x20 || b == 0x7f) {
		memcpy(p, "\\u00", 4);
		p[4] = hex[b >> 4];
		p[5] = hex[b & 0xf];
		return 6;
	}
	*p = (char)b;
	return 1;
}

/*
 * Convert in[0..n) into out (outsize bytes).  *used: input bytes consumed;
 * *wrote: output bytes written.  Stops with RELAY_UTF8_DONE (all of in
 * consumed), RELAY_UTF8_FULL (less than RELAY_UTF8_ROOM bytes of out left:
 * call again with more room) or RELAY_UTF8_PARTIAL (!final, and what is left
 * of in is the start of a sequence the next input may complete).
 */
enum relay_utf8_stop
relay_utf8_json(const uint8_t *in, size_t n, int final, char *out, size_t outsize,
    size_t *used, size_t *wrote)
{
	size_t i = 0, o = 0, need, k;
	enum relay_utf8_stop stop = RELAY_UTF8_DONE;

	while (i < n) {
		if (outsize - o < RELAY_UTF8_ROOM) {
			stop = RELAY_UTF8_FULL;
			break;
		}
		need = relay_utf8_len(in[i]);
		if (need == 1) {
			o += relay_utf8_ascii(in[i++], out + o);
			continue;
		}
		for (k = 1; k < need && i + k < n; k++) {
			if (!relay_utf8_cont(in[i], k, in[i + k]))
				break;
		}
		if (need > 0 && k < need && i + k == n && !final) {
			stop = RELAY_UTF8_PARTIAL;	/* may continue in the next input */
			break;
		}
		if (need == 0 || k < need) {
			memcpy(out + o, "\\ufffd", 6);
			o += 6;
			i += need == 0 ? 1 : k;
			continue;
		}
		memcpy(out + o, in + i, need);
		o += need;
		i += need;
	}
	*used = i;
	*wrote = o;
	return stop;
}
