/*
 * keepalive.h - how often the three programs ping and when they give up on
 * a silent peer.  One setting, the hangup time, drives both: pings go out
 * after min(PH_PING_SECS, hangup / 3) s without a pong, so two pings are
 * lost before the hangup.  docs/protocol.md, "Keepalive", says why.
 */
#ifndef PORTHOLE_KEEPALIVE_H
#define PORTHOLE_KEEPALIVE_H

#define PH_HANGUP_MIN	3
#define PH_HANGUP_MAX	3600

/*
 * The hangup time from flag (may be NULL), else PORTHOLE_HANGUP_SECS, else
 * PH_HANGUP_SECS, and the ping interval that goes with it.  -1 when the
 * value is not a number from PH_HANGUP_MIN to PH_HANGUP_MAX.
 */
int	ph_keepalive_secs(const char *flag, int *ping_secs, int *hangup_secs);

#endif
