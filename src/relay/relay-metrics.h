/*
 * relay-metrics.h - counters and the GET /metrics body (relay-metrics.c).
 */
#ifndef PORTHOLE_RELAY_METRICS_H
#define PORTHOLE_RELAY_METRICS_H

#include <stddef.h>

#include "relay-endpoint.h"

void	relay_metrics_init(void);
void	relay_metrics_session(const char *op, int delta);
void	relay_metrics_refusal(const char *code);
void	relay_metrics_queue(enum relay_conn_kind kind, size_t bytes);
void	relay_metrics_recording(int failed);
int	relay_metrics_render(char **out, size_t *len);

#endif
