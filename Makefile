# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# What the suite runs besides Python: Debian's Chromium (the admin's browser tests, driven by
# Playwright, never a downloaded browser) and curl (the source documents' commands).
TOOLS := /usr/bin/chromium:chromium /usr/bin/curl:curl

.PHONY: run test test-postgres lint bench screenshots fuzz clean system-packages

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "make: $(PYTHON) is missing: run  apt-get install -y python3.11 python3.11-venv" >&2; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

## run: install, migrate, create the super tenant (and demo data), serve https://localhost:9443
run: $(STAMP)
	$(PY) manage.py checkdeployment
	$(PY) manage.py migrate --noinput
	$(PY) manage.py bootstrap
	$(PY) -m identity.server

## test: the whole suite on every core, with coverage (SQLite; TEST_DATABASE_URL=postgresql://... for PostgreSQL)
TEST_WORKERS ?= auto
test: system-packages $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --cov --cov-report=term $(PYTEST_ARGS)

# Install the missing TOOLS with apt-get when we are root; else stop at once, naming the command.
system-packages:
	@missing=""; for tool in $(TOOLS); do test -x "$${tool%%:*}" || missing="$$missing $${tool##*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "make: installing$$missing with apt-get"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends$$missing >/dev/null || exit 1; \
	  else \
	    echo "make: the tests need$$missing: run  sudo apt-get update && sudo apt-get install -y$$missing" >&2; exit 1; \
	  fi; \
	fi

## lint: ruff, the layers (import-linter), types (mypy), and migrations that match the models
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	$(PY) manage.py makemigrations --check --dry-run

## screenshots: the admin's browser tests, saving docs/img/admin-*.png (pictures of docs/admin.md)
screenshots: $(STAMP)
	SCREENSHOTS=1 $(PY) -m pytest tests/test_admin_browser.py $(PYTEST_ARGS)

## fuzz: the long schemathesis run over the OpenAPI description (>= 10,000 requests), on SQLite then PostgreSQL
FUZZ_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/identity_fuzz
FUZZ := FUZZ_EXAMPLES=300 FUZZ_MIN_REQUESTS=10000 $(PY) -m pytest tests/test_fuzz.py -rP -p no:cacheprovider
fuzz: $(STAMP)
	$(FUZZ) $(PYTEST_ARGS)
	TEST_DATABASE_URL=$(FUZZ_DATABASE_URL) $(FUZZ) $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) var .pytest_cache
