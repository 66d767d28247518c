#!/usr/bin/env bash
# A real multi-node Postfix cluster behind HAProxy, on loopback, for mailquake.
#
#   cluster.sh up   [--dir DIR] [--nodes N] [--port P] [--node-port P0] --routes FILE [--tuning good|bad]
#   cluster.sh down [--dir DIR]
#   cluster.sh status [--dir DIR]
#   cluster.sh rules  [--dir DIR] --rules FILE
#
# `up` builds N Postfix instances under DIR/nK (hostname nK.cluster.test, SMTP on
# 127.0.0.1:P0+K-1) relaying the test domains by the transport map in FILE (make it with
# `mailquake routes SCENARIO --format postfix`), and HAProxy on 127.0.0.1:P spreading
# connections round robin over them. Every port is checked free first (Postfix and
# HAProxy bind with SO_REUSEPORT: a stale instance would silently share the port). A node
# that fails to start shows the tail of its log. `down` stops everything it started and
# checks no process is left.
#
# --monitoring: also Prometheus on 127.0.0.1:--prometheus-port (default 9090), scraping one
#   prometheus-postfix-exporter per node (127.0.0.1:--exporter-port+K-1, default 9154; each
#   reads its node's showq socket, labelled node=nK) every second, with the alert rules of
#   --rules FILE (default monitoring/rules.yml beside this script) evaluated every second.
#   `up` waits until every exporter has been scraped; `rules` swaps the rules file and
#   reloads Prometheus (SIGHUP), waiting until the reload is done.
#
# --tuning good (default): fast retries and short connect/HELO timeouts; Postfix's
#   per-destination concurrency and dead-destination detection isolate a bad remote.
# --tuning bad: deliberately mis-tuned — few `smtp` delivery processes, a per-destination
#   window above that pool, dead-marking disabled and long connect/HELO timeouts, so a
#   black-holed destination ties up every delivery agent (mailquake must FAIL isolation).
set -euo pipefail

DIR=/tmp/mqpf
NODES=3
PORT=2525
NODE_PORT=2601
ROUTES=""
TUNING=good
MONITORING=no
PROM_PORT=9090
EXPORTER_PORT=9154
RULES="$(dirname "$0")/monitoring/rules.yml"

cmd=${1:-}
[ -n "$cmd" ] && shift
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) DIR=$2; shift 2 ;;
    --nodes) NODES=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    --node-port) NODE_PORT=$2; shift 2 ;;
    --routes) ROUTES=$2; shift 2 ;;
    --tuning) TUNING=$2; shift 2 ;;
    --monitoring) MONITORING=yes; shift ;;
    --prometheus-port) PROM_PORT=$2; shift 2 ;;
    --exporter-port) EXPORTER_PORT=$2; shift 2 ;;
    --rules) RULES=$2; shift 2 ;;
    *) echo "cluster.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

die() { echo "cluster.sh: $*" >&2; exit 1; }

port_free() {
  [ -z "$(ss -ltnH "sport = :$1" 2>/dev/null)" ]
}

# Processes still running out of DIR (zombies do not count: PID 1 may reap them late):
# HAProxy names DIR on its command line; Postfix daemons (`master -w`, qmgr, smtpd, ...)
# do not, but run Postfix's daemon programs in their node's queue directory, DIR/nK/spool.
# One `find` lists the processes whose cwd is a node's queue directory (not a readlink
# per process: a down polls this).
DAEMONS=""
leftovers() {
  local pids p cwd
  pids=$(pgrep -f -- "$DIR/" 2>/dev/null || true)
  # `postconf -d`: the built-in default, read once (without a main.cf a plain postconf
  # fails, and every Postfix fatal error sleeps a second first).
  [ -n "$DAEMONS" ] || DAEMONS=$(postconf -d -h daemon_directory 2>/dev/null || echo /usr/lib/postfix/sbin)
  for cwd in $(find /proc/[0-9]*/cwd -maxdepth 0 -lname "$DIR/n*/spool" 2>/dev/null); do
    p=${cwd%/cwd}
    case "$(readlink "$p/exe" 2>/dev/null)" in
      "$DAEMONS"/*) pids="$pids ${p#/proc/}" ;;
    esac
  done
  for p in $(printf '%s\n' $pids | sort -un); do
    local state
    state=$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null || echo Z)
    [ "$state" != "Z" ] && echo "$p"
  done
  return 0
}

node_up() {
  local k=$1 dir="$DIR/n$k" port=$((NODE_PORT + k - 1))
  local etc="$dir/etc"
  mkdir -p "$etc" "$dir/spool" "$dir/data"
  chown postfix "$dir/data"
  # The package's master.cf (a "No configuration" install may only have the template).
  if [ -r /etc/postfix/master.cf ]; then
    cp /etc/postfix/master.cf "$etc/master.cf"
  else
    cp /usr/share/postfix/master.cf.dist "$etc/master.cf"
  fi
  : > "$etc/main.cf"
  local domains
  domains=$(awk '!/^#/ && NF >= 2 {print $1}' "$ROUTES" | paste -sd, -)
  cp "$ROUTES" "$etc/transport"
  postconf -c "$etc" -e \
    "compatibility_level = 3.6" \
    "myhostname = n$k.cluster.test" \
    "mydestination =" \
    "local_transport = error:local delivery disabled" \
    "alias_maps =" "alias_database =" \
    "inet_interfaces = 127.0.0.1" "inet_protocols = ipv4" \
    "mynetworks = 127.0.0.0/8" \
    "relay_domains = $domains" \
    "transport_maps = texthash:$etc/transport" \
    "smtp_dns_support_level = disabled" "smtp_host_lookup = native" \
    "queue_directory = $dir/spool" "data_directory = $dir/data" \
    "syslog_name = postfix-n$k" "maillog_file = $dir/maillog" \
    "maillog_file_prefixes = $DIR" \
    "smtp_tls_security_level = none" "smtpd_tls_security_level = none" \
    "queue_run_delay = 5s" "minimal_backoff_time = 5s" "maximal_backoff_time = 15s" \
    "smtpd_client_connection_count_limit = 0" "smtpd_client_connection_rate_limit = 0" \
    "smtpd_client_message_rate_limit = 0" "smtpd_client_recipient_rate_limit = 0"
  if [ "$TUNING" = bad ]; then
    postconf -c "$etc" -e \
      "smtp_connect_timeout = 60s" "smtp_helo_timeout = 300s" \
      "default_destination_concurrency_limit = 50" "initial_destination_concurrency = 50" \
      "default_destination_concurrency_negative_feedback = 0" \
      "default_destination_concurrency_failed_cohort_limit = 1000"
    # The smtp pool, set in master.cf (not default_process_limit: that also caps smtpd).
    postconf -c "$etc" -F 'smtp/unix/process_limit = 6'
  else
    postconf -c "$etc" -e "smtp_connect_timeout = 5s" "smtp_helo_timeout = 10s"
  fi
  postconf -c "$etc" -F '*/*/chroot = n'
  postconf -c "$etc" -MX smtp/inet
  postconf -c "$etc" -M "127.0.0.1:$port/inet = 127.0.0.1:$port inet n - n - - smtpd"
  # (No `postfix check` first: `postfix start` runs the same checks.)
  # With maillog_file set, errors go only to that log; `script` shows a silent failure.
  if ! script -qc "postfix -c $etc start" /dev/null > "$dir/start.log" 2>&1; then
    echo "cluster.sh: node n$k failed to start; start output and log tail:" >&2
    cat "$dir/start.log" >&2 || true
    tail -n 20 "$dir/maillog" >&2 2>/dev/null || true
    return 1
  fi
  # Wait (bounded) until the node answers SMTP.
  for _ in $(seq 1 50); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "cluster.sh: node n$k does not listen on 127.0.0.1:$port; log tail:" >&2
  tail -n 20 "$dir/maillog" >&2 2>/dev/null || true
  return 1
}

haproxy_up() {
  local cfg="$DIR/haproxy.cfg"
  {
    echo "global"
    echo "  maxconn 4000"
    # The runtime API, for operator actions on the balancer (scenarios/postfix/lb-remediation.yaml):
    # echo 'set server smtp/n2 state maint' | socat - UNIX-CONNECT:$DIR/haproxy.sock
    echo "  stats socket $DIR/haproxy.sock mode 600 level admin"
    echo "defaults"
    echo "  mode tcp"
    echo "  timeout connect 5s"
    echo "  timeout client 5m"
    echo "  timeout server 5m"
    echo "listen smtp"
    echo "  bind 127.0.0.1:$PORT"
    echo "  balance roundrobin"
    echo "  option smtpchk HELO haproxy.cluster.test"
    for k in $(seq 1 "$NODES"); do
      echo "  server n$k 127.0.0.1:$((NODE_PORT + k - 1)) check inter 2s"
    done
  } > "$cfg"
  haproxy -c -q -f "$cfg" || { echo "cluster.sh: haproxy config $cfg is invalid" >&2; return 1; }
  haproxy -f "$cfg" -D -p "$DIR/haproxy.pid" || { echo "cluster.sh: haproxy failed to start" >&2; return 1; }
}

# Prometheus and the exporters, started detached (stdin/out/err to files, so a caller
# reading our output is not held open), their pids in DIR/monitoring/*.pid; their command
# lines name DIR, so `leftovers` finds them. Prometheus starts first, before the nodes
# (it takes seconds to start; its targets count only once up), the exporters after them.
prometheus_up() {
  local m="$DIR/monitoring" k
  mkdir -p "$m/data"
  promtool check rules "$RULES" >/dev/null || { echo "cluster.sh: rules file $RULES is invalid: $(promtool check rules "$RULES" 2>&1 | tail -1)" >&2; return 1; }
  cp "$RULES" "$m/rules.yml"
  {
    echo "global: { scrape_interval: 1s, evaluation_interval: 1s }"
    echo "rule_files: [ $m/rules.yml ]"
    echo "scrape_configs:"
    echo "  - job_name: postfix"
    echo "    static_configs:"
    for k in $(seq 1 "$NODES"); do
      echo "      - { targets: [ '127.0.0.1:$((EXPORTER_PORT + k - 1))' ], labels: { node: n$k } }"
    done
  } > "$m/prometheus.yml"
  prometheus --config.file="$m/prometheus.yml" --storage.tsdb.path="$m/data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" < /dev/null > "$m/prometheus.log" 2>&1 &
  echo $! > "$m/prometheus.pid"
}

monitoring_up() {
  local m="$DIR/monitoring" k
  for k in $(seq 1 "$NODES"); do
    prometheus-postfix-exporter --web.listen-address="127.0.0.1:$((EXPORTER_PORT + k - 1))" \
      --postfix.showq_path="$DIR/n$k/spool/public/showq" --postfix.logfile_path="$DIR/n$k/maillog" \
      < /dev/null > "$m/exporter-n$k.log" 2>&1 &
    echo $! > "$m/exporter-n$k.pid"
  done
  # Bounded wait: every exporter scraped and up (the alerts mean something from the start).
  local url="http://127.0.0.1:$PROM_PORT/api/v1/query?query=count(up%7Bjob%3D%22postfix%22%7D%3D%3D1)"
  for _ in $(seq 1 100); do
    if curl -sf "$url" 2>/dev/null | grep -q "\"$NODES\"\]"; then return 0; fi
    sleep 0.2
  done
  echo "cluster.sh: Prometheus on 127.0.0.1:$PROM_PORT did not scrape the $NODES exporters within 20s; log tail:" >&2
  tail -n 5 "$m/prometheus.log" "$m"/exporter-n*.log >&2 2>/dev/null || true
  return 1
}

# The reload counter Prometheus keeps (a timestamp), to see a reload finish.
last_reload() {
  curl -sf "http://127.0.0.1:$PROM_PORT/metrics" 2>/dev/null | awk '/^prometheus_config_last_reload_success_timestamp_seconds /{print $2}'
}

case "$cmd" in
  up)
    [ -n "$ROUTES" ] || die "up needs --routes FILE (mailquake routes SCENARIO --format postfix > FILE)"
    [ -r "$ROUTES" ] || die "cannot read routes file $ROUTES"
    command -v postfix >/dev/null || die "postfix is not installed (apt-get install postfix)"
    command -v haproxy >/dev/null || die "haproxy is not installed (apt-get install haproxy)"
    case "$TUNING" in good|bad) ;; *) die "--tuning is good or bad, not $TUNING" ;; esac
    [ -z "$(leftovers)" ] && [ ! -e "$DIR/haproxy.pid" ] || die "a cluster already runs in $DIR: run 'cluster.sh down --dir $DIR' first"
    monitored=""
    if [ "$MONITORING" = yes ]; then
      for c in prometheus prometheus-postfix-exporter promtool curl; do
        command -v "$c" >/dev/null || die "--monitoring needs $c (apt-get install prometheus prometheus-postfix-exporter curl)"
      done
      [ -r "$RULES" ] || die "cannot read rules file $RULES"
      RULES=$(realpath "$RULES")
      monitored="$PROM_PORT $(seq "$EXPORTER_PORT" $((EXPORTER_PORT + NODES - 1)))"
    fi
    for p in "$PORT" $(seq "$NODE_PORT" $((NODE_PORT + NODES - 1))) $monitored; do
      port_free "$p" || die "port $p is already in use: $(ss -ltnpH "sport = :$p" | head -1)"
    done
    rm -rf "$DIR"
    mkdir -p "$DIR"
    if [ "$MONITORING" = yes ]; then
      prometheus_up || { "$0" down --dir "$DIR" >/dev/null 2>&1 || true; exit 1; }
    fi
    # The nodes start side by side (each `postfix start` spends a second or two in its
    # checks); each one's errors go to DIR/nK/up.err, shown if it fails.
    pids=()
    for k in $(seq 1 "$NODES"); do
      mkdir -p "$DIR/n$k"
      node_up "$k" 2> "$DIR/n$k/up.err" &
      pids+=($!)
    done
    failed=no
    for k in $(seq 1 "$NODES"); do
      wait "${pids[$((k - 1))]}" || { failed=yes; cat "$DIR/n$k/up.err" >&2; }
    done
    [ "$failed" = no ] || { "$0" down --dir "$DIR" >/dev/null 2>&1 || true; exit 1; }
    haproxy_up || { "$0" down --dir "$DIR" >/dev/null 2>&1 || true; exit 1; }
    if [ "$MONITORING" = yes ]; then
      monitoring_up || { "$0" down --dir "$DIR" >/dev/null 2>&1 || true; exit 1; }
      echo "monitoring up: Prometheus on http://127.0.0.1:$PROM_PORT (rules $RULES), exporters on 127.0.0.1:$EXPORTER_PORT..$((EXPORTER_PORT + NODES - 1))"
    fi
    echo "cluster up: $NODES Postfix nodes ($TUNING tuning) behind HAProxy on 127.0.0.1:$PORT; nodes on 127.0.0.1:$NODE_PORT..$((NODE_PORT + NODES - 1)); config dirs $DIR/n1/etc … $DIR/n$NODES/etc"
    ;;
  down)
    for pidfile in "$DIR"/monitoring/*.pid; do
      [ -e "$pidfile" ] || continue
      kill "$(cat "$pidfile")" 2>/dev/null || true
      rm -f "$pidfile"
    done
    if [ -e "$DIR/haproxy.pid" ]; then
      kill "$(cat "$DIR/haproxy.pid")" 2>/dev/null || true
      rm -f "$DIR/haproxy.pid"
    fi
    # Only running nodes: `postfix stop` on a stopped one is a fatal error, and each
    # Postfix fatal error sleeps a second.
    for etc in "$DIR"/n*/etc; do
      [ -d "$etc" ] && postfix -c "$etc" status >/dev/null 2>&1 && { postfix -c "$etc" stop >/dev/null 2>&1 || true; }
    done
    for _ in $(seq 1 50); do
      [ -z "$(leftovers)" ] && break
      sleep 0.1
    done
    left=$(leftovers)
    if [ -n "$left" ]; then
      kill -9 $left 2>/dev/null || true
      sleep 0.2
    fi
    [ -z "$(leftovers)" ] || die "processes left behind: $(leftovers | tr '\n' ' ')"
    echo "cluster down: no process left under $DIR"
    ;;
  rules)
    [ -n "$RULES" ] && [ -r "$RULES" ] || die "rules needs --rules FILE (a Prometheus rules file)"
    [ -e "$DIR/monitoring/prometheus.pid" ] || die "no monitoring runs in $DIR (cluster.sh up --monitoring)"
    PROM_PORT=$(sed -n 's/.*--web.listen-address=127.0.0.1:\([0-9]*\).*/\1/p' < <(tr '\0' ' ' < "/proc/$(cat "$DIR/monitoring/prometheus.pid")/cmdline"))
    promtool check rules "$RULES" >/dev/null || die "rules file $RULES is invalid"
    before=$(last_reload)
    cp "$RULES" "$DIR/monitoring/rules.yml"
    kill -HUP "$(cat "$DIR/monitoring/prometheus.pid")"
    for _ in $(seq 1 100); do
      now=$(last_reload)
      [ -n "$now" ] && [ "$now" != "$before" ] && { echo "rules reloaded: $RULES"; exit 0; }
      sleep 0.1
    done
    die "Prometheus did not reload $RULES within 10s"
    ;;
  status)
    for etc in "$DIR"/n*/etc; do
      [ -d "$etc" ] || continue
      n=$(postconf -c "$etc" -h myhostname)
      q=$(postqueue -c "$etc" -j 2>/dev/null | wc -l)
      if postfix -c "$etc" status >/dev/null 2>&1; then state=running; else state=stopped; fi
      echo "$n: $state; queue $q"
    done
    [ -e "$DIR/haproxy.pid" ] && echo "haproxy: running (pid $(cat "$DIR/haproxy.pid"))" || echo "haproxy: not running"
    ;;
  *)
    sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
