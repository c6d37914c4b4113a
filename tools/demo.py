"""Draw the poses a top-down model finds in an image, a folder, a video or a
camera, with PyTorch or with the runtime.

    python tools/demo.py CONFIG CHECKPOINT INPUT --out OUT [--json OUT.json]
        [--det-file DETS.json | --det-model DET.onnx
         | --det-config DET_CONFIG --det-checkpoint DET_CHECKPOINT]
        [--det-interval N] [--track] [--flip-test] [--nms KERNEL] ...

CHECKPOINT is a PyTorch checkpoint, run with MMPose's ``inference_topdown``,
or an ONNX file from ``tools/export_onnx.py``, run with the runtime
(``mmpose_light_runtime``, where CONFIG is not read). Everything else is the
runtime's command line (``mmpose-light-runtime``): the same person boxes,
Matrix-OKS-NMS, tracking, drawing and outputs for both; this tool adds an
MMDetection detector as a source of boxes.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmpose_light_runtime import TopdownEstimator  # noqa: E402
from mmpose_light_runtime.cli import (add_pipeline_arguments,  # noqa: E402
                                      run)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='.pth checkpoint or .onnx file')
    add_pipeline_arguments(parser)
    parser.add_argument('--det-config', help='MMDetection config')
    parser.add_argument('--det-checkpoint', help='MMDetection checkpoint')
    parser.add_argument('--device', default='cpu', help='torch device')
    return parser.parse_args(argv)


class MMDetDetector:
    """Person boxes from an MMDetection model (COCO label 0)."""

    def __init__(self, config: str, checkpoint: str, device: str,
                 score_thr: float) -> None:
        from mmdet.apis import init_detector
        self.detector = init_detector(config, checkpoint, device=device)
        self.score_thr = score_thr

    def __call__(self, image: np.ndarray) -> np.ndarray:
        from mmdet.apis import inference_detector
        pred = inference_detector(self.detector,
                                  image).pred_instances.cpu().numpy()
        keep = (pred.labels == 0) & (pred.scores >= self.score_thr)
        return np.concatenate([pred.bboxes[keep], pred.scores[keep, None]],
                              axis=1)


def build_estimator(args: argparse.Namespace):
    """The runtime for an ONNX file, MMPose's PyTorch model otherwise."""
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(
            f'checkpoint {args.checkpoint!r} does not exist')
    if args.checkpoint.endswith('.onnx'):
        return TopdownEstimator(
            args.checkpoint,
            num_threads=args.num_threads,
            flip_test=args.flip_test)
    from mmpose_light.apis import TorchTopdownEstimator
    return TorchTopdownEstimator(
        args.config,
        args.checkpoint,
        device=args.device,
        flip_test=args.flip_test)


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    detector = None
    if args.det_config or args.det_checkpoint:
        if args.det_file or args.det_model:
            raise ValueError('give one source of person boxes: --det-file, '
                             '--det-model or --det-config')
        if not (args.det_config and args.det_checkpoint):
            raise ValueError('--det-config needs --det-checkpoint')
        detector = MMDetDetector(args.det_config, args.det_checkpoint,
                                 args.device, args.det_score_thr)
    return run(args, build_estimator(args), detector)


if __name__ == '__main__':
    try:
        main()
    except (FileNotFoundError, ValueError, TypeError) as error:
        sys.exit(f'demo.py: error: {error}')
