/*
 * agentid.c - the rules for what an agent may claim in its hello, and its
 * full id "<claimed>@<sub>".  See porthole/agentid.h; the relay applies
 * them at hello (relay-agent.c), the agent computes its own full id with
 * them (agent-identity.c), the CLI splits ids and targets with them
 * (selector.c).  Pure functions, no state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/agentid.h"
#include "porthole/util.h"

#define IDENT_QUOTE_MAX	64	/* bytes of a refused value shown in a cause */

struct ident_rule {
	const char	*what;		/* for causes */
	size_t		 min, max;
	const char	*extra;		/* allowed besides ASCII letters and digits */
	const char	*words;		/* the rule */
	const char	*plural;	/* "agent names" */
};

static const struct ident_rule ident_rules[] = {
	[PH_IDENT_ID] = { "agent id", 1, PH_AGENT_CLAIM_MAX, "._-/+",
	    "1-200 ASCII letters, digits and . _ - / +", "agent ids" },
	[PH_IDENT_NAME] = { "agent name", 1, PH_AGENT_CLAIM_MAX, "._-/+",
	    "1-200 ASCII letters, digits and . _ - / +", "agent names" },
	[PH_IDENT_SUB] = { "agent token sub", 1, PH_AGENT_SUB_MAX, "._-/+@",
	    "1-128 ASCII letters, digits and . _ - / + @", "agent token subs" },
	[PH_IDENT_LABEL_KEY] = { "label key", 1, PH_LABEL_KEY_MAX, "._-/",
	    "1-63 ASCII letters, digits and . _ - /", "label keys" },
	[PH_IDENT_LABEL_VALUE] = { "label value", 0, PH_LABEL_VALUE_MAX, "._-/+:@",
	    "0-255 ASCII letters, digits and . _ - / + : @", "label values" },
};

static int
ident_char_ok(const struct ident_rule *r, char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' && strchr(r->extra, c) != NULL);
}

int
ph_ident_ok(enum ph_ident kind, const char *s, size_t len)
{
	const struct ident_rule	*r = &ident_rules[kind];
	size_t			 i;

	if (s == NULL || len < r->min || len > r->max)
		return 0;
	for (i = 0; i < len; i++) {
		if (!ident_char_ok(r, s[i]))
			return 0;
	}
	return 1;
}

const char *
ph_ident_rule(enum ph_ident kind)
{
	return ident_rules[kind].words;
}

char *
ph_ident_quote(const char *s, size_t len)
{
	size_t	 i, n = len > IDENT_QUOTE_MAX ? IDENT_QUOTE_MAX : len;
	char	*out, *o;

	if ((out = malloc(n * 4 + 4)) == NULL)
		return NULL;
	o = out;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			*o++ = (char)c;
		else
			o += sprintf(o, "\\x%02x", c);
	}
	if (n < len)
		o += sprintf(o, "...");
	*o = '\0';
	return out;
}

/* "agent name "x y" is not allowed: agent names hold RULE" into *cause. */
static int
ident_refuse(enum ph_ident kind, const char *s, size_t len, const char *key,
    char **cause)
{
	const struct ident_rule	*r = &ident_rules[kind];
	char			*q = ph_ident_quote(s, len), *k = NULL;

	if (key != NULL)
		k = ph_ident_quote(key, strlen(key));
	*cause = ph_asprintf("%s%s%s \"%s\" is not allowed: %s hold %s", r->what,
	    k != NULL ? " of label " : "", k != NULL ? k : "", q != NULL ? q : "?",
	    r->plural, r->words);
	free(q);
	free(k);
	return -1;
}

int
ph_ident_hello_check(const json_t *hello, char **cause)
{
	static const struct {
		const char	*member;
		enum ph_ident	 kind;
	} parts[] = { { "id", PH_IDENT_ID }, { "name", PH_IDENT_NAME } };
	const char	*s, *key;
	json_t		*labels, *v;
	size_t		 i;

	for (i = 0; i < sizeof parts / sizeof parts[0]; i++) {
		v = json_object_get(hello, parts[i].member);
		s = json_string_value(v);
		if (s == NULL)
			return ident_refuse(parts[i].kind, "", 0, NULL, cause);
		if (!ph_ident_ok(parts[i].kind, s, json_string_length(v)))
			return ident_refuse(parts[i].kind, s, json_string_length(v),
			    NULL, cause);
	}
	labels = json_object_get(hello, "labels");
	if (labels == NULL)
		return 0;
	if (!json_is_object(labels)) {
		*cause = ph_asprintf("hello labels must be an object of strings");
		return -1;
	}
	json_object_foreach(labels, key, v) {
		if (!ph_ident_ok(PH_IDENT_LABEL_KEY, key, strlen(key)))
			return ident_refuse(PH_IDENT_LABEL_KEY, key, strlen(key), NULL,
			    cause);
		if ((s = json_string_value(v)) == NULL) {
			*cause = ph_asprintf("hello labels must be an object of strings");
			return -1;
		}
		if (!ph_ident_ok(PH_IDENT_LABEL_VALUE, s, json_string_length(v)))
			return ident_refuse(PH_IDENT_LABEL_VALUE, s,
			    json_string_length(v), key, cause);
	}
	return 0;
}

char *
ph_agent_full_id(const char *claimed, const char *sub, char **cause)
{
	if (claimed == NULL || !ph_ident_ok(PH_IDENT_ID, claimed, strlen(claimed))) {
		ident_refuse(PH_IDENT_ID, claimed != NULL ? claimed : "",
		    claimed != NULL ? strlen(claimed) : 0, NULL, cause);
		return NULL;
	}
	if (sub == NULL || !ph_ident_ok(PH_IDENT_SUB, sub, strlen(sub))) {
		ident_refuse(PH_IDENT_SUB, sub != NULL ? sub : "",
		    sub != NULL ? strlen(sub) : 0, NULL, cause);
		return NULL;
	}
	return ph_asprintf("%s@%s", claimed, sub);
}

size_t
ph_agent_claim_len(const char *id, const char *sub)
{
	size_t	n = strlen(id), m;

	if (sub == NULL)
		return n;
	m = strlen(sub);
	if (m + 1 < n && id[n - m - 1] == '@' && strcmp(id + n - m, sub) == 0)
		return n - m - 1;
	return n;
}
