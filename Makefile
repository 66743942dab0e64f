# curriculum-insights: the single entry point for people and CI. `make help` lists the targets.
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_SEED ?= 20210421

.DEFAULT_GOAL := help
.PHONY: help install build test test-fast lint format bench demo-data services screenshots clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): requirements.txt pyproject.toml package.json
	@echo "-> installing Python packages into $(VENV)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@echo "-> installing JavaScript assets (reveal.js, vega) into node_modules"
	npm ci --no-audit --no-fund --silent
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "curriculum-insights" >/dev/null
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install everything the build needs (automatic on first use)

build: $(STAMP) ## build everything from the embedded demo data: snapshot, findings.json, _site/, slide, email
	$(BIN)/curriculum-insights build --demo

test: $(STAMP) services ## run every test tier (installs and starts MariaDB and Chromium when missing)
	$(BIN)/python -m pytest

test-fast: $(STAMP) ## unit and golden tests only (no MariaDB, browser or full render)
	$(BIN)/python -m pytest -m "not mysql and not browser and not render and not slow"

screenshots: $(STAMP) ## PNGs of every page at 1280 and 390 px (and the rendered slide) in _build/screenshots/
	@test -f _site/index.html || $(BIN)/curriculum-insights build --demo
	$(BIN)/python tests/test_browser.py --site _site --out _build/screenshots

services: ## install/start what the integration tests need: MariaDB server, Chromium, LibreOffice, poppler
	bash .ci/services.sh

lint: $(STAMP) ## ruff check and format check
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

format: $(STAMP) ## ruff format and autofix
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: $(STAMP) ## benchmarks at 1x, 10x, 50x with the pandas baseline (slow; not part of test)
	$(BIN)/python -m pip install --quiet -r bench/requirements.txt
	$(BIN)/python bench/run.py

demo-data: $(STAMP) ## regenerate the embedded demo dataset in data/demo (deterministic)
	$(BIN)/curriculum-insights simulate --seed $(DEMO_SEED) --scale 1 --out data/demo

clean: ## remove build outputs (not the venv)
	rm -rf _site _build data/snapshot .pytest_cache
