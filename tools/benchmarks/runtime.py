"""Benchmark the runtime: all crops of a frame in one batch against a loop
that runs the same ONNX model one crop at a time (as rtmlib does).

Usage::

    python tools/benchmarks/runtime.py [--people 1 5 20] [--rounds 20]
        [--threads 1] [--models NAME ...]

Per frame of the sample image 000000196141.jpg (already decoded: reading
and drawing are left out), with 1, 5 and 20 person boxes (the sample's
boxes, repeated with small shifts where more are needed): crops and
normalisation, the network, decoding and Matrix-OKS-NMS, for MobilePoseNet,
deployed RepNet-A and RTMPose-t of ``benchlib``'s model
table exported to ONNX (random weights: speed does not depend on them).
Times are medians of rounds in which every candidate runs once in turn
(``benchlib.compare_latency``); only the ratios measured in
this one run mean anything. The stage split of the batched runtime shows
where pre- and post-processing take more than 20% of the frame.
"""
import argparse
import os.path as osp
import sys
import tempfile
import time
from typing import Callable, Dict, List

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

import mmpose_light  # noqa: E402,F401
from benchlib import (SAMPLE_DIR, build_model,  # noqa: E402
                      compare_latency, export_model,
                      markdown_table)
from mmpose_light_runtime import (DetectionFile, PosePipeline,  # noqa: E402
                                  PoseResult, TopdownEstimator, read_image)
from mmpose_light_runtime.estimator import make_result  # noqa: E402
from mmpose_light_runtime.timing import format_cpu_info  # noqa: E402

# table label to the benchmark suite's model name
MODELS = {
    'MobilePoseNet': 'MobilePoseNet-256x192-deploy',
    'RepNet-A (deployed)': 'RepNet-A-deploy',
    'RTMPose-t': 'RTMPose-t',
}
SAMPLE = osp.join(SAMPLE_DIR, 'coco')
IMAGE = osp.join(SAMPLE, '000000196141.jpg')
DETS = osp.join(SAMPLE, 'test_coco_det_AP_H_56.json')


def person_boxes(num: int) -> np.ndarray:
    """``num`` boxes of the sample image: its detections, then shifted
    copies."""
    boxes, _ = DetectionFile(DETS, score_thr=0.3)(None, 196141)
    rng = np.random.default_rng(0)
    out = [boxes[i % len(boxes)] for i in range(num)]
    shifts = rng.uniform(-8, 8, (num, 2))
    shifts[:len(boxes)] = 0
    return np.array(out) + np.tile(shifts, 2)


def export(label: str, folder: str) -> str:
    model, hw = build_model(MODELS[label])
    path = osp.join(folder, f'{label.split()[0]}.onnx')
    export_model(model, hw, path)
    return path


class Loop:
    """rtmlib's way: one crop at a time through the network."""

    def __init__(self, estimator: TopdownEstimator) -> None:
        self.estimator = estimator

    def predict(self, image, bboxes, bbox_scores=None):
        results = [
            self.estimator.predict(image, bboxes[i:i + 1],
                                   None if bbox_scores is None else
                                   bbox_scores[i:i + 1])
            for i in range(len(bboxes))
        ]
        return PoseResult.concatenate(results)

    def __getattr__(self, name):
        return getattr(self.estimator, name)


def stage_split(estimator: TopdownEstimator, image: np.ndarray,
                boxes: np.ndarray, rounds: int) -> Dict[str, float]:
    """Median ms of preprocessing, network and decoding + NMS."""
    pipeline = PosePipeline(estimator, lambda _: boxes)
    times = {'pre': [], 'network': [], 'post': []}
    for _ in range(rounds):
        t0 = time.perf_counter()
        inputs, centers, scales = estimator.preprocess(image, boxes)
        t1 = time.perf_counter()
        outputs = estimator.infer(inputs)
        t2 = time.perf_counter()
        keypoints, scores = estimator.decode(outputs, centers, scales)
        pipeline.suppress(
            make_result(keypoints, scores, boxes, np.ones(len(boxes)),
                        estimator.meta))
        t3 = time.perf_counter()
        times['pre'].append(t1 - t0)
        times['network'].append(t2 - t1)
        times['post'].append(t3 - t2)
    return {k: float(np.median(v)) * 1e3 for k, v in times.items()}


def main(argv: List[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--people', type=int, nargs='+', default=[1, 5, 20])
    parser.add_argument('--rounds', type=int, default=20)
    parser.add_argument('--threads', type=int, default=1,
                        help='ONNX Runtime intra-op threads (default: 1)')
    parser.add_argument('--models', nargs='+', default=list(MODELS),
                        choices=list(MODELS))
    args = parser.parse_args(argv)
    print(format_cpu_info(threads=args.threads))
    image = read_image(IMAGE)
    print(f'# Runtime per frame, ONNX Runtime {args.threads} thread(s), '
          f'median ms of {args.rounds} interleaved rounds\n')
    rows, splits = [], []
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models:
            print(f'exporting {name} ...', file=sys.stderr)
            path = export(name, folder)
            estimator = TopdownEstimator(path, num_threads=args.threads)
            loop = Loop(TopdownEstimator(path, num_threads=args.threads))
            for num in args.people:
                boxes = person_boxes(num)
                candidates: Dict[str, Callable] = {}
                for label, model in (('batched', estimator), ('loop', loop)):
                    pipeline = PosePipeline(model, lambda _, b=boxes: b)
                    candidates[label] = lambda p=pipeline: p(image)
                times = compare_latency(
                    candidates, rounds=args.rounds, threads=None)
                rows.append((name, num, times['batched'], times['loop']))
                split = stage_split(estimator, image, boxes, args.rounds)
                splits.append((name, num, split))
    print(markdown_table(
        ('model', 'people', 'batched ms', 'loop ms', 'batched / loop'),
        [(name, str(num), f'{batched:.1f}', f'{loop_ms:.1f}',
          f'{batched / loop_ms:.2f}')
         for name, num, batched, loop_ms in rows]))
    print('\n## Where the batched frame goes (median ms; pre = crops and '
          'normalisation, post = decoding and NMS)\n')
    lines = []
    for name, num, split in splits:
        share = (split['pre'] + split['post']) / sum(split.values())
        lines.append((name, str(num), f'{split["pre"]:.2f}',
                      f'{split["network"]:.1f}', f'{split["post"]:.2f}',
                      f'{share:.0%}' + (' (> 20%)' if share > 0.2 else '')))
    print(markdown_table(('model', 'people', 'pre', 'network', 'post',
                          'pre + post share'), lines))
    return 0


if __name__ == '__main__':
    sys.exit(main())
