# The two commands: `make run` starts the whole product, `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test lint format demo check-deploy clean bench

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

# Labelsite's defaults are production's; `make run` and `make demo` ask for the development setup themselves
# (a value given on the command line or in the environment wins; `make run DEBUG=false` keeps sign-up closed).
DEBUG ?= true
LABELSITE_OPEN_SIGNUP ?= $(DEBUG)
LABELSITE_SIGNUP_ADMIN_ACCESS ?= $(DEBUG)
DEV = DEBUG=$(DEBUG) LABELSITE_OPEN_SIGNUP=$(LABELSITE_OPEN_SIGNUP) LABELSITE_SIGNUP_ADMIN_ACCESS=$(LABELSITE_SIGNUP_ADMIN_ACCESS)

run: $(VENV)/.runtime
	$(DEV) $(PY) manage.py migrate --noinput
	$(DEV) $(PY) manage.py demo
	$(DEV) $(PY) manage.py run

test: export LABELSITE_DATA_DIR ?= $(CURDIR)/data/test
test: $(VENV)/.dev
	$(PY) -m pytest $(PYTEST_ARGS)

# Everything CI checks besides the tests, configured in pyproject.toml: ruff's lint rules and format ([tool.ruff]),
# the import graph's one direction ([tool.importlinter]) and mypy with the Django and DRF plugins ([tool.mypy]).
lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

# Rewrites the code into the checked style: ruff's safe fixes (import order, unused imports, …), then the formatter.
# What no fix can repair is listed (and left for `make lint` to refuse).
format: $(VENV)/.dev
	$(VENV)/bin/ruff check --fix --exit-zero .
	$(VENV)/bin/ruff format .

demo: $(VENV)/.runtime
	$(DEV) $(PY) manage.py migrate --noinput
	$(DEV) $(PY) manage.py demo

# Production-like settings must pass Django's deployment checklist.
check-deploy: $(VENV)/.runtime
	DEBUG=false SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))') \
	ALLOWED_HOSTS=labels.example.com $(PY) manage.py check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV)

# Benchmarks on PostgreSQL (never SQLite): BENCH_SIZES="1000 1000000" for the million-task run.
BENCH_SIZES ?= 1000 10000 100000
BENCH_RUNS ?= 100
bench: $(VENV)/.runtime
	@test -n "$(DATABASE_URL)" || { echo "make bench needs DATABASE_URL=postgres://user@host:5432/<bench db> (PostgreSQL only)"; exit 2; }
	$(PY) bench/run.py --tasks $(BENCH_SIZES) --runs $(BENCH_RUNS)
