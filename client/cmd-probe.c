/*
 * cmd-probe.c - "porthole probe TARGET HOST:PORT|URL [--tls] [--timeout
 * DUR] [--json]": can the task reach it?  The agent answers from inside
 * the task's network with the task's own resolver configuration
 * (op-probe.c): DNS answers and time, TCP connect time with refused and
 * timed out told apart, for TLS the handshake and the certificate, for
 * http(s) URLs the status line and the time to first byte.
 *
 * The destination is parsed here first (probedest.c), so bad input is
 * refused before any connection; the agent parses it again.  --json
 * prints the agent's document (docs/protocol.md, "probe"); else one line
 * per step.  Certificate text and the status line are the server's bytes:
 * escaped for the terminal (client_printable).
 *
 * Exit status: 0 when every step succeeded, 1 when the destination was
 * not reached as asked (the `outcome` says where it stopped), 255 when
 * porthole itself failed, like any command.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "porthole/duration.h"
#include "porthole/probedest.h"
#include "porthole/printable.h"
#include "porthole/util.h"

#include "client-doc.h"
#include "client-out.h"
#include "client-target.h"
#include "cmd.h"

#define PROBE_DOC_MAX	(1024 * 1024)

static const char *
probe_str(json_t *o, const char *k, const char *def)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s != NULL ? s : def;
}

/* "WORD     TEXT" with TEXT made printable. */
static void
probe_line(const char *word, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
probe_line(const char *word, const char *fmt, ...)
{
	va_list	 ap;
	char	*text = NULL, *p;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	p = client_printable(text != NULL ? text : "?");
	printf("%-8s %s\n", word, p != NULL ? p : "?");
	free(p);
	free(text);
}

/* Array of strings joined by ", " (before escaping); malloc'd. */
static char *
probe_join(json_t *arr)
{
	json_t	*v;
	size_t	 i;
	char	*out = strdup(""), *next;

	json_array_foreach(arr, i, v) {
		next = ph_asprintf("%s%s%s", out != NULL ? out : "", i > 0 ? ", " : "",
		    json_string_value(v) != NULL ? json_string_value(v) : "?");
		free(out);
		out = next;
	}
	return out;
}

static int
probe_print(json_t *doc)
{
	json_t	*dns = json_object_get(doc, "dns"), *res = json_object_get(doc, "resolver");
	json_t	*tls = json_object_get(doc, "tls"), *http = json_object_get(doc, "http"), *a;
	char	*s, *ns;
	size_t	 i;

	ns = probe_join(json_object_get(res, "nameservers"));
	if (json_is_object(dns)) {
		if (json_is_string(json_object_get(dns, "error")))
			probe_line("dns", "%s: %s after %.1f ms (nameservers: %s)",
			    probe_str(doc, "host", "?"), probe_str(dns, "error", "?"),
			    json_number_value(json_object_get(dns, "ms")),
			    ns != NULL && *ns != '\0' ? ns : "none in /etc/resolv.conf");
		else {
			s = probe_join(json_object_get(dns, "addresses"));
			probe_line("dns", "%s -> %s in %.1f ms (nameservers: %s)",
			    probe_str(doc, "host", "?"), s != NULL ? s : "?",
			    json_number_value(json_object_get(dns, "ms")),
			    ns != NULL && *ns != '\0' ? ns : "none in /etc/resolv.conf");
			free(s);
		}
	} else
		probe_line("dns", "%s is an address: no lookup", probe_str(doc, "host", "?"));
	free(ns);
	json_array_foreach(json_object_get(doc, "connect"), i, a) {
		const char *ad = probe_str(a, "address", "?");
		int v6 = strchr(ad, ':') != NULL;

		if (strcmp(probe_str(a, "result", ""), "connected") == 0)
			probe_line("connect", "%s%s%s:%lld connected in %.1f ms", v6 ? "[" : "",
			    ad, v6 ? "]" : "",
			    (long long)json_integer_value(json_object_get(doc, "port")),
			    json_number_value(json_object_get(a, "ms")));
		else
			probe_line("connect", "%s%s%s:%lld %s after %.1f ms: %s", v6 ? "[" : "",
			    ad, v6 ? "]" : "",
			    (long long)json_integer_value(json_object_get(doc, "port")),
			    probe_str(a, "result", "?"), json_number_value(json_object_get(a, "ms")),
			    probe_str(a, "error", "?"));
	}
	if (json_is_object(tls)) {
		if (json_is_string(json_object_get(tls, "error")))
			probe_line("tls", "failed after %.1f ms: %s",
			    json_number_value(json_object_get(tls, "ms")),
			    probe_str(tls, "error", "?"));
		else {
			probe_line("tls", "%s %s in %.1f ms", probe_str(tls, "version", "?"),
			    probe_str(tls, "cipher", "?"),
			    json_number_value(json_object_get(tls, "ms")));
			probe_line("subject", "%s", probe_str(tls, "subject", "?"));
			s = probe_join(json_object_get(tls, "names"));
			probe_line("names", "%s", s != NULL && *s != '\0' ? s : "(none)");
			free(s);
			probe_line("issuer", "%s", probe_str(tls, "issuer", "?"));
			probe_line("expires", "%s (in %lld days)", probe_str(tls, "not_after", "?"),
			    (long long)json_integer_value(json_object_get(tls, "expires_in_days")));
			if (json_is_true(json_object_get(tls, "verified")))
				probe_line("verified", "yes, for %s", probe_str(doc, "host", "?"));
			else
				probe_line("verified", "no: %s (against the image's CA bundle)",
				    probe_str(tls, "verify_error", "?"));
		}
	}
	if (json_is_object(http)) {
		if (json_is_integer(json_object_get(http, "status")))
			probe_line("http", "%s, first byte after %.1f ms",
			    probe_str(http, "status_line", "?"),
			    json_number_value(json_object_get(http, "ttfb_ms")));
		else
			probe_line("http", "%s%s%s", probe_str(http, "error", "?"),
			    *probe_str(http, "status_line", "") != '\0' ? ": " : "",
			    probe_str(http, "status_line", ""));
	}
	probe_line("result", "%s", probe_str(doc, "outcome", "?"));
	return client_out_flush();
}

static int
cmd_probe_exec(struct client_conf *conf, int argc, char **argv)
{
	struct ph_probe_dest d;
	const char	*target = NULL, *dest = NULL;
	json_t		*members, *doc;
	char		*cause = NULL;
	int64_t		 timeout = 5000;
	int		 i, r, json = 0, tls = 0;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--json") == 0)
			json = 1;
		else if (strcmp(a, "--tls") == 0)
			tls = 1;
		else if (strcmp(a, "--timeout") == 0) {
			if (i + 1 >= argc)
				return cmd_usage_error(&cmd_probe_entry, "--timeout needs a duration");
			if (ph_duration_parse(argv[++i], &timeout, &cause) != 0) {
				r = cmd_usage_error(&cmd_probe_entry, "--timeout: %s", cause);
				free(cause);
				return r;
			}
			if (timeout < 100 || timeout > 60000)
				return cmd_usage_error(&cmd_probe_entry, "--timeout must be between "
				    "100ms and 60s");
		} else if (a[0] == '-' && a[1] != '\0') {
			if ((r = cmd_conf_option(&cmd_probe_entry, conf, argc, argv, &i)) != 0)
				return r;
		} else if (target == NULL)
			target = a;
		else if (dest == NULL)
			dest = a;
		else
			return cmd_usage_error(&cmd_probe_entry, "unexpected argument '%s'", a);
	}
	if (target == NULL || dest == NULL)
		return cmd_usage_error(&cmd_probe_entry, "missing %s", target == NULL ?
		    "TARGET" : "HOST:PORT or URL");
	if (strlen(dest) > 2048)
		return cmd_usage_error(&cmd_probe_entry, "the destination is longer than "
		    "2048 bytes");
	if (ph_probe_dest_parse(dest, tls, &d, &cause) != 0) {
		r = cmd_usage_error(&cmd_probe_entry, "%s: %s", dest, cause);
		free(cause);
		return r;
	}
	if ((members = json_pack("{s:s, s:b, s:I}", "dest", dest, "tls", tls,
	    "timeout_ms", (json_int_t)timeout)) == NULL)
		return cmd_failf("out of memory");
	if ((r = client_doc_run(conf, target, "probe", members, PROBE_DOC_MAX, "probe result",
	    &doc)) != 0)
		return r;
	r = client_doc_print(doc, json, JSON_REAL_PRECISION(10), probe_print);
	if (r == 0 && !json_is_true(json_object_get(doc, "ok")))
		r = 1;
	json_decref(doc);
	return r;
}

const struct cmd_entry cmd_probe_entry = {
	.name = "probe",
	.alias = NULL,
	.usage = "TARGET HOST:PORT|URL [--tls] [--timeout DUR] [--json]",
	.about = "can the task reach HOST:PORT or a URL? DNS, connect, TLS, HTTP, timed",
	.exec = cmd_probe_exec,
	.flags = CMD_TARGET,
	.description = "Reach HOST:PORT, or an http:// or https:// URL, from "
	    "inside the task's network with the task's own resolver "
	    "configuration (/etc/hosts and /etc/resolv.conf of the agent's "
	    "image), with nothing installed there: the DNS answers and their "
	    "time, the TCP connect time, refused (nothing listens) told apart "
	    "from timed out (dropped by a firewall or security group), for TLS "
	    "the handshake time and the certificate's subject, names, issuer "
	    "and expiry, for URLs the status line and the time to first byte. "
	    "Exit status 0 when every step succeeded, 1 when it stopped short "
	    "(the last line says where), 255 when porthole failed. An IPv6 "
	    "address goes in brackets: [fd00::1]:5432.",
	.options = (const struct ph_help_opt[]){
		{ "--tls", NULL, NULL, "a TLS handshake after connecting to HOST:PORT "
		    "(https:// URLs always do one)" },
		{ "--timeout", NULL, "DUR", "the bound of each step: DNS, each connect, "
		    "the handshake, the first byte (default 5s, from 100ms to 60s)" },
		{ "--json", NULL, NULL, "the agent's document as JSON: resolver, dns, "
		    "connect attempts, tls, http, outcome, ok" },
		{ NULL, NULL, NULL, NULL }
	},
};
