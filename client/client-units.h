/*
 * client-units.h - one naming of units in what the CLI prints.
 *
 * The rule (docs/operations.md, "Units"): in every JSON document the CLI
 * prints, a member that carries a quantity says its unit in its name, and
 * sizes are always bytes: `rss_bytes`, `cgroup_limit_bytes`,
 * `growth_bytes_per_min`, as durations are `_ms` (`interval_ms`); times are
 * Unix seconds (`t`, `time`, `start`).  On a terminal sizes are human, in
 * binary units: "812 B", "46.2 KiB", "94.7 MiB", "1.2 GiB".
 *
 * The agents' `ps` and `mem` documents (docs/protocol.md) keep protocol 2's
 * members (KiB figures named `rss`, `rss_kib`; cgroup figures in bytes), so
 * that CLIs and agents of different versions keep working together; the CLI
 * renames and converts them here, once, before it prints or renders them.
 */
#ifndef PORTHOLE_CLIENT_UNITS_H
#define PORTHOLE_CLIENT_UNITS_H

#include <stddef.h>

#include <jansson.h>

/* Room for any size client_units_size prints. */
#define CLIENT_UNITS_SIZE_MAX	24

/* bytes as a human size into buf; returns buf.  Negative: "-" first. */
const char *client_units_size(double bytes, char *buf, size_t len);

/* An agent's `ps` document, in place, to the CLI's naming. */
void	client_units_ps(json_t *doc);

/* One of an agent's `mem` samples, in place, to the CLI's naming. */
void	client_units_mem(json_t *sample);

#endif
