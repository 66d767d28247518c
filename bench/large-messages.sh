#!/usr/bin/env bash
# Large messages in constant memory (issue 18 §5): peak RSS of `mailquake flood` vs
# Postfix's smtp-source sending the same 20 MiB messages over the same 50 sessions to
# one smtp-sink on loopback, in the same run: ROUNDS alternating rounds (the order
# flips each round), medians quoted. Peak RSS is /usr/bin/time -v's "Maximum resident
# set size". See BENCHMARKS.md.
#
#   bench/large-messages.sh                    # defaults below
#   ROUNDS=5 SIZE_MIB=20 SESSIONS=50 bench/large-messages.sh
#
# Needs smtp-source and smtp-sink (Debian package `postfix`), /usr/bin/time and a
# release build. Set-up shared with generator-vs-smtp-source.sh: bench/lib.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}        # alternating rounds
SESSIONS=${SESSIONS:-50}   # concurrent sessions, both tools
SIZE_MIB=${SIZE_MIB:-20}   # message size
RATE=${RATE:-20}           # mailquake's open-model rate, msg/s
FOR=${FOR:-10}             # mailquake --for, seconds
PORT=${PORT:-12597}

. bench/lib.sh
need_tools smtp-source smtp-sink /usr/bin/time
mailquake_binary   # MQ=path runs that binary instead of a fresh release build
bench_work
start_sink "$PORT"

SIZE=$((SIZE_MIB * 1024 * 1024))
MESSAGES=$((RATE * FOR))
MQ_CMD=("$MQ" flood "127.0.0.1:$PORT" --rate "${RATE}/s" --for "${FOR}s" --size "${SIZE_MIB}MiB"
        --sessions "$SESSIONS" --out "$WORK/mq")
SS_CMD=(smtp-source -s "$SESSIONS" -l "$SIZE" -m "$MESSAGES" "127.0.0.1:$PORT")
# Runs a client under /usr/bin/time -v; prints "peak_RSS_MB wall_s".
measure() {
  rm -rf "$WORK/mq"
  /usr/bin/time -v -o "$WORK/time" "$@" >"$WORK/last.out" 2>&1 || { cat "$WORK/last.out" >&2; exit 1; }
  awk -F': ' '/Maximum resident set size/ { kb = $2 } /Elapsed \(wall clock\)/ { w = $2 }
    END { n = split(w, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.1f %.1f\n", kb / 1024, s }' "$WORK/time"
}

machine
echo "mailquake: ${MQ_CMD[*]/#$WORK/WORK}"
echo "smtp-source: ${SS_CMD[*]}"
: >"$WORK/ss"; : >"$WORK/mqr"
for round in $(seq "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then order="mq ss"; else order="ss mq"; fi
  for who in $order; do
    if [ "$who" = ss ]; then r=$(measure "${SS_CMD[@]}"); echo "$r" >>"$WORK/ss"
    else r=$(measure "${MQ_CMD[@]}"); echo "$r" >>"$WORK/mqr"
      accepted=$(grep -o '"accepted": [0-9]*' "$WORK/mq/flood.json" | head -1 | grep -o '[0-9]*$')
      r="$r accepted=$accepted"
    fi
    echo "round $round  $who  peak RSS MB, wall s: $r"
  done
done
mq_rss=$(cut -d' ' -f1 <"$WORK/mqr" | median); ss_rss=$(cut -d' ' -f1 <"$WORK/ss" | median)
echo "median peak RSS mailquake:   $mq_rss MB (wall $(cut -d' ' -f2 <"$WORK/mqr" | median) s)"
echo "median peak RSS smtp-source: $ss_rss MB (wall $(cut -d' ' -f2 <"$WORK/ss" | median) s)"
echo "ratio: $(awk -v a="$mq_rss" -v b="$ss_rss" 'BEGIN { printf "%.1f", a / b }')×"
