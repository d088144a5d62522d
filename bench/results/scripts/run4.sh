#!/bin/bash
# Usage: run4.sh SNAPSHOT [RESULTS]
#
# The last step of run 5 of BENCHMARKS.md, after run3.sh: two more unpaced
# load runs per mix, alternating, for the spread of the maximum throughput.
# SNAPSHOT and RESULTS are as for run.sh; needs curl and port 8080 free.
set -u
usage() { echo "usage: $0 SNAPSHOT [RESULTS]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
S=$(cd "$1" && pwd) || usage
R=$(cd "${2:-$(dirname "${BASH_SOURCE[0]}")/..}" && pwd) || usage
BIN=$(mktemp -d) || exit 1
SP=
trap '[ -n "$SP" ] && kill "$SP" 2>/dev/null; rm -rf "$BIN"' EXIT
stamp() { echo "$(date -u +%FT%TZ) $1: $(cut -d' ' -f1-3 /proc/loadavg) (load average 1/5/15 min)" >> "$R/machine.txt"; }
cd "$S" || exit 1
go build -o "$BIN/server" ./examples/server && go build -o "$BIN/load" ./cmd/oauth2kit-load || exit 1
"$BIN/server" -addr 127.0.0.1:8080 >"$BIN/server.out" 2>/dev/null &
SP=$!
for i in $(seq 50); do curl -fs http://127.0.0.1:8080/api/ping >/dev/null && break; sleep 0.2; done
mkdir -p "$R/load"
for run in 2 3; do
  for mix in me public; do
    stamp "load $mix rate 0 workers 8, run $run"
    out=$R/load/$mix-max-$run
    "$BIN/load" -mix "$mix" -rate 0 -workers 8 -duration 10s -json > "$out.json" 2> "$out.err"
    [ -s "$out.err" ] || rm -f "$out.err" # kept only if the tool said something
    sleep 2
  done
done
kill "$SP"; wait "$SP"; SP=
stamp "end load repeats"
echo done4 >> "$R/machine.txt"
