# The two set-up-and-run commands of README.md. Both install everything
# first (tools/setup_env.sh: the first run compiles mmcv, about 9 minutes;
# later runs reuse the cached wheel and take seconds).
VENV ?= .venv
PY := $(VENV)/bin/python
export VENV

.PHONY: install install-tests demo test benchmark

install:
	tools/setup_env.sh

install-tests:
	tools/setup_env.sh --tests

# Train on the bundled COCO sample, evaluate with CocoMetric, draw skeletons.
demo: install
	PYTHON=$(PY) tools/run_demo.sh

test: install-tests
	$(PY) -m pytest tests

benchmark: install
	$(PY) tools/benchmark.py
