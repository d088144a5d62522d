#!/bin/bash
# Runs every measurement of BENCHMARKS.md against the snapshot of HEAD in /tmp/oauth2kit-head.
set -u
export TESTCONTAINERS_RYUK_DISABLED=true TESTCONTAINERS_HOST_OVERRIDE=localhost OAUTH2KIT_REDIS_IMAGE=oauth2kit/test-redis:bookworm OAUTH2KIT_POSTGRES_IMAGE=oauth2kit/test-postgres:bookworm
R=/work/main/bench/results
S=/tmp/oauth2kit-head
LOG=$R/machine.txt
stamp() { echo "$(date -u +%FT%TZ) $1: $(cut -d' ' -f1-3 /proc/loadavg) (load average 1/5/15 min)" >> $LOG; }
{ echo "commit: dde2d1b5dad3b383856232a241fcff4aac8c0068 (the archived HEAD) (clean snapshot via git archive; cmd/oauth2kit-load with the public mix added)"; echo "nproc: $(nproc)"; grep -m1 'model name' /proc/cpuinfo; go version; uname -r; } > $LOG
cd $S
stamp "start oauth2"
go test -run '^$' -bench 'Verify|Sign|RefreshGrant|ProtectedRoute|RevocationPropagation' -benchmem -count 6 ./oauth2 > $R/oauth2.txt 2>&1
stamp "end oauth2 / start stores"
go test -run '^$' -bench . -count 5 ./adapters/memstore ./adapters/redisstore ./adapters/pgstore > $R/stores.txt 2>&1
stamp "end stores / start crossinstance"
go test -run '^$' -bench RevocationAcrossInstances -benchtime 300x -count 3 ./internal/crossinstance > $R/crossinstance.txt 2>&1
stamp "end crossinstance / start peers"
cd $S/bench
: > $R/peers-rerun.txt
for i in 1 2 3 4 5; do go test -run '^$' -bench . -count 1 >> $R/peers-rerun.txt 2>&1; done
stamp "end peers / start load"
cd $S
go build -o /tmp/bw/server ./examples/server && go build -o /tmp/bw/load ./cmd/oauth2kit-load || exit 1
/tmp/bw/server -addr 127.0.0.1:8080 >/tmp/bw/server.out 2>/dev/null &
SP=$!
for i in $(seq 50); do curl -fs http://127.0.0.1:8080/api/ping >/dev/null && break; sleep 0.2; done
mkdir -p $R/load
for rate in 500 1000 2000 4000 8000; do
  for mix in me public; do
    stamp "load $mix rate $rate"
    /tmp/bw/load -mix $mix -rate $rate -duration 10s -json > $R/load/$mix-$rate.json 2>$R/load/$mix-$rate.err
    sleep 2
  done
done
for mix in me public; do
  stamp "load $mix rate 0 workers 8"
  /tmp/bw/load -mix $mix -rate 0 -workers 8 -duration 10s -json > $R/load/$mix-max.json 2>$R/load/$mix-max.err
  sleep 2
done
kill $SP; wait $SP
stamp "end load"
echo done >> $LOG
