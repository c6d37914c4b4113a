"""Matrix-OKS-NMS: one-shot pose NMS, on numpy arrays and torch tensors.

MatrixNMS from `SOLOv2: Dynamic and Fast Instance Segmentation
<https://arxiv.org/abs/2003.10152>`_, with the Object Keypoint Similarity
(OKS) of two poses in place of the IoU of two masks, as in the "parallel pose
NMS" of MobilePoseNet. Where MMPose's ``oks_nms`` and ``soft_oks_nms`` loop
over the instances of an image in Python, every pose is decayed here at once
from the pairwise OKS matrix:

1. sort the poses by score and keep the strict upper triangle of their OKS
   matrix (row ``i`` scored above column ``j``);
2. compensation ``c_i = max_k OKS(k, i)`` over the poses ``k`` above ``i``:
   how much ``i`` is itself suppressed;
3. decay ``d_j = min(1, min_i f(OKS(i, j)) / f(c_i))`` over the poses ``i``
   above ``j``, with ``f(x) = exp(-sigma * x ** 2)`` (gaussian) or
   ``1 - x`` (linear);
4. new score ``s_j * d_j``, then a score threshold and top-k.

OKS is the one of MMPose's ``oks_iou``: the mean over keypoints of
``exp(-d ** 2 / (2 * (2 * sigma_k) ** 2 * (a_i + a_j) / 2))``, optionally over
the keypoints visible (score above ``vis_thr``) in both poses only.

Numpy input runs :mod:`mmpose_light_runtime.nms` (the torch-free runtime's
code, which skips far-apart pairs and has the least per-call overhead, so it
is the fast one for the few poses of an image). Tensors stay on their device
here: the upper triangle is computed in row blocks whose temporaries stay
within ``mem_budget`` (on CPU also within a few MB), and a block's decay is
taken as soon as it is computed, since the compensation of its rows needs
only the rows above; memory is O(block + N) for any N. Both clamp each OKS
exponent at :data:`~mmpose_light_runtime.nms.MIN_EXPONENT` and give the same
kept poses and decayed scores.
"""
from numbers import Real
from typing import List, Optional, Tuple, Union

import numpy as np
import torch
from torch import Tensor

from mmpose_light_runtime import nms as np_nms
from mmpose_light_runtime.nms import COCO_SIGMAS, MIN_EXPONENT

__all__ = ['pairwise_oks', 'matrix_oks_nms', 'matrix_oks_nms_db']

ArrayLike = Union[Tensor, np.ndarray]

# (R, N, K) tensors of a block at its peak: the squared distance, the y
# difference and, with ``vis_thr``, the visibility mask.
_BLOCK_TEMPORARIES = 3

# On CPU, blocks of about this many elements reuse the allocator's memory;
# larger ones only cost page faults and memory traffic, smaller ones the
# per-operation overhead of eager torch.
_CPU_BLOCK_ELEMENTS = 2**19

# The area regulariser of ``oks_iou`` (``np.spacing(1)``).
_EPS = float(np.spacing(1))


def _block_rows(num: int, num_keypoints: int, itemsize: int, mem_budget: int,
                device: torch.device) -> int:
    """Rows of the OKS matrix computed per block within ``mem_budget``."""
    row_bytes = num * (_BLOCK_TEMPORARIES * num_keypoints + 1) * itemsize
    rows = mem_budget // max(row_bytes, 1)
    if device.type == 'cpu':
        rows = min(rows, _CPU_BLOCK_ELEMENTS // max(num * num_keypoints, 1))
    return max(1, min(num, rows))


def _oks_block(xs: Tensor, ys: Tensor, areas: Tensor,
               visible: Optional[Tensor], rows: slice,
               cols: slice) -> Tensor:
    """OKS of the poses ``rows`` with the poses ``cols``.

    Args:
        xs (Tensor): x coordinates over ``sqrt(2) * 2 * sigma_k``, so that
            a squared distance times ``2 / (a_i + a_j + 2 eps)`` is the OKS
            exponent. Shape (N, K).
        ys (Tensor): Scaled y coordinates. Shape (N, K).
        areas (Tensor): Pose areas. Shape (N, ).
        visible (Tensor, optional): Keypoints counted in the mean, or None
            for all. Shape (N, K).
        rows (slice): The poses of the rows.
        cols (slice): The poses of the columns.

    Returns:
        Tensor: The OKS block. Shape (R, C).
    """
    dist = xs[rows, None] - xs[None, cols]
    dist.square_()
    diff = ys[rows, None] - ys[None, cols]
    dist.addcmul_(diff, diff)
    del diff
    # -1 / ((a_i + a_j) / 2 + eps)
    neg_inv_area = -2 / (areas[rows, None] + areas[None, cols] + 2 * _EPS)
    sim = dist.mul_(neg_inv_area[..., None]).clamp_(min=MIN_EXPONENT).exp_()
    if visible is None:
        return sim.mean(dim=-1)
    both = visible[rows, None] & visible[None, cols]
    count = both.sum(dim=-1)
    total = sim.mul_(both).sum(dim=-1)
    return torch.where(count > 0, total / count.clamp(min=1),
                       torch.zeros_like(total))


def _check_shape(name: str, value: Tensor, shape: Tuple[int, ...]) -> None:
    if tuple(value.shape) != shape:
        raise ValueError(f'`{name}` should have shape {shape}, '
                         f'but got {tuple(value.shape)}')


def _check_finite(name: str, value: Tensor) -> None:
    finite = torch.isfinite(value)
    if not bool(finite.all()):
        flat = finite.reshape(len(value), -1).all(dim=1)
        pose = int((~flat).nonzero()[0])
        raise ValueError(f'`{name}` should be finite, but pose {pose} has '
                         f'{value[pose].tolist()}')


def _as_tensor(name: str, value, like: Tensor) -> Tensor:
    if isinstance(value, Tensor):
        return value.to(device=like.device, dtype=like.dtype)
    if not isinstance(value, (np.ndarray, list, tuple)):
        raise TypeError(f'`{name}` should be a tensor or an array, '
                        f'but got {type(value).__name__}')
    return torch.as_tensor(np.asarray(value), dtype=like.dtype,
                           device=like.device)


def _prepare(keypoints: Tensor, keypoint_scores, areas, sigmas,
             vis_thr: Optional[float], scores=None):
    """Validate tensor inputs, as :mod:`mmpose_light_runtime.nms` does
    arrays; return them in the keypoints' float dtype and device."""
    np_nms._check_vis_thr(vis_thr)
    if (keypoints.dim() != 3 or keypoints.shape[-1] != 2
            or keypoints.shape[1] == 0):
        raise ValueError('`keypoints` should have shape (N, K, 2), K > 0, '
                         f'but got {tuple(keypoints.shape)}')
    kpts = keypoints if keypoints.is_floating_point() else keypoints.to(
        torch.get_default_dtype())
    num, num_keypoints = kpts.shape[:2]
    pose_areas = _as_tensor('areas', areas, kpts)
    _check_shape('areas', pose_areas, (num, ))
    if sigmas is None:
        if num_keypoints != len(COCO_SIGMAS):
            raise ValueError('`sigmas` are required for K != 17 keypoints, '
                             f'but got K = {num_keypoints}')
        scale = _coco_sigma_scale(kpts.device, kpts.dtype)
    else:
        kpt_sigmas = _as_tensor('sigmas', sigmas, kpts)
        _check_shape('sigmas', kpt_sigmas, (num_keypoints, ))
        if not bool(((kpt_sigmas > 0) & torch.isfinite(kpt_sigmas)).all()):
            raise ValueError('`sigmas` should be positive and finite, '
                             f'but got {kpt_sigmas.tolist()}')
        # 1 / (sqrt(2) * 2 * sigma_k)
        scale = torch.rsqrt(8 * kpt_sigmas**2)
    pose_scores = None
    if scores is not None:
        pose_scores = _as_tensor('scores', scores, kpts)
        _check_shape('scores', pose_scores, (num, ))
    # one sum and one product find a NaN or inf, and one synchronisation
    # tells whether to look for it or for a negative area
    total = kpts.sum() + (pose_areas @ pose_scores
                          if pose_scores is not None else pose_areas.sum())
    bad = ~torch.isfinite(total)
    if num:
        bad |= pose_areas.min() < 0
    if bool(bad):
        _check_finite('keypoints', kpts)
        _check_finite('areas', pose_areas)
        if pose_scores is not None:
            _check_finite('scores', pose_scores)
        negative = (pose_areas < 0).nonzero()
        # else only the sum overflowed
        if len(negative):
            pose = int(negative[0])
            raise ValueError('`areas` should not be negative, but pose '
                             f'{pose} has {pose_areas[pose].item()}')
    visible = None
    if keypoint_scores is not None:
        kpt_scores = _as_tensor('keypoint_scores', keypoint_scores, kpts)
        _check_shape('keypoint_scores', kpt_scores, (num, num_keypoints))
        if vis_thr is not None:
            _check_finite('keypoint_scores', kpt_scores)
            visible = kpt_scores > vis_thr
    elif vis_thr is not None:
        raise ValueError('`keypoint_scores` are required when `vis_thr` '
                         f'is given (vis_thr={vis_thr})')
    return kpts, pose_scores, pose_areas, scale, visible


_COCO_SCALES = {}


def _coco_sigma_scale(device: torch.device, dtype: torch.dtype) -> Tensor:
    """``1 / (sqrt(2) * 2 * sigma_k)`` of the COCO sigmas, once per device
    and dtype."""
    key = (device, dtype)
    if key not in _COCO_SCALES:
        sigmas = torch.as_tensor(COCO_SIGMAS, dtype=dtype, device=device)
        _COCO_SCALES[key] = torch.rsqrt(8 * sigmas**2)
    return _COCO_SCALES[key]


def _check_mem_budget(mem_budget) -> None:
    if isinstance(mem_budget, bool) or not isinstance(
            mem_budget, (int, np.integer)) or mem_budget < 1:
        raise ValueError('`mem_budget` should be a positive int, '
                         f'but got {mem_budget!r}')


def pairwise_oks(keypoints: ArrayLike,
                 areas: ArrayLike,
                 sigmas: Optional[ArrayLike] = None,
                 keypoint_scores: Optional[ArrayLike] = None,
                 vis_thr: Optional[float] = None,
                 mem_budget: int = 2**30) -> ArrayLike:
    """The OKS of every pair of poses, as MMPose's ``oks_iou`` defines it.

    Vectorised over all pairs, in row blocks whose temporaries stay within
    ``mem_budget`` bytes. OKS terms below ``exp(MIN_EXPONENT)`` (``2e-22``)
    count as that, so far-apart poses get about ``2e-22`` rather than 0.

    Note:
        - number of poses: N
        - number of keypoints: K

    Args:
        keypoints (Tensor | np.ndarray): Keypoint coordinates. Shape
            (N, K, 2).
        areas (Tensor | np.ndarray): Pose areas; a pair uses their mean.
            Shape (N, ).
        sigmas (Tensor | np.ndarray, optional): Per-keypoint labelling
            uncertainty. Shape (K, ). Defaults to ``None``: the COCO sigmas.
        keypoint_scores (Tensor | np.ndarray, optional): Keypoint scores,
            needed when ``vis_thr`` is given. Shape (N, K). Defaults to
            ``None``.
        vis_thr (float, optional): If given, a pair's OKS averages only the
            keypoints scored above ``vis_thr`` in both poses (0 if there are
            none). Defaults to ``None``.
        mem_budget (int): Bytes the pairwise temporaries of a tensor input
            may take (numpy input runs in fixed cache-sized blocks).
            Defaults to ``2 ** 30`` (1 GiB).

    Returns:
        Tensor | np.ndarray: Symmetric OKS matrix, of the input's kind.
        Shape (N, N).
    """
    _check_mem_budget(mem_budget)
    if not isinstance(keypoints, Tensor):
        return np_nms.pairwise_oks(keypoints, areas, sigmas, keypoint_scores,
                                   vis_thr)
    kpts, _, pose_areas, scale, visible = _prepare(keypoints,
                                                   keypoint_scores, areas,
                                                   sigmas, vis_thr)
    xs, ys = kpts[..., 0] * scale, kpts[..., 1] * scale
    num, num_keypoints = kpts.shape[:2]
    step = _block_rows(num, num_keypoints, kpts.element_size(), mem_budget,
                       kpts.device)
    if num == 0:
        return kpts.new_zeros((0, 0))
    return torch.cat([
        _oks_block(xs, ys, pose_areas, visible, slice(start, start + step),
                   slice(None)) for start in range(0, num, step)
    ])


def _decay(xs: Tensor, ys: Tensor, areas: Tensor, visible: Optional[Tensor],
           kernel: str, sigma: float, mem_budget: int) -> Tensor:
    """Decay coefficients of poses already sorted by descending score.

    One pass over the strict upper triangle: the block of rows
    ``start:end`` spans the columns ``start:``, and once it is added to the
    compensation, that of its own rows is complete. ``min_i exp(-sigma *
    t_i) = exp(-sigma * max_i t_i)``, so the gaussian takes one ``exp`` per
    pose; entries on and below the diagonal are 0, which gives ``f(0) /
    f(c_i) >= 1`` and cannot lower a decay.

    Returns:
        Tensor: ``d_j`` for every pose, in the sorted order. Shape (N, ).
    """
    num, num_keypoints = xs.shape
    step = _block_rows(num, num_keypoints, xs.element_size(), mem_budget,
                       xs.device)
    compensation = xs.new_zeros(num)
    # gaussian: max(0, max_i OKS(i, j)^2 - c_i^2); linear: the decay itself
    worst = xs.new_zeros(num) if kernel == 'gaussian' else xs.new_ones(num)
    for start in range(0, num, step):
        end = min(start + step, num)
        block = _oks_block(xs, ys, areas, visible, slice(start, end),
                           slice(start, None)).triu_(1)
        compensation[start:] = torch.maximum(compensation[start:],
                                             block.amax(dim=0))
        comp = compensation[start:end, None]
        if kernel == 'gaussian':
            term = block.square_().sub_(comp.square())
            worst[start:] = torch.maximum(worst[start:], term.amax(dim=0))
            continue
        # f(c_i) = 0 (a duplicate of a pose above) suppresses nothing
        ratio = torch.where(comp < 1, (1 - block) / (1 - comp).clamp(
            min=1e-30), torch.full_like(block, float('inf')))
        worst[start:] = torch.minimum(worst[start:], ratio.amin(dim=0))
    if kernel == 'gaussian':
        return worst.mul_(-sigma).exp_()
    return worst


def matrix_oks_nms(keypoints: ArrayLike,
                   keypoint_scores: ArrayLike,
                   scores: ArrayLike,
                   areas: ArrayLike,
                   sigmas: Optional[ArrayLike] = None,
                   kernel: str = 'gaussian',
                   sigma: float = 2.0,
                   score_thr: float = 0.0,
                   pre_topk: int = -1,
                   max_num: int = -1,
                   vis_thr: Optional[float] = None,
                   mem_budget: int = 2**30) -> Tuple[ArrayLike, ArrayLike]:
    """Matrix-OKS-NMS over the poses of one image.

    Every pose's score decays by how much the poses scored above it overlap
    it (OKS), compensated by how much those are suppressed themselves; see
    the module docstring. Numpy arrays run
    :func:`mmpose_light_runtime.nms.matrix_oks_nms`, tensors run here on
    their device; both give the same result.

    Rules for edge cases: equal ``scores`` rank the earlier input first; a
    zero area gives OKS 1 to identical poses and 0 to any others; NaN or
    inf in ``keypoints``, ``scores`` or ``areas`` (or in
    ``keypoint_scores`` when ``vis_thr`` reads them) raise ``ValueError``
    naming the pose, since no order of such poses would be right.

    Note:
        - number of poses: N
        - number of keypoints: K

    Args:
        keypoints (Tensor | np.ndarray): Keypoint coordinates. Shape
            (N, K, 2).
        keypoint_scores (Tensor | np.ndarray): Keypoint scores, used with
            ``vis_thr``. Shape (N, K).
        scores (Tensor | np.ndarray): Pose scores, e.g. the box score times
            the mean keypoint score as ``CocoMetric`` rescores. Shape (N, ).
        areas (Tensor | np.ndarray): Pose areas; a pair's OKS uses their
            mean (``CocoMetric`` uses ``prod(bbox_scales)``, which
            :func:`mmpose_light_runtime.pose_areas` computes from boxes).
            Shape (N, ).
        sigmas (Tensor | np.ndarray, optional): Per-keypoint labelling
            uncertainty. Shape (K, ). Defaults to ``None``: the COCO sigmas
            (K must be 17).
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
        mem_budget (int): Bytes the pairwise OKS temporaries of a tensor
            input may take (numpy input runs in fixed cache-sized blocks).
            Defaults to ``2 ** 30``.

    Returns:
        tuple: ``(keep, decayed_scores)`` of the input's kind (tensors on the
        input's device, or numpy arrays):

        - keep: Indices into the input of the kept poses, by descending
          decayed score (equal ones by input order). Shape (M, ), int64.
        - decayed_scores: The decayed score of every pose, in input order.
          Shape (N, ).
    """
    np_nms._check_options(kernel, sigma, score_thr, pre_topk, max_num)
    _check_mem_budget(mem_budget)
    if not isinstance(keypoints, Tensor):
        if not isinstance(keypoints, np.ndarray):
            raise TypeError('`keypoints` should be a tensor or an array, '
                            f'but got {type(keypoints).__name__}')
        return np_nms.matrix_oks_nms(keypoints,
                                     keypoint_scores,
                                     scores,
                                     areas,
                                     sigmas,
                                     kernel=kernel,
                                     sigma=sigma,
                                     score_thr=score_thr,
                                     pre_topk=pre_topk,
                                     max_num=max_num,
                                     vis_thr=vis_thr)
    if keypoint_scores is None:
        raise TypeError('`keypoint_scores` should be a tensor or an array, '
                        'but got None')
    kpts, pose_scores, pose_areas, scale, visible = _prepare(
        keypoints, keypoint_scores, areas, sigmas, vis_thr, scores)

    order = torch.sort(pose_scores, descending=True, stable=True)[1]
    if pre_topk > 0:
        order = order[:pre_topk]
    sorted_kpts = kpts[order]
    decay = _decay(sorted_kpts[..., 0] * scale, sorted_kpts[..., 1] * scale,
                   pose_areas[order],
                   None if visible is None else visible[order], kernel,
                   sigma, mem_budget)
    sorted_decayed = pose_scores[order] * decay

    decayed_scores = torch.zeros_like(pose_scores)
    decayed_scores[order] = sorted_decayed
    candidates = (sorted_decayed >= score_thr).nonzero().flatten()
    # stable: equal decayed scores keep the original rank
    rank = torch.sort(sorted_decayed[candidates], descending=True,
                      stable=True)[1]
    keep = order[candidates[rank]]
    if max_num > 0:
        keep = keep[:max_num]
    return keep, decayed_scores


def matrix_oks_nms_db(kpts_db: List[dict],
                      thr: float,
                      sigmas: Optional[np.ndarray] = None,
                      vis_thr: Optional[float] = None,
                      score_per_joint: bool = False) -> np.ndarray:
    """MMPose's ``oks_nms``, computed on the OKS matrix: a drop-in.

    Same arguments, same kept poses in the same order: visiting the poses
    by descending score (ties as ``scores.argsort()[::-1]`` orders them), a
    pose is removed when its OKS with a kept pose exceeds ``thr``, with OKS
    rounded to float32 as ``oks_iou`` returns it. The OKS of every pair that
    can exceed ``thr`` is computed once, vectorised, and the greedy rule is
    resolved on that matrix
    (:func:`mmpose_light_runtime.nms.greedy_oks_nms`) instead of one
    ``oks_iou`` call per kept pose. Scores are not changed: for score decay
    use :func:`matrix_oks_nms`.

    Differences from ``oks_nms``: NaN or inf in the keypoints, scores or
    areas raise ``ValueError`` naming the pose (``oks_nms`` orders and
    compares them silently), an empty ``kpts_db`` gives an empty int64
    array rather than a list, and an OKS that differs from ``oks_iou``'s by
    float rounding could fall on the other side of ``thr``.

    Args:
        kpts_db (List[dict]): The poses of one image, each with
            ``'keypoints'`` (K, 3) as (x, y, score), ``'score'`` (a float, or
            (K, ) with ``score_per_joint``) and ``'area'``.
        thr (float): OKS threshold in [0, 1]: a pose overlapping a kept one
            by more than ``thr`` is removed.
        sigmas (np.ndarray, optional): Per-keypoint labelling uncertainty.
            Shape (K, ). Defaults to ``None``: the COCO sigmas.
        vis_thr (float, optional): If given, OKS averages only the keypoints
            scored above ``vis_thr`` in both poses. Defaults to ``None``.
        score_per_joint (bool): Whether ``'score'`` holds per-keypoint
            scores, averaged into the pose score. Defaults to ``False``.

    Returns:
        np.ndarray: Indices of the kept poses, by descending score.
    """
    if isinstance(thr, bool) or not isinstance(thr, Real) or not 0 <= thr <= 1:
        raise ValueError(f'`thr` should be in [0, 1], but got {thr!r}')
    if len(kpts_db) == 0:
        return np.zeros(0, dtype=np.int64)
    # the scores exactly as oks_nms builds them, so that they sort alike
    if score_per_joint:
        scores = np.array([np.asarray(k['score']).mean() for k in kpts_db])
    else:
        scores = np.array([k['score'] for k in kpts_db])
    kpts = np.stack([
        np.asarray(k['keypoints'], dtype=np.float64).reshape(-1, 3)
        for k in kpts_db
    ])
    areas = np.array([k['area'] for k in kpts_db], dtype=np.float64)
    return np_nms.greedy_oks_nms(kpts[..., :2],
                                 scores,
                                 areas,
                                 thr,
                                 sigmas=sigmas,
                                 keypoint_scores=kpts[..., 2],
                                 vis_thr=vis_thr)
