/*
 * ph-mint.c - mints an unbound client token (no cnf) for the tests that
 * show relays and agents refusing one.  `porthole token issue` no longer
 * makes such tokens (issue 16 item 3), so the refusals are tested with a
 * token only this tool makes.
 *
 *   ph-mint SIGNING_KEY SUB [EXP_UNIX]
 *
 * Prints the token on stdout: kind client, every operation in scope, exp
 * EXP_UNIX (default: one hour from now).  Exit 1 with a line on stderr on
 * any failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/ops.h"
#include "porthole/token.h"
#include "porthole/util.h"

int
main(int argc, char **argv)
{
	struct ph_claims	 c;
	struct ph_key		*key;
	char			*cause = NULL, *tok, *all, *scope[64], *p, *save;
	size_t			 n = 0;

	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: ph-mint SIGNING_KEY SUB [EXP_UNIX]\n");
		return 1;
	}
	if ((key = ph_key_load_private(argv[1], &cause)) == NULL) {
		fprintf(stderr, "ph-mint: %s\n", cause);
		return 1;
	}
	if ((all = ph_ops_scope_list(0)) == NULL)
		return 1;
	for (p = strtok_r(all, ",", &save); p != NULL && n < 63;
	    p = strtok_r(NULL, ",", &save))
		scope[n++] = p;
	scope[n] = NULL;
	memset(&c, 0, sizeof c);
	c.sub = argv[2];
	c.kind = PH_TOKEN_CLIENT;
	c.scope = scope;
	c.iat = ph_now();
	c.exp = argc == 4 ? strtoll(argv[3], NULL, 10) : c.iat + 3600;
	if (c.iat > c.exp)
		c.iat = c.exp - 1;
	if ((tok = ph_token_issue(key, &c, &cause)) == NULL) {
		fprintf(stderr, "ph-mint: %s\n", cause);
		return 1;
	}
	printf("%s\n", tok);
	free(tok);
	free(all);
	ph_key_free(key);
	return 0;
}
