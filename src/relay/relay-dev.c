/*
 * relay-dev.c - makes and keeps the state directory of `porthole-relay
 * --dev` (see relay-dev.h for what it holds): a TLS key and self-signed
 * certificate, the token signing pair, two client keys and three tokens, and
 * the env file a shell sources to become a client of the dev relay.
 *
 * The rule is "reuse what is there and still good, make what is missing":
 * a second start keeps the keys (so tokens already handed to agents keep
 * working) and only reissues a token that would be refused.  A file that is
 * there but unreadable is an error naming it, never silently replaced: it
 * may be something the operator put there.
 *
 * All of this is blocking file and key work, done once before the relay's
 * event loop starts.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "porthole/ops.h"
#include "porthole/token.h"
#include "porthole/util.h"
#include "relay-dev.h"

#define DEV_TOKEN_TTL	(365 * 86400)	/* lifetime of the dev tokens (at most) */
#define DEV_TOKEN_MIN	86400		/* reissue when less is left */
#define DEV_CERT_DAYS	3650		/* lifetime of the certificate */
#define DEV_CERT_CN	"porthole dev relay"
#define DEV_CERT_SAN	"DNS:localhost,IP:127.0.0.1,IP:::1"

/* One token of the state directory. */
struct dev_token {
	const char		*file;
	enum ph_token_kind	 kind;
	const char		*sub;
	int			 scope;	/* DEV_SCOPE_*: none for agents */
	const char		*key;	/* client key it is bound to, or NULL */
};

/* Scopes of the dev tokens: none, every operation, the viewer's (ops.h). */
enum { DEV_SCOPE_NONE, DEV_SCOPE_ALL, DEV_SCOPE_VIEWER };

static const struct dev_token dev_tokens[] = {
	{ "agent.token", PH_TOKEN_AGENT, "dev-agent", DEV_SCOPE_NONE, NULL },
	{ "operator.token", PH_TOKEN_CLIENT, "dev-operator", DEV_SCOPE_ALL,
	  "operator.key" },
	{ "viewer.token", PH_TOKEN_CLIENT, "dev-viewer", DEV_SCOPE_VIEWER,
	  "viewer.key" },
	/* The fleet's relays to one another (/v1/peer): --relay-token. */
	{ "relay.token", PH_TOKEN_RELAY, "dev-relay", DEV_SCOPE_NONE, NULL },
};

static const char *dev_client_keys[] = { "operator.key", "viewer.key" };

/* The most recent OpenSSL error as text; clears the queue. */
static const char *
dev_ssl_error(void)
{
	static char	buf[160];
	unsigned long	e = ERR_peek_last_error();

	if (e == 0)
		snprintf(buf, sizeof buf, "unknown OpenSSL error");
	else
		ERR_error_string_n(e, buf, sizeof buf);
	ERR_clear_error();
	return buf;
}

static int
dev_exists(const char *path)
{
	struct stat	st;

	return stat(path, &st) == 0;
}

/* Create dir and its missing parents; the last one 0700. */
static int
dev_mkdir(const char *dir, char **cause)
{
	struct stat	 st;
	char		*copy, *p;

	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			*cause = ph_asprintf("%s is not a directory", dir);
			return -1;
		}
		return 0;
	}
	copy = ph_asprintf("%s", dir);
	for (p = copy + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, 0755) != 0 && errno != EEXIST) {
			*cause = ph_asprintf("cannot create %s: %s", copy,
			    strerror(errno));
			free(copy);
			return -1;
		}
		*p = '/';
	}
	free(copy);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		*cause = ph_asprintf("cannot create %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Write the text of a memory BIO to path with mode. */
static int
dev_write_bio(const char *path, BIO *bio, int mode, char **cause)
{
	char	*data;
	long	 len;

	len = BIO_get_mem_data(bio, &data);
	if (len <= 0) {
		*cause = ph_asprintf("nothing to write to %s", path);
		return -1;
	}
	return ph_write_file(path, data, (size_t)len, mode, cause);
}

/* Write PEM text (wiped afterwards) to path with mode. */
static int
dev_write_pem(const char *path, char *pem, int mode, char **cause)
{
	int	rc;

	if (pem == NULL)
		return -1;
	rc = ph_write_file(path, pem, strlen(pem), mode, cause);
	OPENSSL_cleanse(pem, strlen(pem));
	free(pem);
	return rc;
}

/* Open a file for OpenSSL's PEM readers. */
static BIO *
dev_open_bio(const char *path, char **cause)
{
	BIO	*bio;

	if ((bio = BIO_new_file(path, "r")) == NULL) {
		*cause = ph_asprintf("cannot read %s: %s", path,
		    dev_ssl_error());
		return NULL;
	}
	return bio;
}

/* Never ask for a passphrase: the dev key is not encrypted. */
static int
dev_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf; (void)size; (void)rwflag; (void)u;
	return -1;
}

/*
 * The TLS key: loaded from path, or made (EC P-256) and written when
 * missing (*made set).
 */
static EVP_PKEY *
dev_tls_key(const char *path, int *made, char **cause)
{
	EVP_PKEY	*pkey;
	BIO		*bio;

	*made = 0;
	if (dev_exists(path)) {
		if ((bio = dev_open_bio(path, cause)) == NULL)
			return NULL;
		pkey = PEM_read_bio_PrivateKey(bio, NULL, dev_no_passphrase,
		    NULL);
		BIO_free(bio);
		if (pkey == NULL)
			*cause = ph_asprintf("%s is not a usable private key "
			    "(%s); remove it to have a new one made", path,
			    dev_ssl_error());
		return pkey;
	}

	if ((pkey = EVP_EC_gen("P-256")) == NULL) {
		*cause = ph_asprintf("cannot make a TLS key: %s",
		    dev_ssl_error());
		return NULL;
	}
	if ((bio = BIO_new(BIO_s_secmem())) == NULL ||
	    PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL,
	    NULL) != 1) {
		*cause = ph_asprintf("cannot encode the TLS key: %s",
		    dev_ssl_error());
		goto fail;
	}
	if (dev_write_bio(path, bio, 0600, cause) != 0)
		goto fail;
	BIO_free(bio);
	*made = 1;
	return pkey;
fail:
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	return NULL;
}

/* Add extension nid with value (openssl.cnf syntax) to x. */
static int
dev_cert_ext(X509 *x, int nid, const char *value, char **cause)
{
	X509V3_CTX	 ctx;
	X509_EXTENSION	*ext;
	int		 ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL) {
		*cause = ph_asprintf("cannot make certificate extension %s: %s",
		    OBJ_nid2sn(nid), dev_ssl_error());
		return -1;
	}
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (ok != 1) {
		*cause = ph_asprintf("cannot add certificate extension %s",
		    OBJ_nid2sn(nid));
		return -1;
	}
	return 0;
}

/* Make and write a self-signed certificate for pkey. */
static int
dev_make_cert(const char *path, EVP_PKEY *pkey, char **cause)
{
	X509		*x;
	X509_NAME	*name;
	BIGNUM		*serial = NULL;
	BIO		*bio = NULL;
	int		 rc = -1;

	if ((x = X509_new()) == NULL || (serial = BN_new()) == NULL) {
		*cause = ph_asprintf("out of memory");
		goto out;
	}
	if (X509_set_version(x, X509_VERSION_3) != 1 ||
	    BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
	    BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) == NULL ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), DEV_CERT_DAYS, 0,
	    NULL) == NULL ||
	    X509_set_pubkey(x, pkey) != 1) {
		*cause = ph_asprintf("cannot fill the certificate: %s",
		    dev_ssl_error());
		goto out;
	}
	name = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)DEV_CERT_CN, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1) {
		*cause = ph_asprintf("cannot name the certificate: %s",
		    dev_ssl_error());
		goto out;
	}
	if (dev_cert_ext(x, NID_basic_constraints, "critical,CA:TRUE",
	    cause) != 0 ||
	    dev_cert_ext(x, NID_key_usage,
	    "critical,digitalSignature,keyCertSign", cause) != 0 ||
	    dev_cert_ext(x, NID_ext_key_usage, "serverAuth", cause) != 0 ||
	    dev_cert_ext(x, NID_subject_alt_name, DEV_CERT_SAN, cause) != 0 ||
	    dev_cert_ext(x, NID_subject_key_identifier, "hash", cause) != 0)
		goto out;
	if (X509_sign(x, pkey, EVP_sha256()) == 0) {
		*cause = ph_asprintf("cannot sign the certificate: %s",
		    dev_ssl_error());
		goto out;
	}
	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_X509(bio, x) != 1) {
		*cause = ph_asprintf("cannot encode the certificate: %s",
		    dev_ssl_error());
		goto out;
	}
	rc = dev_write_bio(path, bio, 0644, cause);
out:
	BIO_free(bio);
	BN_free(serial);
	X509_free(x);
	return rc;
}

/* Is the certificate at path still good for pkey (matches, not expired)? */
static int
dev_cert_good(const char *path, EVP_PKEY *pkey, char **cause)
{
	X509	*x;
	BIO	*bio;
	int	 good;

	if ((bio = dev_open_bio(path, cause)) == NULL)
		return -1;
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (x == NULL) {
		*cause = ph_asprintf("%s is not a PEM certificate (%s); remove "
		    "it to have a new one made", path, dev_ssl_error());
		return -1;
	}
	good = X509_check_private_key(x, pkey) == 1 &&
	    X509_cmp_current_time(X509_get0_notAfter(x)) > 0;
	ERR_clear_error();
	X509_free(x);
	return good;
}

/* tls.key and ca.pem. */
static int
dev_prepare_tls(const char *dir, char **cause)
{
	EVP_PKEY	*pkey;
	char		*keypath, *certpath;
	int		 made, good = 0, rc = -1;

	keypath = ph_asprintf("%s/%s", dir, RELAY_DEV_TLS_KEY);
	certpath = ph_asprintf("%s/%s", dir, RELAY_DEV_CERT);
	if ((pkey = dev_tls_key(keypath, &made, cause)) == NULL)
		goto out;
	if (!made && dev_exists(certpath) &&
	    (good = dev_cert_good(certpath, pkey, cause)) < 0)
		goto out;
	if (!good && dev_make_cert(certpath, pkey, cause) != 0)
		goto out;
	rc = 0;
out:
	EVP_PKEY_free(pkey);
	free(keypath);
	free(certpath);
	return rc;
}

/* An Ed25519 key from path, made and written (0600) when missing. */
static struct ph_key *
dev_ed25519_key(const char *path, char **cause)
{
	struct ph_key	*k;

	if (dev_exists(path)) {
		if ((k = ph_key_load_private(path, cause)) == NULL) {
			char *why = *cause;

			*cause = ph_asprintf("%s; remove it to have a new one "
			    "made", why);
			free(why);
		}
		return k;
	}
	if ((k = ph_key_generate(cause)) == NULL)
		return NULL;
	if (dev_write_pem(path, ph_key_private_pem(k, cause), 0600,
	    cause) != 0) {
		ph_key_free(k);
		return NULL;
	}
	return k;
}

/*
 * The public key's old name (RELAY_DEV_PUBKEY_OLD, before keygen's name was
 * taken): a directory that has it as a file and not the new one gets it
 * renamed, before the new one is checked.
 */
static int
dev_old_pubkey_move(const char *dir, char **cause)
{
	char		*old = ph_asprintf("%s/%s", dir, RELAY_DEV_PUBKEY_OLD);
	char		*new = ph_asprintf("%s/%s", dir, RELAY_DEV_PUBKEY);
	struct stat	 st;
	int		 rc = 0;

	if (lstat(old, &st) == 0 && S_ISREG(st.st_mode) && !dev_exists(new) &&
	    rename(old, new) != 0) {
		*cause = ph_asprintf("cannot rename %s to %s: %s", old, new,
		    strerror(errno));
		rc = -1;
	}
	free(old);
	free(new);
	return rc;
}

/*
 * The old name stays, as a symbolic link to the new one: what reads it (an
 * agent's PORTHOLE_PUBKEY) or appends to it (a key rotation) reaches the
 * file the relay reads.  A regular file left there (both names existed)
 * is replaced by the link.
 */
static int
dev_old_pubkey_link(const char *dir, char **cause)
{
	char		*old = ph_asprintf("%s/%s", dir, RELAY_DEV_PUBKEY_OLD);
	struct stat	 st;
	int		 rc = 0;

	if (lstat(old, &st) == 0) {
		if (S_ISLNK(st.st_mode))
			goto out;
		if (unlink(old) != 0) {
			*cause = ph_asprintf("cannot remove %s: %s", old, strerror(errno));
			rc = -1;
			goto out;
		}
	}
	if (symlink(RELAY_DEV_PUBKEY, old) != 0) {
		*cause = ph_asprintf("cannot link %s to %s: %s", old, RELAY_DEV_PUBKEY,
		    strerror(errno));
		rc = -1;
	}
out:
	free(old);
	return rc;
}

/* signing.key.pub must hold signing.key's public half; rewrite it if not. */
static int
dev_prepare_pubkey(const char *path, const struct ph_key *signing,
    char **cause)
{
	struct ph_key	*pub;
	char		*why = NULL;
	int		 same = 0;

	if (dev_exists(path)) {
		if ((pub = ph_key_load(path, 1, &why)) != NULL) {
			same = strcmp(ph_key_kid(pub), ph_key_kid(signing)) == 0;
			ph_key_free(pub);
		}
		free(why);
		if (same)
			return 0;
	}
	return dev_write_pem(path, ph_key_public_pem(signing, cause), 0644,
	    cause);
}

/* The comma list of scope (DEV_SCOPE_*), malloc'd; NULL for none. */
static char *
dev_scope_list(int scope)
{
	if (scope == DEV_SCOPE_NONE)
		return NULL;
	return ph_ops_scope_list(scope == DEV_SCOPE_VIEWER);
}

/* Does the scope of c equal the comma list want? */
static int
dev_scope_is(const struct ph_claims *c, const char *want)
{
	char	*list = NULL, *tmp;
	size_t	 i;
	int	 same;

	if (c->scope == NULL)
		return want == NULL;
	for (i = 0; c->scope[i] != NULL; i++) {
		tmp = ph_asprintf("%s%s%s", list != NULL ? list : "",
		    list != NULL ? "," : "", c->scope[i]);
		free(list);
		list = tmp;
	}
	if (want == NULL)
		same = list == NULL;
	else
		same = list != NULL && strcmp(list, want) == 0;
	free(list);
	return same;
}

/* Is the token at path one we would issue now (and good for a while)? */
static int
dev_token_good(const char *path, const struct dev_token *t,
    const struct ph_keyset *ks, json_t *cnf, const struct ph_lifetime *lt)
{
	struct ph_claims	 c;
	char			*tok, *why = NULL, *want;
	int64_t			 now = ph_now();
	size_t			 len;
	int			 good;

	if ((tok = ph_read_file(path, PH_TOKEN_MAX + 64, &len, &why)) == NULL) {
		free(why);
		return 0;
	}
	while (len > 0 && (tok[len - 1] == '\n' || tok[len - 1] == '\r' ||
	    tok[len - 1] == ' '))
		tok[--len] = '\0';
	if (ph_token_verify(ks, tok, now, &c, &why) != 0) {
		free(why);
		OPENSSL_cleanse(tok, len);
		free(tok);
		return 0;
	}
	OPENSSL_cleanse(tok, len);
	free(tok);
	want = dev_scope_list(t->scope);
	good = c.kind == t->kind && c.exp - now >= DEV_TOKEN_MIN &&
	    ph_lifetime_check(lt, &c, &why) == 0 &&
	    c.target == NULL && c.labels == NULL &&
	    (want != NULL || t->scope == DEV_SCOPE_NONE) &&
	    dev_scope_is(&c, want) &&
	    (cnf == NULL ? c.cnf == NULL :
	    (c.cnf != NULL && json_equal(c.cnf, cnf)));
	free(want);
	free(why);
	ph_claims_free(&c);
	return good;
}

/* Split a comma list into a NULL-terminated vector (malloc'd). */
static char **
dev_split(const char *list)
{
	char	**v, *copy, *p, *save = NULL;
	size_t	  n = 2, i = 0;

	for (p = (char *)list; *p != '\0'; p++)
		n += (*p == ',');
	v = calloc(n, sizeof *v);
	copy = ph_asprintf("%s", list);
	if (v == NULL)
		abort();
	for (p = strtok_r(copy, ",", &save); p != NULL;
	    p = strtok_r(NULL, ",", &save))
		v[i++] = ph_asprintf("%s", p);
	free(copy);
	return v;
}

static void
dev_split_free(char **v)
{
	size_t	i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* How long to issue a token of kind for: a year, or less if lt says so. */
static int64_t
dev_token_ttl(const struct ph_lifetime *lt, enum ph_token_kind kind)
{
	int64_t	max = ph_lifetime_max(lt, ph_token_kind_name(kind));

	return max > 0 && max < DEV_TOKEN_TTL ? max : DEV_TOKEN_TTL;
}

/* Keep or (re)issue one token. */
static int
dev_prepare_token(const char *dir, const struct dev_token *t,
    const struct ph_key *signing, const struct ph_keyset *ks,
    const struct ph_lifetime *lt, char **cause)
{
	struct ph_claims	 c;
	struct ph_key		*client = NULL;
	json_t			*cnf = NULL;
	char			*path, *keypath = NULL, *tok = NULL, *line, *want;
	int			 rc = -1;

	path = ph_asprintf("%s/%s", dir, t->file);
	if (t->key != NULL) {
		keypath = ph_asprintf("%s/%s", dir, t->key);
		if ((client = ph_key_load_private(keypath, cause)) == NULL)
			goto out;
		cnf = json_pack("{s:o}", "jwk", ph_key_jwk(client));
		if (cnf == NULL) {
			*cause = ph_asprintf("out of memory");
			goto out;
		}
	}
	if (dev_exists(path) && dev_token_good(path, t, ks, cnf, lt)) {
		rc = 0;
		goto out;
	}

	memset(&c, 0, sizeof c);
	c.sub = (char *)t->sub;
	c.kind = t->kind;
	want = dev_scope_list(t->scope);
	c.scope = want != NULL ? dev_split(want) : NULL;
	free(want);
	if (t->scope != DEV_SCOPE_NONE && c.scope == NULL) {
		*cause = ph_asprintf("out of memory");
		goto out;
	}
	c.cnf = cnf;
	c.iat = ph_now();
	c.exp = c.iat + dev_token_ttl(lt, t->kind);
	tok = ph_token_issue(signing, &c, cause);
	dev_split_free(c.scope);
	if (tok == NULL)
		goto out;
	line = ph_asprintf("%s\n", tok);
	rc = ph_write_file(path, line, strlen(line), 0600, cause);
	OPENSSL_cleanse(line, strlen(line));
	OPENSSL_cleanse(tok, strlen(tok));
	free(line);
	free(tok);
out:
	json_decref(cnf);
	ph_key_free(client);
	free(keypath);
	free(path);
	return rc;
}

int
relay_dev_prepare(const char *dir, const struct ph_lifetime *lt, char **cause)
{
	struct ph_keyset	 ks = { NULL, 0 };
	struct ph_key		*signing = NULL, *k;
	char			*path = NULL;
	size_t			 i;
	int			 rc = -1;

	if (dir == NULL || *dir == '\0') {
		*cause = ph_asprintf("no state directory given");
		return -1;
	}
	if (dev_mkdir(dir, cause) != 0)
		return -1;
	if (dev_prepare_tls(dir, cause) != 0)
		return -1;

	path = ph_asprintf("%s/%s", dir, RELAY_DEV_SIGNING_KEY);
	signing = dev_ed25519_key(path, cause);
	free(path);
	if (signing == NULL)
		goto out;
	if (dev_old_pubkey_move(dir, cause) != 0)
		goto out;
	path = ph_asprintf("%s/%s", dir, RELAY_DEV_PUBKEY);
	if (dev_prepare_pubkey(path, signing, cause) != 0 ||
	    ph_keyset_load(&ks, path, cause) != 0 ||
	    dev_old_pubkey_link(dir, cause) != 0)
		goto out;
	free(path);
	path = NULL;

	for (i = 0; i < sizeof dev_client_keys / sizeof dev_client_keys[0];
	    i++) {
		path = ph_asprintf("%s/%s", dir, dev_client_keys[i]);
		if ((k = dev_ed25519_key(path, cause)) == NULL)
			goto out;
		ph_key_free(k);
		free(path);
		path = NULL;
	}
	for (i = 0; i < sizeof dev_tokens / sizeof dev_tokens[0]; i++) {
		if (dev_prepare_token(dir, &dev_tokens[i], signing, &ks, lt,
		    cause) != 0)
			goto out;
	}
	rc = 0;
out:
	free(path);
	ph_key_free(signing);
	ph_keyset_free(&ks);
	return rc;
}

/* Does s need quoting for the shell? */
static int
dev_shell_plain(const char *s)
{
	const char	*p;

	if (*s == '\0')
		return 0;
	for (p = s; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("@%+=:,./_-", *p) != NULL))
			return 0;
	}
	return 1;
}

/* s as one shell word: as is when safe, else in single quotes. */
static char *
dev_shell_quote(const char *s)
{
	char		*out, *o;
	const char	*p;
	size_t		 n = 3;

	if (dev_shell_plain(s))
		return ph_asprintf("%s", s);
	for (p = s; *p != '\0'; p++)
		n += *p == '\'' ? 4 : 1;
	if ((out = malloc(n)) == NULL)
		abort();
	o = out;
	*o++ = '\'';
	for (p = s; *p != '\0'; p++) {
		if (*p == '\'') {
			memcpy(o, "'\\''", 4);	/* close, \', reopen */
			o += 4;
		} else
			*o++ = *p;
	}
	*o++ = '\'';
	*o = '\0';
	return out;
}

/* Shell word for prefix + dir + "/" + name. */
static char *
dev_shell_path(const char *prefix, const char *dir, const char *name)
{
	char	*raw, *q;

	raw = ph_asprintf("%s%s/%s", prefix, dir, name);
	q = dev_shell_quote(raw);
	free(raw);
	return q;
}

int
relay_dev_write_env(const char *dir, const char *host, int port, char **cause)
{
	char		 abs[PATH_MAX], *url, *qurl, *env, *text;
	char		*q_env, *q_ca, *q_tok, *q_key, *q_pub, *q_agent;
	char		*q_vtok, *q_vkey;
	const char	*h, *p;
	int		 rc;

	if (port <= 0 || port > 65535) {
		*cause = ph_asprintf("port %d is not a TCP port", port);
		return -1;
	}
	if (realpath(dir, abs) == NULL) {
		*cause = ph_asprintf("cannot resolve %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	for (p = abs; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			*cause = ph_asprintf("state directory path has a "
			    "control character; choose another --state");
			return -1;
		}
	}

	h = host;
	if (h == NULL || *h == '\0' || strcmp(h, "0.0.0.0") == 0 ||
	    strcmp(h, "*") == 0)
		h = "127.0.0.1";
	else if (strcmp(h, "::") == 0 || strcmp(h, "[::]") == 0)
		h = "::1";
	if (strchr(h, ':') != NULL && h[0] != '[')
		url = ph_asprintf("wss://[%s]:%d", h, port);
	else
		url = ph_asprintf("wss://%s:%d", h, port);
	qurl = dev_shell_quote(url);

	q_env = dev_shell_path("", abs, RELAY_DEV_ENV);
	q_ca = dev_shell_path("", abs, RELAY_DEV_CERT);
	q_tok = dev_shell_path("@", abs, "operator.token");
	q_key = dev_shell_path("", abs, "operator.key");
	q_pub = dev_shell_path("", abs, RELAY_DEV_PUBKEY);
	q_agent = dev_shell_path("@", abs, "agent.token");
	q_vtok = dev_shell_path("@", abs, "viewer.token");
	q_vkey = dev_shell_path("", abs, "viewer.key");
	text = ph_asprintf(
	    "# porthole dev relay: . %s\n"
	    "export PORTHOLE_RELAY=%s\n"
	    "export PORTHOLE_CA=%s\n"
	    "export PORTHOLE_TOKEN=%s\n"
	    "export PORTHOLE_KEY=%s\n"
	    "export PORTHOLE_PUBKEY=%s\n"
	    "# the agent: PORTHOLE_TOKEN=%s porthole-agent\n"
	    "# a viewer: PORTHOLE_TOKEN=%s PORTHOLE_KEY=%s porthole ...\n",
	    q_env, qurl, q_ca, q_tok, q_key, q_pub, q_agent, q_vtok, q_vkey);
	env = ph_asprintf("%s/%s", abs, RELAY_DEV_ENV);
	rc = ph_write_file(env, text, strlen(text), 0600, cause);

	free(env);
	free(text);
	free(q_env);
	free(q_ca);
	free(q_tok);
	free(q_key);
	free(q_pub);
	free(q_agent);
	free(q_vtok);
	free(q_vkey);
	free(qurl);
	free(url);
	return rc;
}
