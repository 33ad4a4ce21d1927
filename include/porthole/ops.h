/*
 * ops.h - the operation registry: the one list of what porthole can do on
 * an agent.  Per operation its name, the token scope that allows it,
 * whether a viewer token carries that scope, whether the relay records its
 * sessions, the members its `open` may carry (type, bounds, required) and
 * the CONTROL messages each side may send during its session.
 *
 * Everything that names an operation reads this table: the open schema
 * (frame.c), the open signature's unsigned members (opensig.c), token
 * scopes (`token issue --scope`, the dev relay's tokens), the relay's
 * direction allowlists, metrics and recording, and the agent's op table
 * (checked against it at start).  tests/test_ops.c walks it and fails on
 * any table that names an operation it lacks.  Adding an operation is
 * agent/op-<verb>.c, client/cmd-<verb>.c and one entry in src/ops.c
 * (docs/architecture.md, "Adding an operation").
 *
 * The agent reads an open only through ph_open_get() (signed members its
 * operation lists) and ph_open_relayed() (what the relay added): a member
 * that is neither is never seen, so nothing unsigned can steer it.
 */
#ifndef PORTHOLE_OPS_H
#define PORTHOLE_OPS_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "porthole/protocol.h"

/* The JSON type of a member (and of the members of other control messages). */
enum ph_mtype {
	PH_MT_STR,		/* string of min..max bytes, no NUL */
	PH_MT_INT,		/* integer in min..max */
	PH_MT_BOOL,
	PH_MT_OBJ,
	PH_MT_STRARR,		/* array of at most max strings */
	PH_MT_STR_OR_NULL,	/* string as PH_MT_STR, or null */
};

#define PH_OPM_REQUIRED	0x1	/* must be present */
#define PH_OPM_UNSIGNED	0x2	/* not covered by the open's signature */
#define PH_OPM_RELAYED	0x4	/* added by the relay (implies UNSIGNED) */

struct ph_op_member {
	const char	*name;
	enum ph_mtype	 type;
	int		 flags;		/* PH_OPM_* */
	long long	 min, max;	/* int range, string length, array size */
};

#define PH_OPF_VIEWER	0x1	/* a viewer token (--viewer) carries its scope */
#define PH_OPF_RECORDED	0x2	/* the relay records its sessions (--record-dir) */
#define PH_OPF_SESSION	0x4	/* opened by an `open` (not so: ls, an HTTP GET) */
#define PH_OPF_STREAMS	0x8	/* its session carries STREAM frames both ways (stream.h) */
#define PH_OPF_ADMIN	0x10	/* an admin scope: in a token only when named */

struct ph_op {
	const char			*name;
	const char			*scope;		/* the token scope that allows it */
	int				 flags;		/* PH_OPF_* */
	const struct ph_op_member	*members;	/* its own, beside the common ones */
	uint32_t			 client_ctl;	/* 1u << PH_CTL_*: client may send */
	uint32_t			 agent_ctl;	/* 1u << PH_CTL_*: agent may send */
};

#define PH_CTL_BIT(c)	(1u << (c))

/*
 * Features an agent announces in hello.caps beside the names of the
 * operations it serves, as "OP.FEATURE"; the relay lists them as `caps` in
 * /v1/agents, and the CLI uses a feature only with an agent that lists it
 * (an older agent would take the request in its older meaning).
 */
#define PH_CAP_CP_CWD		"cp.cwd"	/* a relative cp PATH: from the shell's start directory */
#define PH_CAP_CP_UNSIZED	"cp.unsized"	/* a cp file of unknown size (stdin), put NAME "" */
/* The agent takes `revoked` on its control channel (docs/protocol.md, "revoked"). */
#define PH_CAP_REVOKED		"control.revoked"

/* The registry, in order; n is set to its length. */
const struct ph_op		*ph_ops_all(size_t *n);
/* The operation called name, or NULL. */
const struct ph_op		*ph_ops_find(const char *name);
/* The members every open carries, whatever its operation (NULL-terminated). */
const struct ph_op_member	*ph_ops_common(void);
/*
 * The member called name of an open of op: a common one or op's own; NULL
 * when op (NULL: no operation) does not list it.
 */
const struct ph_op_member	*ph_ops_member(const struct ph_op *op, const char *name);
/* A member any operation lists (common ones included), or NULL. */
const struct ph_op_member	*ph_ops_member_any(const char *name);
/* Is name a member the signature does not cover (sig, relay-added)? */
int				 ph_ops_unsigned(const char *name);
/* Is the scope s (len bytes) one a token may name? */
int				 ph_ops_scope_known(const char *s, size_t len);
/*
 * The scopes of every operation (viewer: only those of viewer operations)
 * as a comma list, "ls,shell,..."; malloc'd, NULL on allocation failure.
 * Admin scopes (PH_OPF_ADMIN: revoke) are not in it: a token carries one
 * only when its issuer names it (token issue --scope).
 */
char				*ph_ops_scope_list(int viewer);
/*
 * May the client (from_agent 0) or the agent send a CONTROL of type ctl
 * during a session of op?  For op NULL (an operation the registry lacks,
 * which the agent refuses) the union over every operation.
 */
int				 ph_ops_ctl_allowed(const struct ph_op *op, int from_agent,
				    int ctl);

/*
 * The agent's reads of an open.  ph_open_get: the member name when it is
 * signed and the open's op lists it, else NULL (absent, or refused: then
 * *refused, when not NULL, is set to 1).  ph_open_relayed: the same for the
 * members the relay adds (secret, sub, token) and only those.
 */
json_t				*ph_open_get(const json_t *open, const char *name);
json_t				*ph_open_get_r(const json_t *open, const char *name,
				    int *refused);
json_t				*ph_open_relayed(const json_t *open, const char *name);
/* Does the open of op (by name) let the agent read member name? */
int				 ph_open_readable(const char *op, const char *name);

#endif
