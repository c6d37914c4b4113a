"""Pose NMS in numpy: Matrix-OKS-NMS and greedy OKS-NMS.

Matrix-OKS-NMS is MatrixNMS from `SOLOv2: Dynamic and Fast Instance
Segmentation <https://arxiv.org/abs/2003.10152>`_, with the Object Keypoint
Similarity (OKS) of two poses in place of the IoU of two masks, as in the
"parallel pose NMS" of MobilePoseNet. Every pose is decayed at once from the
pairwise OKS matrix:

1. sort the poses by score and keep the strict upper triangle of their OKS
   matrix (row ``i`` scored above column ``j``);
2. compensation ``c_i = max_k OKS(k, i)`` over the poses ``k`` above ``i``:
   how much ``i`` is itself suppressed;
3. decay ``d_j = min(1, min_i f(OKS(i, j)) / f(c_i))`` over the poses ``i``
   above ``j``, with ``f(x) = exp(-sigma * x ** 2)`` (gaussian) or
   ``1 - x`` (linear);
4. new score ``s_j * d_j``, then a score threshold and top-k.

:func:`greedy_oks_nms` keeps exactly the poses of MMPose's ``oks_nms`` (a
pose is removed when its OKS with a kept, better scored pose exceeds
``thr``), from the same OKS matrix.

OKS is the one of MMPose's ``oks_iou``: the mean over keypoints of
``exp(-d ** 2 / (2 * (2 * sigma_k) ** 2 * (a_i + a_j) / 2))``, optionally over
the keypoints visible (score above ``vis_thr``) in both poses only.

How it stays fast with few poses and with many:

- one call costs few numpy operations: the pairs of the upper triangle are
  visited in chunks of a few hundred kB (whole, for a few poses), and a
  chunk's decay is taken as soon as its OKS is known, since the
  compensation of a pose needs only the pairs above it; so memory is
  O(chunk + N), and the gaussian takes one ``exp`` per pose;
- each OKS exponent is clamped at :data:`MIN_EXPONENT` (-50,
  ``exp(-50) < 2e-22``): libm's float64 ``exp`` is 2-3 times slower for
  arguments near its underflow limit, and a term that small changes no
  decayed score (``f`` of such an OKS is 1 to the last bit);
- above :data:`DENSE_MAX_POSES` poses, the pairs whose keypoint boxes are
  too far apart for any term to exceed ``exp(MIN_EXPONENT)`` are skipped
  before any OKS is computed (for :func:`greedy_oks_nms`: too far apart to
  exceed ``thr``). The results are the same bit for bit.

This module needs numpy only; :mod:`mmpose_light.evaluation` runs the same
functions on numpy input and has a torch version for tensors.
"""
import functools
import math
from numbers import Real
from typing import Iterator, Optional, Tuple

import numpy as np

__all__ = [
    'COCO_SIGMAS', 'DENSE_MAX_POSES', 'MIN_EXPONENT', 'pairwise_oks',
    'matrix_oks_nms', 'greedy_oks_nms'
]

# COCO keypoint sigmas, the default of MMPose's ``oks_iou``.
COCO_SIGMAS = np.array([
    .26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87,
    .87, .89, .89
]) / 10.0

#: Up to this many poses the OKS upper triangle is computed whole; above,
#: pairs whose every OKS term is negligible are skipped first.
DENSE_MAX_POSES = 64

# The area regulariser of ``oks_iou`` (``np.spacing(1)``).
_EPS = float(np.spacing(1))

#: OKS exponents are clamped here (see the module docstring).
MIN_EXPONENT = -50.0

# An OKS at most this large counts as 0 where it is compared with a
# threshold: all of its terms may have been clamped.
_NEGLIGIBLE_OKS = 2 * math.exp(MIN_EXPONENT)

# (pair, keypoint) elements of a chunk of pairs: 2 ** 15 float64 is 256 kB
# per temporary, which stays in a core's L2 cache.
_BLOCK_ELEMENTS = 2**15

# (row, column) pairs of a block of the test that skips far pairs.
_PAIR_TEST_ELEMENTS = 2**18


def _check_shape(name: str, value: np.ndarray, shape: Tuple[int, ...]) -> None:
    if value.shape != shape:
        raise ValueError(f'`{name}` should have shape {shape}, '
                         f'but got {value.shape}')


def _as_float(name: str, value, dtype) -> np.ndarray:
    """``value`` as an array of ``dtype``; TypeError if it holds no
    numbers."""
    array = np.asarray(value)
    if array.dtype.kind not in 'fiub':
        raise TypeError(f'`{name}` should be an array of numbers, but got '
                        f'{type(value).__name__} of dtype {array.dtype}')
    return array.astype(dtype, copy=False)


def _check_finite(name: str, value: np.ndarray) -> None:
    """ValueError naming the first pose of ``value`` with a NaN or inf."""
    if np.isfinite(value).all():
        return
    flat = value.reshape(len(value), -1)
    bad = ~np.isfinite(flat)
    pose = int(np.flatnonzero(bad.any(axis=1))[0])
    raise ValueError(f'`{name}` should be finite, but pose {pose} has '
                     f'{flat[pose][bad[pose]][0]}')


def _float_dtype(array: np.ndarray) -> np.dtype:
    """float32 and float64 are kept, anything else computes in float64."""
    if array.dtype == np.float32 or array.dtype == np.float64:
        return array.dtype
    return np.dtype(np.float64)


def _check_vis_thr(vis_thr: Optional[float]) -> None:
    if vis_thr is None:
        return
    if isinstance(vis_thr, bool) or not isinstance(vis_thr, Real):
        raise TypeError('`vis_thr` should be a number or None, '
                        f'but got {vis_thr!r}')
    if math.isnan(vis_thr):
        raise ValueError(f'`vis_thr` should not be NaN, but got {vis_thr}')


def _prepare(keypoints, keypoint_scores, areas, sigmas,
             vis_thr: Optional[float], scores=None):
    """Validate the inputs of the functions below; return them as arrays of
    one float dtype and the visible mask (or None).

    Raises ValueError on a wrong shape, a NaN or inf in the keypoints, pose
    scores or areas (or in the keypoint scores when ``vis_thr`` reads them),
    a negative area, or sigmas that are not positive.
    """
    if not isinstance(keypoints, np.ndarray):
        raise TypeError('`keypoints` should be a numpy array, '
                        f'but got {type(keypoints).__name__}')
    _check_vis_thr(vis_thr)
    if (keypoints.ndim != 3 or keypoints.shape[-1] != 2
            or keypoints.shape[1] == 0):
        raise ValueError('`keypoints` should have shape (N, K, 2), K > 0, '
                         f'but got {keypoints.shape}')
    dtype = _float_dtype(keypoints)
    kpts = _as_float('keypoints', keypoints, dtype)
    num, num_keypoints = kpts.shape[:2]
    pose_areas = _as_float('areas', areas, dtype)
    _check_shape('areas', pose_areas, (num, ))
    if sigmas is None:
        if num_keypoints != len(COCO_SIGMAS):
            raise ValueError('`sigmas` are required for K != 17 keypoints, '
                             f'but got K = {num_keypoints}')
        sigma_scale = _coco_sigma_scale(dtype)
    else:
        sigma_scale = _sigma_scale(_as_float('sigmas', sigmas, dtype),
                                   num_keypoints)
    pose_scores = None
    if scores is not None:
        pose_scores = _as_float('scores', scores, dtype)
        _check_shape('scores', pose_scores, (num, ))
    kpt_scores = None
    if keypoint_scores is not None:
        kpt_scores = _as_float('keypoint_scores', keypoint_scores, dtype)
        _check_shape('keypoint_scores', kpt_scores, (num, num_keypoints))
    # one sum and one product find a NaN or inf; the checks then say where
    total = float(np.add.reduce(kpts, axis=None))
    if pose_scores is not None:
        total += float(pose_areas @ pose_scores)
    else:
        total += float(np.add.reduce(pose_areas))
    if not math.isfinite(total):
        _check_finite('keypoints', kpts)
        _check_finite('areas', pose_areas)
        if pose_scores is not None:
            _check_finite('scores', pose_scores)
    if num and np.minimum.reduce(pose_areas) < 0:
        pose = int(np.flatnonzero(pose_areas < 0)[0])
        raise ValueError('`areas` should not be negative, but pose '
                         f'{pose} has {pose_areas[pose]}')
    visible = None
    if vis_thr is not None:
        if kpt_scores is None:
            raise ValueError('`keypoint_scores` are required when `vis_thr` '
                             f'is given (vis_thr={vis_thr})')
        _check_finite('keypoint_scores', kpt_scores)
        visible = kpt_scores > vis_thr
    return kpts, kpt_scores, pose_scores, pose_areas, sigma_scale, visible


def _sigma_scale(sigmas: np.ndarray,
                 num_keypoints: int) -> Tuple[np.ndarray, float]:
    """Checked sigmas as ``1 / (sqrt(2) * 2 * sigma_k)``, shape (K, ), the
    factor of the scaled coordinates, and their largest sigma."""
    _check_shape('sigmas', sigmas, (num_keypoints, ))
    if not (np.minimum.reduce(sigmas) > 0
            and np.maximum.reduce(sigmas) < np.inf):
        raise ValueError('`sigmas` should be positive and finite, '
                         f'but got {sigmas.tolist()}')
    scale = 1 / (math.sqrt(8) * sigmas)
    scale.flags.writeable = False
    return scale, float(np.maximum.reduce(sigmas))


@functools.lru_cache(maxsize=None)
def _coco_sigma_scale(dtype: np.dtype) -> Tuple[np.ndarray, float]:
    return _sigma_scale(COCO_SIGMAS.astype(dtype), len(COCO_SIGMAS))


class _SortedPoses:
    """Poses in a fixed order, for the OKS of their pairs.

    The coordinates are divided by ``sqrt(2) * 2 * sigma_k`` and stored as
    (N, 2, K), x then y, so that the squared distance of two keypoints
    times ``2 / (a_i + a_j + 2 eps)`` is the OKS exponent.

    Args:
        keypoints (np.ndarray): Shape (N, K, 2).
        areas (np.ndarray): Shape (N, ).
        sigma_scale (tuple): ``1 / (sqrt(2) * 2 * sigma_k)``, shape (K, ),
            and the largest sigma, from :func:`_sigma_scale`.
        visible (np.ndarray, optional): Keypoints counted in the mean, or
            None for all. Shape (N, K).
    """

    def __init__(self, keypoints: np.ndarray, areas: np.ndarray,
                 sigma_scale: Tuple[np.ndarray, float],
                 visible: Optional[np.ndarray]) -> None:
        self.keypoints = keypoints
        self.scaled = np.multiply(keypoints.transpose(0, 2, 1),
                                  sigma_scale[0],
                                  order='C')
        self.sigma_max = sigma_scale[1]
        self.areas = areas
        # a_i + eps, so that a pair's a_i + a_j + 2 eps is one addition
        self.areas_eps = areas + _EPS
        self.visible = visible

    def __len__(self) -> int:
        return len(self.areas)

    def oks(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """OKS of the poses ``rows[p]`` and ``cols[p]``. Shape (P, ).

        Each exponent is clamped at :data:`MIN_EXPONENT`.
        """
        scaled, areas_eps = self.scaled, self.areas_eps
        diff = scaled.take(rows, axis=0)
        diff -= scaled.take(cols, axis=0)
        np.square(diff, out=diff)
        exponent = np.add(diff[:, 0], diff[:, 1])
        # -1 / ((a_i + a_j) / 2 + eps)
        scale = areas_eps.take(rows)
        scale += areas_eps.take(cols)
        np.divide(-2, scale, out=scale)
        exponent *= scale[:, None]
        np.maximum(exponent, MIN_EXPONENT, out=exponent)
        sim = np.exp(exponent, out=exponent)
        if self.visible is None:
            total = np.add.reduce(sim, axis=1)
            total /= sim.shape[1]
            return total
        both = self.visible.take(rows, axis=0)
        both &= self.visible.take(cols, axis=0)
        count = np.add.reduce(both, axis=1)
        sim *= both
        total = np.add.reduce(sim, axis=1)
        return np.where(count > 0, total / np.maximum(count, 1),
                        0).astype(sim.dtype, copy=False)

    def upper_pairs(
        self,
        min_exponent: float = MIN_EXPONENT
    ) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
        """The pairs (i, j > i) of the upper triangle whose OKS may exceed
        ``exp(min_exponent)``, by row then column, in chunks of a few
        hundred kB of temporaries.

        Up to :data:`DENSE_MAX_POSES` poses these are all the pairs. Above,
        a pair is skipped when no OKS term can exceed ``exp(min_exponent)``,
        i.e. when ``d_k ** 2 >= -min_exponent * 4 * sigma_k ** 2 * (a_i +
        a_j + 2 eps)`` for every k; this holds when the keypoint boxes of i
        and j are ``R_i + R_j`` apart along x or y, with ``R_i =
        sqrt(-min_exponent * 4 * sigma_max ** 2 * (a_i + eps))``.

        Args:
            min_exponent (float): Pairs with every OKS exponent at most
                this may be skipped. Defaults to :data:`MIN_EXPONENT`.

        Yields:
            tuple: Row and column indices of a chunk of pairs.
        """
        num = len(self)
        chunk = max(1, _BLOCK_ELEMENTS // self.scaled.shape[2])
        if num <= DENSE_MAX_POSES:
            rows, cols = _triu_indices(num)
            for start in range(0, len(rows), chunk):
                yield rows[start:start + chunk], cols[start:start + chunk]
            return
        radius = np.sqrt(-min_exponent * 4 * self.sigma_max**2 *
                         (self.areas + _EPS))[:, None]
        lo = self.keypoints.min(axis=1) - radius
        hi = self.keypoints.max(axis=1) + radius
        step = max(1, _PAIR_TEST_ELEMENTS // num)
        for start in range(0, num, step):
            stop = min(start + step, num)
            near = ((lo[start:stop, None, 0] < hi[None, start:, 0])
                    & (lo[None, start:, 0] < hi[start:stop, None, 0])
                    & (lo[start:stop, None, 1] < hi[None, start:, 1])
                    & (lo[None, start:, 1] < hi[start:stop, None, 1]))
            # strict upper triangle: column start + c > row start + r
            near &= (np.arange(num - start)[None] >
                     np.arange(stop - start)[:, None])
            rows, cols = np.nonzero(near)
            rows += start
            cols += start
            for first in range(0, len(rows), chunk):
                yield rows[first:first + chunk], cols[first:first + chunk]


@functools.lru_cache(maxsize=DENSE_MAX_POSES + 1)
def _triu_indices(num: int) -> Tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the strict upper triangle, read-only."""
    rows, cols = np.triu_indices(num, 1)
    rows.flags.writeable = False
    cols.flags.writeable = False
    return rows, cols


def pairwise_oks(keypoints: np.ndarray,
                 areas: np.ndarray,
                 sigmas: Optional[np.ndarray] = None,
                 keypoint_scores: Optional[np.ndarray] = None,
                 vis_thr: Optional[float] = None) -> np.ndarray:
    """The OKS of every pair of poses, as MMPose's ``oks_iou`` defines it.

    OKS terms below ``exp(-50)`` are taken as ``exp(-50)`` (see the module
    docstring), so far-apart poses get about ``2e-22`` rather than 0.

    Args:
        keypoints (np.ndarray): Keypoint coordinates. Shape (N, K, 2).
        areas (np.ndarray): Pose areas; a pair uses their mean. Shape (N, ).
        sigmas (np.ndarray, optional): Per-keypoint labelling uncertainty.
            Shape (K, ). Defaults to ``None``: the COCO sigmas.
        keypoint_scores (np.ndarray, optional): Keypoint scores, needed
            with ``vis_thr``. Shape (N, K). Defaults to ``None``.
        vis_thr (float, optional): If given, a pair's OKS averages only the
            keypoints scored above ``vis_thr`` in both poses (0 if none).
            Defaults to ``None``.

    Returns:
        np.ndarray: Symmetric OKS matrix. Shape (N, N).
    """
    kpts, _, _, pose_areas, sigma_scale, visible = _prepare(
        keypoints, keypoint_scores, areas, sigmas, vis_thr)
    poses = _SortedPoses(kpts, pose_areas, sigma_scale, visible)
    num, num_keypoints = kpts.shape[:2]
    matrix = np.empty((num, num), dtype=kpts.dtype)
    step = max(1, _BLOCK_ELEMENTS // max(num * num_keypoints, 1))
    cols = np.arange(num)
    for start in range(0, num, step):
        stop = min(start + step, num)
        rows = np.repeat(np.arange(start, stop), num)
        matrix[start:stop] = poses.oks(rows, np.tile(cols, stop - start)
                                       ).reshape(stop - start, num)
    return matrix


def _check_topk(name: str, value) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(
            value, bool) or (value < 1 and value != -1):
        raise ValueError(f'`{name}` should be -1 or a positive int, '
                         f'but got {value!r}')


def _check_options(kernel: str, sigma: float, score_thr: float,
                   pre_topk: int, max_num: int) -> None:
    """Validate the options of :func:`matrix_oks_nms` (and of its torch
    twin in ``mmpose_light``)."""
    if kernel not in ('gaussian', 'linear'):
        raise ValueError("`kernel` should be 'gaussian' or 'linear', "
                         f'but got {kernel!r}')
    if kernel == 'gaussian' and not (isinstance(sigma, Real) and sigma > 0
                                     and math.isfinite(sigma)):
        raise ValueError(
            f'`sigma` should be a positive number, but got {sigma!r}')
    if not isinstance(score_thr, Real) or math.isnan(score_thr):
        raise ValueError(
            f'`score_thr` should be a number, but got {score_thr!r}')
    _check_topk('pre_topk', pre_topk)
    _check_topk('max_num', max_num)


def _decay(poses: _SortedPoses, kernel: str, sigma: float) -> np.ndarray:
    """Decay coefficients ``d_j`` of poses sorted by descending score.

    A chunk of pairs is finished as soon as its OKS is known: the
    compensation of pose i needs the pairs (k, i), k < i, which come before
    any pair of row i. ``min_i exp(-sigma * t_i) = exp(-sigma * max_i
    t_i)`` for the gaussian, so one ``exp`` per pose. Pairs that are not
    visited (skipped, or OKS 0) give ``f(0) / f(c_i) >= 1`` and cannot
    lower a decay below 1.
    """
    num = len(poses)
    comp = np.zeros(num, dtype=poses.scaled.dtype)
    # gaussian: max(0, max_i OKS(i, j)^2 - c_i^2); linear: the decay itself
    worst = np.zeros(num, dtype=comp.dtype) if kernel == 'gaussian' \
        else np.ones(num, dtype=comp.dtype)
    for rows, cols in poses.upper_pairs():
        oks = poses.oks(rows, cols)
        np.maximum.at(comp, cols, oks)
        comp_rows = comp.take(rows)
        if kernel == 'gaussian':
            oks *= oks
            comp_rows *= comp_rows
            oks -= comp_rows
            np.maximum.at(worst, cols, oks)
            continue
        # f(c_i) = 0 (a duplicate of a pose above) suppresses nothing
        live = comp_rows < 1
        if not live.all():
            oks, comp_rows, cols = oks[live], comp_rows[live], cols[live]
        ratio = np.subtract(1, oks, out=oks)
        ratio /= np.subtract(1, comp_rows, out=comp_rows)
        np.minimum.at(worst, cols, ratio)
    if kernel == 'gaussian':
        worst *= -sigma
        np.exp(worst, out=worst)
    return worst


def matrix_oks_nms(keypoints: np.ndarray,
                   keypoint_scores: np.ndarray,
                   scores: np.ndarray,
                   areas: np.ndarray,
                   sigmas: Optional[np.ndarray] = None,
                   kernel: str = 'gaussian',
                   sigma: float = 2.0,
                   score_thr: float = 0.0,
                   pre_topk: int = -1,
                   max_num: int = -1,
                   vis_thr: Optional[float] = None
                   ) -> Tuple[np.ndarray, np.ndarray]:
    """Matrix-OKS-NMS over the poses of one image.

    Every pose's score decays by how much the poses scored above it overlap
    it (OKS), compensated by how much those are suppressed themselves; see
    the module docstring.

    Rules for edge cases: equal ``scores`` rank the earlier input first; a
    zero area gives OKS 1 to identical poses and 0 to any others; NaN or
    inf in ``keypoints``, ``scores`` or ``areas`` (or in
    ``keypoint_scores`` when ``vis_thr`` reads them) raise ``ValueError``
    naming the pose, since no order of such poses would be right.

    Note:
        - number of poses: N
        - number of keypoints: K

    Args:
        keypoints (np.ndarray): Keypoint coordinates. Shape (N, K, 2).
        keypoint_scores (np.ndarray): Keypoint scores, used with
            ``vis_thr``. Shape (N, K).
        scores (np.ndarray): Pose scores, e.g. the box score times the mean
            keypoint score as ``CocoMetric`` rescores. Shape (N, ).
        areas (np.ndarray): Pose areas; a pair's OKS uses their mean, see
            ``pose_areas`` for the ones ``CocoMetric`` uses. Shape (N, ).
        sigmas (np.ndarray, optional): Per-keypoint labelling uncertainty.
            Shape (K, ). Defaults to ``None``: the COCO sigmas (K must be
            17).
        kernel (str): Decay function, ``'gaussian'`` (``exp(-sigma x^2)``)
            or ``'linear'`` (``1 - x``). Defaults to ``'gaussian'``.
        sigma (float): Gaussian kernel parameter. Defaults to 2.0.
        score_thr (float): Keep poses whose decayed score is at least this.
            Defaults to 0.0.
        pre_topk (int): Only the ``pre_topk`` best scored poses take part;
            the rest get a decayed score of 0 and are not kept. -1 for all.
            Defaults to -1.
        max_num (int): Keep at most this many poses after the threshold.
            -1 for all. Defaults to -1.
        vis_thr (float, optional): If given, OKS averages only the keypoints
            scored above ``vis_thr`` in both poses. Defaults to ``None``.

    Returns:
        tuple: ``(keep, decayed_scores)``:

        - keep: Indices into the input of the kept poses, by descending
          decayed score (equal ones by input order). Shape (M, ), int64.
        - decayed_scores: The decayed score of every pose, in input order,
          of the input's float dtype (float64 for other dtypes).
          Shape (N, ).
    """
    _check_options(kernel, sigma, score_thr, pre_topk, max_num)
    if keypoint_scores is None:
        raise TypeError('`keypoint_scores` should be an array, but got None')
    kpts, _, pose_scores, pose_areas, sigma_scale, visible = _prepare(
        keypoints, keypoint_scores, areas, sigmas, vis_thr, scores)

    order = np.argsort(-pose_scores, kind='stable')
    if pre_topk > 0:
        order = order[:pre_topk]
    poses = _SortedPoses(kpts.take(order, axis=0),
                         pose_areas.take(order), sigma_scale,
                         None if visible is None else visible[order])
    sorted_decayed = pose_scores.take(order)
    sorted_decayed *= _decay(poses, kernel, sigma)

    decayed_scores = np.zeros(len(pose_scores), dtype=pose_scores.dtype)
    decayed_scores[order] = sorted_decayed
    # stable: equal decayed scores keep the original rank
    rank = np.argsort(-sorted_decayed, kind='stable')
    keep = order.take(rank)
    if len(rank) and np.minimum.reduce(sorted_decayed) < score_thr:
        keep = keep[sorted_decayed.take(rank) >= score_thr]
    if max_num > 0:
        keep = keep[:max_num]
    return keep.astype(np.int64, copy=False), decayed_scores


def greedy_oks_nms(keypoints: np.ndarray,
                   scores: np.ndarray,
                   areas: np.ndarray,
                   thr: float,
                   sigmas: Optional[np.ndarray] = None,
                   keypoint_scores: Optional[np.ndarray] = None,
                   vis_thr: Optional[float] = None) -> np.ndarray:
    """Greedy OKS-NMS: the poses that MMPose's ``oks_nms`` keeps.

    Visiting the poses by descending score, a pose is kept unless its OKS
    with a pose already kept exceeds ``thr``. As in ``oks_nms``, OKS is
    rounded to float32 before the comparison, and ties in ``scores`` follow
    ``scores.argsort()[::-1]``. The OKS of the pairs that can exceed ``thr``
    is computed once; the kept set is then the fixed point of "j is kept
    unless a kept pose above it overlaps it", reached by iterating that rule
    on all poses at once (as in Cluster-NMS, Zheng et al., 2020), which
    takes as many rounds as the longest chain of overlaps.

    Args:
        keypoints (np.ndarray): Keypoint coordinates. Shape (N, K, 2).
        scores (np.ndarray): Pose scores. Shape (N, ).
        areas (np.ndarray): Pose areas. Shape (N, ).
        thr (float): OKS threshold in [0, 1]: a pose overlapping a kept one
            by more than ``thr`` is removed.
        sigmas (np.ndarray, optional): Per-keypoint labelling uncertainty.
            Shape (K, ). Defaults to ``None``: the COCO sigmas.
        keypoint_scores (np.ndarray, optional): Keypoint scores, needed
            with ``vis_thr``. Shape (N, K). Defaults to ``None``.
        vis_thr (float, optional): If given, OKS averages only the keypoints
            scored above ``vis_thr`` in both poses. Defaults to ``None``.

    Returns:
        np.ndarray: Indices of the kept poses, by descending score.
        Shape (M, ), int64.
    """
    if isinstance(thr, bool) or not isinstance(thr, Real) or not 0 <= thr <= 1:
        raise ValueError(f'`thr` should be in [0, 1], but got {thr!r}')
    kpts, _, pose_scores, pose_areas, sigma_scale, visible = _prepare(
        keypoints, keypoint_scores, areas, sigmas, vis_thr, scores)
    # oks_nms's order, from the scores as given (a cast may tie them)
    order = np.asarray(scores).argsort()[::-1]
    poses = _SortedPoses(kpts.take(order, axis=0),
                         pose_areas.take(order), sigma_scale,
                         None if visible is None else visible[order])
    # an OKS that small may be a skipped or clamped pair: it counts as 0
    limit = max(np.float32(thr), np.float32(_NEGLIGIBLE_OKS))
    # a pair whose every term is at most thr (with a margin for rounding)
    # cannot exceed it
    min_exponent = MIN_EXPONENT if thr == 0 else max(
        MIN_EXPONENT,
        math.log(thr) * (1 + 1e-6))
    rows, cols = [], []
    for chunk_rows, chunk_cols in poses.upper_pairs(min_exponent):
        over = poses.oks(chunk_rows, chunk_cols).astype(np.float32) > limit
        rows.append(chunk_rows[over])
        cols.append(chunk_cols[over])
    kept = np.ones(len(order), dtype=bool)
    if rows:
        rows, cols = np.concatenate(rows), np.concatenate(cols)
        while True:
            suppressed = np.zeros(len(order), dtype=bool)
            suppressed[cols[kept[rows]]] = True
            if np.array_equal(~suppressed, kept):
                break
            kept = ~suppressed
    return order[kept].astype(np.int64, copy=False)
