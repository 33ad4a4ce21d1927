/*
 * client-units.c - sizes for people, and the agents' ps and mem documents
 * renamed to the CLI's one naming of units.  See client-units.h.
 */
#include <string.h>
#include <stdio.h>

#include "client-units.h"

const char *
client_units_size(double bytes, char *buf, size_t len)
{
	static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double		 v = bytes < 0 ? -bytes : bytes;
	size_t		 i = 0;

	while (v >= 1024.0 && i < sizeof u / sizeof u[0] - 1) {
		v /= 1024.0;
		i++;
	}
	/* 1023.96 KiB would round to "1024.0 KiB": say 1.0 MiB. */
	if (i > 0 && v >= 1023.95 && i < sizeof u / sizeof u[0] - 1) {
		v /= 1024.0;
		i++;
	}
	snprintf(buf, len, i == 0 ? "%s%.0f %s" : "%s%.1f %s", bytes < 0 ? "-" : "", v, u[i]);
	return buf;
}

struct units_name {
	const char	*from, *to;	/* the agent's name, the CLI's */
	json_int_t	 mul;		/* to bytes */
};

/*
 * Rename o's members that are in names (n of them) in place, keeping their
 * order; integers are multiplied by mul (null and anything else stay as
 * they are).  A member whose new name is already there is left alone (an
 * agent that speaks the CLI's naming itself).
 */
static void
units_rename(json_t *o, const struct units_name *names, size_t n)
{
	json_t		*out, *v;
	const char	*k;
	size_t		 i;

	if (!json_is_object(o) || (out = json_object()) == NULL)
		return;
	json_object_foreach(o, k, v) {
		for (i = 0; i < n; i++)
			if (strcmp(k, names[i].from) == 0 &&
			    json_object_get(o, names[i].to) == NULL)
				break;
		if (i == n)
			json_object_set(out, k, v);
		else if (json_is_integer(v))
			json_object_set_new(out, names[i].to,
			    json_integer(json_integer_value(v) * names[i].mul));
		else
			json_object_set(out, names[i].to, v);
	}
	json_object_clear(o);
	json_object_update(o, out);
	json_decref(out);
}

void
client_units_ps(json_t *doc)
{
	static const struct units_name proc[] = { { "rss_kib", "rss_bytes", 1024 } };
	static const struct units_name cg[] = {
		{ "usage", "usage_bytes", 1 }, { "limit", "limit_bytes", 1 },
	};
	json_t	*p;
	size_t	 i;

	json_array_foreach(json_object_get(doc, "processes"), i, p)
		units_rename(p, proc, 1);
	units_rename(json_object_get(doc, "cgroup"), cg, 2);
}

void
client_units_mem(json_t *s)
{
	static const struct units_name mem[] = {
		{ "rss", "rss_bytes", 1024 }, { "pss", "pss_bytes", 1024 },
		{ "anon", "anon_bytes", 1024 }, { "file", "file_bytes", 1024 },
		{ "shmem", "shmem_bytes", 1024 }, { "swap", "swap_bytes", 1024 },
		{ "peak", "peak_bytes", 1024 },
		{ "cg_usage", "cgroup_usage_bytes", 1 },
		{ "cg_limit", "cgroup_limit_bytes", 1 },
	};

	units_rename(s, mem, sizeof mem / sizeof mem[0]);
}
