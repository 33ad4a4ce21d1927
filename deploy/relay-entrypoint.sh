#!/bin/sh
# deploy/relay-entrypoint.sh - the relay image's entrypoint.
#
# ECS passes Secrets Manager values only as environment variables, while
# porthole-relay reads its certificate, key and verification keys from
# files.  For each of PORTHOLE_TLS_CERT_PEM, PORTHOLE_TLS_KEY_PEM,
# PORTHOLE_PUBKEY_PEM and PORTHOLE_REDIS_PASSWORD (ElastiCache's AUTH
# token, for PORTHOLE_REDIS_PASSWORD_FILE) that is set, this writes it to a file in
# $PORTHOLE_RUN_DIR (default /run/porthole; the directory 0700, files 0600),
# points PORTHOLE_TLS_CERT, PORTHOLE_TLS_KEY, PORTHOLE_PUBKEY or
# PORTHOLE_REDIS_PASSWORD_FILE at it,
# removes the PEM from the environment, and execs the relay with the given
# arguments: the relay takes this process's pid (PID 1), so ECS's SIGTERM
# reaches it, and its /proc/1/environ holds no key.
set -eu

run=${PORTHOLE_RUN_DIR:-/run/porthole}
umask 077
mkdir -p "$run"
chmod 700 "$run"

# pem VAR FILEVAR NAME: $VAR (a PEM) to $run/NAME; FILEVAR names the file.
pem() {
	eval "value=\${$1:-}"
	if [ -n "$value" ]; then
		printf '%s\n' "$value" >"$run/$3"
		eval "$2=\$run/\$3"
		export "${2?}"
	fi
	unset "$1" value
}
pem PORTHOLE_TLS_CERT_PEM PORTHOLE_TLS_CERT tls.crt
pem PORTHOLE_TLS_KEY_PEM PORTHOLE_TLS_KEY tls.key
pem PORTHOLE_PUBKEY_PEM PORTHOLE_PUBKEY pubkeys.pem
pem PORTHOLE_REDIS_PASSWORD PORTHOLE_REDIS_PASSWORD_FILE redis.pw
unset PORTHOLE_RUN_DIR

exec porthole-relay "$@"
