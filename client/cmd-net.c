/*
 * cmd-net.c - "porthole net TARGET [--pid PID] [--listening] [--json]":
 * the sockets of the task's network namespace (or of process PID's), TCP
 * and UDP over IPv4 and IPv6 and unix, with their state, queues,
 * addresses and owning processes: what `ss -tanup` shows, read by the
 * agent from /proc (op-net.c) in an image that has no ss.
 *
 * The agent's document (docs/protocol.md, "net") is printed as it came
 * with --json, else as a table
 *   NETID STATE RECV-Q SEND-Q LOCAL PEER PROCESS
 * columns as wide as their widest cell, PROCESS "comm/pid" for each owner.
 * Paths and program names are the task's bytes: escaped for the terminal
 * (client_printable) in the table, JSON-escaped in --json.
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
#include "cmd.h"

#define NET_DOC_MAX	(64 * 1024 * 1024)
#define NET_COLS	7

/* The PROCESS cell: "comm/pid,comm/pid" or "-"; malloc'd, printable. */
static char *
net_owners(json_t *owners)
{
	json_t	*o;
	size_t	 i;
	char	*out = strdup(""), *c, *next;

	json_array_foreach(owners, i, o) {
		c = client_printable(json_string_value(json_object_get(o, "comm")) != NULL ?
		    json_string_value(json_object_get(o, "comm")) : "?");
		next = ph_asprintf("%s%s%s/%lld", out != NULL ? out : "", i > 0 ? "," : "",
		    c != NULL ? c : "?", (long long)json_integer_value(json_object_get(o, "pid")));
		free(c);
		free(out);
		out = next;
	}
	if (out != NULL && *out == '\0') {
		free(out);
		out = strdup("-");
	}
	return out;
}

static const char *
net_str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s != NULL ? s : "";
}

static int
net_print(json_t *doc)
{
	static const char *const head[NET_COLS] = { "NETID", "STATE", "RECV-Q", "SEND-Q",
	    "LOCAL", "PEER", "PROCESS" };
	json_t	*socks = json_object_get(doc, "sockets"), *s;
	size_t	 n = json_array_size(socks), i, c, w[NET_COLS];
	char	*(*cell)[NET_COLS];
	char	 q[2][24];

	if ((cell = calloc(n + 1, sizeof *cell)) == NULL)
		return cmd_failf("out of memory");
	for (c = 0; c < NET_COLS; c++) {
		cell[0][c] = strdup(head[c]);
		w[c] = strlen(head[c]);
	}
	json_array_foreach(socks, i, s) {
		char	**row = cell[i + 1];

		snprintf(q[0], sizeof q[0], "%lld",
		    (long long)json_integer_value(json_object_get(s, "recv_q")));
		snprintf(q[1], sizeof q[1], "%lld",
		    (long long)json_integer_value(json_object_get(s, "send_q")));
		row[0] = client_printable(net_str(s, "proto"));
		row[1] = client_printable(net_str(s, "state"));
		row[2] = strdup(q[0]);
		row[3] = strdup(q[1]);
		row[4] = client_printable(*net_str(s, "local") != '\0' ? net_str(s, "local") : "*");
		row[5] = client_printable(*net_str(s, "peer") != '\0' ? net_str(s, "peer") : "*");
		row[6] = net_owners(json_object_get(s, "owners"));
		for (c = 0; c < NET_COLS; c++) {
			if (row[c] == NULL)
				row[c] = strdup("?");
			if (row[c] != NULL && strlen(row[c]) > w[c])
				w[c] = strlen(row[c]);
		}
	}
	for (i = 0; i <= n; i++) {
		for (c = 0; c < NET_COLS; c++) {
			if (c + 1 < NET_COLS)
				printf("%-*s ", (int)w[c], cell[i][c] != NULL ? cell[i][c] : "?");
			else
				printf("%s\n", cell[i][c] != NULL ? cell[i][c] : "?");
			free(cell[i][c]);
		}
	}
	free(cell);
	if (json_integer_value(json_object_get(doc, "unreadable")) > 0)
		fprintf(stderr, "porthole: the owners of the sockets of %lld processes are "
		    "not shown: the agent may not read their descriptors (it needs the same "
		    "user, or SYS_PTRACE)\n",
		    (long long)json_integer_value(json_object_get(doc, "unreadable")));
	return client_out_flush();
}

static int
cmd_net_exec(struct client_conf *conf, int argc, char **argv)
{
	const char	*target = NULL;
	json_t		*members, *doc;
	char		*end;
	long long	 pid = 0;
	int		 i, r, json = 0, listening = 0;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--json") == 0)
			json = 1;
		else if (strcmp(a, "--listening") == 0 || strcmp(a, "-l") == 0)
			listening = 1;
		else if (strcmp(a, "--pid") == 0) {
			if (i + 1 >= argc)
				return cmd_usage_error(&cmd_net_entry, "--pid needs a process id");
			a = argv[++i];
			pid = strtoll(a, &end, 10);
			if (*a < '0' || *a > '9' || *end != '\0' || pid < 1 || pid > 0x7fffffff)
				return cmd_usage_error(&cmd_net_entry, "--pid %s: not a process id",
				    a);
		} else if (a[0] == '-' && a[1] != '\0') {
			if ((r = cmd_conf_option(&cmd_net_entry, conf, argc, argv, &i)) != 0)
				return r;
		} else if (target == NULL)
			target = a;
		else
			return cmd_usage_error(&cmd_net_entry, "unexpected argument '%s'", a);
	}
	if (target == NULL)
		return cmd_usage_error(&cmd_net_entry, "missing TARGET");
	if ((members = json_pack("{s:b}", "listening", listening)) == NULL ||
	    (pid > 0 && json_object_set_new(members, "pid", json_integer(pid)) != 0))
		return cmd_failf("out of memory");
	if ((r = client_doc_run(conf, target, "net", members, NET_DOC_MAX, "socket list",
	    &doc)) != 0)
		return r;
	r = client_doc_print(doc, json, 0, net_print);
	json_decref(doc);
	return r;
}

const struct cmd_entry cmd_net_entry = {
	.name = "net",
	.alias = NULL,
	.usage = "TARGET [--pid PID] [--listening] [--json]",
	.about = "sockets of the task's network, with their processes (like ss -tanup)",
	.exec = cmd_net_exec,
	.flags = CMD_TARGET,
	.description = "The sockets of the agent's network namespace, read from "
	    "/proc by the agent (no ss or netstat needed in the image): TCP and "
	    "UDP over IPv4 and IPv6, and unix sockets, as NETID STATE RECV-Q "
	    "SEND-Q LOCAL PEER PROCESS, PROCESS being each owner as program/pid. "
	    "Owners show for the processes whose descriptors the agent may read "
	    "(the same user, or SYS_PTRACE).",
	.options = (const struct ph_help_opt[]){
		{ "--pid", NULL, "PID", "the network namespace of process PID (another "
		    "container of the task) instead of the agent's; read from "
		    "/proc/PID/net, no CAP_SYS_ADMIN needed" },
		{ "--listening", "-l", NULL, "only listening sockets (TCP and unix "
		    "LISTEN, bound UDP)" },
		{ "--json", NULL, NULL, "the agent's document as JSON: sockets with "
		    "proto, family, state, local, peer, recv_q, send_q, uid, inode, "
		    "owners [{pid, comm, fd}]" },
		{ NULL, NULL, NULL, NULL }
	},
};
