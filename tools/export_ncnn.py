"""Convert an exported ONNX file (pose model or person detector) to ncnn,
checked against ONNX Runtime.

Usage::

    python tools/export_ncnn.py MODEL.onnx [--out X] [--fp16] \\
        [--images IMG_OR_DIR ...] [--meta META.json] [--num-threads N]

Takes a file written by ``tools/export_onnx.py`` or
``tools/export_detector.py`` and writes ``X.ncnn.param``, ``X.ncnn.bin``
(fp32 weights, or fp16 with ``--fp16``) and ``X.ncnn.json``, the metadata
the runtime reads (``mmpose-light-runtime X.ncnn.param ...``). Before
anything is written, ncnn and ONNX Runtime run the same crops of
``--images`` (default: the bundled sample images) and are compared; beyond
the bounds, or when pnnx cannot convert an operator, the tool fails naming
the difference or the operator, and writes nothing. Needs pnnx (``pip
install --no-deps pnnx``), ncnn (``pip install
"mmpose-light-runtime[ncnn]"``) and onnx; no PyTorch. The same command
without the plugin: ``python -m mmpose_light_runtime.ncnn_export``.
"""
import os.path as osp
import sys

from mmpose_light_runtime.ncnn_export import main

SAMPLE_IMAGES = osp.join(
    osp.dirname(osp.dirname(osp.abspath(__file__))), 'data', 'sample',
    'coco')

if __name__ == '__main__':
    main(default_images=[SAMPLE_IMAGES])
    sys.exit(0)
