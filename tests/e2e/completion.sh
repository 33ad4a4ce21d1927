#!/usr/bin/env bash
# Shell completion end to end (issue 16, item 1): the scripts `porthole
# completion bash|zsh|fish` print load in their shells and complete, through
# a real dev relay and a real agent, a command, an option, an option's
# value, an agent name where a TARGET goes and a pid where a PID goes (the
# agent's own pid, as `ps` on the agent lists it).  With the relay gone,
# completing a name gives nothing and says nothing.
#
# bash: the completion function runs with COMP_WORDS/COMP_CWORD set, as
# bash sets them on Tab.  zsh: the script loads after compinit, and its
# function, run with words/CURRENT set and compadd standing in, offers the
# agent.  fish: `complete -C` completes a command line as Tab does.
. "$(dirname "$0")/lib.sh"

start_relay
start_agent comp-agent-1
start_agent comp-other

# The scripts call the porthole named on the command line: the build's.
export PATH="$BUILD/client:$PATH"
ph completion bash >"$T/porthole.bash"; eq "completion bash: status 0" $? 0
ph completion zsh >"$T/_porthole"; eq "completion zsh: status 0" $? 0
ph completion fish >"$T/porthole.fish"; eq "completion fish: status 0" $? 0
err=$(ph completion tcsh 2>&1); eq "completion tcsh: refused" $? 255
contains "completion tcsh: says so" "$err" "no completion for 'tcsh'"

# bash_complete WORD...: what _porthole offers for the last word.
bash_complete() {
	bash -c '
		source "$1"; shift
		COMP_WORDS=(porthole "$@"); COMP_CWORD=$#
		COMP_LINE="porthole $*"; COMP_POINT=${#COMP_LINE}
		_porthole
		printf "%s\n" "${COMPREPLY[@]}"' _ "$T/porthole.bash" "$@"
}
check "bash: the script loads and registers _porthole" \
	bash -c 'source "$1" && complete -p porthole | grep -q _porthole' _ "$T/porthole.bash"
eq "bash: 'porthole ex' completes the command exec" "$(bash_complete ex)" exec
eq "bash: 'porthole exec --ti' completes the option --timeout" "$(bash_complete exec --ti)" --timeout
eq "bash: 'porthole dump X 1 --kind j' completes the value jvm" \
	"$(bash_complete dump comp-agent-1 1 --kind j)" jvm
eq "bash: 'porthole exec comp-a' completes the agent's name through the relay" \
	"$(bash_complete exec comp-a)" comp-agent-1
got=$(bash_complete shell "" | sort | tr '\n' ' ')
eq "bash: 'porthole shell ' offers every agent" "$got" "comp-agent-1 comp-other "
eq "bash: without a relay set, no name" "$(PORTHOLE_RELAY='' bash_complete ls comp-o)" ""
eq "bash: --relay before the command is the relay asked" \
	"$(PORTHOLE_RELAY='' bash_complete --relay "$PORTHOLE_RELAY" ls comp-o)" comp-other
eq "bash: --relay=URL after the command too" \
	"$(PORTHOLE_RELAY='' bash_complete ls --relay="$PORTHOLE_RELAY" comp-o)" comp-other
check "bash: 'porthole mem comp-other ' offers the agent's pid $AGENT_PID (ps on the agent)" \
	sh -c 'printf "%s\n" "$1" | grep -qx "$2"' _ "$(bash_complete mem comp-other "")" "$AGENT_PID"
check "bash: 'exec --pid ' offers pids too" \
	sh -c 'printf "%s\n" "$1" | grep -qx "$2"' _ "$(bash_complete exec comp-other --pid "$AGENT_PID")" "$AGENT_PID"
eq "bash: after '--' it is the remote command: nothing" "$(bash_complete exec comp-other -- comp)" ""
eq "bash: 'porthole token is' completes the subcommand issue" "$(bash_complete token is)" issue
eq "bash: 'porthole token issue --ex' completes --expires-at" "$(bash_complete token issue --ex)" --expires-at

# zsh: loads after compinit; its function offers what __complete says.
if command -v zsh >/dev/null; then
	eq "zsh: the script loads after compinit, silently" \
		"$(zsh -f -c 'autoload -U compinit; compinit -u -d "$1/zcompdump"; source <(porthole completion zsh)' _ "$T" 2>&1; echo "rc=$?")" "rc=0"
	got=$(zsh -f -c '
		autoload -U compinit; compinit -u -d "$1/zcompdump"; source "$1/_porthole"
		compadd() { [[ $1 == -- ]] && shift; print -rl -- "$@"; }
		_files() { print -r -- "(files)"; }
		words=(porthole exec comp-a); CURRENT=3; _porthole' _ "$T" 2>&1)
	eq "zsh: 'porthole exec comp-a' offers the agent through the relay" "$got" comp-agent-1
	got=$(zsh -f -c '
		source "$1/_porthole" 2>/dev/null
		compadd() { [[ $1 == -- ]] && shift; print -rl -- "$@"; }
		_files() { print -r -- "(files)"; }
		words=(porthole cp ""); CURRENT=3; _porthole' _ "$T" 2>&1)
	eq "zsh: cp's paths are files" "$got" "(files)"
else
	fail "zsh is not installed (scripts/deps.sh's test list has it)"
fi

# fish: the syntax, and `complete -C` as Tab would.
if command -v fish >/dev/null; then
	check "fish -n: the script parses" fish -n "$T/porthole.fish"
	fish_complete() { fish -N -c "source '$T/porthole.fish'; complete -C '$1'" 2>&1; }
	eq "fish: 'porthole ex' completes exec" "$(fish_complete 'porthole ex')" exec
	eq "fish: 'porthole ps comp-a' completes the agent" "$(fish_complete 'porthole ps comp-a')" comp-agent-1
	eq "fish: 'porthole ps x --sort r' completes rss" "$(fish_complete 'porthole ps x --sort r')" rss
else
	fail "fish is not installed (scripts/deps.sh's test list has it)"
fi

# The relay gone: nothing, quietly, and the completion still ends.
kill -TERM "$RELAY_PID"
check "relay stopped" wait_for 30 sh -c "! kill -0 $RELAY_PID 2>/dev/null"
eq "relay gone: bash offers no name" "$(bash_complete exec comp 2>&1)" ""
eq "relay gone: __complete says nothing and ends 0" \
	"$(porthole __complete -- exec comp 2>&1; echo "rc=$?")" "rc=0"
eq "relay gone: commands still complete" "$(bash_complete ver)" version
finish
