/*
 * ops.c - the operation registry (ops.h): one entry per operation, the
 * members every open carries, and the lookups the schema, the signature,
 * token scopes, the relay and the agent make on them.
 *
 * Bounds are those of the open schema (docs/protocol.md, "open"); an
 * operation lists only the members of its own request, so an open naming
 * another operation's member is refused (frame.c).
 */
#include <stdlib.h>
#include <string.h>

#include "porthole/agentid.h"
#include "porthole/ops.h"

#define M_STR(n, f, lo, hi)	{ n, PH_MT_STR, f, lo, hi }
#define M_INT(n, f, lo, hi)	{ n, PH_MT_INT, f, lo, hi }
#define M_BOOL(n)		{ n, PH_MT_BOOL, 0, 0, 0 }
#define M_BOOL_F(n, f)		{ n, PH_MT_BOOL, f, 0, 0 }
#define M_END			{ NULL, 0, 0, 0, 0 }
#define REQ			PH_OPM_REQUIRED
#define RELAYED			(PH_OPM_UNSIGNED | PH_OPM_RELAYED)

/* Members every open carries (the client sends argv, tty, stdin always). */
static const struct ph_op_member ops_common[] = {
	M_STR("sid", REQ, PH_SID_LEN, PH_SID_LEN),
	M_STR("agent", REQ, 1, PH_AGENT_ID_MAX),
	M_STR("agent_sub", 0, 1, PH_AGENT_SUB_MAX),	/* agents of protocol 1 */
	M_STR("op", REQ, 1, 32),
	{ "argv", PH_MT_STRARR, 0, 0, 4096 },
	M_BOOL("tty"),
	M_BOOL("stdin"),
	M_INT("ts", 0, 0, (long long)1 << 40),
	M_INT("proto", 0, 0, 65535),
	{ "sig", PH_MT_STR_OR_NULL, PH_OPM_UNSIGNED, 0, 4096 },
	/* the client's X25519 share, base64url (signed: seal.h) */
	M_STR("seal", 0, 43, 43),
	/* false: the client does not reconnect, so nothing is held for it */
	M_BOOL("resume"),
	/* added by the relay on the way to the agent */
	M_BOOL_F("record", RELAYED),	/* send COPY frames for the recording */
	M_STR("secret", RELAYED, PH_SECRET_LEN, PH_SECRET_LEN),
	M_STR("sub", RELAYED, 0, 256),
	M_STR("token", RELAYED, 1, 8192),	/* the client's token */
	M_END
};

#define M_PID		M_INT("pid", 0, 1, (1LL << 31) - 1)
#define M_CONTAINER	M_STR("container", 0, 1, 255)

static const struct ph_op_member ops_exec[] = {
	M_PID, M_CONTAINER,
	M_INT("timeout_ms", 0, 1, 7LL * 24 * 3600 * 1000),
	M_INT("grace_ms", 0, 0, 3600 * 1000),
	M_END
};
static const struct ph_op_member ops_shell[] = {
	M_PID, M_CONTAINER,
	M_STR("term", 0, 0, 64), M_INT("cols", 0, 0, 65535), M_INT("rows", 0, 0, 65535),
	M_END
};
static const struct ph_op_member ops_none[] = { M_END };
/* attach: the detached shell's id (the agent's `sessions` lists it), the terminal. */
static const struct ph_op_member ops_attach[] = {
	M_STR("session", REQ, PH_SID_LEN, PH_SID_LEN),
	M_STR("term", 0, 0, 64), M_INT("cols", 0, 0, 65535), M_INT("rows", 0, 0, 65535),
	M_END
};
static const struct ph_op_member ops_cp[] = {
	M_PID, M_CONTAINER,
	M_BOOL("preserve"),	/* cp put -p */
	M_END
};
static const struct ph_op_member ops_dump[] = {
	M_PID,
	M_CONTAINER,		/* listed so the agent can say dump takes --pid only */
	M_STR("kind", 0, 1, 16), M_BOOL("freeze"), M_STR("tmpdir", 0, 1, 4096),
	M_END
};

/* net: the sockets of the --pid process's network namespace (else the agent's). */
static const struct ph_op_member ops_net[] = {
	M_PID,
	M_BOOL("listening"),
	M_END
};
/* lsof: one process's descriptors; pid names it (a member, never run inside it). */
static const struct ph_op_member ops_lsof[] = {
	M_INT("pid", REQ, 1, (1LL << 31) - 1),
	M_END
};
/* probe: HOST:PORT or an http(s) URL, checked again by the agent. */
static const struct ph_op_member ops_probe[] = {
	M_STR("dest", REQ, 1, 2048),
	M_BOOL("tls"),
	M_INT("timeout_ms", 0, 100, 60 * 1000),
	M_END
};

/*
 * forward: the destinations travel in STREAM frames, one per connection;
 * the open says where the agent's sockets live (pid, container) and how
 * long a connect may take.
 */
static const struct ph_op_member ops_forward[] = {
	M_PID, M_CONTAINER,
	M_INT("timeout_ms", 0, 100, 600 * 1000),
	M_END
};

#define C(x)		PH_CTL_BIT(PH_CTL_##x)
/* Every session: the client may interrupt, either side may report an error. */
#define CLIENT_ANY	(C(SIGNAL) | C(ERROR))
#define AGENT_ANY	(C(READY) | C(EXIT) | C(ERROR))

static const struct ph_op ops[] = {
	{ "ls", "ls", PH_OPF_VIEWER, ops_none, 0, 0 },
	{ "shell", "shell", PH_OPF_SESSION | PH_OPF_RECORDED, ops_shell,
	  CLIENT_ANY | C(RESIZE) | C(EOF) | C(DETACH), AGENT_ANY | C(DETACH) },
	{ "exec", "exec", PH_OPF_SESSION | PH_OPF_RECORDED, ops_exec,
	  CLIENT_ANY | C(EOF), AGENT_ANY },
	{ "ps", "ps", PH_OPF_SESSION | PH_OPF_VIEWER, ops_none,
	  CLIENT_ANY | C(EOF), AGENT_ANY },
	{ "mem", "mem", PH_OPF_SESSION | PH_OPF_VIEWER, ops_none,
	  CLIENT_ANY | C(EOF), AGENT_ANY },
	{ "dump", "dump", PH_OPF_SESSION, ops_dump,
	  CLIENT_ANY | C(EOF), AGENT_ANY | C(PROGRESS) | C(META) },
	{ "cp", "cp", PH_OPF_SESSION, ops_cp,
	  CLIENT_ANY | C(EOF) | C(META), AGENT_ANY | C(META) },
	{ "net", "net", PH_OPF_SESSION | PH_OPF_VIEWER, ops_net,
	  CLIENT_ANY | C(EOF), AGENT_ANY },
	{ "lsof", "lsof", PH_OPF_SESSION | PH_OPF_VIEWER, ops_lsof,
	  CLIENT_ANY | C(EOF), AGENT_ANY },
	{ "probe", "probe", PH_OPF_SESSION | PH_OPF_VIEWER, ops_probe,
	  CLIENT_ANY | C(EOF), AGENT_ANY },
	/* Port forwarding: many connections, each a stream of the one session. */
	{ "forward", "forward", PH_OPF_SESSION | PH_OPF_STREAMS, ops_forward,
	  CLIENT_ANY | C(EOF), AGENT_ANY | C(REPORT) },
	/* The flight recorder's watches: argv is add OPTION..., ls, rm ID. */
	{ "watch", "watch", PH_OPF_SESSION, ops_none, CLIENT_ANY, AGENT_ANY },
	/*
	 * Detach and attach (docs/protocol.md): the caller's sessions on an
	 * agent, and a detached shell taken up again.  Both need shell's scope.
	 */
	{ "sessions", "shell", PH_OPF_SESSION, ops_none, CLIENT_ANY | C(EOF), AGENT_ANY },
	{ "attach", "shell", PH_OPF_SESSION | PH_OPF_RECORDED, ops_attach,
	  CLIENT_ANY | C(RESIZE) | C(EOF) | C(DETACH), AGENT_ANY | C(DETACH) },
	/* The relay's artifact store: listing and reading need dump's scope. */
	{ "artifacts.rm", "artifacts.rm", 0, ops_none, 0, 0 },
	/* POST /v1/revoked (porthole token revoke): an admin's, never a default. */
	{ "revoke", "revoke", PH_OPF_ADMIN, ops_none, 0, 0 },
};

#define OPS_N	(sizeof ops / sizeof ops[0])

const struct ph_op *
ph_ops_all(size_t *n)
{
	*n = OPS_N;
	return ops;
}

const struct ph_op *
ph_ops_find(const char *name)
{
	size_t	i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < OPS_N; i++) {
		if (strcmp(ops[i].name, name) == 0)
			return &ops[i];
	}
	return NULL;
}

const struct ph_op_member *
ph_ops_common(void)
{
	return ops_common;
}

static const struct ph_op_member *
ops_member_in(const struct ph_op_member *m, const char *name)
{
	for (; m != NULL && m->name != NULL; m++) {
		if (strcmp(m->name, name) == 0)
			return m;
	}
	return NULL;
}

const struct ph_op_member *
ph_ops_member(const struct ph_op *op, const char *name)
{
	const struct ph_op_member *m;

	if (name == NULL)
		return NULL;
	if ((m = ops_member_in(ops_common, name)) != NULL)
		return m;
	return op != NULL ? ops_member_in(op->members, name) : NULL;
}

const struct ph_op_member *
ph_ops_member_any(const char *name)
{
	const struct ph_op_member *m;
	size_t	i;

	if ((m = ph_ops_member(NULL, name)) != NULL)
		return m;
	for (i = 0; i < OPS_N; i++) {
		if ((m = ops_member_in(ops[i].members, name)) != NULL)
			return m;
	}
	return NULL;
}

int
ph_ops_unsigned(const char *name)
{
	const struct ph_op_member *m = ops_member_in(ops_common, name);

	return m != NULL && (m->flags & PH_OPM_UNSIGNED) != 0;
}

int
ph_ops_scope_known(const char *s, size_t len)
{
	size_t	i;

	for (i = 0; i < OPS_N; i++) {
		if (strlen(ops[i].scope) == len && strncmp(ops[i].scope, s, len) == 0)
			return 1;
	}
	return 0;
}

/* Does an operation before ops[i] have its scope? */
static int
ops_scope_earlier(size_t i)
{
	size_t	j;

	for (j = 0; j < i; j++) {
		if (strcmp(ops[j].scope, ops[i].scope) == 0)
			return 1;
	}
	return 0;
}

char *
ph_ops_scope_list(int viewer)
{
	size_t	i, len = 1;
	char	*out;

	for (i = 0; i < OPS_N; i++)
		len += strlen(ops[i].scope) + 1;
	if ((out = calloc(1, len)) == NULL)
		return NULL;
	for (i = 0; i < OPS_N; i++) {
		if (viewer && (ops[i].flags & PH_OPF_VIEWER) == 0)
			continue;
		if (ops[i].flags & PH_OPF_ADMIN)
			continue;
		if (ops_scope_earlier(i))
			continue;	/* sessions, attach: shell's */
		if (*out != '\0')
			strcat(out, ",");
		strcat(out, ops[i].scope);
	}
	return out;
}

int
ph_ops_ctl_allowed(const struct ph_op *op, int from_agent, int ctl)
{
	uint32_t	set = 0;
	size_t		i;

	if (ctl <= PH_CTL_UNKNOWN || ctl >= PH_CTL_COUNT)
		return 0;
	if (op != NULL)
		set = from_agent ? op->agent_ctl : op->client_ctl;
	else {
		for (i = 0; i < OPS_N; i++)
			set |= from_agent ? ops[i].agent_ctl : ops[i].client_ctl;
	}
	return (set & PH_CTL_BIT(ctl)) != 0;
}

int
ph_open_readable(const char *opname, const char *name)
{
	const struct ph_op		*op = ph_ops_find(opname);
	const struct ph_op_member	*m;

	if (op == NULL || (op->flags & PH_OPF_SESSION) == 0)
		m = ph_ops_member(NULL, name);	/* only the common ones */
	else
		m = ph_ops_member(op, name);
	return m != NULL && (m->flags & PH_OPM_UNSIGNED) == 0;
}

json_t *
ph_open_get_r(const json_t *open, const char *name, int *refused)
{
	const char	*op = json_string_value(json_object_get(open, "op"));

	if (!ph_open_readable(op, name)) {
		if (refused != NULL)
			*refused = 1;
		return NULL;
	}
	return json_object_get(open, name);
}

json_t *
ph_open_get(const json_t *open, const char *name)
{
	return ph_open_get_r(open, name, NULL);
}

json_t *
ph_open_relayed(const json_t *open, const char *name)
{
	const struct ph_op_member *m = ops_member_in(ops_common, name);

	if (m == NULL || (m->flags & PH_OPM_RELAYED) == 0)
		return NULL;
	return json_object_get(open, name);
}
