/*
 * log.c - diagnostic log lines on stderr, "PROG: LEVEL: function: message",
 * with the level taken from PORTHOLE_LOG.  libwebsockets' own warnings and
 * errors are routed here (log-lws.c) so every line has one shape.
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

#include "porthole/log.h"
#include "porthole/printable.h"

#define LOG_MSG_MAX	1024	/* a message, formatted, before escaping */
/* Escaped, at worst 4 bytes for each (\xHH), and "..." when cut. */
#define LOG_LINE_MAX	(LOG_MSG_MAX * 4 + 4)

static const char *log_prog = "porthole";
static enum ph_log_level log_level = PH_LOG_WARN;
static const char *log_names[] = { "error", "warn", "info", "debug" };

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
