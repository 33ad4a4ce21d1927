/*
 * watch.h - a watch of the flight recorder: a trigger on a process's
 * memory and the capture it fires, as an operator writes it.  One parser
 * for the agent's PORTHOLE_WATCH and the CLI's `porthole watch add`, so
 * the two accept exactly the same words (docs/operations.md, "Watches"):
 *
 *   --rss-above SIZE      the process's resident memory above SIZE
 *   --rss-above PCT%      the cgroup's working set (usage less inactive
 *                         file cache) above PCT of the cgroup's limit
 *   --growth-above RATE   the process's resident memory grew faster than
 *                         RATE (SIZE/s, SIZE/min or SIZE/h) over --window
 *   --window DURATION     for --growth-above (default 1m)
 *   --pid PID|app|largest the process (default: app in launcher mode,
 *                         else the largest by resident memory)
 *   --kind auto|core|jvm|node   the capture, as on `dump` (default auto)
 *   --cooldown DURATION   at least this long between two captures (10m)
 *   --max N               at most N captures by this watch (default 1)
 *
 * A watch needs --rss-above, --growth-above or both; with both it fires
 * when both hold.  PORTHOLE_WATCH may hold several watches separated by
 * ';'.  SIZE is bytes or a number with K, M, G, T (powers of 1000) or
 * KiB, MiB, GiB, TiB (powers of 1024).
 */
#ifndef PORTHOLE_WATCH_H
#define PORTHOLE_WATCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#define PH_WATCH_MAX		16	/* watches one agent holds */
#define PH_WATCH_TEXT_MAX	1024	/* one watch as text */

enum ph_watch_proc {
	PH_WATCH_DEFAULT = 0,	/* app in launcher mode, else largest */
	PH_WATCH_PID,
	PH_WATCH_APP,
	PH_WATCH_LARGEST,
};

struct ph_watch_spec {
	uint64_t	rss_bytes;	/* --rss-above SIZE; 0: not given */
	double		rss_pct;	/* --rss-above PCT%; 0: not given */
	uint64_t	growth_bytes;	/* --growth-above: bytes ... */
	int64_t		growth_per_ms;	/* ... per this many ms; 0: not given */
	int64_t		window_ms;	/* --window */
	enum ph_watch_proc which;
	pid_t		pid;		/* PH_WATCH_PID */
	char		kind[8];	/* auto, core, jvm, node */
	int64_t		cooldown_ms;
	int		max;
};

/* SIZE as bytes; -1 with *cause (malloc'd). */
int	ph_size_parse(const char *s, uint64_t *bytes, char **cause);
/* bytes as "12.5MiB" into buf; returns buf. */
const char *ph_size_fmt(uint64_t bytes, char *buf, size_t len);

/* The defaults (kind auto, cooldown 10m, max 1, window 1m). */
void	ph_watch_init(struct ph_watch_spec *w);
/*
 * The options of one watch, argv[0..argc) (no program name).  0, or -1
 * with *cause (malloc'd, naming the option).
 */
int	ph_watch_parse_argv(int argc, char **argv, struct ph_watch_spec *w,
	    char **cause);
/*
 * PORTHOLE_WATCH: watches separated by ';', words by blanks.  Fills up to
 * max specs, *n how many; -1 with *cause (which watch, what is wrong).
 */
int	ph_watch_parse_list(const char *s, struct ph_watch_spec *w, size_t max,
	    size_t *n, char **cause);
/* The watch as the options that make it (malloc'd), e.g. for `watch ls`. */
char	*ph_watch_text(const struct ph_watch_spec *w);
/* The watch as a JSON object (new reference), the members `watch ls` shows. */
json_t	*ph_watch_json(const struct ph_watch_spec *w);

#endif
