# Everything a new user needs: `make demo` and `make test`, from a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test test-pelican-oldest lint demo bench bench-large clean

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

# The Pelican end-to-end tests again, with the oldest Pelican pyproject.toml accepts (4.9).
OLDEST := .venv-pelican-oldest

test-pelican-oldest:
	test -x $(OLDEST)/bin/python || $(PYTHON) -m venv $(OLDEST)
	$(OLDEST)/bin/python -m pip install --quiet -e . 'pelican[markdown]==4.9.*' 'pytest>=8'
	$(OLDEST)/bin/python -m pytest tests/test_pelican.py

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
	rm -rf $(VENV) $(OLDEST) build *.egg-info .pytest_cache .ruff_cache benchmarks/work
