# Living Lab: `make run` serves the app (installing and seeding the demo first), `make test` runs
# the whole suite. Only Python 3.11+ and make are needed; uv is bootstrapped through pip if absent.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
TOOLS := .tools
UV := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
STAMP := $(VENV)/.installed

export UV_SYSTEM_CERTS := 1
export UV_COMPILE_BYTECODE := 1
export UV_PYTHON_DOWNLOADS := never
export MLFLOW_DISABLE_TELEMETRY := true

.PHONY: install run demo test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml uv.lock
	@if [ ! -x "$(UV)" ]; then \
		echo "uv not found: bootstrapping it into $(TOOLS)/ with pip"; \
		$(PYTHON) -m venv $(TOOLS) && $(TOOLS)/bin/pip install --quiet "uv>=0.5"; \
	fi
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

demo: install
	$(VENV)/bin/livinglab demo

run: demo
	$(VENV)/bin/livinglab app

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	scripts/ensure-chromium
	$(VENV)/bin/pytest -n auto

bench: install
	$(UV) sync --frozen --python $(PYTHON) --group bench
	$(VENV)/bin/python -m benchmarks.run

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .ruff_cache
