"""Benchmark Matrix-OKS-NMS against greedy OKS-NMS: MMPose's ``oks_nms``
and ``soft_oks_nms``, and a vectorised greedy baseline; speed on synthetic
pose sets and COCO AP on the bundled sample's redundant person detections.

Usage::

    python tools/benchmarks/pose_nms.py [--threads 1] [--noise 0.03 0.05]
        [--seeds 5] [--sigmas 0.5 1 2 4] [--skip-speed] [--skip-accuracy]

Speed: an image holds ``N`` poses of 17 keypoints, noisy copies of
``N / 10`` people (the bundled sample has 8.4 detections per person), spread
over a 2000 px image, and again crowded into 300 px, where no pair is far
enough apart to be skipped. What is timed is what users call:

- ``oks_nms`` / ``soft_oks_nms``: MMPose's, on the dict list that
  ``CocoMetric`` passes them (one ``oks_iou`` call, itself a Python loop
  over poses, per kept pose);
- greedy baseline: the fair one, in numpy on arrays: the OKS matrix at once
  (``oks_iou``'s formula, broadcast), then the greedy pass on the boolean
  matrix ``OKS > thr``;
- ``matrix_oks_nms`` on numpy arrays (float64), as the metrics and the
  runtime call it;
- ``matrix_oks_nms_db``: the exact ``oks_nms`` drop-in, on the dict list.

The candidates of a row are timed interleaved, round by round, in this one
run (``benchlib.compare_latency``; greedy Python loops get
fewer rounds): only the ratios mean anything, among them the two that the
speed goal is stated in (greedy baseline / matrix on numpy, lowest from
N = 10 and at N = 400; the goal and its verdict are in
docs/matrix_oks_nms.md). The kept sets of ``oks_nms``, the baseline and
the drop-in are compared too.

Accuracy: every detection of ``test_coco_det_AP_H_56.json`` gets the
keypoints of the annotated person its box overlaps most, plus gaussian noise
of ``--noise`` times the box size (seeded), unit keypoint scores (so its pose
score is its detection score), and the ``bbox_scales`` that MMPose's test
pipeline gives (padding 1.25, widened to 192:256); the metrics evaluate the
same predictions with each NMS.
"""
import argparse
import json
import os.path as osp
import sys
import time
from contextlib import redirect_stdout
from io import StringIO
from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

from mmpose.datasets.datasets.body import CocoDataset  # noqa: E402
from mmpose.datasets.datasets.utils import parse_pose_metainfo  # noqa: E402
from mmpose.evaluation.functional import oks_nms, soft_oks_nms  # noqa: E402
from mmpose.registry import METRICS  # noqa: E402
from mmpose.structures.bbox import (  # noqa: E402
    bbox_overlaps, bbox_xywh2xyxy)
from mmpose_light_runtime.preprocess import (  # noqa: E402
    bbox_xyxy_to_center_scale, fix_aspect_ratio, pose_areas)

import mmpose_light  # noqa: E402,F401
from mmpose_light.evaluation import (matrix_oks_nms,  # noqa: E402
                                     matrix_oks_nms_db)
from benchlib import compare_latency, markdown_table  # noqa: E402
from benchlib.report import cpu_name  # noqa: E402
from mmpose_light_runtime.timing import format_cpu_info  # noqa: E402

SAMPLE = osp.join(ROOT, 'data', 'sample', 'coco')
SIGMAS = parse_pose_metainfo(CocoDataset.METAINFO)['sigmas']
SIZES = (5, 10, 20, 50, 100, 400, 1000)
NMS_THR = 0.9  # CocoMetric's default
INPUT_SIZE = (192, 256)  # (w, h) of the COCO 256x192 configs


def pose_set(num: int, canvas: float = 2000.,
             seed: int = 0) -> Tuple[np.ndarray, ...]:
    """``num`` poses: noisy copies of ``num / 10`` random people."""
    rng = np.random.default_rng(seed)
    people = max(1, num // 10)
    centers = rng.uniform(0, canvas, (people, 1, 2))
    sizes = rng.uniform(50, 300, (people, 1, 1))
    bodies = centers + sizes * rng.uniform(-0.5, 0.5, (people, 17, 2))
    owner = np.arange(num) % people
    # each copy has its own noise level, as detections vary in overlap
    noise = rng.uniform(0.005, 0.05, (num, 1, 1)) * sizes[owner]
    kpts = bodies[owner] + noise * rng.standard_normal((num, 17, 2))
    kpt_scores = rng.uniform(0.1, 1, (num, 17))
    scores = rng.uniform(0.05, 1, num)
    areas = sizes[owner, 0, 0]**2 * rng.uniform(0.8, 1.2, num)
    return kpts, kpt_scores, scores, areas


def to_db(kpts, kpt_scores, scores, areas) -> List[dict]:
    return [
        dict(keypoints=np.concatenate([k, s[:, None]], -1), score=sc, area=a)
        for k, s, sc, a in zip(kpts, kpt_scores, scores, areas)
    ]


def greedy_oks_nms_baseline(kpts: np.ndarray,
                            scores: np.ndarray,
                            areas: np.ndarray,
                            thr: float,
                            sigmas: np.ndarray = SIGMAS) -> np.ndarray:
    """Greedy OKS-NMS as one would vectorise ``oks_nms`` in numpy: the OKS
    matrix at once with ``oks_iou``'s formula, then the greedy pass over
    the rows of ``OKS > thr``, skipping suppressed poses."""
    order = scores.argsort()[::-1]
    kpts, areas = kpts[order], areas[order]
    variances = (2 * sigmas)**2
    dist2 = ((kpts[:, None] - kpts[None])**2).sum(-1)
    scale = (areas[:, None] + areas[None]) / 2 + np.spacing(1)
    oks = np.exp(-dist2 / variances / scale[..., None] / 2).mean(-1)
    over = oks > thr
    suppressed = np.zeros(len(order), dtype=bool)
    keep = []
    for i in range(len(order)):
        if not suppressed[i]:
            keep.append(i)
            suppressed |= over[i]
    return order[keep]


def time_greedy_loops(candidates: Dict[str, Callable],
                      budget_s: float = 1.0) -> Dict[str, float]:
    """Median ms of slow candidates, with as many rounds as ``budget_s``
    allows after a first call (at least 1, at most 20)."""
    start = time.perf_counter()
    for fn in candidates.values():
        fn()
    first = time.perf_counter() - start
    rounds = int(min(20, max(1, budget_s / max(first, 1e-9))))
    return compare_latency(candidates, rounds=rounds, warmup=0, threads=None)


def speed_table(canvas: float, title: str) -> Dict[int, Dict[str, float]]:
    print(f'\n## Speed: {title} ({cpu_name()}, torch threads '
          f'{torch.get_num_threads()}, numpy {np.__version__}; K = 17, OKS '
          f'thr {NMS_THR}; median ms)\n')
    results = {}
    lines = []
    for num in SIZES:
        kpts, kpt_scores, scores, areas = pose_set(num, canvas)
        db = to_db(kpts, kpt_scores, scores, areas)
        # rounds enough for a stable median of calls well under 1 ms
        rounds = 400 if num <= 50 else 100 if num <= 100 else 20
        fast = compare_latency(
            {
                'baseline':
                lambda: greedy_oks_nms_baseline(kpts, scores, areas, NMS_THR),
                'matrix':
                lambda: matrix_oks_nms(kpts, kpt_scores, scores, areas),
                'db':
                lambda: matrix_oks_nms_db(db, NMS_THR, SIGMAS),
            },
            rounds=rounds,
            warmup=3,
            threads=None)
        slow = time_greedy_loops({
            'oks_nms':
            lambda: oks_nms(db, NMS_THR, SIGMAS),
            'soft':
            lambda: soft_oks_nms(db, NMS_THR, sigmas=SIGMAS),
        })
        t = dict(fast, **slow)
        kept = (oks_nms(db, NMS_THR, SIGMAS),
                greedy_oks_nms_baseline(kpts, scores, areas, NMS_THR),
                matrix_oks_nms_db(db, NMS_THR, SIGMAS))
        same = all(np.array_equal(kept[0], k) for k in kept[1:])
        lines.append([
            str(num), f"{t['oks_nms']:.3f}", f"{t['soft']:.3f}",
            f"{t['baseline']:.3f}", f"{t['matrix']:.3f}", f"{t['db']:.3f}",
            f"{t['baseline'] / t['matrix']:.2f}x",
            f"{t['oks_nms'] / t['matrix']:.1f}x",
            f"{t['soft'] / t['matrix']:.1f}x",
            f"{t['oks_nms'] / t['db']:.1f}x",
            f"{len(kept[0])} ({'same' if same else 'DIFFERENT'})"
        ])
        results[num] = t
    print(
        markdown_table(
            ('N', 'oks_nms', 'soft_oks_nms', 'greedy baseline',
             'matrix (numpy)', 'drop-in _db', 'baseline / matrix',
             'oks_nms / matrix', 'soft / matrix', 'oks_nms / drop-in',
             'kept: oks_nms, baseline, drop-in'), lines))
    return results


def print_goal_ratios(results: Dict[int, Dict[str, float]]) -> None:
    """The ratios the speed goal is stated in (docs/matrix_oks_nms.md): greedy
    baseline / matrix (numpy), lowest for N >= 10, and at N = 400."""
    ratios = {n: t['baseline'] / t['matrix'] for n, t in results.items()}
    lowest = min((n for n in ratios if n >= 10), key=ratios.get)
    print(f'\nGreedy baseline / matrix (numpy): lowest for N >= 10 '
          f'{ratios[lowest]:.2f}x (N = {lowest}); at N = 400 '
          f'{ratios[400]:.2f}x.')


def overlaps_xywh(box, boxes) -> np.ndarray:
    """IoU of an xywh box with (M, 4) xywh boxes, by MMPose's
    ``bbox_overlaps``."""
    as_xyxy = [bbox_xywh2xyxy(np.array(b, dtype=np.float64).reshape(-1, 4))
               for b in (box, boxes)]
    return bbox_overlaps(*map(torch.from_numpy, as_xyxy))[0].numpy()


def detection_samples(noise: float, seed: int) -> List[dict]:
    """Data samples as a top-down model on the bundled detections gives."""
    with open(osp.join(SAMPLE, 'test_coco.json')) as f:
        anns = json.load(f)['annotations']
    with open(osp.join(SAMPLE, 'test_coco_det_AP_H_56.json')) as f:
        dets = json.load(f)
    rng = np.random.default_rng(seed)
    samples = []
    for n, det in enumerate(dets):
        box = np.array(det['bbox'])
        people = [a for a in anns if a['image_id'] == det['image_id']]
        ious = overlaps_xywh(box, [a['bbox'] for a in people])
        person = people[int(np.argmax(ious))]
        kpts = np.array(person['keypoints'], dtype=np.float64).reshape(17, 3)
        # unlabelled keypoints: the person's box centre
        gx, gy, gw, gh = person['bbox']
        kpts[kpts[:, 2] == 0, :2] = (gx + gw / 2, gy + gh / 2)
        size = np.sqrt(box[2] * box[3])
        coords = kpts[:, :2] + rng.normal(0, noise * size, (17, 2))
        # GetBBoxCenterScale then TopdownAffine, whose product CocoMetric
        # takes as the area: pose_areas
        xyxy = bbox_xywh2xyxy(box[None])
        scales = fix_aspect_ratio(
            bbox_xyxy_to_center_scale(xyxy)[1],
            INPUT_SIZE[0] / INPUT_SIZE[1])
        assert np.prod(scales) == pose_areas(xyxy, INPUT_SIZE)[0]
        samples.append(
            dict(
                id=n,
                img_id=det['image_id'],
                category_id=1,
                pred_instances=dict(keypoints=coords[None],
                                    keypoint_scores=np.ones((1, 17))),
                gt_instances=dict(bbox_scores=np.array([det['score']]),
                                  bbox_scales=scales)))
    return samples


def methods(sigmas: Sequence[float]) -> List[Tuple[str, dict]]:
    return [
        ('none', dict(type='CocoMetric', nms_mode='none')),
        ('oks_nms', dict(type='CocoMetric', nms_mode='oks_nms')),
        ('soft_oks_nms', dict(type='CocoMetric', nms_mode='soft_oks_nms')),
    ] + [(f'matrix gaussian sigma={s:g}',
          dict(type='MatrixNMSCocoMetric', nms_kernel='gaussian',
               nms_sigma=s)) for s in sigmas] + [
                   ('matrix linear',
                    dict(type='MatrixNMSCocoMetric', nms_kernel='linear')),
               ]


def evaluate(cfg: dict, samples: List[dict]) -> float:
    # the COCO API prints its progress; keep the report readable
    with redirect_stdout(StringIO()):
        metric = METRICS.build(
            dict(cfg, ann_file=osp.join(SAMPLE, 'test_coco.json')))
        metric.dataset_meta = parse_pose_metainfo(CocoDataset.METAINFO)
        metric.process([], samples)
        return metric.evaluate(len(samples))['coco/AP']


def accuracy(noises: Sequence[float], seeds: int,
             sigmas: Sequence[float]) -> None:
    print(f'\n## COCO AP on the bundled sample (118 detections of 14 '
          f'people; mean over seeds 0-{seeds - 1} per keypoint noise, as a '
          f'fraction of the box size)\n')
    sample_sets = {
        noise: [detection_samples(noise, seed) for seed in range(seeds)]
        for noise in noises
    }
    best = None
    lines = []
    for name, cfg in methods(sigmas):
        aps = [
            np.mean([evaluate(cfg, samples) for samples in sample_sets[n]])
            for n in noises
        ]
        lines.append([name] + [f'{ap:.4f}' for ap in aps] +
                     [f'{np.mean(aps):.4f}'])
        if cfg['type'] == 'MatrixNMSCocoMetric' and (
                best is None or np.mean(aps) > best[1]):
            best = (name, np.mean(aps))
    print(
        markdown_table(['NMS'] + [f'noise {n:g}' for n in noises] + ['mean'],
                       lines))
    print(f'\nBest Matrix-OKS-NMS setting by mean AP: {best[0]} '
          f'({best[1]:.4f}).')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    # one thread: the loops compared with are single-threaded Python, and
    # spinning OpenMP threads collapse on a shared, busy CPU
    parser.add_argument('--threads',
                        type=int,
                        default=1,
                        help='torch CPU threads')
    parser.add_argument('--noise',
                        type=float,
                        nargs='+',
                        default=[0.03, 0.05, 0.1],
                        help='keypoint noise std as a fraction of box size')
    parser.add_argument('--seeds', type=int, default=5)
    parser.add_argument('--sigmas',
                        type=float,
                        nargs='+',
                        default=[0.5, 1.0, 2.0, 3.0, 4.0],
                        help='gaussian kernel sigmas to evaluate')
    parser.add_argument('--skip-speed', action='store_true')
    parser.add_argument('--skip-accuracy', action='store_true')
    args = parser.parse_args()
    print(format_cpu_info(threads=args.threads))
    if args.threads < 1 or args.seeds < 1:
        parser.error('--threads and --seeds should be positive')
    torch.set_num_threads(args.threads)
    from mmengine.logging import MMLogger
    MMLogger.get_instance('mmengine', log_level='WARNING')
    if not args.skip_speed:
        results = speed_table(2000., 'poses spread over a 2000 px image')
        print_goal_ratios(results)
        speed_table(300., 'every pose crowded into 300 px')
    if not args.skip_accuracy:
        accuracy(args.noise, args.seeds, args.sigmas)


if __name__ == '__main__':
    main()
