"""Test a pose model: MMPose's ``tools/test.py`` with mmpose_light loaded.

Takes exactly the arguments of MMPose's tool (``--help`` lists them); the
config may also be the name of a shipped one (``python -m
mmpose_light.configs`` lists them). Installed, this file is
``mmpose_light/.mim/tools/test.py``, which ``mim test mmpose_light`` runs;
from a clone it also works without installing mmpose_light. On a machine
without CUDA, ``--launcher pytorch`` (see ``tools/dist_test.sh``) uses the
gloo backend.
"""
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if osp.isdir(osp.join(ROOT, 'mmpose_light')):  # run from a clone
    sys.path.insert(0, ROOT)

import mmpose_light  # noqa: E402,F401  (compat fixes and registration)
from mmpose_light.configs import ConfigNotFoundError  # noqa: E402
from mmpose_light.utils import run_stock_tool  # noqa: E402

if __name__ == '__main__':
    try:
        run_stock_tool('test.py', sys.argv[1:])
    except ConfigNotFoundError as e:
        sys.exit(f'error: {e}')
