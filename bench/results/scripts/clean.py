# Usage: python3 clean.py RAW > CLEANED
#
# Drops testcontainers' log lines from go test -bench output and rejoins
# the result lines they split, so that benchstat can read the file.
import re,sys
out=[];pending=None
for line in open(sys.argv[1]):
    line=line.rstrip('\n')
    m=re.match(r'^(Benchmark\S+\s+)(\d{4}/\d\d/\d\d .*)$',line)
    if m: pending=m.group(1); continue
    if re.match(r'^\d{4}/\d\d/\d\d ',line) or re.match(r'^  (Server Version|API Version|Operating System|Total Memory|Testcontainers|Resolved Docker|Test SessionID|Test ProcessID)',line): continue
    if pending is not None and re.match(r'^\s+\d+\s+[\d.]+ ns/op',line):
        out.append(pending+line.strip()); pending=None; continue
    out.append(line)
print('\n'.join(out))
