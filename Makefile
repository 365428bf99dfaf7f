# centinela — every command a developer needs. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK := deploy/local/stack.sh

.PHONY: help venv up down status logs test test-unit lint bench clean topics token

help: ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

venv: $(VENV)/.installed ## create the virtualenv and install centinela with its dev tools

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "python 3.11+ is required")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip
	@PYTHONWARNINGS=ignore $(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

up: venv ## run the whole system: Kafka, FerretDB, intake, legal, alerts, processor
	@bash $(STACK) up

down: ## stop everything `make up` started
	@bash $(STACK) down

status: ## what runs
	@bash $(STACK) status

logs: ## follow every log of the local stack
	@tail -n 20 -F .run/logs/*.log

test: venv ## unit, integration and e2e tests against a real broker and database
	@bash deploy/local/test.sh

test-unit: venv ## unit tests only (no network)
	@$(PY) -m pytest tests/unit -q

lint: venv ## ruff and mypy
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/mypy

bench: venv ## throughput and latency benchmarks (starts the infra it needs)
	@bash deploy/local/test.sh --bench

topics: venv ## create missing topics on the running broker
	@$(PY) -m shared.topics ensure

token: venv ## mint a dev token: make token ROLE=legal_advocate SUB=adv-7 ORG=org-1
	@$(PY) -m shared.auth mint --role $(or $(ROLE),legal_advocate) --sub $(or $(SUB),adv-7) --org $(or $(ORG),org-1)

clean: ## stop everything and wipe this checkout's data and logs (the download cache stays)
	@bash $(STACK) clean
