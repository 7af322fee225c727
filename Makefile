# One command each: `make demo` runs the chain, `make test` runs every check. Both set up .venv themselves.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The registry's storage tests run against this PostgreSQL server too (CI fails if it can't be reached).
export IPLOS_TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: install demo up soak test lint typecheck contracts pytest clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/iplos demo

up: install
	$(BIN)/iplos up --state-dir .state

# Kill the TPF and the registry at random while submissions flow; SUBMISSIONS and FAULTS set the size.
SUBMISSIONS ?= 200
FAULTS ?= 200
soak: install
	$(BIN)/iplos soak --submissions $(SUBMISSIONS) --faults $(FAULTS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

contracts: install
	$(BIN)/lint-imports

pytest: install
	$(BIN)/pytest

test: lint typecheck contracts pytest

clean:
	rm -rf $(VENV) .demo-state .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info
