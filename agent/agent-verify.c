/*
 * agent-verify.c - the agent's own check of every `open`, so that a relay
 * that is taken over can neither forge a request, nor replay one, nor change
 * what one asks for.
 *
 * The relay forwards the client's token with the open.  Before anything is
 * started the agent checks, with its own PORTHOLE_PUBKEY and
 * PORTHOLE_REVOKED:
 *   1. the token verifies (signature, known kid, not expired: token.c), is a
 *      client token and is not revoked;
 *   2. its scope names the operation and its target selects this agent
 *      (its id, name and labels, as in the relay's registry);
 *   3. the open names this agent's id;
 *   4. the open is signed by the key the token is bound to, in form 2
 *      (every member typed and signed: never form 1, which a relay could
 *      otherwise downgrade a request to), of a protocol this agent speaks,
 *      and its time is within PH_CLOCK_SKEW of ours (opensig.h);
 *   5. its session id was not opened here before.
 * A refused open is answered on its data channel: `error` with the reason
 * and close 4401 (who are you) or 4403 (not allowed); agent-session.c does
 * that.
 *
 * Replays: an open whose time is more than PH_CLOCK_SKEW from ours is stale
 * anyway, so the agent only has to remember the session ids of the opens it
 * accepted in that window.  They sit in an array pruned on every check; when
 * more than VERIFY_SEEN_MAX opens arrive within the window, new ones are
 * refused rather than old ids forgotten (bounded memory, no hole).
 *
 * Revocations pushed by relays (`revoked` on the control channel, from
 * `porthole token revoke`): added to a set of their own beside
 * PORTHOLE_REVOKED's, each until its time (the token's exp), bounded at
 * PH_REVLIST_PUSH_MAX.  A relay can only add: nothing it says removes an
 * entry, so the worst a hostile relay does with a push is refuse tokens,
 * which it can do anyway by not forwarding opens.  Should the set fill up
 * (only a relay flooding it gets there), the agent refuses every open
 * until entries expire, rather than forget a revocation or ignore a new
 * one: denial again, never a revoked token honoured.
 *
 * Key rotation: the key set is re-read when one of its files changes
 * (keywatch.h; a stat per check, like the revocation list), so a new public
 * key added next to the old one takes effect without restarting the agent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/keywatch.h"
#include "porthole/log.h"
#include "porthole/opensig.h"
#include "porthole/ops.h"
#include "porthole/revlist.h"
#include "porthole/revoked.h"
#include "porthole/selector.h"
#include "porthole/token.h"
#include "porthole/util.h"

#include "agent.h"

#define VERIFY_SEEN_MAX		16384	/* opens accepted within the skew window */

struct verify_seen {
	char		 sid[PH_SID_LEN + 1];
	int64_t		 ts;		/* the open's time */
};

struct agent_verify {
	struct ph_keyset	 keys;
	struct ph_keywatch	 watch;		/* re-reads keys when their files change */
	struct ph_revoked	 revoked;
	struct ph_revlist	 pushed;	/* what relays pushed (`revoked`) */
	int			 pushed_full;	/* an entry did not fit: refuse every open */
	struct verify_seen	*seen;
	size_t			 nseen, capseen;
};

/* Re-read the key set and the revocation list if their files changed. */
static void
verify_refresh(struct agent *a)
{
	struct agent_verify	*v = a->verify;
	char			*why = NULL;
	int			 r;

	r = ph_keywatch_refresh(&v->watch, &v->keys, &why);
	if (r < 0) {
		ph_warn("PORTHOLE_PUBKEY: %s", why);
		free(why);
	} else if (r > 0)
		ph_info("PORTHOLE_PUBKEY re-read: %zu keys", v->keys.n);
	r = ph_revoked_refresh(&v->revoked, &why);
	if (r < 0) {
		ph_warn("%s", why);
		free(why);
	} else if (r > 0)
		ph_info("revocation list %s re-read: %zu token ids", v->revoked.path,
		    v->revoked.n);
}

int
agent_verify_init(struct agent *a, char **cause)
{
	struct agent_verify	*v;
	char			*why = NULL;

	if (a->cfg.pubkey == NULL || *a->cfg.pubkey == '\0') {
		*cause = ph_asprintf("no PORTHOLE_PUBKEY: the agent checks every "
		    "request with the public key(s) of the token issuer; set it to "
		    "their PEM file(s) (a dev relay's is DIR/signing.key.pub)");
		return -1;
	}
	if ((v = calloc(1, sizeof *v)) == NULL) {
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	if (ph_keywatch_init(&v->watch, &v->keys, a->cfg.pubkey, &why) != 0) {
		*cause = ph_asprintf("PORTHOLE_PUBKEY: %s", why);
		free(why);
		agent_verify_free_state(v);
		return -1;
	}
	ph_revlist_init(&v->pushed, PH_REVLIST_PUSH_MAX);
	if (ph_revoked_init(&v->revoked, a->cfg.revoked, &why) != 0) {
		*cause = ph_asprintf("PORTHOLE_REVOKED: %s", why);
		free(why);
		agent_verify_free_state(v);
		return -1;
	}
	a->verify = v;
	return 0;
}

void
agent_verify_free_state(struct agent_verify *v)
{
	if (v == NULL)
		return;
	ph_keyset_free(&v->keys);
	ph_keywatch_free(&v->watch);
	ph_revoked_free(&v->revoked);
	ph_revlist_free(&v->pushed);
	free(v->seen);
	free(v);
}

/* Forget the ids of opens that could not pass the freshness check any more. */
static void
verify_prune(struct agent_verify *v, int64_t now)
{
	size_t	i, o = 0;

	for (i = 0; i < v->nseen; i++) {
		if (v->seen[i].ts >= now - PH_CLOCK_SKEW)
			v->seen[o++] = v->seen[i];
	}
	v->nseen = o;
}

static int
verify_seen(const struct agent_verify *v, const char *sid)
{
	size_t	i;

	for (i = 0; i < v->nseen; i++) {
		if (strcmp(v->seen[i].sid, sid) == 0)
			return 1;
	}
	return 0;
}

static int
verify_remember(struct agent_verify *v, const char *sid, int64_t ts)
{
	struct verify_seen	*n;
	size_t			 cap;

	if (v->nseen == v->capseen) {
		if (v->capseen >= VERIFY_SEEN_MAX)
			return -1;
		cap = v->capseen == 0 ? 64 : v->capseen * 2;
		if ((n = reallocarray(v->seen, cap, sizeof *n)) == NULL)
			return -1;
		v->seen = n;
		v->capseen = cap;
	}
	snprintf(v->seen[v->nseen].sid, sizeof v->seen[v->nseen].sid, "%s", sid);
	v->seen[v->nseen].ts = ts;
	v->nseen++;
	return 0;
}

/* This agent as the relay's registry shows it, for the token's target. */
static json_t *
verify_self(struct agent *a)
{
	return json_pack("{s:s, s:s, s:O}", "id", a->id, "name", a->cfg.name,
	    "labels", a->cfg.labels);
}

int
agent_verify_open(struct agent *a, json_t *open, const char **code, int *close_code,
    json_t **forward, char **cause)
{
	struct agent_verify	*v = a->verify;
	struct ph_claims	 c;
	const char		*token, *op, *sid, *agent_id;
	json_t			*self;
	char			*why = NULL;
	int64_t			 now = ph_now();
	int			 m;

	*code = PH_ERR_UNAUTHORIZED;
	*close_code = PH_CLOSE_UNAUTHORIZED;
	memset(&c, 0, sizeof c);
	verify_refresh(a);

	token = json_string_value(ph_open_relayed(open, "token"));
	op = json_string_value(ph_open_get(open, "op"));
	sid = json_string_value(ph_open_get(open, "sid"));
	agent_id = json_string_value(ph_open_get(open, "agent"));
	if (token == NULL) {
		*cause = ph_asprintf("the open carries no client token: the relay "
		    "must pass it on (upgrade the relay)");
		return -1;
	}
	if (ph_token_verify(&v->keys, token, now, &c, &why) != 0) {
		*cause = ph_asprintf("bad token: %s", why);
		free(why);
		return -1;
	}
	if (c.kind != PH_TOKEN_CLIENT) {
		*cause = ph_asprintf("the open carries an agent token (%s), not a "
		    "client token", c.sub);
		goto refuse;
	}
	if (ph_revoked_has(&v->revoked, c.jti)) {
		*cause = ph_asprintf("token %s of %s was revoked (listed in "
		    "PORTHOLE_REVOKED)", c.jti, c.sub);
		goto refuse;
	}
	if (ph_revlist_has(&v->pushed, c.jti, now)) {
		*cause = ph_asprintf("token %s of %s was revoked (porthole token "
		    "revoke, pushed by a relay)", c.jti, c.sub);
		goto refuse;
	}
	if (v->pushed_full) {
		if (ph_revlist_prune(&v->pushed, now) == 0) {
			*cause = ph_asprintf("the list of revocations relays pushed is "
			    "full (%zu entries): refusing every open until some expire",
			    v->pushed.n);
			goto refuse;
		}
		v->pushed_full = 0;
	}
	/* Tell a forged signature from a refused permission: signature first. */
	if (ph_opensig_verify(&c, open, now, PH_OPENSIG_FORM, cause) != 0)
		goto refuse;
	if (ph_opensig_proto(open) > PH_PROTOCOL_VERSION) {
		*cause = ph_asprintf("the open is protocol %d; this agent speaks %d: "
		    "upgrade the agent", ph_opensig_proto(open), PH_PROTOCOL_VERSION);
		goto refuse;
	}
	*code = PH_ERR_FORBIDDEN;
	*close_code = PH_CLOSE_FORBIDDEN;
	if (op == NULL || !ph_claims_allows(&c, op)) {
		*cause = ph_asprintf("token for %s lacks scope %s", c.sub,
		    op != NULL ? op : "?");
		goto refuse;
	}
	if (agent_id == NULL || strcmp(agent_id, a->id) != 0) {
		*cause = ph_asprintf("the open is for agent %s, this is %s",
		    agent_id != NULL ? agent_id : "?", a->id);
		goto refuse;
	}
	if (c.target != NULL) {
		self = verify_self(a);
		m = self != NULL ? ph_selector_match(c.target, self, &why) : 0;
		json_decref(self);
		free(why);
		if (m != 1) {
			*cause = ph_asprintf("token for %s may not touch this agent "
			    "(its target is %s)", c.sub, c.target);
			goto refuse;
		}
	}
	*code = PH_ERR_UNAUTHORIZED;
	*close_code = PH_CLOSE_UNAUTHORIZED;
	verify_prune(v, now);
	if (verify_seen(v, sid)) {
		*cause = ph_asprintf("the open was replayed: session %s was opened "
		    "here before", sid);
		goto refuse;
	}
	if (verify_remember(v, sid,
	    (int64_t)json_integer_value(ph_open_get(open, "ts"))) != 0) {
		*code = PH_ERR_INTERNAL;
		*close_code = PH_CLOSE_INTERNAL;
		*cause = ph_asprintf("more than %d sessions opened within %d s: "
		    "refused until older ones age out", VERIFY_SEEN_MAX,
		    PH_CLOCK_SKEW);
		goto refuse;
	}
	/* Who asked, as the token says (not as the relay says). */
	json_object_set_new(open, "sub", json_string(c.sub));
	*forward = c.forward != NULL ? json_incref(c.forward) : NULL;
	ph_claims_free(&c);
	return 0;
refuse:
	ph_claims_free(&c);
	return -1;
}

int
agent_verify_pushed(struct agent *a, json_t *entries, char **cause)
{
	struct agent_verify	*v = a->verify;
	size_t			 added = 0;
	char			*why = NULL;

	if (ph_revlist_add_json(&v->pushed, entries, ph_now(), &added, &why) != 0) {
		if (json_is_object(entries) && v->pushed.n >= v->pushed.max) {
			/* Full: keep what fitted, refuse every open (see the top). */
			if (!v->pushed_full)
				ph_warn("relay %s:%d pushed more revocations than fit "
				    "(%s): refusing every open until some expire",
				    a->cfg.host, a->cfg.port, why);
			v->pushed_full = 1;
			free(why);
			return 0;
		}
		*cause = why;
		return -1;
	}
	if (added > 0)
		ph_info("relay %s:%d pushed %zu revoked token ids (%zu held)",
		    a->cfg.host, a->cfg.port, added, v->pushed.n);
	return 0;
}

void
agent_verify_free(struct agent *a)
{
	agent_verify_free_state(a->verify);
	a->verify = NULL;
}
