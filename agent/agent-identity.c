/*
 * agent-identity.c - who this agent is: its id, its instance, and, in an
 * ECS task, the labels and name read from the task metadata endpoint v4.
 *
 * Without metadata the id is 16 random hex digits drawn at start.  With
 * ECS_CONTAINER_METADATA_URI_V4 set, the agent GETs ${URI} (the container:
 * its Name) and ${URI}/task (cluster, family, revision, task ARN, zone,
 * launch type) over plain HTTP/1.0, before the event loop exists, each
 * bounded by AGENT_ECS_TIMEOUT_MS and PH_ECS_BODY_MAX; the parsing is
 * libporthole's (ecs.c).  Then the id is "<task id>/<container>", the
 * metadata labels are added under those of PORTHOLE_LABELS (which win),
 * and the name defaults to the family (PORTHOLE_NAME wins).  Metadata that
 * is missing, slow or malformed is logged and skipped: never fatal.
 *
 * That is the id the agent claims in its hello.  The relay registers it
 * qualified with the sub of the agent's token, "<claimed>@<sub>"
 * (agentid.h; docs/protocol.md, "Agent identity"), and every open must
 * name that full id.  The agent computes it itself from its own token
 * (only its payload is read: the relay verifies the token), so a relay's
 * word is never needed to know who it is.
 *
 * The instance is another random value; both stay the same across
 * reconnects of one process, so the relay can tell "the same agent came
 * back over a fresh socket" from "another agent claims this id".
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "porthole/ecs.h"
#include "porthole/frame.h"
#include "porthole/log.h"
#include "porthole/token.h"
#include "porthole/util.h"

#include "agent.h"

#define AGENT_ECS_TIMEOUT_MS	3000	/* per request: connect, send, read */

/* Labels from the metadata under uri; NULL with *cause. */
static json_t *
agent_identity_ecs(const char *uri, json_t **containers, char **cause)
{
	struct ph_ecs_url	 u;
	char			*cdoc = NULL, *tdoc = NULL, *tpath;
	size_t			 clen, tlen;
	json_t			*labels = NULL;

	if (ph_ecs_url_parse(uri, &u, cause) != 0)
		return NULL;
	tpath = ph_asprintf("%s%stask", u.path, u.path[strlen(u.path) - 1] == '/' ? "" : "/");
	if ((cdoc = ph_ecs_get(&u, u.path, AGENT_ECS_TIMEOUT_MS, &clen, cause)) != NULL &&
	    (tdoc = ph_ecs_get(&u, tpath, AGENT_ECS_TIMEOUT_MS, &tlen, cause)) != NULL)
		labels = ph_ecs_labels(cdoc, clen, tdoc, tlen, cause);
	if (labels != NULL) {
		char	*why = NULL;

		/* For --container (agent-target.c); without it, only that is lost. */
		if ((*containers = ph_ecs_containers(tdoc, tlen, &why)) == NULL) {
			ph_warn("ECS task metadata: no container list (%s): --container "
			    "will not work", why);
			free(why);
		}
	}
	free(cdoc);
	free(tdoc);
	free(tpath);
	return labels;
}

/*
 * The full id: the claimed id qualified with the sub of our own token.
 * 0, or -1 with *cause (the token has no usable sub).
 */
static int
agent_identity_full(struct agent *a, char **cause)
{
	json_t		*claims = NULL;
	const char	*sub;
	char		*why = NULL, *full;

	if (ph_token_decode(a->cfg.token, NULL, &claims, &why) != 0) {
		*cause = ph_asprintf("cannot read the agent token: %s", why);
		free(why);
		return -1;
	}
	if ((sub = json_string_value(json_object_get(claims, "sub"))) == NULL) {
		*cause = ph_asprintf("the agent token has no sub: the agent's id is "
		    "qualified with it");
		json_decref(claims);
		return -1;
	}
	if ((full = ph_agent_full_id(a->claimed, sub, &why)) == NULL) {
		*cause = ph_asprintf("cannot make the agent's id: %s", why);
		free(why);
		json_decref(claims);
		return -1;
	}
	snprintf(a->id, sizeof a->id, "%s", full);
	free(full);
	json_decref(claims);
	return 0;
}

/* The id to claim (random, or the ECS task's), labels and name. */
static int
agent_identity_claim(struct agent *a, char **cause)
{
	char		 id[AGENT_ID_HEX + 1], *eid, *why = NULL;
	const char	*uri, *k, *fam;
	json_t		*labels, *v;

	if (ph_random_hex(id, AGENT_ID_HEX) != 0 ||
	    ph_random_hex(a->instance, AGENT_INSTANCE_HEX) != 0) {
		*cause = ph_asprintf("cannot draw random bytes for the agent id");
		return -1;
	}
	id[AGENT_ID_HEX] = '\0';
	a->instance[AGENT_INSTANCE_HEX] = '\0';
	memcpy(a->claimed, id, sizeof id);

	if ((uri = getenv("ECS_CONTAINER_METADATA_URI_V4")) == NULL || *uri == '\0')
		return 0;
	if ((labels = agent_identity_ecs(uri, &a->cfg.ecs_containers, &why)) == NULL) {
		ph_warn("ECS task metadata skipped (%s): id %s is random", why, a->claimed);
		free(why);
		return 0;
	}
	if ((eid = ph_ecs_id(labels)) == NULL ||
	    !ph_ident_ok(PH_IDENT_ID, eid, strlen(eid))) {
		ph_warn("ECS task metadata skipped (the task and container make no "
		    "agent id: %s): id %s is random", ph_ident_rule(PH_IDENT_ID),
		    a->claimed);
		free(eid);
		json_decref(labels);
		return 0;
	}
	snprintf(a->claimed, sizeof a->claimed, "%s", eid);
	free(eid);
	/* PORTHOLE_LABELS win over the metadata. */
	json_object_foreach(labels, k, v) {
		if (json_object_get(a->cfg.labels, k) == NULL)
			json_object_set(a->cfg.labels, k, v);
	}
	fam = json_string_value(json_object_get(labels, "family"));
	if (!a->cfg.name_set && fam != NULL && (k = strdup(fam)) != NULL) {
		free(a->cfg.name);
		a->cfg.name = (char *)k;
	}
	ph_info("ECS task metadata: id %s, name %s", a->claimed, a->cfg.name);
	json_decref(labels);
	return 0;
}

int
agent_identity(struct agent *a, char **cause)
{
	if (agent_identity_claim(a, cause) != 0)
		return -1;
	return agent_identity_full(a, cause);
}
