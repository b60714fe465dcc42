# adoscale: every target bootstraps what it needs; `make test` is what CI runs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
NODE_STAMP := node_modules/.installed
LAMBDA_DEPS := build/lambda-deps

.DEFAULT_GOAL := help
.PHONY: help install lint typecheck test unit test-fast bench demo agent-image clean
.PHONY: lambda-deps

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	@touch $@

# The Lambda archive's third-party libraries, for python3.12 on arm64: installed here, at
# install time, so that building the archive (and every test) needs no network.
$(LAMBDA_DEPS)/.installed: requirements/lambda.txt | $(BIN)/python
	rm -rf $(LAMBDA_DEPS) $(LAMBDA_DEPS).tmp
	$(BIN)/python -m pip install --quiet --no-deps --target $(LAMBDA_DEPS).tmp \
		--platform manylinux2014_aarch64 --python-version 3.12 --implementation cp \
		--only-binary=:all: -r requirements/lambda.txt
	mv $(LAMBDA_DEPS).tmp $(LAMBDA_DEPS)
	@touch $@

lambda-deps: $(LAMBDA_DEPS)/.installed ## the Lambda archive's pinned libraries (python3.12 arm64)

install: $(STAMP) $(NODE_STAMP) $(LAMBDA_DEPS)/.installed ## create .venv and install everything

lint: install ## ruff, mypy, shellcheck, hadolint, asl-validator
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/shellcheck --severity=style agent/*.sh
	$(BIN)/hadolint --failure-threshold warning agent/Dockerfile
	@mkdir -p build
	$(BIN)/python -m adoscale.workflow.definition --out build/state-machine.json
	npx --no-install asl-validator --json-path build/state-machine.json

test: lint ## lint, then every test
	$(BIN)/pytest -n 2

unit: install ## the unit tests only (pure, no I/O): seconds, no lint
	$(BIN)/pytest -n 2 tests/unit

test-fast: install ## every test but the end-to-end ones, no lint
	$(BIN)/pytest -n 2 --ignore=tests/e2e

typecheck: install ## mypy alone (strict on the core and the adapters; part of lint)
	$(BIN)/mypy

bench: install ## benchmarks; figures land in bench/results/
	$(BIN)/python -m bench

demo: install ## the local end-to-end mode against moto and a simulated Azure DevOps
	$(BIN)/adoscale local

agent-image: install ## build the agent image (PUSH=1 also pushes to the stack's ECR)
	./agent/build.sh

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache .hypothesis
	rm -rf $(LAMBDA_DEPS) build/lambda
