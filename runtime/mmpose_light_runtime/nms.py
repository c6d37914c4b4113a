"""Pose NMS in numpy: Matrix-OKS-NMS and greedy OKS-NMS.

Matrix-OKS-NMS is MatrixNMS from `SOLOv2: Dynamic and Fast Instance
Segmentation <https://arxiv.org/abs/2003.10152>`_, with the Object Keypoint
Similarity (OKS) of two poses in place of the IoU of two masks, as in the
"parallel pose NMS" of MobilePoseNet. Every pose is decayed at once from the
pairwise OKS of the poses sorted by score:

1. compensation ``c_i = max_k OKS(k, i)`` over the poses ``k`` above ``i``:
   how much ``i`` is itself suppressed;
2. decay ``d_j = min(1, min_i f(OKS(i, j)) / f(c_i))`` over the poses ``i``
   above ``j``, with ``f(x) = exp(-sigma * x ** 2)`` (gaussian) or
   ``1 - x`` (linear);
3. new score ``s_j * d_j``, then a score threshold and top-k.

:func:`greedy_oks_nms` keeps exactly the poses of MMPose's ``oks_nms``, from
the same pairwise OKS. OKS is the one of MMPose's ``oks_iou``: the mean over
keypoints of ``exp(-d ** 2 / (2 * (2 * sigma_k) ** 2 * (a_i + a_j) / 2))``,
optionally over the keypoints visible (score above ``vis_thr``) in both
poses only.

Speed: each OKS exponent is clamped at :data:`MIN_EXPONENT`, since libm's
``exp`` is 2-3 times slower near its underflow limit and ``exp(-50) < 2e-22``
changes no decayed score; and above :data:`DENSE_MAX_POSES` poses,
:func:`_near_pairs` drops the pairs too far apart for any OKS term to count
before any OKS is computed (same results bit for bit). Nothing here needs
more than numpy.
"""
import functools
import math
from typing import Optional, Tuple

import numpy as np

from .checks import check_int, check_number

__all__ = [
    'COCO_SIGMAS', 'DENSE_MAX_POSES', 'MIN_EXPONENT', 'check_nms_options',
    'pairwise_oks', 'matrix_oks_nms', 'greedy_oks_nms'
]

# COCO keypoint sigmas, the default of MMPose's ``oks_iou``.
COCO_SIGMAS = np.array([
    .26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87,
    .87, .89, .89
]) / 10.0

#: OKS exponents are clamped here (see the module docstring).
MIN_EXPONENT = -50.0

#: Up to this many poses every pair is computed: testing which pairs are far
#: apart costs more than it saves.
DENSE_MAX_POSES = 64

# The area regulariser of ``oks_iou`` (``np.spacing(1)``).
_EPS = float(np.spacing(1))

# (pair, keypoint) elements per chunk of pairs: 2 ** 15 float64 is 256 kB
# per temporary, which stays in a core's L2 cache.
_CHUNK_ELEMENTS = 2**15


def check_nms_options(kernel: str = 'gaussian',
                      sigma: float = 2.0,
                      score_thr: float = 0.0,
                      pre_topk: int = -1,
                      max_num: int = -1,
                      vis_thr: Optional[float] = None,
                      prefix: str = '') -> None:
    """Validate the options of :func:`matrix_oks_nms` where they enter.

    :func:`matrix_oks_nms` calls it on every call; a config that holds these
    options (e.g. ``MatrixNMSCocoMetric``'s ``nms_*`` arguments) calls it
    when it is built, so that a typo fails before any prediction is made.

    Args:
        kernel, sigma, score_thr, pre_topk, max_num, vis_thr: As in
            :func:`matrix_oks_nms`.
        prefix (str): Put before each option's name in the messages, e.g.
            ``'nms_'``. Defaults to ``''``.

    Raises:
        ValueError: An unknown kernel, a gaussian ``sigma`` that is not a
            positive finite number, a NaN ``score_thr`` or ``vis_thr``, or a
            ``pre_topk`` / ``max_num`` that is neither -1 nor positive.
        BadTypeError: An option of the wrong type, e.g. a ``vis_thr`` that
            is not a number or None (a ``TypeError`` and a ``ValueError``).
    """
    if kernel not in ('gaussian', 'linear'):
        raise ValueError(f"`{prefix}kernel` should be 'gaussian' or "
                         f"'linear', but got {kernel!r}")
    if kernel == 'gaussian':
        check_number(f'`{prefix}sigma`', sigma, 0, low_open=True)
    check_number(f'`{prefix}score_thr`', score_thr, finite=False)
    check_int(f'`{prefix}pre_topk`', pre_topk, 1, also=-1)
    check_int(f'`{prefix}max_num`', max_num, 1, also=-1)
    check_number(f'`{prefix}vis_thr`', vis_thr, finite=False, allow_none=True)


def _as_floats(name: str, value, dtype: np.dtype,
               shape: Tuple[int, ...]) -> np.ndarray:
    """``value`` as an array of ``dtype`` and ``shape``, or a clear error."""
    array = np.asarray(value)
    if array.dtype.kind not in 'fiub':
        raise TypeError(f'`{name}` should be an array of numbers, but got '
                        f'{type(value).__name__} of dtype {array.dtype}')
    if array.shape != shape:
        raise ValueError(f'`{name}` should have shape {shape}, '
                         f'but got {array.shape}')
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


def _prepare(keypoints, areas, sigmas, keypoint_scores, vis_thr,
             scores=None) -> tuple:
    """Check the poses of a public function; return ``(keypoints, areas,
    sigmas, scores, visible)`` in one float dtype (float32 or float64, as
    the keypoints), ``scores`` and ``visible`` (the keypoints above
    ``vis_thr``) None when not given."""
    if not isinstance(keypoints, np.ndarray):
        raise TypeError('`keypoints` should be a numpy array, '
                        f'but got {type(keypoints).__name__}')
    if (keypoints.ndim != 3 or keypoints.shape[-1] != 2
            or keypoints.shape[1] == 0):
        raise ValueError('`keypoints` should have shape (N, K, 2), K > 0, '
                         f'but got {keypoints.shape}')
    num, num_keypoints = keypoints.shape[:2]
    dtype = keypoints.dtype if keypoints.dtype in (np.float32,
                                                   np.float64) else np.float64
    kpts = _as_floats('keypoints', keypoints, dtype, keypoints.shape)
    areas = _as_floats('areas', areas, dtype, (num, ))
    if sigmas is None:
        if num_keypoints != len(COCO_SIGMAS):
            raise ValueError('`sigmas` are required for K != 17 keypoints, '
                             f'but got K = {num_keypoints}')
        sigmas = COCO_SIGMAS.astype(dtype, copy=False)
    else:
        sigmas = _as_floats('sigmas', sigmas, dtype, (num_keypoints, ))
        if not (np.minimum.reduce(sigmas) > 0
                and np.maximum.reduce(sigmas) < np.inf):
            raise ValueError('`sigmas` should be positive and finite, '
                             f'but got {sigmas.tolist()}')
    if scores is not None:
        scores = _as_floats('scores', scores, dtype, (num, ))
    if keypoint_scores is not None:
        keypoint_scores = _as_floats('keypoint_scores', keypoint_scores,
                                     dtype, (num, num_keypoints))
    # one sum and one product find a NaN or inf; the checks then say where
    total = np.add.reduce(kpts, axis=None) + (
        areas @ scores if scores is not None else np.add.reduce(areas))
    if not math.isfinite(total):
        _check_finite('keypoints', kpts)
        _check_finite('areas', areas)
        if scores is not None:
            _check_finite('scores', scores)
    if num and np.minimum.reduce(areas) < 0:
        pose = int(np.flatnonzero(areas < 0)[0])
        raise ValueError('`areas` should not be negative, but pose '
                         f'{pose} has {areas[pose]}')
    visible = None
    if vis_thr is not None:
        if keypoint_scores is None:
            raise ValueError('`keypoint_scores` are required when `vis_thr` '
                             f'is given (vis_thr={vis_thr})')
        _check_finite('keypoint_scores', keypoint_scores)
        visible = keypoint_scores > vis_thr
    return kpts, areas, sigmas, scores, visible


def _near_pairs(keypoints: np.ndarray, areas: np.ndarray,
                sigmas: np.ndarray,
                min_exponent: float) -> Tuple[np.ndarray, np.ndarray]:
    """The pairs ``(i, j > i)`` whose OKS terms may exceed
    ``exp(min_exponent)``: all of them up to :data:`DENSE_MAX_POSES` poses,
    above only those whose keypoint boxes are near.

    A term is at most ``exp(min_exponent)`` when ``d_k ** 2 >=
    -min_exponent * 4 * sigma_k ** 2 * (a_i + a_j + 2 eps)``, which holds
    for every k when the keypoint boxes of i and j are ``R_i + R_j`` apart
    along x or y, with ``R_i = sqrt(-min_exponent * 4 * sigma_max ** 2 *
    (a_i + eps))``. The OKS of a dropped pair is then ``exp(min_exponent)``
    (or 0 with ``vis_thr``), which no caller can tell from skipping it.

    Returns:
        tuple: Row and column indices, by row then column. Shape (P, ).
    """
    num = len(keypoints)
    if num <= DENSE_MAX_POSES:
        return _triu_indices(num)
    sigma_max = float(np.maximum.reduce(sigmas))
    radius = np.sqrt(-min_exponent * 4 * sigma_max**2 * (areas + _EPS))
    low = keypoints.min(axis=1) - radius[:, None]
    high = keypoints.max(axis=1) + radius[:, None]
    near = low[:, None, 0] < high[None, :, 0]
    near &= low[None, :, 0] < high[:, None, 0]
    near &= low[:, None, 1] < high[None, :, 1]
    near &= low[None, :, 1] < high[:, None, 1]
    return np.nonzero(np.triu(near, 1))


@functools.lru_cache(maxsize=DENSE_MAX_POSES + 1)
def _triu_indices(num: int) -> Tuple[np.ndarray, np.ndarray]:
    """``np.triu_indices(num, 1)``, read-only: building them takes longer
    than the rest of the NMS of a few poses."""
    rows, cols = np.triu_indices(num, 1)
    rows.flags.writeable = cols.flags.writeable = False
    return rows, cols


def _scale(keypoints: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """The ``scaled`` keypoints of :func:`_pair_oks`: (N, K, 2) over ``sqrt(2)
    * 2 * sigma_k``, as a C-contiguous (N, 2, K), whose rows ``take``
    copies fastest."""
    return np.divide(keypoints.transpose(0, 2, 1),
                     math.sqrt(8) * sigmas,
                     order='C')


def _pair_oks(scaled: np.ndarray, areas: np.ndarray,
              visible: Optional[np.ndarray], rows: np.ndarray,
              cols: np.ndarray) -> np.ndarray:
    """OKS of the poses ``rows[p]`` and ``cols[p]``, each exponent clamped
    at :data:`MIN_EXPONENT`, in chunks whose temporaries stay in cache.

    Args:
        scaled (np.ndarray): Keypoints over ``sqrt(2) * 2 * sigma_k``, x
            then y, so that a squared distance times ``2 / (a_i + a_j + 2
            eps)`` is the exponent. Shape (N, 2, K).
        areas (np.ndarray): Pose areas. Shape (N, ).
        visible (np.ndarray, optional): Keypoints counted in the mean, or
            None for all. Shape (N, K).
        rows (np.ndarray): First pose of each pair. Shape (P, ).
        cols (np.ndarray): Second pose of each pair. Shape (P, ).

    Returns:
        np.ndarray: Shape (P, ).
    """
    step = max(1, _CHUNK_ELEMENTS // scaled.shape[2])
    if len(rows) > step:
        return np.concatenate([
            _pair_oks(scaled, areas, visible, rows[start:start + step],
                      cols[start:start + step])
            for start in range(0, len(rows), step)
        ])
    diff = scaled.take(rows, axis=0)
    diff -= scaled.take(cols, axis=0)
    diff *= diff
    exponent = np.add(diff[:, 0], diff[:, 1])
    # -1 / ((a_i + a_j) / 2 + eps)
    scale = areas.take(rows) + areas.take(cols)
    scale += 2 * _EPS
    exponent *= np.divide(-2, scale, out=scale)[:, None]
    np.maximum(exponent, MIN_EXPONENT, out=exponent)
    terms = np.exp(exponent, out=exponent)
    if visible is None:
        oks = np.add.reduce(terms, axis=1)
        oks /= terms.shape[1]
        return oks
    both = visible.take(rows, axis=0)
    both &= visible.take(cols, axis=0)
    terms *= both
    # no keypoint visible in both: the sum is 0, so is the OKS
    count = np.add.reduce(both, axis=1, dtype=terms.dtype)
    return np.add.reduce(terms, axis=1) / np.maximum(count, 1, out=count)


def _sorted_pair_oks(keypoints: np.ndarray, areas: np.ndarray,
                     sigmas: np.ndarray, visible: Optional[np.ndarray],
                     order: np.ndarray, min_exponent: float = MIN_EXPONENT
                     ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(rows, cols, oks)`` of the pairs ``(i, j > i)`` of the poses in
    ``order`` that :func:`_near_pairs` keeps; indices into ``order``."""
    keypoints, areas = keypoints.take(order, axis=0), areas.take(order)
    rows, cols = _near_pairs(keypoints, areas, sigmas, min_exponent)
    scaled = _scale(keypoints, sigmas)
    oks = _pair_oks(scaled, areas, None if visible is None else
                    visible.take(order, axis=0), rows, cols)
    return rows, cols, oks


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
    check_number('`vis_thr`', vis_thr, finite=False, allow_none=True)
    kpts, areas, sigmas, _, visible = _prepare(keypoints, areas, sigmas,
                                               keypoint_scores, vis_thr)
    num = len(kpts)
    rows, cols = np.divmod(np.arange(num * num), max(num, 1))
    scaled = _scale(kpts, sigmas)
    return _pair_oks(scaled, areas, visible, rows, cols).reshape(num, num)


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
        areas (np.ndarray): Pose areas; a pair's OKS uses their mean
            (``CocoMetric`` uses ``prod(bbox_scales)``, which
            :func:`mmpose_light_runtime.pose_areas` computes from boxes).
            Shape (N, ).
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
    check_nms_options(kernel, sigma, score_thr, pre_topk, max_num, vis_thr)
    if keypoint_scores is None:
        raise TypeError('`keypoint_scores` should be an array, but got None')
    kpts, areas, sigmas, scores, visible = _prepare(keypoints, areas, sigmas,
                                                    keypoint_scores, vis_thr,
                                                    scores)
    num = len(scores)
    order = np.argsort(-scores, kind='stable')
    if pre_topk > 0:
        order = order[:pre_topk]
    rows, cols, oks = _sorted_pair_oks(kpts, areas, sigmas, visible, order)
    compensation = np.zeros(len(order), dtype=oks.dtype)
    np.maximum.at(compensation, cols, oks)
    compensation = compensation.take(rows)
    # pairs left out (far apart) would give f(0) / f(c_i) >= 1: no decay
    if kernel == 'gaussian':
        # min_i exp(-sigma t_i) = exp(-sigma max_i t_i): one exp per pose
        worst = np.zeros(len(order), dtype=oks.dtype)
        np.maximum.at(worst, cols, oks * oks - compensation * compensation)
        decay = np.exp(-sigma * worst)
    else:
        # f(c_i) = 0 (a duplicate of a pose above) suppresses nothing
        ratio = np.divide(1 - oks, 1 - compensation,
                          out=np.full_like(oks, np.inf),
                          where=compensation < 1)
        decay = np.ones(len(order), dtype=oks.dtype)
        np.minimum.at(decay, cols, ratio)

    sorted_decayed = scores.take(order) * decay
    decayed_scores = np.zeros(num, dtype=scores.dtype)
    decayed_scores[order] = sorted_decayed
    # stable: equal decayed scores keep the input order
    rank = np.argsort(-sorted_decayed, kind='stable')
    keep = order.take(rank)[sorted_decayed.take(rank) >= score_thr]
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

    This is user API beside :func:`matrix_oks_nms` for removing poses
    rather than decaying their scores, with results identical to stock
    MMPose's; ``mmpose_light.evaluation.matrix_oks_nms_db`` runs it on
    ``oks_nms``'s arguments.

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
    check_number('`thr`', thr, 0, 1)
    check_number('`vis_thr`', vis_thr, finite=False, allow_none=True)
    kpts, areas, sigmas, _, visible = _prepare(keypoints, areas, sigmas,
                                               keypoint_scores, vis_thr,
                                               scores)
    # oks_nms's order, from the scores as given (a cast may tie them)
    order = np.asarray(scores).argsort()[::-1]
    # a pair whose every term is at most thr (with a margin for rounding)
    # cannot exceed it
    min_exponent = MIN_EXPONENT if thr == 0 else max(
        MIN_EXPONENT,
        math.log(thr) * (1 + 1e-6))
    rows, cols, oks = _sorted_pair_oks(kpts, areas, sigmas, visible, order,
                                       min_exponent)
    # an OKS of a clamped or left-out pair is at most 2 exp(MIN_EXPONENT)
    limit = max(np.float32(thr), np.float32(2 * math.exp(MIN_EXPONENT)))
    over = oks.astype(np.float32) > limit
    rows, cols = rows[over], cols[over]
    kept = np.ones(len(order), dtype=bool)
    while True:
        suppressed = np.zeros(len(order), dtype=bool)
        suppressed[cols[kept[rows]]] = True
        if np.array_equal(~suppressed, kept):
            return order[kept].astype(np.int64, copy=False)
        kept = ~suppressed
