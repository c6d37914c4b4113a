"""Test a pose model: MMPose's ``tools/test.py`` with mmpose_light loaded.

Takes exactly the arguments of MMPose's tool (``--help`` lists them) and
works from a clone without installing mmpose_light. On a machine without CUDA,
``--launcher pytorch`` (see ``tools/dist_train.sh``) uses the gloo backend.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmpose_light  # noqa: E402,F401  (compat fixes and registration)
from mmpose_light.utils import run_stock_tool  # noqa: E402

if __name__ == '__main__':
    run_stock_tool('test.py', sys.argv[1:])
