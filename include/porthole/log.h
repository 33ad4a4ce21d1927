/*
 * log.h - diagnostic logging for all three programs, on stderr.
 *
 * Lines read "PROG: LEVEL: function: message".  PORTHOLE_LOG (error, warn,
 * info, debug) sets the level; the default is warn for the CLI and info for
 * the relay and the agent.  Never log a token: log its jti or sub.
 * (The relay's audit stream is separate and goes to stdout.)
 */
#ifndef PORTHOLE_LOG_H
#define PORTHOLE_LOG_H

enum ph_log_level { PH_LOG_ERROR, PH_LOG_WARN, PH_LOG_INFO, PH_LOG_DEBUG };

void	ph_log_init(const char *prog, enum ph_log_level deflt);
void	ph_log_set_level(enum ph_log_level level);
int	ph_log_enabled(enum ph_log_level level);
void	ph_logf(enum ph_log_level level, const char *func, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Route libwebsockets' own log lines through ph_logf (warn and error only). */
void	ph_log_lws_init(void);
/*
 * libwebsockets lines that contain quiet (a static string) go at debug: the
 * program says the same thing better itself (the agent's "SSL error" lines,
 * repeated on every retry, beside its own line with what to set).
 */
void	ph_log_lws_quiet(const char *quiet);

#define ph_err(...)	ph_logf(PH_LOG_ERROR, __func__, __VA_ARGS__)
#define ph_warn(...)	ph_logf(PH_LOG_WARN, __func__, __VA_ARGS__)
#define ph_info(...)	ph_logf(PH_LOG_INFO, __func__, __VA_ARGS__)
#define ph_debug(...)	do { if (ph_log_enabled(PH_LOG_DEBUG)) \
		ph_logf(PH_LOG_DEBUG, __func__, __VA_ARGS__); } while (0)

#endif
