# fyerstrade — every target first makes sure .venv matches uv.lock (fast when nothing changed).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
STAMP := $(VENV)/.synced
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
# Compile bytecode at install time, so that every environment starts fast even where nothing is
# cached at run time (PYTHONDONTWRITEBYTECODE=1 in containers and CI).
export UV_COMPILE_BYTECODE := 1
# The suite runs on two pytest-xdist workers, each taking the next test as it frees up (worksteal):
# about half of the suite's wall time is tests waiting on paced simulators, subprocesses and the
# browser, which the other worker fills. PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= 2
PYTEST_ARGS ?=
DEMO_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help run test check fmt bench deps browser clean demo-clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(STAMP): $(UV) uv.lock pyproject.toml Makefile
	$(UV) sync --locked --compile-bytecode --python $(PYTHON)
	@touch $@

# Our own package is installed editable (uv compiles site-packages only): compile it too; only
# changed files are recompiled, so this is quick when nothing changed.
# The backtest kernel (numba) is compiled once into its cache too (about 20 s on a fresh install;
# a check of milliseconds after that), so that a user's first backtest does not pay for it.
deps: $(STAMP) ## Create or update .venv from uv.lock (with bytecode and the numba kernel compiled)
	@$(BIN)/python -m compileall -q src/fyerstrade
	@$(BIN)/python -m fyerstrade.backtest.vector.cache

browser: ## Install Debian's chromium (for browser tests) if missing
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  $$SUDO apt-get install -y -qq --no-install-recommends $$(grep -v '^#' packages.deb.txt); }

run: deps ## Set up and open the main job: the dashboard on demo data from the simulator
	$(BIN)/fyerstrade demo $(DEMO_ARGS)

check: deps ## ruff, ruff format --check, mypy
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

fmt: deps ## Format and autofix
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

test: deps browser check ## Set up and run the whole test suite (includes make check)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

bench: deps ## Benchmarks, printed as ratios against peers
	$(BIN)/python -m benchmarks $(BENCH)

clean: ## Remove the virtual environments and caches
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache
