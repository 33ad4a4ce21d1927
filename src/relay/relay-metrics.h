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
};

void	relay_metrics_init(void);
void	relay_metrics_session(const char *op, int delta);
void	relay_metrics_refusal(const char *code);
void	relay_metrics_queue(enum relay_conn_kind kind, size_t bytes);
void	relay_metrics_recording(int failed);
int	relay_metrics_render(char **out, size_t *len);

#endif
