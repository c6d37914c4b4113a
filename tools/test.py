"""Test a pose model: MMPose's ``tools/test.py`` with mmpose_light loaded.

Same arguments as MMPose's tool (``--help``); see
:mod:`mmpose_light.utils.stock_tools`.
"""
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if osp.isdir(osp.join(ROOT, 'mmpose_light')):  # run from a clone
    sys.path.insert(0, ROOT)

from mmpose_light.utils.stock_tools import tool_main  # noqa: E402

if __name__ == '__main__':
    tool_main('test.py')
