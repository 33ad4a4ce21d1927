#!/usr/bin/env bash
# cp against a hostile peer (the class of scp's CVE-2019-6111).
#
# 1. `porthole cp evil:/x DIR`, answered by ph-evilagent with crafted cp
#    streams: files beside the requested one (.bashrc, .ssh/authorized_keys),
#    a top entry named .bashrc or .ssh, a chmod 0777 of an existing
#    directory, a setuid file, a second top-level entry, `../` and absolute
#    names, a symlink then a write through it, a write through a symlink
#    that was already there, a file cut short.  After each: nothing in DIR
#    but the requested name was created or changed (listing, modes, mtimes,
#    contents), no setuid/setgid bit anywhere, and a refused stream ends in
#    255 with one `porthole: ` line.
# 2. The agent's side, `cp LOCAL real-agent:PATH`: modes lose setuid/setgid/
#    sticky and pass through the agent's umask (027 here), unless -p; and a
#    hostile client stream (ph-probe, signed open) that names another top
#    entry than the open's argv, or a second one, is refused.
. "$(dirname "$0")/lib.sh"
# The hostile agents and relays here answer in the clear, as agents before
# protocol 4 do: the CLI takes them only when told to (seal_hostile.sh
# tests the refusal).
export PORTHOLE_ALLOW_UNSEALED=1

shopt -s lastpipe	# `... | attack`: attack's checks count in this shell
umask 022
EVIL_BIN=$BUILD/tests/tools/ph-evilagent
start_relay

SCRIPT=$T/evil.script
: >"$SCRIPT"
"$EVIL_BIN" --url "wss://127.0.0.1:$PORT" --ca "$PORTHOLE_CA" --token "@$STATE/agent.token" \
	--id evil-1 --name evil --labels role=evil --script "$SCRIPT" \
	>"$T/evil.out" 2>"$T/evil.err" &
PIDS+=("$!")
check "the hostile agent registered" wait_for 20 agent_listed evil

# The stream, one script line per frame.  meta PATH KIND MODE [MTIME]
meta() { echo "ctl {\"type\":\"meta\",\"path\":\"$1\",\"kind\":\"$2\",\"mode\":$((8#$3)),\"mtime\":${4:-1000000}}"; }
# file PATH MODE CONTENT: meta, DATA, sha256
file() {
	local n=${#3} hex sha
	hex=$(printf '%s' "$3" | od -An -tx1 | tr -d ' \n')
	sha=$(printf '%s' "$3" | sha256sum | cut -d' ' -f1)
	echo "ctl {\"type\":\"meta\",\"path\":\"$1\",\"kind\":\"file\",\"mode\":$((8#$2)),\"size\":$n,\"mtime\":1000000}"
	[ "$n" -gt 0 ] && echo "data-hex $hex"
	echo "ctl {\"type\":\"meta\",\"path\":\"$1\",\"sha256\":\"$sha\"}"
}
symlink() { echo "ctl {\"type\":\"meta\",\"path\":\"$1\",\"kind\":\"symlink\",\"target\":\"$2\",\"mode\":511,\"mtime\":1000000}"; }
end() { echo 'ctl {"type":"meta","kind":"end"}'; echo 'ctl {"type":"exit","code":0}'; }

# A home directory to attack, and a place outside it.
H=$T/home
OUT=$T/outside
reset_home() {
	chmod -R u+rwx "$H" 2>/dev/null; rm -rf "$H" "$OUT"
	mkdir -p "$H/.ssh" "$H/keep" "$OUT"
	echo orig-rc >"$H/.bashrc"
	echo orig-key >"$H/.ssh/authorized_keys"
	chmod 700 "$H/.ssh" "$H/keep"; chmod 600 "$H/.ssh/authorized_keys"
	ln -s "$OUT" "$H/lnk"
	touch -h -d @1500000000 "$H/.bashrc" "$H/.ssh/authorized_keys" "$H/.ssh" "$H/keep" "$H/lnk" "$H"
}
# Everything about DIR but the entry NAME: path, type, mode, mtime, size, content.
listing() {
	(cd "$H" && find . -mindepth 1 \( -path "./$1" -o -path "./$1/*" \) -prune -o \
		-printf '%p %y %m %T@ %s %l\n' | LC_ALL=C sort)
	(cd "$H" && find . -mindepth 1 -type f ! -path "./$1" ! -path "./$1/*" -exec sha256sum {} + | LC_ALL=C sort)
	stat -c 'DIR %a' "$H"	# its mtime moves when the name asked for arrives
	find "$OUT" -mindepth 1
}
no_setid() { [ -z "$(find "$H" "$OUT" -perm /7000)" ]; }
no_partials() { [ -z "$(find "$H" -name '*.porthole-partial-*')" ]; }

# attack NAME WANT REQUEST: run `cp evil:/REQUEST $H` with the stream on stdin.
# WANT: 0 (the stream is acceptable once mapped) or 255 (refused).
attack() {
	local name=$1 want=$2 req=$3 before rc
	cat >"$SCRIPT"
	reset_home
	before=$(listing "$req")
	ph cp "evil:/srv/$req" "$H" 2>"$T/err"; rc=$?
	eq "$name: exit $want" "$rc" "$want"
	eq "$name: nothing beside '$req' created or changed" "$(listing "$req")" "$before"
	check "$name: no setuid, setgid or sticky bit" no_setid
	check "$name: no partial file left" no_partials
	if [ "$want" = 255 ]; then
		log "$name: $(head -c 300 "$T/err")"
		eq "$name: one line on stderr" "$(wc -l <"$T/err")" 1
		contains "$name: a porthole: line" "$(cat "$T/err")" "porthole: "
	fi
}

{ file x 644 payload; file .bashrc 644 'evil-rc'; file .ssh/authorized_keys 600 'ssh-ed25519 evil'; end; } |
	attack "files beside the one asked for" 255 x
contains "... says why" "$(cat "$T/err")" "refusing"
check "... the file asked for is the one that arrived" sh -c "[ \"\$(cat '$H/x')\" = payload ]"

{ file .bashrc 644 'evil-rc'; end; } | attack "a file named .bashrc" 0 x
eq "... arrives under the name asked for" "$(cat "$H/x")" evil-rc

{ meta .ssh dir 777; file .ssh/authorized_keys 666 'ssh-ed25519 evil'; end; } |
	attack "a directory named .ssh, 0777" 0 x
eq "... arrives as x, mode masked by the umask" "$(stat -c %a "$H/x")" 755
eq "... its file too" "$(stat -c %a "$H/x/authorized_keys")" 644

{ meta keep dir 777 1; end; } | attack "chmod 0777 of an existing directory" 0 keep
eq "... it keeps its mode" "$(stat -c %a "$H/keep")" 700
eq "... and its mtime" "$(stat -c %Y "$H/keep")" 1500000000

{ meta .ssh dir 777 1; end; } | attack "chmod 0777 of an existing .ssh, asked for" 0 .ssh
eq "... .ssh keeps its mode" "$(stat -c %a "$H/.ssh")" 700
eq "... and its mtime" "$(stat -c %Y "$H/.ssh")" 1500000000

{ file x 4755 '#!/bin/sh'; end; } | attack "a setuid file" 0 x
eq "... arrives 0755" "$(stat -c %a "$H/x")" 755
{ meta x dir 3777; file x/s 6755 s; end; } | attack "setgid and sticky" 0 x
eq "... the directory 0755" "$(stat -c %a "$H/x")" 755
eq "... the file 0755" "$(stat -c %a "$H/x/s")" 755

{ meta x dir 755; file x/a 644 a; file y 644 y; end; } | attack "a second top-level entry" 255 x
contains "... says why" "$(cat "$T/err")" "refusing"
check "... the siblings received before stay (documented)" test -f "$H/x/a"
{ meta x dir 755; meta .ssh dir 777; end; } | attack "a second top-level directory" 255 x

{ meta x dir 755; file x/../.bashrc 644 evil; end; } | attack "a ../ name" 255 x
{ file ../outside/x 644 evil; end; } | attack "a ../ top entry" 255 x
{ meta x dir 755; file /tmp/evil-abs 644 evil; end; } | attack "an absolute name" 255 x
check "... nothing at the absolute name" test ! -e /tmp/evil-abs
{ meta x dir 755; symlink x/l "$H"; file x/l/.bashrc 644 evil; end; } |
	attack "a symlink, then a write through it" 255 x
{ symlink x "$H/.ssh"; file x/authorized_keys 644 evil; end; } | attack "a symlink as the top entry" 255 x
check "... nothing named x" test ! -e "$H/x" -a ! -L "$H/x"
{ meta lnk dir 755; file lnk/f 644 evil; end; } | attack "a write through a symlink already there" 255 lnk
{ echo 'ctl {"type":"meta","path":"x","kind":"file","mode":420,"size":10,"mtime":1}'; echo 'data abcde';
  echo 'ctl {"type":"exit","code":0}'; } | attack "a file cut short" 255 x
check "... nothing under the final name" test ! -e "$H/x"
{ echo 'ctl {"type":"meta","kind":"end"}'; echo 'ctl {"type":"exit","code":0}'; } |
	attack "an empty stream" 255 x

# 2. The agent's side.  An agent with umask 027, writing into $R.
umask 027
start_agent e2e-cpput
umask 022
R=$T/remote
mkdir -p "$R" "$T/src/tree/sub"
echo s >"$T/src/suid"; chmod 4755 "$T/src/suid"
echo w >"$T/src/tree/sub/w"; chmod 666 "$T/src/tree/sub/w"
chmod 1777 "$T/src/tree"; chmod 2777 "$T/src/tree/sub"
ph cp "$T/src/suid" "e2e-cpput:$R/"; eq "put a setuid file: exit 0" $? 0
eq "... setuid dropped, the agent's umask applied" "$(stat -c %a "$R/suid")" 750
ph cp "$T/src/tree" "e2e-cpput:$R/"; eq "put a tree: exit 0" $? 0
eq "... directory: sticky dropped, umask" "$(stat -c %a "$R/tree")" 750
eq "... subdirectory: setgid dropped, umask" "$(stat -c %a "$R/tree/sub")" 750
eq "... file: umask" "$(stat -c %a "$R/tree/sub/w")" 640
ph cp -p "$T/src/suid" "e2e-cpput:$R/suid-p"; eq "put -p a setuid file: exit 0" $? 0
eq "... -p keeps the mode" "$(stat -c %a "$R/suid-p")" 4755
ph cp -p "$T/src/tree" "e2e-cpput:$R/tree-p"; eq "put -p a tree: exit 0" $? 0
eq "... -p keeps sticky" "$(stat -c %a "$R/tree-p")" 1777
eq "... -p keeps setgid" "$(stat -c %a "$R/tree-p/sub")" 2777
eq "... -p keeps 0666" "$(stat -c %a "$R/tree-p/sub/w")" 666
mkdir -m 700 "$R/exists" "$R/exists/tree"; touch -d @1500000000 "$R/exists/tree" "$R/exists"
ph cp "$T/src/tree" "e2e-cpput:$R/exists"; eq "put a tree onto an existing one: exit 0" $? 0
eq "... the existing top directory keeps its mode" "$(stat -c %a "$R/exists/tree")" 700
eq "... the directory written into keeps its mode" "$(stat -c %a "$R/exists")" 700
eq "... its new subdirectory: masked" "$(stat -c %a "$R/exists/tree/sub")" 750
# Again with -p: now nothing is created in tree itself, so its mtime must stay too.
touch -d @1500000000 "$R/exists/tree"
ph cp -p "$T/src/tree" "e2e-cpput:$R/exists"; eq "put -p onto an existing tree: exit 0" $? 0
eq "... -p: the existing top directory keeps its mode" "$(stat -c %a "$R/exists/tree")" 700
eq "... and its mtime" "$(stat -c %Y "$R/exists/tree")" 1500000000
# the get side of -p: the CLI's own umask (022) unless -p
ph cp "e2e-cpput:$R/suid-p" "$T/got"; eq "get a setuid file: exit 0" $? 0
eq "... arrives 0755" "$(stat -c %a "$T/got")" 755
ph cp -p "e2e-cpput:$R/suid-p" "$T/got-p"; eq "get -p a setuid file: exit 0" $? 0
eq "... -p keeps it" "$(stat -c %a "$T/got-p")" 4755

# A hostile client stream to the real agent: the open (signed) asks for
# the name "x"; the stream sends another top entry, or a second one.
agent_id=$(ph ls --json | jq -r '.agents[] | select(.name == "e2e-cpput") | .id')
put_stream() {
	local sid
	sid=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
	"$PROBE_BIN" --url "wss://127.0.0.1:$PORT/v1/session" --ca "$PORTHOLE_CA" \
		--token "$PORTHOLE_TOKEN" --proto porthole.session.v1 --wait-ms 10000 \
		--sign "$PORTHOLE_KEY" --ctl "{\"type\":\"open\",\"sid\":\"$sid\",\"agent\":\"$agent_id\",\"op\":\"cp\",\"argv\":[\"put\",\"$R/in\",\"x\"]}" "$@"
}
mkdir -m 700 "$R/in"
cmeta() { echo "{\"type\":\"meta\",\"path\":\"$1\",\"kind\":\"$2\",\"mode\":$((8#$3)),\"mtime\":1}"; }
out=$(put_stream --ctl "$(cmeta .bashrc dir 777)" --ctl '{"type":"meta","kind":"end"}')
contains "put, top entry renamed by the stream: done" "$out" '"type":"exit","code":0'
check "... it arrived under the open's name" test -d "$R/in/x"
check "... not under the stream's" test ! -e "$R/in/.bashrc"
out=$(put_stream --ctl "$(cmeta x dir 755)" --ctl "$(cmeta .ssh dir 777)" --ctl '{"type":"meta","kind":"end"}')
contains "put, a second top-level entry: refused" "$out" '"type":"exit","code":1'
contains "... says why" "$out" 'refusing'
check "... nothing of it" test ! -e "$R/in/.ssh"
eq "... the directory written into keeps its mode" "$(stat -c %a "$R/in")" 700
check "no children left under the agent" wait_for 10 sh -c "[ -z \"\$(pgrep -P $AGENT_PID)\" ]"
finish
