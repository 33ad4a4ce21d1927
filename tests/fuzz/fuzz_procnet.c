/*
 * fuzz_procnet.c - libFuzzer target for the /proc/net line parsers, the
 * descriptor link classifier and the fdinfo parser (src/procnet.c).  The
 * first byte picks the table (or the fd parsers, or probe's destination
 * parser, src/probedest.c, which takes what an operator typed and the
 * agent gets in an open); the rest is the text.
 * Beside not crashing, a parsed line must leave its strings terminated
 * and within their fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/probedest.h"
#include "porthole/procnet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ph_sock	 s;
	char		*buf;
	uint64_t	 ino;
	long long	 pos;
	unsigned int	 flags;
	int		 which;

	if (size < 1 || size > 65536)
		return 0;
	if ((buf = malloc(size)) == NULL)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	which = data[0] % (PH_NET_KINDS + 2);
	if (which < PH_NET_KINDS) {
		if (ph_net_parse_line((enum ph_net_kind)which, buf, &s) == 0) {
			if (memchr(s.local, '\0', sizeof s.local) == NULL ||
			    memchr(s.peer, '\0', sizeof s.peer) == NULL ||
			    memchr(s.path, '\0', sizeof s.path) == NULL ||
			    strcmp(ph_net_state(&s), "") == 0)
				abort();
		}
	} else if (which == PH_NET_KINDS) {
		if (ph_fd_classify(buf, &ino) >= PH_FD_KINDS)
			abort();
		(void)ph_fdinfo_parse(buf, &pos, &flags);
	} else {
		struct ph_probe_dest d;
		char *cause = NULL;

		if (ph_probe_dest_parse(buf, size & 1, &d, &cause) == 0) {
			/* Nothing that could split a request line gets through. */
			if (strpbrk(d.path, " \r\n") != NULL || strpbrk(d.host, " \r\n/@") != NULL ||
			    d.port < 1 || d.port > 65535)
				abort();
		} else
			free(cause);
	}
	free(buf);
	return 0;
}
