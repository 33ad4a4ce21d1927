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
 *
 * A relative remote PATH is resolved by the agent from the directory a
 * `shell` starts in (its working directory, or the --pid process's), and
 * is sent only to agents that list PH_CAP_CP_CWD in their caps: an older
 * agent would take it from `/`.  LOCAL `-`: get streams the one regular
 * file to stdout (a directory is refused; the sha256 is checked at the
 * end, after the bytes went out, and a mismatch is the exit status);
 * put reads stdin as a file of unknown size (PH_CAP_CP_UNSIZED), mode
 * 0644 before the agent's umask, which PATH must name (not a directory).
 * stdout and stdin go through the writer and reader threads, so a slow
 * reader or agent slows the other end and memory stays bounded; stdout
 * closing early ends quietly (client-out.c).
 *
 * Progress (client-progress.c: percent and ETA for one file, bytes and
 * rate for a tree or a stream) goes to stderr only when stderr is a
 * terminal (not with `cp - ...` to a terminal stdout); the one-line
 * summary, as dump's, always, unless -q.
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
#include "porthole/duration.h"
#include "porthole/frame.h"
#include "porthole/ops.h"
#include "porthole/protocol.h"
#include "porthole/util.h"

#include "client-exit.h"
#include "client-conn.h"
#include "client-io.h"
#include "client-out.h"
#include "client-progress.h"
#include "client-run.h"
#include "client-signal.h"
#include "client-target.h"
#include "client-units.h"
#include "cmd.h"

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

	int			 quiet;		/* -q */
	int			 to_stdout;	/* get to `-` */
	int			 from_stdin;	/* put from `-` */
	struct client_progress	 prog;
};

static uint64_t
cp_bytes(struct cp *c)
{
	return c->rx != NULL ? ph_cprx_bytes(c->rx) : c->tx != NULL ? ph_cptx_bytes(c->tx) : 0;
}

static void
cp_progress(struct cp *c)
{
	c->prog.io = c->run.io;
	client_progress_update(&c->prog, cp_bytes(c), c->rx != NULL ? ph_cprx_total(c->rx) :
	    c->tx != NULL ? ph_cptx_total(c->tx) : -1);
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
		if (rc == PH_CPTX_FEED) {
			/* stdin: one chunk as DATA, or its end. */
			struct client_io_status	 st;
			const uint8_t		*p;

			if (client_io_peek(c->run.io, &p, &n)) {
				if (ph_cptx_feed(c->tx, p, n, &cause) != 0) {
					cp_abort(c, cause);
					return;
				}
				rc = client_session_send(c->run.s, PH_FRAME_DATA, p, n);
				client_io_pop(c->run.io);
				if (rc != 0) {
					cp_abort(c, strdup("cannot queue the stream to the relay"));
					return;
				}
				continue;
			}
			client_io_status(c->run.io, &st);
			if (!st.in_eof)
				break;		/* the reader wakes us */
			ph_cptx_feed_end(c->tx);
			continue;
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
	cp_progress(c);
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
			return 1;
		}
		if (c->to_stdout && f->type == PH_FRAME_DATA && f->len > 0 &&
		    c->run.abort == CLIENT_RUN_RUNNING &&
		    client_run_write(&c->run, 1, f->payload, f->len) != 0) {
			cp_abort(c, strdup("internal error: the output queue overflowed"));
			return 1;
		}
		cp_progress(c);
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

/* The summary, as dump's: what went where, how much, how fast. */
static void
cp_summary(struct cp *c, const char *from, const char *to)
{
	char		 size[CLIENT_UNITS_SIZE_MAX], rate[CLIENT_UNITS_SIZE_MAX + 2];
	char		 took[PH_DURATION_FMT_MAX], files[32] = "", sha[80] = "";
	const char	*h;
	uint64_t	 bytes = cp_bytes(c);

	client_units_size((double)bytes, size, sizeof size);
	if (c->rx != NULL && !c->to_stdout)
		snprintf(files, sizeof files, "%u file%s, ", ph_cprx_files(c->rx),
		    ph_cprx_files(c->rx) == 1 ? "" : "s");
	if (c->rx != NULL && (h = ph_cprx_sha256(c->rx)) != NULL)
		snprintf(sha, sizeof sha, ", sha256 %s", h);
	fprintf(stderr, "cp: copied %s to %s: %s%llu bytes (%s)%s, %s, %s\n", from, to, files,
	    (unsigned long long)bytes, size, sha,
	    ph_duration_fmt(ph_mono_ms() - c->prog.t0, took, sizeof took),
	    client_progress_rate(&c->prog, bytes, rate, sizeof rate));
}

/*
 * The command line: options into c, the two positional words into pos.
 * -1 when it parsed, else the exit status.
 */
static int
cp_args(struct cp *c, struct client_conf *conf, int argc, char **argv,
    const char *pos[2])
{
	const char	*a;
	int		 i, r, np = 0;

	for (i = 1; i < argc; i++) {
		a = argv[i];
		if ((r = client_run_option(&c->run, &cmd_cp_entry, argc, argv, &i)) >= 0) {
			if (r != 0)
				return r;
		} else if (strcmp(a, "-p") == 0 || strcmp(a, "--preserve") == 0) {
			c->preserve = 1;
		} else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
			c->quiet = 1;
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
	return -1;
}

/*
 * Which side is the agent's: *get (from the agent), *target (malloc'd),
 * *rpath and *local.  -1 when one is, else the exit status.
 */
static int
cp_sides(const char *pos[2], int *get, char **target, const char **rpath,
    const char **local)
{
	char		*t2 = NULL;
	const char	*p2;

	if ((*get = cp_remote(pos[0], target, rpath))) {
		if (cp_remote(pos[1], &t2, &p2)) {
			free(t2);
			return cmd_usage_error(&cmd_cp_entry, "copy between two agents is not "
			    "supported; one side must be local");
		}
		*local = pos[1];
	} else if (cp_remote(pos[1], target, rpath))
		*local = pos[0];
	else
		return cmd_usage_error(&cmd_cp_entry, "one side must be TARGET:PATH");
	if (*target == NULL)
		return cmd_failf("out of memory");
	if (**rpath == '\0')
		return cmd_usage_error(&cmd_cp_entry, "empty remote path");
	return -1;
}

/*
 * The local side first, so that a missing source or an unwritable
 * destination fails before any connection: the stream and the argv.
 */
static int
cp_local(struct cp *c, int get, const char *local, const char *rpath,
    int *destfd, char **as, char **cause)
{
	if (c->to_stdout) {
		if ((c->rx = ph_cprx_new_pass(cause)) == NULL)
			return -1;
		c->argv = json_pack("[s, s]", "get", rpath);
	} else if (get) {
		if ((*destfd = cp_local_dest(local, rpath, as, cause)) < 0 ||
		    (c->rx = ph_cprx_new(*destfd, *as, c->preserve ? PH_CPRX_PRESERVE :
		    0, ph_cp_umask(), cause)) == NULL)
			return -1;
		c->argv = json_pack("[s, s]", "get", rpath);
	} else if (c->from_stdin) {
		/* NAME "": no name of its own, PATH names the file. */
		if ((c->tx = ph_cptx_new_stream("stdin", 0644, cause)) == NULL)
			return -1;
		c->argv = json_pack("[s, s, s]", "put", rpath, "");
	} else {
		if ((c->tx = ph_cptx_new(-1, local, cause)) == NULL)
			return -1;
		c->argv = json_pack("[s, s, s]", "put", rpath, ph_cptx_name(c->tx));
	}
	return 0;
}

static int
cmd_cp_exec(struct client_conf *conf, int argc, char **argv)
{
	struct cp	 c;
	const char	*pos[2] = { NULL, NULL }, *rpath = NULL, *local = NULL;
	char		*target = NULL, *cause = NULL, *as = NULL, *from = NULL, *to = NULL;
	int		 r, get = 0, destfd = -1, fd, e;

	memset(&c, 0, sizeof c);
	if ((r = cp_args(&c, conf, argc, argv, pos)) >= 0)
		return r;
	if ((r = cp_sides(pos, &get, &target, &rpath, &local)) >= 0) {
		free(target);
		return r;
	}
	c.to_stdout = get && strcmp(local, "-") == 0;
	c.from_stdin = !get && strcmp(local, "-") == 0;
	if (cp_local(&c, get, local, rpath, &destfd, &as, &cause) != 0)
		goto fail;

	if ((r = client_run_resolve(&c.run, conf, target)) != 0)
		goto out;
	/* An agent without the feature would take the request in its older meaning. */
	if (rpath[0] != '/' && !client_agent_has_cap(c.run.agent, PH_CAP_CP_CWD)) {
		cause = ph_asprintf("%s (%s) does not resolve relative paths (an older agent, "
		    "or relay, would take '%s' from /): give an absolute path",
		    c.run.agent_name, c.run.agent_id, rpath);
		goto fail;
	}
	if (c.from_stdin && !client_agent_has_cap(c.run.agent, PH_CAP_CP_UNSIZED)) {
		cause = ph_asprintf("%s (%s) cannot take a stream from stdin (an older agent "
		    "or relay): copy a file", c.run.agent_name, c.run.agent_id);
		goto fail;
	}
	from = get ? ph_asprintf("%s:%s", c.run.agent_name, rpath) :
	    strdup(c.from_stdin ? "stdin" : local);
	to = get ? strdup(c.to_stdout ? "stdout" : local) :
	    ph_asprintf("%s:%s", c.run.agent_name, rpath);
	client_progress_init(&c.prog, NULL, isatty(2) && !c.quiet &&
	    !(c.to_stdout && isatty(1)));
	/* A lost progress line does not stop the copy; a lost stdout does. */
	c.run.quiet_out = !c.to_stdout;

	client_signal_block();
	if (client_run_loop(&c.run, c.from_stdin, &cp_ops, &c, &cause) != 0)
		goto fail;
	client_progress_clear(&c.prog);
	if (c.to_stdout && (c.run.abort == CLIENT_RUN_ABORT_PIPE ||
	    c.run.abort == CLIENT_RUN_ABORT_WRITE)) {
		r = client_out_failed(c.run.out_fd, c.run.out_errno, "the output is truncated");
		goto out;
	}
	if ((e = client_io_flush(c.run.io, &fd)) != 0 && c.to_stdout && fd == 1) {
		r = client_out_failed(fd, e, "the output is truncated");
		goto out;
	}
	if (cp_ok(&c)) {
		if (!c.quiet)
			cp_summary(&c, from, to);
		r = 0;
	} else
		r = cmd_fail(cp_failure(&c));
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
	free(from);
	free(to);
	return r;
}

const struct cmd_entry cmd_cp_entry = {
	.name = "cp",
	.alias = NULL,
	.usage = "[-p] [-q] [--container NAME | --pid PID] TARGET:PATH LOCAL|- | LOCAL|- TARGET:PATH",
	.about = "copy files and directory trees to or from an agent, sha256-verified",
	.exec = cmd_cp_exec,
	.flags = 0,
	.description = "Copy a file or a directory tree from the agent TARGET "
	    "names (TARGET:PATH LOCAL) or to it (LOCAL TARGET:PATH). Each file "
	    "is checked with sha256 by the receiver and renamed into place only "
	    "once it verified; symlinks are copied as symlinks, never followed; "
	    "names that would climb out of the destination are refused. Modes "
	    "lose setuid, setgid and sticky and pass through the receiver's "
	    "umask unless -p. A relative PATH starts where a shell would: the "
	    "agent's working directory, or the --pid process's. LOCAL - streams "
	    "one file to stdout (its sha256 checked at the end: a mismatch is "
	    "the exit status) or sends stdin as a file named PATH. On a terminal, "
	    "stderr shows progress (percent and time left for one file, bytes and "
	    "rate for a tree); a one-line summary follows the copy.",
	.options = (const struct ph_help_opt[]){
		{ "--preserve", "-p", NULL, "keep modes as they are (setuid, setgid "
		    "and sticky included, no umask)" },
		{ "--quiet", "-q", NULL, "no progress and no summary; failures are "
		    "still said" },
		CLIENT_RUN_HELP_OPTIONS,
		{ NULL, NULL, NULL, NULL }
	},
};
