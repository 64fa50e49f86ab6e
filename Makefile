# Developer entry points. Every target is idempotent: a second run reuses what
# the first one installed or started.
#
#   make install   uv + .venv from uv.lock (deploy/scripts/ensure-python.sh)
#   make infra     RabbitMQ (+management) and PostgreSQL on 127.0.0.1, Chromium for the
#                  real-browser tests (Debian's chromium; no Playwright download), and the
#                  Kannel SMS gateway for the SMS tests (Debian's kannel + kannel-extras)
#   make sms-demo  `make run` with a local Kannel and its fake SMS centre: see pages go
#                  out by SMS and replies ("ACC 4821") act, typed in this terminal
#   make run       all three services in one process on http://127.0.0.1:8000
#                  (COORD_ENV=development: on the published development secrets)
#   make test      install, lint, infra, then pytest ($(PYTEST_ARGS) passed through):
#                  unit + integration on $(PYTEST_WORKERS) workers, then the end-to-end
#                  tests on $(E2E_WORKERS) (one module per worker), then the tests that
#                  restart the broker, alone
#   make test-fast install, lint, infra, unit + integration only
#   make bench     install + infra, then the benchmark (a table; bench/results.json)
#   make lint      ruff check, ruff format --check, mypy strict (services, shared, coord,
#                  tests, bench): a lint or type error fails `make test`, and so CI
#   make fmt       ruff check --fix, ruff format
#   make messages  the board's strings into its catalogues (then translate the new French ones)

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
# The ensure-* scripts may call apt-get: never run them side by side.
.NOTPARALLEL:

VENV_BIN := .venv/bin
SCRIPTS := deploy/scripts
PYTEST_ARGS ?=
# Four workers on two cores: most of a test's time is waiting on the broker, the
# database or a `coord` subprocess, not computing.
PYTEST_WORKERS ?= 4
# End-to-end tests wait on escalation delays: two modules at a time, each on its own
# systems (a module's tests share them, tests/e2e/pool.py).
E2E_WORKERS ?= 2
BENCH_ARGS ?=
# pytest exits 5 when PYTEST_ARGS (say -k) selects nothing in a phase: not a failure.
PYTEST_OK := || [ $$? -eq 5 ]

# Default environment for `make run` (override on the command line or in the environment).
COORD_DIRECTORY ?= deploy/directory.yaml
export COORD_DIRECTORY
# The demo runs on the published development secrets, which the services refuse to use
# unless told this is development (shared/settings.py, README "Configuration").
COORD_ENV ?= development
export COORD_ENV

# Printed by `make run` before the services start. `$$` is a literal `$` for the shell.
define RUN_HINT

coord is starting: API docs at http://127.0.0.1:8000/docs

Try it from another terminal (jo.operator is the JOC duty officer of deploy/directory.yaml):

  export COORD_ENV=development
  TOKEN=$$(.venv/bin/coord token jo.operator)
  ID=$$(curl -sS -X POST http://127.0.0.1:8000/v1/alerts \
    -H "Authorization: Bearer $$TOKEN" \
    -H 'Content-Type: application/json' \
    -H 'Idempotency-Key: demo-banner-mavivi-1' \
    -d '{"title": "Abduction reported near Mavivi", "description": "Two farmers taken by armed men on the road to Mavivi", "category": "abduction", "severity": "severe", "urgency": "immediate", "certainty": "observed", "sector": "beni", "location": {"name": "Mavivi"}, "origin": "community"}' \
    | tee /dev/stderr | jq -r .id)
  curl -sS http://127.0.0.1:8000/v1/alerts/$$ID -H "Authorization: Bearer $$TOKEN"

To see webhooks, run `COORD_ENV=development .venv/bin/coord webhook-sink` (127.0.0.1:9101)
in a third terminal. The README walks through the rest.

endef
export RUN_HINT

.PHONY: help install infra rabbitmq postgres chromium kannel tools run sms-demo test test-fast test-faults bench lint fmt messages

help:
	@sed -n 's/^#   make /  make /p' $(firstword $(MAKEFILE_LIST))

install:
	bash $(SCRIPTS)/ensure-python.sh

rabbitmq:
	bash $(SCRIPTS)/ensure-rabbitmq.sh

postgres:
	bash $(SCRIPTS)/ensure-postgres.sh

# The browser the real-browser tests drive with Playwright (tests/support/browser.py).
# Not a prerequisite of `make run`: the system itself needs no browser.
chromium:
	bash $(SCRIPTS)/ensure-chromium.sh

# The SMS gateway's programs, for the SMS tests: each runs a private bearerbox, smsbox and
# fake SMS centre (fakesmsc) on free ports (tests/support/kannel.py); no system Kannel is
# left running. A mission's own gateway starts from deploy/kannel/kannel.conf.
kannel:
	bash $(SCRIPTS)/ensure-kannel.sh

infra: rabbitmq postgres chromium kannel tools

# curl and jq, for the README's walkthrough; docker-compose, to check docker-compose.yml.
tools:
	bash $(SCRIPTS)/ensure-tools.sh

run: install rabbitmq tools
	$(VENV_BIN)/coord db upgrade
	@printf '%s\n' "$$RUN_HINT"
	exec $(VENV_BIN)/coord up

sms-demo: install rabbitmq kannel tools
	bash $(SCRIPTS)/sms-demo.sh

test: test-fast
	$(VENV_BIN)/pytest -n $(E2E_WORKERS) --dist loadfile -m "e2e and not broker_restart and not faults" $(PYTEST_ARGS) $(PYTEST_OK)
	$(VENV_BIN)/pytest -m "e2e and broker_restart" $(PYTEST_ARGS) $(PYTEST_OK)

# Lint first: a type error fails in seconds, before the broker and the database start.
test-fast: install lint infra
	$(VENV_BIN)/pytest -n $(PYTEST_WORKERS) -m "not e2e" $(PYTEST_ARGS) $(PYTEST_OK)

# The fault suite (docs/deploy.md, "Faults"): a 3-node RabbitMQ cluster of its own
# (deploy/scripts/rabbitmq-cluster.sh, as root), PostgreSQL, two replicas of each service,
# one fault at a time under load; writes fault-table.md.
test-faults: install infra
	$(VENV_BIN)/pytest -m faults -s $(PYTEST_ARGS) $(PYTEST_OK)

bench: install infra
	$(VENV_BIN)/python -m bench $(BENCH_ARGS)

lint: install
	$(VENV_BIN)/ruff check .
	$(VENV_BIN)/ruff format --check .
	$(VENV_BIN)/mypy

fmt: install
	$(VENV_BIN)/ruff check --fix .
	$(VENV_BIN)/ruff format .

# The board's catalogues: every string of its templates and modules into the template
# (messages.pot), then into each language's .po, keeping what is translated. A test fails
# while a French string is missing (tests/unit/ingest/board/test_catalogues.py).
BOARD_LOCALE := services/ingest/board/locale
messages: install
	$(VENV_BIN)/pybabel extract -F babel.cfg -k _ --no-location --omit-header --sort-output \
		-o $(BOARD_LOCALE)/messages.pot .
	$(VENV_BIN)/pybabel update -i $(BOARD_LOCALE)/messages.pot -d $(BOARD_LOCALE) -D messages \
		--omit-header --no-fuzzy-matching --ignore-obsolete
