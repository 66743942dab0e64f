# curriculum-insights: the single entry point for people and CI. `make help` lists the targets.
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
# What is installed, one stamp per lock: runtime (the publishing runner), test (CI), bench.
RUNTIME_STAMP := $(VENV)/.installed-runtime
TEST_STAMP := $(VENV)/.installed-test
BENCH_STAMP := $(VENV)/.installed-bench
# Every Python package comes from a lock with hashes (requirements/*.txt, made by `make lock` from
# pyproject.toml): exact versions, wheels only, nothing unpinned or unhashed (not even the build backend).
PIP_LOCKED := $(BIN)/python -m pip install --quiet --require-hashes --only-binary :all: -r
DEMO_SEED ?= 20210421

.DEFAULT_GOAL := help
.PHONY: help install install-test build test test-fast lint typecheck format bench lock demo-data config-file services screenshots clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(RUNTIME_STAMP): requirements/runtime.txt pyproject.toml package.json package-lock.json
	@echo "-> installing the runtime lock into $(VENV)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_LOCKED) requirements/runtime.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@echo "-> installing JavaScript assets (reveal.js, vega) into node_modules"
	npm ci --no-audit --no-fund --silent
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "curriculum-insights" >/dev/null
	@touch $@

$(TEST_STAMP): $(RUNTIME_STAMP) requirements/test.txt
	@echo "-> installing the test lock (pytest, ruff, mypy, zizmor, ...) into $(VENV)"
	$(PIP_LOCKED) requirements/test.txt
	@touch $@

$(BENCH_STAMP): $(RUNTIME_STAMP) requirements/bench.txt
	$(PIP_LOCKED) requirements/bench.txt
	@touch $@

install: $(RUNTIME_STAMP) ## create .venv with what the build needs (runtime lock only: the publishing runner)

install-test: $(TEST_STAMP) ## add the test tools (test lock) to .venv (automatic for test, lint, typecheck)

build: $(RUNTIME_STAMP) ## build everything from the embedded demo data: snapshot, findings.json, _site/, slide, email
	$(BIN)/curriculum-insights build --demo

test: $(TEST_STAMP) services ## run every test tier (installs and starts MariaDB and Chromium when missing)
	$(BIN)/python -m pytest

test-fast: $(TEST_STAMP) ## unit and golden tests only (no MariaDB, browser or full render)
	$(BIN)/python -m pytest -m "not mysql and not browser and not render and not slow"

screenshots: $(TEST_STAMP) ## PNGs of every page at 1280 and 390 px (and the rendered slide) in _build/screenshots/
	@test -f _site/index.html || $(BIN)/curriculum-insights build --demo
	$(BIN)/python tests/test_browser.py --site _site --out _build/screenshots

services: ## install/start what the integration tests need: MariaDB server, Chromium, LibreOffice, poppler
	bash .ci/services.sh

lint: $(TEST_STAMP) ## ruff check and format check
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(TEST_STAMP) ## mypy over src/ (settings in pyproject.toml [tool.mypy])
	$(BIN)/mypy

format: $(TEST_STAMP) ## ruff format and autofix
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: $(BENCH_STAMP) ## benchmarks 1x, 10x (5 rounds), 50x (3) vs DuckDB, GoAccess, pandas (slow; BENCH_ARGS="--scales 1 --rounds 1=2" for a quick run)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

config-file: ## regenerate the commented curriculum-insights.toml from the settings declared in config.py
	$(BIN)/python -m analysis.config > curriculum-insights.toml

demo-data: $(RUNTIME_STAMP) ## regenerate the embedded demo dataset in data/demo (deterministic)
	$(BIN)/curriculum-insights simulate --seed $(DEMO_SEED) --scale 1 --out data/demo

lock: $(TEST_STAMP) ## re-resolve requirements/*.txt from pyproject.toml (keeps pins; UPGRADE=1 to upgrade)
	@for lock in runtime test bench; do \
	  groups="--group build"; [ $$lock = runtime ] || groups="$$groups --group $$lock"; \
	  $(BIN)/uv pip compile pyproject.toml $$groups --universal --python-version 3.11.7 \
	    --generate-hashes --no-header --quiet $(if $(UPGRADE),--upgrade) -o requirements/$$lock.txt || exit 1; \
	done

clean: ## remove build outputs (not the venv)
	rm -rf _site _build data/snapshot .pytest_cache
