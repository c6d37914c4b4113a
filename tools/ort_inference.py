"""Top-down pose estimation on one image with ONNX Runtime.

Usage::

    python tools/ort_inference.py MODEL.onnx IMAGE \\
        (--bboxes X1,Y1,X2,Y2 [X1,Y1,X2,Y2 ...] |
         --det-file COCO_DET.json [--image-id ID] [--det-score-thr THR]) \\
        [--out OUT.json] [--no-nms] [--nms-kernel K] [--nms-sigma S]
        [--nms-score-thr T] [--num-threads N]

MODEL.onnx comes from ``tools/export_onnx.py``. The person boxes are given
on the command line or read from a COCO detection result file (a list of
``{"image_id", "bbox": [x, y, w, h], "score", "category_id"}``); without
``--image-id`` the image id is the file's only one, or else the number in the
image's file name (``000000000785.jpg`` is 785). The poses, after
Matrix-OKS-NMS, are printed as JSON, or written atomically to ``--out``.
"""
import argparse
import json
import os
import os.path as osp
import sys
import tempfile
from typing import Any, List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import numpy as np  # noqa: E402

from mmpose_light.deploy.ort_inference import (  # noqa: E402
    OrtTopdownEstimator, read_image)
from mmpose_light.utils.detections import load_person_detections  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Top-down pose estimation with ONNX Runtime')
    parser.add_argument('onnx', help='ONNX file from tools/export_onnx.py')
    parser.add_argument('image', help='image file')
    boxes = parser.add_mutually_exclusive_group(required=True)
    boxes.add_argument('--bboxes',
                       nargs='+',
                       metavar='X1,Y1,X2,Y2',
                       help='person boxes in pixels, corners (x1, y1, x2, y2)')
    boxes.add_argument('--det-file', help='COCO detection results (JSON list)')
    parser.add_argument('--image-id',
                        type=int,
                        default=None,
                        help='image id in --det-file (default: inferred)')
    parser.add_argument(
        '--det-score-thr',
        type=float,
        default=0.0,
        help='keep detections scored at least this (default: 0.0)')
    parser.add_argument('--out', help='write the JSON here, not to stdout')
    parser.add_argument('--no-nms',
                        action='store_true',
                        help='skip Matrix-OKS-NMS')
    parser.add_argument('--nms-kernel',
                        choices=['gaussian', 'linear'],
                        default='gaussian',
                        help='Matrix-OKS-NMS decay kernel (default: gaussian)')
    parser.add_argument('--nms-sigma',
                        type=float,
                        default=2.0,
                        help='gaussian kernel parameter (default: 2.0)')
    parser.add_argument(
        '--nms-score-thr',
        type=float,
        default=0.0,
        help='drop poses whose decayed score is below this (default: 0.0)')
    parser.add_argument('--num-threads',
                        type=int,
                        default=None,
                        help='ONNX Runtime intra-op threads')
    return parser.parse_args(argv)


def parse_bboxes(texts: List[str]) -> np.ndarray:
    """``['x1,y1,x2,y2', ...]`` to an (N, 4) array."""
    boxes = []
    for text in texts:
        try:
            box = [float(v) for v in text.split(',')]
        except ValueError:
            box = []
        if len(box) != 4:
            raise ValueError('--bboxes takes boxes as X1,Y1,X2,Y2, but got '
                             f'{text!r}')
        boxes.append(box)
    return np.array(boxes, dtype=np.float64)


def dump_json_atomic(obj: Any, path: str) -> None:
    """Write ``obj`` as JSON to ``path`` through a temporary file."""
    out_dir = osp.dirname(osp.abspath(path))
    if not osp.isdir(out_dir):
        raise FileNotFoundError(f'output folder {out_dir!r} does not exist')
    fd, tmp = tempfile.mkstemp(suffix='.json.tmp', prefix='.', dir=out_dir)
    try:
        with os.fdopen(fd, 'w') as f:
            json.dump(obj, f, indent=1)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def main(argv: Optional[List[str]] = None) -> dict:
    """Run the tool; returns the JSON-ready result."""
    args = parse_args(argv)
    if args.bboxes is None and args.image_id is not None \
            and args.det_file is None:
        raise ValueError('--image-id needs --det-file')
    image = read_image(args.image)
    image_id = None
    if args.bboxes is not None:
        bboxes = parse_bboxes(args.bboxes)
        bbox_scores = None
    else:
        bboxes, bbox_scores, image_id = load_person_detections(
            args.det_file, args.image, args.image_id, args.det_score_thr)
    estimator = OrtTopdownEstimator(args.onnx, num_threads=args.num_threads)
    nms = None if args.no_nms else dict(kernel=args.nms_kernel,
                                        sigma=args.nms_sigma,
                                        score_thr=args.nms_score_thr)
    pred = estimator.predict(image, bboxes, bbox_scores, nms=nms)

    instances = [
        dict(input_index=int(pred['keep'][i]),
             bbox=pred['bboxes'][i].tolist(),
             bbox_score=float(pred['bbox_scores'][i]),
             score=float(pred['scores'][i]),
             keypoints=pred['keypoints'][i].tolist(),
             keypoint_scores=pred['keypoint_scores'][i].tolist())
        for i in range(len(pred['keep']))
    ]
    result = dict(
        image=args.image,
        image_id=image_id,
        onnx=args.onnx,
        keypoint_names=estimator.dataset_meta.get('keypoint_id2name'),
        instances=instances)
    if args.out:
        dump_json_atomic(result, args.out)
        print(f'{len(instances)} pose(s) of {len(bboxes)} box(es) written '
              f'to {args.out}')
    else:
        print(json.dumps(result, indent=1))
    return result


if __name__ == '__main__':
    try:
        main()
    except (FileNotFoundError, ValueError, TypeError) as error:
        sys.exit(f'ort_inference.py: error: {error}')
