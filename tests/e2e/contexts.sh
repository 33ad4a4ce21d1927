#!/usr/bin/env bash
# Contexts (issue 16 item 11): a config file's context selects a dev relay,
# token, key and CA; --context and PORTHOLE_CONTEXT pick another; variables
# and flags override a context's values; `context ls|use|show`; an unknown
# name and a file that does not parse are one line naming the file; `use`
# rewrites the file whole with mode 0600.  `porthole version` shows the
# relay's version and the build's commit, and exits 0 with the relay
# unreachable.
. "$(dirname "$0")/lib.sh"

start_relay
start_agent ctx-agent
RELAY=$PORTHOLE_RELAY
CFG=$XDG_CONFIG_HOME/porthole/config
mkdir -p "$XDG_CONFIG_HOME/porthole"
cp "$STATE/operator.token" "$STATE/operator.key" "$STATE/ca.pem" "$XDG_CONFIG_HOME/porthole/"
# Only the context says where the relay is from here on.
unset PORTHOLE_RELAY PORTHOLE_CA PORTHOLE_TOKEN PORTHOLE_KEY

cat >"$CFG" <<JSON
{
  "current": "dev",
  "contexts": {
    "dev": {"relay": "$RELAY", "token_file": "operator.token",
            "key_file": "operator.key", "ca_file": "$XDG_CONFIG_HOME/porthole/ca.pem"},
    "nowhere": {"relay": "wss://127.0.0.1:1", "token_file": "operator.token",
                "key_file": "operator.key"}
  }
}
JSON

out=$(ph ls 2>&1); eq "the current context reaches the relay" $? 0
contains "the current context lists the agent" "$out" ctx-agent
out=$(ph --context nowhere ls 2>&1); eq "--context picks another (exit)" $? 255
contains "--context picks another (its relay)" "$out" "127.0.0.1 port 1"
out=$(ph ls --context=nowhere 2>&1); eq "--context=NAME after the command" $? 255
out=$(PORTHOLE_CONTEXT=nowhere ph ls 2>&1); eq "PORTHOLE_CONTEXT picks another" $? 255
contains "PORTHOLE_CONTEXT: its relay" "$out" "127.0.0.1 port 1"
out=$(PORTHOLE_CONTEXT=nowhere ph --context dev ls 2>&1); eq "--context beats PORTHOLE_CONTEXT" $? 0
out=$(PORTHOLE_CONTEXT=nowhere PORTHOLE_RELAY=$RELAY PORTHOLE_CA=$STATE/ca.pem ph ls 2>&1)
eq "a variable overrides the context's relay" $? 0
out=$(PORTHOLE_CONTEXT=nowhere ph --relay "$RELAY" --ca "$STATE/ca.pem" ls 2>&1)
eq "a flag overrides the context's relay" $? 0
out=$(PORTHOLE_TOKEN=@$STATE/viewer.token PORTHOLE_KEY=$STATE/viewer.key ph exec ctx-agent -- true </dev/null 2>&1)
eq "a variable overrides the context's token (the viewer may not exec)" $? 255
contains "the viewer's token was the one used" "$out" "not allowed"

out=$(ph --context nope ls 2>&1); eq "unknown context: 255" $? 255
eq "unknown context: the line" "$out" "porthole: unknown context 'nope' in $CFG: 'porthole context ls' lists them"

# context ls, show, use.
out=$(ph context ls); eq "context ls exits 0" $? 0
contains "context ls marks the current one" "$out" "* dev "
contains "context ls lists the other" "$out" "  nowhere  wss://127.0.0.1:1"
out=$(ph context show); contains "context show: the current one" "$out" "context:    dev"
contains "context show: its token file, from the file's directory" "$out" "token_file: $XDG_CONFIG_HOME/porthole/operator.token"
out=$(PORTHOLE_RELAY=wss://x:1 ph context show nowhere)
contains "context show NAME: says what a variable overrides" "$out" "wss://127.0.0.1:1 (overridden here by PORTHOLE_RELAY)"
ino=$(stat -c %i "$CFG")
out=$(ph context use nowhere); eq "context use exits 0" $? 0
contains "context use says which" "$out" "context: nowhere (relay wss://127.0.0.1:1)"
eq "context use: the file's current" "$(jq -r .current "$CFG")" nowhere
eq "context use: the contexts kept" "$(jq -r '.contexts | keys | join(",")' "$CFG")" "dev,nowhere"
eq "context use: mode 0600" "$(stat -c %a "$CFG")" 600
check "context use: a new file renamed over the old" test "$(stat -c %i "$CFG")" != "$ino"
check "context use: no temporary file left" sh -c "[ \$(ls '$XDG_CONFIG_HOME/porthole' | grep -c '^config\\.') -eq 0 ]"
out=$(ph ls 2>&1); eq "after context use, commands follow it" $? 255
out=$(ph context use nope 2>&1); eq "context use of an unknown name: 255" $? 255
eq "context use of an unknown name: current unchanged" "$(jq -r .current "$CFG")" nowhere
ph context use dev >/dev/null

# version: the relay's version and both commits.
out=$(ph version); eq "version exits 0" $? 0
check "version: the build's commit" sh -c "printf '%s\n' '$out' | head -1 | grep -Eq '^porthole [0-9.]+ \\(protocol [0-9]+, commit ([0-9a-f]{7,}|unknown)\\)$'"
contains "version: the relay's version" "$out" "relay: $RELAY porthole-relay "
check "version: the relay's commit" sh -c "printf '%s\n' '$out' | grep -Eq '^relay: .* \\(protocol [0-9]+, commit ([0-9a-f]{7,}|unknown)\\)$'"
out=$(ph --context nowhere version); eq "version, relay unreachable: exit 0" $? 0
contains "version, relay unreachable: says so" "$out" "relay: wss://127.0.0.1:1: unreachable (cannot connect"
out=$(XDG_CONFIG_HOME=$T/none ph version); eq "version, no relay: exit 0" $? 0
contains "version, no relay: says so" "$out" "relay: none configured"

# A file that does not parse: one line with the file and the line.
printf '{\n  "current": "dev",\n  "contexts": {\n    "dev": {"relay": 7}\n' >"$CFG"
out=$(ph ls 2>&1); eq "unparsable file: 255" $? 255
check "unparsable file: one line" test "$(printf '%s\n' "$out" | wc -l)" -eq 1
contains "unparsable file: the file and line" "$out" "porthole: $CFG:5:"
printf '{"contexts": {"dev": {"relay": "%s", "tokenfile": "x"}}}\n' "$RELAY" >"$CFG"
out=$(ph --context dev ls 2>&1); eq "unknown member: 255" $? 255
contains "unknown member: named" "$out" "context 'dev' has an unknown member 'tokenfile'"
finish
