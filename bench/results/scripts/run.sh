#!/bin/bash
# Usage: run.sh SNAPSHOT [RESULTS]
#
# Runs every measurement of BENCHMARKS.md in order (runs 1 to 5; then run3.sh
# and run4.sh) against SNAPSHOT, a clean tree of the commit to measure, made
# for example with
#
#   SNAPSHOT=$(mktemp -d) && git archive <commit> | tar -x -C "$SNAPSHOT"
#
# and writes the raw outputs to RESULTS, by default the bench/results
# directory this script is in. machine.txt names the commit: set COMMIT to
# it, as a tree from git archive cannot tell. Needs a Docker engine and the
# test images (scripts/build-test-images), curl, and port 8080 free.
set -u
usage() { echo "usage: $0 SNAPSHOT [RESULTS]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
S=$(cd "$1" && pwd) || usage
R=$(cd "${2:-$(dirname "${BASH_SOURCE[0]}")/..}" && pwd) || usage
COMMIT=${COMMIT:-unknown}
export TESTCONTAINERS_RYUK_DISABLED=true TESTCONTAINERS_HOST_OVERRIDE=localhost OAUTH2KIT_REDIS_IMAGE=oauth2kit/test-redis:bookworm OAUTH2KIT_POSTGRES_IMAGE=oauth2kit/test-postgres:bookworm
BIN=$(mktemp -d) || exit 1
SP=
trap '[ -n "$SP" ] && kill "$SP" 2>/dev/null; rm -rf "$BIN"' EXIT
LOG=$R/machine.txt
stamp() { echo "$(date -u +%FT%TZ) $1: $(cut -d' ' -f1-3 /proc/loadavg) (load average 1/5/15 min)" >> "$LOG"; }
# load NAME ARGS...: one oauth2kit-load run; its stderr is kept only if it said something.
load() {
  local name=$1; shift
  "$BIN/load" "$@" -duration 10s -json > "$R/load/$name.json" 2> "$R/load/$name.err"
  [ -s "$R/load/$name.err" ] || rm -f "$R/load/$name.err"
}
{ echo "commit: $COMMIT (clean snapshot)"; echo "nproc: $(nproc)"; grep -m1 'model name' /proc/cpuinfo; go version; uname -r; } > "$LOG"
cd "$S" || exit 1
stamp "start oauth2"
go test -run '^$' -bench 'Verify|Sign|RefreshGrant|ProtectedRoute|RevocationPropagation' -benchmem -count 6 ./oauth2 > "$R/oauth2.txt" 2>&1
stamp "end oauth2 / start stores"
go test -run '^$' -bench . -count 5 ./adapters/memstore ./adapters/redisstore ./adapters/pgstore > "$R/stores.txt" 2>&1
stamp "end stores / start crossinstance"
go test -run '^$' -bench RevocationAcrossInstances -benchtime 300x -count 3 ./internal/crossinstance > "$R/crossinstance.txt" 2>&1
stamp "end crossinstance / start peers"
cd "$S/bench" || exit 1
: > "$R/peers-rerun.txt"
for i in 1 2 3 4 5; do go test -run '^$' -bench . -count 1 >> "$R/peers-rerun.txt" 2>&1; done
stamp "end peers / start load"
cd "$S" || exit 1
go build -o "$BIN/server" ./examples/server && go build -o "$BIN/load" ./cmd/oauth2kit-load || exit 1
"$BIN/server" -addr 127.0.0.1:8080 >"$BIN/server.out" 2>/dev/null &
SP=$!
for i in $(seq 50); do curl -fs http://127.0.0.1:8080/api/ping >/dev/null && break; sleep 0.2; done
mkdir -p "$R/load"
for rate in 500 1000 2000 4000 8000; do
  for mix in me public; do
    stamp "load $mix rate $rate"
    load "$mix-$rate" -mix "$mix" -rate "$rate"
    sleep 2
  done
done
for mix in me public; do
  stamp "load $mix rate 0 workers 8"
  load "$mix-max" -mix "$mix" -rate 0 -workers 8
  sleep 2
done
kill "$SP"; wait "$SP"; SP=
stamp "end load"
echo done >> "$LOG"
