#!/usr/bin/env bash
# cp end to end: a file both ways byte-exact with its mode and mtime, a
# tree (nested dirs, an empty dir, symlinks, a 20 MiB random file) both
# ways with `diff -r` and modes, paths resolving inside the agent's root,
# and the refusals: a missing remote path, an unwritable destination, a
# missing local source, bad arguments -- each 255 with a message, and no
# partial file left under a final name.
. "$(dirname "$0")/lib.sh"
umask 022	# modes below: the CLI and the agent apply their umask unless -p

start_relay
start_agent e2e-cp

modes() { (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | xargs -d '\n' stat -c '%n %a %F'); }
no_partials() { [ -z "$(find "$1" -name '*.porthole-partial-*')" ]; }

# One file, each way.
head -c 100000 /dev/urandom >"$T/f1"; chmod 640 "$T/f1"; touch -d @1600000000 "$T/f1"
mkdir "$T/remote" "$T/local"
ph cp "$T/f1" "e2e-cp:$T/remote/f1.up"; eq "put a file: exit 0" $? 0
check "put a file: byte-exact" cmp "$T/f1" "$T/remote/f1.up"
eq "put a file: mode kept" "$(stat -c %a "$T/remote/f1.up")" 640
eq "put a file: mtime kept" "$(stat -c %Y "$T/remote/f1.up")" 1600000000
ph cp "e2e-cp:$T/remote/f1.up" "$T/local/"; eq "get a file into a dir: exit 0" $? 0
check "get a file: byte-exact" cmp "$T/f1" "$T/local/f1.up"
eq "get a file: mode kept" "$(stat -c %a "$T/local/f1.up")" 640
ph cp "e2e-cp:$T/f1" "$T/local/renamed"; eq "get a file to a new name: exit 0" $? 0
check "get to a new name: byte-exact" cmp "$T/f1" "$T/local/renamed"

# 100 MiB round trip: up, then back down, sha256 equal.
head -c 100M /dev/urandom >"$T/h1"
ph cp "$T/h1" "e2e-cp:$T/remote/h1"; eq "put 100 MiB: exit 0" $? 0
ph cp "e2e-cp:$T/remote/h1" "$T/local/h1"; eq "get 100 MiB: exit 0" $? 0
eq "100 MiB round trip: sha256" "$(sha256sum <"$T/local/h1")" "$(sha256sum <"$T/h1")"
rm -f "$T/h1" "$T/remote/h1" "$T/local/h1"

# A tree: nested dirs, an empty dir, symlinks (relative and absolute), 20 MiB.
src="$T/tree"
mkdir -p "$src/a/b/c" "$src/empty" "$src/ro"
head -c 20M /dev/urandom >"$src/a/big"
echo small >"$src/a/b/c/small"; chmod 755 "$src/a/b/c/small"
: >"$src/a/zero"
ln -s ../big "$src/a/b/rel"; ln -s /etc/passwd "$src/abs"
echo x >"$src/ro/file"; chmod 444 "$src/ro/file"; chmod 555 "$src/ro"; chmod 700 "$src/a/b"
ph cp "$src" "e2e-cp:$T/remote/"; eq "put a tree: exit 0" $? 0
check "put a tree: diff -r" diff -r --no-dereference "$src" "$T/remote/tree"
eq "put a tree: modes" "$(modes "$T/remote/tree")" "$(modes "$src")"
eq "put a tree: symlink kept as a symlink" "$(readlink "$T/remote/tree/abs")" /etc/passwd
ph cp "e2e-cp:$T/remote/tree" "$T/local/tree2"; eq "get a tree: exit 0" $? 0
check "get a tree: diff -r" diff -r --no-dereference "$src" "$T/local/tree2"
eq "get a tree: modes" "$(modes "$T/local/tree2")" "$(modes "$src")"
check "get a tree: the empty dir is there" test -d "$T/local/tree2/empty"
eq "get a tree: 20 MiB sha256" "$(sha256sum <"$T/local/tree2/a/big")" "$(sha256sum <"$src/a/big")"
check "no partial files anywhere" no_partials "$T"

# Refusals, each 255 with one message.
ph cp "e2e-cp:$T/nope/missing" "$T/local/x" 2>"$T/err"; eq "missing remote path: 255" $? 255
contains "missing remote path: says so" "$(cat "$T/err")" "No such file"
check "missing remote path: nothing written" test ! -e "$T/local/x"
ph cp "$T/nope" "e2e-cp:$T/remote/x" 2>"$T/err"; eq "missing local source: 255" $? 255
contains "missing local source: says so" "$(cat "$T/err")" "No such file"
: >"$T/plainfile"
ph cp "e2e-cp:$T/f1" "$T/plainfile/sub/x" 2>"$T/err"; eq "local destination not writable: 255" $? 255
contains "local destination: says why" "$(cat "$T/err")" "Not a directory"
ph cp "$T/f1" "e2e-cp:/proc/self/nope/f" 2>"$T/err"; eq "remote destination not writable: 255" $? 255
contains "remote destination: names the path" "$(cat "$T/err")" "/proc/self/nope"
ph cp "$T/f1" "$T/f2" 2>"$T/err"; eq "two local paths: 255" $? 255
contains "two local paths: usage" "$(cat "$T/err")" "TARGET:PATH"
ph cp "e2e-cp:$T/f1" "e2e-cp:$T/f3" 2>/dev/null; eq "two remote paths: 255" $? 255

# The agent's own root: an absolute symlink resolves as usual.
ph cp "e2e-cp:$src/abs" "$T/local/pw"; eq "get through an absolute symlink: exit 0" $? 0
check "... the file it names" cmp /etc/passwd "$T/local/pw"

# --pid: paths resolve inside that process's root (/proc/PID/root).  The
# process is a python that chroots itself into a small tree after starting.
R="$T/croot"
mkdir -p "$R/etc" "$R/in"
echo inside >"$R/etc/passwd"
ln -s /etc "$R/esc"; ln -s ../../../../../.. "$R/up"; ln -s /etc/passwd "$R/in/abs"
python3 -c 'import os, sys, time; os.chroot(sys.argv[1]); os.chdir("/"); time.sleep(600)' "$R" &
CHROOTED=$!
check "the chrooted process is up" wait_for 10 sh -c "[ \"\$(readlink /proc/$CHROOTED/root)\" = \"$R\" ]"
for p in /etc/passwd esc/passwd /esc/passwd ../../../etc/passwd /up/etc/passwd /in/abs; do
	rm -f "$T/local/inroot"
	ph cp --pid "$CHROOTED" "e2e-cp:$p" "$T/local/inroot" 2>"$T/err"
	eq "--pid get $p: exit 0" $? 0
	eq "--pid get $p: stays inside the root" "$(cat "$T/local/inroot" 2>/dev/null)" inside
done
ph cp --pid "$CHROOTED" "$T/f1" "e2e-cp:/esc/dropped"; eq "--pid put through /esc: exit 0" $? 0
check "--pid put: landed inside the root" cmp "$T/f1" "$R/etc/dropped"
check "--pid put: nothing in the agent's /etc" test ! -e /etc/dropped
ph cp --pid "$CHROOTED" "$T/f1" "e2e-cp:/up/../f4"; eq "--pid put through up/..: exit 0" $? 0
check "--pid put through up/..: landed at the root's top" cmp "$T/f1" "$R/f4"
kill "$CHROOTED"; wait "$CHROOTED" 2>/dev/null

check "no partial files after the failures" no_partials "$T"
check "no children left under the agent" wait_for 10 sh -c "[ -z \"\$(pgrep -P $AGENT_PID)\" ]"
finish
