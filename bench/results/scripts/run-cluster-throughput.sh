#!/bin/bash
# Usage: run-cluster-throughput.sh SNAPSHOT [RESULTS]
#
# The "Refresh throughput through N instances" section of BENCHMARKS.md:
# BenchmarkRefreshThroughput of internal/crossinstance (1, 2 and 4 Issuers on
# one Redis master, then on a three-master Redis Cluster) five times, one
# sample of every row per run, so that a change in the machine's load
# affects every row alike. SNAPSHOT is a clean tree of the commit to
# measure, made for example with
#
#   SNAPSHOT=$(mktemp -d) && git archive <commit> | tar -x -C "$SNAPSHOT"
#
# RESULTS is by default the bench/results directory this script is in; the
# raw output goes to its cluster-throughput.txt, the machine and the load
# average before each run to cluster-throughput-machine.txt (set COMMIT to
# the commit: a tree from git archive cannot tell). Needs a container
# engine and the images the tests use (see CONTRIBUTING.md).
set -u
usage() { echo "usage: $0 SNAPSHOT [RESULTS]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
S=$(cd "$1" && pwd) || usage
R=$(cd "${2:-$(dirname "${BASH_SOURCE[0]}")/..}" && pwd) || usage
COMMIT=${COMMIT:-unknown}
LOG=$R/cluster-throughput-machine.txt
OUT=$R/cluster-throughput.txt
stamp() { echo "$(date -u +%FT%TZ) $1: $(cut -d' ' -f1-3 /proc/loadavg) (load average 1/5/15 min)" >> "$LOG"; }
{
	echo "commit: $COMMIT (clean snapshot)"
	echo "nproc: $(nproc)"
	grep -m1 'model name' /proc/cpuinfo
	grep -m1 MemTotal /proc/meminfo
	go version
	uname -r
	echo "redis image: ${OAUTH2KIT_REDIS_IMAGE:-default}"
} > "$LOG"
: > "$OUT"
cd "$S/internal/crossinstance" || exit 1
for i in 1 2 3 4 5; do
	stamp "run $i"
	# testcontainers logs to stdout; keep only the benchmark's own lines.
	go test -run '^$' -bench BenchmarkRefreshThroughput -benchtime 2s -count 1 . 2>&1 |
		grep -E '^(Benchmark|goos|goarch|pkg|cpu|PASS|FAIL|ok|---)' >> "$OUT"
done
stamp "end"
