# heatsink-study: the two commands a newcomer needs are `make book` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The venv is (re)installed whenever pyproject.toml changes.
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)

.PHONY: venv book test study lint bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $@

## book: build the HTML book from the executed notebooks in the repo (executes nothing)
book: venv
	$(BIN)/jupyter-book build . --warningiserror --keep-going
	@echo "Book: $(CURDIR)/_build/html/index.html"

## test: lint, then the test suite (unit tests, notebook smoke runs, a book build), on two
## workers: the two smoke runs of the chapters (mostly one core each) run side by side
test: venv
	$(BIN)/ruff check heatsink tests bench notebooks
	$(BIN)/python -m pytest -n 2 --no-loadscope-reorder

## study: train what the training plan still lacks (resumable: hours on a CPU), then
## re-execute every notebook at full parameters (DATA=path for the real data); on the twin,
## then write the README's results table from results/twin
study: venv
	$(BIN)/heatsink study train $(if $(DATA),--data "$(DATA)")
	$(BIN)/heatsink study run $(if $(DATA),--data "$(DATA)")
	$(if $(DATA),,$(BIN)/heatsink study readme)

lint: venv
	$(BIN)/ruff check heatsink tests bench notebooks

## bench: print the benchmark figures (speed, memory) on this machine; the three comparisons
## of trained runs (bench/engine_agreement.py RUN, bench/paired_quality.py RUN_A RUN_B,
## bench/precise_bn.py RUN) take their runs as arguments and are run by hand
RUN_FREE_BENCHES := $(filter-out bench/engine_agreement.py bench/paired_quality.py bench/precise_bn.py,$(wildcard bench/*.py))
bench: venv
	for b in $(RUN_FREE_BENCHES); do $(BIN)/python "$$b" || exit 1; done

clean:
	rm -rf _build .pytest_cache .ruff_cache
