#!/bin/bash
# Two more unpaced runs per mix, alternating, for the spread of max throughput.
R=/work/main/bench/results
while ! grep -q '^done3' $R/machine.txt; do sleep 2; done
stamp() { echo "$(date -u +%FT%TZ) $1: $(cut -d' ' -f1-3 /proc/loadavg) (load average 1/5/15 min)" >> $R/machine.txt; }
/tmp/bw/server -addr 127.0.0.1:8080 >/tmp/bw/server.out 2>/dev/null &
SP=$!
for i in $(seq 50); do curl -fs http://127.0.0.1:8080/api/ping >/dev/null && break; sleep 0.2; done
for run in 2 3; do
  for mix in me public; do
    stamp "load $mix rate 0 workers 8, run $run"
    /tmp/bw/load -mix $mix -rate 0 -workers 8 -duration 10s -json > $R/load/$mix-max-$run.json 2>$R/load/$mix-max-$run.err
    sleep 2
  done
done
kill $SP; wait $SP
stamp "end load repeats"
echo done4 >> $R/machine.txt
