#!/usr/bin/env bash
# The static agent in an empty root: a chroot (in a mount namespace of its
# own) holding only the agent, a CA bundle (the dev relay's certificate),
# /dev/null, /dev/urandom and a static program (busybox, as the issue asks,
# and the static test program).  It connects to the
# dev relay over TLS and serves exec of that program; it finds the bundle at
# each place the common images keep it, through SSL_CERT_FILE and
# PORTHOLE_CA, resolves a name through /etc/hosts without any NSS module,
# and says clearly what is missing when something is.
. "$(dirname "$0")/lib.sh"

if sanitizer; then
	echo "# SKIP: the sanitizer build's agent is dynamic (ASan cannot link -static)"
	exit 77
fi
if ! file -L "$AGENT_BIN" | grep -q 'statically linked'; then
	echo "# SKIP: this build's agent is dynamic (-Dstatic_agent=false)"
	exit 77
fi
APP_BIN=$BUILD/tests/tools/ph-testapp
CHROOT=$(PATH=$PATH:/usr/sbin:/sbin command -v chroot)
: >"$T/.probe"
if [ -z "$CHROOT" ] || ! unshare --mount mount --bind /dev/null "$T/.probe" 2>/dev/null; then
	echo "# SKIP: needs chroot and unshare --mount with bind mounts (root)"
	exit 77
fi
check "the agent is one statically linked executable" sh -c "file -L '$AGENT_BIN' | grep -q 'statically linked'"
check "so is the test program" sh -c "file -L '$APP_BIN' | grep -q 'statically linked'"
strip -o "$T/agent.stripped" "$AGENT_BIN" && log "stripped agent: $(stat -c %s "$T/agent.stripped") bytes"

start_relay
ROOT=$T/root
TOKEN=$(cat "$STATE/agent.token")
# The issuer's public key as PEM text: the root holds no key file.
PUBPEM=$(cat "$PORTHOLE_PUBKEY")
NUMERIC=wss://127.0.0.1:$PORT

# new_root: a root with the agent, the test program and the two device nodes, nothing else.
new_root() {
	rm -rf "$ROOT"
	mkdir -p "$ROOT/dev"
	: >"$ROOT/dev/null"; : >"$ROOT/dev/urandom"
	cp "$AGENT_BIN" "$ROOT/porthole-agent"
	cp "$APP_BIN" "$ROOT/ph-testapp"
}
# put FILE PATH: FILE at PATH inside the root.
put() { mkdir -p "$ROOT$(dirname "$2")"; cp "$1" "$ROOT$2"; }
# in_root NAME RELAY [VAR=VALUE...]: the agent in the root, its only environment
# the relay, the token, its name and the given variables; sets RPID.
in_root() {
	local name=$1 relay=$2; shift 2
	unshare --mount sh -c 'mount --bind /dev/null "$1/dev/null" &&
		mount --bind /dev/urandom "$1/dev/urandom" && shift && exec "$@"' sh "$ROOT" \
		env -i PORTHOLE_PUBKEY="$PUBPEM" PORTHOLE_RELAY="$relay" PORTHOLE_TOKEN="$TOKEN" PORTHOLE_NAME="$name" "$@" \
		"$CHROOT" "$ROOT" /porthole-agent >"$T/$name.out" 2>"$T/$name.err" &
	RPID=$!
	PIDS+=("$RPID")
}
stop_root() { kill -TERM "$RPID" 2>/dev/null; wait "$RPID" 2>/dev/null; }
# serves NAME: listed, and exec of the root's static program works through it.
serves() {
	local name=$1 what=$2
	if ! wait_for 20 agent_listed "$name"; then
		fail "$what: the agent did not register"
		sed 's/^/#   /' "$T/$name.err"
		return
	fi
	eq "$what: exec of the static program" \
		"$(ph exec "$name" -- /ph-testapp echo from the empty root </dev/null)" \
		"from the empty root"
}

# The issue's root: the agent, a CA bundle, /dev/null (and /dev/urandom) and
# a static busybox, no /etc/hosts, no ph-testapp; exec of busybox through it.
BUSYBOX=$(command -v busybox || true)
if [ -n "$BUSYBOX" ] && file -L "$BUSYBOX" | grep -q 'statically linked'; then
	new_root; rm "$ROOT/ph-testapp"
	put "$STATE/ca.pem" /etc/ssl/certs/ca-certificates.crt
	put "$BUSYBOX" /bin/busybox
	eq "the busybox root holds only the agent, the bundle, busybox and two devices" \
		"$(cd "$ROOT" && find . -type f | sort | tr '\n' ' ')" \
		"./bin/busybox ./dev/null ./dev/urandom ./etc/ssl/certs/ca-certificates.crt ./porthole-agent "
	in_root sr-busybox "$NUMERIC"
	if wait_for 20 agent_listed sr-busybox; then
		eq "busybox root: exec of busybox" \
			"$(ph exec sr-busybox -- /bin/busybox echo hello from busybox </dev/null)" \
			"hello from busybox"
		eq "busybox root: busybox sh runs, its exit code comes back" \
			"$(ph exec sr-busybox -- /bin/busybox sh -c 'echo $((6 * 7)); exit 3' </dev/null; echo "rc=$?")" \
			"42
rc=3"
	else
		fail "busybox root: the agent did not register"
		sed 's/^/#   /' "$T/sr-busybox.err"
	fi
	stop_root
else
	log "no static busybox here (Debian: busybox-static): busybox root not tried"
fi

# Each well-known place, alone in the root.
i=0
for place in /etc/ssl/certs/ca-certificates.crt /etc/ssl/cert.pem \
    /etc/pki/tls/certs/ca-bundle.crt /etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem \
    /etc/ssl/ca-bundle.pem; do
	i=$((i + 1))
	new_root; put "$STATE/ca.pem" "$place"
	in_root "sr-$i" "$NUMERIC"
	serves "sr-$i" "bundle at $place"
	stop_root
done

# SSL_CERT_FILE names a bundle anywhere, and wins over a well-known place.
new_root; put "$STATE/ca.pem" /certs/relay.pem
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=other \
	-keyout "$T/other.key" -out "$T/other.pem" -days 1 2>/dev/null
put "$T/other.pem" /etc/ssl/certs/ca-certificates.crt
in_root sr-env "$NUMERIC" SSL_CERT_FILE=/certs/relay.pem
serves sr-env "SSL_CERT_FILE over a well-known place"
stop_root

# The bundle is really what is trusted: one that lacks the relay's CA refuses it.
new_root; put "$T/other.pem" /etc/ssl/cert.pem
in_root sr-wrong "$NUMERIC"
check "a bundle without the relay's CA: the certificate is refused" \
	wait_for 20 grep -q 'certificate /CN=porthole dev relay' "$T/sr-wrong.err"
check "... and the agent is not listed" sh -c "! '$CLI_BIN' ls --json | grep -q sr-wrong"
stop_root

# PORTHOLE_CA alone (no system bundle at all).
new_root; put "$STATE/ca.pem" /relay-ca.pem
in_root sr-ca "$NUMERIC" PORTHOLE_CA=/relay-ca.pem
serves sr-ca "PORTHOLE_CA without a system bundle"
stop_root

# A name through the root's /etc/hosts: no nsswitch.conf, no NSS module, no DNS.
new_root; put "$STATE/ca.pem" /etc/ssl/cert.pem
printf '127.0.0.1 localhost\n' >"$T/hosts"; put "$T/hosts" /etc/hosts
in_root sr-hosts "wss://localhost:$PORT"
serves sr-hosts "relay name from /etc/hosts"
# A program the image lacks: a clear 127, not a hang.
ph exec sr-hosts -- /bin/sh -c true </dev/null 2>"$T/nosh.err"
eq "a program the root lacks is 127" $? 127
contains "... and says so" "$(cat "$T/nosh.err")" "not found"
stop_root

# A FROM scratch application image in launcher mode: the root's only program is
# APP, started as PID 1 by the static agent (ENTRYPOINT ["/porthole-agent", "--", ...]).
new_root; put "$STATE/ca.pem" /etc/ssl/certs/ca-certificates.crt
unshare --mount --pid --fork sh -c 'mount --bind /dev/null "$1/dev/null" &&
	mount --bind /dev/urandom "$1/dev/urandom" && shift && exec "$@"' sh "$ROOT" \
	env -i PORTHOLE_PUBKEY="$PUBPEM" PORTHOLE_RELAY="$NUMERIC" PORTHOLE_TOKEN="$TOKEN" PORTHOLE_NAME=sr-launch \
	"$CHROOT" "$ROOT" /porthole-agent -- /ph-testapp app / 4 >"$T/sr-launch.out" 2>"$T/sr-launch.err" &
RPID=$!
PIDS+=("$RPID")
check "launcher in the empty root: APP started" wait_for 20 test -f "$ROOT/ready"
eq "... APP is PID 1" "$(cat "$ROOT/pid")" 1
eq "... APP's environment has no PORTHOLE_*" "$(grep -c PORTHOLE_ "$ROOT/env")" 0
serves sr-launch "launcher in the empty root"
kill -TERM "$(pgrep -P "$RPID" | head -1)"
wait "$RPID"; eq "... APP's SIGTERM handler ran and its code is the namespace's" $? 4

# Nothing to trust: one line naming every place looked at, status 2.
new_root
in_root sr-none "$NUMERIC"
wait "$RPID"; eq "no bundle anywhere: status 2" $? 2
contains "... and the message names the places" "$(cat "$T/sr-none.err")" \
	"/etc/pki/tls/certs/ca-bundle.crt"

# No /dev/urandom (libwebsockets needs it): said, not a vague TLS failure.
new_root; put "$STATE/ca.pem" /etc/ssl/cert.pem
env -i PORTHOLE_PUBKEY="$PUBPEM" PORTHOLE_RELAY="$NUMERIC" PORTHOLE_TOKEN="$TOKEN" unshare --mount sh -c \
	'mount --bind /dev/null "$1/dev/null" && rm "$1/dev/urandom" && exec "$2" "$1" /porthole-agent' \
	sh "$ROOT" "$CHROOT" >/dev/null 2>"$T/nourandom.err"
eq "no /dev/urandom: status 2" $? 2
contains "... and says so" "$(cat "$T/nourandom.err")" "/dev/urandom"
finish
