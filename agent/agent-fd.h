/*
 * agent-fd.h - fds in the event loop whose bytes go to a session's data
 * channel under its flow control (agent-fd.c): what exec's pipes, and so
 * every helper operation (ps, mem, dump), read their child's output with.
 *
 * A struct agent_fd_set groups the output fds of one operation: they are
 * paused together while the session's queue is over its high mark, and
 * share one timer that sends partial frames held back to grow.  Each
 * struct agent_fd reads one fd (adopted as a raw file by the operation,
 * whose callback calls agent_fd_rx on RAW_RX_FILE and agent_fd_closed on
 * RAW_CLOSE_FILE) into frames of its type, or hands the bytes to a sink
 * the operation gives (the dump's event lines, op-dump.c).
 *
 * The other direction, a session's STDIN to a child's fd, is the bounded
 * queue of op-child.c (struct op_child).
 */
#ifndef PORTHOLE_AGENT_FD_H
#define PORTHOLE_AGENT_FD_H

#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

struct agent_session;
struct agent_fd_set;

/*
 * Where an fd's bytes go instead of frames: p, n as they were read (held
 * frames included); p NULL and n 0 once, when the fd closed.
 */
typedef void (*agent_fd_sink)(void *arg, const uint8_t *p, size_t n);

struct agent_fd {
	struct agent_fd_set *set;
	struct lws	*wsi;		/* NULL until adopted, and once closed */
	int		 type;		/* frame type of its bytes (no sink) */
	agent_fd_sink	 sink;		/* NULL: frames of type */
	void		*sink_arg;
	uint8_t		*hold;		/* the frame being filled (max_payload) */
	size_t		 held;		/* bytes in it */
	lws_usec_t	 last_rx;	/* when a read last brought bytes */
};

#define AGENT_FD_SET_MAX	4

struct agent_fd_set {
	struct agent_session *s;
	struct agent_fd	*fds[AGENT_FD_SET_MAX];
	size_t		 n;
	int		 paused;	/* every fd paused: the session's queue is full */
	int		 lost;		/* the session is gone: read, drop */
	struct agent_timer hold;	/* sends partial frames held back */
};

/* An empty set for session s. */
void	agent_fd_set_init(struct agent_fd_set *set, struct agent_session *s);
/*
 * Add f to set, its bytes sent as type frames, or to sink (when not NULL).
 * The operation sets f->wsi once it adopted the fd.  -1: out of memory.
 */
int	agent_fd_add(struct agent_fd_set *set, struct agent_fd *f, int type,
	    agent_fd_sink sink, void *sink_arg);
/* RAW_RX_FILE on f->wsi: 0 to go on, -1 at EOF or on an error (lws closes). */
int	agent_fd_rx(struct agent_fd *f, struct lws *wsi);
/*
 * RAW_CLOSE_FILE on f->wsi (the fd still open): send what is held, drain
 * what the fd still holds (a pipe that hung up while paused; at most its
 * capacity), tell the sink, forget the wsi.
 */
void	agent_fd_closed(struct agent_fd *f, int fd);
/* The session's queue fell below its low mark: read again. */
void	agent_fd_set_resume(struct agent_fd_set *set);
/* The session is lost: nothing more is sent. */
void	agent_fd_set_lose(struct agent_fd_set *set);
/* Is any fd of the set still in the loop? */
int	agent_fd_set_open(const struct agent_fd_set *set);
/* Cancel the timer, free the frames. */
void	agent_fd_set_free(struct agent_fd_set *set);

#endif
