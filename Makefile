# Harmoniq: `make dev` runs the fleet, `make test` runs every test. See README.md.
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .tools/bin/uv
VENV := .venv
export UV_PYTHON_DOWNLOADS := never

.PHONY: install system-deps dev test test-only lint format bench compose-config clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

# Reproducible: exactly what uv.lock says, nothing resolved anew.
install: $(UV)
	$(UV) sync --frozen --all-packages

# nginx (and coturn for voice) come from the system's packages.
system-deps:
	bash deploy/install-system-deps.sh

dev: install system-deps
	$(VENV)/bin/python deploy/dev.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: install system-deps lint test-only

test-only:
	$(VENV)/bin/python -m pytest

bench: install system-deps
	$(VENV)/bin/python bench/run.py

compose-config:
	docker compose config --quiet

clean:
	rm -rf .venv .tools .dev
