#!/usr/bin/env bash
# Chaos: the client killed with SIGKILL mid-session - no close handshake,
# no eof, just a dead TCP connection - in an exec, in a shell (with a job
# stopped by Ctrl-Z and one in the foreground), and in a dump when the
# build has `porthole dump`.  Afterwards nothing the session started is left
# on the agent's side, running or stopped, the dumped app runs on (not left
# stopped), and the agent serves the next session.
. "$(dirname "$0")/lib.sh"
# Lost clients and agents end their sessions here within 2 s, not after the
# resume timeout (5 min) that lets a session outlive a dropped connection
# (tests/e2e/resume.sh).
export PORTHOLE_RESUME_TIMEOUT=2s

start_relay
start_agent e2e-kill
base_children=$(pgrep -P "$AGENT_PID" | wc -l)
m=porthole-kill-$$

agent_children_back() { [ "$(pgrep -P "$AGENT_PID" | wc -l)" -le "$base_children" ]; }
# Remote programs are named "$m-WHAT" through exec -a, from "$0" on the
# remote side, so the local CLI's own command line never matches.
running() { pgrep -f -- "^$m-$1( |\$)" >/dev/null; }
gone() { ! running "$1"; }

# exec: the remote program and a child it forked.
"$CLI_BIN" exec e2e-kill -- bash -c '(exec -a "$0-exec-child" sleep 1000) & exec -a "$0-exec" sleep 1000' "$m" \
	</dev/null >/dev/null 2>&1 &
cli=$!
check "exec: remote program started" wait_for 20 running exec
check "exec: its child started" wait_for 20 running exec-child
kill -KILL "$cli"
{ wait "$cli"; } 2>/dev/null
check "exec: remote program gone after kill -9 of the client" wait_for 30 gone exec
check "exec: its child gone too" wait_for 30 gone exec-child
check "exec: no session process left under the agent" wait_for 30 agent_children_back

# shell: one job stopped with Ctrl-Z, another in the foreground.
python3 - "$CLI_BIN" "$m" "$T/shell.pid" <<'PY' &
import os, pty, select, subprocess, sys, time
cli, m, pidfile = sys.argv[1:4]
pid, fd = pty.fork()
if pid == 0:
    os.execv(cli, [cli, "shell", "e2e-kill"])
out = b""
def until(cond, what, secs=60):
    global out
    end = time.monotonic() + secs
    while not cond():
        if time.monotonic() > end:
            sys.exit("shell driver: no %s; the terminal showed: %r" % (what, out[-600:]))
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            out += os.read(fd, 4096)
def running(name):
    return subprocess.run(["pgrep", "-f", "^%s-%s( |$)" % (m, name)],
                          stdout=subprocess.DEVNULL).returncode == 0
# Type only once the remote shell answers: until then the local terminal
# may still be cooked, and a Ctrl-Z would stop the CLI itself.
# A slow (sanitizer) build under a loaded CI machine can take long to open
# the shell: wait for it generously, typing the harmless probe again now
# and then in case the first copy went to a terminal not yet set up.
probe = b"M=%s; echo rdy''x\r" % m.encode()
for _ in range(12):
    os.write(fd, probe)
    try:
        until(lambda: b"rdyx" in out, "remote shell", 15)
        break
    except SystemExit:
        pass
until(lambda: b"rdyx" in out, "remote shell", 1)
os.write(fd, b"bash -c 'exec -a \"$0-stopped\" sleep 1000' \"$M\"\r")
until(lambda: running("stopped"), "first job")
os.write(fd, b"\x1a")
until(lambda: b"Stopped" in out, "job stopped")
os.write(fd, b"bash -c 'exec -a \"$0-fg\" sleep 1000' \"$M\"\r")
until(lambda: running("fg"), "second job")
open(pidfile, "w").write(str(pid))
try:
    while os.read(fd, 4096):
        pass
except OSError:
    pass
os.waitpid(pid, 0)
PY
driver=$!
check "shell: driver ready (jobs started)" wait_for 300 test -s "$T/shell.pid"
stopped=$(pgrep -f -- "^$m-stopped( |\$)" | head -1)
eq "shell: a job is stopped" "$(awk '{print $3}' "/proc/${stopped:-0}/stat" 2>/dev/null)" T
kill -KILL "$(cat "$T/shell.pid")" 2>/dev/null
check "shell: foreground job gone after kill -9 of the client" wait_for 30 gone fg
check "shell: stopped job gone too" wait_for 30 gone stopped
kill -KILL "$driver" 2>/dev/null
wait "$driver" 2>/dev/null
check "shell: no session process left under the agent" wait_for 30 agent_children_back

# dump: only when the CLI has it.
if ph dump 2>&1 | grep -q "unknown command"; then
	log "dump: this build has no porthole dump; skipped"
else
	python3 -c "
import sys, time
heap = bytearray(b'\x5a') * (512 << 20)
while True: time.sleep(0.01)
" &
	app=$!
	PIDS+=("$app")
	sleep 2
	"$CLI_BIN" dump e2e-kill "$app" -o "$T/core" </dev/null >/dev/null 2>&1 &
	cli=$!
	sleep 0.5
	kill -KILL "$cli"
	{ wait "$cli"; } 2>/dev/null
	check "dump: no worker left under the agent" wait_for 30 agent_children_back
	check "dump: the app is alive" kill -0 "$app"
	check "dump: the app is not left stopped" wait_for 30 sh -c "[ \"\$(awk '{print \$3}' /proc/$app/stat)\" != T ] && [ \"\$(awk '{print \$3}' /proc/$app/stat)\" != t ]"
	check "dump: no tracer left on the app" wait_for 30 sh -c "grep -q '^TracerPid:[[:space:]]*0$' /proc/$app/status"
fi

check "agent alive" kill -0 "$AGENT_PID"
eq "agent serves the next session" "$(ph exec e2e-kill -- echo next </dev/null)" next
finish
