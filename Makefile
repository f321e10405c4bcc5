# The two commands a newcomer runs: `make demo` and `make test`. Everything they need is
# installed or built here (Python packages into .venv, Go-built tools into ~/.cache).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TESTBED := tests/testbed/testbed
STAMP := $(VENV)/.installed

.PHONY: help venv deps build test test-unit test-cluster test-e2e lint typecheck \
        testbed-up testbed-down testbed-status demo demo-down bench clean

help:
	@echo "make demo        run the quickstart stack (local testbed unless a cluster is configured)"
	@echo "make demo-down   destroy the quickstart stack"
	@echo "make test        lint, type-check and run every test (builds the testbed on first use)"
	@echo "make test-unit   only the tests that need no cluster"
	@echo "make build       build the testbed's tools (Kubernetes, etcd, kwok, metrics-server, Pulumi)"
	@echo "make testbed-up / testbed-down / testbed-status"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

venv: $(STAMP)

# The password-rotation test runs a real PostgreSQL server from Debian's package.
deps:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  echo "installing Debian's postgresql (for the password-rotation test)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi

build: venv
	$(BIN)/python $(TESTBED) build

lint: venv
	$(BIN)/ruff check provider sdk tests benchmarks examples
	$(BIN)/ruff format --check provider sdk tests benchmarks examples
	$(BIN)/lint-imports --no-cache

typecheck: venv
	$(BIN)/mypy

test-unit: venv deps
	$(BIN)/pytest -m "not cluster and not e2e"

test: venv deps build lint typecheck
	$(BIN)/pytest

testbed-up: build
	@$(BIN)/python $(TESTBED) up

testbed-down: venv
	@$(BIN)/python $(TESTBED) down

testbed-status: venv
	@$(BIN)/python $(TESTBED) status

demo: build
	$(BIN)/python -m examples.demo up

demo-down: venv
	$(BIN)/python -m examples.demo down

bench: build
	$(BIN)/python benchmarks/provision.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
