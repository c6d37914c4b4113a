import math

import numpy as np
import pytest
import torch

from mmpose_light.evaluation.functional.matrix_oks_nms import (
    COCO_SIGMAS, matrix_oks_nms, matrix_oks_nms_db, pairwise_oks)


def random_poses(num_people, copies, num_keypoints=17, seed=0):
    """Noisy copies of random people: (kpts, kpt_scores, scores, areas)."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform(0, 400, (num_people, 1, 2))
    sizes = rng.uniform(40, 120, (num_people, 1, 1))
    people = centers + sizes * rng.uniform(-0.5, 0.5,
                                           (num_people, num_keypoints, 2))
    noise = rng.normal(0, 0.08, (num_people, copies, num_keypoints, 2))
    kpts = (people[:, None] + noise * sizes[:, None]).reshape(
        -1, num_keypoints, 2)
    areas = np.repeat(sizes[:, 0, 0]**2, copies) * rng.uniform(
        0.8, 1.2, num_people * copies)
    num = num_people * copies
    kpt_scores = rng.uniform(0, 1, (num, num_keypoints))
    scores = rng.uniform(0.05, 1, num)
    perm = rng.permutation(num)
    return kpts[perm], kpt_scores[perm], scores[perm], areas[perm]


def loop_oks(kpts_a, kpts_b, scores_a, scores_b, area_a, area_b, sigmas,
             vis_thr):
    """OKS of two poses, one keypoint at a time."""
    total, count = 0.0, 0
    for k in range(len(sigmas)):
        if vis_thr is not None and not (scores_a[k] > vis_thr
                                        and scores_b[k] > vis_thr):
            continue
        dist2 = ((kpts_a[k] - kpts_b[k])**2).sum()
        var = (2 * sigmas[k])**2
        scale = (area_a + area_b) / 2 + np.spacing(1)
        total += math.exp(-dist2 / var / scale / 2)
        count += 1
    return total / count if count else 0.0


def loop_matrix_oks_nms(kpts, kpt_scores, scores, areas, sigmas, kernel, sigma,
                        score_thr, pre_topk, max_num, vis_thr):
    """Plain loop implementation of the definition."""
    num = len(scores)
    order = sorted(range(num), key=lambda i: -scores[i])
    if pre_topk > 0:
        order = order[:pre_topk]

    def oks(i, j):
        return loop_oks(kpts[i], kpts[j], kpt_scores[i], kpt_scores[j],
                        areas[i], areas[j], sigmas, vis_thr)

    def f(x):
        return math.exp(-sigma * x * x) if kernel == 'gaussian' else 1 - x

    compensation = []
    for rank, i in enumerate(order):
        compensation.append(max([oks(k, i) for k in order[:rank]],
                                default=0.0))
    decayed = np.zeros(num)
    for rank_j, j in enumerate(order):
        decay = 1.0
        for rank_i, i in enumerate(order[:rank_j]):
            f_c = f(compensation[rank_i])
            ratio = f(oks(i, j)) / f_c if f_c > 0 else math.inf
            decay = min(decay, ratio)
        decayed[j] = scores[j] * decay
    kept = [j for j in order if decayed[j] >= score_thr]
    kept = sorted(kept, key=lambda j: -decayed[j])
    if max_num > 0:
        kept = kept[:max_num]
    return np.array(kept, dtype=np.int64), decayed


def test_pairwise_oks_matches_mmpose_oks_iou():
    oks_iou = pytest.importorskip('mmpose.evaluation.functional.nms').oks_iou
    kpts, kpt_scores, _, areas = random_poses(4, 5)
    flat = np.concatenate([kpts, kpt_scores[..., None]], -1).reshape(20, -1)
    for vis_thr in (None, 0.3):
        matrix = pairwise_oks(torch.from_numpy(kpts), torch.from_numpy(areas),
                              torch.from_numpy(COCO_SIGMAS),
                              torch.from_numpy(kpt_scores), vis_thr)
        expected = np.stack([
            oks_iou(flat[i], flat, areas[i], areas, COCO_SIGMAS, vis_thr)
            for i in range(20)
        ])
        # oks_iou returns float32
        np.testing.assert_allclose(matrix.numpy(), expected, atol=1e-6)


@pytest.mark.parametrize('kernel', ['gaussian', 'linear'])
@pytest.mark.parametrize('options', [
    dict(score_thr=0.0, pre_topk=-1, max_num=-1, vis_thr=None),
    dict(score_thr=0.3, pre_topk=25, max_num=8, vis_thr=0.4),
])
def test_matches_loop_reference(kernel, options):
    kpts, kpt_scores, scores, areas = random_poses(6, 6, seed=1)
    expected_keep, expected_scores = loop_matrix_oks_nms(
        kpts, kpt_scores, scores, areas, COCO_SIGMAS, kernel, 1.5, **options)
    keep, decayed = matrix_oks_nms(kpts,
                                   kpt_scores,
                                   scores,
                                   areas,
                                   COCO_SIGMAS,
                                   kernel=kernel,
                                   sigma=1.5,
                                   **options)
    np.testing.assert_allclose(decayed,
                               expected_scores,
                               rtol=1e-10,
                               atol=1e-12)
    np.testing.assert_array_equal(keep, expected_keep)
    # the redundant copies must actually have been decayed
    assert (decayed < scores * 0.99).sum() > 10
    # float32 torch input gives the same result to float32 precision
    keep32, decayed32 = matrix_oks_nms(*(torch.from_numpy(x).float()
                                         for x in (kpts, kpt_scores, scores,
                                                   areas, COCO_SIGMAS)),
                                       kernel=kernel,
                                       sigma=1.5,
                                       **options)
    assert keep32.dtype == torch.int64 and decayed32.dtype == torch.float32
    torch.testing.assert_close(decayed32,
                               torch.from_numpy(expected_scores).float(),
                               atol=1e-5,
                               rtol=1e-4)


@pytest.mark.parametrize('kernel', ['gaussian', 'linear'])
@pytest.mark.parametrize('mem_budget', [1, 200_000])
def test_chunked_matches_unchunked(kernel, mem_budget):
    # 1 byte: one row per block, blocks recomputed in the second pass;
    # 200 kB: several rows per block, the N x N matrix still cached
    kpts, kpt_scores, scores, areas = [
        torch.from_numpy(x) for x in random_poses(10, 8, seed=2)
    ]
    keep, decayed = matrix_oks_nms(kpts,
                                   kpt_scores,
                                   scores,
                                   areas,
                                   kernel=kernel,
                                   vis_thr=0.2)
    keep_c, decayed_c = matrix_oks_nms(kpts,
                                       kpt_scores,
                                       scores,
                                       areas,
                                       kernel=kernel,
                                       vis_thr=0.2,
                                       mem_budget=mem_budget)
    torch.testing.assert_close(decayed_c, decayed, rtol=0, atol=1e-12)
    torch.testing.assert_close(keep_c, keep)
    full = pairwise_oks(kpts, areas, torch.from_numpy(COCO_SIGMAS))
    chunked = pairwise_oks(kpts,
                           areas,
                           torch.from_numpy(COCO_SIGMAS),
                           mem_budget=mem_budget)
    torch.testing.assert_close(chunked, full, rtol=0, atol=1e-12)


def semantic_set():
    """A, its exact duplicate, a shifted copy of A, and a far pose."""
    kpts, kpt_scores, _, areas = random_poses(1, 1, seed=3)
    base = kpts[0]
    poses = np.stack([base, base, base + 6.0, base + 1000.0])
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    return (poses, np.repeat(kpt_scores, 4, 0), scores, np.repeat(areas, 4))


@pytest.mark.parametrize('kernel', ['gaussian', 'linear'])
def test_duplicate_decays_most(kernel):
    kpts, kpt_scores, scores, areas = semantic_set()
    keep, decayed = matrix_oks_nms(kpts,
                                   kpt_scores,
                                   scores,
                                   areas,
                                   kernel=kernel)
    ratio = decayed / scores
    assert ratio[0] == 1.0
    assert ratio[1] < ratio[2] < 1.0
    # the far pose overlaps nothing: its score is untouched
    assert decayed[3] == scores[3]
    if kernel == 'linear':
        assert decayed[1] == 0.0
        assert keep.tolist() == [0, 3, 2, 1]
    else:
        np.testing.assert_allclose(ratio[1], math.exp(-2.0))
        assert keep.tolist() == [0, 3, 2, 1]


def test_compensation_spares_pose_overlapping_a_suppressed_one():
    kpts, kpt_scores, _, areas = random_poses(1, 1, seed=4)
    side = math.sqrt(areas[0])
    # B overlaps A, C overlaps B as much but A much less
    poses = np.stack([kpts[0], kpts[0] + 0.1 * side, kpts[0] + 0.2 * side])
    scores = np.array([0.9, 0.8, 0.7])
    oks = pairwise_oks(torch.from_numpy(poses),
                       torch.from_numpy(np.repeat(areas, 3)),
                       torch.from_numpy(COCO_SIGMAS))
    _, decayed = matrix_oks_nms(poses,
                                np.repeat(kpt_scores, 3, 0),
                                scores,
                                np.repeat(areas, 3),
                                kernel='linear')
    assert oks[0, 1] > 0.3 and oks[0, 2] < oks[1, 2]
    expected = 0.7 * min(1 - oks[0, 2].item(),
                         (1 - oks[1, 2].item()) / (1 - oks[0, 1].item()))
    np.testing.assert_allclose(decayed[2], expected)
    # without compensation B would have decayed C by 1 - OKS(B, C)
    assert decayed[2] > 0.7 * (1 - oks[1, 2].item())


def test_well_separated_poses_keep_scores():
    kpts, kpt_scores, scores, areas = random_poses(1, 1, seed=5)
    poses = np.concatenate([kpts + 500.0 * i for i in range(5)])
    scores = np.array([0.3, 0.9, 0.5, 0.7, 0.1])
    keep, decayed = matrix_oks_nms(poses, np.repeat(kpt_scores, 5, 0), scores,
                                   np.repeat(areas, 5))
    np.testing.assert_array_equal(decayed, scores)
    assert keep.tolist() == [1, 3, 2, 0, 4]


@pytest.mark.parametrize('kernel', ['gaussian', 'linear'])
def test_kept_set_independent_of_input_order(kernel):
    kpts, kpt_scores, scores, areas = random_poses(5, 6, seed=6)
    keep, decayed = matrix_oks_nms(kpts,
                                   kpt_scores,
                                   scores,
                                   areas,
                                   kernel=kernel,
                                   score_thr=0.2)
    perm = np.random.default_rng(0).permutation(len(scores))
    keep_p, decayed_p = matrix_oks_nms(kpts[perm],
                                       kpt_scores[perm],
                                       scores[perm],
                                       areas[perm],
                                       kernel=kernel,
                                       score_thr=0.2)
    np.testing.assert_allclose(decayed_p, decayed[perm], rtol=1e-12)
    np.testing.assert_array_equal(perm[keep_p], keep)
    assert 0 < len(keep) < len(scores)


def test_empty_and_single():
    for make in (np.zeros, torch.zeros):
        keep, decayed = matrix_oks_nms(make((0, 17, 2)), make((0, 17)),
                                       make((0, )), make((0, )))
        assert keep.shape == (0, ) and decayed.shape == (0, )
        assert str(keep.dtype).endswith('int64')
        assert type(keep) is type(make(1))
    keep, decayed = matrix_oks_nms(torch.ones(1, 17, 2),
                                   torch.ones(1, 17),
                                   torch.tensor([0.7]),
                                   torch.tensor([100.]),
                                   kernel='linear')
    assert keep.tolist() == [0]
    torch.testing.assert_close(decayed, torch.tensor([0.7]))
    keep, _ = matrix_oks_nms(torch.ones(1, 17, 2),
                             torch.ones(1, 17),
                             torch.tensor([0.7]),
                             torch.tensor([100.]),
                             score_thr=0.8)
    assert keep.shape == (0, ) and keep.dtype == torch.int64
    assert matrix_oks_nms_db([], 0.9).shape == (0, )


def test_equal_scores_rank_earlier_input_first():
    kpts, kpt_scores, _, areas = random_poses(1, 1, seed=7)
    poses = np.repeat(kpts, 3, 0)
    keep, decayed = matrix_oks_nms(poses,
                                   np.repeat(kpt_scores, 3, 0),
                                   np.full(3, 0.5),
                                   np.repeat(areas, 3),
                                   kernel='linear',
                                   score_thr=0.1)
    assert keep.tolist() == [0]
    np.testing.assert_array_equal(decayed, [0.5, 0.0, 0.0])


def test_zero_areas():
    kpts, kpt_scores, _, _ = random_poses(1, 1, seed=8)
    poses = np.concatenate([kpts, kpts, kpts + 1.0])
    keep, decayed = matrix_oks_nms(poses, np.repeat(kpt_scores, 3, 0),
                                   np.array([0.9, 0.8, 0.7]), np.zeros(3))
    assert np.isfinite(decayed).all()
    # zero area: identical poses have OKS 1, any offset gives OKS 0
    np.testing.assert_allclose(decayed, [0.9, 0.8 * math.exp(-2.0), 0.7])
    assert keep.tolist() == [0, 2, 1]


def test_numpy_and_torch_outputs():
    kpts, kpt_scores, scores, areas = random_poses(3, 3, seed=9)
    keep_np, decayed_np = matrix_oks_nms(kpts, kpt_scores, scores, areas)
    assert isinstance(keep_np, np.ndarray)
    assert isinstance(decayed_np, np.ndarray)
    devices = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])
    for device in devices:
        tensors = [
            torch.from_numpy(x).to(device)
            for x in (kpts, kpt_scores, scores, areas)
        ]
        keep, decayed = matrix_oks_nms(*tensors)
        assert keep.device.type == device and decayed.device.type == device
        np.testing.assert_array_equal(keep.cpu().numpy(), keep_np)
        np.testing.assert_allclose(decayed.cpu().numpy(),
                                   decayed_np,
                                   rtol=1e-10)


def test_bad_input():
    kpts, kpt_scores, scores, areas = random_poses(2, 2, seed=10)
    with pytest.raises(ValueError, match='keypoint_scores'):
        matrix_oks_nms(kpts, kpt_scores[:, :5], scores, areas)
    with pytest.raises(ValueError, match='scores'):
        matrix_oks_nms(kpts, kpt_scores, scores[:3], areas)
    with pytest.raises(ValueError, match='areas'):
        matrix_oks_nms(kpts, kpt_scores, scores, areas[None])
    with pytest.raises(ValueError, match='keypoints'):
        matrix_oks_nms(kpts[..., :1], kpt_scores, scores, areas)
    with pytest.raises(ValueError, match='sigmas'):
        matrix_oks_nms(kpts, kpt_scores, scores, areas, COCO_SIGMAS[:5])
    with pytest.raises(ValueError, match='sigmas'):
        matrix_oks_nms(kpts[:, :5], kpt_scores[:, :5], scores, areas)
    with pytest.raises(ValueError, match='box'):
        matrix_oks_nms(kpts, kpt_scores, scores, areas, kernel='box')
    with pytest.raises(ValueError, match='max_num'):
        matrix_oks_nms(kpts, kpt_scores, scores, areas, max_num=0)
    with pytest.raises(ValueError, match='sigma'):
        matrix_oks_nms(kpts, kpt_scores, scores, areas, sigma=0)
    with pytest.raises(TypeError, match='keypoints'):
        matrix_oks_nms(kpts.tolist(), kpt_scores, scores, areas)
    with pytest.raises(ValueError, match='thr'):
        matrix_oks_nms_db([], 1.5)


def to_db(kpts, kpt_scores, scores, areas):
    return [
        dict(keypoints=np.concatenate([k, s[:, None]], -1), score=sc, area=a)
        for k, s, sc, a in zip(kpts, kpt_scores, scores, areas)
    ]


@pytest.mark.parametrize('kernel', ['gaussian', 'linear'])
def test_drop_in_threshold_rule(kernel):
    kpts, kpt_scores, scores, areas = random_poses(5, 5, seed=11)
    thr = 0.6
    kept = matrix_oks_nms_db(to_db(kpts, kpt_scores, scores, areas),
                             thr,
                             vis_thr=0.3,
                             kernel=kernel,
                             sigma=2.0)
    # sorted poses with unit scores: the decayed score is the decay d_j
    order = np.argsort(-scores, kind='stable')
    _, decay = loop_matrix_oks_nms(kpts[order], kpt_scores[order], np.ones(25),
                                   areas[order], COCO_SIGMAS, kernel, 2.0, 0.0,
                                   -1, -1, 0.3)
    limit = math.exp(-2.0 * thr**2) if kernel == 'gaussian' else 1 - thr
    np.testing.assert_array_equal(kept, order[decay >= limit])
    assert 5 <= len(kept) < 25


def test_drop_in_agrees_with_oks_nms_on_separated_clusters():
    oks_nms = pytest.importorskip('mmpose.evaluation.functional').oks_nms
    kpts, kpt_scores, scores, areas = random_poses(6, 4, seed=12)
    db = to_db(kpts, kpt_scores, scores, areas)
    for thr in (0.5, 0.9):
        expected = oks_nms(db, thr)
        np.testing.assert_array_equal(np.sort(matrix_oks_nms_db(db, thr)),
                                      np.sort(expected))
