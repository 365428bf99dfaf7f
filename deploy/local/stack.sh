#!/usr/bin/env bash
# centinela local stack without Docker: Apache Kafka (KRaft, Maven Central jars run with java),
# SecantusDB (a MongoDB-wire-protocol server from PyPI), the centinela processes and, on request,
# a local Prometheus (Debian's `prometheus` package) with centinela's alerting rules.
#
# The database server is SecantusDB (PyPI, exact pin, WiredTiger storage). FerretDB 1.24.2 was
# the first choice but fails the storage contract (tests/integration/storage): concurrent updates
# of one document lose writes and a version-filtered update is not a compare-and-set. It can still
# be tried with CENTINELA_MONGO_SERVER=ferretdb (built with go from the Go module proxy).
#
#   stack.sh install          provision Kafka and the database server into the cache (idempotent)
#   stack.sh infra-up         start Kafka and the database server, wait until they answer
#   stack.sh services-up      start intake, legal, alerts, reports, processor and the console (CENTINELA_CONSOLE=0: without)
#   stack.sh up               all of the above, wait until every process answers /readyz 200, print
#                             what runs where and how long start-up took (CENTINELA_MONITORING=1: Prometheus too)
#   stack.sh restart NAME     stop NAME by its PID and start it again with the same environment
#   stack.sh logs [NAME]      follow NAME's log (every log without NAME)
#   stack.sh monitoring-up    start Prometheus scraping every running process, with deploy/prometheus/rules
#   stack.sh down             stop exactly what was started (by PID), waiting for exit
#   stack.sh status           what runs, by PID file
#   stack.sh clean            down, then wipe data directories and logs of this checkout
#
# Downloads and builds live in the cache (shared by every clone); data, logs and PID files
# live in .run/ of this checkout (CENTINELA_RUN_DIR). Every port is a CENTINELA_*_PORT variable,
# so a second stack can run beside the first. CENTINELA_EXTERNAL_KAFKA=host:port and
# CENTINELA_EXTERNAL_MONGO=mongodb://... use a broker / database that is already running instead
# of starting one (nothing is started or stopped for it).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${CENTINELA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/centinela}"
RUN="${CENTINELA_RUN_DIR:-$ROOT/.run}"
PY="${CENTINELA_PYTHON:-$ROOT/.venv/bin/python}"

KAFKA_VERSION="${CENTINELA_KAFKA_VERSION:-4.1.1}"
FERRETDB_VERSION="${CENTINELA_FERRETDB_VERSION:-v1.24.2}"
SECANTUSDB_VERSION="${CENTINELA_SECANTUSDB_VERSION:-0.7.0b3}"
MONGO_SERVER="${CENTINELA_MONGO_SERVER:-secantusdb}"
MONGO_CACHE_SIZE="${CENTINELA_MONGO_CACHE_SIZE:-256M}"
KAFKA_PORT="${CENTINELA_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${CENTINELA_KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_HEAP="${CENTINELA_KAFKA_HEAP:-1g}"
MONGO_PORT="${CENTINELA_MONGO_PORT:-27017}"
FERRETDB_DEBUG_PORT="${CENTINELA_FERRETDB_DEBUG_PORT:-8088}"
INTAKE_PORT="${CENTINELA_INTAKE_PORT:-8001}"
LEGAL_PORT="${CENTINELA_LEGAL_PORT:-8002}"
ALERTS_PORT="${CENTINELA_ALERTS_PORT:-8003}"
REPORTS_PORT="${CENTINELA_REPORTS_PORT:-8005}"
PROCESSOR_PORT="${CENTINELA_PROCESSOR_PORT:-6066}"
CONSOLE_PORT="${CENTINELA_CONSOLE_PORT:-8004}"
PROMETHEUS_PORT="${CENTINELA_PROMETHEUS_PORT:-9090}"
PROMETHEUS_BIN="${CENTINELA_PROMETHEUS_BIN:-prometheus}"
MONITORING="${CENTINELA_MONITORING:-0}"
EXTERNAL_KAFKA="${CENTINELA_EXTERNAL_KAFKA:-}"
EXTERNAL_MONGO="${CENTINELA_EXTERNAL_MONGO:-}"
READY_TIMEOUT="${CENTINELA_READY_TIMEOUT:-120}"

KAFKA_HOME="$CACHE/kafka-$KAFKA_VERSION"
FERRETDB_BIN="$CACHE/ferretdb-$FERRETDB_VERSION/bin/ferretdb"
SECANTUSDB_HOME="$CACHE/secantusdb-$SECANTUSDB_VERSION"

UP_IN_PROGRESS=0
die() {
  echo "stack: error: $*" >&2
  if [ "$UP_IN_PROGRESS" = 1 ]; then echo "stack: what did start still runs; 'make down' (stack.sh down) stops it" >&2; fi
  exit 1
}
log() { echo "stack: $*"; }

need() {
  case "$1" in
    java)
      command -v java >/dev/null || die "java 17+ not found (install a JDK 17 or newer)"
      local v
      v=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
      if [ -z "$v" ] || [ "$v" -lt 17 ]; then die "java 17+ not found (found version '${v:-unknown}')"; fi ;;
    mvn) command -v mvn >/dev/null || die "maven (mvn) not found: it fetches the Kafka jars" ;;
    go) command -v go >/dev/null || die "go not found: it builds FerretDB" ;;
    python) [ -x "$PY" ] || die "python venv not found at $PY (run 'make venv')" ;;
  esac
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---------------------------------------------------------------- provisioning
install_kafka() {
  if [ -f "$KAFKA_HOME/.complete" ]; then return 0; fi
  need java; need mvn
  log "provisioning Apache Kafka $KAFKA_VERSION into $KAFKA_HOME (first run only)"
  local tmp; tmp=$(mktemp -d)
  cat >"$tmp/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>centinela.local</groupId><artifactId>kafka-runtime</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-simple</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
EOF
  rm -rf "$KAFKA_HOME.partial"; mkdir -p "$KAFKA_HOME.partial"
  if ! mvn -q -B -f "$tmp/pom.xml" -Dmaven.repo.local="${CENTINELA_M2_REPO:-$CACHE/m2}" dependency:copy-dependencies \
      -DoutputDirectory="$KAFKA_HOME.partial/libs" -DincludeScope=runtime >"$tmp/mvn.log" 2>&1; then
    cat "$tmp/mvn.log" >&2; die "maven could not resolve org.apache.kafka:kafka_2.13:$KAFKA_VERSION"
  fi
  touch "$KAFKA_HOME.partial/.complete"
  rm -rf "$KAFKA_HOME"; mv "$KAFKA_HOME.partial" "$KAFKA_HOME"; rm -rf "$tmp"
}

install_ferretdb() {
  if [ -x "$FERRETDB_BIN" ]; then return 0; fi
  need go
  log "building FerretDB $FERRETDB_VERSION into $(dirname "$FERRETDB_BIN") (first run only)"
  local home="$CACHE/ferretdb-$FERRETDB_VERSION" dir
  mkdir -p "$home"
  export GOPATH="${CENTINELA_GOPATH:-$CACHE/go}" GOFLAGS=-modcacherw
  dir=$(go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" \
        | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') || die "go could not download FerretDB $FERRETDB_VERSION"
  [ -n "$dir" ] || die "go could not download FerretDB $FERRETDB_VERSION"
  rm -rf "$home/src"; cp -r "$dir" "$home/src"; chmod -R u+w "$home/src"
  # The module zip lacks the generated version file that the binary panics without.
  echo "$FERRETDB_VERSION" >"$home/src/build/version/version.txt"
  (cd "$home/src" && go build -trimpath -o "$home/bin/ferretdb.partial" ./cmd/ferretdb) \
    || die "go build of FerretDB $FERRETDB_VERSION failed"
  mv "$home/bin/ferretdb.partial" "$FERRETDB_BIN"
}

install_secantusdb() {
  if [ -f "$SECANTUSDB_HOME/.complete" ]; then return 0; fi
  local py="${CENTINELA_SERVER_PYTHON:-python3}"
  command -v "$py" >/dev/null || die "python3 not found: it runs SecantusDB"
  "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || die "python 3.11+ needed for SecantusDB"
  log "installing SecantusDB $SECANTUSDB_VERSION into $SECANTUSDB_HOME (first run only)"
  rm -rf "$SECANTUSDB_HOME"
  "$py" -m venv "$SECANTUSDB_HOME" || die "could not create a venv for SecantusDB"
  "$SECANTUSDB_HOME/bin/pip" install --quiet --disable-pip-version-check "secantusdb==$SECANTUSDB_VERSION" \
    || die "pip could not install secantusdb==$SECANTUSDB_VERSION"
  touch "$SECANTUSDB_HOME/.complete"
}

install_mongo() {
  case "$MONGO_SERVER" in
    secantusdb) install_secantusdb ;;
    ferretdb) install_ferretdb ;;
    *) die "CENTINELA_MONGO_SERVER must be secantusdb or ferretdb (got '$MONGO_SERVER')" ;;
  esac
}

# ---------------------------------------------------------------- processes
pidfile() { echo "$RUN/pids/$1.pid"; }

running() {
  local pf; pf=$(pidfile "$1")
  [ -f "$pf" ] && kill -0 "$(cat "$pf")" 2>/dev/null
}

# start NAME PORT CMD... : refuses a busy port, records the PID, logs to .run/logs/NAME.log
start_proc() {
  local name=$1 port=$2; shift 2
  mkdir -p "$RUN/pids" "$RUN/logs"
  if running "$name"; then log "$name already running (pid $(cat "$(pidfile "$name")"))"; return 0; fi
  if port_busy "$port"; then die "port $port for $name is in use by another process (set CENTINELA_*_PORT)"; fi
  nohup "$@" >>"$RUN/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$(pidfile "$name")"
}

stop_proc() {
  local name=$1 pf pid
  pf=$(pidfile "$name")
  [ -f "$pf" ] || return 0
  pid=$(cat "$pf")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name (pid $pid) ignored SIGTERM for 30s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    log "stopped $name (pid $pid)"
  fi
  rm -f "$pf"
}

wait_port() {
  local name=$1 port=$2 deadline=$((SECONDS + READY_TIMEOUT))
  until port_busy "$port"; do
    running "$name" || { tail -n 30 "$RUN/logs/$name.log" >&2; die "$name exited during start-up (log: $RUN/logs/$name.log)"; }
    [ $SECONDS -lt $deadline ] || die "$name did not open port $port within ${READY_TIMEOUT}s (log: $RUN/logs/$name.log)"
    sleep 0.3
  done
}

# wait_http NAME URL: until URL answers 200 (a 503 "recovering" is not ready), or NAME dies, or time runs out
wait_http() {
  local name=$1 url=$2 deadline=$((SECONDS + READY_TIMEOUT))
  until "$PY" -c "import sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" "$url" 2>/dev/null; do
    running "$name" || { tail -n 30 "$RUN/logs/$name.log" >&2; die "$name exited during start-up (log: $RUN/logs/$name.log)"; }
    [ $SECONDS -lt $deadline ] || die "$name not ready at $url within ${READY_TIMEOUT}s (log: $RUN/logs/$name.log)"
    sleep 0.5
  done
}

start_kafka() {
  need java; install_kafka
  local data="$RUN/data/kafka" cfg="$RUN/kafka.properties"
  mkdir -p "$data" "$RUN/logs"
  cat >"$cfg" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$data
num.partitions=${CENTINELA_PARTITIONS:-6}
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
group.initial.rebalance.delay.ms=0
log.retention.hours=168
EOF
  local cp="$KAFKA_HOME/libs/*"
  local jvm=(-Xms"$KAFKA_HEAP" -Xmx"$KAFKA_HEAP" -XX:+UseG1GC -XX:ActiveProcessorCount=2
             -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -Djava.awt.headless=true)
  if [ ! -f "$data/meta.properties" ]; then
    log "formatting Kafka storage in $data"
    java "${jvm[@]}" -cp "$cp" kafka.tools.StorageTool format --standalone \
      -t "$(java -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)" \
      -c "$cfg" >>"$RUN/logs/kafka.log" 2>&1 || die "kafka storage format failed (log: $RUN/logs/kafka.log)"
  fi
  start_proc kafka "$KAFKA_PORT" java "${jvm[@]}" -cp "$cp" kafka.Kafka "$cfg"
  wait_port kafka "$KAFKA_PORT"
}

start_mongo() {
  install_mongo
  if [ "$MONGO_SERVER" = secantusdb ]; then
    mkdir -p "$RUN/data/secantusdb"
    start_proc mongo "$MONGO_PORT" "$SECANTUSDB_HOME/bin/secantusd-py" --host 127.0.0.1 --port "$MONGO_PORT" \
      --storage-path "$RUN/data/secantusdb" --cache-size "$MONGO_CACHE_SIZE" --log-level WARNING
    wait_port mongo "$MONGO_PORT"
    return 0
  fi
  mkdir -p "$RUN/data/ferretdb" "$RUN/ferretdb-state"
  start_proc mongo "$MONGO_PORT" "$FERRETDB_BIN" --handler=sqlite \
    --sqlite-url="file:$RUN/data/ferretdb/" --state-dir="$RUN/ferretdb-state" \
    --listen-addr="127.0.0.1:$MONGO_PORT" --debug-addr="127.0.0.1:$FERRETDB_DEBUG_PORT" \
    --telemetry=disable --log-level=warn
  wait_port mongo "$MONGO_PORT"
}

service_env() {
  export CENTINELA_KAFKA_BOOTSTRAP="${EXTERNAL_KAFKA:-${CENTINELA_KAFKA_BOOTSTRAP:-127.0.0.1:$KAFKA_PORT}}"
  export CENTINELA_MONGO_URI="${EXTERNAL_MONGO:-${CENTINELA_MONGO_URI:-mongodb://127.0.0.1:$MONGO_PORT/}}"
  export CENTINELA_ENV="${CENTINELA_ENV:-dev}"
  # faust's state belongs to the run directory, so a second stack (CENTINELA_RUN_DIR) has its own
  export CENTINELA_PROCESSOR_DATADIR="${CENTINELA_PROCESSOR_DATADIR:-$RUN/processor-data}"
  # alert e-mails link to the alert's page in this stack's console
  export CENTINELA_PUBLIC_BASE_URL="${CENTINELA_PUBLIC_BASE_URL:-http://127.0.0.1:$CONSOLE_PORT}"
}

ensure_topics() {
  need python; service_env
  "$PY" -m shared.topics ensure --timeout "$READY_TIMEOUT" || die "could not create topics"
}

infra_up() {
  if [ -n "$EXTERNAL_KAFKA" ]; then
    log "using the Kafka broker at $EXTERNAL_KAFKA (CENTINELA_EXTERNAL_KAFKA: not started or stopped here)"
  else
    start_kafka
  fi
  if [ -n "$EXTERNAL_MONGO" ]; then
    log "using the database at $EXTERNAL_MONGO (CENTINELA_EXTERNAL_MONGO: not started or stopped here)"
  else
    start_mongo
  fi
  ensure_topics
}

# The console runs when its app module exists; CENTINELA_CONSOLE=0 leaves it out (e.g. while it is broken).
console_present() { [ "${CENTINELA_CONSOLE:-1}" != 0 ] && [ -f "$ROOT/services/console/main.py" ]; }

# where the console finds the APIs it calls and its own URL (for links and sign-in), by this stack's ports
console_env() {
  export CENTINELA_CONSOLE_INTAKE_URL="${CENTINELA_CONSOLE_INTAKE_URL:-http://127.0.0.1:$INTAKE_PORT}"
  export CENTINELA_CONSOLE_LEGAL_URL="${CENTINELA_CONSOLE_LEGAL_URL:-http://127.0.0.1:$LEGAL_PORT}"
  export CENTINELA_CONSOLE_ALERTS_URL="${CENTINELA_CONSOLE_ALERTS_URL:-http://127.0.0.1:$ALERTS_PORT}"
  export CENTINELA_CONSOLE_REPORTS_URL="${CENTINELA_CONSOLE_REPORTS_URL:-http://127.0.0.1:$REPORTS_PORT}"
  export CENTINELA_CONSOLE_PUBLIC_URL="${CENTINELA_CONSOLE_PUBLIC_URL:-http://127.0.0.1:$CONSOLE_PORT}"
}

# dev only: one console account per role (idempotent); its sign-in instructions go into the summary
SEED_OUTPUT=""
seed_console() {
  console_present && [ "${CENTINELA_ENV:-dev}" = dev ] || return 0
  service_env; console_env
  if ! SEED_OUTPUT=$(cd "$ROOT" && "$PY" -m services.console seed 2>&1); then
    echo "$SEED_OUTPUT" | tail -n 5 >&2
    log "warning: dev accounts not seeded (python -m services.console seed failed); the console still runs"
    SEED_OUTPUT=""
  fi
}

# the centinela processes in start order (the console last: it calls the others' APIs)
services() {
  echo intake legal alerts reports processor
  if console_present; then echo console; fi
}

service_port() {
  case "$1" in
    intake) echo "$INTAKE_PORT" ;;
    legal) echo "$LEGAL_PORT" ;;
    alerts) echo "$ALERTS_PORT" ;;
    reports) echo "$REPORTS_PORT" ;;
    processor) echo "$PROCESSOR_PORT" ;;
    console) echo "$CONSOLE_PORT" ;;
    prometheus) echo "$PROMETHEUS_PORT" ;;
    *) die "unknown process '$1' (one of: $(services | tr '\n' ' ')prometheus)" ;;
  esac
}

# start_service NAME: the one place that knows each process's command line, so `up` and
# `restart NAME` start it identically (same environment from service_env, same options)
start_service() {
  local name=$1 port
  port=$(service_port "$name")
  need python; service_env
  cd "$ROOT"
  case "$name" in
    intake|legal|alerts|reports)
      start_proc "$name" "$port" "$PY" -m uvicorn "services.$name.main:app" \
        --host 127.0.0.1 --port "$port" --no-access-log ;;
    processor)
      start_proc processor "$port" "$PY" -m services.processor worker \
        --web-host 127.0.0.1 --web-port "$port" --loglevel warn ;;
    console)
      console_present || die "the console is left out (CENTINELA_CONSOLE=0 or no services/console/main.py)"
      console_env
      start_proc console "$port" "$PY" -m uvicorn services.console.main:app \
        --host 127.0.0.1 --port "$port" --no-access-log ;;
    prometheus) start_prometheus ;;
  esac
}

# Readiness, not liveness: the processor serves /metrics ~30 s before its tables are recovered,
# and alerts due in that window would come late; only /readyz 200 means "ready".
wait_ready() {
  local name=$1
  if [ "$name" = prometheus ]; then
    wait_http prometheus "http://127.0.0.1:$PROMETHEUS_PORT/-/ready"
  else
    wait_http "$name" "http://127.0.0.1:$(service_port "$name")/readyz"
  fi
}

services_up() {
  local name
  for name in $(services); do start_service "$name"; done
  for name in $(services); do wait_ready "$name"; done
}

# ---------------------------------------------------------------- monitoring (Debian's prometheus)
# A config generated per run: the targets are this stack's ports, the rules are the committed ones.
prometheus_config() {
  local cfg="$RUN/prometheus.yml" name
  mkdir -p "$RUN"
  {
    echo "# generated by deploy/local/stack.sh for this run; rules: deploy/prometheus/rules"
    echo "global: {scrape_interval: 5s, evaluation_interval: 5s}"
    echo "rule_files: [\"$ROOT/deploy/prometheus/rules/*.yml\"]"
    echo "scrape_configs:"
    for name in $(services); do
      echo "  - job_name: $name"
      echo "    static_configs: [{targets: [\"127.0.0.1:$(service_port "$name")\"]}]"
    done
  } >"$cfg"
  echo "$cfg"
}

start_prometheus() {
  command -v "$PROMETHEUS_BIN" >/dev/null \
    || die "prometheus not found: apt-get install prometheus (Debian's package; .ci/run installs it)"
  local cfg
  cfg=$(prometheus_config)
  mkdir -p "$RUN/data/prometheus"
  start_proc prometheus "$PROMETHEUS_PORT" "$PROMETHEUS_BIN" --config.file="$cfg" \
    --storage.tsdb.path="$RUN/data/prometheus" --storage.tsdb.retention.time=7d \
    --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" --log.level=warn
}

monitoring_up() { start_prometheus; wait_ready prometheus; }

# ---------------------------------------------------------------- summary and lifecycle
summary() {
  local took=$1 kafka mongo
  kafka="127.0.0.1:$KAFKA_PORT (KRaft, Apache Kafka $KAFKA_VERSION)"
  [ -z "$EXTERNAL_KAFKA" ] || kafka="$EXTERNAL_KAFKA (external, not started here)"
  mongo="mongodb://127.0.0.1:$MONGO_PORT/ ($MONGO_SERVER)"
  [ -z "$EXTERNAL_MONGO" ] || mongo="$EXTERNAL_MONGO (external, not started here)"
  echo
  echo "centinela is up: every process answered /readyz 200; start-up took ${took}s"
  if running console; then
    echo "  console           http://127.0.0.1:$CONSOLE_PORT/   (open this in a browser)"
    if [ -n "$SEED_OUTPUT" ]; then printf '                    %s\n' "${SEED_OUTPUT//$'\n'/$'\n'                    }"; fi
  fi
  echo "  intake API        http://127.0.0.1:$INTAKE_PORT   (docs: /docs, metrics: /metrics)"
  echo "  legal API         http://127.0.0.1:$LEGAL_PORT   (docs: /docs, metrics: /metrics)"
  echo "  alerts API        http://127.0.0.1:$ALERTS_PORT   (docs: /docs, metrics: /metrics)"
  echo "  reports API       http://127.0.0.1:$REPORTS_PORT   (docs: /docs, metrics: /metrics)"
  echo "  alerts processor  http://127.0.0.1:$PROCESSOR_PORT/metrics   (ready: /readyz)"
  echo "  Kafka             $kafka"
  echo "  MongoDB wire      $mongo"
  if running prometheus; then
    echo "  Prometheus        http://127.0.0.1:$PROMETHEUS_PORT/   (Alerts in its menu; rules: deploy/prometheus/rules)"
  fi
  echo "  logs              $RUN/logs/   (one process: make logs SERVICE=legal)"
  echo "  restart one       make restart SERVICE=legal"
  echo "  dev token         .venv/bin/python -m shared.auth mint --role legal_advocate --sub adv-7 --org org-1"
  echo "  stop              make down"
}

up() {
  local started=$SECONDS
  UP_IN_PROGRESS=1
  infra_up
  services_up
  seed_console
  if [ "$MONITORING" = 1 ]; then monitoring_up; fi
  summary $((SECONDS - started))
}

restart() {
  local name=${1:-} old new started=$SECONDS
  [ -n "$name" ] || die "which process? make restart SERVICE=<$(services | tr '\n' '|')prometheus>"
  service_port "$name" >/dev/null
  if [ "$name" = console ] && ! console_present; then
    die "the console is left out (CENTINELA_CONSOLE=0 or no services/console/main.py)"
  fi
  old=$(cat "$(pidfile "$name")" 2>/dev/null || echo none)
  stop_proc "$name"
  start_service "$name"
  wait_ready "$name"
  new=$(cat "$(pidfile "$name")")
  log "restarted $name (pid $old -> $new), ready in $((SECONDS - started))s"
}

logs() {
  local name=${1:-}
  if [ -z "$name" ]; then exec tail -n 20 -F "$RUN"/logs/*.log; fi
  case "$name" in kafka|mongo) ;; *) service_port "$name" >/dev/null ;; esac
  [ -f "$RUN/logs/$name.log" ] || die "no log for $name yet ($RUN/logs/$name.log)"
  exec tail -n 50 -F "$RUN/logs/$name.log"
}

down() {
  local name
  for name in prometheus console processor reports alerts legal intake mongo kafka; do stop_proc "$name"; done
}

status() {
  local name
  for name in kafka mongo intake legal alerts reports processor console prometheus; do
    if [ "$name" = kafka ] && [ -n "$EXTERNAL_KAFKA" ]; then
      echo "kafka: external ($EXTERNAL_KAFKA)"
    elif [ "$name" = mongo ] && [ -n "$EXTERNAL_MONGO" ]; then
      echo "mongo: external ($EXTERNAL_MONGO)"
    elif running "$name"; then
      echo "$name: running (pid $(cat "$(pidfile "$name")"))"
    elif [ "$name" = console ] && ! console_present; then
      echo "$name: left out (CENTINELA_CONSOLE=0 or no services/console/main.py)"
    else
      echo "$name: stopped"
    fi
  done
}

case "${1:-}" in
  install) install_kafka; install_mongo ;;
  infra-up) infra_up ;;
  infra-down) stop_proc mongo; stop_proc kafka ;;
  kafka-up) start_kafka ;;
  mongo-up) start_mongo ;;
  running-kafka) running kafka ;;
  running-mongo) running mongo ;;
  stop-kafka) stop_proc kafka ;;
  stop-mongo) stop_proc mongo ;;
  services-up) services_up ;;
  services-down) for n in prometheus console processor reports alerts legal intake; do stop_proc "$n"; done ;;
  monitoring-up) monitoring_up ;;
  monitoring-down) stop_proc prometheus ;;
  up) up ;;
  restart) restart "${2:-}" ;;
  logs) logs "${2:-}" ;;
  down) down ;;
  status) status ;;
  clean) down; rm -rf "$RUN"; log "wiped $RUN" ;;
  *) sed -n '2,26p' "$0"; exit 2 ;;
esac
