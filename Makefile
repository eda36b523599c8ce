# Two entry points, each of which sets up everything from a fresh machine:
#   make demo   install, then train and evaluate on the built-in default set, writing a run directory
#   make test   install, then run the test suite
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.galmerge-installed

.PHONY: install demo test test-slow bench clean

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

test: install
	$(PY) -m pytest

test-slow: install
	$(PY) -m pytest -m slow

bench: install
	$(PY) benchmarks/train_throughput.py
	$(PY) benchmarks/predict_throughput.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
