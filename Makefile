# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-postgres lint bench screenshots fuzz clean

$(STAMP): pyproject.toml
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

## test: the whole suite (SQLite; TEST_DATABASE_URL=postgresql://... for PostgreSQL)
test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

## lint: ruff, and migrations that match the models
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
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
