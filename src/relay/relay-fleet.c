/*
 * relay-fleet.c - the fleet's directory in Redis (relay-fleet.h).
 *
 * Keys (all under "ph:"; ID is an agent's full id, RID a relay's random
 * id, new at every start):
 *   ph:relay:RID          the relay is alive: {"id","advertise","started"},
 *                         TTL RELAY_FLEET_ALIVE_SECS, written every beat
 *   ph:relays             set of relay ids (the listing walks it and drops
 *                         the dead)
 *   ph:relay:RID:agents   hash ID -> the agent as `ls` shows it, with
 *                         "relay"; TTL RELAY_FLEET_AGENTS_SECS, refreshed
 *                         every beat
 *   ph:agent:ID           the claim: "RID INSTANCE", TTL a day
 * No token, secret or open is ever written.
 *
 * Claims are one Lua script, so the id rule of relay-agent.c holds across
 * the fleet atomically: a claim is taken when the key is free, when its
 * holder is the same agent process (same instance: a reconnect, through
 * any relay), or when the relay holding it is no longer alive; otherwise
 * the holder's relay id comes back and the hello is refused.  A relay
 * removes an agent's claim only if it is still its own (compare and
 * delete), so a late clean-up never removes another relay's entry.
 *
 * The listing is one script too: for every live relay but the asking one
 * (which lists its own agents from memory), the entries of its hash whose
 * claim is still that relay's.  An agent that moved is listed once, where
 * it is now; a dead relay's agents vanish with its alive key.  The entries
 * reach the caller as text, parsed one at a time (relay-http.c), never as
 * one JSON tree of the whole fleet: at 30,000 agents that tree alone was
 * tens of MB, which the relay's heap then kept.
 *
 * Redis restarted empty: a beat's EXPIRE of our hash answers 0, and the
 * relay writes every local agent again (relay_agents_republish); the same
 * happens whenever the link comes up.
 */
#include <sys/random.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "porthole/agentid.h"
#include "porthole/log.h"
#include "porthole/util.h"
#include "relay.h"
#include "relay-agent.h"
#include "relay-fleet.h"
#include "relay-redis.h"

static const char fleet_claim_lua[] =
"local v = redis.call('GET', KEYS[1])\n"
"if v then\n"
"  local sp = string.find(v, ' ', 1, true)\n"
"  if sp then\n"
"    local orid = string.sub(v, 1, sp - 1)\n"
"    local oinst = string.sub(v, sp + 1)\n"
"    if oinst ~= ARGV[2] and orid ~= ARGV[1] and\n"
"       redis.call('EXISTS', 'ph:relay:' .. orid) == 1 then\n"
"      return orid\n"
"    end\n"
"  end\n"
"end\n"
"redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2], 'EX', ARGV[3])\n"
"redis.call('HSET', KEYS[2], ARGV[4], ARGV[5])\n"
"redis.call('EXPIRE', KEYS[2], ARGV[6])\n"
"return ''\n";

static const char fleet_gone_lua[] =
"if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
"  redis.call('DEL', KEYS[1])\n"
"end\n"
"redis.call('HDEL', KEYS[2], ARGV[2])\n"
"return 0\n";

static const char fleet_list_lua[] =
"local out = {}\n"
"for _, rid in ipairs(redis.call('SMEMBERS', 'ph:relays')) do\n"
"  if rid == ARGV[1] then\n"
"    -- the asking relay lists its own agents from memory\n"
"  elseif redis.call('EXISTS', 'ph:relay:' .. rid) == 1 then\n"
"    local h = redis.call('HGETALL', 'ph:relay:' .. rid .. ':agents')\n"
"    for i = 1, #h, 2 do\n"
"      local c = redis.call('GET', 'ph:agent:' .. h[i])\n"
"      if c and string.sub(c, 1, #rid + 1) == rid .. ' ' then\n"
"        out[#out + 1] = h[i + 1]\n"
"      end\n"
"    end\n"
"  else\n"
"    redis.call('SREM', 'ph:relays', rid)\n"
"  end\n"
"end\n"
"return out\n";

#define F (&relay.fleet)

void
relay_fleet_init(void)
{
	uint8_t raw[8];
	size_t i;

	if (getrandom(raw, sizeof raw, 0) != sizeof raw) {
		uint64_t v = (uint64_t)ph_mono_ms() ^ ((uint64_t)getpid() << 32);

		memcpy(raw, &v, sizeof raw);
	}
	for (i = 0; i < sizeof raw; i++)
		snprintf(F->id + 2 * i, 3, "%02x", raw[i]);
	snprintf(F->agents_key, sizeof F->agents_key, "ph:relay:%s:agents", F->id);
	snprintf(F->alive_key, sizeof F->alive_key, "ph:relay:%s", F->id);
	F->started = ph_now();
	if (relay_redis_on())
		ph_info("fleet: this relay is %s in Redis", F->id);
}

const char *
relay_fleet_id(void)
{
	return F->id;
}

/* The hash of our agents was gone (Redis restarted empty): write them again. */
static void
fleet_expire_reply(struct relay_reply *rp, void *arg)
{
	(void)arg;
	if (rp == NULL || rp->type != RELAY_REPLY_INTEGER)
		return;
	if (rp->integer == 0 && relay.agents.n > 0) {
		ph_info("fleet: this relay's agents are missing from Redis: writing %zu again",
		    relay.agents.n);
		relay_agents_republish();
	}
}

static void
fleet_beat(int check)
{
	char secs[16], *alive;
	json_t *j;

	if (!relay_redis_up())
		return;
	j = json_pack("{s:s,s:s,s:I}", "id", F->id, "advertise",
	    F->advertise != NULL ? F->advertise : "", "started", (json_int_t)F->started);
	alive = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (alive == NULL)
		return;
	snprintf(secs, sizeof secs, "%d", RELAY_FLEET_ALIVE_SECS);
	relay_redis_cmdv(NULL, NULL, "SET", F->alive_key, alive, "EX", secs, NULL);
	relay_redis_cmdv(NULL, NULL, "SADD", "ph:relays", F->id, NULL);
	snprintf(secs, sizeof secs, "%d", RELAY_FLEET_AGENTS_SECS);
	relay_redis_cmdv(check ? fleet_expire_reply : NULL, NULL, "EXPIRE", F->agents_key,
	    secs, NULL);
	free(alive);
}

void
relay_fleet_up(void)
{
	F->beat_ms = ph_mono_ms();
	fleet_beat(0);
	relay_agents_republish();	/* whatever Redis kept: agents may have come meanwhile */
}

void
relay_fleet_tick(int64_t now_ms)
{
	if (!relay_redis_on() || now_ms - F->beat_ms < RELAY_FLEET_BEAT_MS)
		return;
	F->beat_ms = now_ms;
	fleet_beat(1);
}

struct fleet_claim {
	relay_fleet_claimed	 done;
	void			*arg;
};

static void
fleet_claim_reply(struct relay_reply *rp, void *arg)
{
	struct fleet_claim *fc = arg;

	if (rp == NULL || rp->type != RELAY_REPLY_STRING) {
		if (rp != NULL && rp->type == RELAY_REPLY_ERROR)
			ph_warn("fleet: claim script failed: %.200s", rp->str);
		fc->done(-1, NULL, fc->arg);
	} else if (rp->len == 0)
		fc->done(0, NULL, fc->arg);
	else
		fc->done(1, rp->str, fc->arg);
	free(fc);
}

int
relay_fleet_claim(const char *id, const char *instance, json_t *entry,
    relay_fleet_claimed done, void *arg)
{
	char akey[PH_AGENT_ID_MAX + 16], csecs[16], hsecs[16], *json;
	struct fleet_claim *fc;
	int r;

	if (!relay_redis_up() || entry == NULL) {
		json_decref(entry);
		return -1;
	}
	if (json_object_set_new(entry, "relay", json_string(F->id)) != 0 ||
	    (json = json_dumps(entry, JSON_COMPACT)) == NULL) {
		json_decref(entry);
		return -1;
	}
	json_decref(entry);
	if ((fc = calloc(1, sizeof *fc)) == NULL) {
		free(json);
		return -1;
	}
	fc->done = done;
	fc->arg = arg;
	snprintf(akey, sizeof akey, "ph:agent:%s", id);
	snprintf(csecs, sizeof csecs, "%d", RELAY_FLEET_CLAIM_SECS);
	snprintf(hsecs, sizeof hsecs, "%d", RELAY_FLEET_AGENTS_SECS);
	r = relay_redis_cmdv(fleet_claim_reply, fc, "EVAL", fleet_claim_lua, "2", akey,
	    F->agents_key, F->id, instance, csecs, id, json, hsecs, NULL);
	free(json);
	if (r != 0)
		free(fc);
	return r;
}

void
relay_fleet_gone(const char *id, const char *instance)
{
	char akey[PH_AGENT_ID_MAX + 16], *mine;

	if (!relay_redis_up())
		return;
	snprintf(akey, sizeof akey, "ph:agent:%s", id);
	if ((mine = ph_asprintf("%s %s", F->id, instance)) == NULL)
		return;
	relay_redis_cmdv(NULL, NULL, "EVAL", fleet_gone_lua, "2", akey, F->agents_key,
	    mine, id, NULL);
	free(mine);
}

struct fleet_list {
	relay_fleet_listed	 done;
	void			*arg;
};

static void
fleet_list_reply(struct relay_reply *rp, void *arg)
{
	struct fleet_list *fl = arg;
	struct relay_fleet_entry *e = NULL;
	size_t i, n = 0;

	if (rp != NULL && rp->type == RELAY_REPLY_ARRAY &&
	    (e = calloc(rp->n + 1, sizeof *e)) != NULL) {
		for (i = 0; i < rp->n; i++) {
			if (rp->elem[i] == NULL || rp->elem[i]->type != RELAY_REPLY_STRING)
				continue;
			e[n].json = rp->elem[i]->str;
			e[n].len = rp->elem[i]->len;
			n++;
		}
	} else if (rp != NULL && rp->type == RELAY_REPLY_ERROR)
		ph_warn("fleet: listing script failed: %.200s", rp->str);
	fl->done(e, n, fl->arg);
	free(e);
	free(fl);
}

int
relay_fleet_list(relay_fleet_listed done, void *arg)
{
	struct fleet_list *fl;

	if (!relay_redis_up() || (fl = calloc(1, sizeof *fl)) == NULL)
		return -1;
	fl->done = done;
	fl->arg = arg;
	if (relay_redis_cmdv(fleet_list_reply, fl, "EVAL", fleet_list_lua, "0", F->id,
	    NULL) != 0) {
		free(fl);
		return -1;
	}
	return 0;
}
