"""Quantize an exported pose model to INT8 and measure what it costs.

Usage::

    python tools/quantize.py MODEL.onnx OUT.onnx --calib IMAGES [IMAGES ...]
        [--det-file DETS.json] [--float-nodes auto | none | NODE ...]
        [--weight-bits auto | 8 | 7]
        [--eval IMAGES ...] [--eval-det-file DETS.json] [--eval-ann ANN.json]
        [--openvino] [--threads 1] [--rounds 20]

Calibrates on the person crops of ``--calib`` (boxes from ``--det-file``,
else the whole frame), made as the runtime makes them, and writes the INT8
model with the float model's metadata (atomically): the runtime and the
``mmpose-light-runtime`` command run it unchanged. See
``mmpose_light_runtime.quantize.quantize_model``.

With ``--eval`` (images the calibration did not see; the tool refuses an
overlap), it prints, for ONNX Runtime float and INT8 (and OpenVINO float
and INT8 with ``--openvino``):

- speed at batch 1 and 8, timed interleaved in one run;
- fidelity against ONNX Runtime float on the same boxes: keypoint distance
  in pixels (mean, 95th percentile, max), OKS between the two poses (mean,
  min) and the relative error of the network outputs;
- with ``--eval-ann``, COCO keypoint AP of each, after the same
  Matrix-OKS-NMS (needs xtcocotools or pycocotools).

Needs the runtime and the ``onnx`` package
(``pip install "mmpose-light-runtime[quantize]"``); not PyTorch.
"""
import argparse
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence

import numpy as np

sys.path.insert(0, osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                            'runtime'))

from mmpose_light_runtime import (DetectionFile, PosePipeline,  # noqa: E402
                                  TopdownEstimator, open_source)
from mmpose_light_runtime.detectors import as_detector  # noqa: E402
from mmpose_light_runtime.quantize import (coco_api,  # noqa: E402
                                           coco_keypoint_ap, compare_poses,
                                           quantize_model)
from mmpose_light_runtime.timing import (compare_latency,  # noqa: E402
                                         format_cpu_info)

#: The candidates, as (key, label, file: 'float' or 'int8', backend).
CANDIDATES = (('ort', 'ONNX Runtime float', 'float', 'onnxruntime'),
              ('ort_int8', 'ONNX Runtime INT8', 'int8', 'onnxruntime'),
              ('ov', 'OpenVINO float', 'float', 'openvino'),
              ('ov_int8', 'OpenVINO INT8', 'int8', 'openvino'))
#: Fidelity comparisons, as (candidate, reference).
COMPARISONS = (('ort_int8', 'ort'), ('ov', 'ort'), ('ov_int8', 'ort_int8'),
               ('ov_int8', 'ort'))
SPEED_BATCHES = (1, 8)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Quantize an exported pose model to INT8 (ONNX Runtime '
        'static QDQ, calibrated on person crops) and measure speed and '
        'fidelity on held-out images')
    parser.add_argument('model', help='float ONNX file from '
                        'tools/export_onnx.py')
    parser.add_argument('out', help='the INT8 ONNX file to write')
    parser.add_argument(
        '--calib',
        nargs='+',
        required=True,
        metavar='IMAGES',
        help='calibration images: image files and folders')
    parser.add_argument(
        '--det-file',
        help='COCO detection results with the person boxes of the '
        'calibration images (default: the whole frame)')
    parser.add_argument(
        '--float-nodes',
        nargs='+',
        default=['auto'],
        metavar='NODE',
        help='nodes left in float: auto (the last weighted layer before '
        'each output), none, or node names (default: auto)')
    parser.add_argument(
        '--weight-bits',
        choices=['auto', '8', '7'],
        default='auto',
        help='weight range: 8 bits, 7 (cannot saturate on AVX2-only CPUs), '
        'or auto: both, keeping the one closer to the float model on the '
        'calibration crops (default: auto)')
    parser.add_argument(
        '--max-crops',
        type=int,
        default=256,
        help='the most calibration crops (default: %(default)s)')
    parser.add_argument(
        '--eval',
        nargs='+',
        metavar='IMAGES',
        help='held-out images and folders to measure speed and fidelity on')
    parser.add_argument(
        '--eval-det-file',
        help='person boxes of the --eval images (default: the whole frame)')
    parser.add_argument(
        '--eval-ann',
        help='COCO keypoint annotations of the --eval images: print COCO AP')
    parser.add_argument(
        '--det-score-thr',
        type=float,
        default=0.,
        help='keep boxes of the detection files scored at least this '
        '(default: 0, all, as MMPose\'s COCO evaluation)')
    parser.add_argument(
        '--openvino',
        action='store_true',
        help='also measure OpenVINO on the float and INT8 files')
    parser.add_argument(
        '--threads',
        type=int,
        default=1,
        help='inference threads while measuring (default: 1)')
    parser.add_argument(
        '--rounds',
        type=int,
        default=20,
        help='timed rounds (default: %(default)s)')
    args = parser.parse_args(argv)
    if args.eval is None and (args.eval_det_file or args.eval_ann):
        parser.error('--eval-det-file and --eval-ann need --eval')
    if args.weight_bits != 'auto':
        args.weight_bits = int(args.weight_bits)
    if args.float_nodes == ['auto']:
        args.float_nodes = 'auto'
    elif args.float_nodes == ['none']:
        args.float_nodes = []
    for name in ('max_crops', 'threads', 'rounds'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1, got '
                         f'{getattr(args, name)}')
    return args


def image_files(specs: Sequence[str]) -> List[str]:
    """The image files of image files and folders."""
    return [
        osp.realpath(path) for spec in specs
        for path in open_source(spec).files or []
    ]


def detector(det_file: Optional[str], score_thr: float):
    return None if det_file is None else DetectionFile(det_file, score_thr)


def measure(args: argparse.Namespace, files: Dict[str, str]) -> dict:
    """Speed, fidelity and AP of every candidate on the --eval images."""
    keys = [c for c in CANDIDATES if args.openvino or c[3] != 'openvino']
    estimators = {
        key: TopdownEstimator(
            files[kind], backend=backend, num_threads=args.threads)
        for key, _, kind, backend in keys
    }
    boxes = detector(args.eval_det_file, args.det_score_thr)
    result = dict(fidelity={}, ap={})
    for cand, ref in COMPARISONS:
        if cand in estimators:
            result['fidelity'][cand, ref] = compare_poses(
                estimators[ref], estimators[cand], args.eval, boxes)

    # the held-out crops, repeated up to the largest batch
    crops = []
    for spec in args.eval:
        for frame in open_source(spec):
            bboxes, _ = as_detector(boxes)(frame.image, frame.image_id)
            if len(bboxes):
                crops.append(estimators['ort'].preprocess(
                    frame.image, bboxes)[0])
    crops = np.concatenate(crops)
    crops = np.resize(crops, (max(SPEED_BATCHES), ) + crops.shape[1:])
    candidates = {
        (key, batch): (lambda e=estimators[key], x=crops[:batch]:
                       e.backend.run(x))
        for key in estimators for batch in SPEED_BATCHES
    }
    result['ms'] = compare_latency(
        {f'{k}/{b}': fn for (k, b), fn in candidates.items()},
        rounds=args.rounds)

    if args.eval_ann:
        for key, estimator in estimators.items():
            pipeline = PosePipeline(estimator, boxes)
            poses = {
                frame.image_id: found
                for spec in args.eval
                for frame, found in pipeline.run(spec)
            }
            result['ap'][key] = coco_keypoint_ap(poses, args.eval_ann)
    result['labels'] = {key: label for key, label, _, _ in keys}
    return result


def markdown(header: Sequence[str], lines: List[Sequence[str]]) -> None:
    """Print a Markdown table (ready for a README)."""
    print('| ' + ' | '.join(header) + ' |')
    print('|' + '---|' * len(header))
    for line in lines:
        print('| ' + ' | '.join(line) + ' |')


def report(args: argparse.Namespace, result: dict) -> None:
    labels = result['labels']
    print(f'\nSpeed: {args.threads} thread(s), median ms of {args.rounds} '
          'interleaved rounds (this run only; x: ONNX Runtime float ms / '
          'ms)')
    ms = result['ms']
    lines = []
    for key, label in labels.items():
        line = [label]
        for batch in SPEED_BATCHES:
            t, ref = ms[f'{key}/{batch}'], ms[f'ort/{batch}']
            line += [f'{t:.1f}', f'{ref / t:.2f}']
        lines.append(line)
    markdown(['model'] + [
        f'{what} b{batch}' for batch in SPEED_BATCHES
        for what in ('ms', 'x')
    ], lines)

    first = next(iter(result['fidelity'].values()))
    print(f'\nFidelity on {first["num_poses"]} boxes of '
          f'{first["num_images"]} held-out image(s): candidate against '
          'reference, same crops (distances in pixels, OKS with the box '
          'area)')
    markdown(
        ('candidate', 'reference', 'mean px', 'p95 px', 'max px',
         'mean OKS', 'min OKS', 'output rel err'),
        [(labels[cand], labels[ref], f'{f["mean_distance"]:.3f}',
          f'{f["p95_distance"]:.3f}', f'{f["max_distance"]:.3f}',
          f'{f["mean_oks"]:.4f}', f'{f["min_oks"]:.4f}',
          f'{max(f["output_rel_err"]):.2e}')
         for (cand, ref), f in result['fidelity'].items()])
    if result['ap']:
        print(f'\nCOCO keypoint AP against {args.eval_ann} (same '
              'Matrix-OKS-NMS for all)')
        markdown(('model', 'AP', 'AP .5', 'AP .75', 'AR'),
                 [(labels[key], *(f'{v:.3f}' for v in ap.values()))
                  for key, ap in result['ap'].items()])


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    print(format_cpu_info(threads=args.threads))
    try:
        if args.eval_ann is not None:
            coco_api()  # fail before the long part
        if args.eval is not None:
            shared = sorted(
                set(image_files(args.calib)) & set(image_files(args.eval)))
            if shared:
                raise ValueError(
                    f'--eval shares {len(shared)} image(s) with --calib '
                    f'(e.g. {shared[0]!r}); measure on held-out images')
        info = quantize_model(
            args.model,
            args.out,
            args.calib,
            detector(args.det_file, args.det_score_thr),
            float_nodes=args.float_nodes,
            weight_bits=args.weight_bits,
            max_crops=args.max_crops)
        distances = ', '.join(f'{bits}-bit {d:.2f} px'
                              for bits, d in info['calib_distance'].items())
        print(f'Wrote {args.out}: calibrated on {info["num_crops"]} '
              f'crop(s); {info["num_quantized"]} weighted layers in INT8 '
              f'with {info["weight_bits"]}-bit weights (keypoints on the '
              f'calibration crops from the float ones: {distances}); kept '
              f'in float: {", ".join(info["float_nodes"]) or "none"}')
        if args.eval is None:
            return 0
        result = measure(args, {'float': args.model, 'int8': args.out})
    except (FileNotFoundError, ValueError, TypeError, ImportError) as error:
        print(f'quantize.py: error: {error}', file=sys.stderr)
        return 2
    report(args, result)
    return 0


if __name__ == '__main__':
    sys.exit(main())
