/*
 * cmd-artifacts.c - "porthole artifacts ls|get|rm": the flight recorder's
 * captures kept by the relay (docs/operations.md, "Artifacts").
 *
 *   ls [SELECTOR] [--json]   GET /v1/artifacts: a table (ID AGENT PID
 *                            PROCESS KIND SIZE COMPLETE WHEN TRIGGER) or
 *                            {"artifacts": [...]} with every member
 *   get ID [-o FILE]         GET /v1/artifacts/ID: the stored zstd stream,
 *                            decompressed as it comes into FILE (default
 *                            NAME-PID-ID.KIND in the current directory)
 *                            through dump's sink (sha256, holes for zeros),
 *                            checked against the sha256 and size the relay
 *                            computed at upload, then renamed into place
 *   rm ID                    DELETE /v1/artifacts/ID
 *
 * Every request carries the proof of the token's key (listproof.h); the
 * relay shows a token only the artifacts whose labels at capture its
 * target matches, and wants scope dump to list and read, artifacts.rm to
 * delete.  What the relay sends is made printable before it is shown.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <zstd.h>

#include "porthole/printable.h"
#include "porthole/protocol.h"
#include "porthole/util.h"
#include "porthole/watch.h"

#include "client-conf.h"
#include "client-conn.h"
#include "client-http.h"
#include "client-out.h"
#include "cmd.h"
#include "dump-sink.h"

/* A download in progress: the sink callback's state. */
struct art_get {
	ZSTD_DCtx		*z;
	struct dump_sink	*sink;
	uint8_t			*obuf;
	size_t			 olen;
	size_t			 zret;		/* last ZSTD_decompressStream: 0 = frame ended */
	uint64_t		 written;
	char			*cause;
};

static const char *
art_str(json_t *m, const char *k)
{
	const char *v = json_string_value(json_object_get(m, k));

	return v != NULL ? v : "-";
}

static int
art_cmp(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "stored_at"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "stored_at"));

	return x < y ? -1 : x > y;
}

static void
art_table(json_t *arts)
{
	size_t		 n = json_array_size(arts), i;
	json_t		**sorted = calloc(n + 1, sizeof *sorted), *m;
	char		 size[32], when[32], *id, *agent, *proc, *kind, *trig;
	time_t		 t;
	struct tm	 tm;

	if (sorted == NULL)
		abort();
	for (i = 0; i < n; i++)
		sorted[i] = json_array_get(arts, i);
	qsort(sorted, n, sizeof *sorted, art_cmp);
	printf("%-24s  %-28s  %-7s  %-15s  %-4s  %-8s  %-8s  %-20s  %s\n", "ID", "AGENT",
	    "PID", "PROCESS", "KIND", "SIZE", "COMPLETE", "WHEN", "TRIGGER");
	for (i = 0; i < n; i++) {
		m = sorted[i];
		t = (time_t)json_integer_value(json_object_get(m, "captured_at"));
		if (t == 0)
			t = (time_t)json_integer_value(json_object_get(m, "stored_at"));
		if (gmtime_r(&t, &tm) == NULL ||
		    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
			snprintf(when, sizeof when, "-");
		ph_size_fmt((uint64_t)json_integer_value(json_object_get(m, "size")),
		    size, sizeof size);
		id = ph_printable(art_str(m, "id"));
		agent = ph_printable(art_str(m, "agent"));
		proc = ph_printable(art_str(m, "process"));
		kind = ph_printable(art_str(m, "kind"));
		trig = ph_printable(art_str(m, "trigger"));
		printf("%-24s  %-28s  %-7lld  %-15s  %-4s  %-8s  %-8s  %-20s  %s\n", id,
		    agent, (long long)json_integer_value(json_object_get(m, "pid")),
		    proc, kind, size, json_is_true(json_object_get(m, "complete")) ?
		    "yes" : "no", when, trig);
		free(id);
		free(agent);
		free(proc);
		free(kind);
		free(trig);
	}
	free(sorted);
}

/* GET /v1/artifacts[?selector=]: the array, or NULL with *cause. */
static json_t *
art_list(struct client_conn *cc, const char *selector, char **cause)
{
	char	*body = NULL;
	size_t	 len = 0;
	int	 status = 0;
	json_t	*doc, *arts;

	if (client_http_request(cc, "GET", PH_PATH_ARTIFACTS, selector, NULL, NULL,
	    &status, &body, &len, cause) != 0)
		return NULL;
	doc = json_loadb(body != NULL ? body : "", len, 0, NULL);
	free(body);
	arts = json_object_get(doc, "artifacts");
	if (status != 200 || !json_is_array(arts)) {
		*cause = ph_asprintf(status == 404 ? "this relay keeps no artifacts "
		    "(is it older than this porthole?)" : "the relay's artifact "
		    "list is not the JSON it should be");
		json_decref(doc);
		return NULL;
	}
	json_incref(arts);
	json_decref(doc);
	return arts;
}

static int
art_ls(struct client_conn *cc, const char *selector, int json)
{
	char	*cause = NULL, *text;
	json_t	*arts, *doc;

	if ((arts = art_list(cc, selector, &cause)) == NULL)
		return cmd_fail(cause);
	if (json) {
		doc = json_pack("{s:o}", "artifacts", arts);
		text = ph_json_dumps(doc, JSON_INDENT(2));
		if (text != NULL)
			printf("%s\n", text);
		free(text);
		json_decref(doc);
	} else {
		art_table(arts);
		json_decref(arts);
	}
	return 0;
}

/* client_http_sink: decompress into the sink's buffers (blocking when all are queued). */
static int
art_data(void *arg, const void *p, size_t n)
{
	struct art_get	*g = arg;
	ZSTD_inBuffer	 in = { p, n, 0 };
	ZSTD_outBuffer	 out;
	size_t		 r;

	do {
		if (g->obuf == NULL && (g->obuf = dump_sink_get(g->sink)) == NULL) {
			g->cause = ph_asprintf("cannot write the file: %s",
			    strerror(dump_sink_errno(g->sink)));
			return -1;
		}
		out.dst = g->obuf;
		out.size = DUMP_SINK_BUF;
		out.pos = g->olen;
		r = ZSTD_decompressStream(g->z, &out, &in);
		if (ZSTD_isError(r)) {
			g->cause = ph_asprintf("the artifact is corrupt (zstd: %s)",
			    ZSTD_getErrorName(r));
			return -1;
		}
		g->zret = r;
		g->written += out.pos - g->olen;
		g->olen = out.pos;
		if (out.pos == out.size) {
			g->obuf = NULL;
			g->olen = 0;
			if (dump_sink_put(g->sink, DUMP_SINK_BUF) != 0) {
				g->cause = ph_asprintf("cannot write the file: %s",
				    strerror(dump_sink_errno(g->sink)));
				return -1;
			}
		}
	} while (in.pos < in.size || out.pos == out.size);
	return 0;
}

static int
art_get(struct client_conn *cc, const char *id, const char *out)
{
	struct art_get	 g;
	json_t		*arts, *m = NULL, *e;
	char		*cause = NULL, *body = NULL, *file = NULL, *partial = NULL;
	char		 hex[65], *pn, *pk, *path;
	uint8_t		 md[32];
	int		 r;
	uint64_t	 bytes = 0;
	size_t		 len, i;
	int		 status = 0, fd = -1, rc = CMD_EXIT_FAIL;

	memset(&g, 0, sizeof g);
	if ((arts = art_list(cc, NULL, &cause)) == NULL)
		return cmd_fail(cause);
	json_array_foreach(arts, i, e) {
		if (strcmp(art_str(e, "id"), id) == 0)
			m = e;
	}
	if (m == NULL) {
		json_decref(arts);
		return cmd_failf("no artifact %s that this token may see "
		    "('porthole artifacts ls' lists them)", id);
	}
	if (out != NULL)
		file = strdup(out);
	else {
		pn = ph_printable(art_str(m, "name"));
		pk = ph_printable(art_str(m, "kind"));
		file = ph_asprintf("%s-%lld-%s.%s", pn, (long long)json_integer_value(
		    json_object_get(m, "pid")), id, strcmp(pk, "jvm") == 0 ? "hprof" :
		    strcmp(pk, "node") == 0 ? "heapsnapshot" : "core");
		free(pn);
		free(pk);
		for (i = 0; file[i] != '\0'; i++)
			if (file[i] == '/')
				file[i] = '_';
	}
	partial = ph_asprintf("%s.partial", file);
	if ((fd = open(partial, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		cause = ph_asprintf("cannot create %s: %s", partial, strerror(errno));
		goto out;
	}
	if ((g.z = ZSTD_createDCtx()) == NULL ||
	    (g.sink = dump_sink_new(fd, &cause)) == NULL) {
		if (cause == NULL)
			cause = ph_asprintf("out of memory");
		goto out;
	}
	g.zret = 1;
	path = ph_asprintf("%s/%s", PH_PATH_ARTIFACTS, id);
	r = client_http_request(cc, "GET", path, NULL, art_data, &g, &status, &body,
	    &len, &cause);
	free(path);
	if (r != 0) {
		if (g.cause != NULL) {
			free(cause);
			cause = g.cause;
			g.cause = NULL;
		}
		goto out;
	}
	if (status != 200) {
		cause = ph_asprintf("no artifact %s (deleted meanwhile?)", id);
		goto out;
	}
	if (g.obuf != NULL && dump_sink_put(g.sink, g.olen) != 0) {
		cause = ph_asprintf("cannot write %s: %s", partial,
		    strerror(dump_sink_errno(g.sink)));
		goto out;
	}
	g.obuf = NULL;
	if (dump_sink_finish(g.sink, md, &bytes) != 0) {
		cause = ph_asprintf("cannot write %s: %s", partial,
		    strerror(dump_sink_errno(g.sink)));
		goto out;
	}
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (g.zret != 0) {
		cause = ph_asprintf("the artifact's stream ended early (%llu bytes): "
		    "try again", (unsigned long long)bytes);
		goto out;
	}
	if (strcmp(hex, art_str(m, "sha256")) != 0 || (json_int_t)bytes !=
	    json_integer_value(json_object_get(m, "size"))) {
		cause = ph_asprintf("what arrived (sha256 %s, %llu bytes) is not what "
		    "the relay stored (sha256 %s, %lld bytes); no file was written",
		    hex, (unsigned long long)bytes, art_str(m, "sha256"),
		    (long long)json_integer_value(json_object_get(m, "size")));
		goto out;
	}
	if (ftruncate(fd, (off_t)bytes) != 0 || fsync(fd) != 0 ||
	    rename(partial, file) != 0) {
		cause = ph_asprintf("cannot write %s: %s", file, strerror(errno));
		goto out;
	}
	printf("%s: %llu bytes, sha256 %s, %s%s%s\n", file, (unsigned long long)bytes,
	    hex, json_is_true(json_object_get(m, "complete")) ? "complete" :
	    "INCOMPLETE", json_is_true(json_object_get(m, "complete")) ? "" : ": ",
	    json_is_true(json_object_get(m, "complete")) ? "" : art_str(m, "error"));
	rc = 0;
out:
	if (g.sink != NULL)
		dump_sink_free(g.sink);
	ZSTD_freeDCtx(g.z);
	free(g.cause);
	if (fd >= 0)
		close(fd);
	if (rc != 0 && partial != NULL && fd >= 0)
		unlink(partial);
	free(partial);
	free(file);
	free(body);
	json_decref(arts);
	if (rc != 0)
		return cmd_fail(cause);
	return 0;
}

static int
art_rm(struct client_conn *cc, const char *id)
{
	char	*cause = NULL, *body = NULL, *path = ph_asprintf("%s/%s",
	    PH_PATH_ARTIFACTS, id);
	size_t	 len;
	int	 status = 0, r;

	r = client_http_request(cc, "DELETE", path, NULL, NULL, NULL, &status, &body,
	    &len, &cause);
	free(path);
	free(body);
	if (r != 0)
		return cmd_fail(cause);
	if (status != 200)
		return cmd_failf("no artifact %s that this token may see", id);
	printf("deleted %s\n", id);
	return 0;
}

static int
cmd_artifacts_exec(struct client_conf *conf, int argc, char **argv)
{
	struct client_conn	*cc;
	const char		*pos[3] = { NULL, NULL, NULL }, *out = NULL, *sub;
	char			*cause = NULL;
	int			 i, r, np = 0, json = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = 1;
			continue;
		}
		if (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--out") == 0) {
			if (i + 1 >= argc)
				return cmd_usage_error(&cmd_artifacts_entry, "-o needs "
				    "a FILE");
			out = argv[++i];
			continue;
		}
		if (argv[i][0] == '-' && argv[i][1] != '\0') {
			if ((r = cmd_conf_option(&cmd_artifacts_entry, conf, argc, argv,
			    &i)) != 0)
				return r;
			continue;
		}
		if (np == 2)
			return cmd_usage_error(&cmd_artifacts_entry, "too many arguments");
		pos[np++] = argv[i];
	}
	sub = np > 0 ? pos[0] : "ls";
	if (strcmp(sub, "ls") != 0 && strcmp(sub, "get") != 0 && strcmp(sub, "rm") != 0)
		return cmd_usage_error(&cmd_artifacts_entry, "unknown subcommand '%s'",
		    sub);
	if (strcmp(sub, "ls") != 0 && (np != 2 || strlen(pos[1]) != 24 ||
	    strspn(pos[1], "0123456789abcdef") != 24))
		return cmd_usage_error(&cmd_artifacts_entry, "%s needs an artifact ID "
		    "(24 hex digits, from 'porthole artifacts ls')", sub);
	if (client_conf_load(conf, &cause) != 0)
		return cmd_fail(cause);
	if ((cc = client_conn_new(conf, &cause)) == NULL)
		return cmd_fail(cause);
	if (strcmp(sub, "ls") == 0)
		r = art_ls(cc, pos[1], json);
	else if (strcmp(sub, "get") == 0)
		r = art_get(cc, pos[1], out);
	else
		r = art_rm(cc, pos[1]);
	client_conn_free(cc);
	return r;
}

static const struct ph_help_opt artifacts_ls_options[] = {
	{ "--json", NULL, NULL, "one JSON document with every member" },
	{ NULL, NULL, NULL, NULL }
};

static const struct ph_help_opt artifacts_get_options[] = {
	{ "--out", "-o", "FILE", "write there (default "
	    "NAME-PID-ID.core|hprof|heapsnapshot here)" },
	{ NULL, NULL, NULL, NULL }
};

static const struct cmd_sub artifacts_subs[] = {
	{ "ls", "[SELECTOR] [--json]", "the captures this token may see: id, "
	    "agent, pid, process, kind, size, complete, when, and the trigger "
	    "with the reading that fired it", artifacts_ls_options },
	{ "get", "ID [-o FILE]", "download one, sha256-checked, zeros as holes",
	    artifacts_get_options },
	{ "rm", "ID", "delete one (scope artifacts.rm)", NULL },
	{ NULL, NULL, NULL, NULL }
};

const struct cmd_entry cmd_artifacts_entry = {
	.name = "artifacts",
	.alias = NULL,
	.usage = "ls [SELECTOR] [--json] | get ID [-o FILE] | rm ID",
	.about = "the flight recorder's captures on the relay: list, download, "
	    "delete",
	.exec = cmd_artifacts_exec,
	.description = "Captures an agent's watches took with nobody attached "
	    "(PORTHOLE_WATCH, 'porthole watch') are kept by the relay. A token "
	    "sees only those whose agent's labels at capture its target "
	    "matches; listing and downloading need scope dump, deleting scope "
	    "artifacts.rm. A download is checked against the sha256 and size "
	    "the relay computed when it was uploaded.",
	.subs = artifacts_subs,
};
