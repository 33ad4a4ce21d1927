/*
 * relay-agent.c - the registry of connected agents and their control
 * channels (/v1/agent).
 *
 * An agent's first message is `hello`; the relay checks its protocol
 * version, the characters of the id, name and labels it claims
 * (agentid.h) and the labels its token lets it claim, registers it, and
 * answers `welcome` with the agent's full id.  The full id is the claimed
 * id qualified with the sub of the agent's token, "<claimed>@<sub>"
 * (docs/protocol.md, "Agent identity"): an agent token can only ever hold
 * ids of its own sub, so a token of another trust domain can neither take
 * nor block them.  Within one sub ids are unique: a second hello for a
 * full id already held replaces the old connection only when it comes from
 * the same agent process (same `instance`: a reconnect over a half-dead
 * socket); anyone else is refused with 4409.  The claim is one operation
 * (relay_agent_claim) on one key, the full id, so that a fleet of relays
 * can make it one atomic SET NX.  Every refusal is audited.  The relay
 * later sends `open` requests down the channel (relay_agent_send).  When a
 * control channel closes, the sessions still waiting for that agent's data
 * channel fail (agent_lost); sessions already spliced go on, their data
 * channels are independent.
 *
 * Agents are kept in a hash by full id for lookups and in a list in connection
 * order for listings.  A record lives exactly as long as its registration.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/agentid.h"
#include "porthole/log.h"
#include "porthole/selector.h"
#include "porthole/util.h"
#include "relay.h"
#include "relay-agent.h"
#include "relay-audit.h"
#include "relay-auth.h"
#include "relay-conn.h"
#include "relay-endpoint.h"
#include "relay-fleet.h"
#include "relay-revoke.h"
#include "relay-session.h"

struct relay_agent {
	char			*id;		/* full id: <claimed>@<sub> */
	char			*claimed;	/* hello.id */
	char			*name;
	char			*version;
	char			*instance;	/* random per agent process */
	char			*sub;		/* the agent token's sub */
	json_t			*labels;	/* object of strings */
	json_t			*caps;		/* array of operation names, or NULL */
	int			 proto;
	int64_t			 since;		/* Unix seconds */
	char			 peer[64];
	struct relay_conn	*conn;		/* its control channel */
	uint64_t		 serial;	/* which registration (relay_agents.total) */
	int			 welcomed;	/* `welcome` sent: opens may go to it */
	struct relay_agent	*prev, *next;
};


static void
relay_agent_free(struct relay_agent *a)
{
	if (a == NULL)
		return;
	free(a->id);
	free(a->claimed);
	free(a->name);
	free(a->version);
	free(a->instance);
	free(a->sub);
	json_decref(a->labels);
	json_decref(a->caps);
	free(a);
}

static void
relay_agent_unlink(struct relay_agents *as, struct relay_agent *a)
{
	relay_map_del(&as->by_id, a->id);
	if (a->prev != NULL)
		a->prev->next = a->next;
	else
		as->head = a->next;
	if (a->next != NULL)
		a->next->prev = a->prev;
	else
		as->tail = a->prev;
	as->n--;
}

static int
relay_agent_link(struct relay_agents *as, struct relay_agent *a)
{
	if (relay_map_put(&as->by_id, a->id, a) != 0)
		return -1;
	a->next = NULL;
	a->prev = as->tail;
	if (as->tail != NULL)
		as->tail->next = a;
	else
		as->head = a;
	as->tail = a;
	as->n++;
	as->total++;
	a->serial = as->total;
	return 0;
}

struct relay_agent *
relay_agent_find(struct relay_agents *as, const char *id)
{
	return relay_map_get(&as->by_id, id);
}

const char *
relay_agent_id(const struct relay_agent *a)
{
	return a->id;
}

int
relay_agent_proto(const struct relay_agent *a)
{
	return a->proto;
}

int
relay_agent_ready(const struct relay_agent *a)
{
	return a->welcomed;
}


/* The agent as /v1/agents shows it (new reference). */
json_t *
relay_agent_json(const struct relay_agent *a)
{
	json_t	*j;

	j = json_pack("{s:s,s:s,s:s,s:O,s:s,s:i,s:I,s:s}",
	    "id", a->id, "name", a->name, "sub", a->sub, "labels", a->labels,
	    "version", a->version, "proto", a->proto,
	    "connected_since", (json_int_t)a->since, "peer", a->peer);
	/* Its hello.caps: what it serves, and features the CLI checks (ops.h). */
	if (j != NULL && a->caps != NULL &&
	    json_object_set(j, "caps", a->caps) != 0) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/*
 * Each agent a client with claims cl may see, optionally filtered by a
 * label selector: fn(agent's JSON, borrowed, arg) one at a time, so that a
 * listing of thousands never holds them all as JSON at once.  0, or -1
 * with *cause (a bad selector, or fn failed: "out of memory").
 */
int
relay_agent_each(struct relay_agents *as, const struct ph_claims *cl, const char *selector,
    int (*fn)(json_t *agent, void *arg), void *arg, char **cause)
{
	struct relay_agent *a;
	json_t *j;
	int m;

	for (a = as->head; a != NULL; a = a->next) {
		if (!a->welcomed || (j = relay_agent_json(a)) == NULL)
			continue;
		m = relay_auth_may_touch(cl, j);
		if (m && selector != NULL &&
		    (m = ph_selector_match(selector, j, cause)) < 0) {
			json_decref(j);
			return -1;
		}
		if (m && fn(j, arg) != 0) {
			json_decref(j);
			*cause = strdup("out of memory");
			return -1;
		}
		json_decref(j);
	}
	return 0;
}

static int
relay_agent_list_add(json_t *agent, void *arg)
{
	return json_array_append(arg, agent);
}

/*
 * The agents a client with claims cl may see, optionally filtered by a
 * label selector: a new JSON array, or NULL with *cause (bad selector).
 */
json_t *
relay_agent_list(struct relay_agents *as, const struct ph_claims *cl, const char *selector,
    char **cause)
{
	json_t *out;

	if ((out = json_array()) == NULL) {
		*cause = strdup("out of memory");
		return NULL;
	}
	if (relay_agent_each(as, cl, selector, relay_agent_list_add, out, cause) != 0) {
		json_decref(out);
		return NULL;
	}
	return out;
}

/*
 * Who uploads an artifact (relay-upload.c): the agent registered under
 * claimed@sub with that instance, where sub is the uploading connection's
 * token's.  Its attribution (agent, name, sub, labels, task) as a new
 * object, from the registration and the token, never from the upload; or
 * NULL with *cause.
 */
json_t *
relay_agent_attribution(struct relay_agents *as, const char *claimed, const char *sub,
    const char *instance, char **cause)
{
	struct relay_agent *a;
	char	*id;
	json_t	*j, *task;

	if (claimed == NULL || instance == NULL) {
		*cause = ph_asprintf("the upload's begin must name the agent's id "
		    "and instance");
		return NULL;
	}
	if ((id = ph_agent_full_id(claimed, sub, cause)) == NULL)
		return NULL;
	a = relay_agent_find(as, id);
	if (a == NULL || strcmp(a->instance, instance) != 0) {
		*cause = ph_asprintf("no agent %s of this instance is connected: "
		    "an agent uploads once its control channel is welcomed", id);
		free(id);
		return NULL;
	}
	free(id);
	j = json_pack("{s:s, s:s, s:s, s:O}", "agent", a->id, "name", a->name,
	    "sub", a->sub, "labels", a->labels);
	if (j != NULL && json_is_string(task = json_object_get(a->labels, "task")))
		json_object_set(j, "task", task);
	if (j == NULL)
		*cause = ph_asprintf("out of memory");
	return j;
}

/* Queue a control message to the agent.  -1: its channel is closing or full. */
int
relay_agent_send(struct relay_agent *a, json_t *obj)
{
	if (a->conn == NULL)
		return -1;
	return relay_conn_send_ctl(a->conn, obj);
}

/*
 * Audit an agent event: who (id, name, labels, version, sub), from where,
 * and the members of extra (taken).
 */
static void
relay_agent_audit(struct relay_conn *c, const struct relay_agent *a,
    const char *event, json_t *extra)
{
	json_t *o;

	o = json_pack("{s:{s:s,s:s,s:O},s:s,s:s}", "agent", "id", a->id, "name",
	    a->name, "labels", a->labels, "version", a->version, "sub", a->sub);
	if (o == NULL) {
		json_decref(extra);
		return;
	}
	relay_audit_origin(o, c);
	if (extra != NULL) {
		json_object_update(o, extra);
		json_decref(extra);
	}
	relay_audit(event, o);
}

static char *
relay_agent_str(json_t *obj, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return strdup(s != NULL ? s : dflt);
}

/*
 * Refuse a hello: audit it (with what it claimed, printable: the claim
 * may be the reason), then `error` and close.
 */
static void
relay_agent_refuse(struct relay_conn *c, json_t *hello, const char *code, int close,
    const char *cause)
{
	json_t *claim, *v;
	char *id = NULL, *name = NULL;

	if ((v = json_object_get(hello, "id")) != NULL && json_is_string(v))
		id = ph_ident_quote(json_string_value(v), json_string_length(v));
	if ((v = json_object_get(hello, "name")) != NULL && json_is_string(v))
		name = ph_ident_quote(json_string_value(v), json_string_length(v));
	claim = json_pack("{s:{s:s?,s:s?}}", "claim", "id", id, "name", name);
	free(id);
	free(name);
	relay_audit_refusal_with(c, "agent hello", code, cause, claim);
	relay_conn_fail(c, code, close, "%s", cause);
}

/*
 * Claim the full id of a for its connection.  The rule, in one place
 * (a fleet makes it one atomic operation on the key a->id): free, the
 * agent is registered; held by the same agent process (same instance),
 * the old connection is replaced; held by another, -1 with *old set.
 * Only agents of one sub can ever meet here.
 */
static int
relay_agent_claim(struct relay_agent *a, struct relay_agent **old)
{
	*old = relay_agent_find(&relay.agents, a->id);
	if (*old == NULL)
		return 0;
	if (strcmp((*old)->instance, a->instance) != 0)
		return -1;
	ph_info("agent %s reconnected from %s: replacing its connection from %s",
	    a->id, a->peer, (*old)->peer);
	relay_agent_unlink(&relay.agents, *old);
	if ((*old)->conn != NULL) {
		relay_agent_audit((*old)->conn, *old, "agent_gone", json_pack("{s:s,s:I}",
		    "reason", "replaced by a new connection of the same agent",
		    "connected_secs", (json_int_t)(ph_now() - (*old)->since)));
		(*old)->conn->ep = NULL;
		relay_conn_close((*old)->conn, PH_CLOSE_GOING_AWAY,
		    "replaced by a new connection", 1);
	}
	relay_agent_free(*old);
	*old = NULL;
	return 0;
}

/* The registration is granted: `welcome`; opens may go to the agent now. */
static void
relay_agent_welcome(struct relay_agent *a)
{
	struct relay_conn *c = a->conn;
	json_t *welcome;

	welcome = ph_ctl_new(PH_CTL_WELCOME);
	if (welcome == NULL ||
	    json_object_set_new(welcome, "proto", json_integer(a->proto)) != 0 ||
	    json_object_set_new(welcome, "max_payload", json_integer(PH_MAX_PAYLOAD)) != 0 ||
	    json_object_set_new(welcome, "id", json_string(a->id)) != 0 ||
	    relay_conn_send_ctl(c, welcome) != 0) {
		json_decref(welcome);
		relay_conn_fail(c, PH_ERR_INTERNAL, PH_CLOSE_INTERNAL, "cannot answer hello");
		return;
	}
	json_decref(welcome);
	a->welcomed = 1;
	ph_info("agent connected: id=%s name=%s peer=%s version=%s proto=%d sub=%s",
	    a->id, a->name, a->peer, a->version, a->proto, a->sub);
	relay_agent_audit(c, a, "agent_connected", NULL);
	relay_revoke_welcome(a);	/* what the fleet revoked, if it takes it */
}

/* Which registration a fleet claim's answer is for (it may be gone by then). */
struct relay_agent_wait {
	char		*id;
	uint64_t	 serial;
};

static struct relay_agent_wait *
relay_agent_wait_new(const struct relay_agent *a)
{
	struct relay_agent_wait *w;

	if ((w = calloc(1, sizeof *w)) == NULL || (w->id = strdup(a->id)) == NULL) {
		free(w);
		return NULL;
	}
	w->serial = a->serial;
	return w;
}

static struct relay_agent *
relay_agent_wait_end(struct relay_agent_wait *w)
{
	struct relay_agent *a = relay_agent_find(&relay.agents, w->id);

	if (a != NULL && a->serial != w->serial)
		a = NULL;
	free(w->id);
	free(w);
	return a;
}

/*
 * The fleet's answer to a hello's claim: granted (or no answer: Redis is
 * down, the local rule alone holds), or held by another agent process on
 * another live relay: refused like a local conflict.
 */
static void
relay_agent_fleet_claimed(int result, const char *holder, void *arg)
{
	struct relay_agent *a = relay_agent_wait_end(arg);
	struct relay_conn *c;
	json_t *claim;
	char *cause;

	if (a == NULL || a->welcomed || a->conn == NULL)
		return;
	if (result != 1) {
		relay_agent_welcome(a);
		return;
	}
	c = a->conn;
	cause = ph_asprintf("agent id %s is held by another agent process of the same "
	    "token sub (on relay %.32s)", a->id, holder);
	claim = json_pack("{s:{s:s,s:s}}", "claim", "id", a->claimed, "name", a->name);
	relay_audit_refusal_with(c, "agent hello", PH_ERR_CONFLICT, cause, claim);
	c->ep = NULL;
	a->conn = NULL;
	relay_agent_unlink(&relay.agents, a);
	relay_agent_free(a);
	relay_conn_fail(c, PH_ERR_CONFLICT, PH_CLOSE_CONFLICT, "%s", cause);
	free(cause);
}

/* Republishing: a conflict found now is only logged (the agent stays). */
static void
relay_agent_republished(int result, const char *holder, void *arg)
{
	struct relay_agent *a = relay_agent_wait_end(arg);

	if (a != NULL && result == 1)
		ph_warn("fleet: agent %s is also held on relay %.32s (claimed while Redis "
		    "was away); it is listed there", a->id, holder);
}

void
relay_agents_republish(void)
{
	struct relay_agent *a;
	struct relay_agent_wait *w;

	for (a = relay.agents.head; a != NULL; a = a->next) {
		if (!a->welcomed)
			continue;
		if ((w = relay_agent_wait_new(a)) == NULL)
			return;
		if (relay_fleet_claim(a->id, a->instance, relay_agent_json(a),
		    relay_agent_republished, w) != 0) {
			free(w->id);
			free(w);
			return;
		}
	}
}

int
relay_agent_has_cap(const struct relay_agent *a, const char *cap)
{
	size_t i;

	for (i = 0; i < json_array_size(a->caps); i++) {
		if (json_is_string(json_array_get(a->caps, i)) &&
		    strcmp(json_string_value(json_array_get(a->caps, i)), cap) == 0)
			return 1;
	}
	return 0;
}

void
relay_agents_each(void (*fn)(struct relay_agent *, void *), void *arg)
{
	struct relay_agent *a;

	for (a = relay.agents.head; a != NULL; a = a->next)
		fn(a, arg);
}

static void
relay_agent_hello(struct relay_conn *c, json_t *hello)
{
	struct relay_agent *a, *old;
	struct relay_agent_wait *w;
	json_t *labels;
	const char *sub = c->claims.sub;
	char *cause = NULL;
	int proto;

	proto = (int)json_integer_value(json_object_get(hello, "proto"));
	if (proto < PH_PROTOCOL_VERSION_MIN || proto > PH_PROTOCOL_VERSION) {
		cause = ph_asprintf("agent speaks protocol %d, this relay speaks %d-%d: "
		    "upgrade the %s", proto, PH_PROTOCOL_VERSION_MIN, PH_PROTOCOL_VERSION,
		    proto < PH_PROTOCOL_VERSION_MIN ? "agent" : "relay");
		relay_agent_refuse(c, hello, PH_ERR_VERSION, PH_CLOSE_VERSION, cause);
		free(cause);
		return;
	}
	if (ph_ident_hello_check(hello, &cause) != 0) {
		relay_agent_refuse(c, hello, PH_ERR_FORBIDDEN, PH_CLOSE_FORBIDDEN, cause);
		free(cause);
		return;
	}
	labels = json_object_get(hello, "labels");
	if (ph_claims_labels_allow(&c->claims, labels, &cause) != 0) {
		relay_agent_refuse(c, hello, PH_ERR_FORBIDDEN, PH_CLOSE_FORBIDDEN, cause);
		free(cause);
		return;
	}

	if ((a = calloc(1, sizeof *a)) == NULL)
		goto nomem;
	if ((a->id = ph_agent_full_id(json_string_value(json_object_get(hello, "id")),
	    sub, &cause)) == NULL) {
		/* The claim passed above: the token's sub cannot be part of an id. */
		relay_agent_refuse(c, hello, PH_ERR_FORBIDDEN, PH_CLOSE_FORBIDDEN, cause);
		free(cause);
		relay_agent_free(a);
		return;
	}
	a->claimed = relay_agent_str(hello, "id", "");
	a->name = relay_agent_str(hello, "name", "");
	a->version = relay_agent_str(hello, "version", "");
	a->instance = relay_agent_str(hello, "instance", "");
	a->sub = strdup(sub);
	a->labels = labels != NULL ? json_deep_copy(labels) : json_object();
	if (json_is_array(json_object_get(hello, "caps")))
		a->caps = json_deep_copy(json_object_get(hello, "caps"));
	a->proto = proto;
	a->since = ph_now();
	snprintf(a->peer, sizeof a->peer, "%s", c->peer);
	if (a->claimed == NULL || a->name == NULL || a->version == NULL ||
	    a->instance == NULL || a->sub == NULL || a->labels == NULL)
		goto nomem;

	if (relay_agent_claim(a, &old) != 0) {
		cause = ph_asprintf("agent id %s is held by another agent process "
		    "of the same token sub (connected from %s)", a->id, old->peer);
		relay_agent_refuse(c, hello, PH_ERR_CONFLICT, PH_CLOSE_CONFLICT, cause);
		free(cause);
		relay_agent_free(a);
		return;
	}
	if (relay_agent_link(&relay.agents, a) != 0)
		goto nomem;
	a->conn = c;
	c->ep = a;
	/* In a fleet the claim is Redis's to grant; without an answer, local. */
	if ((w = relay_agent_wait_new(a)) != NULL &&
	    relay_fleet_claim(a->id, a->instance, relay_agent_json(a),
	    relay_agent_fleet_claimed, w) == 0)
		return;
	if (w != NULL) {
		free(w->id);
		free(w);
	}
	relay_agent_welcome(a);
	return;
nomem:
	relay_agent_free(a);
	relay_conn_fail(c, PH_ERR_INTERNAL, PH_CLOSE_INTERNAL, "out of memory");
}

/* A decoded message on a control channel. */
static void
relay_agent_rx(struct relay_conn *c, struct ph_frame *f, const uint8_t *m, size_t len)
{
	struct relay_agent *a = c->ep;
	const char *code, *msg;

	(void)m;
	(void)len;
	if (f->type != PH_FRAME_CONTROL) {
		relay_conn_fail(c, PH_ERR_BAD_MESSAGE, PH_CLOSE_POLICY,
		    "only CONTROL frames are allowed on %s, not %s", PH_PATH_AGENT,
		    ph_frame_type_name(f->type));
		return;
	}
	if (a == NULL) {
		if (f->ctl != PH_CTL_HELLO) {
			relay_conn_fail(c, PH_ERR_BAD_MESSAGE, PH_CLOSE_POLICY,
			    "the first message on %s must be hello, not %s",
			    PH_PATH_AGENT, ph_ctl_name(f->ctl));
			return;
		}
		relay_agent_hello(c, f->json);
		return;
	}
	if (f->ctl == PH_CTL_ERROR) {
		code = json_string_value(json_object_get(f->json, "code"));
		msg = json_string_value(json_object_get(f->json, "message"));
		ph_warn("agent %s reports %s: %s", a->id, code, msg);
		return;
	}
	relay_conn_fail(c, PH_ERR_BAD_MESSAGE, PH_CLOSE_POLICY,
	    "%s is not expected on %s", ph_ctl_name(f->ctl), PH_PATH_AGENT);
}

/* The control channel c closed. */
static void
relay_agent_closed(struct relay_conn *c)
{
	struct relay_agent *a = c->ep;

	if (a == NULL)
		return;
	c->ep = NULL;
	a->conn = NULL;
	relay_agent_unlink(&relay.agents, a);
	ph_info("agent gone: id=%s name=%s peer=%s (close %d, connected %llds)",
	    a->id, a->name, a->peer, c->peer_close,
	    (long long)(ph_now() - a->since));
	relay_agent_audit(c, a, "agent_gone", json_pack("{s:i,s:I}", "close",
	    c->peer_close != 0 ? c->peer_close : c->close_code,
	    "connected_secs", (json_int_t)(ph_now() - a->since)));
	relay_session_agent_gone(&relay.sessions, a->id);
	relay_fleet_gone(a->id, a->instance);
	relay_agent_free(a);
}

const struct relay_endpoint relay_agent_endpoint = {
	.what = "control channel",
	.token = PH_TOKEN_AGENT,
	.q_low = RELAY_CTLQ_LIMIT / 4,
	.q_high = RELAY_CTLQ_LIMIT / 2,
	.q_limit = RELAY_CTLQ_LIMIT,
	.rx_release = 1,
	.rx = relay_agent_rx,
	.closed = relay_agent_closed,
};

/* At exit, after every connection closed. */
void
relay_agents_free(struct relay_agents *as)
{
	relay_map_free(&as->by_id);
}
