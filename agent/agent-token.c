/*
 * agent-token.c - is the agent's own token one an agent can ever use?
 *
 * The agent exits (status AGENT_EXIT_TOKEN, 3) on its own immutable inputs
 * only, and this is the one that can be judged locally: a token that does
 * not parse as a JWT, or whose `kind` is not `agent` (an operator's client
 * token, the usual first-run mistake), is refused by every relay forever,
 * so retrying it would only fill the log.  Nothing else is judged here:
 * the signature, the expiry and the key id are the relay's to check (its
 * keys rotate, clocks differ), and a relay's verdict is never a reason to
 * exit (agent-control.c retries it).  The claims are decoded without
 * verification and used for nothing but this message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "porthole/token.h"
#include "porthole/util.h"

#include "agent.h"

/* A token goes into an HTTP header: allow only what a JWT is made of. */
static int
agent_token_chars_ok(const char *t)
{
	size_t	n = strlen(t);

	if (n == 0 || n > PH_TOKEN_MAX)
		return 0;
	return strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_.") == n;
}

/*
 * 0 if token can be an agent token; -1 with *cause (a sentence that says
 * what to give the agent instead) if no relay will ever take it.
 */
int
agent_token_check(const char *token, char **cause)
{
	json_t		*claims = NULL;
	const char	*kind;
	char		*why = NULL;

	if (!agent_token_chars_ok(token)) {
		*cause = ph_asprintf("the agent token does not parse (it is empty, "
		    "longer than %d bytes, or has characters a token cannot have): "
		    "give the agent a token made by 'porthole token issue --kind "
		    "agent'", PH_TOKEN_MAX);
		return -1;
	}
	if (ph_token_decode(token, NULL, &claims, &why) != 0) {
		*cause = ph_asprintf("the agent token does not parse (%s): give the "
		    "agent a token made by 'porthole token issue --kind agent'",
		    why != NULL ? why : "not a JWT");
		free(why);
		return -1;
	}
	kind = json_string_value(json_object_get(claims, "kind"));
	if (kind == NULL || strcmp(kind, ph_token_kind_name(PH_TOKEN_AGENT)) != 0) {
		if (kind != NULL && strcmp(kind, ph_token_kind_name(PH_TOKEN_CLIENT)) == 0)
			*cause = ph_asprintf("the token given is a client token: the agent "
			    "needs an agent token ('porthole token issue --kind agent')");
		else
			*cause = ph_asprintf("the token given is not an agent token (its "
			    "kind is %s): the agent needs one made by 'porthole token "
			    "issue --kind agent'", kind != NULL ? "not 'agent'" : "missing");
		json_decref(claims);
		return -1;
	}
	json_decref(claims);
	return 0;
}
