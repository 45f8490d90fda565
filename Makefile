# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The deployment's folder: the sample export, warehouse, reports, exports, backups and the
# Dagster home all lie in it (CRM_QUALITY_HOME=/srv/crm make run for a second deployment).
export CRM_QUALITY_HOME ?= data
SAMPLE := $(CRM_QUALITY_HOME)/sample
SAMPLE_CONTACTS ?= 2000
export DAGSTER_HOME := $(abspath $(CRM_QUALITY_HOME))/dagster

SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: run test ui bench install sample clean chromium postgresql

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Data Docs' styles, scripts and fonts come from the npm registry once, so the pages work offline.
$(VENV)/.installed: pyproject.toml crm_quality/validate/data_docs.py | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/crm-quality data-docs-assets
	touch $@

install: $(VENV)/.installed

$(SAMPLE)/contacts.csv: $(wildcard crm_quality/sample/*.py) | install
	$(BIN)/crm-quality generate --out $(SAMPLE) --contacts $(SAMPLE_CONTACTS) --seed 42

sample: $(SAMPLE)/contacts.csv

run: install sample
	$(BIN)/crm-quality run --source $(SAMPLE)

# The report test renders the page in Debian's headless Chromium.
chromium:
	@command -v chromium >/dev/null || $(SUDO) apt-get install -y --no-install-recommends chromium \
		|| ($(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends chromium)

# The database-source tests start their own PostgreSQL server from Debian's binaries.
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || $(SUDO) apt-get install -y --no-install-recommends postgresql \
		|| ($(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends postgresql)

# The suite is mostly whole pipeline runs, each one Python process busy on Dagster's bookkeeping:
# one worker per core, each taking whole test modules so that a module's shared runs happen once,
# the heavy modules first (as collected: conftest.py), so that the workers end together.
test: install sample chromium postgresql
	$(BIN)/python -m pytest -n auto --dist loadscope --no-loadscope-reorder

ui: install sample
	$(BIN)/python -c "from pathlib import Path; from crm_quality.defs.lifecycle import prepare_home; prepare_home(Path('$(DAGSTER_HOME)'))"
	$(BIN)/dagster dev -w workspace.yaml

$(VENV)/.bench-installed: pyproject.toml | install
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $@

bench: install $(VENV)/.bench-installed
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) $(SAMPLE) $(CRM_QUALITY_HOME)/warehouse.duckdb $(CRM_QUALITY_HOME)/warehouse.duckdb.wal \
		$(CRM_QUALITY_HOME)/reports
