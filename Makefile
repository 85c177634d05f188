# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint services bench clean install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(STAMP)

install: $(STAMP)

## The whole pipeline on the bundled sample company: SQLite store, in-process, no credentials.
demo: $(STAMP)
	$(BIN)/stepwise demo

## Dev dependencies, the local services (Redis, PostgreSQL), ruff, the layering contracts (.importlinter), then the full suite.
test: $(DEV_STAMP) services
	$(BIN)/ruff check stepwise tests bench
	$(BIN)/lint-imports
	@bash scripts/ensure-chromium.sh
	bash scripts/test-lwc.sh
	bash scripts/test-hubspot-card.sh
	$(BIN)/python -m pytest

services:
	@bash scripts/ensure-services.sh

lint: $(DEV_STAMP)
	$(BIN)/ruff check stepwise tests bench
	$(BIN)/lint-imports

## Every benchmark (≈ 15 minutes on 2 cores); figures go to BENCHMARKS.md.
bench: $(DEV_STAMP)
	$(BIN)/python bench/engine_throughput.py --accounts 2000 20000 --repeat 3
	$(BIN)/python bench/vectorisation.py --accounts 2000 --repeat 3
	@command -v wrk >/dev/null || apt-get install -y wrk >/dev/null 2>&1 || echo "wrk not installable: skipping the card bench"
	@if command -v wrk >/dev/null; then $(BIN)/python bench/card_service.py --recommendations 100000 --seconds 15; fi
	$(BIN)/python bench/crm_calls.py --sizes 10000 100000
	$(BIN)/python bench/workers.py --deals 100000 --workers 1 2 4

clean:
	rm -rf $(VENV) stepwise.db sample-data .pytest_cache .ruff_cache .hypothesis \
		cards/salesforce/node_modules cards/hubspot/node_modules
