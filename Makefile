# One command each: `make demo` runs the chain, `make test` runs every check. Both set up .venv themselves;
# `make test` also installs Debian's Chromium (for the browser tests) if it is missing. `make demo` does not need it.
# A supported interpreter (pyproject.toml's requires-python: 3.11 to 3.13), 3.11 first: the one CI tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3.13 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The registry's storage tests run against this PostgreSQL server too (CI fails if it can't be reached).
export IPLOS_TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
# The browser tests drive the system Chromium through Playwright; Playwright never downloads a browser of its own.
CHROMIUM := /usr/bin/chromium
export IPLOS_TEST_CHROMIUM ?= $(CHROMIUM)
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: install check-pythons lock browser promtool demo up soak bench test test-latest lint typecheck contracts pytest clean compose-test

# Everything is installed from the committed lock (exact versions, each file's hash checked), so a new release on
# the package index cannot change what `make demo` and `make test` run. pyproject.toml keeps the ranges the code
# supports; `make lock` refreshes the lock within them, and that is where a breaking release must show up.
LOCK := requirements-dev.txt
RUNTIME_LOCK := requirements.txt
# The locking tool itself is pinned too, and kept out of the project's own environment.
UV_VERSION := 0.13.9
LOCK_VENV := .venv-lock
LATEST_VENV := .venv-latest

# The interpreter is checked before anything is made, and a failed install removes the half-made .venv: a wrong
# Python (or a broken download) leaves nothing behind that the next `make` would take for a working environment.
$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null || { \
		echo "error: iplos-chain needs Python 3.11, 3.12 or 3.13, and '$(PYTHON)' is $$($(PYTHON) -V 2>&1 || echo missing);" \
			"run with PYTHON=/path/to/python3.11 (or 3.12, 3.13)" >&2; exit 2; }
	$(PYTHON) -m venv --clear $(VENV) || { rm -rf $(VENV); exit 1; }
	{ $(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(LOCK) && \
		$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e . && \
		$(BIN)/python -m pip check; } || { rm -rf $(VENV); echo "error: installing into $(VENV) failed (above);" \
			"it was removed, so the next try starts clean" >&2; exit 1; }
	touch $(STAMP)

install: $(STAMP)

# Refresh both lock files to the newest versions pyproject.toml's ranges allow, less what
# requirements/constraints.in holds back (each line there says why). Run `make test` after it.
LOCK_FLAGS := --quiet --generate-hashes --python-version 3.11 --upgrade
lock:
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet 'uv==$(UV_VERSION)'
	$(LOCK_VENV)/bin/uv pip compile $(LOCK_FLAGS) pyproject.toml requirements/build.in --extra dev \
		-c requirements/constraints.in -o $(LOCK)
	$(LOCK_VENV)/bin/uv pip compile $(LOCK_FLAGS) pyproject.toml requirements/build.in -c $(LOCK) -o $(RUNTIME_LOCK)
	# What the lock was made from, so that tests/test_lock.py can tell when a range changed without a refresh.
	$(PYTHON) requirements/inputs_digest.py >> $(LOCK)

# The suite against the newest releases pyproject.toml's ranges allow, ignoring the lock and constraints.in, in a
# venv of its own: an early warning of a release that will break the next `make lock`. Not part of `make test`.
test-latest: browser
	$(PYTHON) -m venv --clear $(LATEST_VENV)
	$(LATEST_VENV)/bin/python -m pip install --quiet --upgrade -e '.[dev]'
	$(LATEST_VENV)/bin/python -m pip list --format=freeze > $(LATEST_VENV)/versions.txt
	$(LATEST_VENV)/bin/pytest -p no:cacheprovider

# Every locked package has a wheel for Python 3.12 and 3.13 (Linux x86_64) whose hash the lock holds, so `make install`
# works there too; only 3.11 can run here. Downloads about 100 MB into a temporary folder: not part of `make test`.
check-pythons:
	@for version in 3.12 3.13; do \
		dir=$$(mktemp -d); \
		$(BIN)/python -m pip download --quiet --no-deps --require-hashes --only-binary=:all: --dest "$$dir" \
			--python-version $$version --implementation cp --platform manylinux_2_28_x86_64 \
			--platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any -r $(LOCK) \
			>"$$dir.log" 2>&1 || { grep -v "^WARNING: Location" "$$dir.log" >&2; rm -rf "$$dir" "$$dir.log"; \
			echo "error: the lock cannot be installed on Python $$version (above)" >&2; exit 1; }; \
		echo "Python $$version: $$(ls "$$dir" | wc -l) wheels, each with the lock's hash"; rm -rf "$$dir" "$$dir.log"; \
	done

# Debian's Chromium for the browser tests: nothing to do when it is there; otherwise apt-get (sudo unless root),
# quiet, with apt's output and a clear message if it fails.
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
		echo "installing Debian's chromium for the browser tests (apt-get install chromium) ..."; \
		log=$$(mktemp); \
		if ! command -v apt-get >/dev/null 2>&1; then \
			echo "error: $(CHROMIUM) is missing and there is no apt-get to install it; the browser tests need" \
				"Debian's chromium package (or set IPLOS_TEST_CHROMIUM to a Chromium binary)" >&2; exit 1; \
		fi; \
		if ! { $(SUDO) apt-get update -qq && \
			$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
			} >"$$log" 2>&1 || [ ! -x $(CHROMIUM) ]; then \
			cat "$$log" >&2; rm -f "$$log"; \
			echo "error: could not install Debian's chromium package ($(CHROMIUM)), which the browser tests" \
				"(tests/browser) need; install it with: $(if $(SUDO),sudo )apt-get install --no-install-recommends chromium" >&2; \
			exit 1; \
		fi; \
		rm -f "$$log"; \
	fi

# promtool, which checks deploy/monitoring's alert rules against metrics recorded from a real run: taken out of
# Debian's prometheus package (apt-get download, unpacked into .tools/), so no Prometheus server gets installed or
# started as a service by `make test`. Nothing to do when there is one already (on PATH, or in .tools/).
PROMTOOL := .tools/promtool
export IPLOS_TEST_PROMTOOL ?= $(abspath $(PROMTOOL))
promtool:
	@if ! command -v promtool >/dev/null 2>&1 && [ ! -x $(PROMTOOL) ]; then \
		echo "fetching promtool from Debian's prometheus package (unpacked into $(PROMTOOL), not installed) ..."; \
		dir=$$(mktemp -d); \
		if ! (cd "$$dir" && apt-get download prometheus >/dev/null 2>&1) && \
			! ($(SUDO) apt-get update -qq >/dev/null 2>&1 && cd "$$dir" && apt-get download prometheus >/dev/null 2>&1); then \
			rm -rf "$$dir"; echo "error: could not download Debian's prometheus package for promtool" \
				"(the monitoring tests need it); install it with: $(if $(SUDO),sudo )apt-get install prometheus" >&2; exit 1; \
		fi; \
		dpkg-deb --fsys-tarfile "$$dir"/prometheus_*.deb | tar -x -C "$$dir" ./usr/bin/promtool && \
			mkdir -p $(dir $(PROMTOOL)) && mv "$$dir/usr/bin/promtool" $(PROMTOOL); \
		rm -rf "$$dir"; \
	fi

demo: install
	$(BIN)/iplos demo

up: install
	$(BIN)/iplos up --state-dir .state

# Kill processes of all three services at random while submissions flow; SUBMISSIONS, FAULTS and WORKERS (processes
# per service) set the size. DATABASE=postgresql gives each service a fresh database on the local PostgreSQL server
# (IPLOS_SOAK_POSTGRES_URL names another), dropped afterwards.
SUBMISSIONS ?= 200
FAULTS ?= 200
WORKERS ?= 2
DATABASE ?= sqlite
soak: install
	$(BIN)/iplos soak --submissions $(SUBMISSIONS) --faults $(FAULTS) --workers $(WORKERS) --database $(DATABASE)

# A national-shaped year (357 municipalities, 350,000 persons, Oslo about a tenth, ~770 MB of XML) through the three
# real services, against one plain lxml read of the same files; prints wall time, the ratio, CPU, peak RSS and time per
# stage per service (docs/performance.md). Takes minutes: the year is generated once (about two minutes on 2 cores)
# and cached in .bench-cache/, the chain takes several more. BENCH_ARGS passes options (e.g. --database postgresql,
# --workers 2, --oslo-times 4, --json FILE, --check).
BENCH_ARGS ?=
bench: install
	$(BIN)/iplos bench $(BENCH_ARGS)

# The compose stack (docker-compose.yml, deploy/) built and run for real with podman: installs Debian's podman,
# podman-compose, mmdebstrap and runc if missing, builds a local Debian base image once, the images, keys and
# secrets, starts the stack, submits an export through the published gateway port, checks the registry's receipt
# at its operator API, and tears it all down. Needs root; a few minutes (iplos_testkit/compose).
compose-test: install
	$(SUDO) $(BIN)/python -m iplos_testkit.compose

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

contracts: install
	$(BIN)/lint-imports

pytest: install browser promtool
	$(BIN)/pytest

test: lint typecheck contracts pytest

clean:
	rm -rf $(VENV) $(LOCK_VENV) $(LATEST_VENV) .tools .demo-state test-artifacts .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info
