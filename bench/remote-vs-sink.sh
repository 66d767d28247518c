#!/usr/bin/env bash
# Healthy fake remote vs Postfix's smtp-sink, both driven by the same smtp-source run
# (DESIGN §8: the fake remote must reach ≥ 1.0× smtp-sink's messages/s).
#
# Both servers run side by side on loopback for the whole benchmark; each round runs
# smtp-source against one then the other, alternating which goes first, and the medians
# over the rounds are compared (the machine is small and noisy). The fake remote is the
# release `fake-remotes` binary serving one remote, its control API on loopback; after
# each of its rounds the API must have counted every message. Loopback only; every step
# is bounded in time; it stops by itself and kills what it started.
#
#   bench/remote-vs-sink.sh                 # 7 rounds of smtp-source -s 20 -m 20000 -l 4096
#   ROUNDS=3 MESSAGES=5000 bench/remote-vs-sink.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-7}
SESSIONS=${SESSIONS:-20}
MESSAGES=${MESSAGES:-20000}
SIZE=${SIZE:-4096}
SOURCE_FLAGS=${SOURCE_FLAGS:-}        # e.g. -d (several messages per connection)
ROUND_LIMIT=${ROUND_LIMIT:-300}       # seconds one smtp-source run may take

PATH=/usr/sbin:$PATH
for tool in smtp-source smtp-sink python3 curl; do
    command -v "$tool" >/dev/null || { echo "bench: $tool not found (Postfix provides smtp-source and smtp-sink)" >&2; exit 2; }
done

cargo build --release -q -p fake-remotes
BIN=target/release/fake-remotes

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
REMOTE_PORT=$(free_port)
SINK_PORT=$(free_port)

cat > "$WORK/bench.yaml" <<YAML
remotes:
  bench: { domains: [bench.test], listen: 127.0.0.1:$REMOTE_PORT }
YAML
"$BIN" "$WORK/bench.yaml" --api 127.0.0.1:0 > "$WORK/remote.out" 2> "$WORK/remote.err" &
PIDS+=($!)
REMOTE_PID=$!
# smtp-sink must drop root privileges (-u); it answers like the fake remote, with PIPELINING.
smtp-sink -u nobody "127.0.0.1:$SINK_PORT" 1024 > "$WORK/sink.out" 2>&1 &
PIDS+=($!)
SINK_PID=$!

API=""
for _ in $(seq 100); do
    API=$(grep -o 'http://[0-9.:]*' "$WORK/remote.out" || true)
    [ -n "$API" ] && break
    sleep 0.1
done
[ -n "$API" ] || { echo "bench: fake-remotes did not start: $(cat "$WORK/remote.err")" >&2; exit 3; }
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$SINK_PORT") 2>/dev/null && break
    sleep 0.1
done

messages_counted() {
    curl -s --max-time 5 "$API/remotes" | python3 -c 'import json,sys; print(json.load(sys.stdin)["remotes"][0]["counters"]["messages"])'
}

# One smtp-source run against PORT; prints messages/s.
measure() {
    local port=$1 start end
    start=$(date +%s.%N)
    # shellcheck disable=SC2086
    timeout "$ROUND_LIMIT" smtp-source -s "$SESSIONS" -m "$MESSAGES" -l "$SIZE" $SOURCE_FLAGS \
        -f mq.1@bounces.test -t mq.1.0@bench.test "127.0.0.1:$port" > /dev/null
    end=$(date +%s.%N)
    python3 -c "print(f'{$MESSAGES / ($end - $start):.0f}')"
}

echo "smtp-source -s $SESSIONS -m $MESSAGES -l $SIZE $SOURCE_FLAGS; $ROUNDS rounds; $(nproc) cores; $(date -u +%Y-%m-%dT%H:%MZ)"
echo "round  fake-remote msg/s  smtp-sink msg/s"
REMOTE_RATES=()
SINK_RATES=()
for round in $(seq "$ROUNDS"); do
    before=$(messages_counted)
    if (( round % 2 )); then
        r=$(measure "$REMOTE_PORT"); s=$(measure "$SINK_PORT")
    else
        s=$(measure "$SINK_PORT"); r=$(measure "$REMOTE_PORT")
    fi
    after=$(messages_counted)
    if (( after - before != MESSAGES )); then
        echo "bench: the fake remote counted $((after - before)) messages, expected $MESSAGES" >&2
        exit 1
    fi
    printf "%5d  %17s  %15s\n" "$round" "$r" "$s"
    REMOTE_RATES+=("$r")
    SINK_RATES+=("$s")
done

python3 - "${REMOTE_RATES[*]}" "${SINK_RATES[*]}" <<'PY'
import statistics, sys
remote = [float(x) for x in sys.argv[1].split()]
sink = [float(x) for x in sys.argv[2].split()]
mr, ms = statistics.median(remote), statistics.median(sink)
print(f"median fake-remote {mr:.0f} msg/s, smtp-sink {ms:.0f} msg/s: ratio {mr / ms:.2f}x")
PY
echo "fake-remote RSS after the runs: $(awk '/VmHWM/ {print $2, $3}' /proc/$REMOTE_PID/status) peak; smtp-sink peak $(awk '/VmHWM/ {print $2, $3}' /proc/$SINK_PID/status)"
