/*
 * cmd-lsof.c - "porthole lsof TARGET PID [--json]": one process's open
 * descriptors, read by the agent from /proc/PID/fd and fdinfo (op-lsof.c)
 * in an image that has no lsof.
 *
 * --json prints the agent's document (docs/protocol.md, "lsof"); else a
 * table
 *   FD TYPE MODE OFFSET WHAT
 * WHAT being a file's path (with its type and size, "DELETED" for a file
 * unlinked but still held open), a socket's protocol, state and
 * addresses, or the link text (pipe:[N], anon_inode:[eventfd]); then a
 * count by type and, when there are any, the deleted files' total size:
 * the "disk full but no file" leak.  Paths are the task's bytes: escaped
 * for the terminal (client_printable), each line as a whole, with every
 * other string the agent sent (types, states, the count's keys).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "porthole/printable.h"
#include "porthole/util.h"

#include "client-doc.h"
#include "client-out.h"
#include "client-target.h"
#include "client-units.h"
#include "cmd.h"

#define LSOF_DOC_MAX	(64 * 1024 * 1024)

static const char *
lsof_str(json_t *o, const char *k, const char *def)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s != NULL ? s : def;
}

/* The WHAT column of one descriptor, as the agent sent it; malloc'd. */
static char *
lsof_what(json_t *f)
{
	const char	*type = lsof_str(f, "type", "?"), *local, *peer;
	char		 size[CLIENT_UNITS_SIZE_MAX];

	if (strcmp(type, "file") == 0) {
		client_units_size((double)json_integer_value(json_object_get(f, "size")),
		    size, sizeof size);
		return ph_asprintf("%s (%s%s%s)%s", lsof_str(f, "path", "?"),
		    lsof_str(f, "file_type", "?"),
		    json_is_integer(json_object_get(f, "size")) ? ", " : "",
		    json_is_integer(json_object_get(f, "size")) ? size : "",
		    json_is_true(json_object_get(f, "deleted")) ? " DELETED" : "");
	}
	if (strcmp(type, "socket") == 0 && json_is_string(json_object_get(f, "proto"))) {
		local = lsof_str(f, "local", "");
		peer = lsof_str(f, "peer", "");
		return ph_asprintf("%s %s %s%s%s", lsof_str(f, "proto", "?"),
		    lsof_str(f, "state", "?"), *local != '\0' ? local : "*",
		    *peer != '\0' ? " -> " : "", peer);
	}
	return strdup(lsof_str(f, "link", "?"));
}

/* One line of text that holds the agent's strings: escaped as a whole. */
static void
lsof_line(char *line)
{
	char	*p = client_printable(line != NULL ? line : "?");

	printf("%s\n", p != NULL ? p : "?");
	free(p);
	free(line);
}

static int
lsof_print(json_t *doc)
{
	json_t		*fds = json_object_get(doc, "fds"), *f, *v;
	const char	*k;
	size_t		 i;
	char		*what, *line, *next, pos[24], size[CLIENT_UNITS_SIZE_MAX];
	int		 first = 1;

	printf("%-5s %-9s %-4s %10s  %s\n", "FD", "TYPE", "MODE", "OFFSET", "WHAT");
	json_array_foreach(fds, i, f) {
		if (json_is_integer(json_object_get(f, "pos")))
			snprintf(pos, sizeof pos, "%lld",
			    (long long)json_integer_value(json_object_get(f, "pos")));
		else
			snprintf(pos, sizeof pos, "-");
		what = lsof_what(f);
		lsof_line(ph_asprintf("%-5lld %-9s %-4s %10s  %s",
		    (long long)json_integer_value(json_object_get(f, "fd")),
		    lsof_str(f, "type", "?"), lsof_str(f, "mode", "-"), pos,
		    what != NULL ? what : "?"));
		free(what);
	}
	line = ph_asprintf("%zu descriptors of %lld (%s):", json_array_size(fds),
	    (long long)json_integer_value(json_object_get(doc, "pid")),
	    lsof_str(doc, "comm", "?"));
	json_object_foreach(json_object_get(doc, "counts"), k, v) {
		next = ph_asprintf("%s%s %lld %s", line != NULL ? line : "", first ? "" : ",",
		    (long long)json_integer_value(v), k);
		free(line);
		line = next;
		first = 0;
	}
	lsof_line(line);
	if (json_integer_value(json_object_get(doc, "deleted")) > 0) {
		client_units_size((double)json_integer_value(json_object_get(doc,
		    "deleted_bytes")), size, sizeof size);
		printf("%lld deleted file%s still open, holding %s of disk\n",
		    (long long)json_integer_value(json_object_get(doc, "deleted")),
		    json_integer_value(json_object_get(doc, "deleted")) == 1 ? "" : "s", size);
	}
	if (json_is_true(json_object_get(doc, "truncated")))
		printf("(only the first %zu descriptors are listed)\n", json_array_size(fds));
	return client_out_flush();
}

static int
cmd_lsof_exec(struct client_conf *conf, int argc, char **argv)
{
	const char	*target = NULL, *pid = NULL;
	json_t		*doc;
	char		*end;
	long long	 n;
	int		 i, r, json = 0;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--json") == 0)
			json = 1;
		else if (a[0] == '-' && a[1] != '\0') {
			if ((r = cmd_conf_option(&cmd_lsof_entry, conf, argc, argv, &i)) != 0)
				return r;
		} else if (target == NULL)
			target = a;
		else if (pid == NULL)
			pid = a;
		else
			return cmd_usage_error(&cmd_lsof_entry, "unexpected argument '%s'", a);
	}
	if (target == NULL || pid == NULL)
		return cmd_usage_error(&cmd_lsof_entry, "missing %s", target == NULL ?
		    "TARGET" : "PID");
	n = strtoll(pid, &end, 10);
	if (*pid < '0' || *pid > '9' || *end != '\0' || n < 1 || n > 0x7fffffff)
		return cmd_usage_error(&cmd_lsof_entry, "PID must be a process id, not '%s'",
		    pid);
	if ((r = client_doc_run(conf, target, "lsof", json_pack("{s:I}", "pid",
	    (json_int_t)n), LSOF_DOC_MAX, "descriptor list", &doc)) != 0)
		return r;
	r = client_doc_print(doc, json, 0, lsof_print);
	json_decref(doc);
	return r;
}

const struct cmd_entry cmd_lsof_entry = {
	.name = "lsof",
	.alias = NULL,
	.usage = "TARGET PID [--json]",
	.about = "a process's open files, sockets and pipes, deleted files held open",
	.exec = cmd_lsof_exec,
	.flags = CMD_TARGET | CMD_PID,
	.description = "The open descriptors of process PID on the agent, read "
	    "from /proc by the agent (no lsof needed in the image): FD TYPE MODE "
	    "OFFSET WHAT, WHAT being a file's path with its type and size, a "
	    "socket's protocol, state and addresses, or a pipe, eventfd, epoll or "
	    "other anonymous inode; then a count by type. A file deleted while "
	    "still open is marked DELETED and the space such files hold is "
	    "summed: the disk that is full with no file to show for it. Needs "
	    "the same user as the process, or SYS_PTRACE.",
	.options = (const struct ph_help_opt[]){
		{ "--json", NULL, NULL, "the agent's document as JSON: fds [{fd, type, "
		    "mode, pos, path or link, size, deleted, proto, state, local, "
		    "peer}], counts, deleted, deleted_bytes" },
		{ NULL, NULL, NULL, NULL }
	},
};
