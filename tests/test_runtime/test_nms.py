"""The runtime's numpy pose NMS, without torch: Matrix-OKS-NMS and greedy
OKS-NMS against plain-loop definitions, the dense and pruned paths, and
the rules for edge cases. ``random_poses`` and ``pose_chains`` are shared
with the tests against MMPose's ``oks_iou`` and ``oks_nms``
(tests/test_evaluation)."""
import math

import numpy as np
import pytest

from mmpose_light_runtime import nms
from mmpose_light_runtime.nms import (COCO_SIGMAS, greedy_oks_nms,
                                      matrix_oks_nms, pairwise_oks)

KERNELS = ['gaussian', 'linear']


def random_poses(num_people, copies, num_keypoints=17, spread=400, seed=0):
    """Noisy copies of random people: (kpts, kpt_scores, scores, areas)."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform(0, spread, (num_people, 1, 2))
    sizes = rng.uniform(40, 120, (num_people, 1, 1))
    people = centers + sizes * rng.uniform(-0.5, 0.5,
                                           (num_people, num_keypoints, 2))
    # copies overlap their person more or less, as detections do
    noise = rng.normal(0, 1, (num_people, copies, num_keypoints, 2))
    noise *= rng.uniform(0.01, 0.1, (num_people, copies, 1, 1))
    kpts = (people[:, None] + noise * sizes[:, None]).reshape(
        -1, num_keypoints, 2)
    areas = np.repeat(sizes[:, 0, 0]**2, copies) * rng.uniform(
        0.8, 1.2, num_people * copies)
    num = num_people * copies
    kpt_scores = rng.uniform(0, 1, (num, num_keypoints))
    scores = rng.uniform(0.05, 1, num)
    perm = rng.permutation(num)
    return kpts[perm], kpt_scores[perm], scores[perm], areas[perm]


def pose_chains(num_chains=20, length=12, step=3.0, seed=0):
    """Chains of poses, each shifted ``step`` px from the last, scored in
    chain order: overlaps link neighbours, not only each pose to the best.
    """
    rng = np.random.default_rng(seed)
    base = rng.uniform(-40, 40, (num_chains, 1, 17, 2))
    starts = rng.uniform(0, 3000, (num_chains, 1, 1, 2))
    direction = rng.normal(0, 1, (num_chains, 1, 1, 2))
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    shifts = np.arange(length)[None, :, None, None] * step * direction
    kpts = (base + starts + shifts).reshape(-1, 17, 2)
    scores = np.tile(np.linspace(0.9, 0.5, length), num_chains)
    scores += rng.uniform(0, 1e-3, len(scores))
    areas = np.full(len(scores), 80.0**2)
    kpt_scores = rng.uniform(0.2, 1, (len(scores), 17))
    return kpts, kpt_scores, scores, areas


def nms_cases():
    """Inputs shared by the numpy and torch tests: name -> (arrays, kwargs),
    arrays as (keypoints, keypoint_scores, scores, areas) in float64."""
    clustered = random_poses(6, 6, seed=1)
    kpts, kpt_scores, _, areas = random_poses(1, 1, seed=3)
    base = kpts[0]
    duplicates = (np.stack([base, base, base + 6.0, base + 1000.0, base]),
                  np.repeat(kpt_scores, 5, 0), np.array([.9, .8, .7, .6, .8]),
                  np.repeat(areas, 5))
    return {
        'clustered': (clustered, {}),
        'clustered-options': (clustered,
                              dict(score_thr=0.3, pre_topk=25, max_num=8,
                                   vis_thr=0.4, sigma=1.5)),
        # more than DENSE_MAX_POSES: far pairs are skipped
        'crowd': (random_poses(30, 5, spread=3000, seed=2), {}),
        'crowd-vis': (random_poses(30, 5, spread=3000, seed=2),
                      dict(vis_thr=0.3)),
        'chains': (pose_chains(num_chains=8), {}),
        'duplicates-and-ties': (duplicates, {}),
        'zero-areas': ((clustered[0][:6], clustered[1][:6],
                        clustered[2][:6], np.zeros(6)), {}),
        'single': (tuple(x[:1] for x in clustered), {}),
        'empty': (tuple(x[:0] for x in clustered), {}),
    }


def loop_oks(kpts_a, kpts_b, scores_a, scores_b, area_a, area_b, sigmas,
             vis_thr):
    """OKS of two poses, one keypoint at a time, as ``oks_iou`` writes it."""
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


def loop_matrix_oks_nms(kpts, kpt_scores, scores, areas, kernel='gaussian',
                        sigma=2.0, score_thr=0.0, pre_topk=-1, max_num=-1,
                        vis_thr=None, sigmas=COCO_SIGMAS):
    """The definition, one pair at a time."""
    num = len(scores)
    order = sorted(range(num), key=lambda i: -scores[i])
    if pre_topk > 0:
        order = order[:pre_topk]

    def oks(i, j):
        return loop_oks(kpts[i], kpts[j], kpt_scores[i], kpt_scores[j],
                        areas[i], areas[j], sigmas, vis_thr)

    def f(x):
        return math.exp(-sigma * x * x) if kernel == 'gaussian' else 1 - x

    compensation = [
        max([oks(k, i) for k in order[:rank]], default=0.0)
        for rank, i in enumerate(order)
    ]
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


def loop_greedy(kpts, kpt_scores, scores, areas, thr, vis_thr=None):
    """MMPose's ``oks_nms`` loop: OKS rounded to float32, ``<= thr`` kept."""
    order = list(np.asarray(scores).argsort()[::-1])
    keep = []
    while order:
        i = order.pop(0)
        keep.append(i)
        order = [
            j for j in order
            if np.float32(
                loop_oks(kpts[i], kpts[j], kpt_scores[i], kpt_scores[j],
                         areas[i], areas[j], COCO_SIGMAS, vis_thr)) <= thr
        ]
    return np.array(keep, dtype=np.int64)


@pytest.fixture(params=['dense', 'pruned'])
def path(request, monkeypatch):
    """Run a test with the whole triangle, then with far pairs skipped."""
    if request.param == 'pruned':
        monkeypatch.setattr(nms, 'DENSE_MAX_POSES', 0)
    return request.param


@pytest.mark.parametrize('kernel', KERNELS)
@pytest.mark.parametrize('name', list(nms_cases()))
def test_matches_loop_definition(name, kernel, path):
    arrays, kwargs = nms_cases()[name]
    expected_keep, expected = loop_matrix_oks_nms(*arrays, kernel=kernel,
                                                  **kwargs)
    keep, decayed = matrix_oks_nms(*arrays, kernel=kernel, **kwargs)
    assert keep.dtype == np.int64 and decayed.dtype == np.float64
    np.testing.assert_array_equal(keep, expected_keep)
    np.testing.assert_allclose(decayed, expected, rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize('kernel', KERNELS)
@pytest.mark.parametrize('vis_thr', [None, 0.3])
def test_pruned_path_is_bitwise_the_dense_one(kernel, vis_thr, monkeypatch):
    arrays = random_poses(30, 5, spread=3000, seed=4)
    monkeypatch.setattr(nms, 'DENSE_MAX_POSES', 10**6)
    dense = matrix_oks_nms(*arrays, kernel=kernel, vis_thr=vis_thr)
    monkeypatch.setattr(nms, 'DENSE_MAX_POSES', 0)
    pruned = matrix_oks_nms(*arrays, kernel=kernel, vis_thr=vis_thr)
    np.testing.assert_array_equal(pruned[0], dense[0])
    np.testing.assert_array_equal(pruned[1], dense[1])


def test_near_pairs_drop_far_pairs_only():
    kpts, _, _, areas = random_poses(30, 5, spread=3000, seed=4)
    assert len(kpts) > nms.DENSE_MAX_POSES
    rows, cols = nms._near_pairs(kpts, areas, COCO_SIGMAS, nms.MIN_EXPONENT)
    kept = np.zeros((len(kpts), len(kpts)), dtype=bool)
    kept[rows, cols] = True
    upper = np.triu(np.ones_like(kept), 1)
    assert not (kept & ~upper).any()
    dropped = upper & ~kept
    full = pairwise_oks(kpts, areas)
    # most pairs of a 3000 px image are dropped, and all of them are far
    assert 0.5 < dropped.sum() / upper.sum() < 1
    assert full[dropped].max() <= 2 * math.exp(nms.MIN_EXPONENT)
    # copies of one person are never dropped
    assert full[kept].max() > 0.5


@pytest.mark.parametrize('vis_thr', [None, 0.3])
def test_pairwise_oks_matches_loop(vis_thr):
    kpts, kpt_scores, _, areas = random_poses(4, 5)
    matrix = pairwise_oks(kpts, areas, None, kpt_scores, vis_thr)
    expected = np.array([[
        loop_oks(kpts[i], kpts[j], kpt_scores[i], kpt_scores[j], areas[i],
                 areas[j], COCO_SIGMAS, vis_thr) for j in range(20)
    ] for i in range(20)])
    # terms below exp(-50) count as exp(-50)
    np.testing.assert_allclose(matrix, expected, rtol=1e-12, atol=1e-21)
    np.testing.assert_array_equal(matrix, matrix.T)
    assert pairwise_oks(kpts[:0], areas[:0]).shape == (0, 0)


def test_float32_input_computes_in_float32():
    arrays, _ = nms_cases()['clustered']
    expected_keep, expected = matrix_oks_nms(*arrays)
    keep, decayed = matrix_oks_nms(*(x.astype(np.float32) for x in arrays))
    assert decayed.dtype == np.float32
    np.testing.assert_allclose(decayed, expected, rtol=1e-4, atol=1e-6)
    # the redundant copies are decayed far below the rest: same order
    np.testing.assert_array_equal(keep[:6], expected_keep[:6])
    _, decayed = matrix_oks_nms(*(x.astype(np.float32) for x in arrays),
                                vis_thr=0.3)
    assert decayed.dtype == np.float32


@pytest.mark.parametrize('kernel', KERNELS)
def test_duplicate_decays_most(kernel):
    arrays, _ = nms_cases()['duplicates-and-ties']
    scores = arrays[2]
    keep, decayed = matrix_oks_nms(*arrays, kernel=kernel)
    ratio = decayed / scores
    assert ratio[0] == 1.0
    # the duplicates decay more than the shifted copy, the far pose not
    assert ratio[1] == ratio[4] < ratio[2] < 1.0
    assert decayed[3] == scores[3]
    if kernel == 'linear':
        assert decayed[1] == decayed[4] == 0.0
    else:
        np.testing.assert_allclose(ratio[1], math.exp(-2.0))
    # equal decayed scores (poses 1 and 4): the earlier input first
    assert keep.tolist() == [0, 3, 2, 1, 4]


def test_compensation_spares_pose_overlapping_a_suppressed_one():
    kpts, kpt_scores, _, areas = random_poses(1, 1, seed=4)
    side = math.sqrt(areas[0])
    # B overlaps A, C overlaps B as much but A much less
    poses = np.stack([kpts[0], kpts[0] + 0.1 * side, kpts[0] + 0.2 * side])
    areas = np.repeat(areas, 3)
    oks = pairwise_oks(poses, areas)
    _, decayed = matrix_oks_nms(poses, np.repeat(kpt_scores, 3, 0),
                                np.array([0.9, 0.8, 0.7]), areas,
                                kernel='linear')
    assert oks[0, 1] > 0.3 and oks[0, 2] < oks[1, 2]
    expected = 0.7 * min(1 - oks[0, 2], (1 - oks[1, 2]) / (1 - oks[0, 1]))
    np.testing.assert_allclose(decayed[2], expected)
    # without compensation B would have decayed C by 1 - OKS(B, C)
    assert decayed[2] > 0.7 * (1 - oks[1, 2])


def test_well_separated_poses_keep_scores():
    kpts, kpt_scores, _, areas = random_poses(1, 1, seed=5)
    poses = np.concatenate([kpts + 500.0 * i for i in range(5)])
    scores = np.array([0.3, 0.9, 0.5, 0.7, 0.1])
    keep, decayed = matrix_oks_nms(poses, np.repeat(kpt_scores, 5, 0), scores,
                                   np.repeat(areas, 5))
    np.testing.assert_array_equal(decayed, scores)
    assert keep.tolist() == [1, 3, 2, 0, 4]


@pytest.mark.parametrize('kernel', KERNELS)
def test_kept_set_independent_of_input_order(kernel, path):
    kpts, kpt_scores, scores, areas = random_poses(15, 6, spread=1500,
                                                   seed=6)
    keep, decayed = matrix_oks_nms(kpts, kpt_scores, scores, areas,
                                   kernel=kernel, score_thr=0.2)
    perm = np.random.default_rng(0).permutation(len(scores))
    keep_p, decayed_p = matrix_oks_nms(kpts[perm], kpt_scores[perm],
                                       scores[perm], areas[perm],
                                       kernel=kernel, score_thr=0.2)
    np.testing.assert_allclose(decayed_p, decayed[perm], rtol=1e-12)
    np.testing.assert_array_equal(perm[keep_p], keep)
    assert 15 <= len(keep) < len(scores)


def test_empty_and_single():
    keep, decayed = matrix_oks_nms(np.zeros((0, 17, 2)), np.zeros((0, 17)),
                                   np.zeros(0), np.zeros(0))
    assert keep.shape == decayed.shape == (0, )
    assert keep.dtype == np.int64
    keep, decayed = matrix_oks_nms(np.ones((1, 17, 2)), np.ones((1, 17)),
                                   np.array([0.7]), np.array([100.]),
                                   kernel='linear')
    assert keep.tolist() == [0] and decayed.tolist() == [0.7]
    keep, _ = matrix_oks_nms(np.ones((1, 17, 2)), np.ones((1, 17)),
                             np.array([0.7]), np.array([100.]),
                             score_thr=0.8)
    assert keep.shape == (0, ) and keep.dtype == np.int64
    assert greedy_oks_nms(np.zeros((0, 17, 2)), np.zeros(0), np.zeros(0),
                          0.9).shape == (0, )
    assert greedy_oks_nms(np.ones((1, 17, 2)), np.ones(1), np.ones(1),
                          0.9).tolist() == [0]


@pytest.mark.parametrize('kernel', KERNELS)
def test_all_equal_scores_rank_by_input_order(kernel):
    kpts, kpt_scores, _, areas = random_poses(3, 4, seed=7)
    scores = np.full(len(kpts), 0.5)
    keep, decayed = matrix_oks_nms(kpts, kpt_scores, scores, areas,
                                   kernel=kernel)
    expected_keep, expected = loop_matrix_oks_nms(kpts, kpt_scores, scores,
                                                  areas, kernel=kernel)
    np.testing.assert_allclose(decayed, expected, rtol=1e-10)
    np.testing.assert_array_equal(keep, expected_keep)
    # the first input is the top pose and is not decayed
    assert keep[0] == 0 and decayed[0] == 0.5
    # identical poses with equal scores: only the first keeps its score
    same = np.repeat(kpts[:1], 3, 0)
    keep, decayed = matrix_oks_nms(same, kpt_scores[:3], np.full(3, 0.5),
                                   areas[:3], kernel='linear',
                                   score_thr=0.1)
    assert keep.tolist() == [0]
    np.testing.assert_array_equal(decayed, [0.5, 0.0, 0.0])


def test_zero_areas():
    kpts, kpt_scores, _, _ = random_poses(1, 1, seed=8)
    poses = np.concatenate([kpts, kpts, kpts + 1.0])
    keep, decayed = matrix_oks_nms(poses, np.repeat(kpt_scores, 3, 0),
                                   np.array([0.9, 0.8, 0.7]), np.zeros(3))
    # zero area: identical poses have OKS 1, any offset gives OKS ~0
    np.testing.assert_allclose(decayed, [0.9, 0.8 * math.exp(-2.0), 0.7])
    assert keep.tolist() == [0, 2, 1]
    np.testing.assert_allclose(pairwise_oks(poses, np.zeros(3))[0],
                               [1, 1, 0], atol=1e-20)


@pytest.mark.parametrize('name,index,match', [
    ('keypoints', (2, 5, 1), r'`keypoints` should be finite, but pose 2'),
    ('scores', (3, ), r'`scores` should be finite, but pose 3'),
    ('areas', (1, ), r'`areas` should be finite, but pose 1'),
])
@pytest.mark.parametrize('bad', [np.nan, np.inf])
def test_nan_and_inf_are_refused(name, index, match, bad):
    kpts, kpt_scores, scores, areas = random_poses(2, 3, seed=9)
    arrays = dict(keypoints=kpts, scores=scores, areas=areas)
    arrays[name] = arrays[name].copy()
    arrays[name][index] = bad
    with pytest.raises(ValueError, match=match):
        matrix_oks_nms(arrays['keypoints'], kpt_scores, arrays['scores'],
                       arrays['areas'])
    if name != 'scores' or not np.isnan(bad):
        with pytest.raises(ValueError, match=match):
            greedy_oks_nms(arrays['keypoints'], arrays['scores'],
                           arrays['areas'], 0.9)


def test_nan_keypoint_scores_matter_only_with_vis_thr():
    kpts, kpt_scores, scores, areas = random_poses(2, 3, seed=9)
    kpt_scores[4, 3] = np.nan
    expected = matrix_oks_nms(kpts, np.ones_like(kpt_scores), scores, areas)
    got = matrix_oks_nms(kpts, kpt_scores, scores, areas)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    with pytest.raises(ValueError, match='`keypoint_scores`.*pose 4'):
        matrix_oks_nms(kpts, kpt_scores, scores, areas, vis_thr=0.3)


def test_bad_input():
    kpts, kpt_scores, scores, areas = random_poses(2, 2, seed=10)
    with pytest.raises(ValueError, match='keypoint_scores'):
        matrix_oks_nms(kpts, kpt_scores[:, :5], scores, areas)
    with pytest.raises(ValueError, match='scores'):
        matrix_oks_nms(kpts, kpt_scores, scores[:3], areas)
    with pytest.raises(ValueError, match='areas'):
        matrix_oks_nms(kpts, kpt_scores, scores, areas[None])
    with pytest.raises(ValueError, match=r'`areas` should not be negative, '
                       r'but pose 1 has -5.0'):
        matrix_oks_nms(kpts, kpt_scores, scores, np.array([1, -5., 1, 1]))
    with pytest.raises(ValueError, match='keypoints'):
        matrix_oks_nms(kpts[..., :1], kpt_scores, scores, areas)
    # mismatched sigmas length, and sigmas left out for K != 17
    with pytest.raises(ValueError, match=r'`sigmas` should have shape '
                       r'\(17,\), but got \(5,\)'):
        matrix_oks_nms(kpts, kpt_scores, scores, areas, COCO_SIGMAS[:5])
    with pytest.raises(ValueError, match='K = 5'):
        matrix_oks_nms(kpts[:, :5], kpt_scores[:, :5], scores, areas)
    with pytest.raises(ValueError, match='sigmas.*positive'):
        matrix_oks_nms(kpts, kpt_scores, scores, areas, COCO_SIGMAS * 0)
    with pytest.raises(ValueError, match="'box'"):
        matrix_oks_nms(kpts, kpt_scores, scores, areas, kernel='box')
    with pytest.raises(ValueError, match='max_num'):
        matrix_oks_nms(kpts, kpt_scores, scores, areas, max_num=0)
    with pytest.raises(ValueError, match='pre_topk'):
        matrix_oks_nms(kpts, kpt_scores, scores, areas, pre_topk=2.5)
    with pytest.raises(ValueError, match='sigma'):
        matrix_oks_nms(kpts, kpt_scores, scores, areas, sigma=0)
    with pytest.raises(ValueError, match='score_thr'):
        matrix_oks_nms(kpts, kpt_scores, scores, areas, score_thr=np.nan)
    with pytest.raises(ValueError, match='vis_thr'):
        matrix_oks_nms(kpts, kpt_scores, scores, areas, vis_thr=np.nan)
    with pytest.raises(TypeError, match='vis_thr'):
        matrix_oks_nms(kpts, kpt_scores, scores, areas, vis_thr='0.3')
    with pytest.raises(TypeError, match='keypoints'):
        matrix_oks_nms(kpts.tolist(), kpt_scores, scores, areas)
    with pytest.raises(TypeError, match='scores'):
        matrix_oks_nms(kpts, kpt_scores, np.array(['a'] * 4), areas)
    with pytest.raises(TypeError, match='keypoint_scores'):
        matrix_oks_nms(kpts, None, scores, areas)
    with pytest.raises(ValueError, match='keypoint_scores.*vis_thr'):
        pairwise_oks(kpts, areas, vis_thr=0.3)
    for thr in (1.5, -0.1, True, None):
        with pytest.raises(ValueError, match='thr'):
            greedy_oks_nms(kpts, scores, areas, thr)


def test_check_nms_options_names_the_option():
    nms.check_nms_options()
    # sigma is the gaussian kernel's only
    nms.check_nms_options('linear', sigma=0)
    # a config's names, e.g. MatrixNMSCocoMetric's nms_* arguments
    with pytest.raises(ValueError, match="`nms_kernel` should be 'gaussian' "
                       "or 'linear', but got 'box'"):
        nms.check_nms_options('box', prefix='nms_')
    with pytest.raises(ValueError, match='`nms_sigma` should be a positive '
                       'number, but got inf'):
        nms.check_nms_options(sigma=math.inf, prefix='nms_')
    with pytest.raises(ValueError, match='`nms_max_num` should be -1 or a '
                       'positive int, but got True'):
        nms.check_nms_options(max_num=True, prefix='nms_')
    with pytest.raises(TypeError, match="`nms_vis_thr` should be a number or "
                       "None, but got '0.2'"):
        nms.check_nms_options(vis_thr='0.2', prefix='nms_')


@pytest.mark.parametrize('thr', [0.5, 0.7, 0.9])
@pytest.mark.parametrize('vis_thr', [None, 0.4])
@pytest.mark.parametrize('case', ['clustered', 'crowd', 'chains'])
def test_greedy_keeps_what_the_loop_keeps(case, thr, vis_thr, path):
    (kpts, kpt_scores, scores, areas), _ = nms_cases()[case]
    expected = loop_greedy(kpts, kpt_scores, scores, areas, thr, vis_thr)
    keep = greedy_oks_nms(kpts, scores, areas, thr,
                          keypoint_scores=kpt_scores, vis_thr=vis_thr)
    assert keep.dtype == np.int64
    np.testing.assert_array_equal(keep, expected)
    assert len(keep) < len(scores)


def test_greedy_chains_need_several_rounds():
    # in a chain every pose overlaps the next: greedy keeps every other one,
    # which a single pass over "overlaps a better pose" would not
    kpts, kpt_scores, scores, areas = pose_chains(num_chains=1, length=7,
                                                  step=8.0)
    oks = pairwise_oks(kpts, areas)
    thr = (oks[0, 1] + oks[0, 2]) / 2
    assert oks[0, 2] < thr < oks[0, 1]
    keep = greedy_oks_nms(kpts, scores, areas, thr)
    assert keep.tolist() == [0, 2, 4, 6]
