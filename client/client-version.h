/*
 * client-version.h - ask a relay its version (GET /v1/version, no token)
 * for `porthole version`.  Blocking, bounded by CLIENT_VERSION_TIMEOUT_MS;
 * only for a command that has no event loop running.
 */
#ifndef PORTHOLE_CLIENT_VERSION_H
#define PORTHOLE_CLIENT_VERSION_H

#include <jansson.h>

#define CLIENT_VERSION_TIMEOUT_MS	5000

/*
 * The relay's {"version", "protocol", "commit"} (new reference), or NULL
 * with *cause (malloc'd, printable): why the relay could not be asked or
 * did not answer.  ca (PEM file or NULL) and insecure as for every
 * connection of the CLI.
 */
json_t	*client_version_get(const char *host, int port, const char *ca,
	    int insecure, char **cause);

#endif
