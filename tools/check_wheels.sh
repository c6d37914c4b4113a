#!/usr/bin/env bash
# Check both distributions as a user gets them, not as the clone holds them:
#   tools/check_wheels.sh
# 1. builds the wheels and sdists (tools/build_dists.sh);
# 2. makes a fresh environment (.venv-wheels; WHEELS_VENV moves it) with the
#    OpenMMLab stack (cached mmcv wheel) and both wheels, not editable;
# 3. runs tests/installed from an empty folder, where nothing of the clone
#    is on sys.path: mim train / test / search, a user config inheriting a
#    shipped one, the metadata of the wheels.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${WHEELS_VENV:-$ROOT/.venv-wheels}
say() { printf '[check-wheels %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

say "building the distributions"
"$ROOT/tools/build_dists.sh"
say "fresh environment $VENV with the wheels"
rm -rf "$VENV"
VENV="$VENV" "$ROOT/tools/setup_env.sh" --tests --wheels "$ROOT/dist"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
say "tests/installed, from the empty folder $WORK"
MMPOSE_LIGHT_DIST="$ROOT/dist" "$VENV/bin/python" -m pytest \
    "$ROOT/tests/installed" -p no:cacheprovider --rootdir "$WORK" \
    --confcutdir "$ROOT/tests/installed" -q
