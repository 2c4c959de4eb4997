# Fidelis: `make demo` to try it, `make test` to check it.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
export FIDELIS_DATA_DIR ?= $(CURDIR)/data

.PHONY: install demo test test-e2e test-e2e-smoke bench lint messages clean

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

# With FIDELIS_TEST_POSTGRES_URL set, the PostgreSQL suite runs beside the SQLite one (a core each), with its own
# data dir, temporary dir and Redis database; its output follows the SQLite suite's.
test: install
	$(BIN)/ruff check .
	$(BIN)/fidelis makemigrations --check --dry-run
	@if [ -z "$$FIDELIS_TEST_POSTGRES_URL" ]; then \
	  $(BIN)/pytest -m "not e2e" $(PYTEST_ARGS); \
	else \
	  pg=$$(mktemp -d); \
	  echo "== the suite on SQLite, and on PostgreSQL beside it (its output follows) =="; \
	  ( DATABASE_URL="$$FIDELIS_TEST_POSTGRES_URL" FIDELIS_DATA_DIR="$$pg/data" \
	    FIDELIS_TEST_REDIS_URL="$${FIDELIS_TEST_POSTGRES_REDIS_URL:-redis://127.0.0.1:6379/14}" \
	    $(BIN)/pytest -m "not e2e" -p no:cacheprovider --basetemp="$$pg/tmp" $(PYTEST_ARGS) >"$$pg/log" 2>&1; \
	    echo $$? >"$$pg/rc" ) & \
	  $(BIN)/pytest -m "not e2e" $(PYTEST_ARGS); sqlite=$$?; \
	  wait; echo "== the same suite on PostgreSQL =="; cat "$$pg/log"; \
	  test $$sqlite -eq 0 && test "$$(cat $$pg/rc)" -eq 0; \
	fi

test-e2e: install
	$(BIN)/pytest -m e2e tests/e2e $(PYTEST_ARGS)

# The few browser tests marked `smoke` (log in, the 360 page, a write): CI runs them on SQLite, all of them on
# PostgreSQL.
test-e2e-smoke: install
	$(BIN)/pytest -m "e2e and smoke" tests/e2e $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/customer_search.py --quick

lint: install
	$(BIN)/ruff check .

messages: install
	$(BIN)/fidelis makemessages_all

clean:
	rm -rf $(VENV) data
