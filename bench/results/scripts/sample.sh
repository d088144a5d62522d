#!/bin/bash
# Usage: sample.sh [STOP_FILE] > activity.txt
#
# Every 10 s: the load average and the processes using the most CPU over one
# second, for the record of the machine during the measurements. Runs until
# STOP_FILE exists, or until it is stopped if none is given.
set -u
[ $# -le 1 ] || { echo "usage: $0 [STOP_FILE]" >&2; exit 2; }
stop=${1:-}
while [ -z "$stop" ] || [ ! -e "$stop" ]; do
  echo "== $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
  top -b -n 2 -d 1 -w 200 | awk '/^top -/{n++} n==2 && $1 ~ /^[0-9]+$/ && $9+0 > 5 {printf "   %5s%% %s\n", $9, $12}' | head -6
  sleep 9
done
