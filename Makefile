# Everything a new user needs: `make demo` and `make test`, from a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test lint demo bench bench-large clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

demo: $(STAMP)
	$(BIN)/python sample_site/demo.py

bench: $(STAMP)
	$(BIN)/python -m benchmarks

bench-large: $(STAMP)
	$(BIN)/python -m benchmarks --large

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache benchmarks/work
