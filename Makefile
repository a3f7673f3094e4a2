# tanhui — two commands: `make demo` and `make test` (see README.md).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# Debian's own python3: its sqlite3 can load extensions (mod_spatialite); pyenv builds cannot.
SYSTEM_PYTHON := /usr/bin/python3
# fonts-wqy-zenhei: the Chinese font of certificate PDFs (and of pages in headless Chromium)
# fonts-noto-cjk, libpango-1.0-0, libpangoft2-1.0-0, libharfbuzz-subset0: WeasyPrint's PDF of the
# project documents (Noto Sans CJK SC; without harfbuzz-subset fonts are subset slowly in Python)
SYSTEM_PACKAGES := python3 python3-venv libsqlite3-mod-spatialite gdal-bin ca-certificates fonts-wqy-zenhei fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0
# chromium: the browser tests drive Debian's Chromium with Playwright (no browser download)
# poppler-utils: the certificate tests read their PDFs back (pdftotext) and render them (pdftoppm);
# the privacy test reads every PDF a public page offers as its text
# libreoffice-calc-nogui: the workbook tests recalculate the verifier's .xlsx headless (soffice)
TEST_SYSTEM_PACKAGES := postgresql-15 postgresql-15-postgis-3 postgresql-15-postgis-3-scripts chromium poppler-utils libreoffice-calc-nogui

.PHONY: demo test check setup setup-test system-deps test-system-deps lint typecheck pytest bench clean

demo: setup
	$(VENV)/bin/tanhui demo --workdir demo_output

test: setup-test lint typecheck pytest

# the quick loop: lint and types only (no apt, no databases); needs the .venv of make test
check:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy methodologies gis_data registry api

system-deps:
	@scripts/apt-install.sh $(SYSTEM_PACKAGES)

test-system-deps: system-deps
	@scripts/apt-install.sh $(TEST_SYSTEM_PACKAGES)

$(VENV)/.created:
	$(SYSTEM_PYTHON) -m venv $(VENV)
	$(PY) -c "import sqlite3; assert hasattr(sqlite3.connect(':memory:'), 'enable_load_extension'), 'this python cannot load SQLite extensions'"
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	touch $@

$(VENV)/.installed: $(VENV)/.created pyproject.toml
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install -q -e ".[test]"
	touch $@

# MapLibre GL JS and the PMTiles reader, from the npm registry (package-lock.json), served from
# our own static folder: no page fetches anything from elsewhere at run time
node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || scripts/apt-install.sh nodejs npm
	npm ci --no-audit --no-fund --omit=dev --loglevel=error
	touch $@

setup: system-deps $(VENV)/.installed node_modules/.installed

setup-test: test-system-deps $(VENV)/.installed-test node_modules/.installed

lint: setup-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup-test
	$(VENV)/bin/mypy methodologies gis_data registry api

pytest: setup-test
	$(VENV)/bin/pytest -q

bench: setup-test
	@scripts/apt-install.sh wrk
	$(PY) bench/import/run.py
	$(PY) bench/model/run.py
	$(PY) bench/ledger/run.py
	$(PY) bench/ledger/batch.py
	$(PY) bench/api/run.py
	$(PY) bench/web/run.py
	$(PY) bench/web/run.py --load wrk
	$(PY) bench/docs/run.py
	$(PY) bench/zonal/run.py

clean:
	rm -rf $(VENV) node_modules demo_output import_reports *.sqlite build *.egg-info
