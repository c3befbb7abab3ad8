# Every target installs what it needs into .venv first (idempotent, stamp files).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
CURATE := $(VENV)/bin/curate

.PHONY: install install-all models browser demo test bench lint clean

$(VENV)/.stamp-core: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e ".[dev]"
	touch $@

$(VENV)/.stamp-all: pyproject.toml $(VENV)/.stamp-core
	$(PIP) install --quiet -e ".[dev,audio]"
	touch $@

install: $(VENV)/.stamp-core
install-all: $(VENV)/.stamp-all

models: $(VENV)/.stamp-core
	$(PY) -m curate.models install

demo: install models
	$(CURATE) demo --output demo-output

# headless Chromium for the report page test (Debian package; the test skips without it)
browser:
	-@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "chromium not installed: the report page test will skip"

test: install-all models browser
	$(PY) -m pytest -q

bench: install-all models
	$(PY) -m bench.run_all

lint: install
	$(VENV)/bin/ruff check curate tests bench classifiers pipelines
	$(VENV)/bin/ruff format --check curate tests bench

clean:
	rm -rf demo-output build .pytest_cache
