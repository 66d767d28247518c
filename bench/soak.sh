#!/usr/bin/env bash
# Issue 9 soak (not in CI): is mailquake's memory bounded over a long run?
#
#   bench/soak.sh [cluster|remotes] [--for DURATION] [--every SECONDS] [--out DIR]
#
# cluster (default): `mailquake run bench/soak.yaml` — the embedded cluster at 1,000 msg/s
#   for --for (default 30m; the scenario's `for: 30m` is replaced) — sampling the process's
#   VmRSS every --every seconds (default 10) into DIR/rss.csv. At the end it prints the RSS
#   after minute 1 and at the end of the load, the growth beyond the ledger's
#   preallocation, and whether any record was lost.
# remotes: `mailquake remotes bench/soak-remotes.yaml` (default event ring) flooded by
#   `mailquake flood` at 1,000 msg/s for --for, sampling the remotes process the same way;
#   at the end the remote's message counter must equal what the flood had accepted.
#
# The ledger reserves planned × RECORD_BYTES up front (Vec::reserve_exact: untouched
# pages, not resident); each record becomes resident as its message is submitted, so the
# ledger's part of RSS at t seconds into the load is RECORD_BYTES × rate × t. That part is
# subtracted from both samples before comparing them.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=cluster
FOR=30m
EVERY=10
OUT=
RATE=1000
RECORD_BYTES=40 # size_of::<collector::ledger::Record>() (BENCHMARKS.md, ledger memory)
while [ $# -gt 0 ]; do
  case "$1" in
    cluster|remotes) MODE=$1 ;;
    --for) FOR=$2; shift ;;
    --every) EVERY=$2; shift ;;
    --out) OUT=$2; shift ;;
    *) echo "usage: $0 [cluster|remotes] [--for DURATION] [--every SECONDS] [--out DIR]" >&2; exit 2 ;;
  esac
  shift
done
seconds=$(python3 -c "
import re,sys
t=0
for n,u in re.findall(r'(\d+)([smh])', '$FOR'): t+=int(n)*{'s':1,'m':60,'h':3600}[u]
print(t)")
[ "$seconds" -gt 0 ] || { echo "--for: a duration such as 2m or 30m" >&2; exit 2; }
OUT=${OUT:-$(mktemp -d /tmp/soak-$MODE.XXXXXX)}
mkdir -p "$OUT"
cargo build --release -q
bin=target/release/mailquake
echo "soak $MODE: ${RATE} msg/s for $FOR, RSS every ${EVERY}s → $OUT/rss.csv"

# sample PID: one CSV line every $EVERY s while PID lives (t_s, VmRSS and VmHWM in KiB).
sample() {
  local pid=$1 start
  start=$(date +%s.%N)
  echo "t_s,rss_kib,hwm_kib,load1" > "$OUT/rss.csv"
  while kill -0 "$pid" 2>/dev/null; do
    local rss hwm t load
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || break
    hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || break
    [ -n "$rss" ] || break
    t=$(python3 -c "print(f'{$(date +%s.%N) - $start:.1f}')")
    load=$(cut -d' ' -f1 /proc/loadavg)
    echo "$t,$rss,$hwm,$load" >> "$OUT/rss.csv"
    sleep "$EVERY"
  done
}

# summarise LEDGER_RATE: RSS after minute 1 vs the last sample within the load.
summarise() {
  python3 - "$OUT/rss.csv" "$seconds" "$1" "$RECORD_BYTES" <<'PY'
import csv, statistics, sys
path, seconds, rate, record = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
rows = [(float(r["t_s"]), int(r["rss_kib"]), int(r["hwm_kib"]), float(r["load1"])) for r in csv.DictReader(open(path))]
during = [r for r in rows if r[0] <= seconds]
first = next(r for r in during if r[0] >= 60)
last = during[-1]
ledger = lambda t: rate * min(t, seconds) * record / 1024  # KiB resident in the ledger at t
base, end = first[1] - ledger(first[0]), last[1] - ledger(last[0])
print(f"samples: {len(rows)} ({len(during)} during the load); load average median {statistics.median(r[3] for r in rows):.2f}, max {max(r[3] for r in rows):.2f}")
print(f"RSS after minute 1 (t={first[0]:.0f}s): {first[1]/1024:.1f} MiB; at the end of the load (t={last[0]:.0f}s): {last[1]/1024:.1f} MiB; peak (VmHWM, incl. report writing): {rows[-1][2]/1024:.1f} MiB")
if rate:
    print(f"ledger records resident (rate × t × {record} B): {ledger(first[0])/1024:.1f} MiB at t={first[0]:.0f}s, {ledger(last[0])/1024:.1f} MiB at t={last[0]:.0f}s")
print(f"RSS beyond the ledger: {base/1024:.1f} MiB after minute 1 → {end/1024:.1f} MiB at the end: growth {100*(end-base)/base:+.1f}% (target < 5%)")
marks = [next((r for r in during if r[0] >= m * 60), None) for m in range(5, seconds // 60 + 1, 5)]
print("every 5 min: " + ", ".join(f"{r[0]/60:.0f} min {r[1]/1024:.1f} MiB" for r in marks if r))
if seconds >= 1200:
    mid = next(r for r in during if r[0] >= 900)
    print(f"minute 15 → end: {mid[1]/1024:.1f} → {last[1]/1024:.1f} MiB ({100*(last[1]-mid[1])/mid[1]:+.1f}% raw, ledger not subtracted)")
PY
}

case "$MODE" in
cluster)
  sed "s/for: 30m/for: $FOR/" bench/soak.yaml > "$OUT/soak.yaml"
  set +e
  "$bin" run "$OUT/soak.yaml" --out "$OUT/run" > "$OUT/stdout" 2> "$OUT/stderr" &
  pid=$!
  sample "$pid"
  wait "$pid"; rc=$?
  set -e
  echo "mailquake run exited $rc"
  summarise "$RATE"
  python3 - "$OUT/run" <<'PY'
import json, struct, sys
d = sys.argv[1]
s = json.load(open(f"{d}/summary.json"))
t, load = s["totals"], s["load"]
raw = open(f"{d}/ledger.bin", "rb").read(16)
hlen = struct.unpack("<I", raw[12:16])[0]
header = json.loads(open(f"{d}/ledger.bin", "rb").read(16 + hlen)[16:])
print(f"verdict {s['verdict']}; planned {load['planned']}, submitted {t['submitted']}, shortfall {t['shortfall']}, "
      f"accepted {t['accepted']}, not accepted {t['not_accepted']}, delivered {t['delivered']}, bounced {t['bounced']}, "
      f"outstanding {t['outstanding']}, duplicates {t['duplicates']}; ledger records {header['records']}")
ok = (t["submitted"] + t["shortfall"] == load["planned"]
      and t["accepted"] + t["not_accepted"] == t["submitted"]
      and t["delivered"] + t["bounced"] == t["accepted"]
      and t["outstanding"] == 0
      and header["records"] == t["submitted"])
print("records lost: 0" if ok else "RECORDS LOST OR UNACCOUNTED")
sys.exit(0 if ok else 1)
PY
  ;;
remotes)
  api=127.0.0.1:24912
  "$bin" remotes bench/soak-remotes.yaml --api "$api" > "$OUT/remotes.stdout" 2> "$OUT/remotes.stderr" &
  rpid=$!
  trap 'kill $rpid 2>/dev/null || true' EXIT
  for _ in $(seq 1 100); do
    curl -sf "http://$api/remotes" > /dev/null && break
    sleep 0.1
  done
  curl -sf "http://$api/remotes" > /dev/null || { echo "the remotes did not come up"; cat "$OUT/remotes.stderr"; exit 1; }
  sample "$rpid" &
  spid=$!
  set +e
  "$bin" flood 127.0.0.1:24911 --rate "${RATE}/s" --for "$FOR" --size 2KiB --out "$OUT/flood" > "$OUT/flood.stdout" 2> "$OUT/flood.stderr"
  rc=$?
  set -e
  echo "mailquake flood exited $rc"
  sleep "$EVERY" # one more sample after the flood
  curl -sf "http://$api/remotes" > "$OUT/remotes.json"
  kill "$rpid"; wait "$spid" 2>/dev/null || true
  summarise 0
  python3 - "$OUT" <<'PY'
import json, sys
d = sys.argv[1]
f = json.load(open(f"{d}/flood/flood.json"))
r = json.load(open(f"{d}/remotes.json"))
messages = sum(x["counters"]["messages"] for x in r["remotes"])
t = f["totals"]
print(f"flood: submitted {t['submitted']}, accepted {t['accepted']}, shortfall {t['shortfall']}; "
      f"remotes counted {messages} messages; event ring: {r['events']}")
ok = messages == t["accepted"]
print("messages lost: 0" if ok else "MESSAGES LOST OR UNACCOUNTED")
sys.exit(0 if ok else 1)
PY
  ;;
esac
