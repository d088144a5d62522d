#!/bin/bash
# Usage: run-roundtrips.sh TREE TAG [PART...]
#
# The "Round trips per store call" section of BENCHMARKS.md: each
# adapter's BenchmarkRoundTrips, and internal/crossinstance's
# BenchmarkRefreshGrant (and BenchmarkRefreshGrantOverLatency), -count 6, against the native servers that
# OAUTH2KIT_REDIS_URL and OAUTH2KIT_POSTGRES_URL name (both must be set; the
# Redis one is FLUSHALLed first, so give it a server of its own). TREE is a
# tree of the commit to measure, made for example with
#
#   TREE=$(mktemp -d) && git archive <commit> | tar -x -C "$TREE"
#
# TAG names the outputs, <part>-<TAG>.txt in the roundtrips directory beside
# this script's; PART is redis, pg, refresh or latency, the first three by
# default. The
# machine, the servers and the load average before each part are added to
# machine-<TAG>.txt (set COMMIT to the commit: a tree from git archive
# cannot tell).
set -u
usage() { echo "usage: $0 TREE TAG [redis|pg|refresh|latency...]" >&2; exit 2; }
[ $# -ge 2 ] || usage
T=$(cd "$1" && pwd) || usage
TAG=$2
shift 2
PARTS=${*:-redis pg refresh}
: "${OAUTH2KIT_REDIS_URL:?}" "${OAUTH2KIT_POSTGRES_URL:?}"
export OAUTH2KIT_REDIS_URL OAUTH2KIT_POSTGRES_URL
R=$(cd "$(dirname "${BASH_SOURCE[0]}")/../roundtrips" && pwd) || exit 1
LOG=$R/machine-$TAG.txt
{ echo "== commit: ${COMMIT:-unknown} (git archive tree); parts: $PARTS"
  echo "nproc: $(nproc)"; grep -m1 'model name' /proc/cpuinfo; go version; uname -r
  redis-cli -u "$OAUTH2KIT_REDIS_URL" info server | grep redis_version
  psql "$OAUTH2KIT_POSTGRES_URL" -Atc 'SELECT version()'
  psql "$OAUTH2KIT_POSTGRES_URL" -Atc "SELECT 'synchronous_commit=' || current_setting('synchronous_commit') || ' fsync=' || current_setting('fsync')"
} >> "$LOG"
stamp() { echo "$(date -u +%FT%TZ) $1: $(cut -d' ' -f1-3 /proc/loadavg) (load average 1/5/15 min)" >> "$LOG"; }
bench() { # part, package directory, benchmark
	stamp "$1"
	(cd "$T/$2" && go test -run '^$' -bench "^$3\$" -count 6 -benchtime 0.5s .) > "$R/$1-$TAG.txt" 2>&1
}
for part in $PARTS; do
	redis-cli -u "$OAUTH2KIT_REDIS_URL" flushall > /dev/null || exit 1
	case $part in
	redis) bench redis adapters/redisstore BenchmarkRoundTrips ;;
	pg) bench pg adapters/pgstore BenchmarkRoundTrips ;;
	refresh) bench refresh internal/crossinstance BenchmarkRefreshGrant ;;
	latency) bench latency internal/crossinstance BenchmarkRefreshGrantOverLatency ;;
	*) usage ;;
	esac
done
stamp end
