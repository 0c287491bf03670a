PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# `make install CPU_ONLY=1` takes PyTorch from its CPU wheel index (about 5 GB less in .venv on a machine
# without a GPU); TORCH_INDEX=URL picks any other index. Neither is set by default, so CI installs from PyPI.
CPU_ONLY ?=
TORCH_INDEX ?= $(if $(CPU_ONLY),https://download.pytorch.org/whl/cpu)

.PHONY: install test lint format bench completions clean demo

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(if $(TORCH_INDEX),$(BIN)/python -m pip install --quiet torch torchvision --index-url $(TORCH_INDEX))
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
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

# Generated from the app; tests/cli/test_completions.py fails when they are out of date.
completions: $(STAMP)
	set -e; for shell in bash zsh fish; do \
		$(BIN)/pacgan --show-completion $$shell > completions/pacgan.$$shell.new; \
		test -s completions/pacgan.$$shell.new; \
		mv completions/pacgan.$$shell.new completions/pacgan.$$shell; \
	done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
