/*
 * log.c - diagnostic log lines on stderr, "PROG: LEVEL: function: message",
 * with the level taken from PORTHOLE_LOG.  libwebsockets' own warnings and
 * errors are routed here so every line has one shape.
 *
 * Messages quote what peers chose (agent names and ids, versions, error
 * messages): the whole formatted message is escaped (ph_printable: \n,
 * \x1b, \u009b, ...), so one event is always one line, and a log read on a
 * terminal carries no escape sequence.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "porthole/log.h"
#include "porthole/printable.h"

#define LOG_MSG_MAX	1024	/* a message, formatted, before escaping */
/* Escaped, at worst 4 bytes for each (\xHH), and "..." when cut. */
#define LOG_LINE_MAX	(LOG_MSG_MAX * 4 + 4)

static const char *log_prog = "porthole";
static enum ph_log_level log_level = PH_LOG_WARN;
static const char *log_names[] = { "error", "warn", "info", "debug" };
static const char *log_lws_quiet;	/* lws lines with this go at debug */

void
ph_log_init(const char *prog, enum ph_log_level deflt)
{
	const char *env = getenv("PORTHOLE_LOG");
	size_t i;

	log_prog = prog;
	log_level = deflt;
	if (env == NULL)
		return;
	for (i = 0; i < sizeof log_names / sizeof log_names[0]; i++) {
		if (strcmp(env, log_names[i]) == 0)
			log_level = (enum ph_log_level)i;
	}
}

void
ph_log_set_level(enum ph_log_level level)
{
	log_level = level;
}

int
ph_log_enabled(enum ph_log_level level)
{
	return level <= log_level;
}

void
ph_logf(enum ph_log_level level, const char *func, const char *fmt, ...)
{
	char msg[LOG_MSG_MAX], line[LOG_LINE_MAX];
	va_list ap;
	int n;

	if (!ph_log_enabled(level))
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	ph_printable_buf(line, sizeof line - 3, msg, strlen(msg));
	if ((size_t)n >= sizeof msg)
		strcat(line, "...");	/* cut: say so */
	/* One write per line so lines of concurrent processes do not interleave. */
	fprintf(stderr, "%s: %s: %s: %s\n", log_prog, log_names[level], func, line);
}

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
	if (log_level >= PH_LOG_INFO)
		levels = LLL_ERR | LLL_WARN;
	if (log_level >= PH_LOG_DEBUG)
		levels |= LLL_NOTICE;
	lws_set_log_level(levels, log_lws_emit);
}
