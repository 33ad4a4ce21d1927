#!/usr/bin/env bash
# scripts/package end to end: the two .deb files it builds from this build
# directory are well formed (dpkg-deb -I, dpkg -c), hold the programs where
# README.md says (/usr/bin/porthole, /usr/sbin/porthole-relay) with their
# man pages and the CLI's completion scripts where man and the shells look,
# depend on packages this machine has (the relay's on libwebsockets, the
# CLI's not: it has its own loop and TLS), and what dpkg -x unpacks into a
# scratch root runs: `porthole version`, and the unpacked relay (--dev) serves the
# unpacked CLI.
. "$(dirname "$0")/lib.sh"

SRC=$(cd "$(dirname "$0")/../.." && pwd)
command -v dpkg-shlibdeps >/dev/null || { fail "dpkg-dev is not installed (scripts/deps.sh installs it)"; finish; }

"$SRC/scripts/package" --build "$BUILD" --out "$T/dist" >"$T/package.out" 2>"$T/package.err"
eq "scripts/package succeeds" $? 0
arch=$(dpkg --print-architecture)
cli=$(ls "$T"/dist/porthole_*_"$arch".deb 2>/dev/null)
relay=$(ls "$T"/dist/porthole-relay_*_"$arch".deb 2>/dev/null)
check "the CLI's package is built" test -f "$cli"
check "the relay's package is built" test -f "$relay"

for deb in "$cli" "$relay"; do
	name=$(basename "$deb" | cut -d_ -f1)
	info=$(dpkg-deb -I "$deb")
	contains "$name: dpkg-deb -I reads it" "$info" "Package: $name"
	eq "$name: its version is the build's" "$(dpkg-deb -f "$deb" Version)" \
		"$("$CLI_BIN" version | sed -n 's/^porthole \([^ ]*\).*/\1/p')"
	deps=$(dpkg-deb -f "$deb" Depends)
	contains "$name: depends on OpenSSL (its TLS)" "$deps" libssl
	if [ "$name" = porthole-relay ]; then
		contains "$name: depends on libwebsockets" "$deps" libwebsockets
	else
		# The CLI has its own loop and TLS client (docs/architecture.md, "The CLI").
		check "$name: does not depend on libwebsockets" sh -c "! printf %s '$deps' | grep -q libwebsockets"
	fi
	# Every package it depends on is installed here (so apt can install it on this release).
	for p in $(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/(.*//; s/ //g'); do
		check "$name: depends on $p, a package of this release" dpkg-query -W "$p" >/dev/null
	done
done
check "dpkg -c: the CLI is /usr/bin/porthole" sh -c "dpkg -c '$cli' | grep -q ' ./usr/bin/porthole$'"
check "dpkg -c: the relay is /usr/sbin/porthole-relay" \
	sh -c "dpkg -c '$relay' | grep -q ' ./usr/sbin/porthole-relay$'"
for f in usr/share/man/man1/porthole.1.gz usr/share/bash-completion/completions/porthole \
	usr/share/zsh/vendor-completions/_porthole usr/share/fish/vendor_completions.d/porthole.fish; do
	check "dpkg -c: the CLI's package has /$f" sh -c "dpkg -c '$cli' | grep -q ' ./$f\$'"
done
check "dpkg -c: the relay's package has porthole-relay(8)" \
	sh -c "dpkg -c '$relay' | grep -q ' ./usr/share/man/man8/porthole-relay.8.gz$'"
check "dpkg -c: every file is root's" sh -c "! dpkg -c '$cli' '$relay' | grep -v ' root/root '"

ROOT=$T/root
dpkg -x "$cli" "$ROOT"
dpkg -x "$relay" "$ROOT"
contains "the unpacked CLI runs: porthole version" "$("$ROOT/usr/bin/porthole" version 2>&1)" "porthole "
eq "the unpacked man page renders without a warning" \
	"$(MANWIDTH=80 man --warnings -l "$ROOT/usr/share/man/man1/porthole.1.gz" 2>&1 >/dev/null)" ""
contains "the unpacked man page is porthole(1)" \
	"$(MANWIDTH=80 man -l "$ROOT/usr/share/man/man1/porthole.1.gz" 2>/dev/null)" "porthole - "
check "the unpacked bash completion loads" \
	bash -c 'source "$1" && complete -p porthole' _ "$ROOT/usr/share/bash-completion/completions/porthole"
contains "the unpacked relay runs: --version" "$("$ROOT/usr/sbin/porthole-relay" --version 2>&1)" \
	"porthole-relay "

# The unpacked relay and CLI work together (with the build's agent).
RELAY_BIN=$ROOT/usr/sbin/porthole-relay
CLI_BIN=$ROOT/usr/bin/porthole
start_relay
start_agent pkg-agent
eq "the unpacked CLI execs through the unpacked relay" \
	"$(ph exec pkg-agent -- echo packaged </dev/null)" packaged
finish
