# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MXVENV := .venv-mxnet
MXSTAMP := $(MXVENV)/.installed
PIP_QUIET := --quiet --disable-pip-version-check
# `make test-matrix`: one scratch environment per stack of requirements/matrix-<stack>.txt, and
# the test groups each runs (besides `python -m diffqr check`); see docs/compatibility.md.
MATRIX_STACKS := oldest np20
MATRIX_GROUPS_oldest := core jax tensorflow dask distributed conformance-numpy conformance-jax \
	conformance-autograd
MATRIX_GROUPS_np20 := core jax conformance-numpy conformance-torch conformance-tensorflow \
	conformance-dask conformance-array_api

.PHONY: demo test test-mxnet test-matrix $(MATRIX_STACKS:%=test-matrix-%) check bench lint docs \
	clean

$(STAMP): pyproject.toml requirements/test.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install $(PIP_QUIET) -r requirements/test.txt
	$(BIN)/python -m pip install $(PIP_QUIET) --no-deps -e .
	touch $@

$(MXSTAMP): pyproject.toml requirements/mxnet.txt
	test -x $(MXVENV)/bin/python || $(PYTHON) -m venv $(MXVENV)
	$(MXVENV)/bin/python -m pip install $(PIP_QUIET) -r requirements/mxnet.txt
	$(MXVENV)/bin/python -m pip install $(PIP_QUIET) --no-deps -e .
	touch $@

.venv-matrix-%/.installed: pyproject.toml requirements/matrix-%.txt
	test -x .venv-matrix-$*/bin/python || $(PYTHON) -m venv .venv-matrix-$*
	.venv-matrix-$*/bin/python -m pip install $(PIP_QUIET) -r requirements/matrix-$*.txt
	.venv-matrix-$*/bin/python -m pip install $(PIP_QUIET) --no-deps -e .
	touch $@

## demo: the main job — every capability on every installed framework vs finite differences
demo: $(STAMP)
	$(BIN)/python -m diffqr check

## test: the whole suite, one pytest process per framework group (torch and TF can clash)
test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python tests/run_groups.py

## test-mxnet: the MXNet tests in their own environment (numpy 1.23.5)
test-mxnet: $(MXSTAMP)
	$(MXVENV)/bin/python tests/run_groups.py mxnet conformance-mxnet

## test-matrix: the check and the test groups on the oldest and the numpy-2.0 stacks
test-matrix: $(MATRIX_STACKS:%=test-matrix-%)

$(MATRIX_STACKS:%=test-matrix-%): test-matrix-%: .venv-matrix-%/.installed
	.venv-matrix-$*/bin/python -m diffqr check
	.venv-matrix-$*/bin/python tests/run_groups.py $(MATRIX_GROUPS_$*)

check: demo

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_qr.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

## docs: docs/capabilities.md from `python -m diffqr check --json`, then the site (site/)
docs: $(STAMP) requirements/docs.txt
	$(BIN)/python -m pip install $(PIP_QUIET) -r requirements/docs.txt
	$(BIN)/python docs/gen_capabilities.py
	$(BIN)/python -m mkdocs build --strict

clean:
	rm -rf $(VENV) $(MXVENV) $(MATRIX_STACKS:%=.venv-matrix-%) .pytest_cache .ruff_cache
