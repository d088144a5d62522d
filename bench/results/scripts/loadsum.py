# Usage: python3 loadsum.py [LOAD_DIR] > summary.txt
#
# One line per oauth2kit-load JSON report in LOAD_DIR, by default the
# bench/results/load directory next to this script's.
import json,glob,os,sys
d=sys.argv[1] if len(sys.argv)>1 else os.path.join(os.path.dirname(os.path.abspath(__file__)),'..','load')
rows=[]
for mix in ['me','public','throttled','password']:
    for r in ['500','1000','2000','4000','8000','max','max-2','max-3']:
        p=f'{d}/{mix}-{r}.json'
        if not os.path.exists(p): continue
        try: j=json.load(open(p))
        except Exception as e: print(p,e); continue
        m=j['metrics']; L=m['latencies']
        print(f"{mix:7}{r:>6} req={j['requests']:7} ok={j['ok']:7} succ={j['success']*100:6.2f}% rate={m['rate']:8.0f} thr={j['throughput']:8.0f} p50={L['50th']/1e6:8.3f}ms p90={L['90th']/1e6:8.3f} p99={L['99th']/1e6:8.3f} max={L['max']/1e6:8.1f} workers={j['workers']} stopped={j.get('stopped','')} codes={m.get('status_codes')}")
