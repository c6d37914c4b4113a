#!/usr/bin/env bash
# Create an environment with the runtime alone: numpy, OpenCV (headless) and
# ONNX Runtime, no PyTorch; with --tests, also pytest and onnx (the runtime
# tests build tiny ONNX models with it), the OpenVINO and ncnn engines, and
# pnnx (the ncnn conversion; its metadata asks for torch, which its binary
# does not need, so it is installed without dependencies).
#
#   tools/setup_runtime_env.sh [--tests]
#
# Environment variables:
#   PYTHON        interpreter used to create the environment (default: python3)
#   RUNTIME_VENV  environment folder (default: .venv-runtime)
#
# The runtime is installed from runtime/ as a user would install it (not in
# editable mode), so that the tests run what the package ships.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-python3}
RUNTIME_VENV=${RUNTIME_VENV:-$ROOT/.venv-runtime}
TARGET="$ROOT/runtime"
[ "${1:-}" = "--tests" ] && TARGET="$ROOT/runtime[tests]"

say() { printf '[runtime-setup %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
start=$SECONDS
if [ ! -x "$RUNTIME_VENV/bin/python" ]; then
    say "creating virtual environment $RUNTIME_VENV"
    "$PYTHON" -m venv "$RUNTIME_VENV"
fi
say "installing $TARGET"
"$RUNTIME_VENV/bin/python" -m pip install --disable-pip-version-check -q \
    --force-reinstall --no-deps "$ROOT/runtime" 2>&1 \
    | { grep -v 'is ignored: it is neither a file nor a directory' || true; }
"$RUNTIME_VENV/bin/python" -m pip install --disable-pip-version-check -q \
    "$TARGET" 2>&1 \
    | { grep -v 'is ignored: it is neither a file nor a directory' || true; }
if [ "${1:-}" = "--tests" ]; then
    "$RUNTIME_VENV/bin/python" -m pip install --disable-pip-version-check -q \
        --no-deps pnnx==20261020 2>&1 \
        | { grep -v 'is ignored: it is neither a file nor a directory' || true; }
fi
say "ready in $((SECONDS - start))s: $(du -sh "$RUNTIME_VENV" | cut -f1)"
