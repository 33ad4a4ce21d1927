/*
 * fuzz_fwdpolicy.c - libFuzzer target for the token's forward claim
 * (src/fwdpolicy.c), which the agent parses from every client token that
 * opens a forward.  The input: 19 bytes of destination (16 of address, a
 * byte whose low bit picks IPv6, a port u16), then lines: the first is the
 * host as the client gave it, the others the claim's patterns (a JSON
 * array of those strings; with none, no claim).  The policy is built and
 * the destination checked.  Aborts when ph_fwd_claim_check and
 * ph_fwd_policy_new disagree, a refusal has no reason, or a credential
 * endpoint is let through by a claim none of whose patterns is an address
 * (only a pattern naming the address may open one).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "porthole/fwdpolicy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Does some pattern of the claim start like an address ("1.", "[")? */
static int
names_address(const json_t *claim)
{
	const json_t	*v;
	const char	*s;
	size_t		 i;

	json_array_foreach(claim, i, v) {
		s = json_string_value(v);
		if (s != NULL && (s[0] == '[' || (s[0] >= '0' && s[0] <= '9')))
			return 1;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in6	 s6;
	struct sockaddr_in	 s4;
	struct sockaddr		*sa;
	struct ph_fwd_policy	*p;
	json_t			*claim = NULL;
	char			*text, *line, *next, *host, *cause = NULL, *why = NULL;
	uint16_t		 port;
	int			 bad, rc;

	if (size < 19 || size > 8192)
		return 0;
	memset(&s6, 0, sizeof s6);
	memset(&s4, 0, sizeof s4);
	if (data[16] & 1) {
		s6.sin6_family = AF_INET6;
		memcpy(&s6.sin6_addr, data, 16);
		sa = (struct sockaddr *)&s6;
	} else {
		s4.sin_family = AF_INET;
		memcpy(&s4.sin_addr, data, 4);
		sa = (struct sockaddr *)&s4;
	}
	port = (uint16_t)(data[17] << 8 | data[18]);
	if ((text = malloc(size - 19 + 1)) == NULL)
		return 0;
	memcpy(text, data + 19, size - 19);
	text[size - 19] = '\0';
	host = text;
	if ((next = strchr(text, '\n')) != NULL) {
		*next++ = '\0';
		claim = json_array();
		for (line = next; line != NULL; line = next) {
			if ((next = strchr(line, '\n')) != NULL)
				*next++ = '\0';
			json_array_append_new(claim, json_string(line));	/* NULL if not UTF-8 */
		}
	}
	bad = ph_fwd_claim_check(claim, &cause) != 0;
	free(cause);
	cause = NULL;
	p = ph_fwd_policy_new(claim, &cause);
	if ((p == NULL) != bad || (p == NULL && cause == NULL))
		abort();
	free(cause);
	if (p != NULL) {
		rc = ph_fwd_policy_check(p, host, port, sa, &why);
		if (rc != 0 && why == NULL)
			abort();
		if (rc == 0 && ph_fwd_credential_endpoint(sa) &&
		    (claim == NULL || !names_address(claim)))
			abort();
		free(why);
		ph_fwd_policy_free(p);
	}
	json_decref(claim);
	free(text);
	return 0;
}
