# centinela — every command a developer needs. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK := deploy/local/stack.sh
PYTEST := $(PY) -m pytest -q -p no:cacheprovider
# `make up MONITORING=1` also starts a local Prometheus with the alerting rules
MONITORING ?=
monitoring_flag = $(if $(filter 1 yes true on,$(MONITORING)),1,0)

K8S_VALIDATE := deploy/k8s/validate.py

.PHONY: help venv up down restart status logs monitoring test test-unit test-integration test-e2e lint bench \
	clean topics token docs k8s-tools

help: ## list the commands
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

venv: $(VENV)/.installed ## create the virtualenv and install centinela with its dev tools

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "python 3.11+ is required")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip
	@PYTHONWARNINGS=ignore $(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

up: venv ## start Kafka, SecantusDB (MongoDB wire), intake, legal, alerts, reports, processor, console (once built); wait for every /readyz
	@CENTINELA_MONITORING=$(monitoring_flag) bash $(STACK) up

down: ## stop everything `make up` started, by PID
	@bash $(STACK) down

restart: ## stop and start one process by PID, same environment: make restart SERVICE=legal
	@test -n "$(SERVICE)" || { echo "usage: make restart SERVICE=intake|legal|alerts|reports|processor|console|prometheus" >&2; exit 2; }
	@bash $(STACK) restart $(SERVICE)

status: ## which processes of the stack run, with their PIDs
	@bash $(STACK) status

logs: ## follow the stack's logs; one process: make logs SERVICE=legal
	@bash $(STACK) logs $(SERVICE)

monitoring: ## start a local Prometheus (Debian's package) scraping the running stack, with the alerting rules
	@bash $(STACK) monitoring-up

test: venv ## unit, integration and e2e tests against a real broker and database (starts what is missing)
	@bash deploy/local/test.sh

test-unit: venv ## unit tests only (no network; includes promtool checks of the alerting rules)
	@$(PYTEST) tests/unit

test-integration: venv ## integration tests: one real adapter each (starts Kafka and the database if missing)
	@bash deploy/local/test.sh tests/integration

test-e2e: venv ## end-to-end tests: the whole flow through the APIs of services they start (Kafka, database started if missing)
	@bash deploy/local/test.sh tests/e2e

lint: venv ## ruff, ruff format, mypy, the Kubernetes manifests (kubeconform), and the pre-commit hooks when configured
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/mypy
	@$(MAKE) --no-print-directory k8s-tools
	@$(PY) $(K8S_VALIDATE) check
	@if [ -f .pre-commit-config.yaml ]; then \
		test -x $(VENV)/bin/pre-commit || { echo "lint: pre-commit is not in $(VENV) (it belongs in the dev extras)" >&2; exit 1; }; \
		$(VENV)/bin/pre-commit run --all-files --show-diff-on-failure; \
	else echo "lint: no .pre-commit-config.yaml, pre-commit hooks skipped"; fi

# Idempotent: once kubeconform and the schemas are in the cache (~/.cache/centinela) nothing is fetched.
k8s-tools: venv ## fetch kubeconform and the Kubernetes schemas into the cache, once (make lint's manifest check needs them)
	@$(PY) $(K8S_VALIDATE) prepare || { \
		echo "k8s-tools: could not fetch kubeconform or the Kubernetes schemas into $${CENTINELA_CACHE:-$${XDG_CACHE_HOME:-$$HOME/.cache}/centinela}" >&2; \
		echo "k8s-tools: the first run needs go, pip and a reachable package registry; run 'make k8s-tools' again once they are" >&2; \
		exit 1; }

docs: venv ## regenerate the generated parts of docs/ (settings tables)
	@$(PY) tools/settings_docs.py

# BENCH_ARGS: --quick (a few minutes), --only raw,services,processor, --size open_cases=100000, --publish
bench: venv ## one table of every path against its goal and same-run baseline; JSON + PNG in bench-results/
	@bash deploy/local/test.sh --bench $(BENCH_ARGS)

topics: venv ## create missing topics on the running broker
	@$(PY) -m shared.topics ensure

token: venv ## mint a dev token: make token ROLE=legal_advocate SUB=adv-7 ORG=org-1
	@$(PY) -m shared.auth mint --role $(or $(ROLE),legal_advocate) --sub $(or $(SUB),adv-7) --org $(or $(ORG),org-1)

clean: ## stop everything and wipe this checkout's data and logs (the download cache stays)
	@bash $(STACK) clean
