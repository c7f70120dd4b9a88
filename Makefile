# The two commands: `make run` (install, migrate, demo content, serve) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# The address the site names in its sitemap, feeds, API, canonical links and e-mails.
SITE_URL ?= http://$(HOST):$(PORT)
# PIP_CONSTRAINT also reaches pip's isolated build environment, so the build backend is pinned too.
PIP := PIP_CONSTRAINT=requirements/constraints.txt $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: run test install install-test serve lint format opensearch opensearch-stop lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install pip

$(VENV)/.installed-run: $(BIN)/python pyproject.toml requirements/constraints.txt
	$(PIP) install -e .
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed-run
	$(PIP) install -e '.[test]'
	@touch $@

install: $(VENV)/.installed-run
install-test: $(VENV)/.installed-test

# Prints what someone starting the site needs: the services, the demo content and log-ins, the
# address; then one line per request and any error.
run: install
	@mkdir -p var
	@$(BIN)/python manage.py check_services
	@$(BIN)/python manage.py migrate --noinput -v 0
	@SITE_URL=$(SITE_URL) $(BIN)/python manage.py setup_demo
	@echo "Serving the Protectors' Portal at $(SITE_URL)/ (admin: /admin/, forum: /portal/); Ctrl+C stops it"
	@SITE_URL=$(SITE_URL) $(BIN)/python manage.py runserver $(HOST):$(PORT)

# Production-style serving: one ASGI process for HTTP and WebSocket (see deploy/README.md).
serve: install
	$(BIN)/python manage.py check_services
	$(BIN)/uvicorn config.asgi:application --host $(HOST) --port $(PORT) --lifespan off --ws-per-message-deflate false

test: install-test lint
	$(BIN)/python tests/run_profiles.py $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install-test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

opensearch:
	services/opensearch/run foreground

opensearch-stop:
	services/opensearch/run stop

# Re-pin every dependency to the newest versions pyproject.toml allows.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install -q --upgrade pip setuptools
	.lock-venv/bin/pip install -q -e '.[test]'
	{ echo '# Exact versions that `make run`, `make test` and CI install (pip install -c). Regenerate with `make lock`.'; \
	  .lock-venv/bin/pip freeze --exclude-editable; \
	  .lock-venv/bin/pip freeze --all | grep -E '^(pip|setuptools)=='; } > requirements/constraints.txt
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
