/*
 * agent-identity.c - who this agent is: its id and its instance.
 *
 * The id names the agent to operators and the relay's registry.  Once the
 * ECS task metadata endpoint is read (a later issue), the id becomes
 * "<task id>/<container>" and labels come from the metadata too: that code
 * goes here.  Without metadata the id is 16 random hex digits drawn at
 * start.  The instance is another random value; both stay the same across
 * reconnects of one process, so the relay can tell "the same agent came
 * back over a fresh socket" from "another agent claims this id".
 */
#include <stdlib.h>
#include <string.h>

#include "porthole/frame.h"
#include "porthole/util.h"

#include "agent.h"

int
agent_identity(struct agent *a, char **cause)
{
	char	id[AGENT_ID_HEX + 1];

	if (ph_random_hex(id, AGENT_ID_HEX) != 0 ||
	    ph_random_hex(a->instance, AGENT_INSTANCE_HEX) != 0) {
		*cause = ph_asprintf("cannot draw random bytes for the agent id");
		return -1;
	}
	id[AGENT_ID_HEX] = '\0';
	a->instance[AGENT_INSTANCE_HEX] = '\0';
	memcpy(a->id, id, sizeof id);
	return 0;
}
