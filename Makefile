# Harmoniq: `make dev` runs the fleet, `make test` runs every test. See README.md.
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .tools/bin/uv
VENV := .venv
export UV_PYTHON_DOWNLOADS := never
# No npm package may download a browser: Playwright drives Debian's chromium.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: install system-deps dev test test-only lint format bench load compose-config clean
.PHONY: web web-deps web-dev web-lint web-test

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

# Reproducible: exactly what uv.lock says, nothing resolved anew.
install: $(UV)
	$(UV) sync --frozen --all-packages

# nginx (and coturn for voice) come from the system's packages.
system-deps:
	bash deploy/install-system-deps.sh

dev: install system-deps web
	$(VENV)/bin/python deploy/dev.py

lint: install web-lint
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# --- the web client (web/): node and npm from the system, packages exactly as the lock says ----
WEB_SOURCES := $(shell find web/src web/public -type f 2>/dev/null) web/index.html \
	web/vite.config.ts web/tailwind.config.ts web/postcss.config.js web/tsconfig.json

web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund

web-deps: web/node_modules/.package-lock.json

# Built only when web/ changed since the last build.
web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SOURCES)
	cd web && npm run build
	@touch $@

web: web/dist/index.html

# Vite's dev server with hot reload on :5173, proxying /api and /gateway to the running fleet
# (HARMONIQ_API_URL, default make dev's http://127.0.0.1:8080).
web-dev: web-deps
	cd web && npm run dev

# ESLint, tsc --noEmit, and the check that the API types match the services' OpenAPI.
web-lint: install web-deps
	cd web && npm run lint

# The unit tests (Vitest); the browser journeys run in the pytest suite (tests/web).
web-test: web-deps
	cd web && npm test

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: install system-deps lint web web-test test-only

# Coverage of the services' domain logic, failing under 80 % ([tool.coverage] in pyproject.toml).
# The 15 slowest set-ups, calls and tear-downs are listed: CI must stay well under 30 minutes.
test-only:
	$(VENV)/bin/python -m pytest --cov --cov-report=term:skip-covered --durations=15

bench: install system-deps
	$(VENV)/bin/python bench/run.py

# The Locust scenario (bench/load/locustfile.py): `make load` against a fleet of its own on
# loopback, `make load HOST=https://…` against a deployment; USERS, SPAWN_RATE, RUN_TIME.
load: install system-deps
	$(VENV)/bin/python bench/load_run.py $(if $(HOST),--host $(HOST)) \
		--users $(or $(USERS),1000) --spawn-rate $(or $(SPAWN_RATE),10) --run-time $(or $(RUN_TIME),240s)

compose-config:
	docker compose config --quiet

clean:
	rm -rf .venv .tools .dev
