/*
 * ecs.c - parsing the ECS task metadata endpoint v4 (see ecs.h): the URL
 * in ECS_CONTAINER_METADATA_URI_V4, an HTTP/1.x answer, and the container
 * and task documents turned into the agent's labels and id.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "porthole/ecs.h"
#include "porthole/util.h"

int
ph_ecs_url_parse(const char *s, struct ph_ecs_url *u, char **cause)
{
	const char	*h, *end, *colon;
	size_t		 hl;
	long		 port = 80;
	char		*pe;

	memset(u, 0, sizeof *u);
	if (s == NULL || strncmp(s, "http://", 7) != 0) {
		*cause = ph_asprintf("the metadata URI is not http://HOST[:PORT]/PATH");
		return -1;
	}
	h = s + 7;
	end = h + strcspn(h, "/");
	colon = memchr(h, ':', (size_t)(end - h));
	hl = (size_t)((colon != NULL ? colon : end) - h);
	if (hl == 0 || hl >= sizeof u->host) {
		*cause = ph_asprintf("the metadata URI has no usable host");
		return -1;
	}
	memcpy(u->host, h, hl);
	if (colon != NULL) {
		if (colon + 1 == end || !isdigit((unsigned char)colon[1])) {
			*cause = ph_asprintf("the metadata URI has a bad port");
			return -1;
		}
		port = strtol(colon + 1, &pe, 10);
		if (pe != end || port < 1 || port > 65535) {
			*cause = ph_asprintf("the metadata URI has a bad port");
			return -1;
		}
	}
	u->port = (int)port;
	if (*end == '\0')
		end = "/";
	if (strlen(end) >= sizeof u->path || strpbrk(end, " \r\n\t") != NULL) {
		*cause = ph_asprintf("the metadata URI has an unusable path");
		return -1;
	}
	strcpy(u->path, end);
	return 0;
}

int
ph_ecs_http_body(const char *resp, size_t len, const char **body, size_t *blen,
    char **cause)
{
	const char	*p, *eoh = NULL;
	size_t		 i;
	int		 status;

	if (len < 12 || memcmp(resp, "HTTP/1.", 7) != 0 || resp[8] != ' ' ||
	    !isdigit((unsigned char)resp[9]) || !isdigit((unsigned char)resp[10]) ||
	    !isdigit((unsigned char)resp[11])) {
		*cause = ph_asprintf("the metadata endpoint did not answer HTTP");
		return -1;
	}
	status = (resp[9] - '0') * 100 + (resp[10] - '0') * 10 + (resp[11] - '0');
	for (i = 0; i + 3 < len; i++) {
		if (memcmp(resp + i, "\r\n\r\n", 4) == 0) {
			eoh = resp + i + 4;
			break;
		}
	}
	if (eoh == NULL) {
		*cause = ph_asprintf("the metadata endpoint's answer has no end of headers");
		return -1;
	}
	if (status != 200) {
		*cause = ph_asprintf("the metadata endpoint answered status %d", status);
		return -1;
	}
	p = eoh;
	*body = p;
	*blen = len - (size_t)(p - resp);
	return 0;
}

/* A value that can be a label value and is worth keeping. */
static int
ecs_value_ok(const char *v)
{
	size_t	i, n;

	if (v == NULL || (n = strlen(v)) == 0 || n > PH_ECS_VALUE_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f || v[i] == ',' || v[i] == '=')
			return 0;
	}
	return 1;
}

/* After the last '/' (or the last ':' when there is no '/'). */
static const char *
ecs_last(const char *v, int colon_too)
{
	const char	*s = strrchr(v, '/');

	if (s == NULL && colon_too)
		s = strrchr(v, ':');
	return s != NULL ? s + 1 : v;
}

/* Set labels[key] = v when usable; required: fail otherwise. */
static int
ecs_set(json_t *labels, const char *key, const char *v, int required, char **cause)
{
	if (!ecs_value_ok(v)) {
		if (!required)
			return 0;
		*cause = ph_asprintf("the task metadata has no usable %s", key);
		return -1;
	}
	if (json_object_set_new(labels, key, json_string(v)) != 0) {
		*cause = ph_asprintf("out of memory");
		return -1;
	}
	return 0;
}

json_t *
ph_ecs_labels(const char *container, size_t clen, const char *task, size_t tlen,
    char **cause)
{
	json_t		*c = NULL, *t = NULL, *labels = NULL, *rev;
	json_error_t	 err;
	const char	*s, *revs;
	char		 num[32];

	if ((c = json_loadb(container, clen, JSON_REJECT_DUPLICATES, &err)) == NULL ||
	    !json_is_object(c)) {
		*cause = ph_asprintf("the container metadata is not a JSON object");
		goto fail;
	}
	if ((t = json_loadb(task, tlen, JSON_REJECT_DUPLICATES, &err)) == NULL ||
	    !json_is_object(t)) {
		*cause = ph_asprintf("the task metadata is not a JSON object");
		goto fail;
	}
	if ((labels = json_object()) == NULL) {
		*cause = ph_asprintf("out of memory");
		goto fail;
	}
	s = json_string_value(json_object_get(t, "TaskARN"));
	if (ecs_set(labels, "task", s != NULL ? ecs_last(s, 0) : NULL, 1, cause) != 0 ||
	    ecs_set(labels, "container", json_string_value(json_object_get(c, "Name")), 1,
	    cause) != 0 ||
	    ecs_set(labels, "family", json_string_value(json_object_get(t, "Family")), 1,
	    cause) != 0)
		goto fail;
	if ((s = json_string_value(json_object_get(t, "Cluster"))) != NULL)
		s = ecs_last(s, 0);
	rev = json_object_get(t, "Revision");
	revs = json_string_value(rev);
	if (json_is_integer(rev)) {
		snprintf(num, sizeof num, "%lld", (long long)json_integer_value(rev));
		revs = num;
	}
	if (ecs_set(labels, "cluster", s, 0, cause) != 0 ||
	    ecs_set(labels, "revision", revs, 0, cause) != 0 ||
	    ecs_set(labels, "az", json_string_value(json_object_get(t, "AvailabilityZone")),
	    0, cause) != 0 ||
	    ecs_set(labels, "launch_type", json_string_value(json_object_get(t,
	    "LaunchType")), 0, cause) != 0)
		goto fail;
	json_decref(c);
	json_decref(t);
	return labels;
fail:
	json_decref(c);
	json_decref(t);
	json_decref(labels);
	return NULL;
}

char *
ph_ecs_id(json_t *labels)
{
	const char	*task = json_string_value(json_object_get(labels, "task"));
	const char	*cont = json_string_value(json_object_get(labels, "container"));

	if (task == NULL || cont == NULL)
		return NULL;
	return ph_asprintf("%s/%s", task, cont);
}

json_t *
ph_ecs_containers(const char *task, size_t tlen, char **cause)
{
	json_error_t	 jerr;
	json_t		*doc, *list, *out, *c, *e;
	const char	*name, *id;
	size_t		 i;

	if ((doc = json_loadb(task, tlen, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		*cause = ph_asprintf("the task document is not JSON: %s", jerr.text);
		return NULL;
	}
	if (!json_is_array(list = json_object_get(doc, "Containers"))) {
		json_decref(doc);
		*cause = ph_asprintf("the task document has no Containers");
		return NULL;
	}
	if ((out = json_array()) == NULL) {
		json_decref(doc);
		*cause = ph_asprintf("out of memory");
		return NULL;
	}
	json_array_foreach(list, i, c) {
		name = json_string_value(json_object_get(c, "Name"));
		id = json_string_value(json_object_get(c, "DockerId"));
		if (name == NULL || id == NULL || *name == '\0' || *id == '\0' ||
		    strlen(name) > PH_ECS_VALUE_MAX || strlen(id) > PH_ECS_VALUE_MAX)
			continue;
		if ((e = json_pack("{s:s,s:s}", "name", name, "docker_id", id)) == NULL ||
		    json_array_append_new(out, e) != 0) {
			json_decref(out);
			json_decref(doc);
			*cause = ph_asprintf("out of memory");
			return NULL;
		}
	}
	json_decref(doc);
	return out;
}

int
ph_ecs_cgroup_match(const char *cg, size_t len, const char *docker_id)
{
	size_t		 idl = docker_id != NULL ? strlen(docker_id) : 0;
	const char	*end = cg + len, *p, *ls, *c1;
	char		 before, after;

	if (idl == 0 || cg == NULL || len < idl)
		return 0;
	for (p = cg; p + idl <= end; p++) {
		if (memcmp(p, docker_id, idl) != 0)
			continue;
		before = p == cg ? '\n' : p[-1];
		after = p + idl == end ? '\n' : p[idl];
		if (before != '/' && before != '-' && before != ':')
			continue;
		if (after != '\n' && after != '/' && after != '.')
			continue;
		/* Only in the path part: after the line's second ':'. */
		for (ls = p; ls > cg && ls[-1] != '\n'; ls--)
			;
		if ((c1 = memchr(ls, ':', (size_t)(p - ls))) != NULL &&
		    memchr(c1 + 1, ':', (size_t)(p - c1 - 1)) != NULL)
			return 1;
	}
	return 0;
}

int
ph_ecs_ipv4(const char *container, size_t clen, char *buf, size_t len, char **cause)
{
	struct in_addr	 in;
	json_t		*doc, *nets, *addr;
	const char	*ip;
	size_t		 i;

	if ((doc = json_loadb(container, clen, 0, NULL)) == NULL) {
		*cause = ph_asprintf("the container metadata is not JSON");
		return -1;
	}
	nets = json_object_get(doc, "Networks");
	for (i = 0; i < json_array_size(nets); i++) {
		addr = json_array_get(json_object_get(json_array_get(nets, i),
		    "IPv4Addresses"), 0);
		ip = json_string_value(addr);
		if (ip != NULL && strlen(ip) < len && inet_pton(AF_INET, ip, &in) == 1) {
			snprintf(buf, len, "%s", ip);
			json_decref(doc);
			return 0;
		}
	}
	json_decref(doc);
	*cause = ph_asprintf("the container metadata names no IPv4 address "
	    "(Networks[].IPv4Addresses)");
	return -1;
}
