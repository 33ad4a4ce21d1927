/*
 * frame.h - decode and build porthole frames (type byte + payload) and
 * validate CONTROL messages against their schema.
 *
 * Decoders never trust their input: every function here takes a length,
 * never reads past it, and reports what was wrong through *cause (a static
 * string; never free it) together with the close code the channel must be
 * closed with.
 */
#ifndef PORTHOLE_FRAME_H
#define PORTHOLE_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "porthole/protocol.h"

/* The result of decoding one complete WebSocket message. */
struct ph_frame {
	enum ph_frame_type	 type;
	const uint8_t		*payload;	/* points into the message; not owned */
	size_t			 len;
	/* For PH_FRAME_CONTROL only: */
	json_t			*json;		/* owned: json_decref() it (ph_frame_clear) */
	enum ph_ctl		 ctl;
	const char		*ctl_name;	/* inside json */
	/* When decoding fails: the `error` code to send (PH_ERR_*). */
	const char		*err;
};

/*
 * Decode one whole message.  Returns 0 and fills *f, or -1 with *cause set,
 * *close_code set to PH_CLOSE_TOO_BIG or PH_CLOSE_POLICY and f->err to the
 * error code for the `error` frame (too_big, bad_frame, bad_json,
 * bad_message).  For CONTROL
 * frames the JSON is parsed and checked against the schema of its type.
 */
int		 ph_frame_decode(const uint8_t *msg, size_t len, struct ph_frame *f,
		    int *close_code, const char **cause);
void		 ph_frame_clear(struct ph_frame *f);

/* Check a parsed control object against its schema; 0 or -1 with *cause. */
int		 ph_ctl_validate(json_t *obj, enum ph_ctl *ctl, const char **cause);

const char	*ph_ctl_name(enum ph_ctl ctl);
enum ph_ctl	 ph_ctl_from_name(const char *name);
const char	*ph_frame_type_name(int type);

/*
 * Encode a control object into a newly allocated message with LWS_PRE bytes
 * of headroom before it: *out points at the allocation, the message starts
 * at *out + PH_HEADROOM and is *len bytes long.  Returns -1 if the JSON is
 * larger than PH_MAX_PAYLOAD.  The caller frees *out.
 */
#define PH_HEADROOM	16	/* == LWS_PRE in libwebsockets 4.1.6; checked in frame.c */
int		 ph_ctl_encode(json_t *obj, uint8_t **out, size_t *len);

/* Build common control messages (new references; NULL on allocation failure). */
json_t		*ph_ctl_new(enum ph_ctl ctl);
json_t		*ph_ctl_error(const char *code, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
json_t		*ph_ctl_exit_code(int code);
json_t		*ph_ctl_exit_signal(int signo);

/*
 * The signal a `signal` message names ("INT", "SIGTERM", ... any case; the
 * list in docs/protocol.md), or -1 for a name outside it.
 */
int		 ph_signal_number(const char *name);

/* Session id and secret helpers: random lowercase hex of the given length. */
int		 ph_random_hex(char *out, size_t hexlen);
int		 ph_sid_valid(const char *sid);

#endif
