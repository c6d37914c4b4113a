"""Export an MMDetection person detector to ONNX for the runtime, without
MMDeploy.

Usage::

    python tools/export_detector.py CONFIG CHECKPOINT OUT.onnx \\
        [--images IMG_OR_DIR ...] [--input-size SIZE] [--score-thr 0.3] \\
        [--opset N] [--cfg-options KEY=VALUE ...]

RTMDet and YOLOX detectors work (MMDetection's stock configs and MMPose's
person detector configs); an 80-class COCO detector keeps its person label
only. The file embeds what the runtime's ``--det-model`` needs (input size,
letterbox, mean/std, channel order, score threshold, NMS settings). Before
the file is written, the runtime's person boxes on ``--images`` (default:
the bundled sample images) are compared with MMDetection's own inference:
beyond ``--rel-tol`` (default ``1e-3``) relative error, or with another
number of boxes, the tool fails and writes nothing. The output is written
atomically.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

import mmpose_light  # noqa: E402,F401  (compat fixes and registration)
from mmpose_light.deploy import (DETECTOR_REL_TOL,  # noqa: E402
                                 export_detector, init_person_detector)
from mmpose_light.deploy.tool_args import (  # noqa: E402
    add_export_options, check_export_paths, export_parser)

SAMPLE_IMAGES = osp.join(ROOT, 'data', 'sample', 'coco')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = export_parser(
        'Export an MMDetection person detector (RTMDet, YOLOX) to ONNX and '
        'check it against MMDetection', 'MMDetection config file')
    parser.add_argument(
        '--images',
        nargs='+',
        default=[SAMPLE_IMAGES],
        help='images or folders to check the export on (default: the '
        'bundled sample images)')
    parser.add_argument(
        '--input-size',
        type=int,
        default=None,
        help='square network input size; defaults to the test pipeline\'s '
        'Resize scale')
    parser.add_argument(
        '--score-thr',
        type=float,
        default=0.3,
        help='the runtime\'s default person score threshold (default: '
        '0.3)')
    add_export_options(parser, rel_tol=DETECTOR_REL_TOL,
                       reference='MMDetection')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> dict:
    """Run the tool; returns :func:`export_detector`'s result."""
    args = parse_args(argv)
    check_export_paths(args)
    if args.input_size is not None and args.input_size < 1:
        raise ValueError('--input-size should be a positive int, but got '
                         f'{args.input_size}')
    model = init_person_detector(args.config,
                                 args.checkpoint,
                                 device=args.device,
                                 cfg_options=args.cfg_options)
    size = args.input_size
    result = export_detector(model,
                             args.out,
                             images=args.images,
                             input_size=None if size is None else (size,
                                                                   size),
                             score_thr=args.score_thr,
                             opset_version=args.opset,
                             rel_tol=args.rel_tol)
    width, height = result['meta']['input_size']
    print(f'exported {args.out} (input 1x3x{height}x{width}; outputs boxes, '
          'person scores)')
    check = result['check']
    print(f'runtime vs MMDetection on {len(args.images)} image path(s): '
          f'{check["boxes"]} person boxes, max relative error of boxes '
          f'{check["box_rel_err"]:.3g}, of scores '
          f'{check["score_rel_err"]:.3g}')
    return result


if __name__ == '__main__':
    try:
        main()
    except (FileNotFoundError, ValueError, TypeError, RuntimeError) as error:
        sys.exit(f'export_detector.py: error: {error}')
