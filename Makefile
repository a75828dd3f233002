# The README's two commands: `make demo` and `make test`. Both set up a virtual
# environment on a fresh machine (Python >= 3.11, git, make) and install the project.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Two stamps: `make demo` installs the runtime dependencies only; `make test` adds the test and
# benchmark extras (pytest, schemathesis, playwright, PyVRP …). A change to pyproject.toml
# re-runs the runtime install, which in turn makes the extras' stamp stale.
STAMP := $(VENV)/.qingyun-installed
TEST_STAMP := $(VENV)/.qingyun-test-installed

.PHONY: demo test install browser clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -m routing.planning.search.sisr
	$(BIN)/python -m routing.arcs.search
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(TEST_STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/qingyun demo

# The map-page test drives Debian's Chromium (never a downloaded browser); a CJK font for its screenshot
# and for the Chinese labels of the PNG maps. Installed when this machine can (root with apt); otherwise
# that test skips and says so, and the maps are labelled in English.
browser:
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="chromium"; \
	[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing="$$missing fonts-wqy-microhei"; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else echo "note: $$missing missing and apt-get not usable: the browser test will be skipped, maps in English"; fi

# Lint and format are checked first (ruff, configured in pyproject.toml), then the whole suite.
test: $(TEST_STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
