/*
 * fuzz_proc.c - libFuzzer target for the /proc and cgroup parsers in
 * src/proc.c, on text instead of files (a process's /proc files are
 * written by the kernel, but `ps --pid` and sidecar mode read another
 * root, and comm is chosen by the process itself).  The first byte picks
 * the parser; the rest is the file's text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/proc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ph_proc p;
	struct ph_memstat m;
	char *buf, *cause = NULL, v1[512], v2[512], name[64];
	uid_t uid;

	if (size < 1 || size > 65536)
		return 0;
	if ((buf = malloc(size)) == NULL)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	memset(&p, 0, sizeof p);
	memset(&m, 0, sizeof m);
	switch (data[0] % 7) {
	case 0:
		p.pid = 1;
		if (ph_proc_parse_stat(buf, &p, 1700000000, 100, 4, &cause) == 0) {
			if (strlen(p.comm) >= sizeof p.comm)
				abort();
		} else
			free(cause);
		break;
	case 1:
		(void)ph_proc_parse_uid(buf, &uid);
		break;
	case 2:
		ph_memstat_parse_status(buf, &m);
		ph_memstat_parse_rollup(buf, &m);
		break;
	case 3:
		if ((ph_cgroup_parse(buf, v1, sizeof v1, v2, sizeof v2) & ~3) != 0)
			abort();
		break;
	case 4:
		if (ph_passwd_lookup(buf, (uid_t)(size % 3), name, sizeof name) == 0 &&
		    strlen(name) >= sizeof name)
			abort();
		break;
	case 5:
		(void)ph_btime_parse(buf);
		break;
	default:
		(void)ph_cg_limit_parse(buf);
		break;
	}
	free(buf);
	return 0;
}
