#!/usr/bin/env bash
# The help of the three programs, their man pages, and that both say every
# option there is (issue 16, item 1).  No relay: nothing here talks to one.
#
# - every command answers --help, -h and `help CMD` with the same text: its
#   usage, a description and each option of its table;
# - each option the table documents is one its parser takes (running
#   `porthole CMD OPT` never says "unknown option"), and each option
#   literal a parser compares with (client/cmd-*.c, client-run.c,
#   client-conn.c, and the getopt tables of the agent and the relay) is in
#   the table: a parser cannot learn an option the help does not tell;
# - the help is wrapped: no line over 80 columns off a terminal, none over
#   the terminal's width on one (a pty of 60 and of 40 columns);
# - porthole(1), porthole-agent(8), porthole-relay(8) as built render with
#   `man -l` and groff -ww without a warning, and name every command and
#   option.
. "$(dirname "$0")/lib.sh"

SRC=$(cd "$(dirname "$0")/../.." && pwd)
UNKNOWN='unknown option|unexpected argument|takes no arguments|too many arguments'

# The commands of the table, as the completion lists them.
mapfile -t cmds < <(ph __complete -- "")
check "the table lists commands" test "${#cmds[@]}" -ge 10
eq "completion lists no hidden command" "$(printf '%s\n' "${cmds[@]}" | grep -c '^_')" 0

# globals: the settings' flags every command that talks to the relay takes.
# (--version is main's alone: `porthole --version`.)
mapfile -t globals < <(ph __complete -- - | grep -vx -- --version)
contains "global options: --relay" "${globals[*]}" --relay
contains "global options: --help" "${globals[*]}" --help
is_global() { local g; for g in "${globals[@]}"; do [ "$g" = "$1" ] && return 0; done; return 1; }

# own_opts CMD [SUB]: the options the table gives CMD (or CMD SUB), globals left out.
own_opts() {
	local o
	ph __complete -- "$@" - | while read -r o; do is_global "$o" || echo "$o"; done
}

for c in "${cmds[@]}"; do
	h=$(ph "$c" --help 2>&1); rc=$?
	eq "$c --help: status 0" "$rc" 0
	contains "$c --help: a usage line" "$(echo "$h" | head -1)" "usage: porthole $c"
	check "$c --help: a description besides the usage" \
		test "$(echo "$h" | grep -vc -e '^usage:' -e '^       porthole' -e '^ *$')" -ge 2
	eq "$c -h is the same text" "$(ph "$c" -h 2>&1)" "$h"
	eq "help $c is the same text" "$(ph help "$c" 2>&1)" "$h"
	long=$(echo "$h" | awk 'length($0) > 80' | head -1)
	eq "$c --help: no line over 80 columns off a terminal" "$long" ""

	subs=("")
	[ "$c" = token ] && subs=(keygen issue show revoke)
	for s in "${subs[@]}"; do
		name="$c${s:+ $s}"
		mapfile -t opts < <(own_opts "$c" ${s:+"$s"})
		case $c in
		exec) contains "exec's table has --grace" "${opts[*]}" --grace;;
		dump) contains "dump's table has --freeze" "${opts[*]}" --freeze;;
		esac
		for o in "${opts[@]}"; do
			contains "$name --help tells $o" "$h" "$o"
			err=$(ph "$c" ${s:+"$s"} "$o" </dev/null 2>&1 >/dev/null)
			check "$name takes $o, which its table documents ($err)" \
				sh -c '! printf "%s" "$1" | grep -Eq "$2"' _ "$err" "$UNKNOWN"
		done
		# And the check above can fail: an option no table has is refused.
		err=$(ph "$c" ${s:+"$s"} --no-such-option </dev/null 2>&1 >/dev/null)
		check "$name refuses --no-such-option ($err)" \
			sh -c 'printf "%s" "$1" | grep -Eq "$2"' _ "$err" "$UNKNOWN"
	done
done

# Global options after the command, for every command that talks to the relay.
for c in ls exec ps mem cp dump shell console; do
	for o in "${globals[@]}"; do
		case $o in -h|--help) continue;; esac
		err=$(ph "$c" "$o" </dev/null 2>&1 >/dev/null)
		check "$c takes the global $o after it" \
			sh -c '! printf "%s" "$1" | grep -Eq "$2"' _ "$err" "$UNKNOWN"
	done
done
contains "-h anywhere among exec's options is its help" "$(ph exec -n --timeout 5s -h)" \
	"usage: porthole exec"
contains "token issue --help is token's help" "$(ph token issue --help)" "--expires-at"
eq "a remote command's --help is not ours" \
	"$(ph exec nosuch -- ls --help 2>&1 | grep -c '^usage: porthole exec')" 0

# Every option literal a parser compares with is documented: the source
# against the table.  CMD: the options `__complete` gives it (its own and
# the globals); client-run.c's go to every command whose parser calls it.
python3 - "$SRC" "$CLI_BIN" "$BUILD" >"$T/scan.out" 2>&1 <<'EOF'
import os, re, subprocess, sys
src, cli, build = sys.argv[1:4]
def comp(*words):
    out = subprocess.run([cli, "__complete", "--", *words], capture_output=True, text=True).stdout
    return set(out.split())
def literals(path):
    s = open(path).read()
    found = set(re.findall(r'str(?:n)?cmp\([^,()]+,\s*"(-[-A-Za-z0-9]+)=?"', s))
    found |= {"--" + n for n in re.findall(r'\{\s*"([a-z][-a-z0-9]*)",\s*(?:required|no|optional)_argument', s)}
    for letters in re.findall(r'getopt_long\([^,]+,[^,]+,\s*"([^"]*)"', s) + \
            re.findall(r'#define\s+\w*SHORTOPTS\s+"([^"]*)"', s):
        found |= {"-" + ch for ch in letters if ch.isalnum()}
    return found - {"--", "-"}
globals_ = comp("-")
bad = 0
run_opts = literals(os.path.join(src, "client/client-run.c"))
for f in sorted(os.listdir(os.path.join(src, "client"))):
    m = re.fullmatch(r"cmd-(.+)\.c", f)
    if not m or m.group(1) == "complete":
        continue
    cmd = m.group(1)
    if cmd.startswith("token-"):	# cmd-token-revoke.c: a subcommand of token
        cmd = "token"
    path = os.path.join(src, "client", f)
    lits = literals(path)
    text = open(path).read()
    if "client_run_parse(" in text or "client_run_option(" in text:
        lits |= run_opts
    documented = set(globals_)
    subs = comp(cmd, "") if cmd in ("token", "artifacts", "watch") else set()
    if subs:
        for sub in subs:
            documented |= comp(cmd, sub, "-")
    else:
        documented |= comp(cmd, "-")
    for o in sorted(lits - documented):
        print(f"{f}: its parser takes {o}, which `porthole {cmd} --help` does not document")
        bad += 1
    print(f"# {f}: {len(lits)} option literals, all documented" if not (lits - documented) else "", end="")
    print()
for path in ("client/client-conn.c", "client/cmd.c"):
    s = open(os.path.join(src, path)).read()
    lits = set(re.findall(r'\{\s*"(--[a-z-]+)",\s*offsetof', s)) | literals(os.path.join(src, path))
    for o in sorted(lits - globals_):
        print(f"{path}: takes {o} for every command, not among the global options of `porthole help`")
        bad += 1
for prog, path in (("agent/porthole-agent", "agent/agent.c"), ("src/relay/porthole-relay", "src/relay/relay.c")):
    helptext = subprocess.run([os.path.join(build, prog), "--help"], capture_output=True, text=True).stdout
    documented = set(re.findall(r'^\s+(?:(-[A-Za-z]), )?(--[a-z][-a-z0-9]*)', helptext, re.M))
    documented = {o for pair in documented for o in pair if o}
    lits = literals(os.path.join(src, path))
    for o in sorted(lits - documented):
        print(f"{path}: takes {o}, which {prog} --help does not document"); bad += 1
    for o in sorted(documented - lits):
        print(f"{prog} --help documents {o}, which {path} does not take"); bad += 1
sys.exit(1 if bad else 0)
EOF
eq "every option a parser takes is in its table (source scan)" "$?" 0
grep -v '^$' "$T/scan.out" | sed 's/^/# /'

# Wrapped to the terminal's width (TIOCGWINSZ), on a pty.
for cols in 60 40; do
	out=$(script -qec "stty cols $cols rows 50; '$CLI_BIN' help; '$CLI_BIN' exec --help; '$CLI_BIN' token --help" /dev/null | tr -d '\r')
	contains "help on a pty of $cols columns ran" "$out" "usage: porthole exec"
	eq "help on a pty of $cols columns: no line wider" \
		"$(echo "$out" | awk -v w="$cols" 'length($0) > w' | head -1)" ""
done
eq "top-level help off a terminal: no line over 80" "$(ph help | awk 'length($0) > 80' | head -1)" ""
eq "porthole-agent --help: no line over 80" "$("$AGENT_BIN" --help | awk 'length($0) > 80' | head -1)" ""
eq "porthole-relay --help: no line over 80" "$("$RELAY_BIN" --help | awk 'length($0) > 80' | head -1)" ""

# The man pages as meson built them.
MAN1=$BUILD/client/porthole.1
MAN_AGENT=$BUILD/agent/porthole-agent.8
MAN_RELAY=$BUILD/src/relay/porthole-relay.8
for m in "$MAN1" "$MAN_AGENT" "$MAN_RELAY"; do
	b=$(basename "$m")
	check "$b is built" test -s "$m"
	eq "$b: groff -man -ww says nothing" "$(groff -man -Tutf8 -ww -z "$m" 2>&1)" ""
	eq "$b: man -l --warnings says nothing" "$(MANWIDTH=80 man --warnings -l "$m" 2>&1 >/dev/null)" ""
done
eq "porthole.1 is what porthole help --man prints" "$(ph help --man | cmp - "$MAN1" && echo same)" same
page=$(MANWIDTH=80 man -l "$MAN1" 2>/dev/null | col -b)
contains "porthole.1 has a NAME" "$page" "porthole - "
for c in "${cmds[@]}"; do
	contains "porthole.1 has the command $c" "$page" "porthole $c"
	subs=("")
	[ "$c" = token ] && subs=(keygen issue show)
	for s in "${subs[@]}"; do
		for o in $(own_opts "$c" ${s:+"$s"}); do
			contains "porthole.1 has $c${s:+ $s} $o" "$page" "$o"
		done
	done
done
for o in "${globals[@]}"; do contains "porthole.1 has the global $o" "$page" "$o"; done
for pair in "$AGENT_BIN:$MAN_AGENT" "$RELAY_BIN:$MAN_RELAY"; do
	bin=${pair%%:*} m=${pair#*:}
	page=$(MANWIDTH=80 man -l "$m" 2>/dev/null | col -b)
	for o in $("$bin" --help | sed -n 's/^ *\(-[A-Za-z], \)\{0,1\}\(--[a-z][-a-z0-9]*\).*/\2/p'); do
		contains "$(basename "$m") has $o" "$page" "$o"
	done
done
contains "porthole-agent.8 has its variables" "$(MANWIDTH=80 man -l "$MAN_AGENT" 2>/dev/null | col -b)" \
	"PORTHOLE_PUBKEY"
finish
