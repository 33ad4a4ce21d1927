/*
 * cmd-token.c - `porthole token`: the issuer's side of porthole's identity.
 *
 *   porthole token keygen -o FILE [--force]
 *	make an Ed25519 key pair: FILE (private, 0600) and FILE.pub (0644);
 *	FILE signs tokens (or is a client's key), FILE.pub goes into the
 *	relays' and agents' PORTHOLE_PUBKEY.
 *   porthole token issue --key FILE --kind agent|client|relay --sub NAME ...
 *	print a signed token on stdout.
 *   porthole token show [--pubkey FILES] TOKEN|@FILE
 *	print a token's header and claims as JSON; without --pubkey nothing
 *	is verified, and the output says so.
 *   porthole token revoke ... is cmd-token-revoke.c's (it talks to a relay).
 *
 * The rest works offline and needs no relay: it only reads and writes files.  Every
 * failure prints one "porthole: ..." line on stderr and returns 255.  A token
 * is only ever printed on stdout by `issue`; causes never contain one.
 */
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "porthole/ops.h"
#include "porthole/duration.h"
#include "porthole/fwdpolicy.h"
#include "porthole/printable.h"
#include "porthole/agentid.h"
#include "porthole/token.h"
#include "porthole/tokenlife.h"
#include "porthole/util.h"

#include "client-out.h"
#include "cmd.h"

#define DEFAULT_TTL	"30d"

/* Say so when relays with the default policy (tokenlife.h) would refuse c. */
static void
token_warn_lifetime(const struct ph_claims *c)
{
	struct ph_lifetime	 lt;
	char			*why = NULL, max[32];
	const char		*kind = ph_token_kind_name(c->kind);

	ph_lifetime_defaults(&lt);
	if (ph_lifetime_check(&lt, c, &why) == 0)
		return;
	free(why);
	fprintf(stderr, "porthole: warning: relays refuse %s tokens made to live "
	    "longer than %s unless their --max-token-lifetime allows it\n", kind,
	    ph_lifetime_fmt(ph_lifetime_max(&lt, kind), max, sizeof max));
}

/* Fail with a cause, freeing it. */
static int
token_fail_cause(const char *what, char *cause)
{
	if (what == NULL)
		return cmd_fail(cause);
	cmd_failf("%s: %s", what, cause != NULL ? cause : "failed");
	free(cause);
	return CMD_EXIT_FAIL;
}

/* A usage error of subcommand sub. */
static int __attribute__((format(printf, 2, 3)))
token_usage_error(const char *sub, const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "porthole: token %s: ", sub);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("; see 'porthole token --help'\n", stderr);
	return CMD_EXIT_FAIL;
}

/* Report a getopt error for the option at argv[optind - 1]. */
static int
token_getopt_error(const char *sub, int c, char **argv)
{
	const char *opt = argv[optind - 1];

	if (c == ':')
		return token_usage_error(sub, "%s needs a value", opt);
	return token_usage_error(sub, "unknown option %s", opt);
}

/* ---- keygen ---------------------------------------------------------- */

/* Write PEM text to path with mode; the text is wiped afterwards. */
static int
write_pem(const char *path, char *pem, int mode, char **cause)
{
	int	rc;

	rc = ph_write_file(path, pem, strlen(pem), mode, cause);
	OPENSSL_cleanse(pem, strlen(pem));
	free(pem);
	return rc;
}

static int
token_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct ph_key	*k;
	struct stat	 st;
	char		*out = NULL, *pub = NULL, *pem, *cause = NULL;
	int		 c, force = 0, rc = CMD_EXIT_FAIL;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:fh", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'f':
			force = 1;
			break;
		case 'h':
			cmd_help(&cmd_entry_token);
			return 0;
		default:
			return token_getopt_error("keygen", c, argv);
		}
	}
	if (optind != argc)
		return token_usage_error("keygen", "unexpected argument '%s'",
		    argv[optind]);
	if (out == NULL || *out == '\0')
		return token_usage_error("keygen", "-o FILE is required (the "
		    "private key goes there, the public one to FILE.pub)");
	pub = ph_asprintf("%s.pub", out);
	if (!force && (stat(out, &st) == 0 || stat(pub, &st) == 0)) {
		cmd_failf("%s exists; keygen does not overwrite keys (choose "
		    "another name, or --force)", stat(out, &st) == 0 ? out :
		    pub);
		goto out;
	}

	if ((k = ph_key_generate(&cause)) == NULL) {
		token_fail_cause("keygen", cause);
		goto out;
	}
	if ((pem = ph_key_private_pem(k, &cause)) == NULL ||
	    write_pem(out, pem, 0600, &cause) != 0 ||
	    (pem = ph_key_public_pem(k, &cause)) == NULL ||
	    write_pem(pub, pem, 0644, &cause) != 0) {
		token_fail_cause("keygen", cause);
		ph_key_free(k);
		goto out;
	}
	printf("kid %s\nprivate %s\npublic %s\n", ph_key_kid(k), out, pub);
	ph_key_free(k);
	rc = client_out_flush();
out:
	free(pub);
	return rc;
}

/* ---- issue ----------------------------------------------------------- */

/* Free a NULL-terminated string list. */
static void
strv_free(char **v)
{
	char	**p;

	if (v == NULL)
		return;
	for (p = v; *p != NULL; p++)
		free(*p);
	free(v);
}

/*
 * "ls,ps,mem" -> NULL-terminated list; every operation must be known and
 * appear once.  NULL with *cause.
 */
static char **
scope_parse(const char *s, char **cause)
{
	char		**v, *all = ph_ops_scope_list(0);
	const char	 *p, *e;
	size_t		  n = 1, i = 0, j;

	for (p = s; *p != '\0'; p++)
		n += (*p == ',');
	v = calloc(n + 1, sizeof *v);
	if (v == NULL) {
		*cause = ph_asprintf("out of memory");
		return NULL;
	}
	for (p = s;; p = e + 1) {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		if (e == p) {
			*cause = ph_asprintf("--scope has an empty operation "
			    "(give OP,OP,... from %s)", all != NULL ? all : "?");
			goto fail;
		}
		if (!ph_ops_scope_known(p, (size_t)(e - p))) {
			*cause = ph_asprintf("--scope names '%.*s', which is not "
			    "an operation (known: %s)", (int)(e - p), p,
			    all != NULL ? all : "?");
			goto fail;
		}
		v[i] = strndup(p, (size_t)(e - p));
		for (j = 0; j < i; j++) {
			if (strcmp(v[j], v[i]) == 0) {
				*cause = ph_asprintf("--scope names %s twice",
				    v[i]);
				i++;
				goto fail;
			}
		}
		i++;
		if (*e == '\0')
			break;
	}
	free(all);
	return v;
fail:
	free(all);
	strv_free(v);
	return NULL;
}

static int
label_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || strchr("_.-/", c) != NULL;
}

/*
 * Agent labels for --labels: "k=v|v2,k=v3,z=*" -> {"k":["v","v2","v3"],
 * "z":"*"}.  A key given "*" anywhere maps to "*".  NULL with *cause.
 */
static json_t *
labels_claim_parse(const char *s, char **cause)
{
	json_t		*obj, *cur, *arr;
	const char	*p, *e, *eq, *v, *ve;
	char		*key, *val;
	size_t		 i, n;

	if ((obj = json_object()) == NULL) {
		*cause = ph_asprintf("out of memory");
		return NULL;
	}
	for (p = s;; p = e + 1) {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		eq = memchr(p, '=', (size_t)(e - p));
		if (eq == NULL || eq == p) {
			*cause = ph_asprintf("--labels item '%.*s' is not "
			    "KEY=VALUE[|VALUE...] or KEY=*", (int)(e - p), p);
			goto fail;
		}
		n = (size_t)(eq - p);
		for (i = 0; i < n; i++) {
			if (!label_key_char(p[i]))
				break;
		}
		if (n > 63 || i != n) {
			*cause = ph_asprintf("--labels key '%.*s' must be 1-63 "
			    "of [A-Za-z0-9_.-/]", (int)n, p);
			goto fail;
		}
		key = strndup(p, n);
		cur = json_object_get(obj, key);
		for (v = eq + 1;; v = ve + 1) {
			ve = memchr(v, '|', (size_t)(e - v));
			if (ve == NULL)
				ve = e;
			for (i = 0; v + i < ve; i++) {
				if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f ||
				    v[i] == '=')
					break;
			}
			if (v + i != ve || i > 255) {
				*cause = ph_asprintf("--labels value '%.*s' of "
				    "%s must be at most 255 printable "
				    "characters without '=', ',' and '|'",
				    (int)(ve - v), v, key);
				free(key);
				goto fail;
			}
			val = strndup(v, (size_t)(ve - v));
			if (strcmp(val, "*") == 0) {
				cur = json_string("*");
				json_object_set_new(obj, key, cur);
			} else if (cur == NULL || json_is_array(cur)) {
				if (cur == NULL) {
					cur = json_array();
					json_object_set_new(obj, key, cur);
				}
				arr = cur;
				n = json_array_size(arr);
				for (i = 0; i < n; i++) {
					if (strcmp(json_string_value(
					    json_array_get(arr, i)), val) == 0)
						break;
				}
				if (i == n)
					json_array_append_new(arr,
					    json_string(val));
			}
			free(val);
			if (ve == e)
				break;
		}
		free(key);
		if (*e == '\0')
			break;
	}
	return obj;
fail:
	json_decref(obj);
	return NULL;
}

/* What `token issue` was given. */
struct issue_args {
	const char	*keyfile, *kind, *sub, *scope, *target, *labels, *bind;
	const char	*forward;	/* --forward PATTERN,... */
	const char	*ttl, *expires_at;
	int		 viewer;
	enum ph_token_kind kind_v;
};

/*
 * The options of `token issue`, checked against each other: -1 when they
 * are fine, else the exit status (help printed, or a usage error).
 */
static int
issue_args(int argc, char **argv, struct issue_args *a)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "kind", required_argument, NULL, 'K' },
		{ "sub", required_argument, NULL, 's' },
		{ "scope", required_argument, NULL, 'S' },
		{ "viewer", no_argument, NULL, 'v' },
		{ "target", required_argument, NULL, 't' },
		{ "forward", required_argument, NULL, 'F' },
		{ "labels", required_argument, NULL, 'l' },
		{ "bind", required_argument, NULL, 'b' },
		{ "ttl", required_argument, NULL, 'T' },
		{ "expires-at", required_argument, NULL, 'E' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int	 c;

	memset(a, 0, sizeof *a);
	a->ttl = DEFAULT_TTL;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': a->keyfile = optarg; break;
		case 'K': a->kind = optarg; break;
		case 's': a->sub = optarg; break;
		case 'S': a->scope = optarg; break;
		case 'v': a->viewer = 1; break;
		case 't': a->target = optarg; break;
		case 'F': a->forward = optarg; break;
		case 'l': a->labels = optarg; break;
		case 'b': a->bind = optarg; break;
		case 'T': a->ttl = optarg; break;
		case 'E': a->expires_at = optarg; break;
		case 'h':
			cmd_help(&cmd_entry_token);
			return 0;
		default:
			return token_getopt_error("issue", c, argv);
		}
	}
	if (optind != argc)
		return token_usage_error("issue", "unexpected argument '%s'",
		    argv[optind]);
	if (a->keyfile == NULL)
		return token_usage_error("issue", "--key FILE (the signing "
		    "key) is required");
	if (a->kind == NULL)
		return token_usage_error("issue", "--kind agent|client|relay is "
		    "required");
	if (a->sub == NULL || *a->sub == '\0')
		return token_usage_error("issue", "--sub NAME (who the token "
		    "is for) is required");
	if (strcmp(a->kind, "agent") == 0) {
		a->kind_v = PH_TOKEN_AGENT;
		/*
		 * --bind: the agent key (the one private key an agent holds,
		 * its PORTHOLE_KEY): it signs its share of every sealed session
		 * so that clients can tell it from a relay posing as it.
		 */
		if (a->scope != NULL || a->viewer || a->target != NULL ||
		    a->forward != NULL)
			return token_usage_error("issue", "--scope, --viewer, "
			    "--target and --forward are for client tokens");
		/* It becomes part of every agent id (docs/protocol.md, "Agent identity"). */
		if (!ph_ident_ok(PH_IDENT_SUB, a->sub, strlen(a->sub)))
			return token_usage_error("issue", "an agent token's --sub is "
			    "part of its agents' ids: %s", ph_ident_rule(PH_IDENT_SUB));
	} else if (strcmp(a->kind, "client") == 0) {
		a->kind_v = PH_TOKEN_CLIENT;
		if (a->labels != NULL)
			return token_usage_error("issue", "--labels is for "
			    "agent tokens");
		if (a->scope != NULL && a->viewer)
			return token_usage_error("issue", "give --scope or "
			    "--viewer, not both");
		/* Relays and agents refuse an unbound one: make none. */
		if (a->bind == NULL || *a->bind == '\0')
			return token_usage_error("issue", "a client token must "
			    "be bound to its holder's key: pass --bind FILE.pub, "
			    "the operator's public key (the operator runs "
			    "'porthole token keygen -o FILE' and sets "
			    "PORTHOLE_KEY=FILE)");
	} else if (strcmp(a->kind, "relay") == 0) {
		/* One relay of a fleet to another: no scope, labels, key or target. */
		a->kind_v = PH_TOKEN_RELAY;
		if (a->scope != NULL || a->viewer || a->bind != NULL ||
		    a->target != NULL || a->labels != NULL || a->forward != NULL)
			return token_usage_error("issue", "--scope, --viewer, --bind, "
			    "--target and --labels are not for relay tokens");
	} else
		return token_usage_error("issue", "--kind must be agent, "
		    "client or relay, not '%s'", a->kind);
	return -1;
}

/*
 * A client token's scope and target into claims (*scope_owned: what to
 * free); 0, or the exit status after saying why.
 */
static int
issue_client_claims(struct issue_args *a, struct ph_claims *claims,
    char **scope_owned)
{
	json_t	*sel;
	char	*cause = NULL;

	if (a->viewer || a->scope == NULL)
		a->scope = *scope_owned = ph_ops_scope_list(a->viewer);
	if (a->scope == NULL)
		cause = ph_asprintf("out of memory");
	if (a->scope == NULL ||
	    (claims->scope = scope_parse(a->scope, &cause)) == NULL)
		return token_fail_cause(NULL, cause);
	if (a->target != NULL && *a->target != '\0') {
		if ((sel = ph_labels_parse(a->target, &cause)) == NULL)
			return token_fail_cause("--target", cause);
		json_decref(sel);
		claims->target = (char *)a->target;
	}
	if (a->forward != NULL) {
		char *list, *p, *save = NULL;

		if ((claims->forward = json_array()) == NULL ||
		    (list = strdup(a->forward)) == NULL)
			return cmd_failf("out of memory");
		for (p = strtok_r(list, ",", &save); p != NULL; p = strtok_r(NULL, ",",
		    &save))
			json_array_append_new(claims->forward, json_string(p));
		free(list);
		if (ph_fwd_claim_check(claims->forward, &cause) != 0)
			return token_fail_cause("--forward", cause);
	}
	return 0;
}

/* The key the token is bound to, as its cnf claim; 0 or the exit status. */
static int
issue_bind(const char *bind, struct ph_claims *claims, struct ph_key **client)
{
	json_t	*jwk;
	char	*cause = NULL;

	if ((*client = ph_key_load(bind, 1, &cause)) == NULL)
		return token_fail_cause("--bind", cause);
	if ((jwk = ph_key_jwk(*client)) == NULL ||
	    (claims->cnf = json_pack("{s:o}", "jwk", jwk)) == NULL)
		return cmd_failf("out of memory");
	return 0;
}

/* --expires-at over the --ttl's expiry; 0 or the exit status. */
static int
issue_expires_at(const char *expires_at, struct ph_claims *claims)
{
	char		*end;
	long long	 at;

	errno = 0;
	at = strtoll(expires_at, &end, 10);
	if (*expires_at == '\0' || *end != '\0' || errno != 0 || at <= 0)
		return token_usage_error("issue", "--expires-at wants Unix "
		    "seconds, not '%s'", expires_at);
	claims->exp = at;
	if (claims->iat > at)
		claims->iat = at - 1;
	return 0;
}

static int
token_issue(int argc, char **argv)
{
	struct issue_args a;
	char		*scope_owned = NULL;
	struct ph_claims claims;
	struct ph_key	*key = NULL, *client = NULL;
	char		*token = NULL, *cause = NULL;
	int64_t		 ms;
	int		 rc;

	memset(&claims, 0, sizeof claims);
	if ((rc = issue_args(argc, argv, &a)) >= 0)
		return rc;
	claims.kind = a.kind_v;
	if (ph_duration_parse(a.ttl, &ms, &cause) != 0)
		return token_fail_cause("--ttl", cause);
	if (ms < 1000)
		return token_usage_error("issue", "--ttl must be at least 1s");

	claims.sub = (char *)a.sub;
	rc = 0;
	if (claims.kind == PH_TOKEN_CLIENT)
		rc = issue_client_claims(&a, &claims, &scope_owned);
	if (rc == 0 && a.labels != NULL &&
	    (claims.labels = labels_claim_parse(a.labels, &cause)) == NULL)
		rc = token_fail_cause(NULL, cause);
	if (rc == 0 && a.bind != NULL)
		rc = issue_bind(a.bind, &claims, &client);
	if (rc == 0 && (key = ph_key_load_private(a.keyfile, &cause)) == NULL)
		rc = token_fail_cause("--key", cause);
	if (rc != 0)
		goto out;
	claims.iat = ph_now();
	claims.exp = claims.iat + ms / 1000;
	if (a.expires_at != NULL &&
	    (rc = issue_expires_at(a.expires_at, &claims)) != 0)
		goto out;
	if ((token = ph_token_issue(key, &claims, &cause)) == NULL) {
		rc = token_fail_cause("issue", cause);
		goto out;
	}
	token_warn_lifetime(&claims);
	printf("%s\n", token);
	rc = client_out_flush();
out:
	if (token != NULL) {
		OPENSSL_cleanse(token, strlen(token));
		free(token);
	}
	strv_free(claims.scope);
	free(scope_owned);
	json_decref(claims.labels);
	json_decref(claims.cnf);
	json_decref(claims.forward);
	ph_key_free(key);
	ph_key_free(client);
	return rc;
}

/* ---- show ------------------------------------------------------------ */

/* "2025-01-31T12:00:00Z (in 29d)" for a claim time, into buf. */
static void
show_time(int64_t t, int64_t now, char *buf, size_t len)
{
	struct tm	 tm;
	time_t		 tt = (time_t)t;
	char		 when[32], rel[32];
	int64_t		 d = t > now ? t - now : now - t;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(when, sizeof when, "%lld", (long long)t);
	ph_duration_coarse(d, rel, sizeof rel);
	snprintf(buf, len, "%s (%s%s%s)", when, t > now ? "in " : "",
	    rel, t > now ? "" : " ago");
}

/* Add "NAME_utc" strings for the time claims present. */
static void
show_times(json_t *out, json_t *claims, int64_t now)
{
	static const char *names[] = { "exp", "iat", "nbf" };
	char		 buf[96], key[16];
	json_t		*j;
	size_t		 i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		j = json_object_get(claims, names[i]);
		if (!json_is_integer(j))
			continue;
		show_time((int64_t)json_integer_value(j), now, buf, sizeof buf);
		snprintf(key, sizeof key, "%s_utc", names[i]);
		json_object_set_new(out, key, json_string(buf));
	}
}

static int
token_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pubkey", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct ph_keyset ks = { NULL, 0 };
	struct ph_claims claims;
	const char	*pubkey = NULL;
	json_t		*header = NULL, *cl = NULL, *out = NULL;
	char		*token = NULL, *cause = NULL, *refused = NULL, *s;
	int64_t		 now = ph_now();
	int		 c, rc = CMD_EXIT_FAIL;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			pubkey = optarg;
			break;
		case 'h':
			cmd_help(&cmd_entry_token);
			return 0;
		default:
			return token_getopt_error("show", c, argv);
		}
	}
	if (argc - optind != 1)
		return token_usage_error("show", "give one TOKEN or @FILE");
	if ((token = ph_secret_value(argv[optind], &cause)) == NULL)
		return token_fail_cause("show", cause);
	ph_arg_wipe(argv[optind]);	/* a token given as is: not in ps */

	if (ph_token_decode(token, &header, &cl, &cause) != 0) {
		token_fail_cause(NULL, cause);
		goto out;
	}
	if (pubkey != NULL) {
		if (ph_keyset_load(&ks, pubkey, &cause) != 0) {
			token_fail_cause("--pubkey", cause);
			goto out;
		}
		if (ph_token_verify(&ks, token, now, &claims, &refused) == 0)
			ph_claims_free(&claims);
	}
	out = json_pack("{s:b, s:O, s:O}", "verified",
	    pubkey != NULL && refused == NULL, "header", header, "claims", cl);
	if (out == NULL) {
		cmd_failf("out of memory");
		goto out;
	}
	if (refused != NULL)
		json_object_set_new(out, "refused", json_string(refused));
	show_times(out, cl, now);
	if ((s = ph_json_dumps(out, JSON_INDENT(2))) == NULL) {
		cmd_failf("out of memory");
		goto out;
	}
	printf("%s\n", s);
	free(s);
	if (client_out_flush() != 0)
		goto out;
	if (pubkey == NULL) {
		fputs("(not verified: signature, key and expiry were not "
		    "checked; add --pubkey FILE to check them)\n", stderr);
		rc = 0;
	} else if (refused != NULL)
		rc = cmd_failf("token refused: %s", refused);
	else
		rc = 0;
out:
	json_decref(out);
	json_decref(header);
	json_decref(cl);
	ph_keyset_free(&ks);
	free(refused);
	if (token != NULL) {
		OPENSSL_cleanse(token, strlen(token));
		free(token);
	}
	return rc;
}

/* ---- entry ----------------------------------------------------------- */

int
cmd_token_main(int argc, char **argv)
{
	const char	*sub;

	if (argc < 2)
		return cmd_failf("token: give keygen, issue, show or revoke; see "
		    "'porthole token --help'");
	sub = argv[1];
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 ||
	    strcmp(sub, "help") == 0) {
		cmd_help(&cmd_entry_token);
		return 0;
	}
	if (strcmp(sub, "keygen") == 0)
		return token_keygen(argc - 1, argv + 1);
	if (strcmp(sub, "issue") == 0)
		return token_issue(argc - 1, argv + 1);
	if (strcmp(sub, "show") == 0)
		return token_show(argc - 1, argv + 1);
	return cmd_failf("token: unknown subcommand '%s' (keygen, issue, show or "
	    "revoke)", sub);
}
