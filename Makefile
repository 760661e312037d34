# The two commands of the README (`make run`, `make test`) do all the set-up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
PORT   ?= 8000

.PHONY: install run test lint format bench clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Flowlane needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/flowlane dev --port $(PORT)

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/python benchmarks/cold_start.py
	$(BIN)/python benchmarks/node_runner.py
	$(BIN)/python benchmarks/validate.py
	$(BIN)/python benchmarks/compile.py
	$(BIN)/python benchmarks/triggers.py
	$(BIN)/python benchmarks/agent.py
	$(BIN)/python benchmarks/agent_cold_start.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
