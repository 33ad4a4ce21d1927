/*
 * relay-record.h - asciicast v2 recordings of shell and exec sessions
 * (relay-record.c).
 */
#ifndef PORTHOLE_RELAY_RECORD_H
#define PORTHOLE_RELAY_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "porthole/protocol.h"

#define RELAY_ERR_RECORDING	PH_ERR_RECORDING	/* error code to the client */
struct relay_record;

/* Recording's state (struct relay's `record`). */
struct relay_records {
	char			*record_dir;	/* NULL: no recordings */
	int			 record_required;
	struct relay_record	*records;	/* open ones, for the flush timer */
	lws_sorted_usec_list_t	 record_sul;
	int			 record_sul_on;
	uint8_t			*record_scratch;	/* carry + one frame */
};

int	relay_record_init(const char *dir, int required, char **cause);
int	relay_record_required(void);
int	relay_record_wanted(const char *op);
struct relay_record *relay_record_start(const char *sid, json_t *open,
	    const char *agent_name, const char *sub, char **cause);
int	relay_record_output(struct relay_record *r, int stream, const uint8_t *p,
	    size_t n);
int	relay_record_resize(struct relay_record *r, json_t *resize);
const char *relay_record_path(const struct relay_record *r);
const char *relay_record_error(const struct relay_record *r);
int	relay_record_finish(struct relay_record *r, char **cause);
void	relay_record_cleanup(void);

#endif
