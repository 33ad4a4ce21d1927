/*
 * agent-secret.c - keeping the agent's secrets out of reach of the programs
 * beside it: its own token, and what every `open` carries (the client's
 * token and the one-time secret of the session's attach).
 *
 * Any program of the same user may read another's memory (/proc/PID/mem,
 * ptrace) when the target is "dumpable": without Yama the same uid is
 * enough, and in launcher mode APP is the agent's parent, which even Yama's
 * ptrace_scope 1 lets in.  So the agent is not dumpable (PR_SET_DUMPABLE 0)
 * before it reads a single setting: agent_secret_nodump() runs first thing
 * in main, and in launcher mode already in the launcher before the fork
 * (agent-launch.c), so the agent child is born that way.  The kernel then
 * lets only a process with CAP_SYS_PTRACE (over the agent's user
 * namespace) read its memory, its environ or its fds, or attach to it; its
 * /proc/PID files belong to root; it leaves no core file.  Every program
 * the agent starts gets a fresh, dumpable mm at exec, as does APP (unless
 * its binary is setuid or unreadable, as without porthole): the ps, mem and
 * dump helpers are such programs, and hold no secret.  The agent tracing
 * APP (dump) is unaffected: only the tracee's dumpability counts.  Being
 * traced is what the agent gives up: a debugger, or a future helper that
 * the agent would name with PR_SET_PTRACER, needs CAP_SYS_PTRACE to attach
 * to it.  What it costs is in docs/deployment.md ("What the application
 * can reach").
 *
 * Copies are wiped once used, where they are ours: the setting's string
 * the token was read from (agent.c), the token file's spare bytes
 * (ph_secret_value), the Authorization header's buffer (agent-control.c), the
 * secret and the client token in the `open` (agent-session.c drops them
 * from it at once), the raw text of every control message in and out
 * (agent-chan.c), and every allocation jansson frees (agent_secret_json_init:
 * the `open` was parsed into jansson strings, its lexer's buffers included).
 * What cannot be wiped from here: the token itself, which the agent keeps
 * for its whole life (every channel is dialed with it); libwebsockets' copy
 * of the upgrade request and OpenSSL's record buffers, which those
 * libraries reuse but never wipe; the kernel's socket buffers.  Not being
 * dumpable is what keeps those from other processes.
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include <jansson.h>

#include "porthole/util.h"

#include "agent.h"

/* Not dumpable from now on; -1 and *cause if the kernel did not take it. */
int
agent_secret_nodump(char **cause)
{
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 ||
	    prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0) {
		*cause = ph_asprintf("cannot make the agent non-dumpable "
		    "(prctl PR_SET_DUMPABLE): programs of its user could read "
		    "its token");
		return -1;
	}
	return 0;
}

/* jansson's free: zeros over the whole block first (it is ours to write). */
static void
agent_secret_json_free(void *p)
{
	if (p == NULL)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

/*
 * Every block jansson frees is wiped.  Its malloc stays malloc, so what it
 * returns (json_dumps) may still be freed with free().
 */
void
agent_secret_json_init(void)
{
	json_set_alloc_funcs(malloc, agent_secret_json_free);
}

/* Wipe a NUL-terminated secret of ours and free it; NULL is fine. */
void
agent_secret_free(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}
