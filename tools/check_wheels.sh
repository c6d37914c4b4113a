#!/usr/bin/env bash
# Check both distributions as a user gets them, not as the clone holds them:
#   tools/check_wheels.sh
# 1. builds the wheels and sdists (tools/build_dists.sh);
# 2. makes a fresh environment (.venv-wheels; WHEELS_VENV moves it) with the
#    OpenMMLab stack (cached mmcv wheel) and both wheels, not editable;
# 3. installs the runtime's wheel alone into another fresh environment
#    (.venv-runtime-wheel) and checks that it runs without PyTorch;
# 4. runs tests/installed from an empty folder, where nothing of the clone
#    is on sys.path: mim train / test / search, a user config inheriting a
#    shipped one, the metadata of the wheels.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${WHEELS_VENV:-$ROOT/.venv-wheels}
RT_VENV=${RUNTIME_WHEEL_VENV:-$ROOT/.venv-runtime-wheel}
PYTHON=${PYTHON:-python3}
say() { printf '[check-wheels %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

say "building the distributions"
"$ROOT/tools/build_dists.sh"
say "fresh environment $VENV with the wheels"
rm -rf "$VENV"
VENV="$VENV" "$ROOT/tools/setup_env.sh" --tests --wheels "$ROOT/dist"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

say "the runtime's wheel alone in $RT_VENV"
rm -rf "$RT_VENV"
"$PYTHON" -m venv "$RT_VENV"
"$RT_VENV/bin/python" -m pip install --disable-pip-version-check -q \
    "$ROOT"/dist/mmpose_light_runtime-*.whl 2>&1 \
    | { grep -v 'is ignored: it is neither a file nor a directory' || true; }
"$RT_VENV/bin/python" - <<'PY'
import importlib.util
import sys

import mmpose_light_runtime

# the optional engines (ncnn, OpenVINO) and pnnx stay out of the plain
# install
for name in ('torch', 'mmcv', 'mmengine', 'mmpose', 'mmpose_light', 'ncnn',
             'pnnx', 'openvino'):
    assert importlib.util.find_spec(name) is None, f'{name} is installed'
assert 'site-packages' in mmpose_light_runtime.__file__
print('runtime', mmpose_light_runtime.__version__, 'without torch:',
      sys.prefix)
PY
"$RT_VENV/bin/mmpose-light-runtime" --help >/dev/null
# the pose page ships in the runtime wheel: every module it imports is there
"$RT_VENV/bin/mmpose-light-runtime" serve --write-site "$WORK/site" \
    > /dev/null
"$RT_VENV/bin/python" - "$WORK/site" <<'PY'
import json
import os.path as osp
import re
import sys

site = sys.argv[1]
assert osp.isfile(osp.join(site, 'index.html'))
for name in ['app.js'] + re.findall(r'src="([^"]+\.js)"', open(
        osp.join(site, 'index.html')).read()):
    for imported in re.findall(r"from '\./([\w.]+)'",
                               open(osp.join(site, name)).read()):
        assert osp.isfile(osp.join(site, imported)), (name, imported)
config = json.load(open(osp.join(site, 'config.json')))
assert config['ort'].startswith('https://cdn.jsdelivr.net/'), config
print('runtime wheel ships the pose page')
PY
say "runtime wheel: $(du -sh "$RT_VENV" | cut -f1) installed"
say "tests/installed, from the empty folder $WORK"
MMPOSE_LIGHT_DIST="$ROOT/dist" "$VENV/bin/python" -m pytest \
    "$ROOT/tests/installed" -p no:cacheprovider --rootdir "$WORK" \
    --confcutdir "$ROOT/tests/installed" -q
