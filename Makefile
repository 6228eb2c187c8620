# Tidings: the two commands are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check bench install chromium spamassassin clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## demo: install, migrate the embedded SQLite database, load demo data, serve with the mail catcher
demo: $(STAMP)
	$(BIN)/tidings demo

## check: ruff (lint + format) and mypy (strict on src/, also over tests/ and bench/)
check: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

## test: checks, then the whole suite on SQLite and PostgreSQL (and Redis for the queue),
## with a coverage report that fails below the floor in pyproject.toml
test: $(STAMP) chromium spamassassin check
	$(BIN)/pytest --cov=tidings --cov-report=term:skip-covered

## bench: the benchmarks under bench/ (see bench/README.md)
bench: $(STAMP)
	$(BIN)/python -m bench.run_all

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser tests"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# SpamAssassin scores messages in the tests, with network tests off (-L).
spamassassin:
	@command -v spamassassin >/dev/null 2>&1 || { \
		echo "Installing Debian's spamassassin for the message quality tests"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq spamassassin >/dev/null; }
	@spamassassin --version | head -1

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
