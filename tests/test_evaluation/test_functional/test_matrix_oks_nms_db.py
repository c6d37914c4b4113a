"""``mmpose_light.evaluation``'s pose NMS against MMPose's: ``pairwise_oks``
against ``oks_iou``, the ``oks_nms`` drop-in against ``oks_nms``, and the
names that it re-exports from the runtime's numpy code."""
import importlib.util
import os.path as osp

import numpy as np
import pytest
import torch
from mmpose.evaluation.functional import oks_nms
from mmpose.evaluation.functional.nms import oks_iou

import mmpose_light_runtime
from mmpose_light.evaluation import (matrix_oks_nms, matrix_oks_nms_db,
                                     pairwise_oks)
from mmpose_light_runtime.nms import COCO_SIGMAS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_runtime_tests():
    """The torch-free tests of the numpy NMS, for their pose sets."""
    spec = importlib.util.spec_from_file_location(
        'runtime_nms_tests', osp.join(ROOT, 'test_runtime', 'test_nms.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RUNTIME_TESTS = load_runtime_tests()
random_poses = RUNTIME_TESTS.random_poses
pose_chains = RUNTIME_TESTS.pose_chains


def test_one_implementation_for_arrays_only():
    # the metrics and the runtime pipeline run the same numpy code
    assert matrix_oks_nms is mmpose_light_runtime.matrix_oks_nms
    assert pairwise_oks is mmpose_light_runtime.pairwise_oks
    # tensors are converted by the caller (``.cpu().numpy()``)
    kpts, kpt_scores, scores, areas = random_poses(2, 2, seed=10)
    with pytest.raises(TypeError, match='`keypoints` should be a numpy '
                       'array, but got Tensor'):
        matrix_oks_nms(torch.from_numpy(kpts), kpt_scores, scores, areas)


@pytest.mark.parametrize('vis_thr', [None, 0.3])
def test_pairwise_oks_matches_mmpose_oks_iou(vis_thr):
    kpts, kpt_scores, _, areas = random_poses(4, 5)
    flat = np.concatenate([kpts, kpt_scores[..., None]], -1).reshape(20, -1)
    expected = np.stack([
        oks_iou(flat[i], flat, areas[i], areas, COCO_SIGMAS, vis_thr)
        for i in range(20)
    ])
    # oks_iou returns float32
    np.testing.assert_allclose(
        pairwise_oks(kpts, areas, None, kpt_scores, vis_thr), expected,
        atol=1e-6)


def to_db(kpts, kpt_scores, scores, areas):
    return [
        dict(keypoints=np.concatenate([k, s[:, None]], -1), score=sc, area=a)
        for k, s, sc, a in zip(kpts, kpt_scores, scores, areas)
    ]


@pytest.mark.parametrize('thr', [0.3, 0.5, 0.7, 0.9])
@pytest.mark.parametrize('vis_thr', [None, 0.4])
@pytest.mark.parametrize('case', [
    'chains', 'crowd', 'clusters', 'float32', 'all-equal-scores'
])
def test_drop_in_keeps_what_oks_nms_keeps(case, thr, vis_thr):
    if case == 'chains':
        # the case: 20 chains of 12 poses, each a few px from the
        # last, where a pose overlapping a kept one may survive a rule
        # that looks at the best pose only
        arrays = pose_chains(num_chains=20, length=12, step=3.0)
    elif case == 'crowd':
        arrays = random_poses(30, 5, spread=1500, seed=12)
    else:
        arrays = random_poses(8, 6, seed=13)
    db = to_db(*arrays)
    if case == 'float32':
        # CocoMetric passes float32 keypoints and scores
        for pose in db:
            pose['keypoints'] = pose['keypoints'].astype(np.float32)
            pose['score'] = np.float32(pose['score'])
    if case == 'all-equal-scores':
        for pose in db:
            pose['score'] = 0.5
    expected = oks_nms(db, thr, vis_thr=vis_thr)
    keep = matrix_oks_nms_db(db, thr, vis_thr=vis_thr)
    assert keep.dtype == np.int64
    np.testing.assert_array_equal(keep, expected)
    # clustered, not separated: poses are removed
    assert len(keep) < len(db)


def test_drop_in_other_arguments():
    kpts, kpt_scores, scores, areas = random_poses(8, 6, seed=14)
    db = to_db(kpts, kpt_scores, scores, areas)
    sigmas = COCO_SIGMAS * 1.5
    np.testing.assert_array_equal(matrix_oks_nms_db(db, 0.8, sigmas),
                                  oks_nms(db, 0.8, sigmas))
    # per-joint scores, averaged into the pose score
    for pose, s in zip(db, kpt_scores):
        pose['score'] = s
    np.testing.assert_array_equal(
        matrix_oks_nms_db(db, 0.8, score_per_joint=True),
        oks_nms(db, 0.8, score_per_joint=True))
    # zero areas: identical poses only
    twins = to_db(np.concatenate([kpts[:3], kpts[:3]]),
                  np.concatenate([kpt_scores[:3]] * 2),
                  np.arange(6, dtype=np.float64), np.zeros(6))
    np.testing.assert_array_equal(matrix_oks_nms_db(twins, 0.9),
                                  oks_nms(twins, 0.9))
    assert sorted(matrix_oks_nms_db(twins, 0.9).tolist()) == [3, 4, 5]


def test_drop_in_edge_cases_and_bad_input():
    kpts, kpt_scores, scores, areas = random_poses(2, 2, seed=15)
    assert matrix_oks_nms_db([], 0.9).shape == (0, )
    single = to_db(kpts[:1], kpt_scores[:1], scores[:1], areas[:1])
    assert matrix_oks_nms_db(single, 0.9).tolist() == [0]
    db = to_db(kpts, kpt_scores, scores, areas)
    db[2]['keypoints'] = db[2]['keypoints'].copy()
    db[2]['keypoints'][0, 0] = np.nan
    with pytest.raises(ValueError, match='`keypoints` should be finite, '
                       'but pose 2'):
        matrix_oks_nms_db(db, 0.9)
    db = to_db(kpts, kpt_scores, scores, areas)
    db[1]['score'] = np.nan
    with pytest.raises(ValueError, match='`scores` should be finite, '
                       'but pose 1'):
        matrix_oks_nms_db(db, 0.9)
    db = to_db(kpts, kpt_scores, scores, areas)
    with pytest.raises(ValueError, match='sigmas'):
        matrix_oks_nms_db(db, 0.9, sigmas=COCO_SIGMAS[:5])
    for thr in (1.5, -0.1, None):
        with pytest.raises(ValueError, match='thr'):
            matrix_oks_nms_db(db, thr)
    # the decay kernel belongs to matrix_oks_nms; the drop-in has none
    with pytest.raises(TypeError, match='kernel'):
        matrix_oks_nms_db(db, 0.9, kernel='gaussian')


def test_benchmark_baseline_and_areas(load_tool):
    """The benchmark's greedy baseline keeps what oks_nms keeps, and its
    samples carry CocoMetric's areas of the pipeline's boxes."""
    bench = load_tool('benchmarks/pose_nms')
    for canvas in (2000., 300.):
        kpts, kpt_scores, scores, areas = bench.pose_set(100, canvas)
        expected = oks_nms(to_db(kpts, kpt_scores, scores, areas), 0.9)
        np.testing.assert_array_equal(
            bench.greedy_oks_nms_baseline(kpts, scores, areas, 0.9),
            expected)
        assert 10 < len(expected) < 100
    samples = bench.detection_samples(0.05, seed=0)
    assert len(samples) == 118
    # 1.25 padding, widened to 192:256
    scales = samples[0]['gt_instances']['bbox_scales']
    assert scales[0, 0] / scales[0, 1] == pytest.approx(0.75)
