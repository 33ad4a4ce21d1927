/*
 * client-io.c - stdin reader and stdout/stderr writer threads of the CLI.
 *
 * See client-io.h for why these are threads.  Both queues are ph_queues
 * guarded by one mutex; the data of a queue's head item is read outside
 * the lock (only the loop pushes to the output queue's tail and only the
 * writer pops its head; the same holds the other way round for stdin).
 * An output item carries the fd as its first byte.  Every bound is both in
 * bytes and in items, so a peer sending one-byte frames cannot make the
 * item headers the unbounded part.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "porthole/buf.h"
#include "porthole/frame.h"
#include "porthole/protocol.h"
#include "porthole/util.h"

#include "client-conn.h"
#include "client-io.h"

#define IO_OUT_LOW		(128u << 10)
#define IO_OUT_HIGH		(512u << 10)
#define IO_OUT_LIMIT		(1u << 20)
#define IO_OUT_ITEMS_HIGH	4096
#define IO_OUT_ITEMS_LIMIT	8192

#define IO_IN_HIGH		(256u << 10)
#define IO_IN_LIMIT		(IO_IN_HIGH + PH_MAX_PAYLOAD + 1)
#define IO_IN_ITEMS_HIGH	1024
#define IO_IN_CHUNK		PH_MAX_PAYLOAD	/* one STDIN frame's payload */

struct client_io {
	pthread_mutex_t		 lock;
	pthread_cond_t		 out_cond;	/* writer: work or stop */
	pthread_cond_t		 drained_cond;	/* flush: queue empty or failed */
	pthread_cond_t		 in_cond;	/* reader: room in its queue */
	struct client_conn	*cc;		/* NULL once detached */

	struct ph_queue		 out;
	int			 out_was_high;	/* wake the loop below low */
	int			 out_errno;
	int			 out_fd;

	struct ph_queue		 in;
	int			 in_eof;	/* reader is done */
	uint8_t			*in_buf;	/* IO_IN_CHUNK */
};

/*
 * The io of the process.  Its threads may outlive the command (a read on a
 * terminal cannot be taken back), so it is never freed; this reference
 * keeps it reachable until exit.
 */
static struct client_io	*io_keep;

/* Bit fd set: fd 1 or 2 was closed when we started (see client_io_guard_std). */
static unsigned		 io_closed_std;

void
client_io_guard_std(void)
{
	int	 fd, nfd;

	for (fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		nfd = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
		if (nfd < 0)
			abort();	/* no /dev/null: nothing sane to do */
		if (nfd != fd) {
			/* Lower fds were free too and taken in order; cannot happen. */
			dup2(nfd, fd);
			close(nfd);
		}
		io_closed_std |= 1u << fd;
	}
}

int
client_io_std_closed(int fd)
{
	return fd >= 0 && fd <= 2 && (io_closed_std & (1u << fd)) != 0;
}

/* With io->lock held. */
static void
io_wake(struct client_io *io)
{
	if (io->cc != NULL)
		client_conn_wake(io->cc);
}

static int
io_out_over(const struct client_io *io)
{
	return ph_queue_over_high(&io->out) || io->out.count > IO_OUT_ITEMS_HIGH;
}

/* What the loop waits for to read again (client_io_status: out_low). */
static int
io_out_low(const struct client_io *io)
{
	return ph_queue_under_low(&io->out) && io->out.count <= IO_OUT_ITEMS_HIGH / 2;
}

static int
io_write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t	 w;

	if (io_closed_std & (1u << fd))
		return EBADF;	/* it was closed: say so, as a write would have */
	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				/* Someone made the fd non-blocking: wait. */
				struct pollfd pfd = { .fd = fd, .events = POLLOUT };

				poll(&pfd, 1, -1);
				continue;
			}
			return errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void *
io_writer(void *arg)
{
	struct client_io	*io = arg;
	struct ph_qitem		*it;
	int			 err, fd;

	pthread_mutex_lock(&io->lock);
	for (;;) {
		while ((it = ph_queue_peek(&io->out)) == NULL)
			pthread_cond_wait(&io->out_cond, &io->lock);
		pthread_mutex_unlock(&io->lock);

		fd = it->data[PH_HEADROOM];
		err = io_write_all(fd, it->data + PH_HEADROOM + 1, it->len - 1);

		pthread_mutex_lock(&io->lock);
		if (err != 0) {
			io->out_errno = err;
			io->out_fd = fd;
			while (ph_queue_peek(&io->out) != NULL)
				ph_queue_pop(&io->out);
			pthread_cond_broadcast(&io->drained_cond);
			io_wake(io);
			break;
		}
		ph_queue_pop(&io->out);
		if (io->out_was_high && io_out_low(io)) {
			io->out_was_high = 0;
			io_wake(io);
		}
		if (ph_queue_peek(&io->out) == NULL)
			pthread_cond_broadcast(&io->drained_cond);
	}
	pthread_mutex_unlock(&io->lock);
	return NULL;
}

static void *
io_reader(void *arg)
{
	struct client_io	*io = arg;
	ssize_t			 n;

	for (;;) {
		n = read(STDIN_FILENO, io->in_buf, IO_IN_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			/* Someone made stdin non-blocking: wait for it. */
			struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };

			poll(&pfd, 1, -1);
			continue;
		}
		/* EOF, and any error (EBADF: stdin closed; EIO: hangup), ends it. */
		pthread_mutex_lock(&io->lock);
		if (n <= 0) {
			io->in_eof = 1;
			io_wake(io);
			pthread_mutex_unlock(&io->lock);
			break;
		}
		while (ph_queue_over_high(&io->in) ||
		    io->in.count >= IO_IN_ITEMS_HIGH)
			pthread_cond_wait(&io->in_cond, &io->lock);
		if (ph_queue_push(&io->in, -1, io->in_buf, (size_t)n) != 0) {
			/* Out of memory: end stdin rather than lose bytes quietly. */
			io->in_eof = 1;
			io_wake(io);
			pthread_mutex_unlock(&io->lock);
			break;
		}
		io_wake(io);
		pthread_mutex_unlock(&io->lock);
	}
	return NULL;
}

struct client_io *
client_io_new(struct client_conn *cc, int read_stdin, char **cause)
{
	struct client_io	*io;
	pthread_attr_t		 attr;
	pthread_t		 t;

	if ((io = calloc(1, sizeof *io)) == NULL) {
		*cause = ph_asprintf("out of memory");
		return NULL;
	}
	pthread_mutex_init(&io->lock, NULL);
	pthread_cond_init(&io->out_cond, NULL);
	pthread_cond_init(&io->drained_cond, NULL);
	pthread_cond_init(&io->in_cond, NULL);
	io->cc = cc;
	ph_queue_init(&io->out, IO_OUT_LOW, IO_OUT_HIGH, IO_OUT_LIMIT);
	ph_queue_init(&io->in, IO_IN_HIGH / 4, IO_IN_HIGH, IO_IN_LIMIT);

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, io_writer, io) != 0) {
		*cause = ph_asprintf("cannot start the output thread (%s)",
		    strerror(errno));
		goto fail;
	}
	if (!read_stdin)
		io->in_eof = 1;
	else {
		if ((io->in_buf = malloc(IO_IN_CHUNK)) == NULL ||
		    pthread_create(&t, &attr, io_reader, io) != 0) {
			/* The writer runs already: keep io, report failure. */
			*cause = ph_asprintf("cannot start the stdin thread");
			pthread_attr_destroy(&attr);
			client_io_detach(io);
			io_keep = io;
			return NULL;
		}
	}
	pthread_attr_destroy(&attr);
	io_keep = io;
	return io;
fail:
	pthread_attr_destroy(&attr);
	ph_queue_free(&io->out);
	ph_queue_free(&io->in);
	free(io);
	return NULL;
}

void
client_io_detach(struct client_io *io)
{
	pthread_mutex_lock(&io->lock);
	io->cc = NULL;
	pthread_mutex_unlock(&io->lock);
}

int
client_io_write(struct client_io *io, int fd, const void *p, size_t n)
{
	int	 r = 0;

	pthread_mutex_lock(&io->lock);
	if (io->out_errno != 0)
		goto out;	/* output is dead: the loop acts on out_errno */
	if (io->out.count >= IO_OUT_ITEMS_LIMIT ||
	    ph_queue_push(&io->out, fd, p, n) != 0) {
		r = -1;
		goto out;
	}
	if (io_out_over(io))
		io->out_was_high = 1;
	pthread_cond_signal(&io->out_cond);
out:
	pthread_mutex_unlock(&io->lock);
	return r;
}

void
client_io_status(struct client_io *io, struct client_io_status *st)
{
	pthread_mutex_lock(&io->lock);
	st->out_full = io_out_over(io);
	st->out_low = io_out_low(io);
	/*
	 * Not low yet: the writer wakes the loop once it is.  Set here, under
	 * the lock the answer was read under, not only when a push crosses the
	 * high mark: frames pushed after the loop paused (the rest of one TLS
	 * read) could refill the queue above low but under high after the
	 * writer's wake-up, which the loop then found not low; with no wake-up
	 * to come the session stopped reading for good (seen in about one
	 * 1 GiB exec in fifteen, sealed or not).
	 */
	if (!st->out_low)
		io->out_was_high = 1;
	st->out_errno = io->out_errno;
	st->out_fd = io->out_fd;
	st->in_ready = ph_queue_peek(&io->in) != NULL;
	st->in_eof = io->in_eof && !st->in_ready;
	pthread_mutex_unlock(&io->lock);
}

int
client_io_peek(struct client_io *io, const uint8_t **p, size_t *n)
{
	struct ph_qitem	*it;

	pthread_mutex_lock(&io->lock);
	it = ph_queue_peek(&io->in);
	pthread_mutex_unlock(&io->lock);
	if (it == NULL)
		return 0;
	*p = it->data + PH_HEADROOM;
	*n = it->len;
	return 1;
}

void
client_io_pop(struct client_io *io)
{
	pthread_mutex_lock(&io->lock);
	if (ph_queue_peek(&io->in) != NULL)
		ph_queue_pop(&io->in);
	pthread_cond_signal(&io->in_cond);
	pthread_mutex_unlock(&io->lock);
}

int
client_io_flush(struct client_io *io, int *fd)
{
	int	 err;

	pthread_mutex_lock(&io->lock);
	while (io->out_errno == 0 && ph_queue_peek(&io->out) != NULL)
		pthread_cond_wait(&io->drained_cond, &io->lock);
	err = io->out_errno;
	if (fd != NULL)
		*fd = io->out_fd;
	pthread_mutex_unlock(&io->lock);
	return err;
}
