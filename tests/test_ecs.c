/* test_ecs.c - ECS task metadata v4: URL, HTTP answer, labels and id. */
#include <string.h>
#include <stdlib.h>

#include <criterion/criterion.h>

#include "porthole/ecs.h"
#include "porthole/util.h"

/* Shaped like AWS's documented v4 responses (Fargate). */
static const char *container_doc =
    "{\"DockerId\": \"cd189a933e5849daa93386466019ab50-2495160603\","
    " \"Name\": \"curl\", \"DockerName\": \"curl\", \"Image\": \"111122223333.dkr.ecr"
    ".us-west-2.amazonaws.com/curltest:latest\", \"Labels\": {"
    " \"com.amazonaws.ecs.cluster\": \"arn:aws:ecs:us-west-2:111122223333:cluster/default\","
    " \"com.amazonaws.ecs.container-name\": \"curl\"}, \"DesiredStatus\": \"RUNNING\","
    " \"KnownStatus\": \"RUNNING\", \"Limits\": {\"CPU\": 10, \"Memory\": 128}}";
static const char *task_doc =
    "{\"Cluster\": \"arn:aws:ecs:us-west-2:111122223333:cluster/default\","
    " \"TaskARN\": \"arn:aws:ecs:us-west-2:111122223333:task/default/"
    "cd189a933e5849daa93386466019ab50\", \"Family\": \"curltest\", \"Revision\": \"2\","
    " \"DesiredStatus\": \"RUNNING\", \"KnownStatus\": \"RUNNING\","
    " \"AvailabilityZone\": \"us-west-2d\", \"LaunchType\": \"FARGATE\","
    " \"Containers\": []}";

static json_t *
labels_of(const char *c, const char *t, char **cause)
{
	return ph_ecs_labels(c, strlen(c), t, strlen(t), cause);
}

static const char *
lab(json_t *l, const char *k)
{
	return json_string_value(json_object_get(l, k));
}

Test(ecs, labels_from_documented_format)
{
	char	*cause = NULL, *id;
	json_t	*l = labels_of(container_doc, task_doc, &cause);

	cr_assert_not_null(l, "%s", cause);
	cr_assert_str_eq(lab(l, "cluster"), "default");
	cr_assert_str_eq(lab(l, "family"), "curltest");
	cr_assert_str_eq(lab(l, "revision"), "2");
	cr_assert_str_eq(lab(l, "task"), "cd189a933e5849daa93386466019ab50");
	cr_assert_str_eq(lab(l, "container"), "curl");
	cr_assert_str_eq(lab(l, "az"), "us-west-2d");
	cr_assert_str_eq(lab(l, "launch_type"), "FARGATE");
	id = ph_ecs_id(l);
	cr_assert_str_eq(id, "cd189a933e5849daa93386466019ab50/curl");
	free(id);
	json_decref(l);
}

Test(ecs, short_cluster_name_integer_revision_optional_missing)
{
	char	*cause = NULL;
	json_t	*l = labels_of("{\"Name\": \"app\"}",
	    "{\"Cluster\": \"prod\", \"TaskARN\": \"arn:aws:ecs:r:1:task/abc123\","
	    " \"Family\": \"api\", \"Revision\": 7}", &cause);

	cr_assert_not_null(l, "%s", cause);
	cr_assert_str_eq(lab(l, "cluster"), "prod");
	cr_assert_str_eq(lab(l, "revision"), "7");
	cr_assert_str_eq(lab(l, "task"), "abc123");
	cr_assert_null(json_object_get(l, "az"));
	cr_assert_null(json_object_get(l, "launch_type"));
	json_decref(l);
}

Test(ecs, malformed_refused_with_cause)
{
	static const struct { const char *c, *t, *want; } cases[] = {
		{ "not json", "{}", "container metadata" },
		{ "{\"Name\": \"a\"}", "[1]", "task metadata" },
		{ "{\"Name\": \"a\"}", "{\"Family\": \"f\"}", "task" },
		{ "{}", "{\"TaskARN\": \"t/x\", \"Family\": \"f\"}", "container" },
		{ "{\"Name\": \"a\"}", "{\"TaskARN\": \"t/x\"}", "family" },
		{ "{\"Name\": \"a,b=c\"}", "{\"TaskARN\": \"t/x\", \"Family\": \"f\"}",
		    "container" },
		{ "{\"Name\": \"a\"}", "{\"TaskARN\": \"t/\", \"Family\": \"f\"}", "task" },
		{ "{\"Name\": 5}", "{\"TaskARN\": \"t/x\", \"Family\": \"f\"}", "container" },
	};
	size_t	i;
	char	*cause;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cause = NULL;
		cr_assert_null(labels_of(cases[i].c, cases[i].t, &cause), "case %zu", i);
		cr_assert_not_null(cause);
		cr_assert(strstr(cause, cases[i].want) != NULL, "case %zu: %s", i, cause);
		free(cause);
	}
}

Test(ecs, unusable_optional_values_left_out)
{
	char	*cause = NULL;
	char	 big[400];
	json_t	*l;
	char	*t;

	memset(big, 'z', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	t = ph_asprintf("{\"TaskARN\": \"t/x\", \"Family\": \"f\", \"AvailabilityZone\": "
	    "\"%s\", \"LaunchType\": \"a\\u0001b\"}", big);
	l = labels_of("{\"Name\": \"a\"}", t, &cause);
	cr_assert_not_null(l, "%s", cause);
	cr_assert_null(json_object_get(l, "az"));
	cr_assert_null(json_object_get(l, "launch_type"));
	json_decref(l);
	free(t);
}

Test(ecs, url)
{
	struct ph_ecs_url	 u;
	char			*cause = NULL;

	cr_assert_eq(ph_ecs_url_parse("http://169.254.170.2/v4/abc-123", &u, &cause), 0);
	cr_assert_str_eq(u.host, "169.254.170.2");
	cr_assert_eq(u.port, 80);
	cr_assert_str_eq(u.path, "/v4/abc-123");
	cr_assert_eq(ph_ecs_url_parse("http://127.0.0.1:8123", &u, &cause), 0);
	cr_assert_eq(u.port, 8123);
	cr_assert_str_eq(u.path, "/");
	cr_assert_eq(ph_ecs_url_parse("https://x/", &u, &cause), -1);
	free(cause);
	cause = NULL;
	cr_assert_eq(ph_ecs_url_parse("http://x:99999/", &u, &cause), -1);
	free(cause);
	cause = NULL;
	cr_assert_eq(ph_ecs_url_parse("http://:80/", &u, &cause), -1);
	free(cause);
	cause = NULL;
	cr_assert_eq(ph_ecs_url_parse("http://x/a b", &u, &cause), -1);
	free(cause);
}

Test(ecs, http_body)
{
	const char	*ok = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"a\":1}";
	const char	*body, *nf = "HTTP/1.0 404 Not Found\r\n\r\nno";
	size_t		 blen;
	char		*cause = NULL;

	cr_assert_eq(ph_ecs_http_body(ok, strlen(ok), &body, &blen, &cause), 0);
	cr_assert_eq(blen, 7);
	cr_assert_eq(memcmp(body, "{\"a\":1}", 7), 0);
	cr_assert_eq(ph_ecs_http_body(nf, strlen(nf), &body, &blen, &cause), -1);
	cr_assert(strstr(cause, "404") != NULL);
	free(cause);
	cause = NULL;
	cr_assert_eq(ph_ecs_http_body("HTTP/1.1 200 OK\r\n", 17, &body, &blen, &cause), -1);
	free(cause);
	cause = NULL;
	cr_assert_eq(ph_ecs_http_body("SSH-2.0", 7, &body, &blen, &cause), -1);
	free(cause);
}

/* --container: the task's containers, and cgroup paths that name them. */
Test(ecs, containers_list)
{
	static const char *doc =
	    "{\"TaskARN\": \"arn:aws:ecs:us-west-2:1:task/d/t\", \"Containers\": ["
	    " {\"DockerId\": \"abc123\", \"Name\": \"app\"},"
	    " {\"Name\": \"noid\"},"
	    " {\"DockerId\": \"t-99\", \"Name\": \"~internal~ecs~pause\"}]}";
	char	*cause = NULL;
	json_t	*l = ph_ecs_containers(doc, strlen(doc), &cause);

	cr_assert_not_null(l, "%s", cause);
	cr_assert_eq(json_array_size(l), 2);
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(l, 0), "name")), "app");
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(l, 0), "docker_id")),
	    "abc123");
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(l, 1), "docker_id")),
	    "t-99");
	json_decref(l);
	cr_expect_null(ph_ecs_containers("{}", 2, &cause));
	free(cause);
	cr_expect_null(ph_ecs_containers("nope", 4, &cause));
	free(cause);
}

Test(ecs, cgroup_match)
{
	/* cgroup v1 on EC2 (ECS agent), Fargate, v2 with systemd, plain docker. */
	static const char *v1 =
	    "12:memory:/ecs/5a3c1e0f/3c01e5b7d2f6a1e4\n"
	    "11:cpu,cpuacct:/ecs/5a3c1e0f/3c01e5b7d2f6a1e4\n";
	static const char *fargate =
	    "9:memory:/ecs/cd189a93/cd189a93-2495160603\n";
	static const char *v2 = "0::/system.slice/docker-3c01e5b7d2f6a1e4.scope\n";
	static const char *host = "0::/user.slice/user-0.slice/session-3.scope\n";

	cr_expect_eq(ph_ecs_cgroup_match(v1, strlen(v1), "3c01e5b7d2f6a1e4"), 1);
	cr_expect_eq(ph_ecs_cgroup_match(fargate, strlen(fargate), "cd189a93-2495160603"), 1);
	cr_expect_eq(ph_ecs_cgroup_match(v2, strlen(v2), "3c01e5b7d2f6a1e4"), 1);
	/* A prefix or a part of another id is not a match. */
	cr_expect_eq(ph_ecs_cgroup_match(v1, strlen(v1), "3c01e5b7"), 0);
	cr_expect_eq(ph_ecs_cgroup_match(v1, strlen(v1), "01e5b7d2f6a1e4"), 0);
	cr_expect_eq(ph_ecs_cgroup_match(fargate, strlen(fargate), "2495160603x"), 0);
	/* The task's own directory is not the container. */
	cr_expect_eq(ph_ecs_cgroup_match(fargate, strlen(fargate), "cd189a93-24951"), 0);
	cr_expect_eq(ph_ecs_cgroup_match(host, strlen(host), "3c01e5b7d2f6a1e4"), 0);
	/* Only the path: the controller list is not searched. */
	cr_expect_eq(ph_ecs_cgroup_match(v1, strlen(v1), "memory"), 0);
	cr_expect_eq(ph_ecs_cgroup_match(v1, strlen(v1), ""), 0);
	cr_expect_eq(ph_ecs_cgroup_match(v1, 10, "3c01e5b7d2f6a1e4"), 0);
}

/* The relay's default --advertise: the task's private IPv4 (awsvpc). */
Test(ecs, ipv4_from_container)
{
	const char *doc = "{\"Name\":\"relay\",\"Networks\":[{\"NetworkMode\":\"awsvpc\","
	    "\"IPv4Addresses\":[\"10.0.2.106\"]}]}";
	char ip[64], *cause = NULL;

	cr_assert_eq(ph_ecs_ipv4(doc, strlen(doc), ip, sizeof ip, &cause), 0);
	cr_assert_str_eq(ip, "10.0.2.106");
	doc = "{\"Networks\":[{\"IPv4Addresses\":[\"10.0.2.106; rm\"]}]}";
	cr_assert_eq(ph_ecs_ipv4(doc, strlen(doc), ip, sizeof ip, &cause), -1);
	free(cause);
	cause = NULL;
	doc = "{\"Name\":\"relay\"}";
	cr_assert_eq(ph_ecs_ipv4(doc, strlen(doc), ip, sizeof ip, &cause), -1);
	free(cause);
	cause = NULL;
	cr_assert_eq(ph_ecs_ipv4("nope", 4, ip, sizeof ip, &cause), -1);
	free(cause);
}
