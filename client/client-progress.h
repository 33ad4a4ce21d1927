/*
 * client-progress.h - the progress line of the commands that move a file
 * (`cp`, `dump`): on stderr, through the writer thread, at most every
 * CLIENT_PROGRESS_MS, and only when stderr is a terminal (the caller says
 * so: isatty(2) and no --quiet).  With a known total: bytes, rate, percent
 * and ETA; without: bytes and rate.  The one-line summary at the end is
 * the command's own, printed whether or not stderr is a terminal.
 */
#ifndef PORTHOLE_CLIENT_PROGRESS_H
#define PORTHOLE_CLIENT_PROGRESS_H

#include <stdint.h>

#define CLIENT_PROGRESS_MS	250

struct client_io;

struct client_progress {
	struct client_io	*io;
	int			 on;		/* stderr is a terminal, not --quiet */
	int			 shown;		/* a line is on the terminal */
	int64_t			 t0, last;	/* ph_mono_ms() */
};

/* Start counting now; on: draw at all. */
void	client_progress_init(struct client_progress *p, struct client_io *io, int on);
/* done bytes of total (-1 or 0: unknown); drawn when CLIENT_PROGRESS_MS passed. */
void	client_progress_update(struct client_progress *p, uint64_t done, int64_t total);
/* Wipe the line before the last words. */
void	client_progress_clear(struct client_progress *p);
/* "12.3 MiB/s" for done bytes since init, into buf. */
const char *client_progress_rate(const struct client_progress *p, uint64_t done, char *buf,
	    size_t len);

#endif
