"""The runtime's command line, runnable from a clone without installing.

    python tools/ort_inference.py MODEL.onnx INPUT [--out OUT] [--json J]
        [--det-file DETS.json | --det-model DET.onnx] ...

is ``mmpose-light-runtime`` (``python -m mmpose_light_runtime``): pose on an
image, a folder, a video or a camera with numpy, OpenCV and ONNX Runtime.
See ``--help``.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                            'runtime'))

from mmpose_light_runtime.cli import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
