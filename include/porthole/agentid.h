/*
 * agentid.h - who an agent is: the characters its hello may claim (id,
 * name, label keys and values) and its full id, the claimed id qualified
 * with the `sub` of the token it came with (docs/protocol.md, "Agent
 * identity").
 *
 * The relay names an agent "<claimed>@<sub>": only a holder of a token with
 * that sub can hold an id ending in "@<sub>", so an agent token of one trust
 * domain can neither take nor block an id of another.  The agent computes
 * the same full id from its own token, the CLI reads it from /v1/agents.
 * The character rules keep every part printable, free of the separators
 * TARGETs use ('@' between claim and sub, '=' and ',' in selectors, ':' in
 * cp's TARGET:PATH) and free of anything a terminal acts on.
 */
#ifndef PORTHOLE_AGENTID_H
#define PORTHOLE_AGENTID_H

#include <stddef.h>
#include <jansson.h>

#define PH_AGENT_CLAIM_MAX	200	/* hello.id and hello.name, bytes */
#define PH_AGENT_SUB_MAX	128	/* an agent token's sub, bytes */
#define PH_AGENT_ID_MAX		(PH_AGENT_CLAIM_MAX + 1 + PH_AGENT_SUB_MAX)
#define PH_LABEL_KEY_MAX	63
#define PH_LABEL_VALUE_MAX	255

/* The five things an agent's identity is made of, each with its rule. */
enum ph_ident {
	PH_IDENT_ID,		/* hello.id: 1-200 of A-Za-z0-9 . _ - / + */
	PH_IDENT_NAME,		/* hello.name: the same */
	PH_IDENT_SUB,		/* agent token's sub: 1-128, and '@' allowed */
	PH_IDENT_LABEL_KEY,	/* 1-63 of A-Za-z0-9 . _ - / */
	PH_IDENT_LABEL_VALUE,	/* 0-255 of A-Za-z0-9 . _ - / + : @ */
};

/* Does s (len bytes) follow the rule of kind?  1 or 0. */
int		 ph_ident_ok(enum ph_ident kind, const char *s, size_t len);
/* The rule of kind in words, for messages ("1-200 ASCII letters, ..."). */
const char	*ph_ident_rule(enum ph_ident kind);

/*
 * s (len bytes) as a message may show it (malloc'd, NULL when out of
 * memory): printable ASCII as is, '"', '\\' and every other byte as \xNN,
 * at most the first 64 bytes, then "...".
 */
char		*ph_ident_quote(const char *s, size_t len);

/*
 * Check what a hello claims: id, name, and every label key and value.
 * 0, or -1 with *cause (malloc'd) naming the first thing refused, quoted
 * printably, and the rule it breaks.
 */
int		 ph_ident_hello_check(const json_t *hello, char **cause);

/*
 * The full id "<claimed>@<sub>" (malloc'd), or NULL with *cause when the
 * claimed id or the sub break their rules.
 */
char		*ph_agent_full_id(const char *claimed, const char *sub, char **cause);

/*
 * The length of the claimed part of an agent id: when sub is given and id
 * ends with "@<sub>", what comes before it; otherwise all of id (an agent
 * listed by a relay that does not qualify ids).
 */
size_t		 ph_agent_claim_len(const char *id, const char *sub);

#endif
