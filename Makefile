# Two commands for a fresh machine with Python 3.11+:  `make run`  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
# pytest-xdist: one worker per core; the browser tests stay together on one worker
# (tests/conftest.py groups them). `make test PYTEST_PARALLEL=` runs the suite serially.
PYTEST_PARALLEL ?= -n auto --dist loadgroup

.PHONY: install run test lint format browser clean translations

# The virtual environment, rebuilt when the dependencies change.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $@

install: $(VENV)/.installed

## Install, migrate the SQLite database, and serve the demo article at http://127.0.0.1:5000/
run: install
	$(BIN)/commentsvc run --host $(HOST) --port $(PORT)

## Install everything (Chromium too, where it can) and run lint and the whole test suite
test: lint browser
	$(BIN)/python -m pytest $(PYTEST_PARALLEL)
	@echo "Again, the database tests with the hot-path SQL through Connection.execute:"
	COMMENTSVC_TEST_HOT_SQL=execute $(BIN)/python -m pytest $(PYTEST_PARALLEL) -m database -q

## ruff, and mypy over the package
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Debian's Chromium for the real-browser tests (Playwright drives it; no browser download),
## and nginx-light for the multi-host tests (nginx balancing several app hosts)
browser:
	@bash scripts/install-chromium.sh
	@bash scripts/install-nginx.sh

## Extract the widget's marked strings and add the new ones, untranslated, to every catalogue
## (tests/test_translations.py fails until each is translated; see the README)
translations: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -o commentsvc/translations/messages.pot --no-location --omit-header --sort-output .
	$(BIN)/pybabel update -i commentsvc/translations/messages.pot -d commentsvc/translations --no-fuzzy-matching --width 100

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts
