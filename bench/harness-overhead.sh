#!/usr/bin/env bash
# DESIGN §8: harness overhead < 1 core at 5,000 msg/s. Runs bench/harness-overhead.yaml
# (generator → fake remote → collector, all in one mailquake process) ROUNDS times with
# the release build and prints each round's CPU (user + system) over its wall time, and
# the median. Loopback only; every run ends by itself (20 s load + settle).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
cargo build --release -q
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cores=()
for r in $(seq 1 "$ROUNDS"); do
  /usr/bin/time -f "%U %S %e" -o "$out/time" target/release/mailquake run bench/harness-overhead.yaml \
    --out "$out/run$r" > "$out/stdout" 2> "$out/stderr" || { cat "$out/stdout" "$out/stderr"; exit 1; }
  read -r user sys wall < "$out/time"
  accepted=$(python3 -c "import json,sys; s=json.load(open('$out/run$r/summary.json')); print(s['totals']['accepted'], s['totals']['delivered'], s['duration_s'])")
  core=$(python3 -c "print(f'{($user + $sys) / $wall:.3f}')")
  cores+=("$core")
  echo "round $r: user ${user}s system ${sys}s wall ${wall}s → ${core} cores; accepted delivered duration_s: $accepted"
done
median=$(printf '%s\n' "${cores[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "median: $median cores (target < 1)"
