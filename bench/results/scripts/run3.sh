#!/bin/bash
# Usage: run3.sh SNAPSHOT [RESULTS]
#
# Run 1b of BENCHMARKS.md, after run.sh: the cold verify rows again, as six
# -count 1 runs, so that a change in the machine's load affects every variant
# alike. SNAPSHOT and RESULTS are as for run.sh.
set -u
usage() { echo "usage: $0 SNAPSHOT [RESULTS]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
S=$(cd "$1" && pwd) || usage
R=$(cd "${2:-$(dirname "${BASH_SOURCE[0]}")/..}" && pwd) || usage
stamp() { echo "$(date -u +%FT%TZ) $1: $(cut -d' ' -f1-3 /proc/loadavg) (load average 1/5/15 min)" >> "$R/machine.txt"; }
cd "$S" || exit 1
stamp "start oauth2 cold verify interleaved"
: > "$R/oauth2-verify-interleaved.txt"
for i in 1 2 3 4 5 6; do go test -run '^$' -bench 'Verify/.*/(bare-go-jose|cold)' -benchmem -count 1 ./oauth2 >> "$R/oauth2-verify-interleaved.txt" 2>&1; done
stamp "end oauth2 cold verify interleaved"
echo done3 >> "$R/machine.txt"
