#!/usr/bin/env bash
# Build the wheel and the sdist of both distributions into dist/:
#   tools/build_dists.sh [PYTHON]
# mmpose-light from the repository root, mmpose-light-runtime from runtime/.
# PYTHON (default: .venv/bin/python) needs the `build` package
# (requirements/tests.txt); each build runs in its own isolated environment.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${1:-$ROOT/.venv/bin/python}
DIST=$ROOT/dist
rm -rf "$DIST" "$ROOT/build" "$ROOT/runtime/build"
for src in "$ROOT/runtime" "$ROOT"; do
    "$PY" -m build --outdir "$DIST" "$src" >"$DIST.log" 2>&1 || {
        cat "$DIST.log" >&2
        exit 1
    }
done
rm -f "$DIST.log"
rm -rf "$ROOT/build" "$ROOT/runtime/build"
ls -l "$DIST"
