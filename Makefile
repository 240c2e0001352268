# skship: `make demo` (the main job) and `make test` (everything CI runs).
# Both do their own set-up on a fresh clone: install uv if it is missing, then
# `uv sync --frozen` from the committed uv.lock.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DELETE_ON_ERROR:
.DEFAULT_GOAL := help

PYTHON ?= python3

# Never let uv fetch a Python build: use the interpreter that is on the machine.
export UV_PYTHON_DOWNLOADS := never
# `uv run` must not re-resolve or rewrite uv.lock behind our back.
export UV_FROZEN := 1
export NO_MKDOCS_2_WARNING := 1

# uv on PATH if there is one, otherwise the copy `make setup` installs with pip.
# Recursive (=) on purpose: make expands a recipe only when it is about to run it,
# so targets that depend on `setup` see the uv that setup just installed.
UV = $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")

.PHONY: help setup browser demo test lint typecheck drift pytest docs clean

help:
	@echo "make demo   train, save, audit, load and check a model (the main job)"
	@echo "make test   everything CI runs: lint, types, schema drift, pytest, docs"
	@echo "make setup  install uv if missing, then uv sync --frozen"
	@echo "make lint | typecheck | drift | pytest | docs   one stage of make test"

setup:
	@if ! command -v uv >/dev/null 2>&1 && ! $(PYTHON) -m uv --version >/dev/null 2>&1; then \
		echo "uv not found: installing it with '$(PYTHON) -m pip install --user uv'"; \
		if ! $(PYTHON) -m pip --version >/dev/null 2>&1; then \
			echo "error: '$(PYTHON) -m pip' is not available; install pip (or uv) first" >&2; \
			exit 1; \
		fi; \
		user=$$($(PYTHON) -c 'import sys; print("" if sys.prefix != sys.base_prefix else "--user")'); \
		log=$$(mktemp); \
		if ! $(PYTHON) -m pip install $$user --quiet uv 2>"$$log"; then \
			if grep -q externally-managed "$$log"; then \
				echo "this Python is externally managed (PEP 668); retrying with" \
					"--break-system-packages, which only adds uv to the user site"; \
				$(PYTHON) -m pip install $$user --quiet --break-system-packages uv; \
			else \
				cat "$$log" >&2; rm -f "$$log"; exit 1; \
			fi; \
		fi; \
		rm -f "$$log"; \
		$(PYTHON) -m uv --version; \
	fi
	$(UV) sync --frozen

demo: setup
	$(UV) run python examples/demo.py

test: setup lint typecheck drift pytest docs
	@echo "make test: all checks passed"

lint: setup
	$(UV) run ruff check .
	$(UV) run ruff format --check .

typecheck: setup
	$(UV) run mypy

drift: setup
	@if [ ! -f tools/gen_structs.py ]; then \
		echo "error: tools/gen_structs.py is missing; it is the schema drift check" \
			"(regenerates skship._schema from schemas/ and compares)" >&2; \
		exit 1; \
	fi
	$(UV) run python tools/gen_structs.py --check

# The card app's browser test drives Debian's chromium through Playwright (browser
# downloads are impossible here, so never `playwright install`): apt-get it only if missing.
CHROMIUM ?= /usr/bin/chromium
browser:
	@if [ ! -x "$(CHROMIUM)" ]; then \
		echo "$(CHROMIUM) not found: installing Debian's chromium with apt-get"; \
		sudo_cmd=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$sudo_cmd apt-get update -qq && $$sudo_cmd apt-get install -y -qq chromium; \
	fi

pytest: setup browser
	$(UV) run pytest -W error

docs: setup
	$(UV) run mkdocs build --strict

clean:
	rm -rf site .pytest_cache .mypy_cache .ruff_cache .hypothesis
