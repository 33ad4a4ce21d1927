/*
 * relay-cross.c - sessions across the relays of a fleet (relay-cross.h;
 * docs/protocol.md, "Relay to relay").
 *
 * Three relays may take part in one session: the one the client reached
 * (it holds the session: the state machine of relay-session.c, the
 * recording, the audit), the one holding the agent's control channel
 * (it only hands the open to the agent), and the one the load balancer
 * landed the agent's data channel on (it carries that channel to the
 * session's relay).  Any two of them may be the same relay.
 *
 *   open     the client's relay finds the agent's relay in Redis (its claim,
 *            its entry, its --advertise: one script) and sends it the
 *            open, secret and client token included, over a link of its own
 *            (relay-link.c).  That relay hands it to the agent and closes
 *            the link with 1000, or refuses it (`error`, a close code),
 *            which the client hears as if it were local.  A client's
 *            `resume` goes the same way (the relay's `resume` to the
 *            agent, with the agent's id added).
 *   entry    the session's relay writes ph:session:SID = "RID HASH" (its
 *            relay id and the sha256 of the one-time secret, never the
 *            secret), TTL RELAY_CROSS_SESSION_SECS, for every session while
 *            Redis is up.
 *   carry    a data channel whose session is not here: its `attach` is
 *            checked against that entry (the hash), then sent on over a
 *            link to the session's relay, where it attaches as if the
 *            agent had dialed it; from then on every message is passed on
 *            untouched, each direction paused while the other side's queue
 *            is over its high mark.  A channel that came over a link is
 *            never carried further: bytes cross at most one link.
 * Opens and secrets never go through Redis.  Each session has a link of
 * its own, so a slow session never holds up another.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "porthole/agentid.h"
#include "porthole/log.h"
#include "porthole/printable.h"
#include "porthole/util.h"
#include "relay.h"
#include "relay-audit.h"
#include "relay-conn.h"
#include "relay-cross.h"
#include "relay-data.h"
#include "relay-link.h"
#include "relay-redis.h"

static const char cross_session_lua[] =
"local v = redis.call('GET', KEYS[1])\n"
"if not v then return {} end\n"
"local sp = string.find(v, ' ', 1, true)\n"
"if not sp then return {} end\n"
"local a = redis.call('GET', 'ph:relay:' .. string.sub(v, 1, sp - 1)) or ''\n"
"return {v, a}\n";

static const char cross_agent_lua[] =
"local c = redis.call('GET', KEYS[1])\n"
"if not c then return {} end\n"
"local sp = string.find(c, ' ', 1, true)\n"
"if not sp then return {} end\n"
"local rid = string.sub(c, 1, sp - 1)\n"
"local a = redis.call('GET', 'ph:relay:' .. rid)\n"
"if not a then return {} end\n"
"local e = redis.call('HGET', 'ph:relay:' .. rid .. ':agents', ARGV[1])\n"
"if not e then return {} end\n"
"return {rid, e, a}\n";

/* sha256 of the secret, hex. */
static void
cross_hash(const char *secret, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0, i;

	if (EVP_Digest(secret, strlen(secret), md, &n, EVP_sha256(), NULL) != 1)
		n = 0;
	for (i = 0; i < n && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[2 * i] = '\0';
}

/* A relay's --advertise, from its alive entry (JSON); NULL if none. */
static char *
cross_addr(const struct relay_reply *alive)
{
	json_t *j;
	const char *a;
	char *out = NULL;

	if (alive == NULL || alive->type != RELAY_REPLY_STRING || alive->len == 0)
		return NULL;
	if ((j = json_loadb(alive->str, alive->len, 0, NULL)) == NULL)
		return NULL;
	if ((a = json_string_value(json_object_get(j, "advertise"))) != NULL && *a != '\0')
		out = strdup(a);
	json_decref(j);
	return out;
}

void
relay_cross_publish(const struct relay_session *s)
{
	char key[64], val[128], hash[65], secs[16];

	if (!relay_redis_up())
		return;
	cross_hash(s->secret, hash);
	snprintf(key, sizeof key, "ph:session:%s", s->sid);
	snprintf(val, sizeof val, "%s %s", relay_fleet_id(), hash);
	snprintf(secs, sizeof secs, "%d", RELAY_CROSS_SESSION_SECS);
	relay_redis_cmdv(NULL, NULL, "SET", key, val, "EX", secs, NULL);
}

void
relay_cross_attached(struct relay_session *s, const char *via)
{
	json_t *r;

	if (via != NULL)
		relay.metrics.cross_attached++;
	if (s->audit == NULL || !relay_redis_on())
		return;
	if ((r = json_object_get(s->audit, "relays")) != NULL)
		json_object_set_new(r, "data", json_string(via != NULL ? via : relay_fleet_id()));
}

/* ---- finding the agent's relay ---- */

struct cross_find {
	relay_cross_found	 done;
	void			*arg;
};

static void
cross_find_reply(struct relay_reply *rp, void *arg)
{
	struct cross_find *cf = arg;
	json_t *entry = NULL;
	char *addr = NULL;
	const char *rid = NULL;

	if (rp != NULL && rp->type == RELAY_REPLY_ARRAY && rp->n == 3 &&
	    rp->elem[0]->type == RELAY_REPLY_STRING &&
	    rp->elem[1]->type == RELAY_REPLY_STRING) {
		rid = rp->elem[0]->str;
		entry = json_loadb(rp->elem[1]->str, rp->elem[1]->len, 0, NULL);
		addr = cross_addr(rp->elem[2]);
		if (!json_is_object(entry) || addr == NULL) {
			json_decref(entry);
			entry = NULL;
		}
	}
	cf->done(entry, rid, addr, cf->arg);
	json_decref(entry);
	free(addr);
	free(cf);
}

int
relay_cross_find(const char *id, relay_cross_found done, void *arg)
{
	struct cross_find *cf;
	char *key;

	if (!relay_redis_up() || !relay_link_ready())
		return -1;
	if ((cf = calloc(1, sizeof *cf)) == NULL)
		return -1;
	cf->done = done;
	cf->arg = arg;
	if ((key = ph_asprintf("ph:agent:%s", id)) == NULL ||
	    relay_redis_cmdv(cross_find_reply, cf, "EVAL", cross_agent_lua, "1", key, id,
	    NULL) != 0) {
		free(key);
		free(cf);
		return -1;
	}
	free(key);
	return 0;
}

/* ---- the open, to the agent's relay ---- */

struct cross_open {
	const char *what;		/* "open" or "resume" */
	char	 sid[PH_SID_LEN + 1];
	char	 agent[PH_AGENT_ID_MAX + 1];
	char	 err[32];		/* its relay's refusal, if any */
	char	 msg[512];
};

static void
cross_open_rx(void *arg, struct relay_conn *c, struct ph_frame *f, const uint8_t *msg,
    size_t len)
{
	struct cross_open *co = arg;
	const char *e, *m;

	(void)c;
	(void)msg;
	(void)len;
	if (f->type != PH_FRAME_CONTROL || f->ctl != PH_CTL_ERROR)
		return;
	e = json_string_value(json_object_get(f->json, "code"));
	m = json_string_value(json_object_get(f->json, "message"));
	if (e == NULL)
		e = PH_ERR_INTERNAL;
	if (m == NULL)
		m = "refused by the agent's relay";
	ph_printable_buf(co->err, sizeof co->err, e, strlen(e));
	ph_printable_buf(co->msg, sizeof co->msg, m, strlen(m));
}

static void
cross_open_closed(void *arg, struct relay_conn *c, int code, const char *why)
{
	struct cross_open *co = arg;
	struct relay_session *s = relay_session_find(&relay.sessions, co->sid);
	char msg[512];

	if (code == PH_CLOSE_NORMAL || s == NULL || s->state != RELAY_SESSION_WAIT) {
		free(co);
		return;
	}
	if (co->err[0] == '\0')
		snprintf(msg, sizeof msg, "cannot reach the relay holding agent %s (%s): %s",
		    co->agent, relay_link_addr(c), why);
	else
		snprintf(msg, sizeof msg, "%s", co->msg);
	ph_info("session %.8s: the %s did not reach agent %s: %s", co->sid, co->what,
	    co->agent, msg);
	relay_session_abort(&relay.sessions, s, strcmp(co->what, "open") == 0 ?
	    "open not delivered by the agent's relay" :
	    "resume not delivered by the agent's relay",
	    co->err[0] != '\0' ? co->err : PH_ERR_NO_AGENT,
	    code >= 4000 && code <= 4999 ? code : PH_CLOSE_NOT_FOUND, msg);
	free(co);
}

static const struct relay_link_ops cross_open_ops = {
	.rx = cross_open_rx,
	.closed = cross_open_closed,
};

int
relay_cross_open(struct relay_session *s, const char *addr, json_t *open, char **cause)
{
	struct cross_open *co;
	const char *type;

	if ((co = calloc(1, sizeof *co)) == NULL) {
		json_decref(open);
		*cause = strdup("out of memory");
		return -1;
	}
	type = json_string_value(json_object_get(open, "type"));
	co->what = type != NULL && strcmp(type, "resume") == 0 ? "resume" : "open";
	snprintf(co->sid, sizeof co->sid, "%s", s->sid);
	snprintf(co->agent, sizeof co->agent, "%s", s->agent_id);
	if (relay_link_dial(addr, open, &cross_open_ops, co, cause) == NULL) {
		free(co);
		return -1;
	}
	relay.metrics.cross_opens++;
	return 0;
}

/* ---- carrying a data channel to the session's relay ---- */

struct relay_cross_splice {
	struct relay_conn	*data;		/* the agent's channel here; NULL once gone */
	struct relay_data_chan	*ch;
	struct relay_conn	*link;		/* to the session's relay; NULL once gone */
	int			 looking;	/* the Redis lookup is out */
	struct ph_queue		 early;		/* read before the link was there (bounded) */
	char			 sid[PH_SID_LEN + 1];
	char			 secret[PH_SECRET_LEN + 1];
};

static void
cross_splice_free(struct relay_cross_splice *sp)
{
	if (sp->data != NULL || sp->link != NULL || sp->looking)
		return;
	OPENSSL_cleanse(sp->secret, sizeof sp->secret);
	ph_queue_free(&sp->early);
	free(sp);
}

/* Refuse the agent's channel here (nothing was carried). */
static void
cross_refuse(struct relay_cross_splice *sp, const char *err, int code, const char *msg)
{
	struct relay_conn *c = sp->data;

	sp->ch->cross = NULL;
	sp->data = NULL;
	relay_audit_refusal(c, "data channel", err, msg);
	relay_conn_fail(c, err, code, "%s", msg);
	cross_splice_free(sp);
}

static void
splice_up(void *arg, struct relay_conn *link)
{
	struct relay_cross_splice *sp = arg;

	(void)link;
	if (sp->data != NULL)
		relay_conn_resume(sp->data, RELAY_PAUSE_ATTACH);
}

static void
splice_rx(void *arg, struct relay_conn *link, struct ph_frame *f, const uint8_t *msg,
    size_t len)
{
	struct relay_cross_splice *sp = arg;

	(void)f;
	if (sp->data == NULL || relay_conn_closing(sp->data))
		return;
	if (relay_conn_send(sp->data, msg, len) != 0) {
		relay_conn_close(sp->data, PH_CLOSE_INTERNAL, "relay queue overflow", 1);
		relay_conn_close(link, PH_CLOSE_INTERNAL, "relay queue overflow", 1);
		return;
	}
	if (ph_queue_over_high(&sp->data->tx))
		relay_conn_pause(link, RELAY_PAUSE_PEER);
}

static void
splice_drained(void *arg, struct relay_conn *link)
{
	struct relay_cross_splice *sp = arg;

	if (sp->data != NULL && ph_queue_under_low(&link->tx))
		relay_conn_resume(sp->data, RELAY_PAUSE_PEER);
}

static void
splice_closed(void *arg, struct relay_conn *link, int code, const char *why)
{
	struct relay_cross_splice *sp = arg;

	(void)link;
	sp->link = NULL;
	if (sp->data != NULL) {
		if (code == 0)
			ph_info("session %.8s: carried to another relay: %s", sp->sid, why);
		relay_conn_close(sp->data, code >= 1000 && code != 1005 && code != 1006 ?
		    code : PH_CLOSE_GOING_AWAY, code == 0 ? "the session's relay went away" :
		    "", code == 0);
	}
	cross_splice_free(sp);
}

static const struct relay_link_ops cross_splice_ops = {
	.up = splice_up,
	.rx = splice_rx,
	.drained = splice_drained,
	.closed = splice_closed,
};

/* Redis answered where the session is: check the secret's hash, then carry it. */
static void
cross_session_reply(struct relay_reply *rp, void *arg)
{
	struct relay_cross_splice *sp = arg;
	char hash[65], msg[512], *addr = NULL, *cause = NULL, rid[40];
	struct ph_qitem *it;
	const char *v, *h;
	json_t *first, *o;

	sp->looking = 0;
	if (sp->data == NULL) {
		cross_splice_free(sp);
		return;
	}
	if (rp == NULL || rp->type != RELAY_REPLY_ARRAY || rp->n != 2 ||
	    rp->elem[0]->type != RELAY_REPLY_STRING ||
	    (h = strchr(v = rp->elem[0]->str, ' ')) == NULL || (size_t)(h - v) >= sizeof rid) {
		snprintf(msg, sizeof msg, "no session %s is waiting for its agent on any "
		    "relay of the fleet", sp->sid);
		cross_refuse(sp, PH_ERR_NO_AGENT, PH_CLOSE_NOT_FOUND, msg);
		return;
	}
	memcpy(rid, v, (size_t)(h - v));
	rid[h - v] = '\0';
	cross_hash(sp->secret, hash);
	if (strlen(h + 1) != strlen(hash) || CRYPTO_memcmp(h + 1, hash, strlen(hash)) != 0) {
		snprintf(msg, sizeof msg, "wrong secret for session %s", sp->sid);
		cross_refuse(sp, PH_ERR_FORBIDDEN, PH_CLOSE_FORBIDDEN, msg);
		return;
	}
	if (strcmp(rid, relay_fleet_id()) == 0 || (addr = cross_addr(rp->elem[1])) == NULL) {
		snprintf(msg, sizeof msg, "session %s is no longer waiting for its agent", sp->sid);
		cross_refuse(sp, PH_ERR_NO_AGENT, PH_CLOSE_NOT_FOUND, msg);
		return;
	}
	first = json_pack("{s:s,s:s,s:s,s:s}", "type", "attach", "sid", sp->sid, "secret",
	    sp->secret, "via", relay_fleet_id());
	OPENSSL_cleanse(sp->secret, sizeof sp->secret);
	if (first == NULL || (sp->link = relay_link_dial(addr, first, &cross_splice_ops, sp,
	    &cause)) == NULL) {
		snprintf(msg, sizeof msg, "cannot reach the relay holding session %s (%s): %s",
		    sp->sid, addr, cause != NULL ? cause : "out of memory");
		cross_refuse(sp, PH_ERR_NO_AGENT, PH_CLOSE_NOT_FOUND, msg);
		free(cause);
		free(addr);
		return;
	}
	while ((it = ph_queue_peek(&sp->early)) != NULL) {
		(void)relay_link_queue(sp->link, it->data + PH_HEADROOM, it->len);
		ph_queue_pop(&sp->early);
	}
	relay.metrics.cross_spliced++;
	ph_info("session %.8s: agent's data channel from %s carried to relay %s at %s",
	    sp->sid, sp->data->peer, rid, addr);
	if ((o = json_pack("{s:s,s:s,s:s,s:s}", "sid", sp->sid, "relay", relay_fleet_id(),
	    "to_relay", rid, "to", addr)) != NULL) {
		relay_audit_origin(o, sp->data);
		relay_audit("session_carried", o);
	}
	free(addr);
}

int
relay_cross_data(struct relay_conn *c, struct relay_data_chan *ch, const char *sid,
    const char *secret)
{
	struct relay_cross_splice *sp;
	char key[64];

	if (!relay_redis_up() || !relay_link_ready() || strlen(secret) != PH_SECRET_LEN)
		return -1;
	if ((sp = calloc(1, sizeof *sp)) == NULL)
		return -1;
	sp->data = c;
	sp->ch = ch;
	ph_queue_init(&sp->early, 0, 0, RELAY_Q_LIMIT);
	snprintf(sp->sid, sizeof sp->sid, "%s", sid);
	memcpy(sp->secret, secret, PH_SECRET_LEN + 1);
	snprintf(key, sizeof key, "ph:session:%s", sid);
	if (relay_redis_cmdv(cross_session_reply, sp, "EVAL", cross_session_lua, "1", key,
	    NULL) != 0) {
		OPENSSL_cleanse(sp->secret, sizeof sp->secret);
		ph_queue_free(&sp->early);
		free(sp);
		return -1;
	}
	sp->looking = 1;
	ch->cross = sp;
	relay_conn_pause(c, RELAY_PAUSE_ATTACH);
	return 0;
}

void
relay_cross_data_rx(struct relay_cross_splice *sp, const uint8_t *msg, size_t len)
{
	if (sp->looking) {
		/* Reads are held; what was read already waits (bounded) for the link. */
		if (ph_queue_push(&sp->early, -1, msg, len) != 0)
			relay_conn_close(sp->data, PH_CLOSE_INTERNAL, "relay queue overflow", 1);
		return;
	}
	if (sp->link == NULL || relay_conn_closing(sp->link))
		return;
	if (relay_link_queue(sp->link, msg, len) != 0) {
		relay_conn_close(sp->data, PH_CLOSE_INTERNAL, "relay queue overflow", 1);
		relay_conn_close(sp->link, PH_CLOSE_INTERNAL, "relay queue overflow", 1);
		return;
	}
	if (ph_queue_over_high(&sp->link->tx))
		relay_conn_pause(sp->data, RELAY_PAUSE_PEER);
}

void
relay_cross_data_drained(struct relay_cross_splice *sp)
{
	if (sp->link != NULL && sp->data != NULL && ph_queue_under_low(&sp->data->tx))
		relay_conn_resume(sp->link, RELAY_PAUSE_PEER);
}

void
relay_cross_data_closed(struct relay_cross_splice *sp, int code)
{
	struct relay_conn *link = sp->link;

	sp->data = NULL;
	if (link != NULL) {
		sp->link = NULL;
		relay_conn_close(link, code >= 1000 && code != 1005 && code != 1006 ? code :
		    PH_CLOSE_GOING_AWAY, "", 0);
		relay_link_detach(link);
	}
	cross_splice_free(sp);
}
