/*
 * test_relay_dev.c - unit tests of the --dev state directory
 * (src/relay/relay-dev.c): the files and their modes, that the three tokens
 * verify against signing.key.pub with the kind, scope and key binding each is
 * for, that a second start reuses keys and tokens but reissues a token that
 * no longer verifies or lives longer than the relay's --max-token-lifetime
 * allows its kind, that the certificate carries the names and verifies
 * as a TLS server certificate for localhost and 127.0.0.1, and the env file
 * (including quoting of awkward paths).
 */
#include <sys/stat.h>

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "porthole/token.h"
#include "porthole/util.h"
#include "relay-dev.h"

static char	 tmpl[64];
static char	*dir;

static void
setup(void)
{
	snprintf(tmpl, sizeof tmpl, "/tmp/test_relay_dev.XXXXXX");
	dir = mkdtemp(tmpl);
	cr_assert_not_null(dir);
}

static void
teardown(void)
{
	char	*cmd;

	cmd = ph_asprintf("rm -rf '%s'", tmpl);
	cr_assert_eq(system(cmd), 0);
	free(cmd);
}

TestSuite(relay_dev, .init = setup, .fini = teardown);

static char *
path_of(const char *d, const char *name)
{
	return ph_asprintf("%s/%s", d, name);
}

static char *
slurp(const char *d, const char *name, size_t *len)
{
	char	*p, *s, *cause = NULL;

	p = path_of(d, name);
	s = ph_read_file(p, 1 << 20, len, &cause);
	cr_assert_not_null(s, "%s", cause);
	free(p);
	return s;
}

static int
mode_of(const char *d, const char *name)
{
	struct stat	 st;
	char		*p = path_of(d, name);

	cr_assert_eq(stat(p, &st), 0, "%s missing", p);
	free(p);
	return st.st_mode & 0777;
}

/* Prepare d under the lifetime policy spec (NULL: the defaults). */
static void
prepare_with(const char *d, const char *spec)
{
	struct ph_lifetime	 lt;
	char			*cause = NULL;

	ph_lifetime_defaults(&lt);
	if (spec != NULL)
		cr_assert_eq(ph_lifetime_parse(&lt, spec, &cause), 0, "%s", cause);
	cr_assert_eq(relay_dev_prepare(d, &lt, &cause), 0, "prepare: %s", cause);
}

static void
prepare(const char *d)
{
	prepare_with(d, NULL);
}

/* Verify DIR/name against DIR/signing.key.pub. */
static void
verify(const char *d, const char *name, struct ph_claims *c)
{
	struct ph_keyset	 ks = { NULL, 0 };
	char			*pub, *tok, *cause = NULL;
	size_t			 len;

	pub = path_of(d, "signing.key.pub");
	cr_assert_eq(ph_keyset_load(&ks, pub, &cause), 0, "%s", cause);
	tok = slurp(d, name, &len);
	cr_assert(len > 0 && tok[len - 1] == '\n');
	tok[len - 1] = '\0';
	cr_assert_eq(ph_token_verify(&ks, tok, ph_now(), c, &cause), 0,
	    "%s: %s", name, cause);
	free(tok);
	free(pub);
	ph_keyset_free(&ks);
}

/* The cnf a token bound to DIR/keyname must carry. */
static json_t *
cnf_of(const char *d, const char *keyname)
{
	struct ph_key	*k;
	char		*p, *cause = NULL;
	json_t		*cnf;

	p = path_of(d, keyname);
	k = ph_key_load_private(p, &cause);
	cr_assert_not_null(k, "%s", cause);
	cnf = json_pack("{s:o}", "jwk", ph_key_jwk(k));
	ph_key_free(k);
	free(p);
	return cnf;
}

Test(relay_dev, files_and_modes)
{
	char	*sub;
	struct stat st;

	sub = path_of(dir, "state/inner");	/* parents made too */
	prepare(sub);
	cr_assert_eq(stat(sub, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0700);
	cr_assert_eq(mode_of(sub, "tls.key"), 0600);
	cr_assert_eq(mode_of(sub, "ca.pem"), 0644);
	cr_assert_eq(mode_of(sub, "signing.key"), 0600);
	cr_assert_eq(mode_of(sub, "signing.key.pub"), 0644);
	cr_assert_eq(mode_of(sub, "operator.key"), 0600);
	cr_assert_eq(mode_of(sub, "viewer.key"), 0600);
	cr_assert_eq(mode_of(sub, "agent.token"), 0600);
	cr_assert_eq(mode_of(sub, "operator.token"), 0600);
	cr_assert_eq(mode_of(sub, "viewer.token"), 0600);
	free(sub);
}

/*
 * signing.key.pub is keygen's name; signing.pub, the old one, is a link to
 * it, and a directory made before (signing.pub a file) has it renamed.
 */
Test(relay_dev, old_pubkey_name_is_a_link)
{
	char		*old, *new, *before, *after, link[64];
	size_t		 n1, n2;
	ssize_t		 n;
	struct stat	 st;

	prepare(dir);
	old = path_of(dir, "signing.pub");
	new = path_of(dir, "signing.key.pub");
	n = readlink(old, link, sizeof link - 1);
	cr_assert_gt(n, 0);
	link[n] = '\0';
	cr_assert_str_eq(link, "signing.key.pub");

	/* An old directory: signing.pub is the file, signing.key.pub missing. */
	before = slurp(dir, "signing.key.pub", &n1);
	cr_assert_eq(unlink(old), 0);
	cr_assert_eq(rename(new, old), 0);
	prepare(dir);
	cr_assert_eq(lstat(old, &st), 0);
	cr_assert(S_ISLNK(st.st_mode));
	cr_assert_eq(lstat(new, &st), 0);
	cr_assert(S_ISREG(st.st_mode));
	after = slurp(dir, "signing.key.pub", &n2);
	cr_assert_eq(n1, n2);
	cr_assert_eq(memcmp(before, after, n1), 0);
	free(before);
	free(after);
	free(old);
	free(new);
}

Test(relay_dev, tokens_verify_with_their_roles)
{
	struct ph_claims	 c;
	json_t			*cnf;
	int64_t			 now = ph_now();

	prepare(dir);

	verify(dir, "agent.token", &c);
	cr_assert_eq(c.kind, PH_TOKEN_AGENT);
	cr_assert_str_eq(c.sub, "dev-agent");
	cr_assert_null(c.labels);
	cr_assert_null(c.target);
	cr_assert_null(c.cnf);
	cr_assert(c.exp > now + 364 * 86400 && c.exp <= now + 366 * 86400);
	ph_claims_free(&c);
	/* Client tokens within the relay's default limit for them: 30 days. */
	verify(dir, "viewer.token", &c);
	cr_assert_eq(c.exp - c.iat, 30 * 86400);
	ph_claims_free(&c);

	verify(dir, "operator.token", &c);
	cr_assert_eq(c.kind, PH_TOKEN_CLIENT);
	cr_assert_str_eq(c.sub, "dev-operator");
	cr_assert_null(c.target);
	cr_assert(ph_claims_allows(&c, "shell"));
	cr_assert(ph_claims_allows(&c, "dump"));
	cr_assert(ph_claims_allows(&c, "cp"));
	cnf = cnf_of(dir, "operator.key");
	cr_assert(json_equal(c.cnf, cnf));
	json_decref(cnf);
	ph_claims_free(&c);

	verify(dir, "viewer.token", &c);
	cr_assert_eq(c.kind, PH_TOKEN_CLIENT);
	cr_assert_str_eq(c.sub, "dev-viewer");
	cr_assert(ph_claims_allows(&c, "ls"));
	cr_assert(ph_claims_allows(&c, "ps"));
	cr_assert(ph_claims_allows(&c, "mem"));
	cr_assert_not(ph_claims_allows(&c, "shell"));
	cr_assert_not(ph_claims_allows(&c, "exec"));
	cnf = cnf_of(dir, "viewer.key");
	cr_assert(json_equal(c.cnf, cnf));
	json_decref(cnf);
	ph_claims_free(&c);
}

Test(relay_dev, second_prepare_reuses)
{
	const char *names[] = { "signing.key", "signing.key.pub", "tls.key",
	    "ca.pem", "operator.key", "viewer.key", "agent.token",
	    "operator.token", "viewer.token", NULL };
	char	*before[16], *after, *p, *cause = NULL;
	size_t	 i, n1, n2;

	prepare(dir);
	for (i = 0; names[i] != NULL; i++)
		before[i] = slurp(dir, names[i], &n1);
	prepare(dir);
	for (i = 0; names[i] != NULL; i++) {
		after = slurp(dir, names[i], &n2);
		cr_assert_str_eq(before[i], after, "%s changed", names[i]);
		free(after);
	}

	/* A token signed by some other key is reissued, keys are kept. */
	{
		struct ph_key		*other = ph_key_generate(&cause);
		struct ph_claims	 c;
		char			*tok, *line;

		memset(&c, 0, sizeof c);
		c.sub = "dev-agent";
		c.kind = PH_TOKEN_AGENT;
		c.exp = ph_now() + 3600;
		tok = ph_token_issue(other, &c, &cause);
		line = ph_asprintf("%s\n", tok);
		p = path_of(dir, "agent.token");
		cr_assert_eq(ph_write_file(p, line, strlen(line), 0600,
		    &cause), 0);
		free(p);
		free(line);
		free(tok);
		ph_key_free(other);
	}
	/* An operator token issued with less than a day left is reissued. */
	{
		struct ph_key		*sk;
		struct ph_claims	 c;
		char			*tok, *line, *scope[] = { "ls", "shell",
		    "exec", "ps", "mem", "dump", "cp", NULL };

		p = path_of(dir, "signing.key");
		sk = ph_key_load_private(p, &cause);
		free(p);
		memset(&c, 0, sizeof c);
		c.sub = "dev-operator";
		c.kind = PH_TOKEN_CLIENT;
		c.scope = scope;
		c.cnf = cnf_of(dir, "operator.key");
		c.exp = ph_now() + 3600;
		tok = ph_token_issue(sk, &c, &cause);
		line = ph_asprintf("%s\n", tok);
		p = path_of(dir, "operator.token");
		cr_assert_eq(ph_write_file(p, line, strlen(line), 0600,
		    &cause), 0);
		free(p);
		free(line);
		free(tok);
		json_decref(c.cnf);
		ph_key_free(sk);
	}
	/* A corrupt signing.key.pub is rewritten from signing.key. */
	p = path_of(dir, "signing.key.pub");
	cr_assert_eq(ph_write_file(p, "garbage\n", 8, 0644, &cause), 0);
	free(p);

	prepare(dir);
	for (i = 0; names[i] != NULL; i++) {
		after = slurp(dir, names[i], &n2);
		if (strcmp(names[i], "agent.token") == 0 ||
		    strcmp(names[i], "operator.token") == 0)
			cr_assert_str_neq(before[i], after, "%s kept",
			    names[i]);
		else
			cr_assert_str_eq(before[i], after, "%s changed",
			    names[i]);
		free(after);
	}
	{
		struct ph_claims c;

		verify(dir, "agent.token", &c);
		ph_claims_free(&c);
		verify(dir, "operator.token", &c);
		cr_assert(c.exp > ph_now() + 29 * 86400);
		ph_claims_free(&c);
	}
	for (i = 0; names[i] != NULL; i++)
		free(before[i]);
}

/* life of DIR/name: exp - iat */
static int64_t
life_of(const char *d, const char *name)
{
	struct ph_claims	 c;
	int64_t			 life;

	verify(d, name, &c);
	life = c.exp - c.iat;
	ph_claims_free(&c);
	return life;
}

Test(relay_dev, tokens_follow_the_lifetime_policy)
{
	char	*before, *after;
	size_t	 n;

	/* No limit on client tokens: a year, as before the policy. */
	prepare_with(dir, "client=0");
	cr_assert_eq(life_of(dir, "operator.token"), 365 * 86400);
	before = slurp(dir, "agent.token", &n);
	/* The default limit: a state directory of a year-long client token is reissued. */
	prepare(dir);
	cr_assert_eq(life_of(dir, "operator.token"), 30 * 86400);
	cr_assert_eq(life_of(dir, "viewer.token"), 30 * 86400);
	after = slurp(dir, "agent.token", &n);
	cr_assert_str_eq(before, after, "the agent token (no limit) was reissued");
	free(before);
	free(after);
	/* Tighter limits for both kinds. */
	prepare_with(dir, "client=7d,agent=90d");
	cr_assert_eq(life_of(dir, "operator.token"), 7 * 86400);
	cr_assert_eq(life_of(dir, "agent.token"), 90 * 86400);
	/* A looser one keeps what is within it. */
	before = slurp(dir, "operator.token", &n);
	prepare(dir);
	after = slurp(dir, "operator.token", &n);
	cr_assert_str_eq(before, after);
	free(before);
	free(after);
}

Test(relay_dev, new_signing_key_reissues_everything)
{
	char	*p, *t1, *t2;
	size_t	 n;

	prepare(dir);
	t1 = slurp(dir, "viewer.token", &n);
	p = path_of(dir, "signing.key");
	cr_assert_eq(unlink(p), 0);
	free(p);
	prepare(dir);
	t2 = slurp(dir, "viewer.token", &n);
	cr_assert_str_neq(t1, t2);
	{
		struct ph_claims c;

		verify(dir, "viewer.token", &c);
		ph_claims_free(&c);
	}
	free(t1);
	free(t2);
}

Test(relay_dev, corrupt_key_is_an_error)
{
	char	*p, *cause = NULL;

	prepare(dir);
	p = path_of(dir, "operator.key");
	cr_assert_eq(ph_write_file(p, "nope\n", 5, 0600, &cause), 0);
	{
		struct ph_lifetime lt;

		ph_lifetime_defaults(&lt);
		cr_assert_eq(relay_dev_prepare(dir, &lt, &cause), -1);
	}
	cr_assert(strstr(cause, "operator.key") != NULL, "%s", cause);
	cr_assert(strstr(cause, "remove it") != NULL, "%s", cause);
	free(cause);
	free(p);

	p = path_of(dir, "file");
	cr_assert_eq(ph_write_file(p, "x", 1, 0600, &cause), 0);
	cause = NULL;
	{
		struct ph_lifetime lt;

		ph_lifetime_defaults(&lt);
		cr_assert_eq(relay_dev_prepare(p, &lt, &cause), -1);
	}
	cr_assert(strstr(cause, "not a directory") != NULL, "%s", cause);
	free(cause);
	free(p);
}

/* Load DIR/ca.pem. */
static X509 *
load_cert(const char *d)
{
	char	*p;
	FILE	*f;
	X509	*x;

	p = path_of(d, "ca.pem");
	f = fopen(p, "r");
	cr_assert_not_null(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	free(p);
	cr_assert_not_null(x);
	return x;
}

Test(relay_dev, certificate)
{
	X509			*x;
	X509_STORE		*store;
	X509_STORE_CTX		*ctx;
	X509_VERIFY_PARAM	*vp;
	EVP_PKEY		*key;
	GENERAL_NAMES		*sans;
	GENERAL_NAME		*gn;
	FILE			*f;
	char			*p, cn[64];
	int			 i, dns = 0, ip4 = 0, crit;
	BASIC_CONSTRAINTS	*bc;
	time_t			 in9y;

	prepare(dir);
	x = load_cert(dir);

	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName,
	    cn, sizeof cn);
	cr_assert_str_eq(cn, "porthole dev relay");
	cr_assert_eq(X509_NAME_cmp(X509_get_subject_name(x),
	    X509_get_issuer_name(x)), 0);

	sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	cr_assert_not_null(sans);
	for (i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
		gn = sk_GENERAL_NAME_value(sans, i);
		if (gn->type == GEN_DNS &&
		    strcmp((const char *)ASN1_STRING_get0_data(gn->d.dNSName),
		    "localhost") == 0)
			dns = 1;
		if (gn->type == GEN_IPADD && ASN1_STRING_length(gn->d.iPAddress)
		    == 4 && memcmp(ASN1_STRING_get0_data(gn->d.iPAddress),
		    "\x7f\x00\x00\x01", 4) == 0)
			ip4 = 1;
	}
	GENERAL_NAMES_free(sans);
	cr_assert(dns, "no DNS:localhost");
	cr_assert(ip4, "no IP:127.0.0.1");

	bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit, NULL);
	cr_assert_not_null(bc);
	cr_assert(bc->ca);
	BASIC_CONSTRAINTS_free(bc);
	cr_assert(X509_get_key_usage(x) & KU_KEY_CERT_SIGN);
	cr_assert(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE);

	/* Ten years, roughly. */
	in9y = time(NULL) + 9 * 365 * 86400L;
	cr_assert_gt(X509_cmp_time(X509_get0_notAfter(x), &in9y), 0);

	/* Matches tls.key, a P-256 key. */
	p = path_of(dir, "tls.key");
	f = fopen(p, "r");
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	free(p);
	cr_assert_not_null(key);
	cr_assert_eq(EVP_PKEY_get_base_id(key), EVP_PKEY_EC);
	cr_assert_eq(X509_check_private_key(x, key), 1);
	EVP_PKEY_free(key);

	/* Trusted as its own CA, it verifies as a server for both names. */
	store = X509_STORE_new();
	X509_STORE_add_cert(store, x);
	for (i = 0; i < 3; i++) {
		ctx = X509_STORE_CTX_new();
		cr_assert_eq(X509_STORE_CTX_init(ctx, store, x, NULL), 1);
		X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
		vp = X509_STORE_CTX_get0_param(ctx);
		if (i == 0)
			X509_VERIFY_PARAM_set1_host(vp, "localhost", 0);
		else if (i == 1)
			X509_VERIFY_PARAM_set1_ip_asc(vp, "127.0.0.1");
		else
			X509_VERIFY_PARAM_set1_host(vp, "example.com", 0);
		if (i < 2)
			cr_assert_eq(X509_verify_cert(ctx), 1, "%s",
			    X509_verify_cert_error_string(
			    X509_STORE_CTX_get_error(ctx)));
		else
			cr_assert_neq(X509_verify_cert(ctx), 1);
		X509_STORE_CTX_free(ctx);
	}
	X509_STORE_free(store);
	X509_free(x);
}

Test(relay_dev, certificate_remade_for_new_key)
{
	char	*p, *c1, *c2;
	size_t	 n;

	prepare(dir);
	c1 = slurp(dir, "ca.pem", &n);
	p = path_of(dir, "tls.key");
	cr_assert_eq(unlink(p), 0);
	free(p);
	prepare(dir);
	c2 = slurp(dir, "ca.pem", &n);
	cr_assert_str_neq(c1, c2);
	free(c1);
	free(c2);
}

Test(relay_dev, env_file)
{
	char	*env, *want, *cause = NULL, real[4096];
	size_t	 n;

	prepare(dir);
	cr_assert_eq(relay_dev_write_env(dir, "127.0.0.1", 7443, &cause), 0,
	    "%s", cause);
	cr_assert_eq(mode_of(dir, "env"), 0600);
	cr_assert_not_null(realpath(dir, real));
	env = slurp(dir, "env", &n);
	want = ph_asprintf(
	    "# porthole dev relay: . %s/env\n"
	    "export PORTHOLE_RELAY=wss://127.0.0.1:7443\n"
	    "export PORTHOLE_CA=%s/ca.pem\n"
	    "export PORTHOLE_TOKEN=@%s/operator.token\n"
	    "export PORTHOLE_KEY=%s/operator.key\n"
	    "export PORTHOLE_PUBKEY=%s/signing.key.pub\n"
	    "# the agent: PORTHOLE_TOKEN=@%s/agent.token porthole-agent\n",
	    real, real, real, real, real, real);
	cr_assert(strncmp(env, want, strlen(want)) == 0, "env:\n%s\nwant:\n%s",
	    env, want);
	free(env);
	free(want);

	/* Wildcard and IPv6 hosts. */
	cr_assert_eq(relay_dev_write_env(dir, "0.0.0.0", 40001, &cause), 0);
	env = slurp(dir, "env", &n);
	cr_assert(strstr(env, "PORTHOLE_RELAY=wss://127.0.0.1:40001\n") != NULL);
	free(env);
	cr_assert_eq(relay_dev_write_env(dir, "::1", 7443, &cause), 0);
	env = slurp(dir, "env", &n);
	cr_assert(strstr(env, "PORTHOLE_RELAY='wss://[::1]:7443'\n") != NULL,
	    "%s", env);
	free(env);
	cr_assert_eq(relay_dev_write_env(dir, "127.0.0.1", 0, &cause), -1);
	free(cause);
}

Test(relay_dev, env_file_quotes_paths)
{
	char	*odd, *cmd, *cause = NULL, *out, *link, real[4096];
	FILE	*f;
	size_t	 n;

	odd = path_of(dir, "it's a $dir `x`");
	prepare(odd);
	cr_assert_eq(relay_dev_write_env(odd, "localhost", 7443, &cause), 0,
	    "%s", cause);
	cr_assert_not_null(realpath(odd, real));

	/*
	 * Sourcing env in a shell gives back the exact paths.  The shell
	 * reaches env through a plain symlink, so only env's own quoting is
	 * under test.
	 */
	link = path_of(dir, "plain");
	cr_assert_eq(symlink(odd, link), 0);
	cmd = ph_asprintf("cd / && env -i /bin/sh -c '. %s/env && printf "
	    "\"%%s\\n\" \"$PORTHOLE_CA\" \"$PORTHOLE_TOKEN\" "
	    "\"$PORTHOLE_RELAY\"'", link);
	free(link);
	f = popen(cmd, "r");
	cr_assert_not_null(f);
	out = calloc(1, 8192);
	n = fread(out, 1, 8191, f);
	cr_assert_eq(pclose(f), 0, "output: %s", out);
	{
		char *want = ph_asprintf("%s/ca.pem\n@%s/operator.token\n"
		    "wss://localhost:7443\n", real, real);

		cr_assert_str_eq(out, want);
		free(want);
	}
	(void)n;
	free(out);
	free(cmd);
	free(odd);

	/* A path with a newline is refused. */
	odd = path_of(dir, "new\nline");
	prepare(odd);
	cr_assert_eq(relay_dev_write_env(odd, NULL, 7443, &cause), -1);
	cr_assert(strstr(cause, "control character") != NULL);
	free(cause);
	free(odd);
}
