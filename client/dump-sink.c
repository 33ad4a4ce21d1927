/*
 * dump-sink.c - the writer thread of `porthole dump`: SHA-256 and the
 * sparse write of the decompressed file, off the event loop (see
 * dump-sink.h for the contract).
 *
 * A ring of SINK_NBUF buffers under one mutex: the loop fills the slot at
 * the tail while the thread hashes and writes the one at the head outside
 * the lock; only the counts move under it.  Writes are pwrite at the
 * thread's own offset, so a hole costs no system call at all (the caller's
 * ftruncate at the end makes trailing holes count).
 *
 * Writeback: the kernel would start writing our dirty pages only when its
 * own thresholds say so, and the caller's fsync would then wait for most
 * of the file at the end -- about as long again as the transfer, with
 * gcore's file on the same disk taking 2 s per GiB.  So every SINK_WINDOW
 * completed is handed to the disk at once (SYNC_FILE_RANGE_WRITE) and the
 * window before the previous one waited for: the disk works while the
 * stream still flows.  That is a third thread's work (the flusher): the
 * writeback of a window allocates its blocks, which may read the
 * filesystem's bitmaps from the disk, and the writer should be hashing
 * meanwhile.  The writer runs at most SINK_LAG ahead of the flusher, so a
 * disk slower than the stream slows the writer, the ring fills and the
 * loop stops reading.  sync_file_range is only a hint here (errors are
 * the fsync's to report; on a filesystem without it nothing changes).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "porthole/util.h"

#include "dump-sink.h"

#define SINK_NBUF	4			/* buffers in the ring */
#define SINK_HOLE	4096			/* zero blocks of this size: holes */
#define SINK_WRITE_MAX	(128 * 1024)		/* one pwrite */
#define SINK_WINDOW	(8 * 1024 * 1024)	/* writeback unit */
#define SINK_LAG	(4 * SINK_WINDOW)	/* writer ahead of the flusher */

struct dump_sink {
	pthread_mutex_t	 lock;
	pthread_cond_t	 work;		/* thread: a slot queued, or stop */
	pthread_cond_t	 room;		/* loop: a slot free, or failed */
	pthread_t	 thread;
	int		 running;	/* thread started, not joined */
	pthread_cond_t	 fwork;		/* flusher: a window due, or stop */
	pthread_cond_t	 fdone;		/* writer: the flusher moved on */
	pthread_t	 flusher;
	int		 frunning;
	int		 fstop;
	uint64_t	 due;		/* the writer's offset, for the flusher */
	uint64_t	 kicked;	/* writeback started below this */

	uint8_t		*buf[SINK_NBUF];
	size_t		 len[SINK_NBUF];
	unsigned	 head;		/* next slot for the thread */
	unsigned	 queued;	/* slots between head and the loop's */
	int		 closing;	/* finish: drain, then stop */
	int		 stop;		/* free: stop now */
	int		 err;		/* the thread failed: errno (EIO: hash) */
	int		 hash_failed;

	/* The thread's own. */
	int		 fd;
	EVP_MD_CTX	*md;
	uint64_t	 off;		/* bytes hashed and written (or skipped) */
};

/* Are the n bytes at p all zero? */
static int
sink_zero(const uint8_t *p, size_t n)
{
	return p[0] == 0 && memcmp(p, p + 1, n - 1) == 0;
}

/*
 * How much of p (at file offset off) to write at once: up to the first
 * aligned block of zeros, and SINK_WRITE_MAX at most -- on Linux 6.18's
 * ext4, copying a 1 MiB pwrite into the page cache cost six times as
 * much CPU per byte as 128 KiB ones (perf: copy_folio_from_iter_atomic,
 * 1.2 s instead of 0.2 s per GiB).
 */
static size_t
sink_run(uint64_t off, const uint8_t *p, size_t n)
{
	size_t	k;

	if (n > SINK_WRITE_MAX)
		n = SINK_WRITE_MAX;
	k = SINK_HOLE - off % SINK_HOLE;	/* up to the next boundary */
	if (k >= n)
		return n;
	while (k + SINK_HOLE <= n && !sink_zero(p + k, SINK_HOLE))
		k += SINK_HOLE;
	return k + SINK_HOLE <= n ? k : n;
}

/* The writer: tell the flusher how far the file is written; wait while
 * it is SINK_LAG behind. */
static void
sink_writeback(struct dump_sink *s)
{
	pthread_mutex_lock(&s->lock);
	s->due = s->off;
	if (s->due - s->kicked >= SINK_WINDOW)
		pthread_cond_signal(&s->fwork);
	while (s->due - s->kicked > SINK_LAG && !s->stop && !s->fstop)
		pthread_cond_wait(&s->fdone, &s->lock);
	pthread_mutex_unlock(&s->lock);
}

/* The flusher: start the disk on every whole window written, wait for the
 * one before the previous. */
static void *
sink_flusher(void *arg)
{
	struct dump_sink	*s = arg;
	uint64_t		 k;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (s->due - s->kicked < SINK_WINDOW && !s->fstop)
			pthread_cond_wait(&s->fwork, &s->lock);
		if (s->fstop)
			break;
		k = s->kicked;
		pthread_mutex_unlock(&s->lock);
		(void)sync_file_range(s->fd, (off_t)k, SINK_WINDOW,
		    SYNC_FILE_RANGE_WRITE);
		if (k >= 2 * SINK_WINDOW)
			(void)sync_file_range(s->fd, (off_t)(k - 2 * SINK_WINDOW),
			    SINK_WINDOW, SYNC_FILE_RANGE_WAIT_BEFORE |
			    SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
		pthread_mutex_lock(&s->lock);
		s->kicked = k + SINK_WINDOW;
		pthread_cond_signal(&s->fdone);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* Stop the flusher (what is left is the fsync's). */
static void
sink_flusher_stop(struct dump_sink *s)
{
	if (!s->frunning)
		return;
	pthread_mutex_lock(&s->lock);
	s->fstop = 1;
	pthread_cond_signal(&s->fwork);
	pthread_cond_broadcast(&s->fdone);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->flusher, NULL);
	s->frunning = 0;
}

/* Hash and write n bytes at s->off; 0 or an errno. */
static int
sink_write(struct dump_sink *s, const uint8_t *p, size_t n)
{
	ssize_t	w;

	if (EVP_DigestUpdate(s->md, p, n) != 1) {
		s->hash_failed = 1;
		return EIO;
	}
	while (n > 0) {
		if (s->off % SINK_HOLE == 0 && n >= SINK_HOLE &&
		    sink_zero(p, SINK_HOLE)) {
			p += SINK_HOLE;
			n -= SINK_HOLE;
			s->off += SINK_HOLE;
			continue;
		}
		w = pwrite(s->fd, p, sink_run(s->off, p, n), (off_t)s->off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		p += w;
		n -= (size_t)w;
		s->off += (uint64_t)w;
	}
	sink_writeback(s);
	return 0;
}

static void *
sink_main(void *arg)
{
	struct dump_sink	*s = arg;
	unsigned		 i;
	int			 err;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (s->queued == 0 && !s->closing && !s->stop)
			pthread_cond_wait(&s->work, &s->lock);
		if (s->stop || s->queued == 0)
			break;
		i = s->head;
		pthread_mutex_unlock(&s->lock);
		err = sink_write(s, s->buf[i], s->len[i]);
		pthread_mutex_lock(&s->lock);
		s->head = (s->head + 1) % SINK_NBUF;
		s->queued--;
		if (err != 0) {
			s->err = err;
			break;
		}
		pthread_cond_signal(&s->room);
	}
	pthread_cond_signal(&s->room);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

struct dump_sink *
dump_sink_new(int fd, char **cause)
{
	struct dump_sink	*s;
	sigset_t		 all, old;
	unsigned		 i;
	int			 r;

	if ((s = calloc(1, sizeof *s)) == NULL)
		goto nomem;
	s->fd = fd;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->work, NULL);
	pthread_cond_init(&s->room, NULL);
	pthread_cond_init(&s->fwork, NULL);
	pthread_cond_init(&s->fdone, NULL);
	for (i = 0; i < SINK_NBUF; i++) {
		if ((s->buf[i] = malloc(DUMP_SINK_BUF)) == NULL)
			goto nomem;
	}
	if ((s->md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) != 1)
		goto nomem;
	/* Signals stay the loop's (signalfd). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if ((r = pthread_create(&s->flusher, NULL, sink_flusher, s)) == 0) {
		s->frunning = 1;
		if ((r = pthread_create(&s->thread, NULL, sink_main, s)) == 0)
			s->running = 1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		*cause = ph_asprintf("dump: cannot start the writer thread (%s)",
		    strerror(r));
		dump_sink_free(s);
		return NULL;
	}
	return s;
nomem:
	dump_sink_free(s);
	*cause = strdup("out of memory");
	return NULL;
}

uint8_t *
dump_sink_get(struct dump_sink *s)
{
	uint8_t	*p = NULL;

	pthread_mutex_lock(&s->lock);
	while (s->queued == SINK_NBUF && s->err == 0)
		pthread_cond_wait(&s->room, &s->lock);
	if (s->err == 0)
		p = s->buf[(s->head + s->queued) % SINK_NBUF];
	pthread_mutex_unlock(&s->lock);
	return p;
}

int
dump_sink_put(struct dump_sink *s, size_t n)
{
	unsigned	tail;
	int		r = 0;

	pthread_mutex_lock(&s->lock);
	if (s->err != 0)
		r = -1;
	else if (n > 0) {
		/* The caller's slot: dump_sink_get saw it free. */
		tail = (s->head + s->queued) % SINK_NBUF;
		s->len[tail] = n;
		s->queued++;
		pthread_cond_signal(&s->work);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

int
dump_sink_finish(struct dump_sink *s, uint8_t *md, uint64_t *bytes)
{
	unsigned int	mdlen = 0;

	if (s->running) {
		pthread_mutex_lock(&s->lock);
		s->closing = 1;
		pthread_cond_signal(&s->work);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thread, NULL);
		s->running = 0;
	}
	sink_flusher_stop(s);
	if (s->err != 0)
		return -1;
	if (EVP_DigestFinal_ex(s->md, md, &mdlen) != 1 || mdlen != 32) {
		s->hash_failed = 1;
		s->err = EIO;
		return -1;
	}
	*bytes = s->off;
	return 0;
}

int
dump_sink_errno(struct dump_sink *s)
{
	return s->err;
}

int
dump_sink_hash_failed(struct dump_sink *s)
{
	return s->hash_failed;
}

void
dump_sink_free(struct dump_sink *s)
{
	unsigned	i;

	if (s == NULL)
		return;
	if (s->running) {
		pthread_mutex_lock(&s->lock);
		s->stop = 1;
		pthread_cond_signal(&s->work);
		pthread_cond_broadcast(&s->fdone);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thread, NULL);
	}
	sink_flusher_stop(s);
	for (i = 0; i < SINK_NBUF; i++)
		free(s->buf[i]);
	EVP_MD_CTX_free(s->md);
	pthread_cond_destroy(&s->work);
	pthread_cond_destroy(&s->room);
	pthread_cond_destroy(&s->fwork);
	pthread_cond_destroy(&s->fdone);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
