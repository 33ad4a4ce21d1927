/*
 * relay-client.c - the client's endpoint (/v1/session): a session's open,
 * in three steps, and the relay's side of every session (the io table the
 * state machine in relay-session.c acts through, recording, audit).
 *
 * The first message on a client channel is `open`:
 *   admit    the open's form and protocol, the token's scope, the
 *            signature of the key the token is bound to and revocation
 *            (relay-auth.c), a session id never seen (relay-sids.c), the
 *            agent connected and named in the form its protocol knows,
 *            the token's target, the versions, the per-agent and
 *            per-subject limits (relay-limits.c).  A refusal is audited
 *            and ends the channel with an `error` and a close code.
 *   create   the recording (when wanted; a required one that cannot start
 *            refuses), the session in WAIT (relay_session_new) and the
 *            members session_opened will audit.
 *   forward  the open goes down the agent's control channel with the
 *            session's one-time secret, the token's subject and the token
 *            itself (the agent checks token and signature again).  An open
 *            that cannot be forwarded abandons the session (a refusal, not
 *            a session).
 * Everything admit and create took is held in one struct relay_open and
 * given back in one place (relay_client_open_clear) unless the session
 * took it.  Every later message goes to the state machine.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/agentid.h"
#include "porthole/log.h"
#include "porthole/opensig.h"
#include "porthole/util.h"
#include "relay.h"
#include "relay-agent.h"
#include "relay-audit.h"
#include "relay-auth.h"
#include "relay-client.h"
#include "relay-conn.h"
#include "relay-cross.h"
#include "relay-link.h"
#include "relay-endpoint.h"
#include "relay-limits.h"
#include "relay-metrics.h"
#include "relay-record.h"
#include "relay-session.h"
#include "relay-sids.h"

struct relay_client_remote;

/* A client channel's own state (its c->ep). */
struct relay_client_chan {
	char			*bearer;	/* its token, until the open (wiped) */
	struct relay_session	*sess;		/* once the open passed */
	struct relay_client_remote *remote;	/* the agent's relay being looked up */
};

/* What admitting and creating took, until the session holds it. */
struct relay_open {
	json_t			*o;		/* the open (the frame's) */
	const char		*sid, *op, *sub;
	char			 agent_id[PH_AGENT_ID_MAX + 1];	/* full id */
	struct relay_agent	*agent;
	json_t			*aj;		/* the agent as listed */
	int			 counted;	/* relay_limits_session_add held */
	struct relay_record	*rec;
	char			*rec_error;	/* recording could not start (optional) */
	char			 agent_relay[40];	/* the relay holding the agent (fleet) */
	char			*agent_addr;	/* ... its address, when it is another */
};

/* An open waiting for Redis to say which relay holds its agent. */
struct relay_client_remote {
	struct relay_conn	*c;		/* NULL once the client left */
	struct relay_open	 p;		/* its o is a reference of ours */
	int			 resume;	/* p.o is a `resume`, not an open */
	struct ph_queue		 early;		/* read before the hold took (bounded) */
};

static void
relay_client_open_clear(struct relay_open *p)
{
	char *cause = NULL;

	json_decref(p->aj);
	if (p->counted)
		relay_limits_session_del(p->agent_id, p->sub);
	if (p->rec != NULL) {
		(void)relay_record_finish(p->rec, &cause);
		free(cause);
	}
	free(p->rec_error);
	free(p->agent_addr);
	memset(p, 0, sizeof *p);
}

static int
relay_client_refuse(struct relay_conn *c, const char *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Audit the refusal of an open, then `error` and close.  Always -1. */
static int
relay_client_refuse(struct relay_conn *c, const char *err, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	relay_audit_refusal(c, "session open", err, msg);
	relay_conn_fail(c, err, code, "%s", msg);
	return -1;
}

/*
 * Can the agent (aj, as listed) take this open?  Not one of a newer
 * protocol than it speaks, nor one signed in a weaker form than its
 * protocol requires (opensig.h: a protocol-2 agent takes form 2 only; the
 * agent checks this itself, the relay only says it sooner and clearer).
 */
static int
relay_client_version(struct relay_conn *c, const json_t *o, const json_t *aj)
{
	const char *id = json_string_value(json_object_get(aj, "id"));
	int op = ph_opensig_proto(o);
	int ap = (int)json_integer_value(json_object_get(aj, "proto"));

	if (op > ap)
		return relay_client_refuse(c, PH_ERR_VERSION, PH_CLOSE_VERSION,
		    "agent %s speaks protocol %d, the open is protocol %d: list the "
		    "agents again (or upgrade the agent)", id, ap, op);
	if (ph_opensig_form(op) < ph_opensig_form(ap))
		return relay_client_refuse(c, PH_ERR_VERSION, PH_CLOSE_VERSION,
		    "agent %s speaks protocol %d and takes only opens signed in form "
		    "%d; this open is protocol %d: upgrade porthole (the CLI)", id, ap,
		    ph_opensig_form(ap), op);
	return 0;
}

/* Admit, part one: the open itself and the token that sent it. */
static int
relay_client_admit_open(struct relay_conn *c, struct ph_frame *f, struct relay_open *p)
{
	json_t *pj;
	char *why = NULL;
	int proto;

	if (f->type != PH_FRAME_CONTROL || f->ctl != PH_CTL_OPEN)
		return relay_client_refuse(c, PH_ERR_BAD_MESSAGE, PH_CLOSE_POLICY,
		    "the first message on %s must be open, not %s", PH_PATH_SESSION,
		    f->type == PH_FRAME_CONTROL ? ph_ctl_name(f->ctl) :
		    ph_frame_type_name(f->type));
	p->o = f->json;
	pj = json_object_get(p->o, "proto");
	proto = pj != NULL ? (int)json_integer_value(pj) : 1;
	if (proto < PH_PROTOCOL_VERSION_MIN || proto > PH_PROTOCOL_VERSION)
		return relay_client_refuse(c, PH_ERR_VERSION, PH_CLOSE_VERSION,
		    "client speaks protocol %d, this relay speaks %d-%d: upgrade the %s",
		    proto, PH_PROTOCOL_VERSION_MIN, PH_PROTOCOL_VERSION,
		    proto < PH_PROTOCOL_VERSION_MIN ? "client" : "relay");
	p->sid = json_string_value(json_object_get(p->o, "sid"));
	p->op = json_string_value(json_object_get(p->o, "op"));
	p->sub = c->claims.sub != NULL ? c->claims.sub : "?";
	if (p->sid == NULL || p->op == NULL ||
	    json_string_value(json_object_get(p->o, "agent")) == NULL)
		return relay_client_refuse(c, PH_ERR_BAD_MESSAGE, PH_CLOSE_POLICY,
		    "open needs sid, agent and op");
	if (!ph_claims_allows(&c->claims, p->op))
		return relay_client_refuse(c, PH_ERR_FORBIDDEN, PH_CLOSE_FORBIDDEN,
		    "token for %s lacks scope %s", p->sub, p->op);
	if (relay_auth_open(&c->claims, p->o, &why) != 0) {
		relay_client_refuse(c, PH_ERR_UNAUTHORIZED, PH_CLOSE_UNAUTHORIZED,
		    "open refused: %s", why);
		free(why);
		return -1;
	}
	if (relay_sids_seen(&relay.sids, p->sid))
		return relay_client_refuse(c, PH_ERR_SID_REUSED, PH_CLOSE_CONFLICT,
		    "session id %s was used before: draw a new one", p->sid);
	if (relay_sids_add(&relay.sids, p->sid) != 0)
		return relay_client_refuse(c, PH_ERR_INTERNAL, PH_CLOSE_INTERNAL,
		    "out of memory");
	return 0;
}

/*
 * Admit, part two: the agent it names, here.  1 when it is not here but
 * the fleet may know where it is (relay-cross.c).
 */
static int
relay_client_admit_agent(struct relay_conn *c, struct relay_open *p)
{
	const char *id = json_string_value(json_object_get(p->o, "agent"));
	const char *asub = json_string_value(json_object_get(p->o, "agent_sub"));

	/*
	 * The agent's full id: `agent`, or for an agent of protocol 1 (which
	 * knows only its claimed id, and checks that the open names it)
	 * `agent`@`agent_sub` (docs/protocol.md, "Agent identity").
	 */
	if ((size_t)snprintf(p->agent_id, sizeof p->agent_id, "%s%s%s", id,
	    asub != NULL ? "@" : "", asub != NULL ? asub : "") >= sizeof p->agent_id)
		return relay_client_refuse(c, PH_ERR_BAD_MESSAGE, PH_CLOSE_POLICY,
		    "agent and agent_sub are too long for an agent id");
	if ((p->agent = relay_agent_find(&relay.agents, p->agent_id)) == NULL ||
	    !relay_agent_ready(p->agent)) {
		p->agent = NULL;
		if (relay_redis_up() && relay_link_ready())
			return 1;
		return relay_client_refuse(c, PH_ERR_NO_AGENT, PH_CLOSE_NOT_FOUND,
		    "agent %s is not connected to this relay%s", p->agent_id,
		    relay_redis_on() ? " (and the fleet's directory cannot be asked now)" :
		    "");
	}
	snprintf(p->agent_relay, sizeof p->agent_relay, "%s", relay_fleet_id());
	p->aj = relay_agent_json(p->agent);
	return 0;
}

/* Admit, part three: what the agent (aj, as listed; protocol ap) takes, and the limits. */
static int
relay_client_admit_checks(struct relay_conn *c, struct relay_open *p, int ap)
{
	const char *asub = json_string_value(json_object_get(p->o, "agent_sub"));
	char *cause = NULL;

	if (ap < PH_PROTOCOL_QUALIFIED_IDS && asub == NULL)
		return relay_client_refuse(c, PH_ERR_VERSION, PH_CLOSE_VERSION,
		    "agent %s speaks protocol %d, which only a CLI of protocol %d or "
		    "later can reach (its open names the agent as it knows itself): "
		    "upgrade the CLI", p->agent_id, ap, PH_PROTOCOL_QUALIFIED_IDS);
	if (ap >= PH_PROTOCOL_QUALIFIED_IDS && asub != NULL)
		return relay_client_refuse(c, PH_ERR_BAD_MESSAGE, PH_CLOSE_POLICY,
		    "agent %s speaks protocol %d: name it by its full id, without "
		    "agent_sub", p->agent_id, ap);
	if (p->aj == NULL || !relay_auth_may_touch(&c->claims, p->aj))
		return relay_client_refuse(c, PH_ERR_FORBIDDEN, PH_CLOSE_FORBIDDEN,
		    "token for %s may not touch agent %s", p->sub, p->agent_id);
	if (relay_client_version(c, p->o, p->aj) != 0)
		return -1;
	if (relay_limits_session_add(p->agent_id, p->sub, &cause) != 0) {
		relay_client_refuse(c, PH_ERR_LIMIT, PH_CLOSE_LIMIT, "%s", cause);
		free(cause);
		return -1;
	}
	p->counted = 1;
	return 0;
}

/* Create, part one: the recording, when the operation is recorded. */
static int
relay_client_record(struct relay_conn *c, struct relay_open *p)
{
	int req = relay_record_required();

	if (!relay_record_wanted(p->op))
		return 0;
	p->rec = relay_record_start(p->sid, p->o, json_string_value(json_object_get(p->aj,
	    "name")), p->sub, &p->rec_error);
	if (p->rec != NULL)
		return 0;
	ph_warn("session %.8s: cannot record: %s", p->sid, p->rec_error);
	relay_audit("recording_failed", json_pack("{s:s,s:s,s:b,s:s}", "sid", p->sid,
	    "error", p->rec_error, "required", req, "action",
	    req ? "session refused" : "session goes on unrecorded"));
	if (req)
		return relay_client_refuse(c, RELAY_ERR_RECORDING, PH_CLOSE_INTERNAL,
		    "the relay cannot record this session (%.300s) and recordings are "
		    "required: ask the relay's operator", p->rec_error);
	return 0;
}

/* Create, part two: session_opened's members. */
static json_t *
relay_client_audit_members(struct relay_conn *c, const struct relay_open *p)
{
	json_t *a, *argv = json_object_get(p->o, "argv");

	a = json_pack("{s:s,s:s,s:s,s:O,s:b,s:{s:s,s:s,s:s,s:O}}", "sid", p->sid,
	    "sub", p->sub, "op", p->op, "argv", argv != NULL ? argv : json_null(),
	    "tty", json_is_true(json_object_get(p->o, "tty")), "agent", "id",
	    p->agent_id, "name", json_string_value(json_object_get(p->aj, "name")),
	    "sub", json_string_value(json_object_get(p->aj, "sub")), "labels",
	    json_object_get(p->aj, "labels"));
	if (a == NULL)
		return NULL;
	relay_audit_origin(a, c);
	if (relay_redis_on())
		json_object_set_new(a, "relays", json_pack("{s:s,s:s}", "client",
		    relay_fleet_id(), "agent", p->agent_relay));
	if (json_object_get(p->o, "pid") != NULL)
		json_object_set(a, "pid", json_object_get(p->o, "pid"));
	if (json_object_get(p->o, "container") != NULL)
		json_object_set(a, "container", json_object_get(p->o, "container"));
	json_object_set_new(a, "recording", p->rec != NULL ?
	    json_string(relay_record_path(p->rec)) : json_null());
	if (p->rec_error != NULL)
		json_object_set_new(a, "recording_error", json_string(p->rec_error));
	return a;
}

/* Create: the session in WAIT, holding what admit and create took. */
static struct relay_session *
relay_client_create(struct relay_conn *c, struct relay_open *p)
{
	struct relay_session *s;
	json_t *audit;
	char *cause = NULL;

	if (relay_client_record(c, p) != 0)
		return NULL;
	if ((audit = relay_client_audit_members(c, p)) == NULL ||
	    (s = relay_session_new(&relay.sessions, c, p->sid, p->agent_id, p->op, p->sub,
	    ph_mono_ms(), &cause)) == NULL) {
		json_decref(audit);
		relay_client_refuse(c, PH_ERR_INTERNAL, PH_CLOSE_INTERNAL, "%s",
		    cause != NULL ? cause : "out of memory");
		free(cause);
		return NULL;
	}
	s->audit = audit;
	s->rec = p->rec;
	p->rec = NULL;
	p->counted = 0;		/* relay_client_freed gives it back */
	snprintf(s->peer, sizeof s->peer, "%s", c->peer);
	((struct relay_client_chan *)c->ep)->sess = s;
	return s;
}

/*
 * Forward: the open with the secret, who asked and the client's token
 * (the agent checks token and signature again); the rest untouched.  The
 * token is wiped from the relay's memory either way.
 */
static int
relay_client_forward(struct relay_conn *c, struct relay_session *s, struct relay_open *p)
{
	struct relay_client_chan *ch = c->ep;
	int r;

	char *cause = NULL;

	/*
	 * A sealed session that is recorded: the agent is asked for a clear
	 * copy of what the recording keeps (docs/protocol.md, "End-to-end
	 * sessions"); a client cannot ask for it itself.
	 */
	json_object_del(p->o, "record");
	r = (s->rec != NULL && json_object_get(p->o, "seal") != NULL &&
	    json_object_set_new(p->o, "record", json_true()) != 0) ||
	    json_object_set_new(p->o, "secret", json_string(s->secret)) != 0 ||
	    json_object_set_new(p->o, "sub", json_string(s->sub)) != 0 ||
	    ch->bearer == NULL ||
	    json_object_set_new(p->o, "token", json_string(ch->bearer)) != 0;
	if (r == 0)
		relay_cross_publish(s);		/* before the agent can attach anywhere */
	if (r == 0 && p->agent != NULL)
		r = relay_agent_send(p->agent, p->o) != 0;
	else if (r == 0 && relay_cross_open(s, p->agent_addr, json_incref(p->o), &cause) != 0) {
		ph_info("session %.8s: cannot send the open to agent %s's relay at %s: %s",
		    s->sid, p->agent_id, p->agent_addr, cause);
		r = 1;
	}
	free(cause);
	json_object_del(p->o, "token");
	relay_auth_wipe(&ch->bearer);
	if (r != 0) {
		relay_session_abandon(&relay.sessions, s, "open not forwarded");
		json_decref(s->audit);		/* never opened: a refusal, not a session */
		s->audit = NULL;
		return relay_client_refuse(c, PH_ERR_NO_AGENT, PH_CLOSE_NOT_FOUND,
		    "cannot forward the open to agent %s: its control channel is "
		    "closing or full, or the request is too large", p->agent_id);
	}
	ph_info("session %.8s opened: op=%s agent=%s sub=%s peer=%s%s%s", s->sid, s->op,
	    s->agent_id, s->sub, s->peer, p->agent == NULL ? " agent_relay=" : "",
	    p->agent == NULL ? p->agent_addr : "");
	relay_metrics_session(s->op, 1);
	relay_audit("session_opened", json_deep_copy(s->audit));
	return 0;
}

/* The rest of an open, once the agent is found (here, or at aj's relay). */
static void
relay_client_open_rest(struct relay_conn *c, struct relay_open *p, int ap)
{
	struct relay_session *s;

	if (relay_client_admit_checks(c, p, ap) == 0 &&
	    (s = relay_client_create(c, p)) != NULL)
		(void)relay_client_forward(c, s, p);
}

static void
relay_client_remote_free(struct relay_client_remote *r)
{
	json_decref(r->p.o);
	relay_client_open_clear(&r->p);
	ph_queue_free(&r->early);
	free(r);
}

/* What the client sent after its open while the directory was asked, to the session. */
static void
relay_client_replay(struct relay_conn *c, struct ph_queue *q)
{
	struct relay_client_chan *ch = c->ep;
	struct ph_qitem *it;
	struct ph_frame f;
	const char *cause;
	int code;

	while ((it = ph_queue_peek(q)) != NULL) {
		if (ch->sess != NULL && ph_frame_decode(it->data + PH_HEADROOM, it->len, &f,
		    &code, &cause) == 0) {
			relay_session_client_frame(&relay.sessions, ch->sess, &f,
			    it->data + PH_HEADROOM, it->len);
			ph_frame_clear(&f);
		}
		ph_queue_pop(q);
	}
}

static void	relay_client_resume_rest(struct relay_conn *c, json_t *o, const char *id,
		    struct relay_agent *agent, json_t *aj, const char *rid, const char *addr);

/* Redis said which relay holds the agent (entry NULL: none). */
static void
relay_client_found(json_t *entry, const char *rid, const char *addr, void *arg)
{
	struct relay_client_remote *r = arg;
	struct relay_conn *c = r->c;
	struct relay_open *p = &r->p;
	struct relay_client_chan *ch;

	if (c == NULL) {
		relay_client_remote_free(r);
		return;
	}
	ch = c->ep;
	ch->remote = NULL;
	if (entry == NULL || rid == NULL || strcmp(rid, relay_fleet_id()) == 0)
		relay_client_refuse(c, PH_ERR_NO_AGENT, PH_CLOSE_NOT_FOUND,
		    "agent %s is not connected to any relay of the fleet%s%s", p->agent_id,
		    entry == NULL && !relay_redis_up() ? " (the fleet's directory did not "
		    "answer)" : "", r->resume ? ": try again" : "");
	else if (r->resume) {
		relay_client_resume_rest(c, p->o, p->agent_id, NULL, entry, rid, addr);
		relay_client_replay(c, &r->early);
	} else {
		snprintf(p->agent_relay, sizeof p->agent_relay, "%s", rid);
		p->agent_addr = strdup(addr);
		p->aj = json_incref(entry);
		relay_client_open_rest(c, p, (int)json_integer_value(json_object_get(entry,
		    "proto")));
		relay_client_replay(c, &r->early);
	}
	relay_conn_resume(c, RELAY_PAUSE_LOOKUP);
	relay_client_remote_free(r);
}

/*
 * Ask the directory which relay holds p's agent (p.o an open, or a
 * `resume` when resume), the client held meanwhile; p is taken either way.
 */
static void
relay_client_lookup(struct relay_conn *c, struct relay_open *p, int resume)
{
	struct relay_client_chan *ch = c->ep;
	struct relay_client_remote *r;

	if ((r = calloc(1, sizeof *r)) == NULL) {
		relay_client_open_clear(p);
		relay_client_refuse(c, PH_ERR_INTERNAL, PH_CLOSE_INTERNAL, "out of memory");
		return;
	}
	r->c = c;
	r->p = *p;
	r->resume = resume;
	json_incref(r->p.o);
	ph_queue_init(&r->early, 0, 0, RELAY_Q_LIMIT);
	if (relay_cross_find(p->agent_id, relay_client_found, r) != 0) {
		relay_client_refuse(c, PH_ERR_NO_AGENT, PH_CLOSE_NOT_FOUND,
		    "agent %s is not connected to this relay (and the fleet's directory "
		    "cannot be asked now)%s", p->agent_id, resume ? ": try again" : "");
		relay_client_remote_free(r);
		return;
	}
	ch->remote = r;
	relay_conn_pause(c, RELAY_PAUSE_LOOKUP);
}

/* The first message of a client channel: `open`. */
static void
relay_client_open(struct relay_conn *c, struct ph_frame *f)
{
	struct relay_open p;
	int rc;

	memset(&p, 0, sizeof p);
	if (relay_client_admit_open(c, f, &p) != 0 ||
	    (rc = relay_client_admit_agent(c, &p)) < 0) {
		relay_client_open_clear(&p);
		return;
	}
	if (rc == 0) {
		relay_client_open_rest(c, &p, relay_agent_proto(p.agent));
		relay_client_open_clear(&p);
		return;
	}
	/* Another relay's agent, maybe: ask the directory, the client held meanwhile. */
	relay_client_lookup(c, &p, 0);
}

/*
 * The first message of a client channel is `resume` {sid, agent,
 * challenge}: a client takes back a sealed session whose channel dropped
 * (docs/protocol.md, "Resume").  The relay may know nothing of it (it
 * restarted): it checks the token as for an open, that the agent is
 * connected here or to another relay of the fleet (the directory says
 * which) and that the token's target selects it, and asks the agent,
 * which holds the session, checks that the token's subject is the
 * session's and answers on a new data channel with its proof.  The
 * session is sealed from its start; the proofs pass in the clear.
 */
static void
relay_client_resume(struct relay_conn *c, struct ph_frame *f)
{
	struct relay_agent *agent;
	struct relay_open p;
	const char *sid, *id;
	json_t *aj;

	sid = json_string_value(json_object_get(f->json, "sid"));
	id = json_string_value(json_object_get(f->json, "agent"));
	if (id == NULL || sid == NULL || !ph_sid_valid(sid) || strlen(id) > PH_AGENT_ID_MAX) {
		relay_client_refuse(c, PH_ERR_BAD_MESSAGE, PH_CLOSE_POLICY,
		    "resume needs sid, agent and challenge");
		return;
	}
	if ((agent = relay_agent_find(&relay.agents, id)) != NULL &&
	    relay_agent_ready(agent)) {
		aj = relay_agent_json(agent);
		relay_client_resume_rest(c, f->json, id, agent, aj, relay_fleet_id(), NULL);
		json_decref(aj);
		return;
	}
	if (!relay_redis_up() || !relay_link_ready()) {
		relay_client_refuse(c, PH_ERR_NO_AGENT, PH_CLOSE_NOT_FOUND,
		    "agent %s is not connected to this relay: try again", id);
		return;
	}
	/* Another relay of the fleet may hold it: ask the directory. */
	memset(&p, 0, sizeof p);
	p.o = f->json;
	snprintf(p.agent_id, sizeof p.agent_id, "%s", id);
	relay_client_lookup(c, &p, 1);
}

/*
 * The rest of a resume (o, the client's), its agent found: here (agent),
 * or at relay rid whose address is addr.  aj is the agent as listed
 * (borrowed).
 */
static void
relay_client_resume_rest(struct relay_conn *c, json_t *o, const char *id,
    struct relay_agent *agent, json_t *aj, const char *rid, const char *addr)
{
	struct relay_client_chan *ch = c->ep;
	struct relay_session *s;
	const char *sid = json_string_value(json_object_get(o, "sid"));
	const char *sub = c->claims.sub != NULL ? c->claims.sub : "?";
	json_t *m = NULL;
	char *cause = NULL;
	int proto, r;

	if (aj == NULL || !relay_auth_may_touch(&c->claims, aj)) {
		relay_client_refuse(c, PH_ERR_FORBIDDEN, PH_CLOSE_FORBIDDEN,
		    "token for %s may not touch agent %s", sub, id);
		return;
	}
	proto = agent != NULL ? relay_agent_proto(agent) :
	    (int)json_integer_value(json_object_get(aj, "proto"));
	if (proto < PH_PROTOCOL_SEALED) {
		relay_client_refuse(c, PH_ERR_VERSION, PH_CLOSE_VERSION,
		    "agent %s does not seal sessions, so none of its sessions resumes", id);
		return;
	}
	if (relay_record_required()) {
		relay_client_refuse(c, PH_ERR_RESUME, PH_CLOSE_FORBIDDEN, "the session "
		    "cannot resume: this relay requires recordings, and a resumed "
		    "session's recording is not carried on");
		return;
	}
	if (relay_limits_session_add(id, sub, &cause) != 0) {
		relay_client_refuse(c, PH_ERR_LIMIT, PH_CLOSE_LIMIT, "%s", cause);
		free(cause);
		return;
	}
	if ((s = relay_session_new(&relay.sessions, c, sid, id, "resume", sub,
	    ph_mono_ms(), &cause)) == NULL) {
		relay_limits_session_del(id, sub);
		relay_client_refuse(c, PH_ERR_CONFLICT, PH_CLOSE_CONFLICT,
		    "session %.8s is still open on this relay (%s): try again", sid,
		    cause != NULL ? cause : "out of memory");
		free(cause);
		return;
	}
	s->sealed = 1;
	s->resuming = 1;
	snprintf(s->peer, sizeof s->peer, "%s", c->peer);
	ch->sess = s;
	s->audit = json_pack("{s:s,s:s,s:s,s:b,s:{s:s,s:s,s:s,s:O}}", "sid", sid,
	    "sub", sub, "op", "resume", "resumed", 1, "agent", "id", id, "name",
	    json_string_value(json_object_get(aj, "name")), "sub",
	    json_string_value(json_object_get(aj, "sub")), "labels",
	    json_object_get(aj, "labels"));
	if (s->audit != NULL) {
		relay_audit_origin(s->audit, c);
		if (relay_redis_on())
			json_object_set_new(s->audit, "relays", json_pack("{s:s,s:s}",
			    "client", relay_fleet_id(), "agent", rid));
	}
	m = ph_ctl_new(PH_CTL_RESUME);
	r = m == NULL || json_object_set_new(m, "sid", json_string(sid)) != 0 ||
	    json_object_set(m, "challenge", json_object_get(o, "challenge")) != 0 ||
	    json_object_set_new(m, "secret", json_string(s->secret)) != 0 ||
	    json_object_set_new(m, "sub", json_string(sub)) != 0;
	if (r == 0)
		relay_cross_publish(s);		/* before the agent can attach anywhere */
	if (r == 0 && agent != NULL)
		r = relay_agent_send(agent, m) != 0;
	else if (r == 0 && (json_object_set_new(m, "agent", json_string(id)) != 0 ||
	    relay_cross_open(s, addr, json_incref(m), &cause) != 0)) {
		ph_info("session %.8s: cannot send the resume to agent %s's relay at %s: %s",
		    s->sid, id, addr, cause != NULL ? cause : "out of memory");
		r = 1;
	}
	free(cause);
	json_decref(m);
	if (r != 0) {
		relay_session_abandon(&relay.sessions, s, "resume not forwarded");
		json_decref(s->audit);
		s->audit = NULL;
		relay_client_refuse(c, PH_ERR_NO_AGENT, PH_CLOSE_NOT_FOUND,
		    "cannot ask agent %s to resume the session: its control channel "
		    "is closing or full, or its relay cannot be reached: try again", id);
		return;
	}
	relay_auth_wipe(&ch->bearer);
	ph_info("session %.8s resume asked: agent=%s sub=%s peer=%s%s%s", s->sid, id, sub,
	    s->peer, agent == NULL ? " agent_relay=" : "", agent == NULL ? addr : "");
	relay_metrics_session(s->op, 1);
	if (s->audit != NULL)
		relay_audit("session_resume", json_deep_copy(s->audit));
}

/* A client channel starts: its own state, empty. */
static int
relay_client_start(struct relay_conn *c, const char *sid)
{
	(void)sid;
	if ((c->ep = calloc(1, sizeof(struct relay_client_chan))) == NULL) {
		relay_conn_fail(c, PH_ERR_INTERNAL, PH_CLOSE_INTERNAL, "out of memory");
		return -1;
	}
	return 0;
}

/* Its token verified: kept (to forward with the open) until the open. */
static void
relay_client_authed(struct relay_conn *c, char *bearer)
{
	struct relay_client_chan *ch = c->ep;

	ch->bearer = bearer;
}

/* A decoded message on a client channel. */
static void
relay_client_rx(struct relay_conn *c, struct ph_frame *f, const uint8_t *msg, size_t len)
{
	struct relay_client_chan *ch = c->ep;

	if (ch->remote != NULL) {
		/* Read before the hold took: kept (bounded) for the session. */
		if (ph_queue_push(&ch->remote->early, -1, msg, len) != 0)
			relay_client_refuse(c, PH_ERR_INTERNAL, PH_CLOSE_INTERNAL,
			    "too much input before the session started");
		return;
	}
	if (ch->sess == NULL && f->type == PH_FRAME_CONTROL && f->ctl == PH_CTL_RESUME)
		relay_client_resume(c, f);
	else if (ch->sess == NULL)
		relay_client_open(c, f);
	else
		relay_session_client_frame(&relay.sessions, ch->sess, f, msg, len);
}

static void
relay_client_drained(struct relay_conn *c)
{
	struct relay_client_chan *ch = c->ep;

	if (ch != NULL && ch->sess != NULL)
		relay_session_drained(&relay.sessions, ch->sess, c);
}

static void
relay_client_closed(struct relay_conn *c)
{
	struct relay_client_chan *ch = c->ep;
	struct relay_session *s;

	if (ch == NULL)
		return;
	c->ep = NULL;
	relay_auth_wipe(&ch->bearer);
	if (ch->remote != NULL)
		ch->remote->c = NULL;	/* relay_client_found frees it */
	s = ch->sess;
	free(ch);
	if (s != NULL)
		relay_session_client_closed(&relay.sessions, s);
}

const struct relay_endpoint relay_client_endpoint = {
	.what = "session",
	.token = PH_TOKEN_CLIENT,
	.keep_bearer = 1,
	.q_low = RELAY_Q_LOW,
	.q_high = RELAY_Q_HIGH,
	.q_limit = RELAY_Q_LIMIT,
	.start = relay_client_start,
	.authed = relay_client_authed,
	.rx = relay_client_rx,
	.drained = relay_client_drained,
	.closed = relay_client_closed,
};

/*
 * The recording failed (err says why): audit it; with recordings required
 * the session ends here (the output that could not be recorded is not
 * forwarded).  -1 when the session is closing because of it.
 */
static int
relay_client_recording_failed(struct relay_sessions *ss, struct relay_session *s,
    const char *err)
{
	char why[160], msg[512];
	int req = relay_record_required();

	ph_warn("session %.8s: recording failed: %s%s", s->sid, err,
	    req ? "; recordings are required: closing the session" : "");
	relay_audit("recording_failed", json_pack("{s:s,s:s,s:s,s:b,s:s}", "sid", s->sid,
	    "recording", relay_record_path(s->rec), "error", err, "required", req,
	    "action", req ? "session closed" : "session goes on unrecorded"));
	if (s->audit != NULL)
		json_object_set_new(s->audit, "recording_error", json_string(err));
	if (!req)
		return 0;
	snprintf(why, sizeof why, "recording failed: %s", err);
	snprintf(msg, sizeof msg, "the relay could not record this session (%s) and "
	    "recordings are required: the session was closed", err);
	relay_session_abort(ss, s, why, RELAY_ERR_RECORDING, PH_CLOSE_INTERNAL, msg);
	return -1;
}

/* The recording's writer failed. */
static int
relay_client_record_failed(struct relay_sessions *ss, struct relay_session *s)
{
	return relay_client_recording_failed(ss, s, relay_record_error(s->rec));
}

/*
 * A sealed session the relay records but whose agent sends no copy (its
 * `seal` lacks `record`): what the relay cannot read it cannot record.
 */
static int
relay_client_no_copy(struct relay_sessions *ss, struct relay_session *s)
{
	return relay_client_recording_failed(ss, s,
	    "the agent sends no copy of the sealed session for the recording");
}

/*
 * A COPY frame of a sealed session: the agent's clear copy of its output
 * or of a resize, for the recording only (never forwarded).  -1 when the
 * recording failed and the session was ended; 0 else.
 */
static int
relay_client_copy(struct relay_sessions *ss, struct relay_session *s,
    const struct ph_frame *f)
{
	struct ph_frame in;
	const char *why = NULL;
	int code, r = 0;

	if (s->rec == NULL || f->len < 1)
		return 0;
	if (f->payload[0] == PH_FRAME_STDOUT || f->payload[0] == PH_FRAME_STDERR) {
		if (relay_record_output(s->rec, f->payload[0] == PH_FRAME_STDERR,
		    f->payload + 1, f->len - 1) < 0)
			return relay_client_record_failed(ss, s);
		return 0;
	}
	if (ph_frame_decode(f->payload, f->len, &in, &code, &why) != 0)
		return 0;	/* not something a recording keeps: ignored */
	if (in.type == PH_FRAME_CONTROL && in.ctl == PH_CTL_RESIZE &&
	    relay_record_resize(s->rec, in.json) < 0)
		r = relay_client_record_failed(ss, s);
	ph_frame_clear(&in);
	return r;
}

/*
 * The agent's `report` of one forwarded connection: audited as
 * `forward_stream` with the session's sid, agent and sub (the relay's,
 * not the agent's word), never passed to the client; a shell detached or
 * attached again (kind detach, attach) as `session_detached` or
 * `session_attached`.  Returns 1: dropped.
 */
static int
relay_client_report(struct relay_session *s, json_t *report)
{
	const char *kind;
	json_t *o;

	if ((o = json_deep_copy(report)) == NULL)
		return 1;
	json_object_del(o, "type");
	json_object_set_new(o, "sid", json_string(s->sid));
	json_object_set_new(o, "agent", json_string(s->agent_id));
	json_object_set_new(o, "sub", json_string(s->sub));
	kind = json_string_value(json_object_get(report, "kind"));
	relay_audit(strcmp(kind, "forward") == 0 ? "forward_stream" :
	    strcmp(kind, "detach") == 0 ? "session_detached" :
	    strcmp(kind, "attach") == 0 ? "session_attached" : "agent_report", o);
	return 1;
}

/* io->passing: recording, the exit for the audit, the agent's reports. */
static int
relay_client_passing(struct relay_sessions *ss, struct relay_session *s, int from_agent,
    const struct ph_frame *f, const uint8_t *msg, size_t len)
{
	json_t *v;

	if (!from_agent) {
		if (f->type == PH_FRAME_CONTROL && f->ctl == PH_CTL_RESIZE && s->rec != NULL &&
		    relay_record_resize(s->rec, f->json) < 0)
			return relay_client_record_failed(ss, s);
		return 0;
	}
	if (s->resuming && f->type == PH_FRAME_SEALED && s->audit != NULL) {
		relay_audit("session_resumed", json_pack("{s:s,s:s,s:s,s:s}", "sid",
		    s->sid, "sub", s->sub, "agent", s->agent_id, "peer", s->peer));
		ph_info("session %.8s resumed: agent=%s sub=%s", s->sid, s->agent_id,
		    s->sub);
	}
	if (s->resuming && f->type == PH_FRAME_CONTROL && f->ctl == PH_CTL_ERROR &&
	    s->audit != NULL) {
		relay_audit("session_resume_refused", json_pack("{s:s,s:s,s:s,s:s,s:s?,"
		    "s:s?}", "sid", s->sid, "sub", s->sub, "agent", s->agent_id, "peer",
		    s->peer, "code", json_string_value(json_object_get(f->json, "code")),
		    "reason", json_string_value(json_object_get(f->json, "message"))));
		ph_info("session %.8s: the agent refused the resume: %s", s->sid,
		    json_string_value(json_object_get(f->json, "message")));
	}
	if (f->type == PH_FRAME_CONTROL && f->ctl == PH_CTL_SEAL && s->rec != NULL &&
	    !json_is_true(json_object_get(f->json, "record")))
		return relay_client_no_copy(ss, s);
	if (f->type == PH_FRAME_COPY)
		return relay_client_copy(ss, s, f) < 0 ? -1 : 1;
	if (f->type == PH_FRAME_CONTROL && f->ctl == PH_CTL_REPORT)
		return relay_client_report(s, f->json);
	if (s->rec != NULL && (f->type == PH_FRAME_STDOUT || f->type == PH_FRAME_STDERR) &&
	    relay_record_output(s->rec, f->type == PH_FRAME_STDERR, msg + 1, len - 1) < 0)
		return relay_client_record_failed(ss, s);
	if (f->type == PH_FRAME_CONTROL && f->ctl == PH_CTL_EXIT && s->audit != NULL &&
	    (v = json_deep_copy(f->json)) != NULL) {
		json_object_del(v, "type");
		json_object_set_new(s->audit, "exit", v);
	}
	return 0;
}

/* The session's last words: recording closed, session_closed audited. */
static void
relay_client_audit_closed(struct relay_session *s)
{
	char *cause = NULL;

	if (s->rec != NULL) {
		if (relay_record_finish(s->rec, &cause) != 0) {
			relay_audit("recording_failed", json_pack("{s:s,s:s,s:b,s:s}",
			    "sid", s->sid, "error", cause, "required",
			    relay_record_required(), "action", "recording ended incomplete"));
			if (s->audit != NULL)
				json_object_set_new(s->audit, "recording_error",
				    json_string(cause));
		}
		free(cause);
		s->rec = NULL;
	}
	if (s->audit == NULL)
		return;
	relay_metrics_session(s->op, -1);
	json_object_set_new(s->audit, "bytes", json_pack("{s:I,s:I}",
	    "to_agent", (json_int_t)s->to_agent, "to_client", (json_int_t)s->to_client));
	json_object_set_new(s->audit, "duration_ms", json_integer(ph_mono_ms() - s->t0));
	if (json_object_get(s->audit, "exit") == NULL)
		json_object_set_new(s->audit, "exit", json_null());
	json_object_set_new(s->audit, "end", json_string(s->end[0] != '\0' ? s->end :
	    "closed"));
	relay_audit("session_closed", s->audit);
	s->audit = NULL;
}

/* io->freed: the log line, the audit, the limits given back. */
static void
relay_client_freed(struct relay_sessions *ss, struct relay_session *s)
{
	(void)ss;
	ph_info("session %.8s closed: op=%s agent=%s sub=%s to_agent=%llu "
	    "to_client=%llu msgs_to_client=%llu duration=%.3fs end=%s", s->sid, s->op,
	    s->agent_id, s->sub, (unsigned long long)s->to_agent,
	    (unsigned long long)s->to_client, (unsigned long long)s->msgs_to_client,
	    (double)(ph_mono_ms() - s->t0) / 1000.0,
	    s->end[0] != '\0' ? s->end : "closed");
	relay_client_audit_closed(s);
	relay_limits_session_del(s->agent_id, s->sub);
}

static int
relay_client_io_send(struct relay_conn *c, const void *msg, size_t len)
{
	return relay_conn_send(c, msg, len);
}

static size_t
relay_client_io_queued(const struct relay_conn *c)
{
	return c->tx.bytes;
}

static int
relay_client_io_over_high(const struct relay_conn *c)
{
	return ph_queue_over_high(&c->tx);
}

static int
relay_client_io_under_low(const struct relay_conn *c)
{
	return ph_queue_under_low(&c->tx);
}

static int
relay_client_io_closing(const struct relay_conn *c)
{
	return relay_conn_closing(c);
}

static void
relay_client_io_fail(struct relay_conn *c, const char *err, int code, const char *msg)
{
	relay_conn_fail(c, err, code, "%s", msg);
}

/* The hold reasons are the connection's pause reasons. */
_Static_assert(RELAY_HOLD_ATTACH == RELAY_PAUSE_ATTACH &&
    RELAY_HOLD_PEER == RELAY_PAUSE_PEER,
    "session hold reasons are connection pause reasons");

const struct relay_session_io relay_client_session_io = {
	.send = relay_client_io_send,
	.queued = relay_client_io_queued,
	.over_high = relay_client_io_over_high,
	.under_low = relay_client_io_under_low,
	.closing = relay_client_io_closing,
	.fail = relay_client_io_fail,
	.close = relay_conn_close,
	.hold = relay_conn_pause,
	.release = relay_conn_resume,
	.passing = relay_client_passing,
	.freed = relay_client_freed,
};
