/*
 * client-doc.c - one operation answered by one JSON document
 * (client-doc.h), on client_op_run_with (client-op.c): net, lsof, probe.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "porthole/printable.h"
#include "porthole/util.h"

#include "client-doc.h"
#include "client-out.h"
#include "client-op.h"
#include "cmd.h"

struct client_doc {
	char	*buf;
	size_t	 len, max;
	int	 overflow;
	char	 what[64];
};

static int
client_doc_out(struct client_op *op, void *arg, const uint8_t *p, size_t n)
{
	struct client_doc	*d = arg;
	char			*nb;

	if (d->overflow)
		return 0;
	if (d->len + n > d->max) {
		d->overflow = 1;
		client_op_abort(op, ph_asprintf("the agent's %s is larger than %zu MiB: "
		    "refused", d->what, d->max >> 20));
		return -1;
	}
	if ((nb = realloc(d->buf, d->len + n + 1)) == NULL) {
		client_op_abort(op, strdup("out of memory"));
		return -1;
	}
	d->buf = nb;
	memcpy(d->buf + d->len, p, n);
	d->len += n;
	return 0;
}

int
client_doc_run(struct client_conf *conf, const char *target, const char *opname,
    json_t *members, size_t max, const char *what, json_t **doc)
{
	struct client_op_result	 res;
	struct client_doc	 d;
	json_error_t		 jerr;
	int			 r;

	memset(&d, 0, sizeof d);
	d.max = max;
	snprintf(d.what, sizeof d.what, "%s", what);
	*doc = NULL;
	if ((r = client_op_run_with(conf, target, opname, json_array(), members,
	    client_doc_out, &d, &res)) != 0)
		goto out;
	if (res.interrupted) {
		r = cmd_failf("interrupted");
		goto out;
	}
	if (res.status != 0) {
		r = cmd_failf("%s on %s (%s): %s", opname, res.agent_name, res.agent_id,
		    res.err != NULL ? res.err : "failed, no reason given");
		goto out;
	}
	if ((*doc = json_loadb(d.buf != NULL ? d.buf : "", d.len, 0, &jerr)) == NULL ||
	    !json_is_object(*doc)) {
		json_decref(*doc);
		*doc = NULL;
		r = cmd_failf("the agent %s (%s) sent a %s that is not a JSON object (%s)",
		    res.agent_name, res.agent_id, what, jerr.text);
		goto out;
	}
	r = 0;
out:
	client_op_result_free(&res);
	free(d.buf);
	return r;
}

int
client_doc_print(json_t *doc, int json, size_t flags, int (*print)(json_t *doc))
{
	char	*text;

	if (!json)
		return print(doc);
	if ((text = ph_json_dumps(doc, JSON_COMPACT | flags)) == NULL)
		return cmd_failf("out of memory");
	printf("%s\n", text);
	free(text);
	return client_out_flush();
}
