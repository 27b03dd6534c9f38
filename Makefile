# egoscale_ros developer entry points. `make demo` and `make test` set everything up themselves.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_SECONDS ?= 10
DEMO_ROBOT ?= g1_dex3

.PHONY: setup demo test test-main test-jazzy test-core-310 lint unit integration colcon clean

# The other legs of the test matrix (README): Python 3.12 with ROS 2 Jazzy wheels, and Python 3.10
# with the library versions of an Ubuntu 22.04 (Humble) robot. Found on PATH or in pyenv.
PY312 ?= $(shell test/distro/find_python.sh 3.12)
PY310 ?= $(shell test/distro/find_python.sh 3.10)
JAZZY_VENV ?= .venv-jazzy
CORE310_VENV ?= .venv-core310
RESULTS := build/test-results

setup: $(STAMP)

# Re-run only when the pinned requirements or the package metadata change.
$(STAMP): requirements.txt requirements-core.txt requirements-dev.txt requirements-oracles.txt setup.py
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

# All three legs run, each reporting its own counts; the status fails when any leg failed.
test: setup lint
	@rm -rf $(RESULTS); mkdir -p $(RESULTS); rc=0; \
	$(MAKE) --no-print-directory test-main || rc=1; \
	$(MAKE) --no-print-directory test-jazzy || rc=1; \
	$(MAKE) --no-print-directory test-core-310 || rc=1; \
	$(PY) test/distro/summarize.py $(RESULTS); exit $$rc

test-main: setup
	@mkdir -p $(RESULTS)
	$(PY) -m pytest -q test --junitxml=$(RESULTS)/main.xml

$(JAZZY_VENV)/.installed: requirements-jazzy.txt requirements-core.txt setup.py
	@test -x $(JAZZY_VENV)/bin/python || $(PY312) -m venv $(JAZZY_VENV)
	$(JAZZY_VENV)/bin/python -m pip install --quiet -r requirements-jazzy.txt
	$(JAZZY_VENV)/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

# Jazzy: integration and unit tests (those needing PyTorch skip), then the G1 demo with its JSON
# checked. The policies are exported by the main environment (PyTorch) into the shared cache first.
# The fault-injection file (14 whole-graph demos, the same code paths as the demo run here) runs in
# the main leg only, to keep CI within its time.
test-jazzy: setup
	@mkdir -p $(RESULTS)
	@if [ -z "$(PY312)" ]; then echo "test-jazzy: SKIPPED, no Python 3.12 on this machine"; \
	  echo "no Python 3.12 on this machine" > $(RESULTS)/jazzy.skipped; exit 0; fi; \
	$(MAKE) --no-print-directory $(JAZZY_VENV)/.installed && \
	$(PY) test/distro/prepare_policies.py $(DEMO_ROBOT) && \
	EGOSCALE_TEST_LEG=jazzy $(JAZZY_VENV)/bin/python -m pytest -q test/unit test/integration \
	  --ignore=test/integration/test_fault_injection.py --junitxml=$(RESULTS)/jazzy.xml && \
	$(JAZZY_VENV)/bin/egoscale-ros demo --robot $(DEMO_ROBOT) --seconds 4 --json | \
	  $(JAZZY_VENV)/bin/python test/distro/check_demo.py

$(CORE310_VENV)/.installed: requirements-core310.txt setup.py
	@test -x $(CORE310_VENV)/bin/python || $(PY310) -m venv $(CORE310_VENV)
	$(CORE310_VENV)/bin/python -m pip install --quiet -r requirements-core310.txt
	$(CORE310_VENV)/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

# Humble-like core: the unit tests that need neither rclpy nor PyTorch, on Ubuntu 22.04's versions.
test-core-310:
	@mkdir -p $(RESULTS)
	@if [ -z "$(PY310)" ]; then echo "test-core-310: SKIPPED, no Python 3.10 on this machine"; \
	  echo "no Python 3.10 on this machine" > $(RESULTS)/core310.skipped; exit 0; fi; \
	$(MAKE) --no-print-directory $(CORE310_VENV)/.installed && \
	EGOSCALE_TEST_LEG=core310 $(CORE310_VENV)/bin/python -m pytest -q test/unit -p no:cacheprovider \
	  --junitxml=$(RESULTS)/core310.xml

clean:
	rm -rf $(VENV) $(JAZZY_VENV) $(CORE310_VENV) build install log *.egg-info
