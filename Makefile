# Vastavuoro: `make run` to try it, `make test` to check it. Both set up .venv themselves.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000

# A Python 3.12+ interpreter: $(PYTHON) if given, else pyenv's 3.13 / 3.12, else python3.13 / 3.12 / python3.
PYTHON ?= $(shell for p in "$$(pyenv root 2>/dev/null)/versions/3.13.0/bin/python" python3.13 \
	"$$(pyenv root 2>/dev/null)/versions/3.12.1/bin/python" python3.12 python3; do \
	command -v "$$p" >/dev/null 2>&1 && "$$p" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null \
	&& { command -v "$$p"; break; }; done)

.PHONY: help run test install install-dev migrate demo messages compilemessages lint check bench clean

help:
	@echo "make run    install, migrate, load demo data, start web + worker + beat on http://127.0.0.1:$(PORT)"
	@echo "make test   install the dev extra and run every check and test"
	@echo "make lint   ruff, format check, import-linter and mypy only"
	@echo "make messages  refresh the en/fi/ru catalogues from the code"
	@echo "make bench  purchases per second through gunicorn on the local PostgreSQL"

$(VENV)/.created:
	@test -n "$(PYTHON)" || { echo "Python 3.12 or newer is needed (set PYTHON=/path/to/python3.12+)."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip uv
	@touch $@

$(VENV)/.installed: $(VENV)/.created requirements.lock
	$(VENV)/bin/uv pip install --quiet --python $(PY) -r requirements.lock
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.created requirements-dev.lock
	$(VENV)/bin/uv pip install --quiet --python $(PY) -r requirements-dev.lock
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

compilemessages: $(VENV)/.installed
	@$(PY) manage.py compilemessages --ignore=.venv -v0

messages: $(VENV)/.installed
	$(PY) manage.py makemessages --all --ignore=.venv --ignore=var --ignore=tests --no-obsolete
	$(MAKE) compilemessages

migrate: $(VENV)/.installed
	$(PY) manage.py migrate --no-input -v0

demo: migrate
	$(PY) manage.py load_demo

run: install compilemessages migrate
	@$(PY) manage.py load_demo
	@PORT=$(PORT) PY=$(PY) bash scripts/run.sh

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

test: install-dev compilemessages lint
	@bash scripts/test.sh

bench: install-dev
	$(PY) scripts/bench.py
	$(PY) scripts/bench_campaign.py

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov
