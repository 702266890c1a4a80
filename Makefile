# idealweek — two commands for a fresh machine with Python 3.11+ and make:
#   make demo   set up .venv, install idealweek (no test extras), run the main job on the shipped demo calendars
#   make test   set up .venv, install with test extras, run lint, types and the whole suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP_RUN  = $(VENV)/.installed-run
STAMP      = $(VENV)/.installed-test

.PHONY: demo test lint typecheck pytest bench clean venv chromium screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# caldav -> niquests -> urllib3-future, whose wheel overwrites the real urllib3 (used by requests) at every
# interpreter start; built from source with URLLIB3_NO_OVERRIDE=1 it stays beside it as urllib3_future.
# Two stamps: `make demo` installs what idealweek needs to run; everything else also the test extras.
$(STAMP_RUN): $(BIN)/python pyproject.toml
	URLLIB3_NO_OVERRIDE=1 $(BIN)/python -m pip install --quiet --no-binary urllib3-future -e .
	touch $(STAMP_RUN)

$(STAMP): $(STAMP_RUN)
	URLLIB3_NO_OVERRIDE=1 $(BIN)/python -m pip install --quiet --no-binary urllib3-future -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP_RUN)
	$(BIN)/python demo/run_demo.py

lint: $(STAMP)
	$(BIN)/ruff check src tests bench demo
	$(BIN)/ruff format --check src tests bench demo

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) chromium
	$(BIN)/python -m pytest -q -n 2 $(PYTEST_ARGS)

test: lint typecheck pytest

# The browser tests need Debian's chromium: installed here when missing and we are root,
# otherwise they skip (with the reason) and the rest of the suite runs.
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium for the browser tests"; \
		(apt-get install -y -q chromium >/dev/null 2>&1 || \
		 (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1)) || \
		echo "could not install chromium: the browser tests will be skipped"; \
	else echo "chromium is not installed and we are not root: the browser tests will be skipped"; fi

# README pictures from the demo data (with a few weeks of seeded history): docs/week.png, docs/review.png,
# docs/compare.png
SHOTS = $(or $(TMPDIR),/tmp)/idealweek-shots
screenshots: $(STAMP_RUN) chromium
	rm -rf $(SHOTS)
	$(BIN)/python demo/seed_history.py $(SHOTS)/run --weeks 6
	$(BIN)/idealweek week --config $(SHOTS)/run/config.toml --log-level warning --html $(SHOTS)/week.html
	$(BIN)/idealweek review --config $(SHOTS)/run/config.toml --log-level warning --html $(SHOTS)/review.html
	$(BIN)/python demo/screenshot.py $(SHOTS)/week.html docs/week.png 1120 900
	$(BIN)/python demo/screenshot.py $(SHOTS)/review.html docs/review.png 1000 900
	$(BIN)/idealweek review --compare --config $(SHOTS)/run/config.toml --log-level warning --html $(SHOTS)/compare.html
	$(BIN)/python demo/screenshot.py $(SHOTS)/compare.html docs/compare.png 1160 820

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) demo-run .pytest_cache .mypy_cache .ruff_cache
