# The two set-up-and-run commands of README.md. Both install everything
# first (tools/setup_env.sh: the first run compiles mmcv, about 9 minutes;
# later runs reuse the cached wheel and take seconds).
VENV ?= .venv
PY := $(VENV)/bin/python
RUNTIME_VENV ?= .venv-runtime
export VENV RUNTIME_VENV

.PHONY: install install-tests install-runtime-tests install-web-tests demo \
	test dists check-wheels benchmark

install:
	tools/setup_env.sh

install-tests:
	tools/setup_env.sh --tests

# the runtime alone (numpy, OpenCV, ONNX Runtime): no PyTorch in it
install-runtime-tests:
	tools/setup_runtime_env.sh --tests

# the pose page's browser tests: Chromium (apt) and web/package-lock.json
install-web-tests:
	tools/setup_web_env.sh

# Train on the bundled COCO sample, evaluate with CocoMetric, draw skeletons.
demo: install
	PYTHON=$(PY) tools/run_demo.sh

# The whole suite in the training environment (the pose page's tests in
# headless Chromium included: they fail rather than skip without their
# tools), then the runtime's tests where torch, mmcv, mmengine and mmpose
# cannot be imported, then the two distributions built and installed from
# their wheels into a fresh environment, checked from an empty folder.
test: install-tests install-runtime-tests install-web-tests
	MMPOSE_LIGHT_REQUIRE_WEB=1 $(PY) -m pytest tests
	MMPOSE_LIGHT_RUNTIME_ONLY=1 $(RUNTIME_VENV)/bin/python -m pytest \
		tests/test_runtime
	tools/check_wheels.sh

# wheels and sdists of mmpose-light and mmpose-light-runtime in dist/
dists: install-tests
	tools/build_dists.sh $(PY)

check-wheels: install-tests
	tools/check_wheels.sh

benchmark: install
	$(PY) tools/benchmark.py
