"""Matrix-OKS-NMS: one-shot pose NMS.

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
3. decay ``d_j = min_i f(OKS(i, j)) / f(c_i)`` over the poses ``i`` above
   ``j``, with ``f(x) = exp(-sigma * x ** 2)`` (gaussian) or ``1 - x``
   (linear);
4. new score ``s_j * d_j``, then a score threshold and top-k.

OKS is the one of MMPose's ``oks_iou``: the mean over keypoints of
``exp(-d ** 2 / (2 * (2 * sigma_k) ** 2 * (a_i + a_j) / 2))``, optionally over
the keypoints visible (score above ``vis_thr``) in both poses only.

Memory: the OKS matrix is N x N (1 GiB holds it in float32 up to
N = 16384), and computing it in one shot takes (N, N, K) temporaries
(about 3 of them: 1 GiB only up to N = 2272 for K = 17). So only the strict
upper triangle is computed, in row blocks whose temporaries stay within
``mem_budget`` (on CPU also within a few MiB, which stays in cache and runs
faster); the blocks are kept for the decay pass while the N x N matrix fits
``mem_budget``, and past that they are recomputed in a second pass (about
twice the time), so that the memory stays O(block + N) for any N.
"""
import math
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor

__all__ = ['pairwise_oks', 'matrix_oks_nms', 'matrix_oks_nms_db']

ArrayLike = Union[Tensor, np.ndarray]

# COCO keypoint sigmas, the default of MMPose's ``oks_iou``.
COCO_SIGMAS = np.array([
    .26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87,
    .87, .89, .89
]) / 10.0

# (R, N, K) tensors of a block at its peak: the squared distance, the y
# difference and, with ``vis_thr``, the visibility mask (bounded by 3).
_BLOCK_TEMPORARIES = 3

# On CPU, blocks of about this many elements stay in cache and reuse the
# allocator's memory; larger ones only cost page faults and memory traffic.
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


def _prepare_oks(
        keypoints: Tensor, keypoint_scores: Optional[Tensor], sigmas: Tensor,
        vis_thr: Optional[float]) -> Tuple[Tensor, Tensor, Optional[Tensor]]:
    """Scaled x and y coordinates and visibility for :func:`_oks_block`.

    The coordinates are divided by ``sqrt(2) * 2 * sigma_k``, so that the
    squared distance of two keypoints over the pair's area is the OKS
    exponent.

    Returns:
        tuple: x (N, K), y (N, K) and the visible mask (N, K) or None.
    """
    scale = torch.rsqrt(2 * (2 * sigmas)**2)
    xs = (keypoints[..., 0] * scale).contiguous()
    ys = (keypoints[..., 1] * scale).contiguous()
    visible = None if vis_thr is None else keypoint_scores > vis_thr
    return xs, ys, visible


def _oks_block(xs: Tensor,
               ys: Tensor,
               areas: Tensor,
               visible: Optional[Tensor],
               start: int,
               end: int,
               col_start: int = 0) -> Tensor:
    """OKS of the poses ``start:end`` with the poses ``col_start:``.

    Args:
        xs (Tensor): Scaled x coordinates. Shape (N, K).
        ys (Tensor): Scaled y coordinates. Shape (N, K).
        areas (Tensor): Pose areas. Shape (N, ).
        visible (Tensor, optional): Keypoints counted in the mean, or None
            for all. Shape (N, K).
        start (int): First row.
        end (int): One past the last row.
        col_start (int): First column. Defaults to 0.

    Returns:
        Tensor: The OKS block. Shape (end - start, N - col_start).
    """
    dist = xs[start:end, None] - xs[None, col_start:]
    dist.square_()
    diff = ys[start:end, None] - ys[None, col_start:]
    dist.addcmul_(diff, diff)
    del diff
    # -1 / ((a_i + a_j) / 2 + eps)
    neg_inv_area = -2 / (areas[start:end, None] + areas[None, col_start:] +
                         2 * _EPS)
    # exp is many times slower where it underflows to subnormals, and
    # terms that small cannot change a mean of K terms <= 1 anyway
    min_exponent = math.log(torch.finfo(dist.dtype).tiny) + 1
    sim = dist.mul_(neg_inv_area[..., None]).clamp_(min=min_exponent).exp_()
    if visible is None:
        return sim.mean(dim=-1)
    both = visible[start:end, None] & visible[None, col_start:]
    count = both.sum(dim=-1)
    total = sim.mul_(both).sum(dim=-1)
    return torch.where(count > 0, total / count.clamp(min=1),
                       torch.zeros_like(total))


def _check_shape(name: str, value: Tensor, shape: Sequence[int]) -> None:
    if tuple(value.shape) != tuple(shape):
        raise ValueError(f'`{name}` should have shape {tuple(shape)}, '
                         f'but got {tuple(value.shape)}')


def pairwise_oks(keypoints: Tensor,
                 areas: Tensor,
                 sigmas: Tensor,
                 keypoint_scores: Optional[Tensor] = None,
                 vis_thr: Optional[float] = None,
                 mem_budget: int = 2**30) -> Tensor:
    """The OKS of every pair of poses, as MMPose's ``oks_iou`` defines it.

    Vectorised over all pairs, in row blocks whose temporaries stay within
    ``mem_budget`` bytes.

    Note:
        - number of poses: N
        - number of keypoints: K

    Args:
        keypoints (Tensor): Keypoint coordinates. Shape (N, K, 2).
        areas (Tensor): Pose areas; a pair uses their mean. Shape (N, ).
        sigmas (Tensor): Per-keypoint labelling uncertainty. Shape (K, ).
        keypoint_scores (Tensor, optional): Keypoint scores, needed when
            ``vis_thr`` is given. Shape (N, K). Defaults to ``None``.
        vis_thr (float, optional): If given, a pair's OKS averages only the
            keypoints scored above ``vis_thr`` in both poses (0 if there are
            none). Defaults to ``None``.
        mem_budget (int): Bytes the pairwise temporaries may take.
            Defaults to ``2 ** 30`` (1 GiB).

    Returns:
        Tensor: Symmetric OKS matrix. Shape (N, N).
    """
    if keypoints.dim() != 3 or keypoints.shape[-1] != 2:
        raise ValueError('`keypoints` should have shape (N, K, 2), '
                         f'but got {tuple(keypoints.shape)}')
    num, num_keypoints = keypoints.shape[:2]
    _check_shape('areas', areas, (num, ))
    _check_shape('sigmas', sigmas, (num_keypoints, ))
    if vis_thr is not None:
        if keypoint_scores is None:
            raise ValueError('`keypoint_scores` are required when `vis_thr` '
                             f'is given (vis_thr={vis_thr})')
        _check_shape('keypoint_scores', keypoint_scores, (num, num_keypoints))
    xs, ys, visible = _prepare_oks(keypoints, keypoint_scores, sigmas, vis_thr)
    step = _block_rows(num, num_keypoints, keypoints.element_size(),
                       mem_budget, keypoints.device)
    blocks = [
        _oks_block(xs, ys, areas, visible, start, min(start + step, num))
        for start in range(0, num, step)
    ]
    if not blocks:
        return keypoints.new_zeros((0, 0))
    return torch.cat(blocks)


def _decay_ratio(oks: Tensor, compensation: Tensor, kernel: str,
                 sigma: float) -> Tensor:
    """``f(oks) / f(compensation)`` for an (R, M) block and its (R, ) rows.

    The gaussian ratio is taken in the log domain, so that a large ``sigma``
    cannot underflow ``f(c)`` to 0. With the linear kernel a row with
    ``f(c) == 0`` (an exact duplicate of a pose above it) suppresses nothing.
    """
    comp = compensation[:, None]
    if kernel == 'gaussian':
        return torch.exp(-sigma * (oks.square() - comp.square()))
    denom = 1 - comp
    return torch.where(denom > 0, (1 - oks) / denom.clamp(min=1e-30),
                       torch.full_like(oks, float('inf')))


def _decay(xs: Tensor, ys: Tensor, areas: Tensor, visible: Optional[Tensor],
           kernel: str, sigma: float, mem_budget: int) -> Tensor:
    """Decay coefficients of poses already sorted by descending score.

    Only the strict upper triangle is computed: the block of rows
    ``start:end`` spans the columns ``start:``.

    Returns:
        Tensor: ``d_j`` for every pose, in the sorted order. Shape (N, ).
    """
    num, num_keypoints = xs.shape
    itemsize = xs.element_size()
    step = _block_rows(num, num_keypoints, itemsize, mem_budget, xs.device)
    starts = range(0, num, step)
    # keep the OKS blocks for the second pass while the matrix fits
    cache = num * num * itemsize <= mem_budget
    index = torch.arange(num, device=xs.device)

    def above(start: int, end: int) -> Tensor:
        return index[start:end, None] < index[None, start:]

    def upper_block(start: int, end: int) -> Tensor:
        block = _oks_block(xs, ys, areas, visible, start, end, start)
        return block.mul_(above(start, end))

    # pass 1: compensation c_i, the column maxima of the upper triangle
    compensation = xs.new_zeros(num)
    blocks = []
    for start in starts:
        block = upper_block(start, min(start + step, num))
        compensation[start:] = torch.maximum(compensation[start:],
                                             block.amax(dim=0))
        if cache:
            blocks.append(block)

    # pass 2: d_j = min_i f(OKS(i, j)) / f(c_i) over the poses i above j
    decay = xs.new_ones(num)
    for n, start in enumerate(starts):
        end = min(start + step, num)
        block = blocks[n] if cache else upper_block(start, end)
        ratio = _decay_ratio(block, compensation[start:end], kernel, sigma)
        ratio = ratio.masked_fill_(~above(start, end), 1.0)
        decay[start:] = torch.minimum(decay[start:], ratio.amin(dim=0))
    return decay


def _as_tensor(name: str, value: ArrayLike, device: torch.device,
               dtype: torch.dtype) -> Tensor:
    if not isinstance(value, (Tensor, np.ndarray, list, tuple)):
        raise TypeError(f'`{name}` should be a tensor or an array, '
                        f'but got {type(value)}')
    return torch.as_tensor(value, device=device).to(dtype)


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
    the module docstring. Ties in ``scores`` rank the earlier input first.

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
            mean. Shape (N, ).
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
        mem_budget (int): Bytes the pairwise OKS temporaries may take; larger
            sets are processed in row chunks. Defaults to ``2 ** 30``.

    Returns:
        tuple: ``(keep, decayed_scores)`` of the input's kind (tensors on the
        input's device, or numpy arrays):

        - keep: Indices into the input of the kept poses, by descending
          decayed score. Shape (M, ), int64.
        - decayed_scores: The decayed score of every pose, in input order.
          Shape (N, ).
    """
    if kernel not in ('gaussian', 'linear'):
        raise ValueError("`kernel` should be 'gaussian' or 'linear', "
                         f'but got {kernel!r}')
    if kernel == 'gaussian' and not sigma > 0:
        raise ValueError(f'`sigma` should be positive, but got {sigma}')
    for name, value in (('pre_topk', pre_topk), ('max_num', max_num)):
        if not isinstance(value, (int, np.integer)) or isinstance(
                value, bool) or (value < 1 and value != -1):
            raise ValueError(f'`{name}` should be -1 or a positive int, '
                             f'but got {value!r}')
    if not isinstance(mem_budget, (int, np.integer)) or mem_budget < 1:
        raise ValueError('`mem_budget` should be a positive int, '
                         f'but got {mem_budget!r}')

    is_numpy = not isinstance(keypoints, Tensor)
    if not isinstance(keypoints, (Tensor, np.ndarray)):
        raise TypeError('`keypoints` should be a tensor or an array, '
                        f'but got {type(keypoints)}')
    kpts = torch.as_tensor(keypoints)
    device = kpts.device
    dtype = kpts.dtype if kpts.is_floating_point() else \
        torch.get_default_dtype()
    kpts = kpts.to(dtype)
    if kpts.dim() != 3 or kpts.shape[-1] != 2:
        raise ValueError('`keypoints` should have shape (N, K, 2), '
                         f'but got {tuple(kpts.shape)}')
    num, num_keypoints = kpts.shape[:2]
    kpt_scores = _as_tensor('keypoint_scores', keypoint_scores, device, dtype)
    pose_scores = _as_tensor('scores', scores, device, dtype)
    pose_areas = _as_tensor('areas', areas, device, dtype)
    if sigmas is None:
        if num_keypoints != len(COCO_SIGMAS):
            raise ValueError('`sigmas` are required for K != 17 keypoints, '
                             f'but got K = {num_keypoints}')
        sigmas = COCO_SIGMAS
    kpt_sigmas = _as_tensor('sigmas', sigmas, device, dtype)
    _check_shape('keypoint_scores', kpt_scores, (num, num_keypoints))
    _check_shape('scores', pose_scores, (num, ))
    _check_shape('areas', pose_areas, (num, ))
    _check_shape('sigmas', kpt_sigmas, (num_keypoints, ))

    order = torch.sort(pose_scores, descending=True, stable=True)[1]
    if pre_topk > 0:
        order = order[:pre_topk]
    xs, ys, visible = _prepare_oks(kpts[order], kpt_scores[order], kpt_sigmas,
                                   vis_thr)
    decay = _decay(xs, ys, pose_areas[order], visible, kernel, sigma,
                   mem_budget)
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
    if is_numpy:
        return keep.numpy(), decayed_scores.numpy()
    return keep, decayed_scores


def matrix_oks_nms_db(kpts_db: List[dict],
                      thr: float,
                      sigmas: Optional[np.ndarray] = None,
                      vis_thr: Optional[float] = None,
                      score_per_joint: bool = False,
                      kernel: str = 'gaussian',
                      sigma: float = 2.0) -> np.ndarray:
    """Matrix-OKS-NMS with the signature of MMPose's ``oks_nms``.

    A drop-in for code that calls ``oks_nms``: it returns the indices to
    keep and leaves the scores alone. A pose is kept when its decay is no
    stronger than what a pose overlapping an unsuppressed pose with
    ``OKS == thr`` gets, ``d_j >= f(thr)``; so, like ``oks_nms``, a pose
    overlapping the best one by more than ``thr`` is removed, while the
    compensation spares poses overlapping only suppressed ones.

    Args:
        kpts_db (List[dict]): The poses of one image, each with
            ``'keypoints'`` (K, 3) as (x, y, score), ``'score'`` (a float, or
            (K, ) with ``score_per_joint``) and ``'area'``.
        thr (float): OKS threshold in [0, 1].
        sigmas (np.ndarray, optional): Per-keypoint labelling uncertainty.
            Shape (K, ). Defaults to ``None``: the COCO sigmas.
        vis_thr (float, optional): If given, OKS averages only the keypoints
            scored above ``vis_thr`` in both poses. Defaults to ``None``.
        score_per_joint (bool): Whether ``'score'`` holds per-keypoint
            scores, averaged into the pose score. Defaults to ``False``.
        kernel (str): ``'gaussian'`` or ``'linear'``. Defaults to
            ``'gaussian'``.
        sigma (float): Gaussian kernel parameter. Defaults to 2.0.

    Returns:
        np.ndarray: Indices of the kept poses, by descending score.
    """
    if not 0 <= thr <= 1:
        raise ValueError(f'`thr` should be in [0, 1], but got {thr}')
    if len(kpts_db) == 0:
        return np.zeros(0, dtype=np.int64)
    kpts = np.stack([
        np.asarray(k['keypoints'], dtype=np.float64) for k in kpts_db
    ]).reshape(len(kpts_db), -1, 3)
    if score_per_joint:
        scores = np.array([np.mean(k['score']) for k in kpts_db])
    else:
        scores = np.array([k['score'] for k in kpts_db], dtype=np.float64)
    areas = np.array([k['area'] for k in kpts_db], dtype=np.float64)
    # decayed / score recovers the decay of zero-score poses poorly, so use
    # unit scores: the decayed score is then the decay itself
    order = np.argsort(-scores, kind='stable')
    _, decay = matrix_oks_nms(kpts[order, :, :2],
                              kpts[order, :, 2],
                              np.ones(len(kpts_db)),
                              areas[order],
                              sigmas=sigmas,
                              kernel=kernel,
                              sigma=sigma,
                              vis_thr=vis_thr)
    limit = np.exp(-sigma * thr**2) if kernel == 'gaussian' else 1 - thr
    # float tolerance: OKS == thr exactly must stay, as in ``oks_nms``
    kept = order[decay >= limit * (1 - 1e-9)]
    return kept
