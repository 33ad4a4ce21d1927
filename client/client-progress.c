/*
 * client-progress.c - the progress line `cp` and `dump` share (see
 * client-progress.h): human sizes from client-units.c, written through
 * the writer thread so a slow terminal never blocks the loop.
 */
#include <stdio.h>
#include <string.h>

#include "porthole/util.h"

#include "client-io.h"
#include "client-progress.h"
#include "client-units.h"

void
client_progress_init(struct client_progress *p, struct client_io *io, int on)
{
	memset(p, 0, sizeof *p);
	p->io = io;
	p->on = on;
	p->t0 = p->last = ph_mono_ms();
}

const char *
client_progress_rate(const struct client_progress *p, uint64_t done, char *buf, size_t len)
{
	int64_t	el = ph_mono_ms() - p->t0;
	char	size[CLIENT_UNITS_SIZE_MAX];

	client_units_size((double)done * 1000.0 / (double)(el > 0 ? el : 1), size, sizeof size);
	snprintf(buf, len, "%s/s", size);
	return buf;
}

void
client_progress_update(struct client_progress *p, uint64_t done, int64_t total)
{
	char	line[160], size[CLIENT_UNITS_SIZE_MAX], rate[CLIENT_UNITS_SIZE_MAX + 2];
	char	eta[48] = "";
	int64_t	now = ph_mono_ms(), el;
	double	r;
	int	n;

	if (!p->on || now - p->last < CLIENT_PROGRESS_MS)
		return;
	p->last = now;
	el = now - p->t0 > 0 ? now - p->t0 : 1;
	r = (double)done * 1000.0 / (double)el;
	client_units_size((double)done, size, sizeof size);
	client_progress_rate(p, done, rate, sizeof rate);
	if (total > 0 && r > 0 && (uint64_t)total > done) {
		int64_t	s = (int64_t)((double)((uint64_t)total - done) / r);

		snprintf(eta, sizeof eta, "  %3d%%  ETA %lld:%02lld",
		    (int)(done * 100 / (uint64_t)total), (long long)(s / 60),
		    (long long)(s % 60));
	}
	n = snprintf(line, sizeof line, "\r%s  %s%s\033[K", size, rate, eta);
	if (n > 0 && client_io_write(p->io, 2, line, (size_t)n < sizeof line ?
	    (size_t)n : sizeof line - 1) == 0)
		p->shown = 1;
}

void
client_progress_clear(struct client_progress *p)
{
	if (p->on && p->shown)
		client_io_write(p->io, 2, "\r\033[K", 4);
	p->shown = 0;
}
