# Two entry points, each of which sets up everything from a fresh machine:
#   make demo   install, then train and evaluate on the built-in default set, writing a run directory
#   make test   install, then lint, format check, type check and the test suite (what CI runs)
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.galmerge-installed

.PHONY: install browser demo lint test test-slow bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch comes from local disk as a CPU build only when pinned: constraints.txt holds the pin.
$(STAMP): pyproject.toml constraints.txt | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt torch
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[all,test]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/galmerge demo

# The report test opens the HTML page in headless Chromium (Debian's package); without it
# (no root, no package mirror) that one test is skipped with a reason, the rest still run.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    ($$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium) >/dev/null \
	    || echo "warning: could not install chromium; the report rendering test will be skipped"; }

# ruff and mypy come with the test extra (versions pinned in constraints.txt).
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: install browser lint
	$(PY) -m pytest

# Long checks of learning at a realistic size (minutes each).
test-slow: install
	$(PY) -m pytest -m slow

bench: install
	$(PY) benchmarks/train_throughput.py
	$(PY) benchmarks/train_throughput.py --adaptation --epochs 3 --repeats 1
	$(PY) benchmarks/predict_throughput.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
