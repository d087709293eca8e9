# Two commands: `make run` serves the archive locally with simulated traffic,
# `make test` runs the test suite. Both build the virtualenv on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench

$(VENV)/installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: $(VENV)/installed
	$(BIN)/python dev.py

test: $(VENV)/installed
	$(BIN)/python -m pytest

lint: $(VENV)/installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(VENV)/installed
	bash bench/install
	$(BIN)/python -m bench.run $(BENCH_ARGS)
