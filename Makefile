# The two commands of the README: `make demo` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint check-layers sysdeps peers bench clean

$(STAMP): pyproject.toml setup.py hmi/bus/broker/_tapc.c
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed ($(PYTHON) is older): make PYTHON=python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/hmi demo $(if $(DISPLAY)$(WAYLAND_DISPLAY),,--screenshot demo.png --duration 10)

sysdeps:
	@sh packaging/sysdeps.sh

# Peers we did not write that come from npm (tests/peers/*/package-lock.json, pinned):
# installed into their own folder when the lock file is newer than the installation.
NPM_PEERS := $(dir $(wildcard tests/peers/*/package-lock.json))
peers:
	@for p in $(NPM_PEERS); do \
		[ "$$p/node_modules/.package-lock.json" -nt "$$p/package-lock.json" ] || \
		npm ci --prefix "$$p" --no-audit --no-fund --loglevel=error || exit 1; \
	done

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

check-layers: $(STAMP)
	$(BIN)/lint-imports

test: $(STAMP) sysdeps peers lint check-layers
	$(BIN)/pytest

# the benchmarks' baselines we did not write (aiomas for RPC) and their npm peers
bench: $(STAMP) peers
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
