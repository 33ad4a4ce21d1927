/*
 * fuzz_ctl.c - libFuzzer target for the control message schemas
 * (ph_ctl_validate in src/frame.c).  Random bytes seldom spell a known
 * "type", so the first byte picks one and the rest is JSON text whose
 * "type" is forced to it: every schema, its member ranges and the rules a
 * table cannot say (hello labels, sid syntax, exit's code xor signal) see
 * arbitrary objects.  What is accepted must encode and decode back to the
 * same type; a hello is also put through the relay's character rules
 * (agentid.c), whose refusal must be printable.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "porthole/agentid.h"
#include "porthole/frame.h"
#include "porthole/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum ph_ctl want, got;
	struct ph_frame f;
	json_error_t err;
	const char *cause;
	char *why = NULL;
	json_t *obj, *name;
	uint8_t *enc;
	size_t len;
	int code;

	if (size < 1)
		return 0;
	want = (enum ph_ctl)(1 + data[0] % (PH_CTL_COUNT - 1));
	obj = json_loadb((const char *)data + 1, size - 1,
	    JSON_REJECT_DUPLICATES | JSON_DISABLE_EOF_CHECK, &err);
	if (obj == NULL)
		return 0;
	/* As sent, then with the type forced. */
	(void)ph_ctl_validate(obj, &got, &cause);
	if (json_is_object(obj)) {
		json_object_set_new(obj, "type", json_string(ph_ctl_name(want)));
		if (ph_ctl_validate(obj, &got, &cause) == 0) {
			if (got != want)
				abort();
			if ((name = json_object_get(obj, "name")) != NULL &&
			    json_is_string(name))
				(void)ph_signal_number(json_string_value(name));
			/* What the relay checks next in a hello (agentid.c). */
			if (want == PH_CTL_HELLO && ph_ident_hello_check(obj, &why) != 0) {
				if (strchr(why, '\x1b') != NULL)
					abort();	/* a cause is printable */
				free(why);
				why = NULL;
			}
			if (ph_ctl_encode(obj, &enc, &len) == 0) {
				if (ph_frame_decode(enc + PH_HEADROOM, len, &f, &code,
				    &cause) != 0 || f.ctl != want)
					abort();
				ph_frame_clear(&f);
				free(enc);
			}
		}
	}
	json_decref(obj);
	return 0;
}
