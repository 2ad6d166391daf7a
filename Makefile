# Two entry points for a fresh machine: `make run` and `make test`.
# Python >= 3.12 is needed by Mesa 3.5; we look for it on PATH and in pyenv.
PYTHON ?= $(shell for p in python3.12 python3.13 $$HOME/.pyenv/versions/3.12*/bin/python3.12 /usr/bin/python3.12 /usr/local/bin/python3.12; do \
	$$p -c 'import sys; assert sys.version_info >= (3, 12)' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test test-slow lint bench clean-venv

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "error: Python >= 3.12 not found (set PYTHON=/path/to/python3.12)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test,dashboard-test]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/gdcloud run scenarios/baseline.yaml

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q -m "not slow"

test-slow: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed-test
	$(BIN)/ruff check sim tests benchmarks

clean-venv:
	rm -rf $(VENV)
