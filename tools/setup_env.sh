#!/usr/bin/env bash
# Install mmpose_light and the OpenMMLab stack it runs on, into a virtual
# environment (default: .venv in the repository), on a CPU-only machine.
#
#   tools/setup_env.sh [--tests] [--wheels DIR]
#
# --tests        also what the test suite needs (pytest, mmpretrain, build,
#                openmim)
# --wheels DIR   install mmpose_light and its runtime from the wheels in DIR
#                (tools/build_dists.sh), as a user does, instead of editable
#                from this clone
#
# Environment variables:
#   PYTHON               interpreter used to create the environment
#                        (default: python3)
#   VENV                 environment folder (default: .venv); an existing
#                        environment is reused, with its own torch if it has one
#   MMPOSE_LIGHT_CACHE   where built wheels are kept between runs
#                        (default: ~/.cache/mmpose_light)
#
# torch: a torch that is already installed in the environment is kept (bring
# your own CUDA build on a GPU machine); otherwise the CPU build torch==2.13.0
# is installed. Nothing here asks for an unpinned torch, which would pull the
# newest CUDA build.
#
# mmcv: mmpose needs full mmcv (compiled ops) < 2.2.0 and no wheel exists for
# this torch, so mmcv 2.1.0 is compiled once (about 9 minutes on 2 cores) and
# the wheel is cached, keyed by the torch version; later runs take seconds.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-python3}
VENV=${VENV:-$ROOT/.venv}
CACHE=${MMPOSE_LIGHT_CACHE:-$HOME/.cache/mmpose_light}
WITH_TESTS=0
WHEELS_DIR=
while [ $# -gt 0 ]; do
    case "$1" in
    --tests) WITH_TESTS=1 ;;
    --wheels)
        WHEELS_DIR=$(cd "$2" && pwd)
        shift
        ;;
    *)
        echo "usage: $0 [--tests] [--wheels DIR]" >&2
        exit 2
        ;;
    esac
    shift
done

say() { printf '[setup %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
pip_install() {
    # Drop pip's warnings about absent local index folders, and its report
    # of the requirements that are left out on purpose (--no-deps below:
    # xtcocotools' build-time cython, openmim's opendatalab): noise, not
    # errors.
    "$PY" -m pip install --disable-pip-version-check -q "$@" 2>&1 | {
        grep -v -e 'is ignored: it is neither a file nor a directory' \
            -e 'dependency resolver does not currently take into account' \
            -e 'requires cython' -e 'requires opendatalab' || true
    }
    return "${PIPESTATUS[0]}"
}
PIP=(pip_install)

if "$PY" -c 'import torch' 2>/dev/null; then
    say "keeping installed torch $("$PY" -c 'import torch; print(torch.__version__)')"
else
    say "installing torch==2.13.0 (CPU build)"
    "${PIP[@]}" torch==2.13.0
fi
# -W ignore: torch warns when numpy is not installed yet
TORCH_VERSION=$("$PY" -W ignore -c 'import torch; print(torch.__version__)')
WHEELS="$CACHE/wheels/torch-$TORCH_VERSION"
mkdir -p "$WHEELS"

say "runtime requirements"
"${PIP[@]}" -r "$ROOT/requirements.txt"

# The builds below need setuptools < 70 (mmcv's setup.py imports
# pkg_resources in a way newer ones break); installed only when building, and
# after the requirements, which may upgrade setuptools.
build_tools() {
    say "build tools (setuptools<70, wheel, cython)"
    "${PIP[@]}" 'setuptools<70' wheel cython 2>&1 \
        | { grep -v -e 'dependency resolver' -e 'requires setuptools' || true; }
}
if ! ls "$WHEELS"/mmcv-2.1.0-*.whl >/dev/null 2>&1; then
    build_tools
    say "building mmcv 2.1.0 with CPU ops: first run only, about 9 minutes"
    say "full log: $WHEELS/mmcv-build.log"
    start=$SECONDS
    # Progress: ninja's [done/total] counter, with the elapsed time.
    MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} "$PY" -m pip wheel -v --no-deps \
        --no-build-isolation --disable-pip-version-check mmcv==2.1.0 \
        -w "$WHEELS" 2>&1 | tee "$WHEELS/mmcv-build.log" | {
        last=
        while IFS= read -r line; do
            if [[ $line =~ ^[[:space:]]*\[([0-9]+/[0-9]+)\] ]] &&
                [ "${BASH_REMATCH[1]}" != "$last" ]; then
                last=${BASH_REMATCH[1]}
                printf '[setup] mmcv: compiled %s files, %ds\n' \
                    "$last" $((SECONDS - start))
            fi
        done
    }
    if ! ls "$WHEELS"/mmcv-2.1.0-*.whl >/dev/null 2>&1; then
        echo "mmcv build failed; see $WHEELS/mmcv-build.log" >&2
        exit 1
    fi
    say "mmcv built in $((SECONDS - start))s"
else
    say "using cached mmcv wheel from $WHEELS"
fi
"${PIP[@]}" --no-deps "$WHEELS"/mmcv-2.1.0-*.whl

# The PyPI wheel of xtcocotools is built against numpy 1 and fails on numpy 2.
if ! ls "$WHEELS"/xtcocotools-1.14.3-*.whl >/dev/null 2>&1; then
    build_tools
    say "building xtcocotools 1.14.3 against the installed numpy"
    "$PY" -m pip wheel -q --no-deps --no-binary xtcocotools \
        --no-build-isolation --disable-pip-version-check \
        xtcocotools==1.14.3 -w "$WHEELS"
fi
"${PIP[@]}" --no-deps "$WHEELS"/xtcocotools-1.14.3-*.whl
# torch 2.13 asks for setuptools >= 77.0.3 and mmengine imports pkg_resources
# at run time, which setuptools 81 dropped.
"${PIP[@]}" 'setuptools>=77.0.3,<81'

# mmpose's metadata asks for chumpy (does not build) and torchvision (pulls a
# CUDA torch); requirements.txt lists what it really imports.
# mmpose.models imports mmdet (RTMO head); mmdet's own metadata would pull
# mmcv and torch again, so it is installed without dependencies too.
say "mmpose 1.3.2, mmdet 3.3.0, mmpose_light and its runtime"
"${PIP[@]}" --no-deps mmpose==1.3.2 mmdet==3.3.0
if [ -n "$WHEELS_DIR" ]; then
    # as from a package index: the plugin's wheel requires the runtime's by
    # name and version, which pip takes from the same folder
    "${PIP[@]}" "$WHEELS_DIR"/mmpose_light_runtime-*.whl
    "${PIP[@]}" "$WHEELS_DIR"/mmpose_light-*.whl
else
    # the torch-free runtime (runtime/) is a distribution of its own, which
    # the training side imports; its requirements are in requirements.txt
    "${PIP[@]}" --no-deps -e "$ROOT/runtime"
    "${PIP[@]}" --no-deps -e "$ROOT"
fi
if [ "$WITH_TESTS" = 1 ]; then
    "${PIP[@]}" -r "$ROOT/requirements/tests.txt"
    # rtmlib, the runtime that tools/benchmarks/rtmlib_compare.py and its
    # test measure ours against; its metadata asks for opencv-python and
    # opencv-contrib-python, which would clash with the headless OpenCV
    "${PIP[@]}" --no-deps rtmlib==0.0.16
    # the ncnn engine and its converter (tools/export_ncnn.py): pnnx's
    # metadata asks for an unpinned torch, which its binary does not need
    "${PIP[@]}" ncnn==1.0.20261020
    "${PIP[@]}" --no-deps pnnx==20261020
    # mmpose-light-runtime-batch --engine ray and its benchmark
    "${PIP[@]}" ray==2.60.0
    # mim (train, test, search); openmim's own dependency opendatalab would
    # downgrade setuptools below what torch asks for, so it is left out
    "${PIP[@]}" --no-deps openmim==0.3.9
    "${PIP[@]}" Click colorama model-index pandas requests rich tabulate
    # the tests' reference for published ImageNet checkpoint layouts; its
    # metadata asks for torchvision, which would pull a CUDA torch, and its
    # backbones import without it (tests/helpers.py)
    "${PIP[@]}" --no-deps mmpretrain==1.2.0
fi
"$PY" -c 'import mmpose_light, mmpose, mmcv, torch; print("[setup] ready: torch", torch.__version__, "mmcv", mmcv.__version__, "mmpose", mmpose.__version__)'
