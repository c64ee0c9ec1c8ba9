# make run          execute every notebook (real settings) into build/notebooks/ and print a summary
#                   (a subset: make run NOTEBOOKS="notebooks/01_data_exploration.ipynb")
# make test         lint + unit tests + every notebook under nbval in smoke mode + browser tests
# make test-browser JupyterLab in Chromium: click the widgets of 06 and 07 (smoke mode), and the
#                   course website built from smoke runs: pages, links, alt text, search
# make student      student copies in build/student/: every notebook without its solutions and
#                   our-run figures (cells tagged solution / our-run), runnable as is
# make site         build the course website into build/site/ from what make run wrote
# make hooks        install the pre-commit hooks (nbstripout, ruff) into this clone's .git
# make bench        print pipeline/training throughput and the nbval suite's wall time
# make lab          open JupyterLab on notebooks/
# make colab-links REPO=owner/name REF=tag   point every Colab badge and install cell there
# make check-python resolve the pinned packages under every Python version we claim
# make test-colab   Colab's own packages (.ci/colab-constraints.txt) in .venv-colab/ with Colab's
#                   Python, seglib installed as the notebooks' setup cell does: TFDS and data
#                   tests, every notebook under nbval in smoke mode (skips, saying so, without
#                   that Python)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NOTEBOOKS ?= $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))

# The notebooks run with notebooks/ as working directory: a path given relative to here
# (SEGLIB_DATA=../shared/...) is made absolute first. Words like tfds or synthetic stay as they are.
to_abs = $(if $(wildcard $(1)),$(abspath $(1)),$(1))
ifneq ($(strip $(SEGLIB_DATA)),)
export SEGLIB_DATA := $(call to_abs,$(strip $(SEGLIB_DATA)))
endif
ifneq ($(strip $(SEGLIB_ENCODER_WEIGHTS)),)
export SEGLIB_ENCODER_WEIGHTS := $(call to_abs,$(strip $(SEGLIB_ENCODER_WEIGHTS)))
endif
ifneq ($(strip $(SEGLIB_EXAMPLE_IMAGE)),)
export SEGLIB_EXAMPLE_IMAGE := $(call to_abs,$(strip $(SEGLIB_EXAMPLE_IMAGE)))
endif

.PHONY: run test unit nbval test-browser lint lab clean install bench colab-links check-python \
	site hooks test-colab student

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
test: lint unit nbval test-browser

unit: $(STAMP)
	$(BIN)/python -m pytest tests --ignore=tests/browser

nbval: $(STAMP)
	cd notebooks && SEGLIB_SMOKE=1 SEGLIB_PROGRESS=0 ../$(BIN)/python -m pytest --nbval-lax -p no:cacheprovider $(notdir $(NOTEBOOKS))

test-browser: $(STAMP)
	SEGLIB_SMOKE=1 $(BIN)/python -m pytest tests/browser -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/lint-imports --no-cache --no-logo
	$(BIN)/python -m seglib.course check $(NOTEBOOKS)
	$(BIN)/ruff check seglib tests benchmarks .ci site
	$(BIN)/ruff format --check seglib tests benchmarks .ci site
	$(BIN)/nbqa ruff notebooks
	$(BIN)/nbqa "ruff format --check" notebooks

# The course website from the executed notebooks in build/notebooks/ (those without an
# executed copy appear from their source, with a warning); nothing is executed here.
site: $(STAMP)
	$(BIN)/python site/build_site.py --executed build/notebooks --out build/site

# Student copies: nbconvert's TagRemovePreprocessor drops the cells tagged solution and our-run.
student: $(STAMP)
	$(BIN)/python -m seglib.course student --out build/student $(NOTEBOOKS)

# Strip outputs and run ruff on every commit (see .pre-commit-config.yaml).
hooks: $(STAMP)
	$(BIN)/pre-commit install

# Input pipeline and training throughput, and the smoke nbval suite's wall time (minutes).
bench: $(STAMP)
	$(BIN)/python -m benchmarks

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks

colab-links: $(STAMP)
	$(BIN)/python .ci/colab_links.py --repo "$(REPO)" --ref "$(REF)"

check-python:
	$(PYTHON) .ci/check_python_versions.py

# No $(STAMP): it builds its own virtualenv, .venv-colab/, from Colab's constraints.
test-colab:
	$(PYTHON) .ci/colab_check.py

clean:
	rm -rf build notebooks/runs .pytest_cache .ruff_cache
	find . \( -path ./$(VENV) -o -path ./.venv-colab \) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
