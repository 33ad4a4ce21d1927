/*
 * cmd-cp.c - `porthole cp`: copy a file or directory tree from an agent
 * (`cp TARGET:PATH LOCAL`) or to it (`cp LOCAL TARGET:PATH`) as the cp
 * stream of docs/protocol.md ("cp").  src/cpstream.c walks and writes on
 * both ends: sha256 is checked per file by the receiver, a file is written
 * under NAME.porthole-partial-XXXXXXXX and renamed only once it verified,
 * names that would climb out of the destination are refused, symlinks are
 * recreated as symlinks, never followed.  What arrives is only ever the
 * name asked for: the receiver maps the stream's one top-level entry to it
 * (DIR/NAME-of-the-source when the destination is a directory) and refuses
 * anything beside it; modes lose setuid/setgid/sticky and pass through the
 * umask (of the CLI on get, of the agent on put) unless -p, which a put
 * carries to the agent as `preserve` in the signed open, with the name in
 * argv ["put", PATH, NAME].  Sending (put) feeds the session
 * only while its queue is under the high mark and resumes on `drained`.
 * Progress (bytes, rate) goes to stderr only when stderr is a terminal.
 * Any failure prints one "porthole: ..." line and exits 255.  The session
 * itself (agent, loop, `exit`, `error`, bounded stops) is client-run.c's;
 * this file keeps the stream and the verdict.
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

#include "client-exit.h"
#include "client-conn.h"
#include "client-io.h"
#include "client-run.h"
#include "client-signal.h"
#include "client-target.h"
#include "cmd.h"

#define CP_PROGRESS_MS	250

struct cp {
	struct client_run	 run;		/* agent, session, outcome */
	json_t			*argv;

	struct ph_cprx		*rx;		/* get */
	struct ph_cptx		*tx;		/* put */
	int			 preserve;	/* -p */
	int			 started;	/* `ready` seen */
	int			 sent_all;

	char			*cause;		/* our own failure */
	int			 interrupted;

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
		client_io_write(c->run.io, 2, line, (size_t)n);
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
	client_run_abort(&c->run, CLIENT_RUN_ABORT_COMMAND, "client done");
}

static void
cp_open(void *arg)
{
	struct cp	*c = arg;
	json_t		*m;

	if ((m = client_open_new(c->run.sid, c->run.agent,
	    "cp", json_incref(c->argv))) == NULL ||
	    (c->tx != NULL && c->preserve &&
	    json_object_set_new(m, "preserve", json_true()) != 0)) {
		json_decref(m);
		cp_abort(c, strdup("out of memory"));
		return;
	}
	client_run_send_open(&c->run, m);
}

/* put: send while the session's queue has room. */
static void
cp_pump(void *arg)
{
	static uint8_t	 buf[PH_MAX_PAYLOAD];
	struct cp	*c = arg;
	json_t		*m;
	size_t		 n;
	char		*cause = NULL;
	int		 rc;

	while (c->tx != NULL && c->started && !c->sent_all && c->cause == NULL &&
	    !client_session_full(c->run.s)) {
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
			rc = client_session_send_ctl(c->run.s, m);
		else
			rc = client_session_send(c->run.s, PH_FRAME_DATA, buf, n);
		if (rc != 0) {
			cp_abort(c, strdup("cannot queue the stream to the relay"));
			return;
		}
	}
	cp_progress(c, 0);
}

/* The stream, and `ready`; `exit` and `error` are the run's. */
static int
cp_frame(void *arg, const struct ph_frame *f)
{
	struct cp	*c = arg;
	char		*cause = NULL;

	if (c->cause != NULL)
		return 1;	/* given up: nothing more counts */
	if (f->type == PH_FRAME_DATA || (f->type == PH_FRAME_CONTROL && f->ctl == PH_CTL_META)) {
		if (c->rx == NULL) {
			cp_abort(c, strdup("the agent sent a stream to a cp upload"));
			return 1;
		}
		if ((f->type == PH_FRAME_DATA ? ph_cprx_data(c->rx, f->payload, f->len, &cause) :
		    ph_cprx_meta(c->rx, f->json, &cause)) != 0) {
			cp_abort(c, ph_asprintf("cp from %s (%s): %s", c->run.agent_name,
			    c->run.agent_id, cause));
			free(cause);
		} else
			cp_progress(c, 0);
		return 1;
	}
	if (f->type != PH_FRAME_CONTROL)
		return 1;	/* STDOUT/STDERR: cp has none */
	if (f->ctl == PH_CTL_READY) {
		c->started = 1;
		cp_pump(c);
	}
	return f->ctl == PH_CTL_EXIT || f->ctl == PH_CTL_ERROR ? 0 : 1;
}

/* Any signal: stop, leaving nothing partial under a final name. */
static void
cp_signal(void *arg, int sig)
{
	struct cp	*c = arg;

	(void)sig;
	if (!c->interrupted && !c->run.got_exit) {
		c->interrupted = 1;
		cp_abort(c, strdup("interrupted"));
	}
}

static const struct client_run_ops cp_ops = {
	.open = cp_open,
	.pump = cp_pump,
	.signal = cp_signal,
	.frame = cp_frame,
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

/*
 * get: the local directory written into, and the name the top entry
 * arrives as: the remote path's own name inside an existing directory,
 * else the last component of local.
 */
static int
cp_local_dest(const char *local, const char *rpath, char **as, char **cause)
{
	char	*dir, *slash;
	int	 fd;

	*as = NULL;
	if ((fd = open(local, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		if ((*as = ph_cp_top_name(rpath)) == NULL) {
			close(fd);
			*cause = ph_asprintf("out of memory");
			return -1;
		}
		return fd;
	}
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

/* Did the copy finish, whole? */
static int
cp_ok(struct cp *c)
{
	return c->run.got_exit && c->run.status == 0 && c->cause == NULL &&
	    (c->rx == NULL || ph_cprx_done(c->rx)) && (c->tx == NULL || c->sent_all);
}

static char *
cp_failure(struct cp *c)
{
	struct client_run	*r = &c->run;
	const char		*name = r->agent_name, *id = r->agent_id;

	if (c->cause != NULL && !c->interrupted)
		return strdup(c->cause);
	if (c->interrupted)
		return strdup("cp interrupted; nothing partial was left under a final name");
	if (r->got_exit && r->status != 0)
		return ph_asprintf("cp on %s (%s): %s", name, id, r->exit_message != NULL ?
		    r->exit_message : "failed");
	if (r->got_exit && c->rx != NULL && !ph_cprx_done(c->rx))
		return ph_asprintf("cp on %s (%s): the stream ended early", name, id);
	return client_run_failure(r, "cp", NULL);
}

static int
cmd_cp_exec(struct client_conf *conf, int argc, char **argv)
{
	struct cp	 c;
	const char	*pos[2] = { NULL, NULL }, *rpath = NULL, *local;
	char		*target = NULL, *cause = NULL, *as = NULL;
	int		 i, r, np = 0, get, destfd = -1, fd;

	memset(&c, 0, sizeof c);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if ((r = client_run_option(&c.run, &cmd_cp_entry, argc, argv, &i)) >= 0) {
			if (r != 0)
				return r;
		} else if (strcmp(a, "-p") == 0 || strcmp(a, "--preserve") == 0) {
			c.preserve = 1;
		} else if (strcmp(a, "--") == 0 && i + 1 < argc) {
			while (++i < argc && np < 2)
				pos[np++] = argv[i];
			if (i < argc)
				return cmd_usage_error(&cmd_cp_entry, "unexpected argument '%s'",
				    argv[i]);
		} else if (a[0] == '-' && a[1] != '\0') {
			if ((r = cmd_conf_option(&cmd_cp_entry, conf, argc, argv, &i)) != 0)
				return r;
		} else if (np < 2)
			pos[np++] = a;
		else
			return cmd_usage_error(&cmd_cp_entry, "unexpected argument '%s'", a);
	}
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
		if ((destfd = cp_local_dest(local, rpath, &as, &cause)) < 0 ||
		    (c.rx = ph_cprx_new(destfd, as, c.preserve ? PH_CPRX_PRESERVE : 0,
		    ph_cp_umask(), &cause)) == NULL)
			goto fail;
		c.argv = json_pack("[s, s]", "get", rpath);
	} else {
		if ((c.tx = ph_cptx_new(-1, local, &cause)) == NULL)
			goto fail;
		c.argv = json_pack("[s, s, s]", "put", rpath, ph_cptx_name(c.tx));
	}

	if ((r = client_run_resolve(&c.run, conf, target)) != 0)
		goto out;
	c.progress = isatty(2);
	c.t0 = c.last = ph_mono_ms();
	c.run.quiet_out = 1;	/* a lost progress line does not stop the copy */

	client_signal_block();
	if (client_run_loop(&c.run, 0, &cp_ops, &c, &cause) != 0)
		goto fail;
	if (cp_ok(&c))
		cp_progress(&c, 1);
	(void)client_io_flush(c.run.io, &fd);

	r = cp_ok(&c) ? 0 : cmd_fail(cp_failure(&c));
	goto out;
fail:
	r = cmd_fail(cause);
out:
	client_run_free(&c.run);
	ph_cprx_free(c.rx);	/* removes a partial file */
	ph_cptx_free(c.tx);
	if (destfd != -1)
		close(destfd);
	json_decref(c.argv);
	free(c.cause);
	free(target);
	free(as);
	return r;
}

const struct cmd_entry cmd_cp_entry = {
	.name = "cp",
	.alias = NULL,
	.usage = "[-p] [--container NAME | --pid PID] TARGET:PATH LOCAL | LOCAL TARGET:PATH",
	.about = "copy files and directory trees to or from an agent, sha256-verified",
	.exec = cmd_cp_exec,
	.flags = 0,
	.description = "Copy a file or a directory tree from the agent TARGET "
	    "names (TARGET:PATH LOCAL) or to it (LOCAL TARGET:PATH). Each file "
	    "is checked with sha256 by the receiver and renamed into place only "
	    "once it verified; symlinks are copied as symlinks, never followed; "
	    "names that would climb out of the destination are refused. Modes "
	    "lose setuid, setgid and sticky and pass through the receiver's "
	    "umask unless -p.",
	.options = (const struct ph_help_opt[]){
		{ "--preserve", "-p", NULL, "keep modes as they are (setuid, setgid "
		    "and sticky included, no umask)" },
		CLIENT_RUN_HELP_OPTIONS,
		{ NULL, NULL, NULL, NULL }
	},
};
