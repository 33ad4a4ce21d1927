/*
 * cmd-token-revoke.c - `porthole token revoke TOKEN|@FILE|JTI [--until UNIX]`:
 * the one `token` subcommand that talks to a relay.
 *
 * Given a token (or @FILE holding one), its jti and exp are read from it
 * without verifying it (a revocation needs no trust in what it names), and
 * the entry lasts until the token's exp; given a bare jti, until --until,
 * else as long as the relay lets a token live.  The request is
 * POST /v1/revoked/JTI/UNTIL with the proof of the operator's key; the
 * operator's token needs the admin scope revoke.  The relay records the
 * entry in Redis (its fleet) or in its PORTHOLE_REVOKED file, and every
 * relay and their agents refuse the token within seconds
 * (docs/operations.md, "Revoking a token").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "porthole/printable.h"
#include "porthole/protocol.h"
#include "porthole/token.h"
#include "porthole/util.h"

#include "client-conf.h"
#include "client-conn.h"
#include "client-http.h"
#include "client-out.h"
#include "cmd.h"

/* A jti the request's path can carry: 1..256 of [A-Za-z0-9._~-]. */
static int
revoke_jti_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 256 && strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._~-") == n;
}

/*
 * What to revoke: arg is a token, @FILE or a jti.  0 with *jti (malloc'd)
 * and *exp (0 when unknown), or the exit status after saying why.
 */
static int
revoke_target(const char *arg, char **jti, long long *exp)
{
	json_t	*hdr = NULL, *claims = NULL;
	char	*tok, *cause = NULL;
	const char *j;

	*exp = 0;
	if (arg[0] != '@' && strchr(arg, '.') == NULL) {
		if (!revoke_jti_ok(arg))
			return cmd_failf("token revoke: '%s' is neither a token nor a "
			    "token id (1 to 256 of A-Z a-z 0-9 . _ ~ -)", arg);
		*jti = strdup(arg);
		return 0;
	}
	if ((tok = ph_secret_value(arg, &cause)) == NULL)
		return cmd_fail(cause);
	if (arg[0] != '@')
		ph_arg_wipe((char *)arg);
	if (ph_token_decode(tok, &hdr, &claims, &cause) != 0) {
		OPENSSL_cleanse(tok, strlen(tok));
		free(tok);
		return cmd_failf("token revoke: not a token: %s", cause != NULL ?
		    cause : "?");
	}
	OPENSSL_cleanse(tok, strlen(tok));
	free(tok);
	j = json_string_value(json_object_get(claims, "jti"));
	if (j == NULL || !revoke_jti_ok(j)) {
		json_decref(hdr);
		json_decref(claims);
		return cmd_failf("token revoke: the token has no jti this command can "
		    "name (list it in the relays' PORTHOLE_REVOKED instead)");
	}
	*jti = strdup(j);
	*exp = (long long)json_integer_value(json_object_get(claims, "exp"));
	json_decref(hdr);
	json_decref(claims);
	return 0;
}

int
cmd_token_revoke(struct client_conf *conf, int argc, char **argv)
{
	struct client_conn	*cc;
	const char		*what = NULL, *until_s = NULL;
	char			*jti = NULL, *cause = NULL, *body = NULL, *path, *end;
	long long		 exp, until = 0;
	json_t			*doc;
	size_t			 len;
	int			 i, r, status = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--until") == 0) {
			if (i + 1 >= argc)
				return cmd_failf("token revoke: --until needs UNIXTIME; "
				    "see 'porthole token --help'");
			until_s = argv[++i];
			continue;
		}
		if (argv[i][0] == '-' && argv[i][1] != '\0') {
			if ((r = cmd_conf_option(&cmd_entry_token, conf, argc, argv, &i)) != 0)
				return r == CMD_EXIT_HELP ? 0 : r;
			continue;
		}
		if (what != NULL)
			return cmd_failf("token revoke: give one TOKEN, @FILE or JTI; "
			    "see 'porthole token --help'");
		what = argv[i];
	}
	if (what == NULL)
		return cmd_failf("token revoke: give the TOKEN, @FILE or JTI to revoke; "
		    "see 'porthole token --help'");
	if (until_s != NULL) {
		errno = 0;
		until = strtoll(until_s, &end, 10);
		if (*until_s == '\0' || *end != '\0' || errno != 0 || until <= 0)
			return cmd_failf("token revoke: --until wants Unix seconds, not "
			    "'%s'", until_s);
	}
	if ((r = revoke_target(what, &jti, &exp)) != 0)
		return r;
	if (jti == NULL)
		return cmd_failf("out of memory");
	if (until == 0)
		until = exp;
	if (client_conf_load(conf, &cause) != 0 ||
	    (cc = client_conn_new(conf, &cause)) == NULL) {
		free(jti);
		return cmd_fail(cause);
	}
	path = ph_asprintf("%s/%s/%lld", PH_PATH_REVOKED, jti, until);
	r = client_http_request(cc, "POST", path, NULL, NULL, NULL, &status, &body,
	    &len, &cause);
	free(path);
	client_conn_free(cc);
	if (r == 0 && status != 200) {
		r = -1;
		cause = ph_asprintf("the relay has no %s: upgrade it", PH_PATH_REVOKED);
	}
	if (r != 0) {
		free(jti);
		free(body);
		return cmd_fail(cause);
	}
	doc = json_loadb(body != NULL ? body : "", len, 0, NULL);
	free(body);
	printf("revoked %s until %lld (%s)\n", jti,
	    (long long)json_integer_value(json_object_get(doc, "until")),
	    json_string_value(json_object_get(doc, "where")) != NULL &&
	    strcmp(json_string_value(json_object_get(doc, "where")), "redis") == 0 ?
	    "every relay of the fleet refuses it within seconds" :
	    "this relay's PORTHOLE_REVOKED");
	json_decref(doc);
	free(jti);
	return client_out_flush();
}
