/*
 * test_context.c - the CLI's contexts (client/client-context.c, compiled
 * in): which context applies (--context, PORTHOLE_CONTEXT, "current"), what
 * it fills and what a flag or variable keeps, paths from the file's
 * directory and $HOME, and the one-line errors for a bad file.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "client-conn.h"
#include "client-context.h"

static char	dir[64];
static char	cfg[256];

static void
setup(void)
{
	char	d[200];

	snprintf(dir, sizeof dir, "/tmp/ph-context.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(d, sizeof d, "%s/porthole", dir);
	cr_assert_eq(mkdir(d, 0700), 0);
	snprintf(cfg, sizeof cfg, "%s/config", d);
	setenv("XDG_CONFIG_HOME", dir, 1);
	setenv("HOME", "/home/op", 1);
	unsetenv("PORTHOLE_CONTEXT");
	unsetenv("PORTHOLE_RELAY");
	unsetenv("PORTHOLE_TOKEN");
	unsetenv("PORTHOLE_KEY");
	unsetenv("PORTHOLE_CA");
}

static void
teardown(void)
{
	char	cmd[160];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

static void
write_cfg(const char *text)
{
	FILE	*f = fopen(cfg, "w");

	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

static const char two[] =
    "{\"current\": \"a\", \"contexts\": {\n"
    "  \"a\": {\"relay\": \"wss://a:1\", \"token_file\": \"a.token\",\n"
    "         \"key_file\": \"~/k\", \"ca_file\": \"/etc/ca.pem\"},\n"
    "  \"b\": {\"relay\": \"wss://b:2\", \"insecure\": true}}}\n";

/* Apply with an optional --context; the cause or NULL. */
static char *
apply(struct client_conf *conf, const char *flag)
{
	char	*argv[] = { (char *)"porthole", (char *)"--context", (char *)flag };
	char	*cause = NULL;
	int	 i = 1;

	if (flag != NULL)
		cr_assert_eq(client_context_option(3, argv, &i, &cause), 1);
	else {
		char *reset[] = { (char *)"porthole", (char *)"--context=" };

		i = 1;
		cr_assert_eq(client_context_option(2, reset, &i, &cause), 1);
	}
	if (client_context_apply(conf, &cause) != 0)
		return cause;
	return NULL;
}

TestSuite(context, .init = setup, .fini = teardown);

Test(context, current_fills_what_is_unset)
{
	struct client_conf	 conf;
	char			 want[160];

	write_cfg(two);
	memset(&conf, 0, sizeof conf);
	cr_assert_null(apply(&conf, NULL));
	cr_assert_str_eq(conf.flag_relay, "wss://a:1");
	snprintf(want, sizeof want, "@%s/porthole/a.token", dir);
	cr_assert_str_eq(conf.flag_token, want);
	cr_assert_str_eq(conf.flag_key, "/home/op/k");
	cr_assert_str_eq(conf.flag_ca, "/etc/ca.pem");
	cr_assert_eq(conf.insecure, 0);
	free(conf.flag_relay); free(conf.flag_token); free(conf.flag_key); free(conf.flag_ca);
}

Test(context, flag_and_variable_win)
{
	struct client_conf	 conf;

	write_cfg(two);
	memset(&conf, 0, sizeof conf);
	conf.flag_relay = strdup("wss://flag:9");
	setenv("PORTHOLE_TOKEN", "@/env.token", 1);
	cr_assert_null(apply(&conf, NULL));
	cr_assert_str_eq(conf.flag_relay, "wss://flag:9");
	cr_assert_null(conf.flag_token);		/* the variable's, read later */
	cr_assert_str_eq(conf.flag_key, "/home/op/k");	/* the context's */
	free(conf.flag_relay); free(conf.flag_key); free(conf.flag_ca);
}

Test(context, flag_then_variable_then_current)
{
	struct client_conf	 conf;

	write_cfg(two);
	setenv("PORTHOLE_CONTEXT", "b", 1);
	memset(&conf, 0, sizeof conf);
	cr_assert_null(apply(&conf, NULL));
	cr_assert_str_eq(conf.flag_relay, "wss://b:2");
	cr_assert_eq(conf.insecure, 1);
	cr_assert_null(conf.flag_token);
	free(conf.flag_relay);
	memset(&conf, 0, sizeof conf);
	cr_assert_null(apply(&conf, "a"));
	cr_assert_str_eq(conf.flag_relay, "wss://a:1");
	free(conf.flag_relay); free(conf.flag_token); free(conf.flag_key); free(conf.flag_ca);
}

Test(context, no_file_no_context)
{
	struct client_conf	 conf;
	char			*cause;

	memset(&conf, 0, sizeof conf);
	cr_assert_null(apply(&conf, NULL));
	cr_assert_null(conf.flag_relay);
	cause = apply(&conf, "prod");
	cr_assert_not_null(cause);
	cr_assert(strstr(cause, "unknown context 'prod': ") == cause, "%s", cause);
	cr_assert(strstr(cause, "does not exist") != NULL, "%s", cause);
	free(cause);
}

Test(context, errors_name_the_file)
{
	struct client_conf	 conf;
	char			*cause, want[512];

	write_cfg(two);
	memset(&conf, 0, sizeof conf);
	cause = apply(&conf, "c");
	snprintf(want, sizeof want, "unknown context 'c' in %s: 'porthole "
	    "context ls' lists them", cfg);
	cr_assert_str_eq(cause, want);
	free(cause);

	write_cfg("{\"contexts\": {\n  \"a\": {\"relay\": \"wss://a:1\",}\n}}\n");
	cause = apply(&conf, NULL);
	snprintf(want, sizeof want, "%s:2:", cfg);
	cr_assert(strncmp(cause, want, strlen(want)) == 0, "%s", cause);
	free(cause);

	write_cfg("{\"contexts\": {\"a\": {\"relay\": \"wss://a:1\", \"tokn\": \"x\"}}}");
	cause = apply(&conf, "a");
	cr_assert(strstr(cause, "context 'a' has an unknown member 'tokn'") != NULL,
	    "%s", cause);
	free(cause);

	write_cfg("{\"contexts\": {\"a\": {\"token_file\": \"x\"}}}");
	cause = apply(&conf, "a");
	cr_assert(strstr(cause, "context 'a' has no \"relay\"") != NULL, "%s", cause);
	free(cause);

	write_cfg("{\"contexts\": {\"a\": {\"relay\": \"wss://a:1\", \"insecure\": 1}}}");
	cause = apply(&conf, "a");
	cr_assert(strstr(cause, "\"insecure\" must be true or false") != NULL, "%s", cause);
	free(cause);
}

Test(context, set_current_rewrites_the_file)
{
	struct client_contexts	 cs;
	struct stat		 st;
	char			*cause = NULL;

	write_cfg(two);
	cr_assert_eq(client_contexts_load(&cs, &cause), 0, "%s", cause);
	cr_assert_eq(cs.n, 2);
	cr_assert_eq(client_contexts_set_current(&cs, "b", &cause), 0, "%s", cause);
	client_contexts_free(&cs);
	cr_assert_eq(client_contexts_load(&cs, &cause), 0, "%s", cause);
	cr_assert_str_eq(cs.current, "b");
	cr_assert_eq(cs.n, 2);
	cr_assert_str_eq(client_contexts_find(&cs, "a")->relay, "wss://a:1");
	client_contexts_free(&cs);
	cr_assert_eq(stat(cfg, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
}
