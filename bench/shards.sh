#!/usr/bin/env bash
# Issue 12 point 7: 2 shard processes vs 1 process, messages per second submitted by the
# generators in total, on loopback, against one Postfix smtp-sink (the target; it keeps
# nothing, so the generators are meant to be the bottleneck). `mailquake remotes` serves
# the (idle) fake remotes that a shard needs to attach to; no mail reaches them.
#
#   bench/shards.sh                       # ROUNDS=3 RATE=20000 FOR=5 SESSIONS=40
#
# Each round runs A then B, or B then A (alternating):
#   A: one `mailquake run S.yaml`;
#   B: `mailquake run S.yaml --shard I/2 --t0 T0 --run-id R` for I = 0, 1, then
#      `mailquake merge`.
# The figure is totals.submitted (summary.json; the merged one for B) over the load's
# duration (FOR), with totals.shortfall; CPU is user + system of the mailquake run
# processes (/usr/bin/time), per message submitted; smtp-sink's CPU from /proc.
# The run's verdict is FAIL by design (no mail is delivered to the remotes); only the
# counts are used. Needs smtp-sink (Debian package `postfix`), /usr/bin/time and a
# release build (or MQ=path). Set-up shared with the other smtp-sink benches: bench/lib.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
RATE=${RATE:-20000}          # open model, msg/s in total (above what one process submits here)
FOR=${FOR:-5}                # seconds of load per run
SESSIONS=${SESSIONS:-40}     # in total; each shard gets ceil(SESSIONS/2)
SIZE=${SIZE:-4KiB}
. bench/lib.sh
need_tools smtp-sink python3 /usr/bin/time
mailquake_binary
bench_work
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SINK_PORT=$(free_port); API_PORT=$(free_port)

start_sink "$SINK_PORT"
cat >"$WORK/remotes.yaml" <<YAML
version: 1
name: bench-remotes
remotes:
  ok: { domains: [ok.test] }
load:
  steps: [ { rate: 1/s, for: 1s } ]
  mix: { ok.test: 100% }
checks: [ no_loss ]
YAML
"$MQ" remotes "$WORK/remotes.yaml" --api "127.0.0.1:$API_PORT" >"$WORK/remotes.out" 2>&1 &
BENCH_PIDS+=($!)
cat >"$WORK/s.yaml" <<YAML
version: 1
name: bench-shards
seed: 7
target: { smtp: ["127.0.0.1:$SINK_PORT"] }
remotes: { external: "http://127.0.0.1:$API_PORT" }
load:
  steps: [ { rate: $RATE/s, for: ${FOR}s } ]
  mix: { ok.test: 100% }
  sessions: $SESSIONS
  messages_per_connection: 1000
  message: { size: $SIZE, recipients: 1 }
checks: [ no_duplicates ]
settle: 1s
YAML
for _ in $(seq 100); do grep -q 'control API' "$WORK/remotes.out" && break; sleep 0.1; done

sink_cpu() { awk -v t="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$SINK_PID/stat"; }
totals() { python3 -c "import json,sys; t=json.load(open(sys.argv[1]))['totals']; print(t['submitted'], t['shortfall'])" "$1"; }
cpu() { awk '{ s += $1 + $2 } END { printf "%.2f", s }' "$@"; }
# Prints: msg/s submitted, shortfall, mailquake CPU s, µs CPU per message, sink CPU s
report() { # submitted shortfall cpu sink_cpu
  awk -v n="$1" -v sf="$2" -v c="$3" -v sc="$4" -v f="$FOR" 'BEGIN { printf "%.0f %d %.2f %.1f %.2f\n", n / f, sf, c, c * 1e6 / n, sc }'
}
run_a() {
  local d=$WORK/a$1 s0; s0=$(sink_cpu)
  /usr/bin/time -f "%U %S" -o "$d.time" "$MQ" run "$WORK/s.yaml" --out "$d" --skip-preflight >"$d.out" 2>&1 || [ $? = 1 ]
  read -r n sf < <(totals "$d/summary.json")
  report "$n" "$sf" "$(cpu "$d.time")" "$(awk -v a="$(sink_cpu)" -v b="$s0" 'BEGIN { printf "%.2f", a - b }')"
}
run_b() {
  local d=$WORK/b$1 s0 t0 i pids=(); s0=$(sink_cpu)
  t0=$(date -u -d '+3 seconds' +%Y-%m-%dT%H:%M:%S.%3NZ)
  for i in 0 1; do
    /usr/bin/time -f "%U %S" -o "$d.$i.time" "$MQ" run "$WORK/s.yaml" --out "$d/$i" --shard "$i/2" --t0 "$t0" \
      --run-id "bench$1" --skip-preflight >"$d.$i.out" 2>&1 &
    pids+=($!)
  done
  for i in 0 1; do wait "${pids[$i]}" || { echo "shard $i failed: $(tail -3 "$d.$i.out")" >&2; exit 1; }; done
  "$MQ" merge "$d/0" "$d/1" --out "$d/merged" >"$d.merge.out" 2>&1 || [ $? = 1 ]
  read -r n sf < <(totals "$d/merged/summary.json")
  report "$n" "$sf" "$(cpu "$d".[01].time)" "$(awk -v a="$(sink_cpu)" -v b="$s0" 'BEGIN { printf "%.2f", a - b }')"
}
echo "$(machine); rate $RATE/s for ${FOR}s, $SESSIONS sessions, $SIZE"
echo "round what msg_per_s shortfall mq_cpu_s cpu_us_per_msg sink_cpu_s load1"
: >"$WORK/A"; : >"$WORK/B"
for r in $(seq "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then order="A B"; else order="B A"; fi
  for w in $order; do
    if [ $w = A ]; then line=$(run_a "$r"); else line=$(run_b "$r"); fi
    echo "$line" >>"$WORK/$w"
    echo "$r $w $line $(cut -d' ' -f1 /proc/loadavg)"
  done
done
for w in A B; do
  echo "median $w: $(cut -d' ' -f1 "$WORK/$w" | median) msg/s, shortfall $(cut -d' ' -f2 "$WORK/$w" | median), $(cut -d' ' -f4 "$WORK/$w" | median) µs CPU/msg, sink $(cut -d' ' -f5 "$WORK/$w" | median) s CPU"
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
