/*
 * fuzz_util.c - libFuzzer target for the parsers of operator input:
 * relay URLs, ADDR:PORT, durations, label lists and selectors.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/selector.h"
#include "porthole/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *host, *cause = NULL;
	json_t *labels, *agents, *m;
	int64_t ms;
	int port;

	memcpy(s, data, size);
	s[size] = '\0';
	if (ph_url_parse(s, &host, &port, &cause) == 0)
		free(host);
	free(cause);
	cause = NULL;
	if (ph_hostport_parse(s, &host, &port, &cause) == 0)
		free(host);
	free(cause);
	cause = NULL;
	if (ph_duration_parse(s, &ms, &cause) == 0) {
		char	 buf[PH_DURATION_FMT_MAX];
		int64_t	 back;

		/* What is printed reads back as the same duration. */
		ph_duration_fmt(ms, buf, sizeof buf);
		if (ph_duration_parse(buf, &back, &cause) != 0 || back != ms)
			abort();
	}
	free(cause);
	cause = NULL;
	if ((labels = ph_labels_parse(s, &cause)) != NULL)
		json_decref(labels);
	free(cause);
	cause = NULL;
	agents = json_pack("[{s:s,s:s,s:{s:s}}]", "id", "a/b", "name", "n",
	    "labels", "k", "v");
	if ((m = ph_target_resolve(s, agents, &cause)) != NULL)
		json_decref(m);
	free(cause);
	json_decref(agents);
	free(s);
	return 0;
}
