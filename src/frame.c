/*
 * frame.c - the porthole frame codec: one type byte, then the payload; for
 * CONTROL frames a JSON object whose members are checked against a schema
 * table (one row per control type; for `open`, the operation registry's
 * members of the open's operation, ops.h).  Every check the relay and the agent
 * make on untrusted input before acting on it lives here, so the fuzz
 * target tests/fuzz/fuzz_frame.c covers all of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "porthole/agentid.h"
#include "porthole/frame.h"
#include "porthole/ops.h"

_Static_assert(PH_HEADROOM == LWS_PRE, "PH_HEADROOM must equal LWS_PRE");

static const char *ctl_names[PH_CTL_COUNT] = {
	[PH_CTL_UNKNOWN] = "?",
	[PH_CTL_HELLO] = "hello",
	[PH_CTL_WELCOME] = "welcome",
	[PH_CTL_OPEN] = "open",
	[PH_CTL_ATTACH] = "attach",
	[PH_CTL_READY] = "ready",
	[PH_CTL_RESIZE] = "resize",
	[PH_CTL_SIGNAL] = "signal",
	[PH_CTL_EOF] = "eof",
	[PH_CTL_EXIT] = "exit",
	[PH_CTL_ERROR] = "error",
	[PH_CTL_PROGRESS] = "progress",
	[PH_CTL_META] = "meta",
	[PH_CTL_ARTIFACT] = "artifact",
	[PH_CTL_SEAL] = "seal",
	[PH_CTL_REPORT] = "report",
	[PH_CTL_REVOKED] = "revoked",
	[PH_CTL_RESUME] = "resume",
	[PH_CTL_RESUME_PROOF] = "resume_proof",
	[PH_CTL_DETACH] = "detach",
};

static const char *frame_names[PH_FRAME_TYPE_COUNT] = {
	[PH_FRAME_STDIN] = "STDIN", [PH_FRAME_STDOUT] = "STDOUT",
	[PH_FRAME_STDERR] = "STDERR", [PH_FRAME_CONTROL] = "CONTROL",
	[PH_FRAME_DATA] = "DATA", [PH_FRAME_SEALED] = "SEALED",
	[PH_FRAME_COPY] = "COPY", [PH_FRAME_STREAM] = "STREAM",
};

/*
 * Schema of a member: its name, its JSON type, whether it is required and,
 * for integers, the range; for strings, the length range (struct
 * ph_op_member, ops.h).  The members of `open` are the operation
 * registry's (src/ops.c): the common ones, then those of its operation.
 */
#define STR(n, req, lo, hi)	{ n, PH_MT_STR, (req) ? PH_OPM_REQUIRED : 0, lo, hi }
#define INT(n, req, lo, hi)	{ n, PH_MT_INT, (req) ? PH_OPM_REQUIRED : 0, lo, hi }
#define BOOL(n)			{ n, PH_MT_BOOL, 0, 0, 0 }
#define OBJ(n, req)		{ n, PH_MT_OBJ, (req) ? PH_OPM_REQUIRED : 0, 0, 0 }
#define STRARR(n, req)		{ n, PH_MT_STRARR, (req) ? PH_OPM_REQUIRED : 0, 0, 4096 }
#define END			{ NULL, 0, 0, 0, 0 }

static const struct ph_op_member s_hello[] = {
	INT("proto", 1, 0, 65535), STR("id", 1, 1, 200), STR("name", 1, 1, 200),
	OBJ("labels", 0), STR("version", 1, 0, 100), STR("instance", 1, 1, 100),
	STRARR("caps", 0), INT("max_payload", 0, 1024, 1 << 30), END
};
static const struct ph_op_member s_welcome[] = {
	INT("proto", 1, 0, 65535), INT("max_payload", 0, 1024, 1 << 30),
	STR("id", 0, 1, PH_AGENT_ID_MAX), END
};
static const struct ph_op_member s_attach[] = {
	STR("sid", 1, PH_SID_LEN, PH_SID_LEN),
	STR("secret", 1, PH_SECRET_LEN, PH_SECRET_LEN), END
};
static const struct ph_op_member s_ready[] = { INT("pid", 0, 0, 1LL << 31), END };
static const struct ph_op_member s_resize[] = {
	INT("cols", 1, 1, 65535), INT("rows", 1, 1, 65535), END
};
static const struct ph_op_member s_signal[] = { STR("name", 1, 1, 16), END };
static const struct ph_op_member s_eof[] = { END };
static const struct ph_op_member s_exit[] = {
	INT("code", 0, 0, 255), INT("signal", 0, 1, 64), STR("message", 0, 0, 4096),
	BOOL("timeout"), END
};
static const struct ph_op_member s_error[] = {
	STR("code", 1, 1, 64), STR("message", 1, 0, 4096),
	STR("boot", 0, 16, 16),		/* the refusing agent process (resume) */
	END
};
static const struct ph_op_member s_progress[] = {
	INT("done", 1, 0, INT64_MAX), INT("total", 1, -1, INT64_MAX), END
};
static const struct ph_op_member s_meta[] = {
	INT("size", 0, -1, INT64_MAX), STR("sha256", 0, 0, 64), STR("format", 0, 0, 64),
	/* cp streams (docs/protocol.md, "cp") */
	STR("path", 0, 1, 4096), STR("kind", 0, 1, 16), INT("mode", 0, 0, 07777),
	INT("mtime", 0, 0, 1LL << 40), STR("target", 0, 1, 4096), END
};

/*
 * The artifact upload channel (docs/protocol.md, "Artifact upload"): the
 * agent's begin and end, the relay's stored.  Attribution (agent, sub,
 * labels) is never taken from here: the relay reads it from the
 * uploading connection's token and the agent's registration.
 */
static const struct ph_op_member s_artifact[] = {
	STR("phase", 1, 1, 16),
	/* begin: who uploads (checked against the registration) and what */
	STR("id", 0, 1, 200), STR("instance", 0, 1, 100),
	STR("kind", 0, 1, 16), INT("pid", 0, 1, (1LL << 31) - 1),
	STR("process", 0, 0, 256), STR("trigger", 0, 0, 512),
	OBJ("reading", 0), INT("watch", 0, 0, 1 << 20),
	INT("captured_at", 0, 0, 1LL << 40), BOOL("spooled"),
	STR("sealed", 0, 43, 43),	/* the recipient's key (artseal.h) */
	/* end */
	BOOL("complete"), INT("bytes", 0, 0, INT64_MAX), STR("mode", 0, 1, 64),
	STR("reason", 0, 0, 512), INT("pause_us", 0, 0, INT64_MAX),
	STR("error", 0, 0, 512),
	/* stored */
	STR("artifact", 0, 1, 64), INT("size", 0, 0, INT64_MAX),
	STR("sha256", 0, 0, 64), END
};

/*
 * The agent's answer to a sealed open (docs/protocol.md, "Handshake"):
 * its X25519 share, and when its token is bound to an agent key the
 * signature over the transcript and that token; `record` when it will send
 * the relay COPY frames for a recording.
 */
static const struct ph_op_member s_seal[] = {
	STR("share", 0, 43, 43), STR("sig", 0, 86, 86), STR("token", 0, 1, 8192),
	BOOL("record"), BOOL("resume"), STR("boot", 0, 16, 16), END
};

/*
 * report: one forwarded connection as the agent saw it, for the relay's
 * audit (docs/protocol.md, "forward"); the relay does not pass it on.
 */
static const struct ph_op_member s_report[] = {
	STR("kind", 1, 1, 16), INT("stream", 0, 1, 0xffffffffLL),
	STR("dest", 0, 1, 300), STR("address", 0, 0, 64),
	INT("bytes_out", 0, 0, INT64_MAX), INT("bytes_in", 0, 0, INT64_MAX),
	INT("duration_ms", 0, 0, INT64_MAX), STR("outcome", 0, 1, 32),
	STR("error", 0, 0, 512),
	STR("session", 0, PH_SID_LEN, PH_SID_LEN),	/* detach, attach: the shell's id */
	END
};

/*
 * detach (docs/protocol.md, "Detach and attach"): the client's asks the
 * agent to keep the shell without it; the agent's answer names the id to
 * attach it again with.
 */
static const struct ph_op_member s_detach[] = {
	STR("session", 0, PH_SID_LEN, PH_SID_LEN), END
};

/* Revocations a relay pushes; the entries themselves: revlist.h (ph_revlist_add_json). */
static const struct ph_op_member s_revoked[] = { OBJ("entries", 1), END };

/*
 * Resuming a sealed session (docs/protocol.md, "Resume"): the client's
 * first message on a new channel names the session and its challenge (the
 * relay adds the secret and who asks before it goes to the agent); each
 * end then proves it holds the session's keys over the other's challenge.
 */
static const struct ph_op_member s_resume[] = {
	STR("sid", 1, PH_SID_LEN, PH_SID_LEN), STR("agent", 0, 1, PH_AGENT_ID_MAX),
	STR("challenge", 1, 43, 43), STR("secret", 0, PH_SECRET_LEN, PH_SECRET_LEN),
	STR("sub", 0, 1, 1024), END
};
static const struct ph_op_member s_resume_proof[] = {
	INT("received", 1, 0, INT64_MAX), STR("proof", 1, 43, 43),
	STR("challenge", 0, 43, 43), END
};

static const struct ph_op_member *schemas[PH_CTL_COUNT] = {
	[PH_CTL_HELLO] = s_hello, [PH_CTL_WELCOME] = s_welcome,
	[PH_CTL_ATTACH] = s_attach,
	[PH_CTL_READY] = s_ready, [PH_CTL_RESIZE] = s_resize,
	[PH_CTL_SIGNAL] = s_signal, [PH_CTL_EOF] = s_eof,
	[PH_CTL_EXIT] = s_exit, [PH_CTL_ERROR] = s_error,
	[PH_CTL_PROGRESS] = s_progress, [PH_CTL_META] = s_meta,
	[PH_CTL_ARTIFACT] = s_artifact, [PH_CTL_SEAL] = s_seal,
	[PH_CTL_REPORT] = s_report,
	[PH_CTL_REVOKED] = s_revoked,
	[PH_CTL_RESUME] = s_resume, [PH_CTL_RESUME_PROOF] = s_resume_proof,
	[PH_CTL_DETACH] = s_detach,
};

const char *
ph_ctl_name(enum ph_ctl ctl)
{
	if (ctl <= PH_CTL_UNKNOWN || ctl >= PH_CTL_COUNT)
		return "?";
	return ctl_names[ctl];
}

enum ph_ctl
ph_ctl_from_name(const char *name)
{
	int i;

	for (i = PH_CTL_UNKNOWN + 1; i < PH_CTL_COUNT; i++) {
		if (strcmp(ctl_names[i], name) == 0)
			return (enum ph_ctl)i;
	}
	return PH_CTL_UNKNOWN;
}

const char *
ph_frame_type_name(int type)
{
	if (type < 0 || type >= PH_FRAME_TYPE_COUNT || frame_names[type] == NULL)
		return "?";
	return frame_names[type];
}

static int
member_check(json_t *obj, const struct ph_op_member *m, const char **cause)
{
	json_t *v = json_object_get(obj, m->name);
	size_t i, len;
	json_int_t n;
	json_t *e;

	if (v == NULL) {
		if (m->flags & PH_OPM_REQUIRED) {
			*cause = "a required member is missing";
			return -1;
		}
		return 0;
	}
	switch (m->type) {
	case PH_MT_STR_OR_NULL:
		if (json_is_null(v))
			return 0;
		/* FALLTHROUGH */
	case PH_MT_STR:
		if (!json_is_string(v)) {
			*cause = "a member that must be a string is not";
			return -1;
		}
		len = json_string_length(v);
		if ((long long)len < m->min || (long long)len > m->max) {
			*cause = "a string member has the wrong length";
			return -1;
		}
		if (strlen(json_string_value(v)) != len) {
			*cause = "a string member holds a NUL byte";
			return -1;
		}
		return 0;
	case PH_MT_INT:
		if (!json_is_integer(v)) {
			*cause = "a member that must be an integer is not";
			return -1;
		}
		n = json_integer_value(v);
		if (n < m->min || n > m->max) {
			*cause = "an integer member is out of range";
			return -1;
		}
		return 0;
	case PH_MT_BOOL:
		if (!json_is_boolean(v)) {
			*cause = "a member that must be true or false is not";
			return -1;
		}
		return 0;
	case PH_MT_OBJ:
		if (!json_is_object(v)) {
			*cause = "a member that must be an object is not";
			return -1;
		}
		return 0;
	case PH_MT_STRARR:
		if (!json_is_array(v) || json_array_size(v) > (size_t)m->max) {
			*cause = "a member that must be an array of strings is not";
			return -1;
		}
		json_array_foreach(v, i, e) {
			if (!json_is_string(e) ||
			    strlen(json_string_value(e)) != json_string_length(e)) {
				*cause = "an array member holds something other than a string";
				return -1;
			}
		}
		return 0;
	}
	*cause = "internal: bad schema";
	return -1;
}

/*
 * An open: the members every open carries, then those of its operation in
 * the registry (ops.h).  A member another operation lists but this one
 * does not is refused; one no operation lists is left alone (a later
 * version's: the signature covers it and the agent never reads it).  An
 * operation the registry lacks has every listed member checked by type
 * (the agent refuses the operation itself, with `unsupported`).
 */
static int
open_check(json_t *obj, const char **cause)
{
	const struct ph_op_member	*m;
	const struct ph_op		*op;
	const char			*key;
	json_t				*v;

	for (m = ph_ops_common(); m->name != NULL; m++) {
		if (member_check(obj, m, cause) != 0)
			return -1;
	}
	op = ph_ops_find(json_string_value(json_object_get(obj, "op")));
	if (op != NULL && (op->flags & PH_OPF_SESSION) == 0)
		op = NULL;
	json_object_foreach(obj, key, v) {
		if (strcmp(key, "type") == 0)
			continue;
		if (op != NULL && (m = ph_ops_member(op, key)) == NULL) {
			if (ph_ops_member_any(key) != NULL) {
				*cause = "open has a member of another operation";
				return -1;
			}
			continue;
		}
		if (op == NULL && (m = ph_ops_member_any(key)) == NULL)
			continue;
		if (member_check(obj, m, cause) != 0)
			return -1;
	}
	/* The operation's own required members (lsof's pid, probe's dest). */
	for (m = op != NULL ? op->members : NULL; m != NULL && m->name != NULL; m++) {
		if ((m->flags & PH_OPM_REQUIRED) && json_object_get(obj, m->name) == NULL) {
			*cause = "a required member is missing";
			return -1;
		}
	}
	return 0;
}

int
ph_ctl_validate(json_t *obj, enum ph_ctl *ctlp, const char **cause)
{
	const struct ph_op_member *m;
	json_t *type, *labels, *v;
	const char *key;
	enum ph_ctl ctl;

	if (!json_is_object(obj)) {
		*cause = "control payload is not a JSON object";
		return -1;
	}
	type = json_object_get(obj, "type");
	if (!json_is_string(type)) {
		*cause = "control message has no string \"type\"";
		return -1;
	}
	ctl = ph_ctl_from_name(json_string_value(type));
	if (ctl == PH_CTL_UNKNOWN) {
		*cause = "unknown control message type";
		return -1;
	}
	if (ctl == PH_CTL_OPEN) {
		if (open_check(obj, cause) != 0)
			return -1;
	} else {
		for (m = schemas[ctl]; m->name != NULL; m++) {
			if (member_check(obj, m, cause) != 0)
				return -1;
		}
	}
	/* Rules a member table cannot say. */
	switch (ctl) {
	case PH_CTL_HELLO:
		labels = json_object_get(obj, "labels");
		json_object_foreach(labels, key, v) {
			if (strlen(key) == 0 || strlen(key) > 63 || !json_is_string(v) ||
			    json_string_length(v) > 255) {
				*cause = "hello labels must map short keys to strings";
				return -1;
			}
		}
		break;
	case PH_CTL_OPEN:
		if (!ph_sid_valid(json_string_value(json_object_get(obj, "sid")))) {
			*cause = "session id must be 32 lowercase hex digits";
			return -1;
		}
		break;
	case PH_CTL_EXIT:
		if ((json_object_get(obj, "code") == NULL) ==
		    (json_object_get(obj, "signal") == NULL)) {
			*cause = "exit needs exactly one of code and signal";
			return -1;
		}
		break;
	default:
		break;
	}
	*ctlp = ctl;
	return 0;
}

int
ph_frame_decode(const uint8_t *msg, size_t len, struct ph_frame *f,
    int *close_code, const char **cause)
{
	json_error_t jerr;
	json_t *obj;

	memset(f, 0, sizeof *f);
	*close_code = PH_CLOSE_POLICY;
	f->err = PH_ERR_BAD_FRAME;
	if (len == 0) {
		*cause = "empty message (no type byte)";
		return -1;
	}
	if (len > PH_MAX_MESSAGE) {
		*close_code = PH_CLOSE_TOO_BIG;
		f->err = PH_ERR_TOO_BIG;
		*cause = "message larger than 64 KiB of payload";
		return -1;
	}
	if (msg[0] >= PH_FRAME_TYPE_COUNT || frame_names[msg[0]] == NULL) {
		*cause = "unknown frame type byte";
		return -1;
	}
	f->type = (enum ph_frame_type)msg[0];
	f->payload = msg + 1;
	f->len = len - 1;
	if (f->type != PH_FRAME_CONTROL) {
		f->err = NULL;
		return 0;
	}

	obj = json_loadb((const char *)f->payload, f->len,
	    JSON_REJECT_DUPLICATES, &jerr);
	if (obj == NULL) {
		f->err = PH_ERR_BAD_JSON;
		*cause = "control payload is not valid JSON";
		return -1;
	}
	if (ph_ctl_validate(obj, &f->ctl, cause) != 0) {
		f->err = json_is_object(obj) ? PH_ERR_BAD_MESSAGE : PH_ERR_BAD_JSON;
		json_decref(obj);
		return -1;
	}
	f->err = NULL;
	f->json = obj;
	f->ctl_name = json_string_value(json_object_get(obj, "type"));
	return 0;
}

void
ph_frame_clear(struct ph_frame *f)
{
	if (f->json != NULL)
		json_decref(f->json);
	memset(f, 0, sizeof *f);
}

int
ph_ctl_encode(json_t *obj, uint8_t **out, size_t *lenp)
{
	size_t n;
	uint8_t *buf;

	n = json_dumpb(obj, NULL, 0, JSON_COMPACT);
	if (n == 0 || n > PH_MAX_PAYLOAD)
		return -1;
	buf = malloc(PH_HEADROOM + 1 + n);
	if (buf == NULL)
		return -1;
	buf[PH_HEADROOM] = PH_FRAME_CONTROL;
	if (json_dumpb(obj, (char *)buf + PH_HEADROOM + 1, n, JSON_COMPACT) != n) {
		free(buf);
		return -1;
	}
	*out = buf;
	*lenp = n + 1;
	return 0;
}

json_t *
ph_ctl_new(enum ph_ctl ctl)
{
	return json_pack("{s:s}", "type", ph_ctl_name(ctl));
}

json_t *
ph_ctl_error(const char *code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return json_pack("{s:s,s:s,s:s}", "type", "error", "code", code,
	    "message", msg);
}

json_t *
ph_ctl_exit_code(int code)
{
	return json_pack("{s:s,s:i}", "type", "exit", "code", code);
}

json_t *
ph_ctl_exit_signal(int signo)
{
	return json_pack("{s:s,s:i}", "type", "exit", "signal", signo);
}

int
ph_random_hex(char *out, size_t hexlen)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t raw[128];
	size_t i, n = (hexlen + 1) / 2;
	ssize_t r;

	if (n > sizeof raw)
		return -1;
	for (i = 0; i < n; i += (size_t)r) {
		r = getrandom(raw + i, n - i, 0);
		if (r < 0) {
			if (errno == EINTR) {
				r = 0;
				continue;
			}
			return -1;
		}
	}
	for (i = 0; i < hexlen; i++)
		out[i] = hex[(raw[i / 2] >> ((i % 2) ? 0 : 4)) & 0xf];
	out[hexlen] = '\0';
	return 0;
}

int
ph_sid_valid(const char *sid)
{
	size_t i;

	if (sid == NULL || strlen(sid) != PH_SID_LEN)
		return 0;
	for (i = 0; i < PH_SID_LEN; i++) {
		if (!((sid[i] >= '0' && sid[i] <= '9') || (sid[i] >= 'a' && sid[i] <= 'f')))
			return 0;
	}
	return 1;
}

/* The signals a `signal` message may name: docs/protocol.md lists the same. */
static const struct {
	const char	*name;
	int		 signo;
} frame_signals[] = {
	{ "INT", SIGINT }, { "TERM", SIGTERM }, { "KILL", SIGKILL }, { "HUP", SIGHUP },
	{ "QUIT", SIGQUIT }, { "TSTP", SIGTSTP }, { "CONT", SIGCONT }, { "PIPE", SIGPIPE },
	{ "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { "WINCH", SIGWINCH },
};

int
ph_signal_number(const char *name)
{
	size_t i;

	if (name == NULL)
		return -1;
	if (strncasecmp(name, "SIG", 3) == 0)
		name += 3;
	for (i = 0; i < sizeof frame_signals / sizeof frame_signals[0]; i++) {
		if (strcasecmp(name, frame_signals[i].name) == 0)
			return frame_signals[i].signo;
	}
	return -1;
}
