#!/bin/bash
# Every 10 s: load average and the processes using the most CPU over one second, to say what else ran during the measurements.
while [ ! -f /tmp/bw/stop-sampler ]; do
  echo "== $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
  top -b -n 2 -d 1 -w 200 | awk '/^top -/{n++} n==2 && $1 ~ /^[0-9]+$/ && $9+0 > 5 {printf "   %5s%% %s\n", $9, $12}' | head -6
  sleep 9
done
