#!/usr/bin/env bash
# `make test`: start the infrastructure the tests need (unless it already runs), run unit,
# integration and e2e tests, stop exactly what this script started, exit with pytest's status.
#   test.sh                   every test under tests/
#   test.sh tests/integration only these paths (make test-integration, make test-e2e)
#   test.sh --bench [ARGS]    the benchmarks instead of the tests (ARGS: tests/bench/run.py's flags)
# Tests isolate themselves with a random topic prefix and their own databases, and start the
# centinela services they need on free ports, so a running `make up` is not disturbed.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT" || exit 1
STACK="bash deploy/local/stack.sh"
started=()

# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  # CENTINELA_KEEP_INFRA=1 (or a file .run/keep-infra) leaves what this run started running, for
  # several test runs in parallel on one broker and database; stop it later with `make down`
  if [ -n "${CENTINELA_KEEP_INFRA:-}" ] || [ -f .run/keep-infra ]; then return; fi
  for name in "${started[@]}"; do $STACK "stop-$name" || true; done
}
trap cleanup EXIT

for name in kafka mongo; do
  if ! $STACK "running-$name"; then
    $STACK "$name-up" || exit 1
    started+=("$name")
  fi
done

export CENTINELA_KAFKA_BOOTSTRAP="127.0.0.1:${CENTINELA_KAFKA_PORT:-9092}"
export CENTINELA_MONGO_URI="mongodb://127.0.0.1:${CENTINELA_MONGO_PORT:-27017}/"

if [ "${1:-}" = "--bench" ]; then
  shift
  .venv/bin/python -m tests.bench.run "$@"
  exit $?
fi

if [ $# -eq 0 ]; then set -- tests; fi
# shellcheck disable=SC2086 # PYTEST_ARGS is a list of words on purpose
.venv/bin/python -m pytest "$@" -q -p no:cacheprovider ${PYTEST_ARGS:-}
exit $?
