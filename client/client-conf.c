/*
 * client-conf.c - the CLI's settings: the global options (--relay, --token,
 * --key, --ca, --insecure) over their PORTHOLE_* variables, resolved and
 * checked once before anything connects, with a sentence saying what to
 * set when one is missing or unusable.  Nothing here touches the network;
 * the connection (client-conn.c) only reads the result.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "porthole/resume.h"
#include "porthole/token.h"
#include "porthole/util.h"

#include "client-conf.h"
#include "client-context.h"
#include "client-sign.h"

static int
conf_take(char **slot, const char *name, const char *arg, int argc, char **argv,
    int *i, char **cause)
{
	size_t	 n = strlen(name);

	if (arg[n] == '=') {
		free(*slot);
		*slot = strdup(arg + n + 1);
		if (strcmp(name, "--token") == 0)
			ph_arg_wipe((char *)arg + n + 1);	/* not in ps */
		return 1;
	}
	if (*i + 1 >= argc) {
		*cause = ph_asprintf("option %s needs a value", name);
		return -1;
	}
	free(*slot);
	*slot = strdup(argv[++*i]);
	if (strcmp(name, "--token") == 0)
		ph_arg_wipe(argv[*i]);		/* not in ps */
	return 1;
}

int
client_conf_option(struct client_conf *conf, int argc, char **argv, int *i,
    char **cause)
{
	static const struct {
		const char	*name;
		size_t		 off;
	} opts[] = {
		{ "--relay", offsetof(struct client_conf, flag_relay) },
		{ "--token", offsetof(struct client_conf, flag_token) },
		{ "--key", offsetof(struct client_conf, flag_key) },
		{ "--ca", offsetof(struct client_conf, flag_ca) },
		{ "--resume", offsetof(struct client_conf, flag_resume) },
	};
	const char	*arg = argv[*i];
	size_t		 k, n;
	int		 r;

	if ((r = client_context_option(argc, argv, i, cause)) != 0)
		return r;		/* --context NAME: client-context.c */
	if (strcmp(arg, "--insecure") == 0) {
		conf->insecure = 1;
		return 1;
	}
	if (strcmp(arg, "--allow-unsealed") == 0) {
		conf->allow_unsealed = 1;
		return 1;
	}
	for (k = 0; k < sizeof opts / sizeof opts[0]; k++) {
		n = strlen(opts[k].name);
		if (strncmp(arg, opts[k].name, n) != 0 ||
		    (arg[n] != '\0' && arg[n] != '='))
			continue;
		return conf_take((char **)((char *)conf + opts[k].off),
		    opts[k].name, arg, argc, argv, i, cause);
	}
	return 0;
}

/* Is path a readable, non-empty file?  0 or -1 with *cause. */
static int
conf_check_file(const char *what, const char *path, const char *hint,
    char **cause)
{
	char	 b;
	int	 fd;
	ssize_t	 n;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		*cause = ph_asprintf("cannot read %s file '%s' (%s): %s", what,
		    path, strerror(errno), hint);
		return -1;
	}
	n = read(fd, &b, 1);
	close(fd);
	if (n <= 0) {
		*cause = ph_asprintf("cannot read %s file '%s' (%s): %s", what,
		    path, n < 0 ? strerror(errno) : "it is empty", hint);
		return -1;
	}
	return 0;
}

int
client_conf_load(struct client_conf *conf, char **cause)
{
	char	*raw, *c = NULL;

	if (conf->token != NULL)
		return 0;	/* loaded already (attach: its listing, then its shell) */
	/* What neither a flag nor a variable gave, from the context. */
	if (client_context_apply(conf, cause) != 0)
		return -1;

	conf->relay = ph_setting(conf->flag_relay, "PORTHOLE_RELAY");
	if (conf->relay == NULL || *conf->relay == '\0') {
		*cause = ph_asprintf("no relay given: set PORTHOLE_RELAY="
		    "wss://HOST:PORT or pass --relay (a dev relay writes it to "
		    "DIR/env)");
		return -1;
	}
	if (strncmp(conf->relay, "wss://", 6) != 0) {
		*cause = ph_asprintf("PORTHOLE_RELAY '%s' is not a wss:// URL: "
		    "set it to wss://HOST:PORT", conf->relay);
		return -1;
	}
	if (ph_url_parse(conf->relay, &conf->host, &conf->port, &c) != 0) {
		*cause = ph_asprintf("bad PORTHOLE_RELAY '%s' (%s): set it to "
		    "wss://HOST:PORT", conf->relay, c);
		free(c);
		return -1;
	}

	raw = ph_setting(conf->flag_token, "PORTHOLE_TOKEN");
	if (raw == NULL || *raw == '\0') {
		free(raw);
		*cause = ph_asprintf("no token given: set PORTHOLE_TOKEN (the "
		    "token, or @FILE holding it) or pass --token");
		return -1;
	}
	conf->token = ph_secret_value(raw, &c);
	if (conf->token == NULL) {
		*cause = ph_asprintf("cannot read the token%s%s (%s): fix "
		    "PORTHOLE_TOKEN", raw[0] == '@' ? " from " : "",
		    raw[0] == '@' ? raw + 1 : "", c);
		free(c);
		free(raw);
		return -1;
	}
	free(raw);
	if (*conf->token == '\0' || strlen(conf->token) > PH_TOKEN_MAX) {
		*cause = ph_asprintf("the token in PORTHOLE_TOKEN is %s: issue a "
		    "new one with 'porthole token issue'",
		    *conf->token == '\0' ? "empty" : "too long");
		return -1;
	}

	/* --allow-unsealed, or PORTHOLE_ALLOW_UNSEALED=1 (client-session.c). */
	if ((raw = ph_setting(NULL, "PORTHOLE_ALLOW_UNSEALED")) != NULL &&
	    strcmp(raw, "1") == 0)
		conf->allow_unsealed = 1;
	free(raw);

	conf->key = ph_setting(conf->flag_key, "PORTHOLE_KEY");
	if (conf->key != NULL && *conf->key == '\0') {
		free(conf->key);
		conf->key = NULL;
	}
	if (conf->key != NULL && conf_check_file("PORTHOLE_KEY", conf->key,
	    "set PORTHOLE_KEY to the private key the token is bound to", cause))
		return -1;

	if (client_sign_load(conf, cause) != 0)
		return -1;

	conf->ca = ph_setting(conf->flag_ca, "PORTHOLE_CA");
	if (conf->ca != NULL && *conf->ca == '\0') {
		free(conf->ca);
		conf->ca = NULL;
	}
	if (conf->ca != NULL && conf_check_file("PORTHOLE_CA", conf->ca,
	    "set PORTHOLE_CA to the relay's CA certificate (PEM)", cause))
		return -1;

	/* --resume DUR (PORTHOLE_RESUME_TIMEOUT's flag): refused before any session. */
	if (conf->flag_resume != NULL) {
		int64_t	 ms;
		size_t	 soft, hard;

		if (ph_resume_settings(conf->flag_resume, &ms, &soft, &hard, cause) != 0)
			return -1;
	}

	if (conf->insecure)
		fprintf(stderr, "porthole: WARNING: --insecure: the relay's "
		    "certificate is NOT checked; anyone on the network path can "
		    "read and change this session\n");
	return 0;
}

void
client_conf_free(struct client_conf *conf)
{
	free(conf->flag_relay);
	free(conf->flag_token);
	free(conf->flag_key);
	free(conf->flag_ca);
	free(conf->flag_resume);
	free(conf->relay);
	free(conf->host);
	if (conf->token != NULL) {
		OPENSSL_cleanse(conf->token, strlen(conf->token));
		free(conf->token);
	}
	free(conf->key);
	free(conf->ca);
	client_sign_free(conf);
	memset(conf, 0, sizeof *conf);
}
