# Two commands do everything on a fresh machine:
#   make run    install on first use, then serve the app on http://localhost:8501
#   make test   install on first use (Chromium too, when missing), then run every test
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Stamps change when the dependencies do, so an edited pyproject.toml reinstalls.
DEPS := pyproject.toml requirements.lock
APP_STAMP := $(VENV)/.app-installed
TEST_STAMP := $(VENV)/.test-installed

.PHONY: run test lint bench chromium redis clean

run: $(APP_STAMP)
	$(PY) -m streamlit run app/main.py

test: $(TEST_STAMP) chromium redis
	$(PY) -m pytest

lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

bench: $(TEST_STAMP) chromium
	$(PY) bench/forward.py
	$(PY) bench/app_latency.py
	$(PY) bench/projections.py
	$(PY) bench/train.py

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

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache test-artifacts
