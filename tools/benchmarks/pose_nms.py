"""Benchmark Matrix-OKS-NMS against MMPose's ``oks_nms`` and
``soft_oks_nms``: speed on synthetic pose sets, memory limits, and COCO AP
on the bundled sample's redundant person detections.

Usage::

    python tools/benchmarks/pose_nms.py [--threads 1] [--noise 0.03 0.05]
        [--seeds 5] [--skip-speed]

Speed: each image holds ``N`` poses of 17 keypoints, noisy copies of
``N / 10`` people (the bundled sample has 8.4 detections per person).
MMPose's functions take the dict list that ``CocoMetric`` passes them;
Matrix-OKS-NMS is timed on tensors (``matrix_oks_nms``) and through its
``oks_nms``-signature drop-in on the same dict list (``matrix_oks_nms_db``).
Times are medians measured in this one run; only their ratios mean anything.

Accuracy: every detection of ``test_coco_det_AP_H_56.json`` gets the
keypoints of the annotated person its box overlaps most, plus gaussian noise
of ``--noise`` times the box size (seeded), unit keypoint scores (so its pose
score is its detection score), and the metrics evaluate the same
predictions with each NMS.
"""
import argparse
import json
import os.path as osp
import sys
import time
from contextlib import redirect_stdout
from io import StringIO
from typing import Callable, List, Tuple

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

import mmpose_light  # noqa: E402,F401
from mmpose_light.evaluation import matrix_oks_nms  # noqa: E402
from mmpose_light.evaluation import matrix_oks_nms_db  # noqa: E402

SAMPLE = osp.join(ROOT, 'data', 'sample', 'coco')
SIGMAS = parse_pose_metainfo(CocoDataset.METAINFO)['sigmas']
SIZES = (20, 100, 400, 1000, 5000)
NMS_THR = 0.9  # CocoMetric's default


def pose_set(num: int, seed: int = 0) -> Tuple[np.ndarray, ...]:
    """``num`` poses: noisy copies of ``num / 10`` random people."""
    rng = np.random.default_rng(seed)
    people = max(1, num // 10)
    centers = rng.uniform(0, 2000, (people, 1, 2))
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


def median_time(fn: Callable,
                budget: float = 0.5,
                max_reps: int = 20) -> Tuple[float, int]:
    """Median seconds of ``fn`` over repetitions that fit ``budget``."""
    times = []
    while not times or (sum(times) < budget and len(times) < max_reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), len(times)


def speed() -> None:
    print(f'\n## Speed (CPU, torch threads: {torch.get_num_threads()}, '
          f'K = 17, OKS thr {NMS_THR}; median ms, reps in brackets)\n')
    print('| N | oks_nms | soft_oks_nms | matrix (tensor) | matrix drop-in '
          '(dicts) | oks_nms / matrix | soft / matrix | oks_nms / drop-in '
          '| kept oks_nms / drop-in |')
    print('|---' * 9 + '|')
    for num in SIZES:
        arrays = pose_set(num)
        db = to_db(*arrays)
        tensors = [torch.from_numpy(a).float() for a in arrays]
        sigmas = torch.from_numpy(SIGMAS).float()
        # one pass of greedy oks_nms at N = 5000 takes a minute or more
        greedy_budget = 0.0 if num >= 5000 else 1.0
        kept = {}
        t_oks, r_oks = median_time(
            lambda: kept.update(oks=oks_nms(db, NMS_THR, SIGMAS)),
            greedy_budget)
        t_soft, r_soft = median_time(
            lambda: soft_oks_nms(db, NMS_THR, sigmas=SIGMAS), greedy_budget)
        t_mat, r_mat = median_time(
            lambda: matrix_oks_nms(*tensors, sigmas=sigmas))
        t_db, r_db = median_time(
            lambda: kept.update(db=matrix_oks_nms_db(db, NMS_THR, SIGMAS)))
        print(f'| {num} | {t_oks * 1e3:.1f} ({r_oks}) '
              f'| {t_soft * 1e3:.1f} ({r_soft}) '
              f'| {t_mat * 1e3:.2f} ({r_mat}) | {t_db * 1e3:.2f} ({r_db}) '
              f'| {t_oks / t_mat:.0f}x | {t_soft / t_mat:.1f}x '
              f"| {t_oks / t_db:.0f}x | {len(kept['oks'])} / "
              f"{len(kept['db'])} |")


def memory() -> None:
    budget = 2**30
    k = 17
    full_matrix = int(np.sqrt(budget / 4))
    one_shot = int(np.sqrt(budget / (4 * (3 * k + 1))))
    print('\n## Memory (float32, 1 GiB budget)\n')
    print(f'- the N x N OKS matrix fits 1 GiB up to N = {full_matrix}; the '
          f'(N, N, K) temporaries of an unchunked computation only up to '
          f'N = {one_shot}.')
    print('- matrix_oks_nms computes the upper triangle in row blocks whose '
          'temporaries stay within `mem_budget` (on CPU, ~2 MiB blocks for '
          'cache reuse), keeps the blocks for the decay pass while N x N '
          'fits the budget, and past it recomputes them in a second pass: '
          'memory stays O(block + N), time about doubles.')
    num = 5000
    tensors = [torch.from_numpy(a).float() for a in pose_set(num)]
    small = num * num * 4 // 2  # the N x N matrix no longer fits
    t_cached, _ = median_time(lambda: matrix_oks_nms(*tensors), 1.0, 3)
    t_recomp, _ = median_time(
        lambda: matrix_oks_nms(*tensors, mem_budget=small), 1.0, 3)
    same = torch.equal(
        matrix_oks_nms(*tensors)[1],
        matrix_oks_nms(*tensors, mem_budget=small)[1])
    print(f'- N = {num}: cached {t_cached * 1e3:.0f} ms, two-pass with '
          f'mem_budget = {small / 2**20:.0f} MiB {t_recomp * 1e3:.0f} ms '
          f'({t_recomp / t_cached:.1f}x), identical scores: {same}')


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
        samples.append(
            dict(
                id=n,
                img_id=det['image_id'],
                category_id=1,
                pred_instances=dict(keypoints=coords[None],
                                    keypoint_scores=np.ones((1, 17))),
                gt_instances=dict(
                    bbox_scores=np.array([det['score']]),
                    # the 1.25 padding of MMPose's GetBBoxCenterScale
                    bbox_scales=box[None, 2:] * 1.25)))
    return samples


METHODS = [
    ('none', dict(type='CocoMetric', nms_mode='none')),
    ('oks_nms', dict(type='CocoMetric', nms_mode='oks_nms')),
    ('soft_oks_nms', dict(type='CocoMetric', nms_mode='soft_oks_nms')),
    ('matrix gaussian', dict(type='MatrixNMSCocoMetric',
                             nms_kernel='gaussian')),
    ('matrix linear', dict(type='MatrixNMSCocoMetric', nms_kernel='linear')),
]


def evaluate(cfg: dict, samples: List[dict]) -> float:
    # the COCO API prints its progress; keep the report readable
    with redirect_stdout(StringIO()):
        metric = METRICS.build(
            dict(cfg, ann_file=osp.join(SAMPLE, 'test_coco.json')))
        metric.dataset_meta = parse_pose_metainfo(CocoDataset.METAINFO)
        metric.process([], samples)
        return metric.evaluate(len(samples))['coco/AP']


def accuracy(noise: float, seeds: int) -> None:
    print(f'\n## COCO AP on the bundled sample (118 detections, noise '
          f'{noise} x box size, seed 0 and mean over seeds 0-{seeds - 1})\n')
    print('| NMS | AP (seed 0) | mean AP |')
    print('|---|---|---|')
    sample_sets = [detection_samples(noise, seed) for seed in range(seeds)]
    for name, cfg in METHODS:
        aps = [evaluate(cfg, samples) for samples in sample_sets]
        print(f'| {name} | {aps[0]:.4f} | {np.mean(aps):.4f} |')


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
    parser.add_argument('--skip-speed', action='store_true')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from mmengine.logging import MMLogger
    MMLogger.get_instance('mmengine', log_level='WARNING')
    if not args.skip_speed:
        speed()
        memory()
    for noise in args.noise:
        accuracy(noise, args.seeds)


if __name__ == '__main__':
    main()
