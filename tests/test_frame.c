/* test_frame.c - the frame codec and control-message schemas. */
#include <stdlib.h>
#include <signal.h>
#include <string.h>

#include <criterion/criterion.h>

#include "porthole/frame.h"

static int
decode_str(int type, const char *payload, struct ph_frame *f, int *code,
    const char **cause)
{
	size_t n = strlen(payload);
	uint8_t *msg = malloc(n + 1);
	int r;

	msg[0] = (uint8_t)type;
	memcpy(msg + 1, payload, n);
	r = ph_frame_decode(msg, n + 1, f, code, cause);
	if (r == 0 && f->type == PH_FRAME_CONTROL)
		f->payload = NULL;	/* msg is freed below */
	free(msg);
	return r;
}

Test(frame, raw_types_pass_through)
{
	uint8_t msg[] = { PH_FRAME_STDOUT, 0, 1, 2, 0xff };
	struct ph_frame f;
	const char *cause = NULL;
	int code;

	cr_assert_eq(ph_frame_decode(msg, sizeof msg, &f, &code, &cause), 0);
	cr_assert_eq(f.type, PH_FRAME_STDOUT);
	cr_assert_eq(f.len, 4);
	cr_assert_eq(f.payload, msg + 1);
	cr_assert_null(f.json);
	ph_frame_clear(&f);
}

Test(frame, empty_and_unknown_type_are_policy_errors)
{
	uint8_t bad[] = { 0x08, 'x' };	/* 0x05 SEALED, 0x06 COPY, 0x07 STREAM are taken */
	struct ph_frame f;
	const char *cause = NULL;
	int code = 0;

	cr_assert_eq(ph_frame_decode(bad, 0, &f, &code, &cause), -1);
	cr_assert_eq(code, PH_CLOSE_POLICY);
	cr_assert_eq(ph_frame_decode(bad, sizeof bad, &f, &code, &cause), -1);
	cr_assert_eq(code, PH_CLOSE_POLICY);
	cr_assert_str_eq(cause, "unknown frame type byte");
	bad[0] = 0xff;
	cr_assert_eq(ph_frame_decode(bad, sizeof bad, &f, &code, &cause), -1);
}

Test(frame, oversized_is_too_big)
{
	size_t n = PH_MAX_MESSAGE + 1;
	uint8_t *msg = calloc(1, n);
	struct ph_frame f;
	const char *cause;
	int code = 0;

	msg[0] = PH_FRAME_STDIN;
	cr_assert_eq(ph_frame_decode(msg, n, &f, &code, &cause), -1);
	cr_assert_eq(code, PH_CLOSE_TOO_BIG);
	/* Exactly the maximum is fine. */
	cr_assert_eq(ph_frame_decode(msg, n - 1, &f, &code, &cause), 0);
	cr_assert_eq(f.len, PH_MAX_PAYLOAD);
	free(msg);
}

Test(frame, control_valid_open)
{
	struct ph_frame f;
	const char *cause = NULL;
	int code;

	cr_assert_eq(decode_str(PH_FRAME_CONTROL,
	    "{\"type\":\"open\",\"sid\":\"0123456789abcdef0123456789abcdef\","
	    "\"agent\":\"a1\",\"op\":\"exec\",\"argv\":[\"true\"],\"sig\":null}",
	    &f, &code, &cause), 0, "%s", cause);
	cr_assert_eq(f.ctl, PH_CTL_OPEN);
	cr_assert_str_eq(f.ctl_name, "open");
	cr_assert_str_eq(json_string_value(json_object_get(f.json, "op")), "exec");
	ph_frame_clear(&f);
}

struct bad_case { const char *json; const char *why; };

Test(frame, control_schema_violations)
{
	static const struct bad_case cases[] = {
		{ "not json", "invalid JSON" },
		{ "[1,2]", "not an object" },
		{ "{\"type\":1}", "type not a string" },
		{ "{\"type\":\"frobnicate\"}", "unknown type" },
		{ "{\"type\":\"open\",\"sid\":\"ABCDEF0123456789abcdef0123456789\","
		  "\"agent\":\"a\",\"op\":\"exec\"}", "uppercase sid" },
		{ "{\"type\":\"open\",\"sid\":\"00\",\"agent\":\"a\",\"op\":\"exec\"}",
		  "short sid" },
		{ "{\"type\":\"open\",\"sid\":\"0123456789abcdef0123456789abcdef\","
		  "\"agent\":\"a\",\"op\":\"exec\",\"argv\":[1]}", "argv of ints" },
		{ "{\"type\":\"resize\",\"cols\":0,\"rows\":24}", "zero cols" },
		{ "{\"type\":\"resize\",\"cols\":80}", "missing rows" },
		{ "{\"type\":\"exit\"}", "exit without code or signal" },
		{ "{\"type\":\"exit\",\"code\":1,\"signal\":9}", "exit with both" },
		{ "{\"type\":\"exit\",\"code\":256}", "code out of range" },
		{ "{\"type\":\"hello\",\"proto\":1,\"id\":\"x\",\"name\":\"n\","
		  "\"version\":\"1\",\"instance\":\"i\",\"labels\":{\"k\":1}}",
		  "non-string label" },
		{ "{\"type\":\"error\",\"code\":\"x\"}", "error without message" },
		{ "{\"type\":\"eof\",\"type\":\"eof\"}", "duplicate key" },
		{ "{\"type\":\"signal\",\"name\":\"a\\u0000b\"}", "NUL in string" },
	};
	struct ph_frame f;
	const char *cause;
	size_t i;
	int code;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		code = 0;
		cause = NULL;
		cr_expect_eq(decode_str(PH_FRAME_CONTROL, cases[i].json, &f, &code,
		    &cause), -1, "accepted: %s", cases[i].why);
		cr_expect_eq(code, PH_CLOSE_POLICY, "%s", cases[i].why);
		cr_expect_not_null(cause, "%s", cases[i].why);
	}
}

Test(frame, encode_roundtrip)
{
	json_t *o = ph_ctl_error(PH_ERR_NO_AGENT, "agent %s is not connected", "x");
	struct ph_frame f;
	const char *cause;
	uint8_t *buf;
	size_t len;
	int code;

	cr_assert_eq(ph_ctl_encode(o, &buf, &len), 0);
	cr_assert_eq(buf[PH_HEADROOM], PH_FRAME_CONTROL);
	cr_assert_eq(ph_frame_decode(buf + PH_HEADROOM, len, &f, &code, &cause), 0);
	cr_assert_eq(f.ctl, PH_CTL_ERROR);
	cr_assert_str_eq(json_string_value(json_object_get(f.json, "message")),
	    "agent x is not connected");
	ph_frame_clear(&f);
	free(buf);
	json_decref(o);
}

Test(frame, encode_refuses_oversize)
{
	char *big = malloc(PH_MAX_PAYLOAD + 1);
	json_t *o;
	uint8_t *buf = NULL;
	size_t len;

	memset(big, 'a', PH_MAX_PAYLOAD);
	big[PH_MAX_PAYLOAD] = '\0';
	o = json_pack("{s:s,s:s,s:s}", "type", "error", "code", "x", "message", big);
	cr_assert_eq(ph_ctl_encode(o, &buf, &len), -1);
	cr_assert_null(buf);
	json_decref(o);
	free(big);
}

Test(frame, exit_builders)
{
	json_t *a = ph_ctl_exit_code(7), *b = ph_ctl_exit_signal(9);
	enum ph_ctl ctl;
	const char *cause;

	cr_assert_eq(ph_ctl_validate(a, &ctl, &cause), 0);
	cr_assert_eq(ctl, PH_CTL_EXIT);
	cr_assert_eq(json_integer_value(json_object_get(a, "code")), 7);
	cr_assert_eq(ph_ctl_validate(b, &ctl, &cause), 0);
	cr_assert_eq(json_integer_value(json_object_get(b, "signal")), 9);
	json_decref(a);
	json_decref(b);
}

Test(frame, random_hex_and_sid)
{
	char a[PH_SID_LEN + 1], b[PH_SID_LEN + 1];

	cr_assert_eq(ph_random_hex(a, PH_SID_LEN), 0);
	cr_assert_eq(ph_random_hex(b, PH_SID_LEN), 0);
	cr_assert(ph_sid_valid(a));
	cr_assert_str_neq(a, b);
	cr_assert_not(ph_sid_valid("0123"));
	cr_assert_not(ph_sid_valid(NULL));
	cr_assert_not(ph_sid_valid("0123456789abcdef0123456789abcdeg"));
}

Test(frame, names)
{
	cr_assert_eq(ph_ctl_from_name("resize"), PH_CTL_RESIZE);
	cr_assert_eq(ph_ctl_from_name("nope"), PH_CTL_UNKNOWN);
	cr_assert_str_eq(ph_ctl_name(PH_CTL_META), "meta");
	cr_assert_str_eq(ph_frame_type_name(PH_FRAME_STDERR), "STDERR");
	cr_assert_str_eq(ph_frame_type_name(77), "?");
}

/* exec --timeout: open.timeout_ms / grace_ms and exit.timeout (optional). */
Test(frame, timeout_members)
{
	static const char *good[] = {
		"{\"type\":\"open\",\"sid\":\"0123456789abcdef0123456789abcdef\","
		"\"agent\":\"a\",\"op\":\"exec\",\"argv\":[\"sleep\",\"9\"],"
		"\"timeout_ms\":1000,\"grace_ms\":0}",
		"{\"type\":\"exit\",\"signal\":15,\"timeout\":true}",
		"{\"type\":\"exit\",\"code\":3,\"timeout\":false}",
	};
	static const char *bad[] = {
		"{\"type\":\"open\",\"sid\":\"0123456789abcdef0123456789abcdef\","
		"\"agent\":\"a\",\"op\":\"exec\",\"timeout_ms\":0}",
		"{\"type\":\"open\",\"sid\":\"0123456789abcdef0123456789abcdef\","
		"\"agent\":\"a\",\"op\":\"exec\",\"timeout_ms\":\"1s\"}",
		"{\"type\":\"open\",\"sid\":\"0123456789abcdef0123456789abcdef\","
		"\"agent\":\"a\",\"op\":\"exec\",\"timeout_ms\":10,\"grace_ms\":-1}",
		"{\"type\":\"exit\",\"code\":0,\"timeout\":1}",
	};
	struct ph_frame f;
	const char *cause;
	size_t i;
	int code;

	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		cause = NULL;
		cr_expect_eq(decode_str(PH_FRAME_CONTROL, good[i], &f, &code, &cause), 0,
		    "refused %s: %s", good[i], cause);
		ph_frame_clear(&f);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		code = 0;
		cr_expect_eq(decode_str(PH_FRAME_CONTROL, bad[i], &f, &code, &cause), -1,
		    "accepted %s", bad[i]);
		cr_expect_eq(code, PH_CLOSE_POLICY);
	}
}

/* cp streams: the members of `meta` (docs/protocol.md, "cp"). */
Test(frame, cp_meta_members)
{
	static const char *good[] = {
		"{\"type\":\"meta\",\"path\":\"a/b\",\"kind\":\"file\",\"mode\":420,"
		"\"size\":0,\"mtime\":1700000000}",
		"{\"type\":\"meta\",\"path\":\"a\",\"kind\":\"dir\",\"mode\":4095,\"mtime\":0}",
		"{\"type\":\"meta\",\"path\":\"l\",\"kind\":\"symlink\",\"target\":\"/etc\"}",
		"{\"type\":\"meta\",\"path\":\"a/b\",\"sha256\":"
		"\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"}",
		"{\"type\":\"meta\",\"kind\":\"end\"}",
	};
	static const char *bad[] = {
		"{\"type\":\"meta\",\"path\":\"\",\"kind\":\"file\"}",
		"{\"type\":\"meta\",\"path\":\"a\",\"kind\":\"file\",\"mode\":4096}",
		"{\"type\":\"meta\",\"path\":\"a\",\"kind\":\"file\",\"mode\":-1}",
		"{\"type\":\"meta\",\"path\":\"a\",\"kind\":\"file\",\"mtime\":-5}",
		"{\"type\":\"meta\",\"path\":7}",
		"{\"type\":\"meta\",\"kind\":\"\"}",
		"{\"type\":\"meta\",\"path\":\"l\",\"kind\":\"symlink\",\"target\":\"\"}",
	};
	struct ph_frame f;
	const char *cause;
	size_t i;
	int code;

	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		cause = NULL;
		cr_expect_eq(decode_str(PH_FRAME_CONTROL, good[i], &f, &code, &cause), 0,
		    "refused %s: %s", good[i], cause);
		ph_frame_clear(&f);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		code = 0;
		cr_expect_eq(decode_str(PH_FRAME_CONTROL, bad[i], &f, &code, &cause), -1,
		    "accepted %s", bad[i]);
		cr_expect_eq(code, PH_CLOSE_POLICY);
	}
}

/* Sidecar mode: open.pid (int) and open.container (str), both optional. */
Test(frame, target_members)
{
	static const char *good[] = {
		"{\"type\":\"open\",\"sid\":\"0123456789abcdef0123456789abcdef\","
		"\"agent\":\"a\",\"op\":\"exec\",\"argv\":[\"id\"],\"pid\":42}",
		"{\"type\":\"open\",\"sid\":\"0123456789abcdef0123456789abcdef\","
		"\"agent\":\"a\",\"op\":\"shell\",\"container\":\"web\"}",
	};
	static const char *bad[] = {
		"{\"type\":\"open\",\"sid\":\"0123456789abcdef0123456789abcdef\","
		"\"agent\":\"a\",\"op\":\"exec\",\"pid\":0}",
		"{\"type\":\"open\",\"sid\":\"0123456789abcdef0123456789abcdef\","
		"\"agent\":\"a\",\"op\":\"exec\",\"pid\":\"42\"}",
		"{\"type\":\"open\",\"sid\":\"0123456789abcdef0123456789abcdef\","
		"\"agent\":\"a\",\"op\":\"exec\",\"pid\":4294967296}",
		"{\"type\":\"open\",\"sid\":\"0123456789abcdef0123456789abcdef\","
		"\"agent\":\"a\",\"op\":\"exec\",\"container\":\"\"}",
		"{\"type\":\"open\",\"sid\":\"0123456789abcdef0123456789abcdef\","
		"\"agent\":\"a\",\"op\":\"exec\",\"container\":7}",
	};
	struct ph_frame f;
	const char *cause;
	size_t i;
	int code;

	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		cause = NULL;
		cr_expect_eq(decode_str(PH_FRAME_CONTROL, good[i], &f, &code, &cause), 0,
		    "refused %s: %s", good[i], cause);
		ph_frame_clear(&f);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		code = 0;
		cr_expect_eq(decode_str(PH_FRAME_CONTROL, bad[i], &f, &code, &cause), -1,
		    "accepted %s", bad[i]);
		cr_expect_eq(code, PH_CLOSE_POLICY);
	}
}

/* dump: open.kind (str), freeze (bool), tmpdir (str), all optional. */
Test(frame, dump_members)
{
#define DUMP_OPEN "{\"type\":\"open\",\"sid\":\"0123456789abcdef0123456789abcdef\"," \
	"\"agent\":\"a\",\"op\":\"dump\",\"pid\":42"
	static const char *good[] = {
		DUMP_OPEN "}",
		DUMP_OPEN ",\"kind\":\"core\",\"freeze\":true,\"tmpdir\":\"/var/tmp\"}",
	};
	static const char *bad[] = {
		DUMP_OPEN ",\"kind\":\"\"}",
		DUMP_OPEN ",\"kind\":\"a-kind-name-too-long\"}",
		DUMP_OPEN ",\"kind\":1}",
		DUMP_OPEN ",\"freeze\":\"yes\"}",
		DUMP_OPEN ",\"tmpdir\":\"\"}",
		DUMP_OPEN ",\"tmpdir\":[\"/tmp\"]}",
	};
#undef DUMP_OPEN
	struct ph_frame f;
	const char *cause;
	size_t i;
	int code;

	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		cause = NULL;
		cr_expect_eq(decode_str(PH_FRAME_CONTROL, good[i], &f, &code, &cause), 0,
		    "refused %s: %s", good[i], cause);
		ph_frame_clear(&f);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		code = 0;
		cr_expect_eq(decode_str(PH_FRAME_CONTROL, bad[i], &f, &code, &cause), -1,
		    "accepted %s", bad[i]);
		cr_expect_eq(code, PH_CLOSE_POLICY);
	}
}

Test(frame, signal_names)
{
	cr_assert_eq(ph_signal_number("INT"), SIGINT);
	cr_assert_eq(ph_signal_number("sigterm"), SIGTERM);
	cr_assert_eq(ph_signal_number("SIGWINCH"), SIGWINCH);
	cr_assert_eq(ph_signal_number("SEGV"), -1, "only the documented names");
	cr_assert_eq(ph_signal_number("SIG"), -1);
	cr_assert_eq(ph_signal_number(NULL), -1);
}
