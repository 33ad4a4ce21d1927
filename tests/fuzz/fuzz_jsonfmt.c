/*
 * fuzz_jsonfmt.c - libFuzzer target for JSON checked and indented without
 * a tree (src/jsonfmt.c): whatever the bytes, no crash and a length within
 * the input; what it takes, jansson parses; and for jansson's canonical
 * text of what jansson parses, the same text jansson indents.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "porthole/jsonfmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ph_jsonfmt out;
	json_t *j;
	char *cause = NULL, *canon, *want;
	long n;

	memset(&out, 0, sizeof out);
	n = ph_jsonfmt_value(&out, (const char *)data, size, size > 0 ? data[0] % 3 : 0,
	    &cause);
	if (n > (long)size || (n < 0 && cause == NULL))
		abort();
	free(cause);
	ph_jsonfmt_free(&out);
	j = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK,
	    NULL);
	if (j == NULL)
		return 0;
	canon = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	want = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY);
	cause = NULL;
	if (canon != NULL && want != NULL) {
		n = ph_jsonfmt_value(&out, canon, strlen(canon), 0, &cause);
		/* jansson nests deeper than PH_JSONFMT_DEPTH: refused, said so. */
		if (n < 0 ? cause == NULL : (n != (long)strlen(canon) ||
		    strcmp(out.s, want) != 0))
			abort();
	}
	free(cause);
	ph_jsonfmt_free(&out);
	free(canon);
	free(want);
	json_decref(j);
	return 0;
}
