/*
 * fwdpolicy.h - where `porthole forward` may connect: the client token's
 * optional `forward` claim, and the task's credential endpoints, which
 * stay closed unless the claim names them.  The agent checks every
 * connection here after resolving its name, so a name that resolves to a
 * refused address is refused too (docs/protocol.md, "forward").
 *
 * The claim is an array of 1 to PH_FWD_PATTERNS_MAX strings HOST:PORT:
 *   HOST  a name glob (fnmatch(3), case-insensitive: "db.internal",
 *         "*.svc.cluster.local", "*"), matched against the host as the
 *         client gave it; or an address or CIDR ("10.0.0.0/8",
 *         "192.168.1.5", "[fd00::/8]", "[::1]"), matched against every
 *         address the host resolved to;
 *   PORT  a number, a range "LO-HI", or "*".
 * No claim: every destination but the credential endpoints.
 */
#ifndef PORTHOLE_FWDPOLICY_H
#define PORTHOLE_FWDPOLICY_H

#include <stdint.h>
#include <sys/socket.h>

#include <jansson.h>

#define PH_FWD_PATTERNS_MAX	64
#define PH_FWD_PATTERN_MAX	300	/* bytes of one pattern */

struct ph_fwd_policy;

/* Is claim a well-formed forward claim?  0, or -1 with *cause (malloc'd). */
int	ph_fwd_claim_check(const json_t *claim, char **cause);

/*
 * The policy of a claim (NULL: no claim, every destination but the
 * credential endpoints).  NULL with *cause when malformed or out of memory.
 */
struct ph_fwd_policy *ph_fwd_policy_new(const json_t *claim, char **cause);
void	ph_fwd_policy_free(struct ph_fwd_policy *p);

/*
 * May a connection to host (as the client gave it), port, at address sa
 * (one the host resolved to) be made?  0, or -1 with *why (malloc'd) in a
 * sentence fit for the operator.
 */
int	ph_fwd_policy_check(const struct ph_fwd_policy *p, const char *host,
	    uint16_t port, const struct sockaddr *sa, char **why);

/* Is sa one of the task's credential endpoints (169.254.170.2, 169.254.169.254, fd00:ec2::254)? */
int	ph_fwd_credential_endpoint(const struct sockaddr *sa);

#endif
