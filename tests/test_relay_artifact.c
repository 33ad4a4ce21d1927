/*
 * test_relay_artifact.c - the relay's artifact store (relay-artifact.c) over
 * its directory backend (relay-artifact-dir.c): what an upload measures
 * (size and sha256 of the decompressed capture), when it is incomplete (the
 * agent says so, the stream is cut, its zstd frame does not end, a bound
 * is passed), what a restart finds, and who sees what.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <zstd.h>

#include "porthole/selector.h"
#include "relay-artifact.h"

/* relay-auth.c's, without the relay: the token's target against the labels. */
int
relay_auth_may_touch(const struct ph_claims *cl, json_t *agent)
{
	char	*cause = NULL;
	int	 m;

	if (cl->target == NULL)
		return 1;
	m = ph_selector_match(cl->target, agent, &cause);
	free(cause);
	return m > 0;
}

static char dir[64];
static uint8_t *plain, *packed;
static size_t plain_len = 3 * 1024 * 1024 + 17, packed_len;
static char plain_sha[65];

static void
setup(void)
{
	EVP_MD_CTX	*md = EVP_MD_CTX_new();
	uint8_t		 h[32];
	unsigned	 n, i;

	snprintf(dir, sizeof dir, "/tmp/ph-art-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	plain = malloc(plain_len);
	for (i = 0; i < plain_len; i++)
		plain[i] = (uint8_t)(i % 251 < 100 ? 0 : i * 7);
	packed = malloc(ZSTD_compressBound(plain_len));
	packed_len = ZSTD_compress(packed, ZSTD_compressBound(plain_len), plain, plain_len, 1);
	cr_assert(!ZSTD_isError(packed_len));
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	EVP_DigestUpdate(md, plain, plain_len);
	EVP_DigestFinal_ex(md, h, &n);
	for (i = 0; i < 32; i++)
		snprintf(plain_sha + 2 * i, 3, "%02x", h[i]);
	EVP_MD_CTX_free(md);
}

static void
teardown(void)
{
	char cmd[128];

	relay_artifact_cleanup();
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	(void)system(cmd);
	free(plain);
	free(packed);
}

static json_t *
who(const char *agent, const char *env)
{
	return json_pack("{s:s, s:s, s:s, s:{s:s}}", "agent", agent, "name", "api",
	    "sub", "tasks", "labels", "env", env);
}

/* Upload p[0..n) in pieces of 65536 with end {complete}; the stored metadata. */
static json_t *
upload(const char *agent, const char *env, const uint8_t *p, size_t n, int complete,
    char **cause)
{
	json_t				*w = who(agent, env);
	json_t				*desc = json_pack("{s:s, s:i, s:s, s:s}", "kind", "core",
	    "pid", 42, "process", "api", "trigger", "rss-above 50%");
	json_t				*end = json_pack("{s:b, s:s}", "complete", complete,
	    "mode", "snapshot"), *m = NULL;
	struct relay_artifact_up	*u = relay_artifact_begin(w, desc, cause);
	size_t				 off, k;

	if (u != NULL) {
		for (off = 0; off < n; off += k) {
			k = n - off < 65536 ? n - off : 65536;
			if (relay_artifact_data(u, p + off, k, cause) != 0) {
				relay_artifact_cut(u, *cause);
				u = NULL;
				break;
			}
		}
		if (u != NULL)
			m = relay_artifact_end(u, end, cause);
	}
	json_decref(w);
	json_decref(desc);
	json_decref(end);
	return m;
}

TestSuite(relay_artifact, .init = setup, .fini = teardown);

Test(relay_artifact, a_whole_upload_is_measured_and_survives_a_restart)
{
	char		*cause = NULL;
	json_t		*m, *list;
	struct ph_claims all = { 0 };
	struct relay_artifact_rd *r;
	uint8_t		 buf[65536];
	size_t		 got = 0;
	ssize_t		 n;

	cr_assert_eq(relay_artifact_init(dir, 1ULL << 30, 1ULL << 30, &cause), 0, "%s", cause);
	m = upload("api@tasks", "prod", packed, packed_len, 1, &cause);
	cr_assert_not_null(m, "%s", cause);
	cr_assert(json_is_true(json_object_get(m, "complete")));
	cr_assert_eq(json_integer_value(json_object_get(m, "size")), (json_int_t)plain_len);
	cr_assert_str_eq(json_string_value(json_object_get(m, "sha256")), plain_sha);
	cr_assert_eq(json_integer_value(json_object_get(m, "stored_bytes")), (json_int_t)packed_len);
	cr_assert_str_eq(json_string_value(json_object_get(m, "agent")), "api@tasks");
	r = relay_artifact_open(json_string_value(json_object_get(m, "id")), NULL, NULL, &cause);
	cr_assert_not_null(r, "%s", cause);
	while ((n = relay_artifact_read(r, buf, sizeof buf)) > 0) {
		cr_assert(memcmp(buf, packed + got, (size_t)n) == 0);
		got += (size_t)n;
	}
	cr_assert_eq(got, packed_len);
	relay_artifact_close(r);

	/* A restart finds it, and nothing half-written. */
	relay_artifact_cleanup();
	cr_assert_eq(relay_artifact_init(dir, 1ULL << 30, 1ULL << 30, &cause), 0, "%s", cause);
	list = relay_artifact_list(&all, NULL, &cause);
	cr_assert_eq(json_array_size(list), 1);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "sha256")),
	    plain_sha);
	json_decref(list);
	json_decref(m);
}

Test(relay_artifact, incomplete_when_the_agent_says_so_or_the_frame_does_not_end)
{
	char	*cause = NULL;
	json_t	*m;

	cr_assert_eq(relay_artifact_init(dir, 1ULL << 30, 1ULL << 30, &cause), 0, "%s", cause);
	m = upload("api@tasks", "prod", packed, packed_len, 0, &cause);
	cr_assert_not(json_is_true(json_object_get(m, "complete")));
	json_decref(m);
	/* The agent claims complete; the stream stops before its frame ends. */
	m = upload("api@tasks", "prod", packed, packed_len / 2, 1, &cause);
	cr_assert_not_null(m, "%s", cause);
	cr_assert_not(json_is_true(json_object_get(m, "complete")));
	cr_assert_not_null(strstr(json_string_value(json_object_get(m, "error")),
	    "ended before its zstd frame"));
	json_decref(m);
	/* Not zstd at all. */
	m = upload("api@tasks", "prod", plain, 100000, 1, &cause);
	cr_assert_not(json_is_true(json_object_get(m, "complete")));
	cr_assert_not_null(strstr(json_string_value(json_object_get(m, "error")), "zstd"));
	json_decref(m);
}

Test(relay_artifact, bounds_cut_and_refuse)
{
	char			*cause = NULL;
	json_t			*m, *list;
	struct ph_claims	 all = { 0 };

	/* The agent's quota is half the stream: cut there, stored incomplete. */
	cr_assert_eq(relay_artifact_init(dir, 1ULL << 30, packed_len / 2, &cause), 0, "%s",
	    cause);
	m = upload("api@tasks", "prod", packed, packed_len, 1, &cause);
	cr_assert_null(m);
	cr_assert_not_null(strstr(cause, "quota"), "%s", cause);
	free(cause);
	cause = NULL;
	list = relay_artifact_list(&all, NULL, &cause);
	cr_assert_eq(json_array_size(list), 1);
	m = json_array_get(list, 0);
	cr_assert_not(json_is_true(json_object_get(m, "complete")));
	cr_assert_not_null(strstr(json_string_value(json_object_get(m, "error")), "quota"));
	json_decref(list);
	/* Its quota nearly used, the next upload of that agent is cut too... */
	cr_assert_null(upload("api@tasks", "prod", packed, packed_len, 1, &cause));
	cr_assert_not_null(strstr(cause, "quota"), "%s", cause);
	free(cause);
	cause = NULL;
	/* ... another agent's is not. */
	m = upload("web@tasks", "prod", packed, packed_len / 4, 1, &cause);
	cr_assert_not_null(m, "%s", cause);
	json_decref(m);
}

Test(relay_artifact, a_token_sees_only_its_target_and_rm_forgets)
{
	char			*cause = NULL;
	json_t			*m, *list;
	struct ph_claims	 staging = { .target = "env=staging" }, all = { 0 };
	const char		*id;

	cr_assert_eq(relay_artifact_init(dir, 1ULL << 30, 1ULL << 30, &cause), 0, "%s", cause);
	m = upload("api@tasks", "prod", packed, packed_len, 1, &cause);
	id = json_string_value(json_object_get(m, "id"));
	list = relay_artifact_list(&staging, NULL, &cause);
	cr_assert_eq(json_array_size(list), 0);
	json_decref(list);
	cr_assert_null(relay_artifact_get(&staging, id));
	cr_assert_not_null(relay_artifact_get(&all, id));
	list = relay_artifact_list(&all, "env=prod", &cause);
	cr_assert_eq(json_array_size(list), 1);
	json_decref(list);
	cr_assert_eq(relay_artifact_rm(id, NULL, NULL, &cause), 0, "%s", cause);
	cr_assert_null(relay_artifact_get(&all, id));
	relay_artifact_cleanup();
	cr_assert_eq(relay_artifact_init(dir, 1ULL << 30, 1ULL << 30, &cause), 0, "%s", cause);
	list = relay_artifact_list(&all, NULL, &cause);
	cr_assert_eq(json_array_size(list), 0);
	json_decref(list);
	json_decref(m);
}
