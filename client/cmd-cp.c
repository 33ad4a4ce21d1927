/*
 * cmd-cp.c - `porthole cp`: copy a file or directory tree from an agent
 * (`cp TARGET:PATH LOCAL`) or to it (`cp LOCAL TARGET:PATH`) as the cp
 * stream of docs/protocol.md ("cp").  src/cpstream.c walks and writes on
 * both ends: sha256 is checked per file by the receiver, a file is written
 * under NAME.porthole-partial-XXXXXXXX and renamed only once it verified,
 * names that would climb out of the destination are refused, symlinks are
 * recreated as symlinks, never followed.  Sending (put) feeds the session
 * only while its queue is under the high mark and resumes on `drained`.
 * Progress (bytes, rate) goes to stderr only when stderr is a terminal.
 * Any failure prints one "porthole: ..." line and exits 255.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "porthole/cpstream.h"
#include "porthole/frame.h"
#include "porthole/protocol.h"
#include "porthole/util.h"

#include "client-conn.h"
#include "client-exit.h"
#include "client-io.h"
#include "client-signal.h"
#include "client-target.h"
#include "cmd.h"

#define CP_CLOSE_MS	2000	/* longest wait for our close to go through */
#define CP_PROGRESS_MS	250

struct cp {
	struct client_conn	*cc;
	struct client_session	*s;
	struct client_io	*io;
	json_t			*agent;
	json_t			*argv;
	char			 sid[PH_SID_LEN + 1];
	long			 pid;		/* --pid, or 0 */
	const char		*container;	/* --container, or NULL */

	struct ph_cprx		*rx;		/* get */
	struct ph_cptx		*tx;		/* put */
	int			 started;	/* `ready` seen */
	int			 sent_all;

	int			 got_exit;
	int			 status;
	char			*message;	/* from exit */
	char			*err;		/* `error` frame, printable */
	char			*cause;		/* our own failure */
	int			 interrupted;
	int			 close_code;
	char			*close_cause;
	volatile int		 done;

	int			 progress;	/* stderr is a terminal */
	int64_t			 t0, last;
};

static uint64_t
cp_bytes(struct cp *c)
{
	return c->rx != NULL ? ph_cprx_bytes(c->rx) : c->tx != NULL ? ph_cptx_bytes(c->tx) : 0;
}

static void
cp_progress(struct cp *c, int final)
{
	char	line[128];
	int64_t	now = ph_mono_ms(), el;
	double	mib;
	int	n;

	if (!c->progress || (!final && now - c->last < CP_PROGRESS_MS))
		return;
	c->last = now;
	el = now - c->t0 > 0 ? now - c->t0 : 1;
	mib = (double)cp_bytes(c) / (1024.0 * 1024.0);
	n = snprintf(line, sizeof line, "\r%.1f MiB  %.1f MiB/s%s", mib, mib * 1000.0 / (double)el,
	    final ? "\n" : "   ");
	if (n > 0)
		client_io_write(c->io, 2, line, (size_t)n);
}

static void
cp_timeout(void *arg)
{
	((struct cp *)arg)->done = 1;
}

/* Give up: keep the first cause (stolen), close now. */
static void
cp_abort(struct cp *c, char *cause)
{
	if (c->cause == NULL)
		c->cause = cause;
	else
		free(cause);
	ph_cprx_abort(c->rx);
	client_session_close(c->s, PH_CLOSE_GOING_AWAY, "client done", 0);
	client_conn_timer(c->cc, CP_CLOSE_MS, cp_timeout, c);
}

static void
cp_established(void *arg)
{
	struct cp	*c = arg;
	json_t		*m;

	if ((m = client_open_new(c->sid, client_agent_str(c->agent, "id"), "cp",
	    json_incref(c->argv))) == NULL) {
		cp_abort(c, strdup("out of memory"));
		return;
	}
	if (c->pid > 0)
		json_object_set_new(m, "pid", json_integer(c->pid));
	if (c->container != NULL)
		json_object_set_new(m, "container", json_string(c->container));
	client_session_send_open(c->s, m);
}

/* put: send while the session's queue has room. */
static void
cp_pump(struct cp *c)
{
	static uint8_t	 buf[PH_MAX_PAYLOAD];
	json_t		*m;
	size_t		 n;
	char		*cause = NULL;
	int		 rc;

	while (c->tx != NULL && c->started && !c->sent_all && c->cause == NULL &&
	    !client_session_full(c->s)) {
		rc = ph_cptx_next(c->tx, buf, sizeof buf - 1, &n, &m, &cause);
		if (rc < 0) {
			cp_abort(c, cause);
			return;
		}
		if (rc == 0) {
			c->sent_all = 1;
			break;
		}
		if (m != NULL)
			rc = client_session_send_ctl(c->s, m);
		else
			rc = client_session_send(c->s, PH_FRAME_DATA, buf, n);
		if (rc != 0) {
			cp_abort(c, strdup("cannot queue the stream to the relay"));
			return;
		}
	}
	cp_progress(c, 0);
}

static int
cp_message(void *arg, const struct ph_frame *f)
{
	struct cp	*c = arg;
	char		*cause = NULL;

	if (c->cause != NULL)
		return 0;
	if (f->type == PH_FRAME_DATA || (f->type == PH_FRAME_CONTROL && f->ctl == PH_CTL_META)) {
		if (c->rx == NULL) {
			cp_abort(c, strdup("the agent sent a stream to a cp upload"));
			return 0;
		}
		if ((f->type == PH_FRAME_DATA ? ph_cprx_data(c->rx, f->payload, f->len, &cause) :
		    ph_cprx_meta(c->rx, f->json, &cause)) != 0)
			cp_abort(c, cause);
		else
			cp_progress(c, 0);
		return 0;
	}
	if (f->type != PH_FRAME_CONTROL)
		return 0;	/* STDOUT/STDERR: cp has none */
	switch (f->ctl) {
	case PH_CTL_READY:
		c->started = 1;
		cp_pump(c);
		return 0;
	case PH_CTL_EXIT:
		c->got_exit = 1;
		c->status = client_exit_status(f->json);
		c->message = client_printable(json_string_value(json_object_get(f->json,
		    "message")));
		client_session_close(c->s, PH_CLOSE_NORMAL, NULL, 0);
		client_conn_timer(c->cc, CP_CLOSE_MS, cp_timeout, c);
		return 0;
	case PH_CTL_ERROR:
		free(c->err);
		c->err = ph_asprintf("%s (%s)", json_string_value(json_object_get(f->json,
		    "message")), json_string_value(json_object_get(f->json, "code")));
		return 0;
	default:
		return 0;
	}
}

static void
cp_drained(void *arg)
{
	cp_pump(arg);
}

static void
cp_wake(void *arg)
{
	struct cp *c = arg;

	if (client_signal_take() != 0 && !c->interrupted && !c->got_exit) {
		c->interrupted = 1;
		cp_abort(c, strdup("interrupted"));
	}
}

static void
cp_closed(void *arg, int code, const char *reason, const char *cause)
{
	struct cp *c = arg;

	(void)reason;
	c->close_code = code;
	c->close_cause = cause != NULL ? strdup(cause) : NULL;
	client_conn_timer(c->cc, -1, NULL, NULL);
	c->done = 1;
}

static const struct client_session_ops cp_ops = {
	.established = cp_established,
	.message = cp_message,
	.drained = cp_drained,
	.wake = cp_wake,
	.closed = cp_closed,
};

/* TARGET:PATH?  The part before the first ':' names no local directory. */
static int
cp_remote(const char *a, char **target, const char **path)
{
	const char *colon = strchr(a, ':');

	if (colon == NULL || colon == a || memchr(a, '/', (size_t)(colon - a)) != NULL)
		return 0;
	*target = strndup(a, (size_t)(colon - a));
	*path = colon + 1;
	return 1;
}

/* get: the local directory written into, and the top entry's new name. */
static int
cp_local_dest(const char *local, char **as, char **cause)
{
	char	*dir, *slash;
	int	 fd;

	*as = NULL;
	if ((fd = open(local, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0)
		return fd;
	if ((dir = strdup(local)) == NULL)
		return -1;
	if ((slash = strrchr(dir, '/')) == NULL) {
		*as = strdup(dir);
		strcpy(dir, ".");
	} else {
		*as = strdup(slash + 1);
		if (slash == dir)
			slash++;
		*slash = '\0';
	}
	if (*as == NULL || **as == '\0' || strcmp(*as, ".") == 0 || strcmp(*as, "..") == 0) {
		*cause = ph_asprintf("%s: not a file or directory name", local);
		free(dir);
		free(*as);
		*as = NULL;
		return -1;
	}
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		*cause = ph_asprintf("%s: %s", dir, strerror(errno));
		free(*as);
		*as = NULL;
	}
	free(dir);
	return fd;
}

static char *
cp_failure(struct cp *c, const char *name, const char *id)
{
	if (c->cause != NULL && !c->interrupted)
		return strdup(c->cause);
	if (c->interrupted)
		return strdup("cp interrupted; nothing partial was left under a final name");
	if (c->got_exit && c->status != 0)
		return ph_asprintf("cp on %s (%s): %s", name, id, c->message != NULL ?
		    c->message : "failed");
	if (c->got_exit && c->rx != NULL && !ph_cprx_done(c->rx))
		return ph_asprintf("cp on %s (%s): the stream ended early", name, id);
	if (c->err != NULL)
		return ph_asprintf("cp on %s (%s) failed: %s", name, id, c->err);
	if (c->close_cause != NULL)
		return strdup(c->close_cause);
	return ph_asprintf("the session with %s (%s) ended (code %d) before cp finished",
	    name, id, c->close_code);
}

static int
cmd_cp_exec(struct client_conf *conf, int argc, char **argv)
{
	struct cp	 c;
	const char	*pos[2] = { NULL, NULL }, *rpath = NULL, *local;
	char		*target = NULL, *cause = NULL, *as = NULL, *name = NULL, *id = NULL, *end;
	json_t		*agents;
	int		 i, r, np = 0, get, destfd = -1, fd;

	memset(&c, 0, sizeof c);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--container") == 0) {
			if (i + 1 >= argc || argv[i + 1][0] == '\0')
				return cmd_usage_error(&cmd_cp_entry, "--container needs a name");
			c.container = argv[++i];
		} else if (strcmp(a, "--pid") == 0) {
			if (i + 1 >= argc)
				return cmd_usage_error(&cmd_cp_entry, "--pid needs a process id");
			c.pid = strtol(argv[++i], &end, 10);
			if (*argv[i] < '1' || *argv[i] > '9' || *end != '\0' || c.pid > 0x7fffffff)
				return cmd_usage_error(&cmd_cp_entry, "--pid wants a process id, "
				    "not '%s'", argv[i]);
		} else if (strcmp(a, "--") == 0 && i + 1 < argc) {
			while (++i < argc && np < 2)
				pos[np++] = argv[i];
			if (i < argc)
				return cmd_usage_error(&cmd_cp_entry, "unexpected argument '%s'",
				    argv[i]);
		} else if (a[0] == '-' && a[1] != '\0') {
			r = client_conf_option(conf, argc, argv, &i, &cause);
			if (r < 0) {
				r = cmd_usage_error(&cmd_cp_entry, "%s", cause);
				free(cause);
				return r;
			}
			if (r == 0)
				return cmd_usage_error(&cmd_cp_entry, "unknown option '%s'", a);
		} else if (np < 2)
			pos[np++] = a;
		else
			return cmd_usage_error(&cmd_cp_entry, "unexpected argument '%s'", a);
	}
	if (c.pid > 0 && c.container != NULL)
		return cmd_usage_error(&cmd_cp_entry, "give --pid or --container, not both");
	if (np != 2)
		return cmd_usage_error(&cmd_cp_entry, "want a source and a destination");
	get = cp_remote(pos[0], &target, &rpath);
	if (get) {
		char *t2 = NULL;
		const char *p2;

		if (cp_remote(pos[1], &t2, &p2)) {
			free(t2);
			free(target);
			return cmd_usage_error(&cmd_cp_entry, "copy between two agents is not "
			    "supported; one side must be local");
		}
		local = pos[1];
	} else if (cp_remote(pos[1], &target, &rpath))
		local = pos[0];
	else
		return cmd_usage_error(&cmd_cp_entry, "one side must be TARGET:PATH");
	if (target == NULL)
		return cmd_failf("out of memory");
	if (*rpath == '\0') {
		free(target);
		return cmd_usage_error(&cmd_cp_entry, "empty remote path");
	}

	/* The local side first: a missing source or unwritable destination fails here. */
	if (get) {
		if ((destfd = cp_local_dest(local, &as, &cause)) < 0 ||
		    (c.rx = ph_cprx_new(destfd, as, &cause)) == NULL)
			goto fail;
	} else if ((c.tx = ph_cptx_new(-1, local, &cause)) == NULL)
		goto fail;
	c.argv = json_pack("[s, s]", get ? "get" : "put", rpath);

	if (client_conf_load(conf, &cause) != 0 ||
	    (c.cc = client_conn_new(conf, &cause)) == NULL ||
	    (agents = client_conn_get_agents(c.cc, NULL, &cause)) == NULL)
		goto fail;
	c.agent = client_target_one(agents, target, conf, &cause);
	json_decref(agents);
	if (c.agent == NULL)
		goto fail;
	name = client_printable(client_agent_str(c.agent, "name"));
	id = client_printable(client_agent_str(c.agent, "id"));
	if (ph_random_hex(c.sid, PH_SID_LEN) != 0) {
		cause = strdup("cannot draw a random session id");
		goto fail;
	}
	c.sid[PH_SID_LEN] = '\0';
	c.progress = isatty(2);
	c.t0 = c.last = ph_mono_ms();

	client_signal_block();
	if ((c.io = client_io_new(c.cc, 0, &cause)) == NULL ||
	    client_signal_start(c.cc, &cause) != 0 ||
	    (c.s = client_session_open(c.cc, &cp_ops, &c, &cause)) == NULL)
		goto fail;
	if (client_conn_run(c.cc, &c.done) != 0 && c.close_cause == NULL)
		c.close_cause = strdup("the event loop failed");
	if (c.got_exit && c.status == 0 && c.cause == NULL &&
	    (c.rx == NULL || ph_cprx_done(c.rx)) && (c.tx == NULL || c.sent_all))
		cp_progress(&c, 1);
	client_signal_detach();
	client_io_detach(c.io);
	client_session_free(c.s);
	c.s = NULL;
	client_conn_free(c.cc);
	c.cc = NULL;
	(void)client_io_flush(c.io, &fd);

	if (c.got_exit && c.status == 0 && c.cause == NULL &&
	    (c.rx == NULL || ph_cprx_done(c.rx)) && (c.tx == NULL || c.sent_all))
		r = 0;
	else
		r = cmd_fail(cp_failure(&c, name, id));
	goto out;
fail:
	r = cmd_fail(cause);
out:
	if (c.s != NULL)
		client_session_free(c.s);
	if (c.cc != NULL) {
		client_signal_detach();
		if (c.io != NULL)
			client_io_detach(c.io);
		client_conn_free(c.cc);
	}
	ph_cprx_free(c.rx);	/* removes a partial file */
	ph_cptx_free(c.tx);
	if (destfd != -1)
		close(destfd);
	json_decref(c.agent);
	json_decref(c.argv);
	free(c.message);
	free(c.err);
	free(c.cause);
	free(c.close_cause);
	free(target);
	free(as);
	free(name);
	free(id);
	return r;
}

const struct cmd_entry cmd_cp_entry = {
	.name = "cp",
	.alias = NULL,
	.usage = "[--container NAME | --pid PID] TARGET:PATH LOCAL | LOCAL TARGET:PATH",
	.about = "copy files and directory trees to or from an agent, sha256-verified",
	.exec = cmd_cp_exec,
	.flags = 0,
};
