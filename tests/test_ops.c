/*
 * test_ops.c - the operation registry (ops.h) is the one list: every
 * operation has a scope, every member a type; the accessor the agent reads
 * opens with refuses unsigned and unlisted members; the open schema is per
 * operation; and no table in the sources or in docs/protocol.md names an
 * operation or an open member the registry lacks (the sources are read
 * from SOURCE_ROOT and scanned).
 */
#include <dirent.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "porthole/frame.h"
#include "porthole/ops.h"

#define SID	"0123456789abcdef0123456789abcdef"

static const struct ph_op *
all_ops(size_t *n)
{
	return ph_ops_all(n);
}

Test(ops, every_operation_has_a_scope_and_typed_members)
{
	const struct ph_op_member *m;
	const struct ph_op *ops;
	size_t n, i, j;

	ops = all_ops(&n);
	cr_assert_gt(n, 0);
	for (i = 0; i < n; i++) {
		cr_assert_not_null(ops[i].name);
		cr_assert_gt(strlen(ops[i].name), 0);
		cr_assert(ops[i].scope != NULL && *ops[i].scope != '\0',
		    "%s has no scope", ops[i].name);
		cr_assert_not_null(ops[i].members, "%s has no member list", ops[i].name);
		for (j = 0; j < i; j++)
			cr_assert_str_neq(ops[i].name, ops[j].name);
		for (m = ops[i].members; m->name != NULL; m++) {
			cr_assert(m->type >= PH_MT_STR && m->type <= PH_MT_STR_OR_NULL,
			    "%s.%s has no type", ops[i].name, m->name);
			cr_assert(m->min <= m->max, "%s.%s: empty bounds", ops[i].name,
			    m->name);
			cr_assert_null(ph_ops_member(NULL, m->name),
			    "%s.%s is also a common member", ops[i].name, m->name);
			cr_assert_eq(m->flags & PH_OPM_UNSIGNED, 0,
			    "%s.%s: only common members may be unsigned", ops[i].name,
			    m->name);
			/* One member, one type, whichever operation lists it. */
			cr_assert_eq(ph_ops_member_any(m->name)->type, m->type,
			    "%s.%s has two types", ops[i].name, m->name);
		}
		if (ops[i].flags & PH_OPF_SESSION) {
			cr_assert(ph_ops_ctl_allowed(&ops[i], 1, PH_CTL_EXIT),
			    "%s: the agent cannot send exit", ops[i].name);
			cr_assert(ph_ops_ctl_allowed(&ops[i], 0, PH_CTL_ERROR));
			cr_assert(ph_ops_ctl_allowed(&ops[i], 1, PH_CTL_ERROR));
			cr_assert_not(ph_ops_ctl_allowed(&ops[i], 0, PH_CTL_OPEN));
			cr_assert_not(ph_ops_ctl_allowed(&ops[i], 1, PH_CTL_ATTACH));
		}
	}
	for (m = ph_ops_common(); m->name != NULL; m++) {
		cr_assert(m->type >= PH_MT_STR && m->type <= PH_MT_STR_OR_NULL);
		if (m->flags & PH_OPM_RELAYED)
			cr_assert(m->flags & PH_OPM_UNSIGNED, "%s: relayed but signed",
			    m->name);
	}
}

/* The unsigned members are exactly sig and the four the relay adds. */
Test(ops, unsigned_members)
{
	const char *u[] = { "sig", "secret", "sub", "token", "record" };
	const struct ph_op_member *m;
	size_t i, n = 0;

	for (i = 0; i < 5; i++)
		cr_assert(ph_ops_unsigned(u[i]), "%s", u[i]);
	for (m = ph_ops_common(); m->name != NULL; m++)
		n += (m->flags & PH_OPM_UNSIGNED) != 0;
	cr_assert_eq(n, 5);
	/* The client's share is signed: a relay cannot swap it. */
	cr_assert_not(ph_ops_unsigned("seal"));
	cr_assert_not(ph_ops_unsigned("argv"));
	cr_assert_not(ph_ops_unsigned("ts"));
}

/* What `token issue` and the dev relay put in a token (CLI unchanged). */
Test(ops, scope_lists)
{
	char *all = ph_ops_scope_list(0), *viewer = ph_ops_scope_list(1);

	cr_assert_str_eq(all, "ls,shell,exec,ps,mem,dump,cp,net,lsof,probe,forward,watch,artifacts.rm");
	cr_assert_str_eq(viewer, "ls,ps,mem,net,lsof,probe");
	cr_assert(ph_ops_scope_known("exec,", 4));
	cr_assert_not(ph_ops_scope_known("exe", 3));
	cr_assert_not(ph_ops_scope_known("forwards", 8));
	/* The admin scope: a token may name it, no default list carries it. */
	cr_assert(ph_ops_scope_known("revoke", 6));
	cr_assert_null(strstr(all, "revoke"));
	free(all);
	free(viewer);
}

Test(ops, accessor_refuses_unsigned_and_unlisted_members)
{
	json_t *o = json_pack("{s:s, s:s, s:[s], s:s, s:s, s:s, s:i, s:s}",
	    "op", "ps", "sid", SID, "argv", "x", "tmpdir", "/tmp", "secret", "s",
	    "sub", "who", "timeout_ms", 5, "sig", "zz");
	int refused;

	cr_assert_not_null(ph_open_get(o, "argv"));
	cr_assert_not_null(ph_open_get(o, "sid"));
	refused = 0;
	cr_assert_null(ph_open_get_r(o, "tmpdir", &refused), "dump's member read in ps");
	cr_assert_eq(refused, 1);
	refused = 0;
	cr_assert_null(ph_open_get_r(o, "timeout_ms", &refused));
	cr_assert_eq(refused, 1);
	refused = 0;
	cr_assert_null(ph_open_get_r(o, "secret", &refused), "unsigned read as signed");
	cr_assert_eq(refused, 1);
	cr_assert_null(ph_open_get(o, "sig"));
	cr_assert_null(ph_open_get(o, "sub"));
	refused = 0;
	cr_assert_null(ph_open_get_r(o, "nosuch", &refused));
	cr_assert_eq(refused, 1);
	/* The relay's members only through the explicit accessor. */
	cr_assert_str_eq(json_string_value(ph_open_relayed(o, "secret")), "s");
	cr_assert_str_eq(json_string_value(ph_open_relayed(o, "sub")), "who");
	cr_assert_null(ph_open_relayed(o, "argv"));
	cr_assert_null(ph_open_relayed(o, "sig"));
	/* The same member is the operation's own elsewhere. */
	json_object_set_new(o, "op", json_string("exec"));
	cr_assert_not_null(ph_open_get(o, "timeout_ms"));
	json_object_set_new(o, "op", json_string("dump"));
	cr_assert_not_null(ph_open_get(o, "tmpdir"));
	/* An operation the registry lacks: only the common members. */
	json_object_set_new(o, "op", json_string("nosuch"));
	cr_assert_null(ph_open_get(o, "tmpdir"));
	cr_assert_not_null(ph_open_get(o, "argv"));
	json_decref(o);
}

static int
open_valid(const char *op, const char *extra)
{
	char buf[512];
	json_t *o;
	enum ph_ctl ctl;
	const char *cause = NULL;
	int r;

	snprintf(buf, sizeof buf, "{\"type\":\"open\",\"sid\":\"" SID "\","
	    "\"agent\":\"a\",\"op\":\"%s\"%s%s}", op, *extra ? "," : "", extra);
	o = json_loads(buf, 0, NULL);
	cr_assert_not_null(o, "%s", buf);
	r = ph_ctl_validate(o, &ctl, &cause);
	json_decref(o);
	return r;
}

Test(ops, open_schema_is_per_operation)
{
	cr_assert_eq(open_valid("dump", "\"pid\":1,\"tmpdir\":\"/t\",\"freeze\":true"), 0);
	cr_assert_eq(open_valid("ps", "\"tmpdir\":\"/t\""), -1, "dump's tmpdir in ps");
	cr_assert_eq(open_valid("exec", "\"preserve\":true"), -1, "cp's preserve in exec");
	cr_assert_eq(open_valid("cp", "\"preserve\":true"), 0);
	cr_assert_eq(open_valid("shell", "\"timeout_ms\":10"), -1);
	cr_assert_eq(open_valid("exec", "\"timeout_ms\":10,\"grace_ms\":0"), 0);
	cr_assert_eq(open_valid("exec", "\"timeout_ms\":0"), -1, "bounds kept");
	/* The toolbox: net's pid is optional, lsof's required, probe's dest too. */
	cr_assert_eq(open_valid("net", "\"pid\":7,\"listening\":true"), 0);
	cr_assert_eq(open_valid("net", ""), 0);
	cr_assert_eq(open_valid("lsof", "\"pid\":7"), 0);
	cr_assert_eq(open_valid("lsof", ""), -1, "lsof without pid");
	cr_assert_eq(open_valid("lsof", "\"listening\":true"), -1, "net's member in lsof");
	cr_assert_eq(open_valid("probe", "\"dest\":\"db:5432\",\"tls\":true,"
	    "\"timeout_ms\":5000"), 0);
	cr_assert_eq(open_valid("probe", "\"tls\":true"), -1, "probe without dest");
	cr_assert_eq(open_valid("probe", "\"dest\":\"db:5432\",\"timeout_ms\":99"), -1);
	cr_assert_eq(open_valid("probe", "\"dest\":\"db:5432\",\"pid\":1"), -1);
	/* Common members everywhere; unknown members left to later versions. */
	cr_assert_eq(open_valid("mem", "\"argv\":[\"1\"],\"tty\":false,\"stdin\":false,"
	    "\"ts\":1,\"proto\":2,\"sig\":\"x\""), 0);
	cr_assert_eq(open_valid("exec", "\"later_member\":[1]"), 0);
	/* An operation the registry lacks: the agent refuses it; types still hold. */
	cr_assert_eq(open_valid("nosuch", "\"tmpdir\":\"/t\""), 0);
	cr_assert_eq(open_valid("nosuch", "\"tmpdir\":5"), -1);
}

Test(ops, controls_per_direction)
{
	const struct ph_op *shell = ph_ops_find("shell"), *exec = ph_ops_find("exec");
	const struct ph_op *cp = ph_ops_find("cp"), *dump = ph_ops_find("dump");

	cr_assert(ph_ops_ctl_allowed(shell, 0, PH_CTL_RESIZE));
	cr_assert_not(ph_ops_ctl_allowed(shell, 1, PH_CTL_RESIZE));
	cr_assert_not(ph_ops_ctl_allowed(exec, 0, PH_CTL_META));
	cr_assert(ph_ops_ctl_allowed(cp, 0, PH_CTL_META));
	cr_assert(ph_ops_ctl_allowed(cp, 1, PH_CTL_META));
	cr_assert(ph_ops_ctl_allowed(dump, 1, PH_CTL_PROGRESS));
	cr_assert_not(ph_ops_ctl_allowed(exec, 1, PH_CTL_PROGRESS));
	/* The union for an operation the registry lacks. */
	cr_assert(ph_ops_ctl_allowed(NULL, 0, PH_CTL_RESIZE));
	cr_assert(ph_ops_ctl_allowed(NULL, 1, PH_CTL_META));
	cr_assert_not(ph_ops_ctl_allowed(NULL, 0, PH_CTL_READY));
}

/* --- the sources and docs name nothing the registry lacks ---------------- */

static char *
slurp(const char *rel)
{
	char path[1024], *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof path, "%s/%s", SOURCE_ROOT, rel);
	f = fopen(path, "r");
	cr_assert_not_null(f, "cannot read %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* The files of dir whose names start with prefix and end with ".c". */
static size_t
list_c(const char *dir, const char *prefix, char names[][256], size_t max)
{
	char path[1024];
	struct dirent *de;
	size_t n = 0, l;
	DIR *d;

	snprintf(path, sizeof path, "%s/%s", SOURCE_ROOT, dir);
	cr_assert_not_null(d = opendir(path), "%s", path);
	while ((de = readdir(d)) != NULL && n < max) {
		l = strlen(de->d_name);
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0 && l > 2 &&
		    strcmp(de->d_name + l - 2, ".c") == 0)
			snprintf(names[n++], 256, "%s/%s", dir, de->d_name);
	}
	closedir(d);
	cr_assert_gt(n, 0);
	return n;
}

/*
 * Each match of re (group 1: a name) in text, to check(file, name, arg);
 * returns how many.
 */
static int
scan(const char *file, const char *text, const char *re,
    void (*check)(const char *, const char *, const void *), const void *arg)
{
	regmatch_t m[2];
	regex_t r;
	char name[128];
	const char *p = text;
	int n = 0;
	size_t len;

	cr_assert_eq(regcomp(&r, re, REG_EXTENDED), 0, "%s", re);
	while (regexec(&r, p, 2, m, 0) == 0) {
		len = (size_t)(m[1].rm_eo - m[1].rm_so);
		if (len >= sizeof name)
			len = sizeof name - 1;
		memcpy(name, p + m[1].rm_so, len);
		name[len] = '\0';
		check(file, name, arg);
		n++;
		p += m[0].rm_eo;
	}
	regfree(&r);
	return n;
}

static void
check_session_op(const char *file, const char *name, const void *arg)
{
	const struct ph_op *op = ph_ops_find(name);

	(void)arg;
	cr_assert(op != NULL && (op->flags & PH_OPF_SESSION) != 0,
	    "%s names operation '%s', which the registry (src/ops.c) lacks",
	    file, name);
}

/*
 * check_session_op on every name the patterns res find in the files of dir
 * starting with prefix; how many were found.
 */
static int
scan_dir(const char *dir, const char *prefix, const char *const *res, size_t nres)
{
	static char files[128][256];
	size_t n, i, j;
	char *t;
	int found = 0;

	n = list_c(dir, prefix, files, 128);
	for (i = 0; i < n; i++) {
		t = slurp(files[i]);
		for (j = 0; j < nres; j++)
			found += scan(files[i], t, res[j], check_session_op, NULL);
		free(t);
	}
	return found;
}

/* Every operation the agent's table, the CLI and the relay name. */
Test(ops, no_table_names_an_operation_the_registry_lacks)
{
	static const char *const agent_res[] = {
		"\\.name = \"([a-z_]+)\"",
		/* ps, mem, dump: exec's entry points (op.h) */
		"OP_HELPER_ENTRY\\(\"([a-z_]+)\"",
	};
	static const char *const client_res[] = {
		"client_op_run\\([^,]+,[^,]+, \"([a-z_]+)\"",
		"client_open_new\\([^;\")]*, \"([a-z_]+)\",",
		"client_run_open\\([^,]+, \"([a-z_]+)\"",
		"\\.op = \"([a-z_]+)\"",
	};
	static const char *const relay_res[] = {
		"strcmp\\(op, \"([a-z_]+)\"\\)",
	};

	cr_assert_geq(scan_dir("agent", "op-", agent_res, sizeof agent_res / sizeof agent_res[0]), 6,
	    "the agent's op entries were not found");
	cr_assert_geq(scan_dir("client", "", client_res, sizeof client_res / sizeof client_res[0]), 6,
	    "the CLI's opens were not found");
	scan_dir("src/relay", "relay-", relay_res, sizeof relay_res / sizeof relay_res[0]);
}

static void
check_signed_member(const char *file, const char *name, const void *arg)
{
	const char *op = arg;

	if (op != NULL)
		cr_assert(ph_open_readable(op, name), "%s reads member '%s', which "
		    "operation %s does not list as signed in the registry", file,
		    name, op);
	else
		cr_assert(ph_ops_member_any(name) != NULL && !ph_ops_unsigned(name),
		    "%s reads member '%s', which no operation lists as signed",
		    file, name);
}

static void
check_relayed_member(const char *file, const char *name, const void *arg)
{
	const struct ph_op_member *m = ph_ops_member(NULL, name);

	(void)arg;
	cr_assert(m != NULL && (m->flags & PH_OPM_RELAYED) != 0,
	    "%s reads '%s' as a member the relay adds; the registry has no such", file,
	    name);
}

static void
check_no_raw_read(const char *file, const char *name, const void *arg)
{
	(void)arg;
	cr_assert_fail("%s reads the open's member '%s' without ph_open_get", file, name);
}

/*
 * Every member the agent reads is one its operation (op-<verb>.c) or some
 * operation (the agent's shared files) lists as signed, or one the relay
 * adds, read through ph_open_relayed; none is read around the accessor.
 */
Test(ops, agent_reads_only_signed_members_of_its_operation)
{
	static char files[128][256];
	const struct ph_op *op;
	char verb[64], *t, *dot;
	size_t n, i;
	int reads = 0;

	n = list_c("agent", "", files, 128);
	for (i = 0; i < n; i++) {
		t = slurp(files[i]);
		op = NULL;
		if (strncmp(files[i], "agent/op-", 9) == 0) {
			snprintf(verb, sizeof verb, "%s", files[i] + 9);
			if ((dot = strchr(verb, '.')) != NULL)
				*dot = '\0';
			op = ph_ops_find(verb);
		}
		reads += scan(files[i], t, "ph_open_get\\([a-z_]+, \"([a-z_]+)\"",
		    check_signed_member, op != NULL ? op->name : NULL);
		scan(files[i], t, "ph_open_relayed\\([a-z_]+, \"([a-z_]+)\"",
		    check_relayed_member, NULL);
		scan(files[i], t, "json_object_get\\(open, \"([a-z_]+)\"",
		    check_no_raw_read, NULL);
		scan(files[i], t, "json_object_get\\(req, \"([a-z_]+)\"",
		    check_no_raw_read, NULL);
		free(t);
	}
	cr_assert_geq(reads, 20, "the agent's reads were not found");
}

/* The row of op in docs/protocol.md's "Open members by operation". */
static void
doc_row(const struct ph_op *op, char *out, size_t len)
{
	const struct ph_op_member *m;
	size_t n = 0;
	int side, c, first;

	n += (size_t)snprintf(out + n, len - n, "| `%s` | %s%s | %s | ", op->name,
	    op->scope, op->flags & PH_OPF_VIEWER ? " (viewer)" : "",
	    op->flags & PH_OPF_RECORDED ? "yes" : "no");
	first = 1;
	for (m = op->members; m->name != NULL; m++, first = 0)
		n += (size_t)snprintf(out + n, len - n, "%s`%s`", first ? "" : ", ",
		    m->name);
	if (first)
		n += (size_t)snprintf(out + n, len - n, "—");
	for (side = 0; side < 2; side++) {
		n += (size_t)snprintf(out + n, len - n, " | ");
		first = 1;
		for (c = PH_CTL_UNKNOWN + 1; c < PH_CTL_COUNT; c++) {
			if (!ph_ops_ctl_allowed(op, side, c))
				continue;
			n += (size_t)snprintf(out + n, len - n, "%s%s", first ? "" : ", ",
			    ph_ctl_name((enum ph_ctl)c));
			first = 0;
		}
		if (first)
			n += (size_t)snprintf(out + n, len - n, "—");
	}
	snprintf(out + n, len - n, " |\n");
}

/* docs/protocol.md lists exactly the registry (OPS_PRINT=1 prints the rows). */
Test(ops, protocol_md_table_is_the_registry)
{
	const struct ph_op *ops;
	char row[1024], *doc, *start, *end;
	size_t n, i;
	int rows = 0;

	doc = slurp("docs/protocol.md");
	start = strstr(doc, "<!-- ops-table -->");
	end = strstr(doc, "<!-- /ops-table -->");
	cr_assert(start != NULL && end != NULL && start < end, "no ops-table markers");
	*end = '\0';
	ops = ph_ops_all(&n);
	for (i = 0; i < n; i++) {
		doc_row(&ops[i], row, sizeof row);
		if (getenv("OPS_PRINT") != NULL)
			fputs(row, stderr);
		cr_expect_not_null(strstr(start, row), "docs/protocol.md lacks the row\n%s",
		    row);
	}
	for (; (start = strstr(start, "\n| `")) != NULL; start++)
		rows++;
	cr_assert_eq(rows, (int)n, "docs/protocol.md lists %d operations, the "
	    "registry %zu", rows, n);
	free(doc);
}
