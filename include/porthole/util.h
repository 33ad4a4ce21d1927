/*
 * util.h - small helpers shared by the three programs: configuration values
 * (flag over environment, "@path" indirection), relay URLs and
 * label maps.  Functions that can fail return -1 (or NULL) and set *cause to
 * a malloc'd message the caller frees.
 */
#ifndef PORTHOLE_UTIL_H
#define PORTHOLE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "porthole/duration.h"

/*
 * Value of a setting: the flag if given, else the environment variable,
 * else NULL.  Returned string is the caller's (malloc'd).
 */
char	*ph_setting(const char *flag, const char *env);

/*
 * A secret such as PORTHOLE_TOKEN: "@path" means the contents of path with
 * surrounding whitespace removed (no byte of the file is left past the
 * string's end); anything else is the value itself.
 * Returns malloc'd string or NULL with *cause.
 */
char	*ph_secret_value(const char *value, char **cause);

/* Read a whole small file (at most max bytes) into a NUL-terminated buffer. */
char	*ph_read_file(const char *path, size_t max, size_t *len, char **cause);
/*
 * The same for a caller that acts on the errno (a /proc file of a process
 * that went away, one it may not read): NULL with *err set, EFBIG when the
 * file is larger than max, unless flags has PH_READ_TRUNCATE (then the
 * first max bytes are the answer).
 */
#define PH_READ_TRUNCATE	0x1
char	*ph_read_file_errno(const char *path, size_t max, int flags, size_t *len,
	    int *err);
/* Write a file atomically (tmp + rename) with the given mode. */
int	 ph_write_file(const char *path, const void *p, size_t n, int mode, char **cause);

/* wss://host[:port][/] -> host (malloc'd) and port (default 443). */
int	 ph_url_parse(const char *url, char **host, int *port, char **cause);

/* "ADDR:PORT" or "[v6]:PORT" -> addr (malloc'd) and port. */
int	 ph_hostport_parse(const char *s, char **addr, int *port, char **cause);

/* Durations (ph_duration_parse, ph_duration_fmt) have their own header. */

/*
 * Labels "k=v,k=v" -> JSON object of strings.  Keys: [A-Za-z0-9_.-/]
 * (1..63); values: printable without ',' and '=' (0..255).
 */
json_t	*ph_labels_parse(const char *s, char **cause);

/*
 * Remove every PORTHOLE_* variable from the environment, first wiping the
 * values of PORTHOLE_TOKEN and PORTHOLE_KEY in place (they would still show
 * in /proc/PID/environ).  Read settings (ph_setting copies) before this.
 */
void	 ph_env_scrub(void);

/*
 * Overwrite a secret given on the command line (--token VALUE) in place, so
 * it no longer shows in ps or /proc/PID/cmdline; "@path" is left alone.
 */
void	 ph_arg_wipe(char *arg);

/* The value of one hex digit (either case), or -1 for anything else. */
int	 ph_hexval(int c);

/* Printf into a malloc'd string; aborts on allocation failure. */
char	*ph_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Keep freed heap memory for reuse instead of handing it back to the kernel
 * at every free: glibc gives back a free top of the heap as soon as it
 * passes 128 KiB, and bulk sessions allocate and free 64 KiB messages by
 * the thousand (sealed records kept for resume, queued frames), so each
 * came back as fresh zeroed pages (1 GiB of `exec` sealed: 52,000 page
 * faults in the agent, 35,000 in the CLI; about 1,500 and 1,000 with this).
 * ph_heap_release() gives what is free back (the agent, after a session).
 * Both do nothing without glibc.
 */
void	 ph_heap_hold(void);
void	 ph_heap_release(void);

/* Current wall-clock time in seconds and monotonic milliseconds. */
int64_t	 ph_now(void);
int64_t	 ph_mono_ms(void);

#endif
