/*
 * s3-creds.c - the relay's AWS credentials: from the environment
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), or from the
 * ECS container credentials endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
 * on 169.254.170.2, or AWS_CONTAINER_CREDENTIALS_FULL_URI with
 * AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE]), whose JSON document gives
 * AccessKeyId, SecretAccessKey, Token and Expiration; fetched again
 * `margin` seconds before that expiration (half-way through the life of
 * credentials that live less than twice that).  Runs on the S3 worker thread:
 * the fetch blocks it (5 s at most), never the relay's loop.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "porthole/printable.h"
#include "porthole/util.h"
#include "s3-int.h"

#define ECS_HOST	"http://169.254.170.2"

static char *
envdup(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? ph_asprintf("%s", v) : NULL;
}

/* http:// only to the hosts AWS's SDKs allow it for: loopback and ECS/EKS. */
static int
full_uri_ok(const char *u)
{
	static const char *http_ok[] = {
		"http://127.", "http://localhost:", "http://localhost/",
		"http://[::1]", "http://169.254.170.2:", "http://169.254.170.2/",
		"http://169.254.170.23:", "http://169.254.170.23/",
	};
	size_t i;

	if (strncmp(u, "https://", 8) == 0)
		return 1;
	for (i = 0; i < sizeof http_ok / sizeof http_ok[0]; i++)
		if (strncmp(u, http_ok[i], strlen(http_ok[i])) == 0)
			return 1;
	return 0;
}

int
s3_credsrc_init(struct s3_credsrc *s, int margin, size_t max_reply, char **cause)
{
	char *rel, *full;

	memset(s, 0, sizeof *s);
	s->margin = margin;
	s->max_reply = max_reply;
	s->cur.akid = envdup("AWS_ACCESS_KEY_ID");
	s->cur.secret = envdup("AWS_SECRET_ACCESS_KEY");
	if (s->cur.akid != NULL && s->cur.secret != NULL) {
		s->cur.token = envdup("AWS_SESSION_TOKEN");
		s->from_env = 1;
		return 0;
	}
	s3_creds_clear(&s->cur);
	rel = envdup("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	full = envdup("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	if (rel != NULL) {
		s->url = ph_asprintf("%s%s%s", ECS_HOST, rel[0] == '/' ? "" : "/", rel);
		free(rel);
		free(full);
	} else if (full != NULL) {
		if (!full_uri_ok(full)) {
			free(full);
			*cause = ph_asprintf("AWS_CONTAINER_CREDENTIALS_FULL_URI: "
			    "http:// only to loopback or 169.254.170.2, else https://");
			return -1;
		}
		s->url = full;
		s->auth = envdup("AWS_CONTAINER_AUTHORIZATION_TOKEN");
		if (s->auth == NULL)
			s->auth_file = envdup("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	} else {
		*cause = ph_asprintf("no AWS credentials: set AWS_ACCESS_KEY_ID and "
		    "AWS_SECRET_ACCESS_KEY, or run where "
		    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is set (an ECS task role)");
		return -1;
	}
	return 0;
}

void
s3_creds_clear(struct s3_creds *c)
{
	if (c->secret != NULL)
		explicit_bzero(c->secret, strlen(c->secret));
	if (c->token != NULL)
		explicit_bzero(c->token, strlen(c->token));
	free(c->akid);
	free(c->secret);
	free(c->token);
	memset(c, 0, sizeof *c);
}

void
s3_credsrc_clear(struct s3_credsrc *s)
{
	s3_creds_clear(&s->cur);
	free(s->url);
	if (s->auth != NULL)
		explicit_bzero(s->auth, strlen(s->auth));
	free(s->auth);
	free(s->auth_file);
	memset(s, 0, sizeof *s);
}

/* 2026-12-06T01:02:03Z (fractions allowed) to seconds since the epoch. */
static int
parse_time(const char *s, int64_t *out)
{
	struct tm	 tm;
	const char	*end;

	memset(&tm, 0, sizeof tm);
	if ((end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return -1;
	if (*end == '.')
		for (end++; *end >= '0' && *end <= '9'; end++)
			;
	if (strcmp(end, "Z") != 0 && strcmp(end, "+00:00") != 0)
		return -1;
	*out = (int64_t)timegm(&tm);
	return 0;
}

int
s3_creds_parse(const char *json, size_t len, struct s3_creds *out, char **cause)
{
	json_t		*doc;
	json_error_t	 err;
	const char	*akid = NULL, *secret = NULL, *token = NULL, *exp = NULL;

	memset(out, 0, sizeof *out);
	if ((doc = json_loadb(json, len, 0, &err)) == NULL) {
		*cause = ph_asprintf("the credentials endpoint's reply is not JSON");
		return -1;
	}
	if (json_unpack(doc, "{s:s, s:s, s?s, s?s}", "AccessKeyId", &akid,
	    "SecretAccessKey", &secret, "Token", &token, "Expiration", &exp) != 0 ||
	    *akid == '\0' || *secret == '\0') {
		json_decref(doc);
		*cause = ph_asprintf("the credentials endpoint's reply lacks "
		    "AccessKeyId or SecretAccessKey");
		return -1;
	}
	if (exp != NULL && parse_time(exp, &out->expiry) != 0) {
		char *p = ph_printable(exp);

		json_decref(doc);
		*cause = ph_asprintf("the credentials' Expiration '%.40s' is not "
		    "YYYY-MM-DDTHH:MM:SSZ", p);
		free(p);
		return -1;
	}
	out->akid = ph_asprintf("%s", akid);
	out->secret = ph_asprintf("%s", secret);
	out->token = token != NULL && *token != '\0' ? ph_asprintf("%s", token) : NULL;
	json_decref(doc);
	return 0;
}

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	return s3_reply_add(arg, p, size * n);
}

static int
fetch(struct s3_credsrc *s, char **cause)
{
	struct s3_reply		 r = { .max = s->max_reply };
	struct s3_creds		 c;
	struct curl_slist	*h = NULL;
	char			 errbuf[CURL_ERROR_SIZE] = "";
	char			*auth = NULL, *hdr, *e;
	CURL			*easy;
	CURLcode		 rc;
	long			 status = 0;
	int			 ret = -1;

	if (s->auth != NULL)
		auth = ph_asprintf("%s", s->auth);
	else if (s->auth_file != NULL) {
		size_t len;

		if ((auth = ph_read_file(s->auth_file, 16384, &len, &e)) == NULL) {
			*cause = ph_asprintf("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: %s", e);
			free(e);
			return -1;
		}
		while (len > 0 && (auth[len - 1] == '\n' || auth[len - 1] == '\r'))
			auth[--len] = '\0';
	}
	if (auth != NULL) {
		if (strpbrk(auth, "\r\n") != NULL) {
			free(auth);
			*cause = ph_asprintf("the container authorization token has a newline");
			return -1;
		}
		hdr = ph_asprintf("Authorization: %s", auth);
		h = curl_slist_append(h, hdr);
		explicit_bzero(hdr, strlen(hdr));
		free(hdr);
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	if ((easy = curl_easy_init()) == NULL)
		abort();
	curl_easy_setopt(easy, CURLOPT_URL, s->url);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
	rc = curl_easy_perform(easy);
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	s->fetches++;
	if (r.too_big)
		*cause = ph_asprintf("the credentials endpoint: a reply longer than "
		    "%zu bytes (dropped)", r.max);
	else if (rc != CURLE_OK)
		*cause = ph_asprintf("the credentials endpoint: %s",
		    errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
	else if (status != 200)
		*cause = ph_asprintf("the credentials endpoint: HTTP %ld", status);
	else if (s3_creds_parse(r.buf != NULL ? r.buf : "", r.len, &c, &e) != 0) {
		*cause = e;
	} else {
		s3_creds_clear(&s->cur);
		s->cur = c;
		s->fetched_at = ph_now();
		ret = 0;
	}
	if (r.buf != NULL)
		explicit_bzero(r.buf, r.len);
	s3_reply_clear(&r);
	curl_easy_cleanup(easy);
	curl_slist_free_all(h);
	return ret;
}

const struct s3_creds *
s3_creds_current(struct s3_credsrc *s, char **cause)
{
	int64_t	margin = s->margin;

	if (s->from_env)
		return &s->cur;
	/*
	 * Credentials that live less than twice the margin (a test's, a
	 * short session's) are refreshed half-way, not before every request.
	 */
	if (s->cur.expiry != 0 && (s->cur.expiry - s->fetched_at) / 2 < margin)
		margin = (s->cur.expiry - s->fetched_at) / 2;
	if (s->cur.akid == NULL || (s->cur.expiry != 0 &&
	    ph_now() + margin >= s->cur.expiry)) {
		if (fetch(s, cause) != 0)
			return NULL;
	}
	return &s->cur;
}
