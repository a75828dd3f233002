# The README's two commands: `make demo` and `make test`. Both set up a virtual
# environment on a fresh machine (Python >= 3.11, git, make) and install the project.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.qingyun-installed

.PHONY: demo test install browser clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m routing.planning.search.sisr
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/qingyun demo

# The map-page test drives Debian's Chromium (never a downloaded browser); CJK fonts for its
# screenshot. Installed when this machine can (root with apt); otherwise that test skips and says so.
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; \
	else echo "note: /usr/bin/chromium missing and apt-get not usable: the browser test will be skipped"; fi

# Lint and format are checked first (ruff, configured in pyproject.toml), then the whole suite.
test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
