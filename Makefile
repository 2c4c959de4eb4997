# Fidelis: `make demo` to try it, `make test` to check it.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
export FIDELIS_DATA_DIR ?= $(CURDIR)/data

.PHONY: install demo test test-e2e bench lint messages clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PYTHON) not found); set PYTHON=..."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed
	$(BIN)/fidelis compilemessages_po

demo: install
	$(BIN)/fidelis migrate --no-input
	$(BIN)/fidelis demo --as-of today

test: install
	$(BIN)/ruff check .
	$(BIN)/fidelis makemigrations --check --dry-run
	$(BIN)/pytest -m "not e2e" $(PYTEST_ARGS)
	@if [ -n "$$FIDELIS_TEST_POSTGRES_URL" ]; then \
	  echo "== the same suite on PostgreSQL =="; \
	  DATABASE_URL="$$FIDELIS_TEST_POSTGRES_URL" $(BIN)/pytest -m "not e2e" $(PYTEST_ARGS); \
	fi

test-e2e: install
	$(BIN)/pytest -m e2e tests/e2e $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/customer_search.py --quick

lint: install
	$(BIN)/ruff check .

messages: install
	$(BIN)/fidelis makemessages_all

clean:
	rm -rf $(VENV) data
