# Everything a new user needs: `make demo` and `make test`, from a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test test-pelican-versions lint demo bench bench-large bench-serve dist clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

# The Pelican end-to-end tests again with the oldest Pelican pyproject.toml accepts and with
# the newest release, each in a venv of its own: the main venv's Pelican is whatever fits
# beside mkdocs-material (Pelican 4.12 pins pygments<2.20, mkdocs-material 9.8 needs >=2.20).
PELICAN_OLDEST := 'pelican[markdown]==4.9.*'
PELICAN_NEWEST := 'pelican[markdown]'

test-pelican-versions:
	test -x .venv-pelican-oldest/bin/python || $(PYTHON) -m venv .venv-pelican-oldest
	.venv-pelican-oldest/bin/python -m pip install --quiet -e . $(PELICAN_OLDEST) 'pytest>=8'
	.venv-pelican-oldest/bin/python -m pytest -q tests/test_pelican.py tests/test_pelican_steer.py
	test -x .venv-pelican-newest/bin/python || $(PYTHON) -m venv .venv-pelican-newest
	.venv-pelican-newest/bin/python -m pip install --quiet --upgrade -e . $(PELICAN_NEWEST) 'pytest>=8'
	.venv-pelican-newest/bin/python -m pytest -q tests/test_pelican.py tests/test_pelican_steer.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

demo: $(STAMP)
	$(BIN)/python sample_site/demo.py

bench: $(STAMP)
	$(BIN)/python -m benchmarks

bench-large: $(STAMP)
	$(BIN)/python -m benchmarks --large

# The sdist and the wheel in dist/, built as an installer builds them (an isolated build
# environment) and checked as PyPI would check their metadata.
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*

# The receiver under load against django-wm (benchmarks/serve/); wrk is Debian's load
# generator, installed here when missing (as root). `make bench-serve ARGS=--quick` is a
# smoke run of a few minutes.
bench-serve: $(STAMP)
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m benchmarks.serve $(ARGS)

clean:
	rm -rf $(VENV) .venv-pelican-oldest .venv-pelican-newest build dist *.egg-info .pytest_cache .ruff_cache benchmarks/work
