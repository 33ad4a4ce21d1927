#!/usr/bin/env bash
# Sessions across the relays of a fleet, every kind (docs/operations.md, "A
# fleet of relays"): a real redis-server and two relays; the client on relay
# 1, the agent on relay 2, so every byte crosses the relay link.  64 MiB
# through `exec ... cat` byte-exact, `cp` both ways byte-exact, a `dump`
# whose summary is the file's, a `shell` in a real terminal (tmux, as
# shell.sh) with its size and exit status; a stopped reader keeps both
# relays' memory flat.  A relay whose certificate is not the fleet's (another
# CA) and a relay that wants another fleet name (--peer-name) send no relay
# token: refused, audited (peer_refused), the client told, 255.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fleet-lib.sh"

command -v tmux >/dev/null || { fail "tmux is not installed (scripts/deps.sh installs it)"; finish; }
TSOCK=porthole-e2e-$$
tm() { tmux -L "$TSOCK" -f /dev/null "$@"; }
tmux_cleanup() { tm kill-server 2>/dev/null; cleanup; }
trap tmux_cleanup EXIT

start_redis
for n in 1 2; do start_fleet_relay "$n"; done
R1=wss://127.0.0.1:${RELAY_PORTS[1]}
export PORTHOLE_RELAY=$R1
fleet_agent far PORTHOLE_RELAY="wss://127.0.0.1:${RELAY_PORTS[2]}" PORTHOLE_SHELL=/bin/sh
check "the agent of relay 2 is listed through relay 1" wait_for 30 listed_n 1
metric() { curl -sk "https://127.0.0.1:${RELAY_PORTS[$1]}/metrics" | awk -v m="$2" '$1 == m { print $2 }'; }

# --- bulk, shell, cp, dump: client on relay 1, agent on relay 2 ---
head -c 64M /dev/urandom >"$T/big"
ph exec far -- cat <"$T/big" >"$T/big.back" 2>"$T/big.err"
eq "64 MiB through exec cat across relays: exit 0" $? 0
eq "... byte-exact" "$(sha256sum <"$T/big.back")" "$(sha256sum <"$T/big")"
check "... carried over a relay link" [ "$(metric 2 'porthole_relay_cross_sessions_total{part="splice"}')" -gt 0 ]

mkdir -p "$T/remote" "$T/local"
head -c 16M /dev/urandom >"$T/f16"
ph cp "$T/f16" "far:$T/remote/f16" 2>"$T/cp.err"; eq "cp up across relays: exit 0" $? 0
eq "... byte-exact" "$(sha256sum <"$T/remote/f16")" "$(sha256sum <"$T/f16")"
ph cp "far:$T/remote/f16" "$T/local/f16" 2>"$T/cp.err"; eq "cp down across relays: exit 0" $? 0
eq "... byte-exact" "$(sha256sum <"$T/local/f16")" "$(sha256sum <"$T/f16")"

DT_BIN=$BUILD/tests/tools/ph-dumptarget
"$DT_BIN" --status "$T/dt.status" --threads 2 --fill semi --heap 8 >"$T/dt.out" 2>&1 &
DT=$!
PIDS+=("$DT")
wait_for 20 test -f "$T/dt.status" || fail "ph-dumptarget did not start"
(cd "$T/local" && ph dump far "$DT" 2>"$T/dump.err"); eq "dump across relays: exit 0" $? 0
sha=$(sed -n 's/.*sha256 \([0-9a-f]\{64\}\).*/\1/p' "$T/dump.err")
eq "... the summary's sha256 is the file's" "$sha" "$(sha256sum <"$T/local/core.far.$DT" | cut -d' ' -f1)"

cat >"$T/run.sh" <<RUN
#!/bin/bash
export PORTHOLE_RELAY='$R1' PORTHOLE_CA='$PORTHOLE_CA'
export PORTHOLE_TOKEN='$PORTHOLE_TOKEN' PORTHOLE_KEY='$PORTHOLE_KEY'
export TERM=screen
"$CLI_BIN" shell far 2>"$T/sh.err"
echo \$? >"$T/sh.status"
exec sleep 100000
RUN
chmod +x "$T/run.sh"
pane_has() { tm capture-pane -p -t s1 -S -200 | grep -qF -- "$1"; }
run_in() { tm send-keys -t s1 -l "$2"; tm send-keys -t s1 Enter; wait_for 20 pane_has "$1"; }
tm new-session -d -s s1 -x 100 -y 30 "$T/run.sh" \; set -g status off
check "shell across relays: up" run_in D2IP 'echo D$((2))IP'
check "... its terminal is the pane's size" run_in "SZ 30 100 ZS" 'echo SZ $(stty size) ZS'
tm send-keys -t s1 -l 'exit 3'; tm send-keys -t s1 Enter
check "... exit 3 ends it" wait_for 20 test -f "$T/sh.status"
eq "... with status 3" "$(cat "$T/sh.status" 2>/dev/null)" 3

# --- a stopped reader across relays: both relays' memory stays flat ---
ph exec far -- head -c 4M /dev/zero </dev/null >/dev/null
r1a=$(hwm_kib "${RELAY_PIDS[1]}"); r2a=$(hwm_kib "${RELAY_PIDS[2]}")
ph exec far -- cat /dev/zero </dev/null 2>/dev/null | (sleep 5; head -c 1M >/dev/null)
r1b=$(hwm_kib "${RELAY_PIDS[1]}"); r2b=$(hwm_kib "${RELAY_PIDS[2]}")
log "stopped reader: relay 1 VmHWM +$((r1b - r1a)) KiB, relay 2 +$((r2b - r2a)) KiB"
if sanitizer; then
	log "sanitizer build: memory bounds are checked in the plain build"
else
	check "stopped reader: relay 1's peak grew by less than 8 MiB" [ $((r1b - r1a)) -lt 8192 ]
	check "stopped reader: relay 2's peak grew by less than 8 MiB" [ $((r2b - r2a)) -lt 8192 ]
fi

# --- a relay whose certificate is not the fleet's gets no token ---
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-keyout "$T/evil.key" -out "$T/evil.pem" -subj /CN=evil.example \
	-addext subjectAltName=DNS:evil.example,IP:127.0.0.1 >/dev/null 2>&1
start_fleet_relay 3 --tls-cert "$T/evil.pem" --tls-key "$T/evil.key"
. "$STATE/env"; export PORTHOLE_RELAY=$R1
fleet_agent ev PORTHOLE_RELAY=wss://127.0.0.1:${RELAY_PORTS[3]} PORTHOLE_CA="$T/evil.pem"
EV=$LAST_PID
check "the agent on the odd relay is listed" wait_for 20 sh -c \
	"'$CLI_BIN' ls --json | jq -n -e 'input | (.agents[] | select(.name == \"ev\"))' >/dev/null"
out=$(ph exec ev -- true 2>&1 </dev/null); rc=$?
eq "a session with an agent on a relay of another CA: 255" "$rc" 255
contains "... saying why" "$out" "is not the fleet's"
check "... audited (peer_refused)" grep -q '"event":"peer_refused"' "$T/relay1.out"
check "... and that relay never saw a token" sh -c "! grep -q '/v1/peer\|peer_connected' '$T/relay3.out'"
start_fleet_relay 4 --peer-name fleet.example
. "$STATE/env"; export PORTHOLE_RELAY=$R1
out=$(PORTHOLE_RELAY=wss://127.0.0.1:${RELAY_PORTS[4]} ph exec far -- true 2>&1 </dev/null); rc=$?
eq "a relay that wants another fleet name (--peer-name): 255" "$rc" 255
contains "... saying why" "$out" "is not the fleet's"
check "... audited (peer_refused, the name)" sh -c \
	"grep '\"event\":\"peer_refused\"' '$T/relay4.out' | grep -q fleet.example"

finish
