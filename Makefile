PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint format bench completions clean demo

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,demo]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

demo: $(STAMP)
	$(BIN)/python -m pacgan_cli.demo --output demo_output

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_training.py

# Generated from the app; tests/cli/test_completions.py fails when they are out of date.
completions: $(STAMP)
	set -e; for shell in bash zsh fish; do \
		$(BIN)/pacgan --show-completion $$shell > completions/pacgan.$$shell.new; \
		test -s completions/pacgan.$$shell.new; \
		mv completions/pacgan.$$shell.new completions/pacgan.$$shell; \
	done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
