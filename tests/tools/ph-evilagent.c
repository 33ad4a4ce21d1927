/*
 * ph-evilagent.c - a hostile agent for the end-to-end tests: it registers
 * with a relay like porthole-agent does (TLS, the WebSocket upgrade to
 * /v1/agent with an agent token, `hello` with an id, name and labels of
 * the test's choosing) and answers every `open` by dialling the session's
 * data channel (/v1/agent/session/<sid>, `attach` {sid, secret}) and
 * sending whatever frames a script says, crafted or not.  It verifies no
 * signature and runs nothing: it is the agent a client must not trust.
 *
 * Usage: ph-evilagent --url wss://HOST:PORT --ca FILE --token @FILE
 *          --id ID [--name NAME] [--labels k=v,k=v] --script PATH
 *
 * PATH is read afresh at every `open`, so a test may rewrite it between
 * two commands.  When PATH is a directory the script is PATH/OP (the
 * open's `op`: cp, exec, ps...) if it exists, else PATH/default.
 *
 * The script: one frame (or action) per line, in order; empty lines and
 * lines starting with `#` are skipped.  Before a line is read, ${sid},
 * ${op} and ${argv0}..${argv9} are replaced by the open's values (raw, not
 * JSON-escaped).  TEXT takes C escapes: \n \r \t \e \\ \xHH.
 *
 *   ctl JSON        a CONTROL frame whose payload is JSON exactly as written
 *                   (not parsed: malformed or forged messages are allowed)
 *   stdout TEXT     a STDOUT frame
 *   stderr TEXT     a STDERR frame
 *   data TEXT       a DATA frame
 *   data-hex HEX    a DATA frame of these bytes (hex digits, spaces ignored)
 *   data-file FILE  the file's bytes as DATA frames of at most 65536 bytes
 *   raw-hex HEX     one WebSocket message exactly these bytes (type byte
 *                   included: unknown types, empty messages...)
 *   sleep MS        wait before the next line
 *   hold            send nothing more; stay until the other side closes
 *   close CODE [REASON]  close the data channel with CODE
 *
 * Past the last line the channel is closed with 1000.  A line that cannot
 * be read (unknown verb, bad hex, missing file) is reported on stderr and
 * closes the channel with 1011.
 *
 * Stdout gets one line per event, flushed, for the test to wait on and
 * check: `ready` (welcomed), `open OP ARGV OPEN` (the open without its
 * token, secret and sig), `rx SID ctl JSON` and `rx SID data|stdin N`
 * (what the client sent on the data channel), `closed SID`, and
 * `refused MESSAGE` for an `error` on the control channel.  Exit 0 on
 * SIGTERM/SIGINT, 1 when the control channel is lost, 2 on usage.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "porthole/frame.h"
#include "porthole/protocol.h"
#include "porthole/util.h"

#define EVIL_LINE_MAX	(4 * PH_MAX_PAYLOAD)	/* a data-hex line of a whole payload */
#define EVIL_SCRIPT_MAX	(16 * 1024 * 1024)

/* What both connection kinds start with (ci.userdata). */
struct conn {
	struct lws	*wsi;
	uint8_t		*rx;		/* message being reassembled */
	size_t		 rxlen;
	int		 rxover;	/* past PH_MAX_MESSAGE: dropped */
};

struct sess {
	struct conn	 c;
	char		 sid[PH_SID_LEN + 1];
	char		 secret[PH_SECRET_LEN + 1];
	char		*path;		/* of the data channel (the dial's, kept) */
	char		*script;	/* the whole script, substituted; lines split in place */
	char		*next;		/* the next line in script, or NULL at the end */
	unsigned	 lineno;
	int		 attached;
	int		 fd;		/* data-file in progress, or -1 */
	int		 holding;
	int		 closed;
	lws_sorted_usec_list_t sul;	/* sleep */
	struct sess	*link;
};

static struct conn	 ctl;
static struct sess	*sessions;
static const char	*token, *script_path, *id, *name;
static json_t		*labels;
static char		*host;
static int		 port, hello_sent, welcomed, lost;
static struct lws_context *ctx;
static volatile sig_atomic_t stop;
static uint8_t		 out[LWS_PRE + PH_MAX_MESSAGE + 1];

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
	if (ctx != NULL)
		lws_cancel_service(ctx);
}

static void __attribute__((format(printf, 1, 2)))
event(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* Append the bytes of a fragment; 1 once the message is whole. */
static int
conn_rx(struct conn *c, struct lws *wsi, const void *in, size_t len)
{
	uint8_t *n;

	if (lws_is_first_fragment(wsi)) {
		c->rxlen = 0;
		c->rxover = 0;
	}
	if (!c->rxover && c->rxlen + len <= PH_MAX_MESSAGE) {
		if ((n = realloc(c->rx, c->rxlen + len + 1)) == NULL)
			c->rxover = 1;
		else {
			c->rx = n;
			memcpy(c->rx + c->rxlen, in, len);
			c->rxlen += len;
			c->rx[c->rxlen] = '\0';
		}
	} else
		c->rxover = 1;
	return lws_is_final_fragment(wsi) && !c->rxover && c->rxlen > 0;
}

static int
send_msg(struct lws *wsi, const uint8_t *p, size_t n)
{
	if (n > PH_MAX_MESSAGE)
		return -1;
	memcpy(out + LWS_PRE, p, n);
	return lws_write(wsi, out + LWS_PRE, n, LWS_WRITE_BINARY) < (int)n ? -1 : 0;
}

static int
send_frame(struct lws *wsi, int type, const void *p, size_t n)
{
	if (n > PH_MAX_PAYLOAD)
		return -1;
	out[LWS_PRE] = (uint8_t)type;
	memcpy(out + LWS_PRE + 1, p, n);
	return lws_write(wsi, out + LWS_PRE, n + 1, LWS_WRITE_BINARY) < (int)n + 1 ? -1 : 0;
}

static int
send_json(struct lws *wsi, json_t *j)
{
	char	*s = json_dumps(j, JSON_COMPACT);
	int	 rc;

	json_decref(j);
	if (s == NULL)
		return -1;
	rc = send_frame(wsi, PH_FRAME_CONTROL, s, strlen(s));
	free(s);
	return rc;
}

/* ---- the script ---- */

static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* HEX (spaces allowed) into buf; the length, or -1. */
static ssize_t
unhex(const char *s, uint8_t *buf, size_t max)
{
	size_t	n = 0;
	int	hi, lo;

	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0')
			return (ssize_t)n;
		if ((hi = hexval(s[0])) < 0 || (lo = hexval(s[1])) < 0 || n == max)
			return -1;
		buf[n++] = (uint8_t)(hi << 4 | lo);
		s += 2;
	}
}

/* TEXT with C escapes into buf; the length, or -1. */
static ssize_t
unescape(const char *s, uint8_t *buf, size_t max)
{
	size_t	n = 0;
	int	hi, lo;

	for (; *s != '\0'; s++) {
		uint8_t ch = (uint8_t)*s;

		if (ch == '\\') {
			switch (*++s) {
			case 'n': ch = '\n'; break;
			case 'r': ch = '\r'; break;
			case 't': ch = '\t'; break;
			case 'e': ch = 0x1b; break;
			case '\\': ch = '\\'; break;
			case 'x':
				if ((hi = hexval(s[1])) < 0 || (lo = hexval(s[2])) < 0)
					return -1;
				ch = (uint8_t)(hi << 4 | lo);
				s += 2;
				break;
			default:
				return -1;
			}
		}
		if (n == max)
			return -1;
		buf[n++] = ch;
	}
	return (ssize_t)n;
}

/* The script for op: PATH, or PATH/OP or PATH/default for a directory. */
static char *
script_read(const char *op, char **cause)
{
	struct stat	 st;
	char		*p, *text;
	size_t		 len;

	if (stat(script_path, &st) == 0 && S_ISDIR(st.st_mode)) {
		p = ph_asprintf("%s/%s", script_path, op);
		if (p != NULL && strchr(op, '/') == NULL && access(p, R_OK) == 0) {
			text = ph_read_file(p, EVIL_SCRIPT_MAX, &len, cause);
			free(p);
			return text;
		}
		free(p);
		p = ph_asprintf("%s/default", script_path);
		text = p != NULL ? ph_read_file(p, EVIL_SCRIPT_MAX, &len, cause) : NULL;
		free(p);
		return text;
	}
	return ph_read_file(script_path, EVIL_SCRIPT_MAX, &len, cause);
}

/* text with ${sid}, ${op}, ${argvN} replaced (a new string). */
static char *
substitute(const char *text, const char *sid, const char *op, json_t *argv)
{
	size_t		 cap = strlen(text) + 1, n = 0, vl;
	char		*o = malloc(cap), *grown;
	const char	*v;
	char		 key[16];

	while (o != NULL && *text != '\0') {
		v = NULL;
		if (strncmp(text, "${sid}", 6) == 0) {
			v = sid;
			text += 6;
		} else if (strncmp(text, "${op}", 5) == 0) {
			v = op;
			text += 5;
		} else if (strncmp(text, "${argv", 6) == 0 && text[6] >= '0' && text[6] <= '9' &&
		    text[7] == '}') {
			v = json_string_value(json_array_get(argv, (size_t)(text[6] - '0')));
			v = v != NULL ? v : "";
			text += 8;
		}
		if (v == NULL) {
			key[0] = *text++;
			key[1] = '\0';
			v = key;
		}
		vl = strlen(v);
		if (n + vl + 1 > cap) {
			cap = (n + vl + 1) * 2;
			if ((grown = realloc(o, cap)) == NULL) {
				free(o);
				return NULL;
			}
			o = grown;
		}
		memcpy(o + n, v, vl);
		n += vl;
	}
	if (o != NULL)
		o[n] = '\0';
	return o;
}

static void sess_wake(lws_sorted_usec_list_t *sul);

static int
sess_fail(struct sess *s, const char *fmt, const char *arg)
{
	fprintf(stderr, "ph-evilagent: script line %u: ", s->lineno);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	lws_close_reason(s->c.wsi, (enum lws_close_status)PH_CLOSE_INTERNAL,
	    (unsigned char *)"bad script", 10);
	return -1;
}

/* The next line of the script worth reading, or NULL past the end. */
static char *
sess_line(struct sess *s)
{
	char *line, *nl;

	for (;;) {
		if (s->next == NULL)
			return NULL;
		line = s->next;
		if ((nl = strchr(line, '\n')) != NULL) {
			*nl = '\0';
			s->next = nl + 1;
		} else
			s->next = NULL;
		s->lineno++;
		if (*line != '\0' && *line != '#')
			return line;
	}
}

/*
 * One WRITEABLE: send the next frame of the script and ask for the next
 * WRITEABLE, or start a pause, or close (-1).
 */
static int
sess_write(struct sess *s)
{
	static uint8_t	 buf[EVIL_LINE_MAX];
	struct lws	*wsi = s->c.wsi;
	char		*line, *arg, *reason;
	ssize_t		 n;
	int		 type;

	if (!s->attached) {
		s->attached = 1;
		lws_callback_on_writable(wsi);
		return send_json(wsi, json_pack("{s:s, s:s, s:s}", "type", "attach",
		    "sid", s->sid, "secret", s->secret));
	}
	if (s->holding)
		return 0;
	if (s->fd != -1) {
		do
			n = read(s->fd, buf, PH_MAX_PAYLOAD);
		while (n < 0 && errno == EINTR);
		lws_callback_on_writable(wsi);
		if (n > 0)
			return send_frame(wsi, PH_FRAME_DATA, buf, (size_t)n);
		close(s->fd);
		s->fd = -1;
		return 0;
	}
	if ((line = sess_line(s)) == NULL) {
		lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)"script done",
		    11);
		return -1;
	}
	if ((arg = strchr(line, ' ')) != NULL)
		*arg++ = '\0';
	else
		arg = line + strlen(line);
	if (strcmp(line, "sleep") == 0) {
		s->holding = 1;
		lws_sul_schedule(ctx, 0, &s->sul, sess_wake,
		    (lws_usec_t)strtol(arg, NULL, 10) * LWS_US_PER_MS);
		return 0;
	}
	if (strcmp(line, "hold") == 0) {
		s->holding = 1;
		return 0;
	}
	if (strcmp(line, "close") == 0) {
		reason = strchr(arg, ' ');
		reason = reason != NULL ? reason + 1 : arg + strlen(arg);
		lws_close_reason(wsi, (enum lws_close_status)atoi(arg), (unsigned char *)reason,
		    strlen(reason));
		return -1;
	}
	if (strcmp(line, "data-file") == 0) {
		if ((s->fd = open(arg, O_RDONLY | O_CLOEXEC)) < 0)
			return sess_fail(s, "cannot open %s", arg);
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (strcmp(line, "ctl") == 0) {
		lws_callback_on_writable(wsi);
		return send_frame(wsi, PH_FRAME_CONTROL, arg, strlen(arg));
	}
	if (strcmp(line, "stdout") == 0 || strcmp(line, "stderr") == 0 ||
	    strcmp(line, "data") == 0) {
		type = line[0] == 'd' ? PH_FRAME_DATA : line[3] == 'o' ? PH_FRAME_STDOUT :
		    PH_FRAME_STDERR;
		if ((n = unescape(arg, buf, PH_MAX_PAYLOAD)) < 0)
			return sess_fail(s, "bad escape or too long: %s", arg);
		lws_callback_on_writable(wsi);
		return send_frame(wsi, type, buf, (size_t)n);
	}
	if (strcmp(line, "data-hex") == 0 || strcmp(line, "raw-hex") == 0) {
		if ((n = unhex(arg, buf, line[0] == 'd' ? PH_MAX_PAYLOAD : PH_MAX_MESSAGE)) < 0)
			return sess_fail(s, "bad hex or too long: %s", arg);
		lws_callback_on_writable(wsi);
		if (line[0] == 'd')
			return send_frame(wsi, PH_FRAME_DATA, buf, (size_t)n);
		return send_msg(wsi, buf, (size_t)n);
	}
	return sess_fail(s, "unknown verb \"%s\"", line);
}

static void
sess_wake(lws_sorted_usec_list_t *sul)
{
	struct sess *s = lws_container_of(sul, struct sess, sul);

	s->holding = 0;
	if (s->c.wsi != NULL)
		lws_callback_on_writable(s->c.wsi);
}

/* The session whose userdata is p, found without reading *p (it may be freed). */
static struct sess *
sess_find(const void *p)
{
	struct sess *s;

	for (s = sessions; s != NULL; s = s->link)
		if ((const void *)s == p)
			return s;
	return NULL;
}

static void
sess_free(struct sess *s)
{
	struct sess **pp;

	for (pp = &sessions; *pp != NULL; pp = &(*pp)->link) {
		if (*pp == s) {
			*pp = s->link;
			break;
		}
	}
	lws_sul_cancel(&s->sul);
	if (s->fd != -1)
		close(s->fd);
	free(s->script);
	free(s->path);
	free(s->c.rx);
	free(s);
}

/* An `open` from the relay: dial its data channel. */
static void
on_open(json_t *open)
{
	struct lws_client_connect_info	 ci;
	const char	*sid = json_string_value(json_object_get(open, "sid"));
	const char	*secret = json_string_value(json_object_get(open, "secret"));
	const char	*op = json_string_value(json_object_get(open, "op"));
	json_t		*argv = json_object_get(open, "argv"), *shown;
	char		*text, *cause = NULL, *a, *o;
	struct sess	*s;

	if (sid == NULL || secret == NULL || op == NULL || strlen(sid) != PH_SID_LEN ||
	    strlen(secret) != PH_SECRET_LEN) {
		event("badopen");
		return;
	}
	shown = json_deep_copy(open);
	json_object_del(shown, "token");
	json_object_del(shown, "secret");
	json_object_del(shown, "sig");
	a = json_dumps(argv != NULL ? argv : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
	o = json_dumps(shown, JSON_COMPACT | JSON_SORT_KEYS);
	event("open %s %s %s", op, a != NULL ? a : "?", o != NULL ? o : "?");
	free(a);
	free(o);
	json_decref(shown);
	if ((text = script_read(op, &cause)) == NULL) {
		fprintf(stderr, "ph-evilagent: script: %s\n", cause);
		free(cause);
		return;
	}
	if ((s = calloc(1, sizeof *s)) == NULL ||
	    (s->script = substitute(text, sid, op, argv)) == NULL) {
		free(text);
		free(s);
		return;
	}
	free(text);
	s->fd = -1;
	s->next = s->script;
	memcpy(s->sid, sid, PH_SID_LEN);
	memcpy(s->secret, secret, PH_SECRET_LEN);
	s->link = sessions;
	sessions = s;
	if ((s->path = ph_asprintf("%s%s", PH_PATH_AGENT_SESSION, sid)) == NULL)
		return;
	memset(&ci, 0, sizeof ci);
	ci.context = ctx;
	ci.address = host;
	ci.port = port;
	ci.path = s->path;
	ci.host = host;
	ci.origin = host;
	ci.ssl_connection = LCCSCF_USE_SSL;
	ci.protocol = PH_SUBPROTO_SESSION;
	ci.local_protocol_name = "evil";
	ci.userdata = s;
	ci.pwsi = &s->c.wsi;
	if (lws_client_connect_via_info(&ci) == NULL && sess_find(s) != NULL) {
		if (!s->closed)
			event("closed %s", s->sid);
		sess_free(s);	/* unless WSI_DESTROY already did */
	}
}

static int
send_hello(struct lws *wsi)
{
	char inst[64];

	snprintf(inst, sizeof inst, "evil-%ld", (long)getpid());
	return send_json(wsi, json_pack("{s:s, s:i, s:s, s:s, s:O, s:s, s:s, "
	    "s:[s,s,s,s,s,s], s:i}", "type", "hello", "proto", PH_PROTOCOL_VERSION,
	    "id", id, "name", name, "labels", labels, "version", "evil", "instance", inst,
	    "caps", "shell", "exec", "ps", "mem", "dump", "cp", "max_payload", PH_MAX_PAYLOAD));
}

/* A whole message on the control channel. */
static void
ctl_message(const uint8_t *p, size_t len)
{
	json_t		*j;
	const char	*type;

	if (len < 2 || p[0] != PH_FRAME_CONTROL ||
	    (j = json_loadb((const char *)p + 1, len - 1, 0, NULL)) == NULL)
		return;
	type = json_string_value(json_object_get(j, "type"));
	if (type != NULL && strcmp(type, "welcome") == 0) {
		welcomed = 1;
		event("ready");
	} else if (type != NULL && strcmp(type, "open") == 0)
		on_open(j);
	else if (type != NULL && strcmp(type, "error") == 0)
		event("refused %s", json_string_value(json_object_get(j, "message")));
	json_decref(j);
}

/* A whole message from the client, on a data channel: say what it was. */
static void
sess_message(struct sess *s, const uint8_t *p, size_t len)
{
	if (p[0] == PH_FRAME_CONTROL)
		event("rx %s ctl %.*s", s->sid, (int)(len - 1), (const char *)p + 1);
	else
		event("rx %s %s %zu", s->sid, ph_frame_type_name(p[0]), len - 1);
}

static int
callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
    size_t len)
{
	struct sess	*s = user != &ctl ? sess_find(user) : NULL;
	struct conn	*c = user == &ctl ? &ctl : s != NULL ? &s->c : NULL;
	unsigned char	**hp;
	char		 hdr[8192];

	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		hp = (unsigned char **)in;
		snprintf(hdr, sizeof hdr, "Bearer %s", token);
		if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
		    (unsigned char *)hdr, (int)strlen(hdr), hp, *hp + len))
			return -1;
		break;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		lws_callback_on_writable(wsi);
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (c == &ctl && !hello_sent) {
			hello_sent = 1;
			return send_hello(wsi);
		}
		if (s != NULL && !s->closed)
			return sess_write(s);
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (c != NULL && conn_rx(c, wsi, in, len)) {
			if (c == &ctl)
				ctl_message(c->rx, c->rxlen);
			else
				sess_message(s, c->rx, c->rxlen);
		}
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (c == &ctl && !lost) {
			fprintf(stderr, "ph-evilagent: control channel lost: %s\n",
			    in != NULL && reason == LWS_CALLBACK_CLIENT_CONNECTION_ERROR ?
			    (char *)in : "closed");
			ctl.wsi = NULL;
			lost = 1;
			stop = 1;
		} else if (s != NULL && !s->closed) {
			s->closed = 1;
			s->c.wsi = NULL;
			event("closed %s", s->sid);
		}
		break;
	case LWS_CALLBACK_WSI_DESTROY:
		if (s != NULL)
			sess_free(s);	/* once per wsi, the last word on it */
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	{ "evil", callback, 0, PH_MAX_MESSAGE, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "ca", required_argument, NULL, 'c' },
		{ "token", required_argument, NULL, 't' },
		{ "id", required_argument, NULL, 'i' },
		{ "name", required_argument, NULL, 'n' },
		{ "labels", required_argument, NULL, 'l' },
		{ "script", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	struct lws_context_creation_info	 info;
	struct lws_client_connect_info		 ci;
	const char	*url = NULL, *ca = NULL, *lab = NULL;
	char		*cause = NULL;
	int		 ch;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'u': url = optarg; break;
		case 'c': ca = optarg; break;
		case 't': token = optarg; break;
		case 'i': id = optarg; break;
		case 'n': name = optarg; break;
		case 'l': lab = optarg; break;
		case 's': script_path = optarg; break;
		default: return 2;
		}
	}
	if (url == NULL || token == NULL || id == NULL || script_path == NULL ||
	    optind != argc) {
		fprintf(stderr, "usage: ph-evilagent --url wss://HOST:PORT --ca FILE --token "
		    "@FILE --id ID [--name NAME] [--labels k=v,k=v] --script PATH\n");
		return 2;
	}
	if (name == NULL)
		name = id;
	if (token[0] == '@' && (token = ph_secret_value(token, &cause)) == NULL) {
		fprintf(stderr, "ph-evilagent: %s\n", cause);
		return 2;
	}
	labels = lab != NULL && *lab != '\0' ? ph_labels_parse(lab, &cause) : json_object();
	if (labels == NULL || ph_url_parse(url, &host, &port, &cause) != 0) {
		fprintf(stderr, "ph-evilagent: %s\n", cause != NULL ? cause : "out of memory");
		return 2;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	lws_set_log_level(getenv("PH_EVILAGENT_DEBUG") != NULL ? LLL_ERR | LLL_WARN |
	    LLL_NOTICE | LLL_INFO : LLL_ERR, NULL);
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.client_ssl_ca_filepath = ca;
	if ((ctx = lws_create_context(&info)) == NULL)
		return 2;
	memset(&ci, 0, sizeof ci);
	ci.context = ctx;
	ci.address = host;
	ci.port = port;
	ci.path = PH_PATH_AGENT;
	ci.host = host;
	ci.origin = host;
	ci.ssl_connection = LCCSCF_USE_SSL;
	ci.protocol = PH_SUBPROTO_CONTROL;
	ci.local_protocol_name = "evil";
	ci.userdata = &ctl;
	ci.pwsi = &ctl.wsi;
	if (lws_client_connect_via_info(&ci) == NULL) {
		fprintf(stderr, "ph-evilagent: cannot connect to %s\n", url);
		return 1;
	}
	while (!stop)
		lws_service(ctx, 0);
	lws_context_destroy(ctx);
	while (sessions != NULL)
		sess_free(sessions);
	json_decref(labels);
	free(ctl.rx);
	return lost ? 1 : 0;
}
