/*
 * agent-signal.c - the signals the agent handles, read on the event loop.
 *
 * libwebsockets installs no SIGCHLD handler, and a handler would run in
 * the middle of whatever the loop was doing.  So SIGCHLD, SIGTERM, SIGINT
 * and SIGHUP are blocked (before any thread exists, so every thread
 * inherits the mask) and read from a signalfd adopted into the loop as a
 * raw file (research §8): SIGCHLD reaps (agent-proc.c), the others start
 * the shutdown (agent.c).  Children get an empty mask and default
 * dispositions back before exec (agent_proc_prepare).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "porthole/log.h"
#include "porthole/util.h"

#include "agent.h"

static void
agent_signal_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGCHLD);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
}

/* Block the handled signals; SIGCHLD must not be ignored or nothing is reaped. */
int
agent_signal_block(char **cause)
{
	struct sigaction	sa;
	sigset_t		set;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGCHLD, &sa, NULL) != 0) {
		*cause = ph_asprintf("sigaction SIGCHLD: %s", strerror(errno));
		return -1;
	}
	agent_signal_set(&set);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) {
		*cause = ph_asprintf("sigprocmask: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Create the signalfd and adopt it into the loop. */
int
agent_signal_adopt(struct agent *a, char **cause)
{
	lws_adopt_desc_t	 ad;
	sigset_t		 set;
	int			 fd;

	agent_signal_set(&set);
	if ((fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
		*cause = ph_asprintf("signalfd: %s", strerror(errno));
		return -1;
	}
	memset(&ad, 0, sizeof ad);
	ad.vh = a->vh;
	ad.type = LWS_ADOPT_RAW_FILE_DESC;
	ad.fd.filefd = fd;
	ad.vh_prot_name = AGENT_SIGNAL_PROTOCOL;
	ad.opaque = a;
	if ((a->sig_wsi = lws_adopt_descriptor_vhost_via_info(&ad)) == NULL) {
		*cause = ph_asprintf("cannot add the signalfd to the event loop");
		return -1;	/* lws closed fd */
	}
	return 0;
}

int
agent_signal_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct agent		*a = lws_context_user(lws_get_context(wsi));
	struct signalfd_siginfo	 si;
	int			 chld = 0;
	ssize_t			 n;

	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (a->destroying)
			return 0;
		while ((n = read(lws_get_socket_fd(wsi), &si, sizeof si)) == sizeof si) {
			switch (si.ssi_signo) {
			case SIGCHLD:
				chld = 1;
				break;
			case SIGTERM:
				agent_shutdown(a, "SIGTERM");
				break;
			case SIGINT:
				agent_shutdown(a, "SIGINT");
				break;
			case SIGHUP:
				agent_shutdown(a, "SIGHUP");
				break;
			}
		}
		/* SIGCHLD coalesces: one reading reaps every child that exited. */
		if (chld)
			agent_proc_reap(a);
		return 0;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (wsi == a->sig_wsi)
			a->sig_wsi = NULL;
		return 0;
	default:
		return 0;
	}
}
