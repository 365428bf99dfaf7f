#!/usr/bin/env bash
# centinela local stack without Docker: Apache Kafka (KRaft, Maven Central jars run with java),
# a MongoDB-wire-protocol server, and the centinela processes.
#
# The database server is SecantusDB (PyPI, exact pin, WiredTiger storage). FerretDB 1.24.2 was
# the first choice but fails the storage contract (tests/integration/storage): concurrent updates
# of one document lose writes and a version-filtered update is not a compare-and-set. It can still
# be tried with CENTINELA_MONGO_SERVER=ferretdb (built with go from the Go module proxy).
#
#   stack.sh install          provision Kafka and the database server into the cache (idempotent)
#   stack.sh infra-up         start Kafka and the database server, wait until they answer
#   stack.sh services-up      start intake, legal, alerts API and the alerts processor
#   stack.sh up               all of the above, then print what runs where
#   stack.sh down             stop exactly what was started (by PID), waiting for exit
#   stack.sh status           what runs, by PID file
#   stack.sh clean            down, then wipe data directories and logs of this checkout
#
# Downloads and builds live in the cache (shared by every clone); data, logs and PID files
# live in .run/ of this checkout.
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
KAFKA_HEAP="${CENTINELA_KAFKA_HEAP:-512m}"
MONGO_PORT="${CENTINELA_MONGO_PORT:-27017}"
FERRETDB_DEBUG_PORT="${CENTINELA_FERRETDB_DEBUG_PORT:-8088}"
INTAKE_PORT="${CENTINELA_INTAKE_PORT:-8001}"
LEGAL_PORT="${CENTINELA_LEGAL_PORT:-8002}"
ALERTS_PORT="${CENTINELA_ALERTS_PORT:-8003}"
PROCESSOR_PORT="${CENTINELA_PROCESSOR_PORT:-6066}"
READY_TIMEOUT="${CENTINELA_READY_TIMEOUT:-120}"

KAFKA_HOME="$CACHE/kafka-$KAFKA_VERSION"
FERRETDB_BIN="$CACHE/ferretdb-$FERRETDB_VERSION/bin/ferretdb"
SECANTUSDB_HOME="$CACHE/secantusdb-$SECANTUSDB_VERSION"

die() { echo "stack: error: $*" >&2; exit 1; }
log() { echo "stack: $*"; }

need() {
  case "$1" in
    java)
      command -v java >/dev/null || die "java 17+ not found (install a JDK 17 or newer)"
      local v
      v=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
      [ -n "$v" ] && [ "$v" -ge 17 ] || die "java 17+ not found (found version '${v:-unknown}')" ;;
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
  export CENTINELA_KAFKA_BOOTSTRAP="${CENTINELA_KAFKA_BOOTSTRAP:-127.0.0.1:$KAFKA_PORT}"
  export CENTINELA_MONGO_URI="${CENTINELA_MONGO_URI:-mongodb://127.0.0.1:$MONGO_PORT/}"
  export CENTINELA_ENV="${CENTINELA_ENV:-dev}"
}

ensure_topics() {
  need python; service_env
  "$PY" -m shared.topics ensure --timeout "$READY_TIMEOUT" || die "could not create topics"
}

infra_up() { start_kafka; start_mongo; ensure_topics; }

services_up() {
  need python; service_env
  cd "$ROOT"
  start_proc intake "$INTAKE_PORT" "$PY" -m uvicorn services.intake.main:app --host 127.0.0.1 --port "$INTAKE_PORT" --no-access-log
  start_proc legal "$LEGAL_PORT" "$PY" -m uvicorn services.legal.main:app --host 127.0.0.1 --port "$LEGAL_PORT" --no-access-log
  start_proc alerts "$ALERTS_PORT" "$PY" -m uvicorn services.alerts.main:app --host 127.0.0.1 --port "$ALERTS_PORT" --no-access-log
  start_proc processor "$PROCESSOR_PORT" "$PY" -m services.processor worker \
    --web-host 127.0.0.1 --web-port "$PROCESSOR_PORT" --loglevel warn
  wait_http intake "http://127.0.0.1:$INTAKE_PORT/readyz"
  wait_http legal "http://127.0.0.1:$LEGAL_PORT/readyz"
  wait_http alerts "http://127.0.0.1:$ALERTS_PORT/readyz"
  wait_http processor "http://127.0.0.1:$PROCESSOR_PORT/metrics"
}

summary() {
  cat <<EOF

centinela is up:
  intake API        http://127.0.0.1:$INTAKE_PORT   (docs: /docs, metrics: /metrics)
  legal API         http://127.0.0.1:$LEGAL_PORT   (docs: /docs, metrics: /metrics)
  alerts API        http://127.0.0.1:$ALERTS_PORT   (docs: /docs, metrics: /metrics)
  alerts processor  http://127.0.0.1:$PROCESSOR_PORT/metrics
  Kafka             127.0.0.1:$KAFKA_PORT (KRaft, Apache Kafka $KAFKA_VERSION)
  MongoDB wire      mongodb://127.0.0.1:$MONGO_PORT/ ($MONGO_SERVER)
  logs              $RUN/logs/
  dev token         .venv/bin/python -m shared.auth mint --role legal_advocate --sub adv-7 --org org-1
  stop              make down
EOF
}

down() {
  for name in processor alerts legal intake mongo kafka; do stop_proc "$name"; done
}

status() {
  for name in kafka mongo intake legal alerts processor; do
    if running "$name"; then echo "$name: running (pid $(cat "$(pidfile "$name")"))"; else echo "$name: stopped"; fi
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
  services-down) for n in processor alerts legal intake; do stop_proc "$n"; done ;;
  up) infra_up; services_up; summary ;;
  down) down ;;
  status) status ;;
  clean) down; rm -rf "$RUN"; log "wiped $RUN" ;;
  *) sed -n '2,19p' "$0"; exit 2 ;;
esac
