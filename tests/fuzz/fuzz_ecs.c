/*
 * fuzz_ecs.c - libFuzzer target for the ECS task metadata parsers: the
 * input is an HTTP answer holding the container document, a NUL byte, and
 * the task document (or, without a NUL, a metadata URI and one answer).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/ecs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*in = (const char *)data, *body, *nul;
	char			*s, *cause = NULL, *id;
	size_t			 blen, clen;
	struct ph_ecs_url	 u;
	json_t			*l;

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	ph_ecs_url_parse(s, &u, &cause);
	free(cause);
	cause = NULL;
	free(s);

	if (ph_ecs_http_body(in, size, &body, &blen, &cause) != 0) {
		free(cause);
		cause = NULL;
		body = in;
		blen = size;
	}
	nul = memchr(body, '\0', blen);
	clen = nul != NULL ? (size_t)(nul - body) : blen;
	l = ph_ecs_labels(body, clen, nul != NULL ? nul + 1 : body,
	    nul != NULL ? blen - clen - 1 : blen, &cause);
	if (l != NULL) {
		if ((id = ph_ecs_id(l)) != NULL)
			free(id);
		json_decref(l);
	}
	free(cause);
	return 0;
}
