# Shared by the bench scripts that race `mailquake flood` and Postfix's smtp-source
# against one smtp-sink on loopback (generator-vs-smtp-source.sh, large-messages.sh,
# shards.sh).
# Sourced, not run: `. bench/lib.sh` from the repo root, after `set -euo pipefail`.
#
#   need_tools TOOL...        exit 3 naming a missing tool (smtp-* are looked for in /usr/sbin too)
#   mailquake_binary          sets MQ: MQ=path is used as given, else a fresh release build
#   bench_work                sets WORK (a temp folder) and a trap that stops the sink and every
#                             process in BENCH_PIDS (a script adds its own: BENCH_PIDS+=($!)),
#                             then removes WORK
#   start_sink PORT [FLAG...] smtp-sink on 127.0.0.1:PORT (as nobody when root), output in
#                             WORK/sink.out; returns once it accepts connections (exit 3 after 5 s)
#   median                    the median of the numbers on stdin, one a line
#   machine                   one line: cores, CPU model, load

need_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || PATH="$PATH:/usr/sbin"
    command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install postfix (smtp-*) or time" >&2; exit 3; }
  done
}

mailquake_binary() {
  if [ -z "${MQ:-}" ]; then
    cargo build --release --quiet
    MQ=${CARGO_TARGET_DIR:-target}/release/mailquake
  fi
}

bench_work() {
  WORK=$(mktemp -d)
  SINK_PID=
  BENCH_PIDS=()
  trap bench_cleanup EXIT
}

bench_cleanup() {
  local p
  # Waited for, so nothing still writes into WORK when it is removed.
  for p in $SINK_PID "${BENCH_PIDS[@]}"; do { kill "$p" && wait "$p"; } 2>/dev/null || true; done
  rm -rf "$WORK"
}

start_sink() {
  local port=$1; shift
  # smtp-sink refuses to run as root without -u.
  local user_opt=(); [ "$(id -u)" = 0 ] && user_opt=(-u nobody)
  smtp-sink "${user_opt[@]}" "$@" "127.0.0.1:$port" 1000 >"$WORK/sink.out" 2>&1 &
  SINK_PID=$!
  local _
  for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "smtp-sink does not accept on 127.0.0.1:$port after 5 s: $(head -c 300 "$WORK/sink.out")" >&2
  exit 3
}

median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

machine() {
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
}
