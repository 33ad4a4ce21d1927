/*
 * client-io.h - the CLI's local stdin, stdout and stderr, kept off the
 * event loop.
 *
 * The terminal and pipes the CLI shares with its parent shell stay in
 * blocking mode (setting O_NONBLOCK on them would leak into the shell and
 * the other members of a pipeline).  So one thread reads stdin and one
 * thread writes stdout and stderr, each through a mutex-protected bounded
 * queue; they wake the loop with client_conn_wake, and the loop asks
 * client_io_status what changed.
 *
 * Output: the loop pushes whole STDOUT/STDERR payloads; when the queue
 * passes its high mark the loop stops reading the relay, and the writer
 * wakes it once the queue drops below the low mark.  Stdin: the reader
 * blocks while its queue is full; the loop takes chunks when the relay
 * side has room.
 */
#ifndef PORTHOLE_CLIENT_IO_H
#define PORTHOLE_CLIENT_IO_H

#include <stddef.h>
#include <stdint.h>

struct client_conn;
struct client_io;

/*
 * Call first thing in main: a closed fd 0, 1 or 2 would be reused by the
 * next open() (a socket, /dev/urandom), and the CLI would stream that as
 * stdin or write program output into it.  Each closed one gets /dev/null;
 * stdin then simply ends, and writes to a closed stdout or stderr fail
 * with EBADF as they would have.
 */
void	client_io_guard_std(void);
/* Was fd (0, 1 or 2) closed when the CLI started? */
int	client_io_std_closed(int fd);

struct client_io_status {
	int	out_full;	/* output above its high mark */
	int	out_low;	/* output at or below its low mark */
	int	out_errno;	/* writing failed (EPIPE: reader gone); 0 */
	int	out_fd;		/* ... on this fd */
	int	in_ready;	/* a stdin chunk is waiting */
	int	in_eof;		/* stdin ended and every chunk was taken */
};

/*
 * Start the writer thread, and the stdin reader when read_stdin is set
 * (otherwise stdin counts as ended).  NULL with *cause.
 */
struct client_io *client_io_new(struct client_conn *cc, int read_stdin,
	    char **cause);
/*
 * Stop waking the loop (call before the conn goes away).  The threads
 * may live on until the process exits (a read on a terminal cannot be
 * taken back), so the io is never freed.
 */
void	client_io_detach(struct client_io *io);

/* Loop side.  Queue bytes for fd 1 or 2; -1 past the hard limit. */
int	client_io_write(struct client_io *io, int fd, const void *p, size_t n);
void	client_io_status(struct client_io *io, struct client_io_status *st);
/*
 * The oldest stdin chunk: 1 with *p and *n set (valid until client_io_pop),
 * 0 if none is waiting.
 */
int	client_io_peek(struct client_io *io, const uint8_t **p, size_t *n);
void	client_io_pop(struct client_io *io);

/*
 * Outside the loop: wait until every queued output byte is written or
 * writing failed.  Returns 0 or the errno of the failed write (*fd says
 * where).
 */
int	client_io_flush(struct client_io *io, int *fd);

#endif
