/*
 * keepalive.c - the hangup time and ping interval every program uses; see
 * keepalive.h.  The variable exists so that tests (and operators behind
 * unusual load balancers) can change it for the agent and the CLI, which
 * have no flag for it.
 */
#include <errno.h>
#include <stdlib.h>

#include "porthole/keepalive.h"
#include "porthole/protocol.h"

int
ph_keepalive_secs(const char *flag, int *ping_secs, int *hangup_secs)
{
	const char	*s = flag != NULL ? flag : getenv("PORTHOLE_HANGUP_SECS");
	char		*end;
	long		 v = PH_HANGUP_SECS;

	if (s != NULL && *s != '\0') {
		errno = 0;
		v = strtol(s, &end, 10);
		if (*end != '\0' || errno != 0 || v < PH_HANGUP_MIN || v > PH_HANGUP_MAX)
			return -1;
	}
	*hangup_secs = (int)v;
	*ping_secs = v / 3 < PH_PING_SECS ? (int)(v / 3) : PH_PING_SECS;
	return 0;
}
