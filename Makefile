# adoscale: every target bootstraps what it needs; `make test` is what CI runs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
NODE_STAMP := node_modules/.installed

.DEFAULT_GOAL := help
.PHONY: help install lint test test-fast bench demo agent-image clean

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

install: $(STAMP) $(NODE_STAMP) ## create .venv and install everything

lint: install ## ruff, shellcheck, hadolint, asl-validator
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint ## lint, then every test
	$(BIN)/pytest -n 2

bench: install ## benchmarks; figures land in bench/results/
	$(BIN)/python -m bench

demo: install ## the local end-to-end mode against moto and a simulated Azure DevOps
	$(BIN)/adoscale local

agent-image: install ## build the agent image (PUSH=1 also pushes to the stack's ECR)
	./agent/build.sh

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache .hypothesis
