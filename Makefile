# egoscale_ros developer entry points. `make demo` and `make test` set everything up themselves.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_SECONDS ?= 10
DEMO_ROBOT ?= g1_dex3

.PHONY: setup demo test lint unit integration colcon clean

setup: $(STAMP)

# Re-run only when the pinned requirements or the package metadata change.
$(STAMP): requirements.txt requirements-dev.txt requirements-oracles.txt setup.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-oracles.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

demo: setup
	$(VENV)/bin/egoscale-ros demo --robot $(DEMO_ROBOT) --seconds $(DEMO_SECONDS)

lint: setup
	$(VENV)/bin/ruff check egoscale_ros test launch setup.py

unit: setup
	$(PY) -m pytest -q test/unit

integration: setup
	$(PY) -m pytest -q test/integration test/launch

colcon: setup
	$(PY) -m pytest -q test/build

test: setup lint
	$(PY) -m pytest -q test

clean:
	rm -rf $(VENV) build install log *.egg-info
