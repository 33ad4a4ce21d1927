/*
 * dump-sink.h - the disk end of `porthole dump`: hashes (SHA-256) and
 * writes the decompressed file on a thread of its own, so that the loop's
 * TLS and zstd work overlaps the hashing and the writing.
 *
 * The loop fills one buffer at a time (dump_sink_get) and hands it over
 * (dump_sink_put); a few buffers of DUMP_SINK_BUF bytes circulate, so
 * memory is bounded, and while every one is queued dump_sink_get blocks:
 * the loop stops reading the relay and TCP pushes back to the agent, as
 * a blocking write(2) on the loop did.  The writer turns aligned 4 KiB
 * blocks of zeros into holes, and a flusher thread starts the disk's
 * writeback of every window written (sync_file_range), waiting for the
 * one before the previous: the fsync at the end then has little left to
 * do, and dirty memory stays at a few windows however slow the disk.
 *
 * The fd stays the caller's (it fsyncs, links and renames it).  A failed
 * write or hash stops the writer; the loop learns it from the next get or
 * put (NULL or -1) and from dump_sink_errno.
 */
#ifndef PORTHOLE_DUMP_SINK_H
#define PORTHOLE_DUMP_SINK_H

#include <stddef.h>
#include <stdint.h>

#define DUMP_SINK_BUF	(1024 * 1024)	/* one buffer */

struct dump_sink;

/* A sink writing at fd's current offset (0); NULL with *cause. */
struct dump_sink	*dump_sink_new(int fd, char **cause);

/* An empty buffer of DUMP_SINK_BUF bytes to fill, the caller's until the
 * next dump_sink_put; blocks while none is free.  NULL once the sink
 * failed. */
uint8_t			*dump_sink_get(struct dump_sink *);

/* Queue the first n bytes of the buffer from dump_sink_get (n may be 0).
 * 0, or -1 once the sink failed. */
int			 dump_sink_put(struct dump_sink *, size_t n);

/* Wait until everything queued is hashed and written, stop the thread.
 * 0 with the SHA-256 of all bytes in md (32 bytes) and their count in
 * *bytes; -1 when the sink failed. */
int			 dump_sink_finish(struct dump_sink *, uint8_t *md,
			    uint64_t *bytes);

/* Why the sink failed: a write's errno, or EIO when hashing failed (see
 * dump_sink_hash_failed); 0 if it did not. */
int			 dump_sink_errno(struct dump_sink *);
int			 dump_sink_hash_failed(struct dump_sink *);

/* Stop the thread (dropping what is queued) and free; NULL is fine. */
void			 dump_sink_free(struct dump_sink *);

#endif
