/*
 * relay-upload.c - the agent's artifact upload channel
 * (/v1/agent/artifact, agent token): one capture of the flight recorder,
 * streamed into the artifact store (relay-artifact.h) as it arrives.
 *
 * The first message is `artifact` {phase "begin", id, instance, ...}: the
 * claimed id qualified with the connection's token's sub, and the
 * instance, must name a connected agent (relay_agent_attribution), whose
 * registration gives the artifact's agent, name, sub and labels; what
 * the begin adds describes the capture only.  DATA frames follow, then
 * `artifact` {phase "end", complete, mode, ...}; the relay commits, sends
 * `artifact` {phase "stored", artifact, size, sha256} and closes 1000.
 * When the store is behind (S3 slower than the agent), the connection stops
 * being read until it has room again, and the `stored` reply waits for the
 * store's commit.
 * A connection that goes before its end is stored as incomplete.  A bound
 * reached, anything out of order, or a refusal at the start is an `error`
 * and a close; every upload and refusal is audited.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/log.h"
#include "porthole/printable.h"
#include "relay.h"
#include "relay-agent.h"
#include "relay-artifact.h"
#include "relay-audit.h"
#include "relay-conn.h"
#include "relay-endpoint.h"

struct relay_upload {
	struct relay_conn *c;
	struct relay_artifact_up *up;	/* between begin and end */
	struct relay_artifact_up *committing;	/* after end, until the store says */
	char		 id[RELAY_ARTIFACT_ID_LEN + 1];
	int		 ended;
};

static void	upload_stored(struct relay_conn *, const char *, json_t *);

/* What the store says later (relay_artifact_up_fn). */
static void
upload_event(void *arg, enum relay_artifact_ev ev, json_t *meta, const char *err)
{
	struct relay_upload *u = arg;

	switch (ev) {
	case RELAY_ARTIFACT_EV_READY:
		relay_conn_resume(u->c, RELAY_PAUSE_STORE);
		break;
	case RELAY_ARTIFACT_EV_COMMITTED:
		u->committing = NULL;
		upload_stored(u->c, u->id, meta);
		break;
	case RELAY_ARTIFACT_EV_FAILED:
		u->committing = NULL;
		ph_warn("artifact %s: %s", u->id, err != NULL ? err : "?");
		relay_conn_fail(u->c, PH_ERR_INTERNAL, PH_CLOSE_INTERNAL, "storing the "
		    "artifact failed: %s", err != NULL ? err : "?");
		break;
	}
}

static void
upload_refuse(struct relay_conn *c, const char *err, int code, const char *msg)
{
	relay_audit_refusal(c, "artifact upload", err, msg);
	relay_conn_fail(c, err, code, "%s", msg);
}

static void
upload_begin(struct relay_conn *c, struct relay_upload *u, struct ph_frame *f)
{
	const char	*phase = json_string_value(json_object_get(f->json, "phase"));
	json_t		*who;
	char		*cause = NULL;

	if (f->type != PH_FRAME_CONTROL || f->ctl != PH_CTL_ARTIFACT || phase == NULL ||
	    strcmp(phase, "begin") != 0) {
		upload_refuse(c, PH_ERR_BAD_MESSAGE, PH_CLOSE_POLICY, "the first "
		    "message of an upload must be artifact {phase begin}");
		return;
	}
	who = relay_agent_attribution(&relay.agents,
	    json_string_value(json_object_get(f->json, "id")), c->claims.sub,
	    json_string_value(json_object_get(f->json, "instance")), &cause);
	if (who == NULL) {
		upload_refuse(c, PH_ERR_NO_AGENT, PH_CLOSE_NOT_FOUND, cause);
		free(cause);
		return;
	}
	if ((u->up = relay_artifact_begin(who, f->json, &cause)) == NULL) {
		relay_audit("artifact_refused", json_pack("{s:O, s:s, s:s}", "agent",
		    json_object_get(who, "agent"), "from", c->peer, "reason", cause));
		relay_conn_fail(c, PH_ERR_LIMIT, PH_CLOSE_POLICY, "%s", cause);
		free(cause);
		json_decref(who);
		return;
	}
	snprintf(u->id, sizeof u->id, "%s", relay_artifact_up_id(u->up));
	relay_artifact_listen(u->up, upload_event, u);
	ph_info("artifact %s: upload from agent %s (%s)", u->id,
	    json_string_value(json_object_get(who, "agent")), c->peer);
	json_decref(who);
}

static void
upload_end(struct relay_conn *c, struct relay_upload *u, struct ph_frame *f)
{
	char		*cause = NULL;
	json_t		*m;
	struct relay_artifact_up *up = u->up;

	u->ended = 1;
	u->up = NULL;
	m = relay_artifact_end(up, f->json, &cause);
	if (m == NULL && cause == NULL) {
		u->committing = up;	/* upload_event hears how it went */
		return;
	}
	if (m == NULL) {
		ph_warn("artifact %s: %s", u->id, cause);
		relay_conn_fail(c, PH_ERR_INTERNAL, PH_CLOSE_INTERNAL, "storing the "
		    "artifact failed: %s", cause);
		free(cause);
		return;
	}
	upload_stored(c, u->id, m);
	json_decref(m);
}

/* Stored: audit, reply `stored`, close. */
static void
upload_stored(struct relay_conn *c, const char *idbuf, json_t *m)
{
	json_t		*reply, *audit;

	audit = json_pack("{s:s, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:s}", "artifact",
	    idbuf, "agent", json_object_get(m, "agent"), "sub", json_object_get(m, "sub"),
	    "labels", json_object_get(m, "labels"), "trigger",
	    json_object_get(m, "trigger") ?: json_null(), "size",
	    json_object_get(m, "size"), "sha256", json_object_get(m, "sha256"),
	    "complete", json_object_get(m, "complete"), "from", c->peer);
	relay_audit("artifact_stored", audit);
	ph_info("artifact %s stored: %lld bytes, %s", idbuf,
	    (long long)json_integer_value(json_object_get(m, "size")),
	    json_is_true(json_object_get(m, "complete")) ? "complete" : "incomplete");
	reply = json_pack("{s:s, s:s, s:s, s:O, s:O, s:O}", "type", "artifact",
	    "phase", "stored", "artifact", idbuf, "size", json_object_get(m, "size"),
	    "sha256", json_object_get(m, "sha256"), "complete",
	    json_object_get(m, "complete"));
	if (reply != NULL)
		relay_conn_send_ctl(c, reply);
	json_decref(reply);	/* send_ctl leaves it the caller's */
	relay_conn_close(c, PH_CLOSE_NORMAL, "stored", 0);
}

static void
upload_rx(struct relay_conn *c, struct ph_frame *f, const uint8_t *msg, size_t len)
{
	struct relay_upload *u = c->ep;
	const char	*phase;
	char		*cause = NULL;
	int		 r;

	(void)msg;
	(void)len;
	if (u == NULL && (c->ep = u = calloc(1, sizeof *u)) == NULL) {
		relay_conn_fail(c, PH_ERR_INTERNAL, PH_CLOSE_INTERNAL, "out of memory");
		return;
	}
	u->c = c;
	if (u->ended)
		return;
	if (u->up == NULL) {
		upload_begin(c, u, f);
		return;
	}
	if (f->type == PH_FRAME_DATA) {
		if ((r = relay_artifact_data(u->up, f->payload, f->len, &cause)) == 1) {
			relay_conn_pause(c, RELAY_PAUSE_STORE);	/* until READY */
			return;
		}
		if (r != 0) {
			ph_warn("artifact %s: %s", relay_artifact_up_id(u->up), cause);
			relay_artifact_cut(u->up, cause);
			u->up = NULL;
			u->ended = 1;
			relay_conn_fail(c, PH_ERR_LIMIT, PH_CLOSE_POLICY, "%s", cause);
			free(cause);
		}
		return;
	}
	phase = json_string_value(json_object_get(f->json, "phase"));
	if (f->type == PH_FRAME_CONTROL && f->ctl == PH_CTL_ARTIFACT && phase != NULL &&
	    strcmp(phase, "end") == 0) {
		upload_end(c, u, f);
		return;
	}
	relay_artifact_cut(u->up, "the agent sent something that is not part of an upload");
	u->up = NULL;
	u->ended = 1;
	relay_conn_fail(c, PH_ERR_BAD_MESSAGE, PH_CLOSE_POLICY, "an upload carries DATA "
	    "frames and artifact {phase end}, not %s", f->type == PH_FRAME_CONTROL ?
	    ph_ctl_name(f->ctl) : ph_frame_type_name(f->type));
}

static void
upload_closed(struct relay_conn *c)
{
	struct relay_upload *u = c->ep;

	if (u == NULL)
		return;
	c->ep = NULL;
	if (u->up != NULL) {
		ph_warn("artifact %s: the upload from %s stopped before its end: "
		    "stored as incomplete", relay_artifact_up_id(u->up), c->peer);
		relay_artifact_cut(u->up, "the upload stopped before its end (the "
		    "agent, its task or the connection died)");
	}
	if (u->committing != NULL)	/* stored all the same, nobody to tell */
		relay_artifact_listen(u->committing, NULL, NULL);
	free(u);
}

const struct relay_endpoint relay_upload_endpoint = {
	.what = "artifact upload",
	.token = PH_TOKEN_AGENT,
	.q_low = RELAY_CTLQ_LIMIT / 4,
	.q_high = RELAY_CTLQ_LIMIT / 2,
	.q_limit = RELAY_CTLQ_LIMIT,
	.rx = upload_rx,
	.closed = upload_closed,
};
