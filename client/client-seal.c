/*
 * client-seal.c - the CLI's end of a session sealed end to end (see
 * client-seal.h).  The keys come from an X25519 exchange whose client
 * share is inside the signed open and whose agent share is in the agent's
 * first message; the agent signs its share with its agent key when its
 * token is bound to one, and the CLI checks that signature with the token
 * issuer's keys (PORTHOLE_PUBKEY), so a relay can stand in for neither
 * end.  Records that do not open end the session: a relay can delay or
 * cut it, never change, drop, reorder, replay or add a byte unnoticed.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "porthole/sealsess.h"
#include "porthole/token.h"
#include "porthole/util.h"

#include "client-seal.h"

struct client_seal {
	struct ph_seal_share	*share;
	uint8_t			 mine[PH_SEAL_SHARE_LEN];
	json_t			*open;		/* as signed */
	char			*jti;
	struct ph_seal		*seal;		/* once keyed */
	uint64_t		 last_ack;	/* of the last record opened */
	int			 last_data;
	uint8_t			 rec[PH_SEAL_RECORD_MAX];
	uint8_t			 in[PH_MAX_MESSAGE];
};

struct client_seal *
client_seal_new(json_t *open, char **cause)
{
	struct client_seal	*cs;
	char			*b;

	if ((cs = calloc(1, sizeof *cs)) == NULL) {
		*cause = ph_asprintf("out of memory");
		return NULL;
	}
	if ((cs->share = ph_seal_share_new(cause)) == NULL) {
		free(cs);
		return NULL;
	}
	ph_seal_share_public(cs->share, cs->mine);
	if ((b = ph_seal_share_encode(cs->mine)) == NULL ||
	    json_object_set_new(open, "seal", json_string(b)) != 0) {
		free(b);
		client_seal_free(cs);
		*cause = ph_asprintf("out of memory");
		return NULL;
	}
	free(b);
	return cs;
}

void
client_seal_free(struct client_seal *cs)
{
	if (cs == NULL)
		return;
	ph_seal_share_free(cs->share);
	ph_seal_free(cs->seal);
	json_decref(cs->open);
	free(cs->jti);
	OPENSSL_cleanse(cs, sizeof *cs);
	free(cs);
}

int
client_seal_sent(struct client_seal *cs, const json_t *open, const char *jti,
    char **cause)
{
	if ((cs->open = json_deep_copy(open)) == NULL ||
	    (cs->jti = strdup(jti != NULL ? jti : "")) == NULL) {
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	return 0;
}

int
client_seal_keyed(struct client_seal *cs, const json_t *seal, char **warn,
    char **cause)
{
	struct ph_keyset	 ks;
	uint8_t			 agent[PH_SEAL_SHARE_LEN], th[PH_SEAL_HASH_LEN];
	const char		*pub, *id;
	char			*why = NULL;
	int			 rc = -1;

	*warn = NULL;
	memset(&ks, 0, sizeof ks);
	if (cs->seal != NULL || cs->open == NULL) {
		*cause = ph_asprintf("a second seal message came");
		return -1;
	}
	if (ph_seal_share_decode(json_string_value(json_object_get(seal, "share")),
	    agent, &why) != 0) {
		*cause = ph_asprintf("the agent's share is not one (%s)", why);
		free(why);
		return -1;
	}
	if (ph_sealsess_th(cs->open, cs->jti, cs->mine, agent, th, cause) != 0)
		return -1;
	id = json_string_value(json_object_get(cs->open, "agent"));
	pub = getenv("PORTHOLE_PUBKEY");
	if (pub != NULL && *pub != '\0') {
		if (ph_keyset_load(&ks, pub, &why) != 0) {
			*cause = ph_asprintf("cannot read PORTHOLE_PUBKEY to "
			    "authenticate the agent: %s", why);
			free(why);
			goto out;
		}
		if (json_object_get(seal, "sig") != NULL ||
		    json_object_get(seal, "token") != NULL) {
			/* It says it signs: then it must verify. */
			if (ph_sealsess_agent_check(&ks, seal, id, th, cause) != 0)
				goto out;
		} else
			*warn = ph_asprintf("warning: cannot authenticate agent "
			    "%s: its token names no agent key (porthole token issue "
			    "--kind agent --bind), so the relay could stand in for it",
			    id != NULL ? id : "?");
	} else
		*warn = ph_asprintf("warning: cannot authenticate agent %s: set "
		    "PORTHOLE_PUBKEY to the token issuer's key", id != NULL ? id : "?");
	if ((cs->seal = ph_seal_new(PH_SEAL_CLIENT, cs->share, agent, th,
	    cause)) == NULL)
		goto out;
	ph_seal_share_free(cs->share);
	cs->share = NULL;
	rc = 0;
out:
	if (rc != 0) {
		free(*warn);
		*warn = NULL;
	}
	OPENSSL_cleanse(th, sizeof th);
	ph_keyset_free(&ks);
	return rc;
}

int
client_seal_frame(struct client_seal *cs, int type, const void *p, size_t n,
    const uint8_t **rec, size_t *len, char **cause)
{
	if (ph_sealsess_frame(cs->seal, type, p, n, cs->rec, len, cause) != 0)
		return -1;
	*rec = cs->rec;
	return 0;
}

int
client_seal_open(struct client_seal *cs, const uint8_t *msg, size_t len,
    struct ph_frame *inner, int *recorded, char **cause)
{
	struct ph_seal_rec	 rec;
	const char		*why = NULL;
	char			*c = NULL;
	int			 cc;

	*recorded = 0;
	if (ph_seal_open(cs->seal, msg, len, cs->in, sizeof cs->in, &rec, &c) != 0) {
		*cause = ph_asprintf("a sealed record from the agent did not open "
		    "(%s): something between you and the agent altered the "
		    "session", c);
		free(c);
		return -1;
	}
	cs->last_ack = rec.ack;
	cs->last_data = rec.kind == PH_SEAL_DATA;
	if (rec.kind != PH_SEAL_DATA)
		return 1;
	if (ph_frame_decode(rec.frame, rec.len, inner, &cc, &why) != 0 ||
	    inner->type == PH_FRAME_SEALED || inner->type == PH_FRAME_COPY) {
		ph_frame_clear(inner);
		*cause = ph_asprintf("the agent sealed something that is not a "
		    "frame (%s)", why != NULL ? why : "a record in a record");
		return -1;
	}
	if (inner->type == PH_FRAME_CONTROL && inner->ctl == PH_CTL_SEAL) {
		*recorded = json_is_true(json_object_get(inner->json, "record"));
		ph_frame_clear(inner);
		return 1;
	}
	return 0;
}

uint64_t
client_seal_last_ack(const struct client_seal *cs)
{
	return cs->last_ack;
}

int
client_seal_last_data(const struct client_seal *cs)
{
	return cs->last_data;
}

uint64_t
client_seal_received(const struct client_seal *cs)
{
	return ph_seal_received(cs->seal);
}

int
client_seal_empty(struct client_seal *cs, int kind, const uint8_t **rec, size_t *len,
    char **cause)
{
	if (ph_seal_record(cs->seal, (enum ph_seal_kind)kind, NULL, 0,
	    ph_seal_received(cs->seal), cs->rec, sizeof cs->rec, len, cause) != 0)
		return -1;
	*rec = cs->rec;
	return 0;
}

int
client_seal_resume_check(struct client_seal *cs, const json_t *m,
    const uint8_t challenge[32], uint64_t *received, char **cause)
{
	uint8_t	 proof[PH_SEAL_PROOF_LEN];
	char	*why = NULL;

	*received = (uint64_t)json_integer_value(json_object_get(m, "received"));
	if (ph_seal_share_decode(json_string_value(json_object_get(m, "proof")), proof,
	    &why) != 0 || ph_seal_resume_verify(cs->seal, challenge, *received, proof,
	    &why) != 0) {
		*cause = ph_asprintf("the agent's resume proof does not verify (%s): "
		    "something between you and the agent stands in for it", why);
		free(why);
		return -1;
	}
	return 0;
}

json_t *
client_seal_resume_answer(struct client_seal *cs, const json_t *m, char **cause)
{
	uint8_t	 challenge[PH_SEAL_CHALLENGE_LEN], proof[PH_SEAL_PROOF_LEN];
	uint64_t received = ph_seal_received(cs->seal);
	json_t	*o = NULL;
	char	*p = NULL, *why = NULL;

	if (ph_seal_share_decode(json_string_value(json_object_get(m, "challenge")),
	    challenge, &why) != 0) {
		*cause = ph_asprintf("the agent's resume proof has no challenge (%s)",
		    why);
		free(why);
		return NULL;
	}
	if (ph_seal_resume_proof(cs->seal, challenge, received, proof, cause) != 0)
		return NULL;
	if ((p = ph_seal_share_encode(proof)) == NULL ||
	    (o = ph_ctl_new(PH_CTL_RESUME_PROOF)) == NULL ||
	    json_object_set_new(o, "received", json_integer((json_int_t)received)) != 0 ||
	    json_object_set_new(o, "proof", json_string(p)) != 0) {
		json_decref(o);
		o = NULL;
		*cause = ph_asprintf("out of memory");
	}
	free(p);
	OPENSSL_cleanse(proof, sizeof proof);
	return o;
}
