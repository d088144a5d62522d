#!/bin/bash
# The cold verify rows again, as six -count 1 runs so that bursts of other load hit every variant.
R=/work/main/bench/results
stamp() { echo "$(date -u +%FT%TZ) $1: $(cut -d' ' -f1-3 /proc/loadavg) (load average 1/5/15 min)" >> $R/machine.txt; }
cd /tmp/oauth2kit-head
stamp "start oauth2 cold verify interleaved (the run above matched only bare-go-jose: bad -bench pattern)"
: > $R/oauth2-verify-interleaved.txt
for i in 1 2 3 4 5 6; do go test -run '^$' -bench 'Verify/.*/(bare-go-jose|cold)' -benchmem -count 1 ./oauth2 >> $R/oauth2-verify-interleaved.txt 2>&1; done
stamp "end oauth2 cold verify interleaved"
echo done3 >> $R/machine.txt
