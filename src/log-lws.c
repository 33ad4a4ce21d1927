/*
 * log-lws.c - libwebsockets' own log lines through ph_logf (log.h), so the
 * relay's and the agent's every line has one shape.  Apart from log.c so
 * that a program without libwebsockets (the CLI) does not link it.
 */
#include <string.h>

#include <libwebsockets.h>

#include "porthole/log.h"

static const char *log_lws_quiet;	/* lws lines with this go at debug */

static void
log_lws_emit(int level, const char *line)
{
	char buf[512];
	size_t n;
	const char *p;

	/* lws lines start with a timestamp "[YYYY/MM/DD ...] X: "; drop it. */
	p = strstr(line, "] ");
	p = p != NULL ? p + 2 : line;
	n = strlen(p);
	if (n >= sizeof buf)
		n = sizeof buf - 1;
	memcpy(buf, p, n);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	if (log_lws_quiet != NULL && strstr(buf, log_lws_quiet) != NULL)
		ph_logf(PH_LOG_DEBUG, "lws", "%s", buf);
	else
		ph_logf(level == LLL_ERR ? PH_LOG_ERROR : PH_LOG_WARN, "lws", "%s", buf);
}

void
ph_log_lws_quiet(const char *quiet)
{
	log_lws_quiet = quiet;
}

void
ph_log_lws_init(void)
{
	int levels = 0;

	/*
	 * lws is chatty about conditions porthole reports better itself (a
	 * refused TLS handshake, a peer gone): show its lines only from info.
	 */
	if (ph_log_enabled(PH_LOG_INFO))
		levels = LLL_ERR | LLL_WARN;
	if (ph_log_enabled(PH_LOG_DEBUG))
		levels |= LLL_NOTICE;
	lws_set_log_level(levels, log_lws_emit);
}
