/*
 * agent-files.c - wait for the files the agent needs before it connects:
 * the token file (PORTHOLE_TOKEN=@FILE), PORTHOLE_CA, PORTHOLE_PUBKEY's key
 * files and PORTHOLE_REVOKED.  (An image with no CA bundle at all and no
 * PORTHOLE_CA is a bad setting, exit 2: agent.c.)
 *
 * A file may appear after the agent starts (a volume mounted late, a
 * secret written by an init container or a sidecar, a key file being
 * rotated), and nothing restarts a launcher-mode agent that gave up: so a
 * file that cannot be read, or does not hold what it must, is waited for,
 * never a reason to exit.  The wait says what is missing once (agent_problem
 * rate-limits repeats) and retries with a backoff doubling from 0.5 s to
 * 30 s.  It runs before the event loop exists and before the signals are
 * blocked, so SIGTERM ends a waiting agent at once, as it should.
 *
 * The token is the exception, once read: a token file that holds a token
 * no relay will take (agent-token.c) is the agent's own immutable input,
 * and the agent exits AGENT_EXIT_TOKEN.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "porthole/log.h"
#include "porthole/util.h"

#include "agent.h"

#define AGENT_FILES_WAIT_MIN_MS	500
#define AGENT_FILES_WAIT_MAX_MS	30000

/*
 * One look at every file: 0 when all are there (and a->verify is set up),
 * -1 with *cause naming the first one that is not.  Exits
 * AGENT_EXIT_TOKEN if the token file holds a token no relay will take.
 */
static int
agent_files_look(struct agent *a, char **cause)
{
	struct agent_config	*c = &a->cfg;
	char			*why = NULL;

	if (c->token == NULL) {
		if ((c->token = ph_secret_value(c->token_file, &why)) == NULL) {
			*cause = ph_asprintf("PORTHOLE_TOKEN's file: %s", why);
			free(why);
			return -1;
		}
		if (agent_token_check(c->token, &why) != 0) {
			fprintf(stderr, "porthole-agent: %s: %s\n", c->token_file + 1, why);
			exit(AGENT_EXIT_TOKEN);
		}
	}
	if (c->ca != NULL && access(c->ca, R_OK) != 0) {
		*cause = ph_asprintf("the CA file %s (PORTHOLE_CA): %s", c->ca,
		    strerror(errno));
		return -1;
	}
	if (a->verify == NULL && agent_verify_init(a, cause) != 0)
		return -1;
	return 0;
}

/* Return once every file is there; log what is missing (rate-limited). */
void
agent_files_wait(struct agent *a)
{
	struct timespec	 ts;
	char		*cause = NULL;
	long		 ms = AGENT_FILES_WAIT_MIN_MS;
	int		 waited = 0;

	while (agent_files_look(a, &cause) != 0) {
		agent_problem(a, "waiting for %s", cause);
		free(cause);
		cause = NULL;
		waited = 1;
		ts.tv_sec = ms / 1000;
		ts.tv_nsec = (ms % 1000) * 1000000L;
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		if ((ms *= 2) > AGENT_FILES_WAIT_MAX_MS)
			ms = AGENT_FILES_WAIT_MAX_MS;
	}
	if (waited) {
		ph_info("every file the agent needs is there now: connecting");
		agent_problem_clear(a);
	}
}
