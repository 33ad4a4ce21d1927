/*
 * relay-metrics.h - counters and the GET /metrics body (relay-metrics.c).
 */
#ifndef PORTHOLE_RELAY_METRICS_H
#define PORTHOLE_RELAY_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "relay-endpoint.h"

/* Counters by the registry's index of the operation; the last is "other". */
#define METRICS_OPS_MAX	32
#define METRICS_OTHER	METRICS_OPS_MAX
#define METRICS_NOPS	(METRICS_OPS_MAX + 1)
#define METRICS_NREFUSALS 14	/* refusal codes counted by name */

/* The counters (struct relay's `metrics`). */
struct relay_metrics {
	uint64_t	 open[METRICS_NOPS];
	uint64_t	 total[METRICS_NOPS];
	uint64_t	 refusals[METRICS_NREFUSALS];
	size_t		 q_high[2];		/* control, session */
	uint64_t	 recordings, recording_failures;
	int64_t		 start;
	/* Sessions across relays (relay-cross.c, relay-link.c). */
	uint64_t	 peer_links;		/* links this relay dialed, open now */
	uint64_t	 peer_refused;		/* ... refused: certificate not the fleet's */
	uint64_t	 cross_opens;		/* opens sent to the relay holding the agent */
	uint64_t	 cross_attached;	/* sessions whose agent side came over a link */
	uint64_t	 cross_spliced;		/* data channels carried to another relay */
	uint64_t	 cross_bytes_in, cross_bytes_out;	/* over links this relay dialed */
};

void	relay_metrics_init(void);
void	relay_metrics_session(const char *op, int delta);
void	relay_metrics_refusal(const char *code);
void	relay_metrics_queue(enum relay_conn_kind kind, size_t bytes);
void	relay_metrics_recording(int failed);
int	relay_metrics_render(char **out, size_t *len);

#endif
