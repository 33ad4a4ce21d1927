/*
 * client-conf.h - the CLI's settings: each global option overrides its
 * PORTHOLE_* variable (--relay, --token, --key, --ca, --insecure), loaded
 * and checked once by client_conf_load before any connection is made.
 */
#ifndef PORTHOLE_CLIENT_CONF_H
#define PORTHOLE_CLIENT_CONF_H

struct ph_key;

/* Settings: a flag overrides its PORTHOLE_* variable. */
struct client_conf {
	/* As given on the command line (NULL: not given). */
	char	*flag_relay;
	char	*flag_token;
	char	*flag_key;
	char	*flag_ca;
	char	*flag_resume;	/* --resume DUR: PORTHOLE_RESUME_TIMEOUT for this run */
	int	 insecure;	/* --insecure: skip certificate checks */
	int	 allow_unsealed; /* --allow-unsealed: an agent that does not seal is taken */

	/* Filled by client_conf_load. */
	char	*relay;		/* wss://host:port as configured */
	char	*host;		/* host part of relay: SNI and certificate name */
	int	 port;
	char	*token;		/* the token itself; never printed */
	char	*key;		/* PORTHOLE_KEY path, or NULL */
	char	*ca;		/* PORTHOLE_CA path, or NULL */

	/* Filled by client_sign_load (client-sign.h). */
	struct ph_key *signer;	/* PORTHOLE_KEY loaded, or NULL */
	char	*jti;		/* the token's jti (unverified), or NULL */
	int	 bound;		/* the token names a key (cnf) */
	char	*token_target;	/* the token's target (unverified), or NULL */
};

/*
 * If argv[*i] is a global option (--relay URL, --token T, --key PATH,
 * --ca PATH, --insecure, or the --opt=value forms), store it, advance *i
 * past its value and return 1; return 0 if it is not one; -1 with *cause
 * (malloc'd) if its value is missing.
 */
int	client_conf_option(struct client_conf *conf, int argc, char **argv, int *i,
	    char **cause);
/* Resolve flags over environment and check them; -1 with *cause. */
int	client_conf_load(struct client_conf *conf, char **cause);
void	client_conf_free(struct client_conf *conf);

#endif
