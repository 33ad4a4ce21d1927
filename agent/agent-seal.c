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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "porthole/frame.h"
#include "porthole/log.h"
#include "porthole/opensig.h"
#include "porthole/resume.h"
#include "porthole/sealsess.h"
#include "porthole/token.h"
#include "porthole/util.h"

#include "agent.h"
#include "op.h"

/* Acknowledge the client's records after this many bytes, or this long. */
#define AGENT_SEAL_ACK_BYTES	(256 * 1024)
#define AGENT_SEAL_ACK_US	(500 * LWS_US_PER_MS)

struct agent_seal {
	struct ph_seal	*seal;
	int		 record;	/* send the relay COPY frames */
	/*
	 * Resume: every record sealed is kept in rs until the client
	 * acknowledges it and goes to the channel from there (pump), so a
	 * channel that drops loses nothing; the sources stop at soft.
	 */
	int		 resume;	/* the session resumes */
	struct ph_resume rs;
	size_t		 soft;
	uint64_t	 ack_sent;	/* the client's bytes acknowledged last */
	int		 data_in;	/* a data record came since */
	int		 proving;	/* resumed: the client's proof is awaited */
	uint8_t		 challenge[PH_SEAL_CHALLENGE_LEN];	/* ours, while proving */
	struct agent_session *s;
	lws_sorted_usec_list_t sul_ack;	/* the pending acknowledgement */
	uint8_t		 plain[PH_MAX_MESSAGE];	/* a COPY frame going out */
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

/*
 * A random value drawn once per process: the CLI compares the one of the
 * agent that opened a session with the one of an agent that refuses its
 * resume, and so tells "the agent restarted" (docs/protocol.md, "Resume").
 * Not the instance, which the relay's id rule relies on clients not knowing.
 */
const char *
agent_seal_boot(void)
{
	static char	boot[17];

	if (boot[0] == '\0' && ph_random_hex(boot, 16) != 0)
		snprintf(boot, sizeof boot, "%016llx", (unsigned long long)ph_mono_ms());
	boot[16] = '\0';
	return boot;
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
	s->sealed->s = s;
	/*
	 * No resume when the client will not come back (its open's `resume`
	 * false) or when its operation must not be held (s->no_hold: a dump
	 * with freeze would keep the app stopped for the timeout).
	 */
	if (a->resume_ms > 0 && !json_is_false(json_object_get(s->open, "resume")) &&
	    !s->no_hold) {
		if (ph_resume_init(&s->sealed->rs, a->resume_hard, cause) != 0)
			goto out;
		s->sealed->resume = 1;
		s->sealed->soft = a->resume_soft;
	}
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
	if (s->sealed->resume && (json_object_set_new(m, "resume", json_true()) != 0 ||
	    json_object_set_new(m, "boot", json_string(agent_seal_boot())) != 0))
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
	lws_sul_cancel(&s->sealed->sul_ack);
	ph_resume_clear(&s->sealed->rs);
	ph_seal_free(s->sealed->seal);
	OPENSSL_cleanse(s->sealed, sizeof *s->sealed);
	free(s->sealed);
	s->sealed = NULL;
}

int
agent_seal_resumes(const struct agent_session *s)
{
	return s->sealed != NULL && s->sealed->resume;
}

int
agent_seal_full(const struct agent_session *s)
{
	return agent_seal_resumes(s) && s->sealed->rs.held >= s->sealed->soft;
}

/*
 * Is a resume under way: its channel dialing (its first message must be
 * `attach`), or the client's proof awaited?  Nothing of the stream goes
 * out until it is done.
 */
int
agent_seal_proving(const struct agent_session *s)
{
	return agent_seal_resumes(s) && (s->resuming || s->sealed->proving);
}

/* Has the client records of ours it has not acknowledged? */
int
agent_seal_unacked(const struct agent_session *s)
{
	return agent_seal_resumes(s) && s->sealed->rs.acked < s->sealed->rs.sent;
}

/*
 * A record the program cannot take yet (its input is full): its envelope's
 * ack, unopened, frees what it names, so that acknowledgements never wait
 * behind input (the relay could forge it: then records go missing and the
 * client's checks end the session, as a relay can always end one).
 */
void
agent_seal_peek_ack(struct agent_session *s, const uint8_t *msg, size_t len)
{
	struct agent_seal	*as = s->sealed;
	struct ph_seal_env	 env;
	char			*why = NULL;

	if (!agent_seal_resumes(s) || ph_seal_envelope(msg, len, &env, &why) != 0) {
		free(why);
		return;
	}
	if (env.ack <= as->rs.acked || ph_resume_ack(&as->rs, env.ack, &why) != 0) {
		free(why);
		return;
	}
	if (!agent_seal_full(s) && s->op != NULL && s->op->resume != NULL &&
	    !agent_session_over_high(s))
		s->op->resume(s);
}

/* Did the client end its stream (a close record: it leaves on purpose)? */
int
agent_seal_peer_closed(const struct agent_session *s)
{
	return s->sealed != NULL && ph_seal_peer_closed(s->sealed->seal);
}

int
agent_seal_pump(struct agent_session *s)
{
	struct agent_seal	*as = s->sealed;
	const uint8_t		*m;
	size_t			 len;
	uint64_t		 off;

	if (!agent_seal_resumes(s))
		return 0;
	/*
	 * Not while a resume's channel is still connecting (s->resuming
	 * before the proofs): its attach must go first, and what was sealed
	 * meanwhile goes after the client's proof, from its `received` on.
	 */
	while (!agent_seal_proving(s) && agent_chan_open(&s->chan) &&
	    !ph_queue_over_high(&s->chan.out) &&
	    ph_resume_next(&as->rs, &m, &len, &off) == 1) {
		if (agent_chan_push(&s->chan, -1, m, len) != 0)
			return -1;
	}
	return 0;
}

int
agent_seal_unacked_out(struct agent_session *s, agent_seal_out_fn fn, void *arg)
{
	struct agent_seal		*as = s->sealed;
	const struct ph_resume_msg	*m;
	struct ph_seal_rec		 rec;
	char				*why = NULL;
	int				 n = 0;

	if (!agent_seal_resumes(s))
		return 0;
	for (m = as->rs.head; m != NULL; m = m->link) {
		if (ph_seal_reopen(as->seal, m->data, m->len, as->in, sizeof as->in,
		    &rec, &why) != 0) {
			ph_warn("session %.8s: a kept record: %s", s->sid, why);
			free(why);
			why = NULL;
			continue;
		}
		if (rec.kind == PH_SEAL_DATA && rec.len > 1 &&
		    (rec.frame[0] == PH_FRAME_STDOUT || rec.frame[0] == PH_FRAME_STDERR)) {
			fn(arg, rec.frame + 1, rec.len - 1);
			n++;
		}
		OPENSSL_cleanse(as->in, rec.len);
	}
	return n;
}

/*
 * Where the next record, of len bytes, is sealed: straight into the resume
 * buffer when the session resumes (*m; no copy of it there), else as->rec.
 * NULL with *cause when the resume buffer has no room for it.
 */
static uint8_t *
agent_seal_dest(struct agent_session *s, size_t len, struct ph_resume_msg **m,
    char **cause)
{
	struct agent_seal	*as = s->sealed;

	*m = NULL;
	if (!as->resume)
		return len <= sizeof as->rec ? as->rec : NULL;
	if ((*m = ph_resume_reserve(&as->rs, len, cause)) == NULL)
		return NULL;
	return (*m)->data;
}

/*
 * A record just sealed (len bytes): kept for resume (m, from
 * agent_seal_dest) and sent from there, or queued (as->rec).
 */
static int
agent_seal_out(struct agent_session *s, struct ph_resume_msg *m, size_t len,
    char **cause)
{
	struct agent_seal	*as = s->sealed;

	as->ack_sent = ph_seal_received(as->seal);
	if (m == NULL) {
		if (agent_chan_push(&s->chan, -1, as->rec, len) != 0)
			goto over;
		return 0;
	}
	m->len = len;		/* what was sealed (reserved: at most that) */
	ph_resume_keep(&as->rs, m, NULL);
	if (agent_seal_pump(s) != 0)
		goto over;
	return 0;
over:
	*cause = ph_asprintf("output queue overflow (%zu bytes queued)",
	    s->chan.out.bytes);
	return -1;
}

/* Seal one frame (type -1: p is a whole message) and queue the record. */
static int
agent_seal_push(struct agent_session *s, int type, const void *p, size_t n,
    char **cause)
{
	struct agent_seal	*as = s->sealed;
	struct ph_resume_msg	*m;
	uint8_t			*out;
	size_t			 cap = PH_SEAL_RECORD_MIN + n + (type >= 0), len;

	if (n > PH_SEAL_MAX_PAYLOAD + (type < 0)) {
		*cause = ph_asprintf("a frame of %zu bytes does not fit a sealed "
		    "record", n);
		return -1;
	}
	if ((out = agent_seal_dest(s, cap, &m, cause)) == NULL)
		return -1;	/* nothing sealed: no gap */
	if (ph_sealsess_frame_into(as->seal, type, p, n, out, cap, &len,
	    cause) != 0) {
		free(m);
		return -1;
	}
	return agent_seal_out(s, m, len, cause);
}

/* An ack record: what came from the client is acknowledged. */
static int
agent_seal_ack(struct agent_session *s, char **cause)
{
	struct agent_seal	*as = s->sealed;
	struct ph_resume_msg	*m;
	uint8_t			*out;
	size_t			 len;

	lws_sul_cancel(&as->sul_ack);
	as->data_in = 0;
	if ((out = agent_seal_dest(s, PH_SEAL_RECORD_MIN, &m, cause)) == NULL)
		return -1;
	if (ph_seal_record(as->seal, PH_SEAL_ACK, NULL, 0, ph_seal_received(as->seal),
	    out, PH_SEAL_RECORD_MIN, &len, cause) != 0) {
		free(m);
		return -1;
	}
	return agent_seal_out(s, m, len, cause);
}

static void
agent_seal_ack_due(lws_sorted_usec_list_t *sul)
{
	struct agent_seal	*as = lws_container_of(sul, struct agent_seal, sul_ack);
	struct agent_session	*s = as->s;
	char			*why = NULL;

	if (!as->data_in || as->proving || ph_seal_received(as->seal) == as->ack_sent)
		return;
	if (agent_seal_ack(s, &why) != 0) {
		agent_session_fail(s, PH_CLOSE_INTERNAL, PH_ERR_INTERNAL, "%s", why);
		free(why);
	}
}

/*
 * A record from the client opened: its ack frees what it acknowledges (a
 * retransmitted record's older ack is nothing new), and what came is
 * acknowledged soon.  -1 with *cause: the session must end.
 */
static int
agent_seal_acked(struct agent_session *s, const struct ph_seal_rec *rec, char **cause)
{
	struct agent_seal	*as = s->sealed;
	char			*c = NULL;

	if (!as->resume)
		return 0;
	if (rec->ack > as->rs.acked) {
		if (ph_resume_ack(&as->rs, rec->ack, &c) != 0) {
			*cause = ph_asprintf("the client's acknowledgement is wrong: %s", c);
			free(c);
			return -1;
		}
		if (!agent_seal_full(s) && s->op != NULL && s->op->resume != NULL &&
		    !agent_session_over_high(s))
			s->op->resume(s);
	}
	if (rec->kind == PH_SEAL_DATA)
		as->data_in = 1;
	if (ph_seal_received(as->seal) - as->ack_sent >= AGENT_SEAL_ACK_BYTES)
		return agent_seal_ack(s, cause);
	if (as->data_in && lws_dll2_is_detached(&as->sul_ack.list))
		lws_sul_schedule(s->agent->ctx, 0, &as->sul_ack, agent_seal_ack_due,
		    AGENT_SEAL_ACK_US);
	return 0;
}

int
agent_seal_proof(struct agent_session *s, const uint8_t *challenge, char **cause)
{
	struct agent_seal	*as = s->sealed;
	uint8_t			 proof[PH_SEAL_PROOF_LEN];
	char			*p = NULL, *c = NULL;
	json_t			*m;
	int			 rc = -1;

	if (ph_seal_challenge(as->challenge, cause) != 0 ||
	    ph_seal_resume_proof(as->seal, challenge, ph_seal_received(as->seal), proof,
	    cause) != 0)
		return -1;
	p = ph_seal_share_encode(proof);
	c = ph_seal_share_encode(as->challenge);
	if (p == NULL || c == NULL || (m = ph_ctl_new(PH_CTL_RESUME_PROOF)) == NULL ||
	    json_object_set_new(m, "received", json_integer((json_int_t)
	    ph_seal_received(as->seal))) != 0 ||
	    json_object_set_new(m, "challenge", json_string(c)) != 0 ||
	    json_object_set_new(m, "proof", json_string(p)) != 0) {
		*cause = ph_asprintf("out of memory");
		goto out;
	}
	if (agent_chan_push_ctl(&s->chan, m) != 0) {
		*cause = ph_asprintf("cannot queue the resume proof");
		goto out;
	}
	as->proving = 1;
	rc = 0;
out:
	free(p);
	free(c);
	OPENSSL_cleanse(proof, sizeof proof);
	return rc;
}

int
agent_seal_check(struct agent_session *s, const json_t *m, const char **code,
    int *close_code, char **cause)
{
	struct agent_seal	*as = s->sealed;
	uint8_t			 proof[PH_SEAL_PROOF_LEN];
	json_int_t		 received;
	char			*why = NULL;

	*code = PH_ERR_UNAUTHORIZED;
	*close_code = PH_CLOSE_UNAUTHORIZED;
	received = json_integer_value(json_object_get(m, "received"));
	if (ph_seal_share_decode(json_string_value(json_object_get(m, "proof")), proof,
	    &why) != 0 || ph_seal_resume_verify(as->seal, as->challenge,
	    (uint64_t)received, proof, &why) != 0) {
		*cause = ph_asprintf("the client's resume proof does not verify (%s): "
		    "it does not hold the session's keys", why);
		free(why);
		return -1;
	}
	if (ph_resume_rewind(&as->rs, (uint64_t)received, &why) != 0) {
		*code = PH_ERR_RESUME;
		*close_code = PH_CLOSE_POLICY;
		*cause = why;
		return -1;
	}
	as->proving = 0;
	/* The client learns at once what we have of its stream. */
	if (agent_seal_ack(s, cause) != 0) {
		*code = PH_ERR_INTERNAL;
		*close_code = PH_CLOSE_INTERNAL;
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
		    type == PH_FRAME_STDERR) && agent_chan_open(&s->chan) &&
		    agent_seal_copy(s, type, b, k) != 0) {
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
	if (agent_seal_acked(s, &rec, cause) != 0)
		return -1;
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
