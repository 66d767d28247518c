#!/usr/bin/env bash
# Generator vs Postfix's smtp-source, both against one smtp-sink on loopback, in the
# same run: ROUNDS alternating rounds (the order flips each round), medians quoted.
# Then the generator's CPU at a fixed open-model rate. See BENCHMARKS.md.
#
#   bench/generator-vs-smtp-source.sh            # defaults below
#   ROUNDS=7 SESSIONS=20 SIZE=4096 bench/generator-vs-smtp-source.sh
#
# Needs smtp-source and smtp-sink (Debian package `postfix`), /usr/bin/time and a
# release build (MQ=path runs that binary instead). Set-up shared with
# large-messages.sh: bench/lib.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}          # alternating rounds
SESSIONS=${SESSIONS:-20}     # concurrent sessions, both tools
SIZE=${SIZE:-4096}           # payload bytes (smtp-source -l); mailquake --size adds its headers' share
MESSAGES=${MESSAGES:-40000}  # smtp-source -m per round
SECONDS_PER_ROUND=${SECONDS_PER_ROUND:-5}   # mailquake --for per round
CPU_RATE=${CPU_RATE:-2000}   # open-model rate for the CPU figure, msg/s
CPU_FOR=${CPU_FOR:-20}       # seconds
PORT=${PORT:-12599}

. bench/lib.sh
need_tools smtp-source smtp-sink /usr/bin/time
mailquake_binary
bench_work
# -c prints a running count, separated by \r.
start_sink "$PORT" -c

# smtp-sink's counter lines look like `sess=2 quit=2 mesg=50`; its output is block
# buffered, so it is read only at the end, as a cross-check of the clients' own counts.
sink_count() { tr '\r' '\n' <"$WORK/sink.out" | grep -o 'mesg=[0-9]*' | tail -1 | cut -d= -f2 | grep . || echo 0; }
now() { date +%s.%N; }
# Runs a client; prints messages per second of its wall time, counting what it says
# the sink accepted (smtp-source: all of -m, it aborts on any error).
measure() {
  local t0 t1 n
  t0=$(now)
  "$@" >"$WORK/last.out" 2>&1
  t1=$(now)
  if [ "$1" = smtp-source ]; then n=$MESSAGES
  else n=$(grep -o '"accepted": [0-9]*' "$WORK/mq/flood.json" | head -1 | grep -o '[0-9]*$'); fi
  echo "$n" >>"$WORK/sent"
  echo "$n $t0 $t1" | awk '{ printf "%.0f\n", $1 / ($3 - $2) }'
}

# smtp-source's own headers are ~150 bytes; mailquake's --size counts its headers.
MQ_SIZE=$((SIZE + 150))
SS=(smtp-source -d -s "$SESSIONS" -l "$SIZE" -m "$MESSAGES" "127.0.0.1:$PORT")
GEN=("$MQ" flood "127.0.0.1:$PORT" --model closed --sessions "$SESSIONS" --size "$MQ_SIZE"
     --messages-per-connection 1000000 --for "${SECONDS_PER_ROUND}s" --out "$WORK/mq")

machine
echo "sessions $SESSIONS · payload $SIZE bytes · persistent connections · $ROUNDS rounds"
: >"$WORK/ss"; : >"$WORK/mq.rates"
for round in $(seq "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then order="ss mq"; else order="mq ss"; fi
  for who in $order; do
    if [ "$who" = ss ]; then r=$(measure "${SS[@]}"); echo "$r" >>"$WORK/ss"
    else r=$(measure "${GEN[@]}"); echo "$r" >>"$WORK/mq.rates"
      grep -q '"hlog_error": null' "$WORK/mq/flood.json" || { echo "histogram logs incomplete" >&2; exit 1; }
    fi
    echo "round $round  $who  $r msg/s"
  done
done
ss_median=$(median <"$WORK/ss"); mq_median=$(median <"$WORK/mq.rates")
echo "median smtp-source: $ss_median msg/s"
echo "median mailquake:   $mq_median msg/s"
echo "ratio: $(awk -v a="$mq_median" -v b="$ss_median" 'BEGIN { printf "%.2f", a / b }')×"
sleep 1
echo "cross-check: clients counted $(awk '{ s += $1 } END { print s }' "$WORK/sent") accepted, smtp-sink counted $(sink_count) (its output may lag by a buffer)"

# CPU at a fixed open-model rate: user + system seconds over the run (/usr/bin/time).
/usr/bin/time -f "%U %S %e" -o "$WORK/time" "$MQ" flood "127.0.0.1:$PORT" --rate "${CPU_RATE}/s" \
  --for "${CPU_FOR}s" --sessions 50 --size "$MQ_SIZE" --out "$WORK/cpu" >"$WORK/cpu.out"
read -r user sys wall <"$WORK/time"
grep -E 'accepted/s|shortfall' "$WORK/cpu.out" | head -1
echo "cpu at ${CPU_RATE}/s: user ${user}s + sys ${sys}s over ${wall}s = $(awk -v u="$user" -v s="$sys" -v w="$wall" 'BEGIN { printf "%.1f%%", (u + s) * 100 / w }') of one core"
