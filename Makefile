# Two commands do everything on a fresh machine:
#   make run    install on first use, then serve the app on http://localhost:8501
#   make test   install on first use (Chromium too, when missing), then run every test
#   make classroom  REPLICAS app servers (default: one per core), Redis and HAProxy on PORT
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Stamps change when the dependencies do, so an edited pyproject.toml reinstalls.
DEPS := pyproject.toml requirements.lock
APP_STAMP := $(VENV)/.app-installed
TEST_STAMP := $(VENV)/.test-installed

REPLICAS ?= $(shell nproc 2>/dev/null || echo 2)
PORT ?= 8080
HOST ?= 127.0.0.1

.PHONY: run test lint bench bench-classroom classroom chromium redis haproxy clean

run: $(APP_STAMP)
	$(PY) -m streamlit run app/main.py

test: $(TEST_STAMP) chromium redis haproxy
	$(PY) -m pytest

lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

bench: $(TEST_STAMP) chromium
	$(PY) bench/forward.py
	$(PY) bench/app_latency.py
	$(PY) bench/projections.py
	$(PY) bench/train.py

# Class rooms for a lecture hall: REPLICAS app servers, Redis and HAProxy in front on PORT
# (HOST=0.0.0.0 to serve the network, not only this machine); Ctrl-C stops them all.
classroom: $(APP_STAMP) redis haproxy
	$(PY) -m deploy.stack --replicas $(REPLICAS) --port $(PORT) --host $(HOST)

# 300 simulated students (Locust) against 1, 2 and 4 replicas behind HAProxy
bench-classroom: $(VENV)/bin/python redis haproxy
	$(PY) -m pip install --quiet -c requirements.lock -e '.[test,bench]'
	$(PY) bench/classroom.py

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# requirements.lock pins every transitive package to the versions the tests ran with.
$(APP_STAMP): $(DEPS) | $(VENV)/bin/python
	$(PY) -m pip install --quiet -c requirements.lock -e .
	touch $@

$(TEST_STAMP): $(DEPS) | $(VENV)/bin/python
	$(PY) -m pip install --quiet -c requirements.lock -e '.[test]'
	touch $@ $(APP_STAMP)

# Browser tests drive Debian's Chromium; Playwright cannot download its own browser here.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# The class-room tests run every store test against a real Redis too (started on a free port).
redis:
	@command -v redis-server >/dev/null 2>&1 || { \
		echo "Installing Debian's redis-server for the class-room tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; }

# The load balancer of `make classroom` and its tests
haproxy:
	@command -v haproxy >/dev/null 2>&1 || test -x /usr/sbin/haproxy || { \
		echo "Installing Debian's haproxy for make classroom and its tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy; }

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache test-artifacts
