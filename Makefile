# Two commands do all the set-up: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
ARGS   ?=

.PHONY: install demo test test-slow lint format bench clean

$(STAMP): pyproject.toml setup.py transport/_cbor_check.c
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/pcos demo $(ARGS)

# The store suite runs on PostgreSQL too and the website tests drive Debian's Chromium:
# both scripts install what is missing (apt) and print where it is.
TEST_ENV = PCOS_TEST_PG_DSN="$$(scripts/ensure-postgres.sh)" PCOS_CHROMIUM="$$(scripts/ensure-chromium.sh)"

test: $(STAMP)
	$(TEST_ENV) $(BIN)/pytest -n 2

test-slow: $(STAMP)
	@# pytest exits 5 when no test is marked slow; that is not a failure.
	$(TEST_ENV) $(BIN)/pytest -n 2 -m slow || [ $$? -eq 5 ]

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	@mkdir -p var/bench
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf var/demo var/bench .pytest_cache .ruff_cache
