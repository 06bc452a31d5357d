# Short, idempotent targets: running any of them twice is fine.
#   make run    install, migrate, seed demo data, start web + worker + beat (http://127.0.0.1:8000)
#   make test   install, lint, then the whole test suite
#   make lint   ruff check, ruff format --check, mypy
#   make fmt    ruff --fix and ruff format
#   make clean  remove caches and build output (keeps .venv, node_modules and var/)
#   make distclean  also remove .venv, node_modules and var/ (the local database)
#   make fuzz   fuzz the API with schemathesis against a real server (fuzz/run.py)
#   make bench-web  load benchmark: gunicorn + PostgreSQL driven by wrk (bench/web/run.py)

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Stamps: install work is redone only when the file it was done from changes.
PY_STAMP := $(VENV)/.installed-pyproject
NODE_STAMP := node_modules/.installed-package-lock

# The Procfile's commands (python, celery) come from the venv.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: help install run test lint fmt clean distclean browser fuzz bench-web

help:
	@sed -n 's/^#   //p' Makefile

install: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check ".[dev,bench]"
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

run: install
	mkdir -p var
	DEBUG=1 $(BIN)/python manage.py migrate --noinput
	DEBUG=1 $(BIN)/python manage.py seed_demo
	DEBUG=1 $(BIN)/honcho start --procfile Procfile

# Browser tests drive Debian's /usr/bin/chromium; on a machine without it,
# fall back to Playwright's own download (needs internet).
browser: install
	@$(BIN)/python -c 'import shutil, sys; sys.exit(0 if shutil.which("chromium") else 1)' \
		|| $(BIN)/playwright install chromium

test: install browser lint
	$(BIN)/pytest

# schemathesis in its own fuzz/.venv, against gunicorn on a throwaway database (docs/testing.md).
# FUZZ_MAX_EXAMPLES=100 make fuzz  for a longer run than CI's 25 per operation.
fuzz: install
	$(BIN)/python fuzz/run.py

# Needs PostgreSQL (DATABASE_URL or BENCH_WEB_DATABASE_URL) and wrk (apt-get install -y wrk);
# not part of CI: a benchmark, judged on a quiet machine (docs/benchmarks.md).
# make bench-web ARGS="--duration 30 --markdown"
bench-web: install
	$(BIN)/python bench/web/run.py $(ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

fmt: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf build *.egg-info .mypy_cache .ruff_cache .pytest_cache test-results var/static
	find . -path ./$(VENV) -prune -o -path ./node_modules -prune -o -name __pycache__ -type d -print \
		| xargs rm -rf

# Everything `make install` and `make run` made, including the local database and outbox.
distclean: clean
	rm -rf $(VENV) fuzz/.venv node_modules var
