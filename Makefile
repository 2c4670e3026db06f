# Glasspane: `make run` (dashboard + worker + beat on embedded defaults) and `make test` (the suite).
# Each target installs what it needs: Debian packages when root, a virtualenv, the project.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PORT   ?= 8000
PYTEST_ARGS ?=

.PHONY: run test lint bench install clean engine-start engine-stop

$(STAMP): pyproject.toml scripts/bootstrap.sh
	PYTHON=$(PYTHON) bash scripts/bootstrap.sh
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	PORT=$(PORT) bash scripts/run.sh

test: $(STAMP)
	bash scripts/test.sh $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	RECORD="$(RECORD)" BENCH_ONLY="$(BENCH_ONLY)" SCALE="$(SCALE)" bash scripts/bench.sh

clean:
	rm -rf var/ .pytest_cache
