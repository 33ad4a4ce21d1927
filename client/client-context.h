/*
 * client-context.h - named contexts: the CLI's settings for one relay
 * (URL, token file, key file, CA file, insecure), kept in a config file so
 * that an operator switches prod and staging with `porthole context use`
 * instead of re-sourcing environment files.
 *
 * The file is $XDG_CONFIG_HOME/porthole/config (default
 * ~/.config/porthole/config), JSON:
 *
 *   {"current": "staging",
 *    "contexts": {"staging": {"relay": "wss://relay.staging:443",
 *                             "token_file": "staging.token",
 *                             "key_file": "me.key", "ca_file": "ca.pem",
 *                             "insecure": false}}}
 *
 * Every member but "relay" may be left out; a relative path is taken from
 * the file's directory and "~/" from $HOME.  A member the file does not
 * know (a typo) is an error, as is a file that does not parse: one line
 * naming the file, and the line and column for a syntax error.
 *
 * Which context applies: --context NAME, else PORTHOLE_CONTEXT, else the
 * file's "current"; none when there is no file and no name.  A context
 * fills only what neither a flag nor a PORTHOLE_* variable gave.
 */
#ifndef PORTHOLE_CLIENT_CONTEXT_H
#define PORTHOLE_CLIENT_CONTEXT_H

#include <stddef.h>

struct client_conf;

struct client_context {
	char	*name;
	char	*relay;		/* NULL: not set */
	char	*token_file;	/* absolute paths (resolved at load) */
	char	*key_file;
	char	*ca_file;
	int	 insecure;
};

struct client_contexts {
	char			*path;		/* the config file */
	int			 exists;	/* 0: no file (no contexts) */
	char			*current;	/* NULL: none */
	struct client_context	*v;
	size_t			 n;
};

/*
 * If argv[*i] is --context NAME (or --context=NAME), keep NAME for
 * client_context_apply, advance *i and return 1; 0 if it is not; -1 with
 * *cause when the value is missing.
 */
int	client_context_option(int argc, char **argv, int *i, char **cause);
/* The name given by --context or PORTHOLE_CONTEXT (borrowed), or NULL. */
const char *client_context_chosen(void);

/*
 * Fill conf's flag_* (and insecure) from the context that applies, where
 * neither a flag nor its variable gave a value.  0 (also when no context
 * applies), or -1 with *cause (an unknown name, a bad file).
 */
int	client_context_apply(struct client_conf *conf, char **cause);

/* Read the config file (a missing file is no contexts).  -1 with *cause. */
int	client_contexts_load(struct client_contexts *cs, char **cause);
void	client_contexts_free(struct client_contexts *cs);
/* The context named name, or NULL. */
const struct client_context *client_contexts_find(const struct client_contexts *cs,
	    const char *name);
/* The name that applies (--context, PORTHOLE_CONTEXT, "current"), or NULL. */
const char *client_contexts_selected(const struct client_contexts *cs);

/*
 * Make name the file's current context: the file is rewritten whole
 * (temporary file, fsync, rename; mode 0600).  -1 with *cause.
 */
int	client_contexts_set_current(struct client_contexts *cs, const char *name,
	    char **cause);

#endif
