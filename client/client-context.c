/*
 * client-context.c - the CLI's named contexts: reading the config file,
 * choosing the context that applies, filling the settings it gives, and
 * rewriting the file's current context atomically.  See client-context.h
 * for the file's format and the order of precedence.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "porthole/util.h"

#include "client-conn.h"
#include "client-context.h"

#define CONTEXT_FILE_MAX	(1u << 20)	/* a config file larger is refused */

static char	*context_flag;		/* --context NAME */

int
client_context_option(int argc, char **argv, int *i, char **cause)
{
	const char	*arg = argv[*i], *v;
	static const char name[] = "--context";
	size_t		 n = sizeof name - 1;

	if (strncmp(arg, name, n) != 0 || (arg[n] != '\0' && arg[n] != '='))
		return 0;
	if (arg[n] == '=')
		v = arg + n + 1;
	else if (*i + 1 < argc)
		v = argv[++*i];
	else {
		*cause = ph_asprintf("option --context needs a value");
		return -1;
	}
	free(context_flag);
	context_flag = ph_asprintf("%s", v);
	return 1;
}

const char *
client_context_chosen(void)
{
	const char	*e;

	if (context_flag != NULL && *context_flag != '\0')
		return context_flag;
	e = getenv("PORTHOLE_CONTEXT");
	return e != NULL && *e != '\0' ? e : NULL;
}

/* $XDG_CONFIG_HOME/porthole/config, or ~/.config/porthole/config. */
static char *
context_path(char **cause)
{
	const char	*x = getenv("XDG_CONFIG_HOME"), *h = getenv("HOME");

	if (x != NULL && *x == '/')
		return ph_asprintf("%s/porthole/config", x);
	if (h != NULL && *h != '\0')
		return ph_asprintf("%s/.config/porthole/config", h);
	*cause = ph_asprintf("neither XDG_CONFIG_HOME nor HOME is set: no "
	    "config file for contexts");
	return NULL;
}

/* A path of the file: "~/x" from $HOME, "x" from dir, "/x" as it is. */
static char *
context_file_path(const char *dir, const char *p)
{
	const char	*h = getenv("HOME");

	if (p[0] == '/')
		return ph_asprintf("%s", p);
	if (p[0] == '~' && p[1] == '/' && h != NULL && *h != '\0')
		return ph_asprintf("%s/%s", h, p + 2);
	return ph_asprintf("%s/%s", dir, p);
}

/* One context object into c; -1 with *cause naming the member. */
static int
context_parse_one(const char *path, const char *dir, const char *name,
    json_t *o, struct client_context *c, char **cause)
{
	static const char *paths[] = { "token_file", "key_file", "ca_file" };
	char		**slots[] = { &c->token_file, &c->key_file, &c->ca_file };
	const char	*k;
	json_t		*v;
	size_t		 i;

	c->name = ph_asprintf("%s", name);
	if (!json_is_object(o)) {
		*cause = ph_asprintf("%s: context '%s' is not a JSON object", path,
		    name);
		return -1;
	}
	json_object_foreach(o, k, v) {
		if (strcmp(k, "insecure") == 0) {
			if (!json_is_boolean(v))
				goto type;
			c->insecure = json_is_true(v);
			continue;
		}
		if (strcmp(k, "relay") == 0) {
			if (!json_is_string(v) || json_string_length(v) == 0)
				goto type;
			c->relay = ph_asprintf("%s", json_string_value(v));
			continue;
		}
		for (i = 0; i < 3; i++)
			if (strcmp(k, paths[i]) == 0)
				break;
		if (i == 3) {
			*cause = ph_asprintf("%s: context '%s' has an unknown member "
			    "'%s' (known: relay, token_file, key_file, ca_file, "
			    "insecure)", path, name, k);
			return -1;
		}
		if (!json_is_string(v) || json_string_length(v) == 0)
			goto type;
		*slots[i] = context_file_path(dir, json_string_value(v));
	}
	if (c->relay == NULL) {
		*cause = ph_asprintf("%s: context '%s' has no \"relay\" (wss://HOST:PORT)",
		    path, name);
		return -1;
	}
	return 0;
type:
	*cause = ph_asprintf("%s: context '%s': \"%s\" must be %s", path, name, k,
	    strcmp(k, "insecure") == 0 ? "true or false" : "a non-empty string");
	return -1;
}

/* The file's JSON (a missing file: *doc NULL, 0).  -1 with *cause. */
static int
context_read(const char *path, json_t **doc, char **cause)
{
	json_error_t	 err;
	struct stat	 st;

	*doc = NULL;
	if (stat(path, &st) != 0) {
		if (errno == ENOENT)
			return 0;
		*cause = ph_asprintf("cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)CONTEXT_FILE_MAX) {
		*cause = ph_asprintf("%s: not a regular file of at most %u KiB",
		    path, CONTEXT_FILE_MAX >> 10);
		return -1;
	}
	if ((*doc = json_load_file(path, JSON_REJECT_DUPLICATES, &err)) == NULL) {
		if (err.line > 0)
			*cause = ph_asprintf("%s:%d:%d: not JSON (%s): fix the "
			    "file (docs/operations.md, \"Contexts\")", path,
			    err.line, err.column, err.text);
		else
			*cause = ph_asprintf("cannot read %s: %s", path, err.text);
		return -1;
	}
	if (!json_is_object(*doc)) {
		*cause = ph_asprintf("%s:1: the file must hold one JSON object "
		    "{\"current\": ..., \"contexts\": {...}}", path);
		json_decref(*doc);
		*doc = NULL;
		return -1;
	}
	return 0;
}

int
client_contexts_load(struct client_contexts *cs, char **cause)
{
	json_t		*doc, *ctxs, *cur, *o;
	const char	*k;
	char		*dir, *slash;

	memset(cs, 0, sizeof *cs);
	if ((cs->path = context_path(cause)) == NULL)
		return -1;
	if (context_read(cs->path, &doc, cause) != 0)
		return -1;
	if (doc == NULL)
		return 0;
	cs->exists = 1;
	json_object_foreach(doc, k, o) {
		if (strcmp(k, "current") != 0 && strcmp(k, "contexts") != 0) {
			*cause = ph_asprintf("%s: unknown member '%s' (known: "
			    "current, contexts)", cs->path, k);
			json_decref(doc);
			return -1;
		}
	}
	cur = json_object_get(doc, "current");
	if (cur != NULL && !json_is_string(cur) && !json_is_null(cur)) {
		*cause = ph_asprintf("%s: \"current\" must be a context's name",
		    cs->path);
		json_decref(doc);
		return -1;
	}
	if (json_is_string(cur) && json_string_length(cur) > 0)
		cs->current = ph_asprintf("%s", json_string_value(cur));
	ctxs = json_object_get(doc, "contexts");
	if (ctxs != NULL && !json_is_object(ctxs)) {
		*cause = ph_asprintf("%s: \"contexts\" must be an object of "
		    "named contexts", cs->path);
		json_decref(doc);
		return -1;
	}
	dir = ph_asprintf("%s", cs->path);
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	if ((cs->v = calloc(json_object_size(ctxs) + 1, sizeof *cs->v)) == NULL)
		abort();
	json_object_foreach(ctxs, k, o) {
		if (context_parse_one(cs->path, dir, k, o, &cs->v[cs->n++],
		    cause) != 0) {
			free(dir);
			json_decref(doc);
			return -1;
		}
	}
	free(dir);
	json_decref(doc);
	return 0;
}

void
client_contexts_free(struct client_contexts *cs)
{
	size_t	i;

	for (i = 0; i < cs->n; i++) {
		free(cs->v[i].name);
		free(cs->v[i].relay);
		free(cs->v[i].token_file);
		free(cs->v[i].key_file);
		free(cs->v[i].ca_file);
	}
	free(cs->v);
	free(cs->path);
	free(cs->current);
	memset(cs, 0, sizeof *cs);
}

const struct client_context *
client_contexts_find(const struct client_contexts *cs, const char *name)
{
	size_t	i;

	for (i = 0; name != NULL && i < cs->n; i++)
		if (strcmp(cs->v[i].name, name) == 0)
			return &cs->v[i];
	return NULL;
}

const char *
client_contexts_selected(const struct client_contexts *cs)
{
	const char	*n = client_context_chosen();

	return n != NULL ? n : cs->current;
}

/* slot = value when neither the flag (slot) nor env gave one. */
static void
context_fill(char **slot, const char *env, const char *prefix, const char *value)
{
	const char	*e = getenv(env);

	if (value == NULL || *slot != NULL || (e != NULL && *e != '\0'))
		return;
	*slot = ph_asprintf("%s%s", prefix, value);
}

int
client_context_apply(struct client_conf *conf, char **cause)
{
	struct client_contexts		 cs;
	const struct client_context	*c;
	const char			*name;

	if (client_contexts_load(&cs, cause) != 0) {
		/* Without a name asked for, an unreadable HOME is no error. */
		if (!cs.exists && client_context_chosen() == NULL && cs.path == NULL) {
			free(*cause);
			*cause = NULL;
			return 0;
		}
		client_contexts_free(&cs);
		return -1;
	}
	if ((name = client_contexts_selected(&cs)) == NULL) {
		client_contexts_free(&cs);
		return 0;
	}
	if ((c = client_contexts_find(&cs, name)) == NULL) {
		if (!cs.exists)
			*cause = ph_asprintf("unknown context '%s': %s does not "
			    "exist (docs/operations.md, \"Contexts\")", name, cs.path);
		else
			*cause = ph_asprintf("unknown context '%s'%s in %s: "
			    "'porthole context ls' lists them", name,
			    client_context_chosen() == NULL ? " (its \"current\")" :
			    "", cs.path);
		client_contexts_free(&cs);
		return -1;
	}
	context_fill(&conf->flag_relay, "PORTHOLE_RELAY", "", c->relay);
	context_fill(&conf->flag_token, "PORTHOLE_TOKEN", "@", c->token_file);
	context_fill(&conf->flag_key, "PORTHOLE_KEY", "", c->key_file);
	context_fill(&conf->flag_ca, "PORTHOLE_CA", "", c->ca_file);
	if (c->insecure)
		conf->insecure = 1;
	client_contexts_free(&cs);
	return 0;
}

int
client_contexts_set_current(struct client_contexts *cs, const char *name,
    char **cause)
{
	json_t	*doc;
	char	*tmp, *text;
	size_t	 len, off = 0;
	ssize_t	 n;
	int	 fd;

	if (context_read(cs->path, &doc, cause) != 0)
		return -1;
	if (doc == NULL) {
		*cause = ph_asprintf("%s does not exist", cs->path);
		return -1;
	}
	json_object_set_new(doc, "current", json_string(name));
	text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (text == NULL) {
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	tmp = ph_asprintf("%s.XXXXXX", cs->path);
	if ((fd = mkstemp(tmp)) < 0) {
		*cause = ph_asprintf("cannot write %s: %s", tmp, strerror(errno));
		goto fail;
	}
	len = strlen(text);
	text[len++] = '\n';	/* json_dumps left room: replaces the NUL */
	if (fchmod(fd, 0600) != 0)
		goto io;
	while (off < len) {
		if ((n = write(fd, text + off, len - off)) < 0) {
			if (errno == EINTR)
				continue;
			goto io;
		}
		off += (size_t)n;
	}
	if (fsync(fd) != 0)
		goto io;
	if (close(fd) != 0) {
		fd = -1;
		goto io;
	}
	fd = -1;
	if (rename(tmp, cs->path) != 0)
		goto io;
	free(cs->current);
	cs->current = ph_asprintf("%s", name);
	free(tmp);
	free(text);
	return 0;
io:
	*cause = ph_asprintf("cannot write %s: %s", cs->path, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
fail:
	free(tmp);
	free(text);
	return -1;
}
