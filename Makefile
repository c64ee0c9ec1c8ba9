# make run   execute every notebook (real settings) into build/notebooks/ and print a summary
# make test  lint + unit tests + every notebook under nbval in smoke mode
# make bench print pipeline/training throughput and the nbval suite's wall time
# make lab   open JupyterLab on notebooks/
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NOTEBOOKS := $(sorted $(wildcard notebooks/[0-9][0-9]_*.ipynb))

.PHONY: run test unit nbval lint lab clean install bench

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==25.3"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m seglib.runner --out build/notebooks $(NOTEBOOKS)

# make test: the synthetic source when SEGLIB_DATA is unset, so it passes with no data and no network.
test: export SEGLIB_DATA ?= synthetic
test: lint unit nbval

unit: $(STAMP)
	$(BIN)/python -m pytest tests

nbval: $(STAMP)
	cd notebooks && SEGLIB_SMOKE=1 ../$(BIN)/python -m pytest --nbval-lax -p no:cacheprovider $(notdir $(NOTEBOOKS))

lint: $(STAMP)
	$(BIN)/ruff check seglib tests benchmarks
	$(BIN)/ruff format --check seglib tests benchmarks
	$(BIN)/nbqa ruff notebooks
	$(BIN)/nbqa "ruff format --check" notebooks

# Input pipeline and training throughput, and the smoke nbval suite's wall time (minutes).
bench: $(STAMP)
	$(BIN)/python -m benchmarks

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks

clean:
	rm -rf build notebooks/runs .pytest_cache .ruff_cache
	find . -name __pycache__ -prune -exec rm -rf {} +
