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
 *   get ID --key FILE        the same for a capture the agent sealed to an
 *                            operator's key (PORTHOLE_ARTIFACT_RECIPIENT,
 *                            artseal.h): opened with FILE's private key as it
 *                            comes, every record authenticated, the final
 *                            record's count and sha256 of the clear stream
 *                            checked; the relay's sha256 and size are those
 *                            of the sealed bytes, checked too
 *   rm ID                    DELETE /v1/artifacts/ID
 *   keygen -o FILE [--force] an X25519 key pair for sealing: the private
 *                            key to FILE (PEM, 0600), the public key, for
 *                            PORTHOLE_ARTIFACT_RECIPIENT, printed
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
#include <openssl/evp.h>
#include <zstd.h>

#include "porthole/artseal.h"
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
	/* A sealed artifact: opened on the way, the stored bytes hashed. */
	struct ph_artseal_rd	*rd;
	EVP_MD_CTX		*md;
	uint64_t		 received;
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

/* Decompress into the sink's buffers (blocking when all are queued). */
static int
art_unzstd(void *arg, const uint8_t *p, size_t n)
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

/* client_http_sink: the stored bytes, opened first when they are sealed. */
static int
art_data(void *arg, const void *p, size_t n)
{
	struct art_get	*g = arg;
	char		*cause = NULL;

	if (g->rd == NULL)
		return art_unzstd(g, p, n);
	EVP_DigestUpdate(g->md, p, n);
	g->received += n;
	if (ph_artseal_rd_feed(g->rd, p, n, art_unzstd, g, &cause) != 0) {
		if (cause != NULL) {
			free(g->cause);
			g->cause = cause;
		}
		return -1;
	}
	return 0;
}

/*
 * Before a sealed artifact is downloaded: the key in keyfile must be the
 * one it was sealed to (the listing's `sealed`).  0 and g's reader, or -1
 * with *cause.
 */
static int
art_unseal_begin(struct art_get *g, json_t *m, const char *id, const char *keyfile,
    char **cause)
{
	const char	*to = json_string_value(json_object_get(m, "sealed"));
	uint8_t		 priv[PH_SEAL_SECRET_LEN], pub[PH_SEAL_SHARE_LEN];
	char		*mine, *pto;
	int		 rc = -1;

	if (to == NULL) {
		if (keyfile != NULL)
			fprintf(stderr, "porthole: note: artifact %s is not sealed "
			    "(the relay keeps it in clear); --key is not needed\n", id);
		return 0;
	}
	pto = ph_printable(to);
	if (keyfile == NULL) {
		*cause = ph_asprintf("artifact %s is sealed to the key %s: open it "
		    "with --key FILE (that key's private half, from 'porthole "
		    "artifacts keygen')", id, pto);
		free(pto);
		return -1;
	}
	if (ph_artseal_key_load(keyfile, priv, pub, cause) != 0) {
		free(pto);
		return -1;
	}
	mine = ph_seal_share_encode(pub);
	if (mine == NULL || strcmp(mine, to) != 0)
		*cause = ph_asprintf("artifact %s is sealed to the key %s, not to "
		    "%s's (%s): no file was written", id, pto, keyfile,
		    mine != NULL ? mine : "?");
	else if ((g->rd = ph_artseal_rd_new(priv, cause)) != NULL &&
	    (g->md = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestInit_ex(g->md, EVP_sha256(), NULL) == 1)
		rc = 0;
	else if (*cause == NULL)
		*cause = ph_asprintf("out of memory");
	OPENSSL_cleanse(priv, sizeof priv);
	free(mine);
	free(pto);
	return rc;
}

/*
 * After a sealed artifact's last byte: it ended with its final record (so
 * nothing was cut off), and what arrived is what the relay stored.  0 and
 * *complete (the agent's word, authenticated), or -1 with *cause.
 */
static int
art_unseal_end(struct art_get *g, json_t *m, int *complete, char **cause)
{
	struct ph_artseal_final	 f;
	uint8_t			 md[32];
	unsigned		 mdlen = 0, i;
	char			 hex[65];

	if (ph_artseal_rd_end(g->rd, &f, cause) != 0)
		return -1;
	EVP_DigestFinal_ex(g->md, md, &mdlen);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (strcmp(hex, art_str(m, "sha256")) != 0 || (json_int_t)g->received !=
	    json_integer_value(json_object_get(m, "size"))) {
		*cause = ph_asprintf("the sealed bytes that arrived (sha256 %s, %llu "
		    "bytes) are not what the relay stored (sha256 %s, %lld bytes)",
		    hex, (unsigned long long)g->received, art_str(m, "sha256"),
		    (long long)json_integer_value(json_object_get(m, "size")));
		return -1;
	}
	*complete = f.complete;
	return 0;
}

static int
art_get(struct client_conn *cc, const char *id, const char *out, const char *keyfile)
{
	struct art_get	 g;
	json_t		*arts, *m = NULL, *e;
	char		*cause = NULL, *body = NULL, *file = NULL, *partial = NULL;
	char		 hex[65], *pn, *pk, *path;
	uint8_t		 md[32];
	int		 r;
	uint64_t	 bytes = 0;
	size_t		 len, i;
	int		 status = 0, fd = -1, rc = CMD_EXIT_FAIL, complete;

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
	if (art_unseal_begin(&g, m, id, keyfile, &cause) != 0)
		goto out;
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
	complete = json_is_true(json_object_get(m, "complete"));
	if (g.rd != NULL && art_unseal_end(&g, m, &complete, &cause) != 0)
		goto out;
	if (g.zret != 0) {
		cause = ph_asprintf("the artifact's stream ended early (%llu bytes): "
		    "try again", (unsigned long long)bytes);
		goto out;
	}
	if (g.rd == NULL && (strcmp(hex, art_str(m, "sha256")) != 0 ||
	    (json_int_t)bytes != json_integer_value(json_object_get(m, "size")))) {
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
	printf("%s: %llu bytes, sha256 %s, %s%s%s%s\n", file, (unsigned long long)
	    bytes, hex, complete ? "complete" : "INCOMPLETE", complete ? "" : ": ",
	    complete ? "" : art_str(m, "error"), g.rd != NULL ? " (unsealed: every "
	    "record authenticated)" : "");
	rc = 0;
out:
	if (g.sink != NULL)
		dump_sink_free(g.sink);
	ZSTD_freeDCtx(g.z);
	ph_artseal_rd_free(g.rd);
	EVP_MD_CTX_free(g.md);
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

/* keygen -o FILE [--force]: needs no relay. */
static int
art_keygen(const char *out, int force)
{
	uint8_t	 pub[PH_SEAL_SHARE_LEN];
	char	*cause = NULL, *text;

	if (out == NULL)
		return cmd_usage_error(&cmd_artifacts_entry, "keygen needs -o FILE "
		    "(where the private key goes)");
	if (ph_artseal_keygen(out, force, pub, &cause) != 0)
		return cmd_fail(cause);
	if ((text = ph_seal_share_encode(pub)) == NULL)
		return cmd_failf("out of memory");
	fprintf(stderr, "porthole: the private key is in %s (keep it off the "
	    "relay and the tasks); give the agents its public key:\n", out);
	printf("PORTHOLE_ARTIFACT_RECIPIENT=%s\n", text);
	free(text);
	return 0;
}

static int
cmd_artifacts_exec(struct client_conf *conf, int argc, char **argv)
{
	struct client_conn	*cc;
	const char		*pos[3] = { NULL, NULL, NULL }, *out = NULL, *sub;
	const char		*key = NULL;
	char			*cause = NULL;
	int			 i, r, np = 0, json = 0, force = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = 1;
			continue;
		}
		if (strcmp(argv[i], "--force") == 0 || strcmp(argv[i], "-f") == 0) {
			force = 1;
			continue;
		}
		if (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--out") == 0) {
			if (i + 1 >= argc)
				return cmd_usage_error(&cmd_artifacts_entry, "-o needs "
				    "a FILE");
			out = argv[++i];
			continue;
		}
		if (strcmp(argv[i], "--key") == 0) {
			if (i + 1 >= argc)
				return cmd_usage_error(&cmd_artifacts_entry, "--key "
				    "needs a FILE");
			key = argv[++i];
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
	if (strcmp(sub, "ls") != 0 && strcmp(sub, "get") != 0 &&
	    strcmp(sub, "rm") != 0 && strcmp(sub, "keygen") != 0)
		return cmd_usage_error(&cmd_artifacts_entry, "unknown subcommand '%s'",
		    sub);
	if (strcmp(sub, "keygen") == 0) {
		if (np != 1)
			return cmd_usage_error(&cmd_artifacts_entry, "keygen takes "
			    "-o FILE only");
		return art_keygen(out, force);
	}
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
		r = art_get(cc, pos[1], out, key);
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
	{ "--key", NULL, "FILE", "open a capture sealed to an operator's key "
	    "(PORTHOLE_ARTIFACT_RECIPIENT) with its private half" },
	{ NULL, NULL, NULL, NULL }
};

static const struct ph_help_opt artifacts_keygen_options[] = {
	{ "--out", "-o", "FILE", "the private key (PEM, mode 0600)" },
	{ "--force", "-f", NULL, "replace FILE if it exists" },
	{ NULL, NULL, NULL, NULL }
};

static const struct cmd_sub artifacts_subs[] = {
	{ "ls", "[SELECTOR] [--json]", "the captures this token may see: id, "
	    "agent, pid, process, kind, size, complete, when, and the trigger "
	    "with the reading that fired it", artifacts_ls_options },
	{ "get", "ID [-o FILE] [--key FILE]", "download one, sha256-checked, "
	    "zeros as holes; a sealed one opened with --key", artifacts_get_options },
	{ "rm", "ID", "delete one (scope artifacts.rm)", NULL },
	{ "keygen", "-o FILE [--force]", "make the X25519 key pair captures are "
	    "sealed to: the private key to FILE, the public key printed for "
	    "PORTHOLE_ARTIFACT_RECIPIENT (no relay needed)",
	    artifacts_keygen_options },
	{ NULL, NULL, NULL, NULL }
};

const struct cmd_entry cmd_artifacts_entry = {
	.name = "artifacts",
	.alias = NULL,
	.usage = "ls [SELECTOR] [--json] | get ID [-o FILE] [--key FILE] | rm ID | "
	    "keygen -o FILE",
	.about = "the flight recorder's captures on the relay: list, download, "
	    "delete",
	.exec = cmd_artifacts_exec,
	.description = "Captures an agent's watches took with nobody attached "
	    "(PORTHOLE_WATCH, 'porthole watch') are kept by the relay. A token "
	    "sees only those whose agent's labels at capture its target "
	    "matches; listing and downloading need scope dump, deleting scope "
	    "artifacts.rm. A download is checked against the sha256 and size "
	    "the relay computed when it was uploaded. With "
	    "PORTHOLE_ARTIFACT_RECIPIENT the agents seal captures to that key "
	    "(neither the relay nor its bucket can read them): the listing's "
	    "sha256 and size are then those of the sealed bytes, and get --key "
	    "checks those, every record, and the sha256 of the clear stream "
	    "sealed in its final record.",
	.subs = artifacts_subs,
};
