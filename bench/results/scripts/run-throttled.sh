#!/bin/bash
# Usage: run-throttled.sh SNAPSHOT [RESULTS]
#
# The throttled-login section of BENCHMARKS.md: oauth2kit-load's throttled
# mix against the demo server, and for comparison its password mix, both
# through the public client, unpaced with 8 workers for 20 s, three runs
# each, alternating. SNAPSHOT is a clean tree of the commit to measure, made
# for example with
#
#   SNAPSHOT=$(mktemp -d) && git archive <commit> | tar -x -C "$SNAPSHOT"
#
# RESULTS is by default the bench/results directory this script is in; the
# JSON reports go to its load directory, the machine and the load average
# before each run to load/throttled-machine.txt (set COMMIT to the commit:
# a tree from git archive cannot tell). Needs curl and port 8080 free.
set -u
usage() { echo "usage: $0 SNAPSHOT [RESULTS]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
S=$(cd "$1" && pwd) || usage
R=$(cd "${2:-$(dirname "${BASH_SOURCE[0]}")/..}" && pwd) || usage
COMMIT=${COMMIT:-unknown}
BIN=$(mktemp -d) || exit 1
SP=
trap '[ -n "$SP" ] && kill "$SP" 2>/dev/null; rm -rf "$BIN"' EXIT
mkdir -p "$R/load"
LOG=$R/load/throttled-machine.txt
stamp() { echo "$(date -u +%FT%TZ) $1: $(cut -d' ' -f1-3 /proc/loadavg) (load average 1/5/15 min)" >> "$LOG"; }
{ echo "commit: $COMMIT (clean snapshot)"; echo "nproc: $(nproc)"; grep -m1 'model name' /proc/cpuinfo; go version; uname -r; } > "$LOG"
cd "$S" || exit 1
go build -o "$BIN/server" ./examples/server && go build -o "$BIN/load" ./cmd/oauth2kit-load || exit 1
"$BIN/server" -addr 127.0.0.1:8080 >"$BIN/server.out" 2>/dev/null &
SP=$!
for i in $(seq 50); do curl -fs http://127.0.0.1:8080/api/ping >/dev/null && break; sleep 0.2; done
for run in 1 2 3; do
  for mix in throttled password; do
    stamp "load $mix rate 0 workers 8, run $run"
    out=$R/load/$mix-max
    [ "$run" = 1 ] || out=$out-$run
    "$BIN/load" -mix "$mix" -client-id demo-public -client-secret '' -rate 0 -workers 8 -duration 20s -json > "$out.json" 2> "$out.err"
    [ -s "$out.err" ] || rm -f "$out.err" # kept only if the tool said something
    sleep 2
  done
done
kill "$SP"; wait "$SP"; SP=
stamp "end"
