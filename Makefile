# Two commands: `make run` (set up, migrate, seed a demo, serve) and `make test` (set up, run the suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format bench clean

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py create_demo_admin
	@echo "Botdesk admin: http://$(HOST):$(PORT)/admin/"
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: $(VENV)/.dev
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(VENV)/.dev
	$(BIN)/python -m bench.webhook
	$(BIN)/python -m bench.usage
	$(BIN)/python -m bench.billing
	$(BIN)/python -m bench.analytics
	$(BIN)/python -m bench.broadcast
	$(BIN)/python -m bench.streaming
	$(BIN)/python -m bench.payments

clean:
	rm -rf $(VENV) db.sqlite3* .pytest-db.sqlite3* staticfiles
