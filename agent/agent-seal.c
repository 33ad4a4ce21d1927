/*
 * agent-seal.c - the agent's end of a session sealed end to end
 * (docs/protocol.md, "End-to-end sessions"; porthole/seal.h).
 *
 * An open that carries the client's `seal` share is answered, right after
 * `attach` and before anything of the operation, with a clear CONTROL
 * `seal`: the agent's own share and, when its token is bound to the agent
 * key it holds (PORTHOLE_KEY), that key's signature over the transcript and
 * the token, so the CLI can tell the agent from a relay posing as it.
 * From then on every frame of the session goes out as a SEALED record and
 * only SEALED records are taken in: a record that does not open (altered,
 * dropped, reordered, replayed, injected) ends the session before a byte
 * of it reaches the program.
 *
 * What the relay still gets in the clear, besides the records: the
 * agent's `exit` once more (for its audit: it is not forwarded), an
 * `error` beside a sealed one (so it knows why the session ended), a
 * forward's `report` of each connection (for its audit), and,
 * when the forwarded open asks for it (`record`), COPY frames of the
 * output and resizes for its recording.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "porthole/frame.h"
#include "porthole/log.h"
#include "porthole/opensig.h"
#include "porthole/sealsess.h"
#include "porthole/token.h"
#include "porthole/util.h"

#include "agent.h"

struct agent_seal {
	struct ph_seal	*seal;
	int		 record;	/* send the relay COPY frames */
	uint8_t		 plain[PH_MAX_MESSAGE];	/* a frame going out */
	uint8_t		 rec[PH_SEAL_RECORD_MAX];	/* its record */
	uint8_t		 in[PH_MAX_MESSAGE];	/* a frame come in (the program's) */
};

/*
 * The agent key, when the agent's token is bound to it: loaded once from
 * PORTHOLE_KEY.  NULL (and the share goes unsigned) without one, or when
 * the token names another key (said once in the log).
 */
static const struct ph_key *
agent_seal_key(struct agent *a)
{
	json_t		*claims = NULL, *jwk;
	struct ph_key	*bound;
	char		*why = NULL;

	if (a->seal_key_tried)
		return a->seal_key;
	if (a->cfg.token == NULL)
		return NULL;	/* not read yet: try again next time */
	a->seal_key_tried = 1;
	if (ph_token_decode(a->cfg.token, NULL, &claims, &why) != 0) {
		free(why);
		return NULL;
	}
	jwk = json_object_get(json_object_get(claims, "cnf"), "jwk");
	if (jwk == NULL) {
		if (a->cfg.key != NULL)
			ph_debug("the agent token is not bound to an agent key: "
			    "shares go unsigned (PORTHOLE_KEY is not used)");
		json_decref(claims);
		return NULL;
	}
	if ((bound = ph_key_from_jwk(jwk, &why)) == NULL) {
		ph_warn("the agent token's cnf.jwk is not a key (%s): shares go "
		    "unsigned", why);
		free(why);
		json_decref(claims);
		return NULL;
	}
	json_decref(claims);
	if (a->cfg.key == NULL)
		ph_warn("the agent token is bound to key %s but PORTHOLE_KEY is not "
		    "set: shares go unsigned and clients cannot authenticate this "
		    "agent", ph_key_kid(bound));
	else if ((a->seal_key = ph_key_load(a->cfg.key, 0, &why)) == NULL) {
		ph_warn("cannot use PORTHOLE_KEY: %s: shares go unsigned", why);
		free(why);
	} else if (strcmp(ph_key_kid(a->seal_key), ph_key_kid(bound)) != 0) {
		ph_warn("PORTHOLE_KEY (kid %s) is not the key the agent token is "
		    "bound to (kid %s): shares go unsigned",
		    ph_key_kid(a->seal_key), ph_key_kid(bound));
		ph_key_free(a->seal_key);
		a->seal_key = NULL;
	}
	ph_key_free(bound);
	return a->seal_key;
}

int
agent_seal_start(struct agent_session *s, const char *jti, char **cause)
{
	struct agent		*a = s->agent;
	struct ph_seal_share	*mine = NULL;
	const struct ph_key	*key;
	uint8_t			 client[PH_SEAL_SHARE_LEN], agent[PH_SEAL_SHARE_LEN];
	uint8_t			 th[PH_SEAL_HASH_LEN];
	json_t			*m = NULL;
	char			*b = NULL, *sig = NULL;
	int			 rc = -1;

	if (ph_seal_share_decode(json_string_value(json_object_get(s->open, "seal")),
	    client, cause) != 0)
		return -1;
	if ((s->sealed = calloc(1, sizeof *s->sealed)) == NULL) {
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	s->sealed->record = json_is_true(json_object_get(s->open, "record"));
	if ((mine = ph_seal_share_new(cause)) == NULL)
		goto out;
	ph_seal_share_public(mine, agent);
	if (ph_sealsess_th(s->open, jti, client, agent, th, cause) != 0 ||
	    (s->sealed->seal = ph_seal_new(PH_SEAL_AGENT, mine, client, th,
	    cause)) == NULL)
		goto out;
	if ((b = ph_seal_share_encode(agent)) == NULL ||
	    (m = ph_ctl_new(PH_CTL_SEAL)) == NULL ||
	    json_object_set_new(m, "share", json_string(b)) != 0)
		goto nomem;
	if ((key = agent_seal_key(a)) != NULL) {
		if ((sig = ph_sealsess_agent_sign(key, th, cause)) == NULL)
			goto out;
		if (json_object_set_new(m, "sig", json_string(sig)) != 0 ||
		    json_object_set_new(m, "token", json_string(a->cfg.token)) != 0)
			goto nomem;
	}
	if (s->sealed->record && json_object_set_new(m, "record", json_true()) != 0)
		goto nomem;
	if (agent_chan_push_ctl(&s->chan, m) != 0) {
		m = NULL;
		*cause = ph_asprintf("cannot queue the seal message");
		goto out;
	}
	m = NULL;
	/* The recorded notice, inside the sealed stream: the CLI says it. */
	if (s->sealed->record && ((m = ph_ctl_new(PH_CTL_SEAL)) == NULL ||
	    json_object_set_new(m, "record", json_true()) != 0 ||
	    agent_seal_ctl(s, m, cause) != 0)) {
		m = NULL;
		goto out;
	}
	m = NULL;
	rc = 0;
	goto out;
nomem:
	*cause = ph_asprintf("out of memory");
out:
	OPENSSL_cleanse(th, sizeof th);
	json_decref(m);
	free(b);
	free(sig);
	ph_seal_share_free(mine);
	return rc;
}

void
agent_seal_free(struct agent_session *s)
{
	if (s->sealed == NULL)
		return;
	ph_seal_free(s->sealed->seal);
	OPENSSL_cleanse(s->sealed, sizeof *s->sealed);
	free(s->sealed);
	s->sealed = NULL;
}

/* Seal one frame (type -1: p is a whole message) and queue the record. */
static int
agent_seal_push(struct agent_session *s, int type, const void *p, size_t n,
    char **cause)
{
	struct agent_seal	*as = s->sealed;
	size_t			 len;

	if (ph_sealsess_frame(as->seal, type, p, n, as->plain, as->rec, &len,
	    cause) != 0)
		return -1;
	if (agent_chan_push(&s->chan, -1, as->rec, len) != 0) {
		*cause = ph_asprintf("output queue overflow (%zu bytes queued)",
		    s->chan.out.bytes);
		return -1;
	}
	return 0;
}

/* A COPY frame for the relay's recording: COPY, then the frame. */
static int
agent_seal_copy(struct agent_session *s, int type, const void *p, size_t n)
{
	struct agent_seal	*as = s->sealed;

	if (n + 1 > PH_MAX_PAYLOAD)
		return -1;
	as->plain[0] = (uint8_t)type;
	memcpy(as->plain + 1, p, n);
	return agent_chan_push(&s->chan, PH_FRAME_COPY, as->plain, n + 1);
}

int
agent_seal_send(struct agent_session *s, int type, const void *p, size_t n,
    char **cause)
{
	const uint8_t	*b = p;
	size_t		 k;

	do {
		k = n > PH_SEAL_MAX_PAYLOAD ? PH_SEAL_MAX_PAYLOAD : n;
		if (agent_seal_push(s, type, b, k, cause) != 0)
			return -1;
		if (s->sealed->record && (type == PH_FRAME_STDOUT ||
		    type == PH_FRAME_STDERR) && agent_seal_copy(s, type, b, k) != 0) {
			*cause = ph_asprintf("output queue overflow (%zu bytes queued)",
			    s->chan.out.bytes);
			return -1;
		}
		b += k;
		n -= k;
	} while (n > 0);
	return 0;
}

int
agent_seal_ctl(struct agent_session *s, json_t *msg, char **cause)
{
	uint8_t	*out = NULL;
	size_t	 len = 0;
	int	 rc = -1;

	if (msg == NULL || ph_ctl_encode(msg, &out, &len) != 0)
		*cause = ph_asprintf("cannot encode a control message");
	else
		rc = agent_seal_push(s, -1, out + PH_HEADROOM, len, cause);
	free(out);
	json_decref(msg);
	return rc;
}

int
agent_seal_clear_ctl(struct agent_session *s, json_t *msg)
{
	return agent_chan_push_ctl(&s->chan, msg);
}

/*
 * A message from the relay in a sealed session.  A SEALED record is opened
 * and its frame decoded into *inner (0; ph_frame_clear it); a clear
 * `error` is the relay's word (1: log it, nothing reaches the program);
 * anything else, or a record that does not open, is -1 with *cause and
 * *code: the session must end.
 */
int
agent_seal_open(struct agent_session *s, const struct ph_frame *f,
    struct ph_frame *inner, const char **code, char **cause)
{
	struct agent_seal	*as = s->sealed;
	struct ph_seal_rec	 rec;
	const char		*why = NULL;
	char			*c = NULL;
	int			 cc;

	*code = PH_ERR_BAD_MESSAGE;
	if (f->type == PH_FRAME_CONTROL && f->ctl == PH_CTL_ERROR)
		return 1;
	if (f->type != PH_FRAME_SEALED) {
		*cause = ph_asprintf("a clear %s frame came in a sealed session",
		    f->type == PH_FRAME_CONTROL ? ph_ctl_name(f->ctl) :
		    ph_frame_type_name(f->type));
		return -1;
	}
	*code = PH_ERR_SEAL;
	if (ph_seal_open(as->seal, f->payload - 1, f->len + 1, as->in,
	    sizeof as->in, &rec, &c) != 0) {
		*cause = ph_asprintf("a sealed record from the client did not open "
		    "(%s): something between the client and the agent altered the "
		    "session", c);
		free(c);
		return -1;
	}
	if (rec.kind != PH_SEAL_DATA)
		return 1;	/* an ack or the client's close: nothing for the program */
	if (ph_frame_decode(rec.frame, rec.len, inner, &cc, &why) != 0 ||
	    inner->type == PH_FRAME_SEALED || inner->type == PH_FRAME_COPY) {
		ph_frame_clear(inner);
		*code = PH_ERR_BAD_MESSAGE;
		*cause = ph_asprintf("the client sealed a frame that is not one (%s)",
		    why != NULL ? why : "a record inside a record");
		return -1;
	}
	/* A resize shapes the recording: the relay gets a copy. */
	if (as->record && inner->type == PH_FRAME_CONTROL && inner->ctl == PH_CTL_RESIZE)
		(void)agent_chan_push(&s->chan, PH_FRAME_COPY, rec.frame, rec.len);
	return 0;
}

size_t
agent_seal_max(const struct agent_session *s)
{
	return s->sealed != NULL ? PH_SEAL_MAX_PAYLOAD : PH_MAX_PAYLOAD;
}
